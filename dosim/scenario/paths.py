"""Dotted paths into a scenario: what ``--param`` and ``--set`` change.

A path names one value of the scenario file by the keys leading to it, joined by dots, with
list positions as numbers: ``workload.arrivals.rate_per_s``, ``config.uniqueness_check_ms``,
``namespaces.AGENTS.settings.loop_interval_ms``, ``faults.0.at_ms``. :func:`set_path`
writes a value there in a copy of the scenario's mapping, making the mappings on the way if
they are missing (``config.x`` in a file without ``config``); the scenario is then checked
again as a whole, so a path that names no field is refused by name, like any unknown field.

On the command line a value is read as YAML: ``100`` is a number, ``true`` a flag, ``kv``
a string, ``[1, 2]`` a list. ``--param path=v1,v2,v3`` gives several values to sweep over.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .errors import SpecError

__all__ = ['parse_assignment', 'parse_grid', 'parse_value', 'set_path', 'with_values']


def _parts(path: Any) -> list[str]:
    if not isinstance(path, str) or not path or any(not p for p in path.split('.')):
        raise SpecError((), 'a dotted path like workload.arrivals.rate_per_s', path)
    return path.split('.')


def set_path(data: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of *data* with *value* at the dotted *path*."""
    parts = _parts(path)
    out = copy.deepcopy(dict(data))
    node: Any = out
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SpecError(parts[:i + 1], f'{".".join(parts[:i])} is a list of '
                                               f'{len(node)}; {part!r} is not a position in it')
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last and node.get(key) is None:
                node[key] = {}
        else:
            raise SpecError(parts[:i + 1], f'{".".join(parts[:i])} is a single value '
                                           f'({node!r}), it has no field {part!r}')
        if last:
            node[key] = value
        else:
            node = node[key]
    return out


def with_values(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """*data* with every ``path: value`` of *values* set."""
    out = dict(data)
    for path, value in values.items():
        out = set_path(out, path, value)
    return out


def parse_value(text: str) -> Any:
    """A command-line value, read as YAML (``'100'`` -> 100, ``'kv'`` -> ``'kv'``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_assignment(text: str) -> tuple[str, str]:
    """``'path=value'`` -> ``('path', 'value')``; the path is checked for shape."""
    path, sep, value = text.partition('=')
    if not sep or not value:
        raise SpecError((), 'expected PATH=VALUE, for example '
                            'workload.arrivals.rate_per_s=200', text)
    _parts(path.strip())
    return path.strip(), value.strip()


def parse_grid(assignments: Iterable[str]) -> dict[str, list[Any]]:
    """``['a.b=1,2', 'c=x']`` -> ``{'a.b': [1, 2], 'c': ['x']}``; a path given twice is
    refused."""
    grid: dict[str, list[Any]] = {}
    for text in assignments:
        path, values = parse_assignment(text)
        if path in grid:
            raise SpecError((), f'{path} is given twice')
        parts = [v.strip() for v in values.split(',')]
        if any(not p for p in parts):
            raise SpecError((), f'{path}: an empty value in the list', values)
        grid[path] = [parse_value(v) for v in parts]
    return grid
