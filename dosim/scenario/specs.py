"""The scenario's plain-data pieces turned into dosim objects, with errors at their path.

A scenario file holds workload specs (``arrivals: {kind: poisson, rate_per_s: 50}``), runtime
constants (``config: {uniqueness_check_ms: 0}``) and faults as plain mappings. The classes
they become already check themselves -- :func:`dosim.workload.load`, :class:`dosim.Config`
-- so nothing is defined twice here: these functions only walk the mapping first (the
``kind``, unknown fields, nested specs) to know *where* a problem is, then let the class
check the values and point the error at the field it names.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..config import Config
from ..faults import FAULT_KINDS
from ..workload.spec import FAMILIES, Spec, load
from .errors import MISSING, SpecError

__all__ = ['check_fault', 'config_from', 'spec_from']


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _named_field(cls: type, message: str, fields: list[str]) -> str | None:
    """The field of *cls* that the error *message* names (``Poisson.rate_per_s must ...``,
    ``missing field 'x'``), if any."""
    found = re.search(rf'\b{cls.__name__}\.(\w+)', message) or \
        re.search(r"field '(\w+)'", message)
    name = found.group(1) if found else None
    return name if name in fields else None


def spec_from(family: str, data: Any) -> Spec:
    """The workload spec of *family* that *data* (a mapping with a ``kind``) describes;
    a :class:`SpecError` names the path below *data* and the bad value."""
    if isinstance(data, Spec):
        return load(family, data)
    kinds = FAMILIES[family]
    if not isinstance(data, Mapping):
        raise SpecError((), f'a mapping with a "kind" ({", ".join(kinds)})', data)
    kind = data.get('kind', MISSING)
    cls = kinds.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise SpecError(('kind',), f'unknown {family} kind; one of {", ".join(kinds)}', kind)
    fields = _fields(cls)
    values = {k: v for k, v in data.items() if k != 'kind'}
    for name, value in values.items():
        if name not in fields:
            raise SpecError((name,), f'unknown field of {kind!r} {family}; its fields: '
                                     f'{", ".join(fields)}', value)
    for name, nested_family in cls.nested.items():
        if values.get(name) is not None:
            try:
                values[name] = spec_from(nested_family, values[name])
            except SpecError as exc:
                raise SpecError((name, *exc.path), exc.message, exc.value) from None
    try:
        return cls.from_dict(values)
    except (TypeError, ValueError) as exc:
        text = str(exc)
        field = _named_field(cls, text, fields)
        if field is None:
            raise SpecError((), text) from None
        raise SpecError((field,), text, values.get(field, MISSING)) from None


def config_from(data: Any) -> Config:
    """A :class:`~dosim.Config` with the overrides in *data*; errors name the field."""
    if isinstance(data, Config):
        return data
    if not isinstance(data, Mapping):
        raise SpecError((), 'a mapping of Config fields to values', data)
    known = [f.name for f in dataclasses.fields(Config)]
    for name, value in data.items():
        if name not in known:
            raise SpecError((name,), 'unknown Config field (see `dosim config` for the list)',
                            value)
    try:
        return Config.from_dict(dict(data))
    except (TypeError, ValueError) as exc:
        text = str(exc)
        found = re.search(r'Config\.(\w+)', text)
        field = found.group(1) if found and found.group(1) in data else None
        if field is None:
            raise SpecError((), text) from None
        raise SpecError((field,), text, data[field]) from None


def check_fault(entry: Any) -> dict[str, Any]:
    """A fault entry's shape: a mapping with a known ``kind`` (its other fields are checked
    when the faults are applied to a simulation)."""
    if not isinstance(entry, Mapping):
        raise SpecError((), f'a mapping with a "kind" ({", ".join(FAULT_KINDS)})', entry)
    kind = entry.get('kind', MISSING)
    if kind not in FAULT_KINDS:
        raise SpecError(('kind',), f'unknown fault; one of {", ".join(FAULT_KINDS)}', kind)
    return dict(entry)
