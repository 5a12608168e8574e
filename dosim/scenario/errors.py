"""Errors of a scenario file: each names the field path, what is wrong, and the bad value.

A scenario is checked as a whole when it is loaded, and every problem found is reported at
once, one per line, as ``path: message``::

    scenario 'hot_counter.yaml' has 2 errors:
      workload.arrivals.rate_per_s: Poisson.rate_per_s must be a number > 0, got -1
      duration_ms: input should be greater than 0, got 0

The path is the chain of keys (and list positions) from the top of the file down to the bad
value, joined by dots -- the same form that ``dosim sweep --param`` takes.

:class:`SpecError` is how the checks below the schema (workload specs, ``Config``, model
classes, wrangler.toml) report a problem *below* the field they were given: it carries the rest
of the path, which :func:`from_validation_error` appends to the field's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ['MISSING', 'ScenarioError', 'SpecError', 'dotted', 'from_validation_error']

MISSING: Any = type('Missing', (), {'__repr__': lambda self: '<missing>'})()
"""Stands for a value that is not there (a missing field), in an error."""


def dotted(path: Sequence[Any]) -> str:
    """``('workload', 'arrivals', 'rate_per_s')`` -> ``'workload.arrivals.rate_per_s'``."""
    return '.'.join(str(part) for part in path) or '<scenario>'


def _with_value(message: str, value: Any) -> str:
    if value is MISSING or 'got ' in message:
        return message
    return f'{message}, got {value!r}'


class SpecError(ValueError):
    """A problem at *path* (relative to the field being checked) with *value*."""

    def __init__(self, path: Sequence[Any], message: str, value: Any = MISSING) -> None:
        self.path = tuple(path)
        self.message = message
        self.value = value
        super().__init__(f'{dotted(self.path)}: {_with_value(message, value)}')


class ScenarioError(ValueError):
    """A scenario that cannot be loaded or run: ``problems`` lists ``(path, message)``."""

    def __init__(self, problems: Sequence[tuple[str, str]], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        lines = [f'{path}: {message}' for path, message in self.problems]
        if len(lines) == 1:
            text = lines[0] if source is None else f'{source}: {lines[0]}'
        else:
            where = f'scenario {source!r}' if source else 'scenario'
            count = f'{len(lines)} error{"s" * (len(lines) != 1)}'
            text = f'{where} has {count}:\n' + '\n'.join(f'  {line}' for line in lines)
        super().__init__(text)

    @classmethod
    def of(cls, error: SpecError, prefix: Sequence[Any] = (),
           source: str | None = None) -> ScenarioError:
        """The scenario error of one :class:`SpecError` found under *prefix*."""
        path = dotted((*prefix, *error.path))
        return cls([(path, _with_value(error.message, error.value))], source)


def _message(error: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    """The path and text of one pydantic error, with our SpecError's sub-path appended."""
    loc = tuple(error['loc'])
    cause = (error.get('ctx') or {}).get('error')
    if isinstance(cause, SpecError):
        return loc + cause.path, _with_value(cause.message, cause.value)
    kind = error['type']
    if kind == 'extra_forbidden':
        return loc, _with_value('unknown field', error['input'])
    if kind == 'missing':
        return loc, 'required field is missing'
    text = error['msg']
    text = text[0].lower() + text[1:]
    if kind in ('value_error', 'assertion_error'):
        text = text.split(', ', 1)[-1]
    return loc, _with_value(text, error.get('input', MISSING))


def from_validation_error(exc: Any, rename: dict[tuple[Any, ...], tuple[Any, ...]] | None = None,
                          source: str | None = None) -> ScenarioError:
    """A :class:`ScenarioError` from a pydantic ``ValidationError``. *rename* maps path
    prefixes as validated to the prefixes the user wrote (the one-source workload
    shorthand)."""
    problems = []
    for error in exc.errors(include_url=False):
        path, text = _message(error)
        for old, new in (rename or {}).items():
            if path[:len(old)] == old:
                path = new + path[len(old):]
        problems.append((dotted(path), text))
    return ScenarioError(problems, source)
