"""Namespaces from a project's ``wrangler.toml``: the file that deploys it sets up its simulation.

A Worker declares its Durable Object namespaces in ``wrangler.toml``::

    [[durable_objects.bindings]]
    name = "COUNTERS"          # env.COUNTERS in the Worker
    class_name = "Counter"     # the exported class

    [[migrations]]
    tag = "v1"
    new_sqlite_classes = ["Counter"]   # SQLite-backed storage (the recommended backend)

    [[migrations]]
    tag = "v2"
    new_classes = ["LegacyRoom"]       # key-value-backed storage (the older backend)
    renamed_classes = [{ from = "Room", to = "LegacyRoom2" }]
    deleted_classes = ["Old"]

Each binding becomes a namespace; the class's storage backend is decided by the migration
that created it, read in file order: ``new_sqlite_classes`` gives ``'sqlite'``,
``new_classes`` gives ``'kv'``, a rename carries the backend to the new name, a delete
removes the class. A binding to a class that no migration created (or one that was
deleted) would fail to deploy, and is refused here too. ``transferred_classes`` (moving a
class's objects between Workers) and bindings to another Worker's class (``script_name``)
need that other Worker's file, and are refused with a note saying so.

Which *Python* class plays each ``class_name`` is the scenario's business
(:mod:`dosim.scenario.classes`): the file only says how the classes are bound and stored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SpecError

__all__ = ['Binding', 'backends', 'read_wrangler']

MIGRATION_KEYS = ('tag', 'new_classes', 'new_sqlite_classes', 'renamed_classes',
                  'deleted_classes', 'transferred_classes')


@dataclass(frozen=True)
class Binding:
    """One ``[[durable_objects.bindings]]`` entry and the storage backend of its class."""

    name: str
    class_name: str
    storage: str


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError((), f'{where} must be a list of class names', value)
    return value


def _renames(value: Any, where: str) -> list[tuple[str, str]]:
    ok = isinstance(value, list) and all(
        isinstance(v, Mapping) and set(v) == {'from', 'to'}
        and all(isinstance(v[k], str) and v[k] for k in ('from', 'to')) for v in value)
    if not ok:
        raise SpecError((), f'{where} must be a list of {{from = "Old", to = "New"}}', value)
    return [(v['from'], v['to']) for v in value]


def _migrate(classes: dict[str, str], step: Mapping[str, Any], where: str) -> None:
    """Apply one ``[[migrations]]`` entry to *classes* (class name -> backend)."""
    def create(name: str, backend: str, key: str) -> None:
        if name in classes:
            raise SpecError((), f'{where}.{key}: class {name!r} already exists')
        classes[name] = backend

    for name in _names(step.get('new_sqlite_classes', []), f'{where}.new_sqlite_classes'):
        create(name, 'sqlite', 'new_sqlite_classes')
    for name in _names(step.get('new_classes', []), f'{where}.new_classes'):
        create(name, 'kv', 'new_classes')
    for old, new in _renames(step.get('renamed_classes', []), f'{where}.renamed_classes'):
        if old not in classes:
            raise SpecError((), f'{where}.renamed_classes: class {old!r} does not exist '
                                f'(no earlier migration created it)')
        create(new, classes.pop(old), 'renamed_classes')
    for name in _names(step.get('deleted_classes', []), f'{where}.deleted_classes'):
        if classes.pop(name, None) is None:
            raise SpecError((), f'{where}.deleted_classes: class {name!r} does not exist')


def backends(migrations: Any, file: str = 'wrangler.toml') -> dict[str, str]:
    """Every live class's storage backend after the *migrations* (the list of
    ``[[migrations]]`` tables), in order."""
    if not isinstance(migrations, list):
        raise SpecError((), f'{file}: [[migrations]] must be an array of tables', migrations)
    classes: dict[str, str] = {}
    tags: set[str] = set()
    for i, step in enumerate(migrations):
        where = f'{file} [[migrations]] #{i + 1}'
        if not isinstance(step, Mapping):
            raise SpecError((), f'{where} must be a table', step)
        for key in step:
            if key not in MIGRATION_KEYS:
                raise SpecError((), f'{where}: unknown key {key!r}; '
                                    f'known: {", ".join(MIGRATION_KEYS)}')
        tag = step.get('tag')
        if not isinstance(tag, str) or not tag:
            raise SpecError((), f'{where}: every migration needs a tag (a string)', tag)
        if tag in tags:
            raise SpecError((), f'{where}: tag {tag!r} is used twice')
        tags.add(tag)
        if 'transferred_classes' in step:
            raise SpecError((), f'{where} (tag {tag!r}): transferred_classes moves objects '
                                'from another Worker, whose file is not here; simulate the '
                                'class from that Worker, or declare it under namespaces')
        _migrate(classes, step, f'{where} (tag {tag!r})')
    return classes


def _binding(entry: Any, where: str, classes: Mapping[str, str]) -> Binding:
    if not isinstance(entry, Mapping):
        raise SpecError((), f'{where} must be a table', entry)
    name, class_name = entry.get('name'), entry.get('class_name')
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError((), f'{where}: name must be a binding name (an identifier)', name)
    if not isinstance(class_name, str) or not class_name:
        raise SpecError((), f'{where} ({name}): class_name must be a class name', class_name)
    if entry.get('script_name'):
        raise SpecError((), f'{where} ({name}): class {class_name!r} lives in Worker '
                            f'{entry["script_name"]!r}, whose migrations are not in this '
                            'file; declare it under namespaces instead')
    storage = classes.get(class_name)
    if storage is None:
        raise SpecError((), f'{where} ({name}): class {class_name!r} is not created by any '
                            '[[migrations]] (new_sqlite_classes or new_classes), or was '
                            'deleted; wrangler would refuse to deploy it')
    return Binding(name, class_name, storage)


def read_wrangler(path: str | Path) -> list[Binding]:
    """The Durable Object bindings of the wrangler.toml at *path*, in file order, each with
    its class's storage backend. Errors (:class:`~dosim.scenario.errors.SpecError`) name
    the file and the entry."""
    path = Path(path)
    file = path.name
    try:
        with open(path, 'rb') as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SpecError((), f'cannot read {str(path)!r}: {exc.strerror or exc}') from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError((), f'{file} is not valid TOML: {exc}') from None
    objects = data.get('durable_objects', {})
    entries = objects.get('bindings', []) if isinstance(objects, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise SpecError((), f'{file} declares no [[durable_objects.bindings]]')
    classes = backends(data.get('migrations', []), file)
    bindings = [_binding(entry, f'{file} [[durable_objects.bindings]] #{i + 1}', classes)
                for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for b in bindings:
        if b.name in seen:
            raise SpecError((), f'{file}: binding {b.name!r} is declared twice')
        seen.add(b.name)
    return bindings
