"""Loading a scenario: read the YAML, check every field, try the pieces on a simulation.

:func:`load` reads a scenario file; :meth:`Scenario.from_dict` takes the same mapping from
Python. Either way the scenario is checked completely before anything runs:

1. the shape and every value (:class:`~dosim.scenario.schema.ScenarioSpec`, with the
   workload specs, ``Config`` overrides and model classes checked by their own classes);
2. the faults, by applying them to a simulation that is built and thrown away -- a fault
   naming an unknown namespace or data centre is an error now, not in the middle of a run.

Every problem is reported with its field path and value (:class:`ScenarioError`).

A :class:`Scenario` keeps the mapping as written (``data``) beside the checked fields
(``spec``): :meth:`Scenario.with_values` sets dotted paths in that mapping and checks the
result again, which is how ``--set`` and ``--param`` work, and how a sweep's worker
processes rebuild the scenario from plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..simulation import Simulation
from .errors import ScenarioError, SpecError, from_validation_error
from .paths import with_values
from .schema import ScenarioSpec

__all__ = ['Scenario', 'load']

SOURCE_KEYS = ('namespace', 'arrivals', 'clients', 'once')
ONE_SOURCE = 'main'
"""The name a workload given as a single source runs under (its random streams are
``'main.arrivals'`` ...)."""


class Scenario:
    """A checked scenario (see the module docstring): ``spec`` holds the checked fields,
    ``data`` the mapping as written, ``base_dir`` the directory that relative paths in it
    (wrangler.toml, modules) are taken from."""

    def __init__(self, data: Mapping[str, Any], base_dir: str | Path | None = None,
                 source: str | None = None) -> None:
        self.data = dict(data)
        self.base_dir = None if base_dir is None else Path(base_dir)
        self.source = source
        self.spec = _check(self.data, self.base_dir, source)

    @classmethod
    def from_dict(cls, data: Any, base_dir: str | Path | None = None) -> Scenario:
        """A scenario from a mapping shaped like a scenario file."""
        if not isinstance(data, Mapping):
            raise ScenarioError([('<scenario>', f'a mapping of fields, got {data!r}')])
        return cls(data, base_dir)

    @property
    def name(self) -> str:
        """The scenario's ``name``, else its file's name without the suffix."""
        return self.spec.name or (Path(self.source).stem if self.source else 'scenario')

    def with_values(self, values: Mapping[str, Any]) -> Scenario:
        """This scenario with the values at the dotted paths of *values* changed, checked
        again; a bad path or value is a :class:`ScenarioError` naming it."""
        try:
            data = with_values(self.data, values)
        except SpecError as exc:
            raise ScenarioError.of(exc, source=self.source) from None
        return Scenario(data, self.base_dir, self.source)

    def to_yaml(self) -> str:
        """The scenario as written (with any values set), as YAML."""
        return yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True)

    def __repr__(self) -> str:
        return f'Scenario({self.name!r}, duration_ms={self.spec.duration_ms:g})'


def load(path: str | Path, values: Mapping[str, Any] | None = None) -> Scenario:
    """The scenario in the YAML file at *path*, with the dotted-path *values* set."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as exc:
        raise ScenarioError([('<file>', f'cannot read {str(path)!r}: '
                                        f'{exc.strerror or exc}')]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError([('<file>', f'not valid YAML: {exc}')], str(path)) from None
    if not isinstance(data, Mapping):
        raise ScenarioError([('<scenario>', f'the file must hold a mapping of fields, '
                                            f'got {data!r}')], str(path))
    scenario = Scenario(data, path.parent, str(path))
    return scenario.with_values(values) if values else scenario


def _check(data: dict[str, Any], base_dir: Path | None, source: str | None) -> ScenarioSpec:
    shaped, rename = dict(data), {}
    workload = data.get('workload')
    if isinstance(workload, Mapping) and any(k in workload for k in SOURCE_KEYS):
        shaped['workload'] = {ONE_SOURCE: workload}
        rename = {('workload', ONE_SOURCE): ('workload',)}
    try:
        spec = ScenarioSpec.model_validate(shaped, context={'base_dir': base_dir})
    except ValidationError as exc:
        raise from_validation_error(exc, rename, source) from None
    _try_faults(spec, source)
    return spec


def _try_faults(spec: ScenarioSpec, source: str | None) -> None:
    """Apply each fault to a throw-away simulation of the scenario's namespaces."""
    sim = Simulation(seed=spec.seed, config=spec.config)
    for binding, ns in spec.namespaces.items():
        sim.namespace(binding, ns.cls, storage=ns.storage)
    problems = []
    for i, entry in enumerate(spec.faults):
        bound = entry.get('namespace')
        if bound is not None and bound not in spec.namespaces:
            problems.append((f'faults.{i}.namespace', f'unknown namespace; declared: '
                             f'{", ".join(spec.namespaces)}, got {bound!r}'))
            continue
        try:
            sim.faults.apply([entry])
        except (TypeError, ValueError) as exc:
            text = re.sub(r'^faults\[0\] \(\w+\): ', '', str(exc))
            problems.append((f'faults.{i}', text))
    if problems:
        raise ScenarioError(problems, source)
