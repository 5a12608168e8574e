"""Workload specifications: plain, frozen data that a scenario file can hold.

Every part of a workload -- when requests arrive, which object they go to, where the clients
are, how long a handler computes -- is a small frozen dataclass with a ``kind`` name. It holds
numbers only; the randomness comes from a stream the :class:`~dosim.Simulation` owns, which
is passed to the spec's drawing method. So a spec can be written in YAML, compared, printed
and reused across simulations, and two runs with the same seed draw the same values.

A spec is made in Python (``Poisson(rate_per_s=50)``) or from a mapping, as a YAML scenario
file gives it (``load('arrivals', {'kind': 'poisson', 'rate_per_s': 50})``). Either way its
fields are checked, and a bad one raises an error that names the spec, the field and the
value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ['FAMILIES', 'Spec', 'load', 'register']

FAMILIES: dict[str, dict[str, type[Spec]]] = {
    'arrivals': {}, 'keys': {}, 'locations': {}, 'cost': {}, 'request': {}, 'clients': {},
}
"""Every spec class, by family and then by ``kind``."""


@dataclass(frozen=True)
class Spec:
    """Base of every workload spec: a ``kind`` name, checked fields, ``from_dict``."""

    kind: ClassVar[str] = ''
    family: ClassVar[str] = ''
    nested: ClassVar[Mapping[str, str]] = {}   # field name -> family of the spec it holds

    def __post_init__(self) -> None:
        for name, family in self.nested.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, load(family, value))
            elif value is not None and not (isinstance(value, Spec) and value.family == family):
                raise TypeError(f'{self._name(name)} must be a {family} spec or a mapping, '
                                f'got {value!r}')
        self.check()

    def check(self) -> None:
        """Check the fields (subclasses); raise naming the field and the value."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spec:
        """The spec given by *data* (a mapping of field names to values, ``kind`` optional)."""
        if not isinstance(data, Mapping):
            raise TypeError(f'{cls.__name__}: expected a mapping of fields, got {data!r}')
        values = dict(data)
        kind = values.pop('kind', cls.kind)
        if kind != cls.kind:
            raise ValueError(f'{cls.__name__}.kind must be {cls.kind!r}, got {kind!r}')
        known = [f.name for f in dataclasses.fields(cls) if f.init]
        for name in values:
            if name not in known:
                raise TypeError(f'{cls.__name__}: unknown field {name!r}; '
                                f'its fields are {", ".join(known)}')
        for f in dataclasses.fields(cls):
            required = f.default is dataclasses.MISSING and \
                f.default_factory is dataclasses.MISSING
            if f.init and required and f.name not in values:
                raise TypeError(f'{cls.__name__}: missing field {f.name!r}')
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (the inverse of :func:`load`)."""
        out: dict[str, Any] = {'kind': self.kind}
        for f in dataclasses.fields(self):
            if f.init:
                value = getattr(self, f.name)
                if isinstance(value, Spec):
                    value = value.to_dict()
                elif isinstance(value, Mapping):
                    value = dict(value)
                elif isinstance(value, tuple):
                    value = list(value)   # YAML writes lists
                out[f.name] = value
        return out

    # -- checks used by subclasses ------------------------------------------------------------
    def _name(self, field: str) -> str:
        return f'{type(self).__name__}.{field}'

    def _number(self, field: str, *, low: float = 0.0, strict: bool = True,
                high: float = math.inf, integer: bool = False) -> float:
        """The field's value, checked to be a finite number above *low* (or at least *low*
        unless *strict*) and at most *high*; whole if *integer*."""
        value = getattr(self, field)
        what = 'a whole number' if integer else 'a number'
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integer and not float(value).is_integer()):
            raise TypeError(f'{self._name(field)} must be {what}, got {value!r}')
        bound = f'> {low:g}' if strict else f'>= {low:g}'
        if high < math.inf:
            bound += f' and <= {high:g}'
        if not math.isfinite(value) or not (value > low if strict else value >= low) \
                or value > high:
            raise ValueError(f'{self._name(field)} must be {what} {bound}, got {value!r}')
        return value

    def _text(self, field: str) -> str:
        value = getattr(self, field)
        if not isinstance(value, str) or not value:
            raise TypeError(f'{self._name(field)} must be a non-empty string, got {value!r}')
        return value


def register(cls: type[Spec]) -> type[Spec]:
    """Class decorator: make *cls* loadable by ``load(cls.family, {'kind': cls.kind, ...})``."""
    FAMILIES[cls.family][cls.kind] = cls
    return cls


def load(family: str, data: Any) -> Any:
    """The spec of *family* given by *data*: a spec of that family (returned as is) or a
    mapping with a ``kind`` field. Errors say which family and field were wrong."""
    kinds = FAMILIES.get(family)
    if kinds is None:
        raise ValueError(f'load(family): one of {", ".join(FAMILIES)}, got {family!r}')
    if isinstance(data, Spec):
        if data.family != family:
            raise TypeError(f'{family}: expected a {family} spec, got {data!r}')
        return data
    if not isinstance(data, Mapping):
        raise TypeError(f'{family}: expected a mapping with a "kind" field, got {data!r}')
    kind = data.get('kind')
    cls = kinds.get(kind)
    if cls is None:
        raise ValueError(f'{family}.kind: unknown kind {kind!r}; known: {", ".join(kinds)}')
    try:
        return cls.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f'{family}: {exc}') from None
