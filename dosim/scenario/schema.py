"""The shape of a scenario file, checked field by field (pydantic).

A scenario is one YAML mapping::

    name: hot counter
    description: one counter object takes most of the traffic
    duration_ms: 10000        # how long the workload sends
    warmup_ms: 1000           # left out of the summary: the system starts empty
    drain_ms: 1000            # run on after the workload stops, for answers in flight
    seed: 1
    replications: 3           # independent runs for means with 95 % intervals
    config: {uniqueness_check_ms: 0}     # dosim.Config overrides
    namespaces:
      COUNTERS: {class: counter, storage: sqlite, settings: {}}
    workload:                 # one traffic source, or a mapping of named ones
      namespace: COUNTERS
      arrivals: {kind: poisson, rate_per_s: 300}
      keys: {kind: zipf, n_keys: 20, s: 1.2}
      request: {kind: fetch}
    faults: [{kind: reset, at_ms: 5000, namespace: COUNTERS, name: key-0}]
    cost: {scale: 1, connects: once}

A traffic source (:class:`Source`) has exactly one of

* ``arrivals`` -- open-loop requests at the times of an arrival process, to keys drawn from
  ``keys``, each as ``request`` says (:func:`dosim.workload.drive`);
* ``clients`` -- a population of WebSocket clients (:func:`dosim.workload.drive_websockets`);
* ``once`` -- ``request`` sent once to every key of ``keys``, spread evenly over
  ``once.over_ms``: starting a fleet of agents, warming a set of rooms.

Instead of ``namespaces`` (or beside it, for ``settings``), ``wrangler: wrangler.toml``
takes the bindings and storage backends from a real Worker's file, and ``classes`` says
which model plays each ``class_name`` (:mod:`dosim.scenario.wrangler`).

Unknown fields are refused, numbers are not taken from strings, and every workload spec,
``Config`` override and model class is checked by its own class
(:mod:`dosim.scenario.specs`); an error names the field path and the bad value
(:mod:`dosim.scenario.errors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..config import Config
from .classes import builtin, configure, resolve
from .errors import SpecError
from .specs import check_fault, config_from, spec_from
from .wrangler import read_wrangler

__all__ = ['CostSpec', 'NamespaceSpec', 'Once', 'ScenarioSpec', 'Source']

FAMILY = {'arrivals': 'arrivals', 'clients': 'clients', 'keys': 'keys',
          'locations': 'locations', 'request': 'request'}


class _Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', strict=True, arbitrary_types_allowed=True)


def _base_dir(info: ValidationInfo) -> Path | None:
    return (info.context or {}).get('base_dir')


class Once(_Strict):
    """``once: {over_ms: 1000}``: every key once, evenly over *over_ms*."""

    over_ms: float = Field(0.0, ge=0)


class Source(_Strict):
    """One source of traffic to one namespace (see the module docstring)."""

    namespace: str
    arrivals: Any = None
    clients: Any = None
    once: Once | None = None
    keys: Any = None
    locations: Any = None
    request: Any = None
    start_ms: float = Field(0.0, ge=0)
    duration_ms: float | None = Field(None, gt=0)

    @field_validator(*FAMILY)
    @classmethod
    def _spec(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else spec_from(FAMILY[info.field_name], value)

    @model_validator(mode='after')
    def _one_kind(self) -> Source:
        given = [k for k in ('arrivals', 'clients', 'once') if getattr(self, k) is not None]
        if len(given) != 1:
            raise SpecError((), 'give exactly one of arrivals, clients and once',
                            given or None)
        if self.clients is not None and self.request is not None:
            raise SpecError(('request',), 'WebSocket clients send messages, not requests; '
                                          'leave request out', self.request)
        return self


class NamespaceSpec(_Strict):
    """A namespace: ``class`` (a model name or import path), ``storage`` and ``settings``."""

    model: Any = Field(alias='class')
    storage: Literal['sqlite', 'kv'] = 'sqlite'
    settings: dict[str, Any] = Field(default_factory=dict)
    _cls: Any = PrivateAttr(None)

    @field_validator('model')
    @classmethod
    def _resolve(cls, value: Any, info: ValidationInfo) -> Any:
        return resolve(value, _base_dir(info))

    @model_validator(mode='after')
    def _configure(self) -> NamespaceSpec:
        try:
            self._cls = configure(self.model, self.settings)
        except SpecError as exc:
            raise SpecError(('settings', *exc.path), exc.message, exc.value) from None
        return self

    @property
    def cls(self) -> type:
        """The class to bind: the model, configured with the settings."""
        return self._cls


class CostSpec(_Strict):
    """How a run's meters become a monthly bill (:func:`dosim.cost.estimate`): *scale*
    multiplies everything (2 simulated rooms standing for 100: 50); *connects* says
    whether WebSocket connections are made ``once`` a month (clients that stay) or are a
    ``rate`` (clients that come and go)."""

    scale: float = Field(1.0, gt=0)
    month_days: float = Field(30.0, gt=0)
    connects: Literal['once', 'rate'] = 'once'


class ScenarioSpec(_Strict):
    """A whole scenario file (see the module docstring)."""

    name: str = ''
    description: str = ''
    duration_ms: float = Field(gt=0)
    warmup_ms: float = Field(0.0, ge=0)
    drain_ms: float = Field(1_000.0, ge=0)
    seed: int = Field(0, ge=0)
    replications: int = Field(1, ge=1)
    config: Any = None
    wrangler: str | None = None
    classes: dict[str, str] = Field(default_factory=dict)
    namespaces: dict[str, NamespaceSpec] = Field(default_factory=dict)
    workload: dict[str, Source] = Field(default_factory=dict)
    faults: list[Any] = Field(default_factory=list)
    cost: CostSpec = Field(default_factory=CostSpec)

    @model_validator(mode='before')
    @classmethod
    def _from_wrangler(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and data.get('wrangler') is not None:
            return merge_wrangler(data, _base_dir(info))
        return data

    @field_validator('config')
    @classmethod
    def _config(cls, value: Any) -> Config:
        return Config() if value is None else config_from(value)

    @field_validator('faults')
    @classmethod
    def _faults(cls, value: list[Any]) -> list[dict[str, Any]]:
        checked = []
        for i, entry in enumerate(value):
            try:
                checked.append(check_fault(entry))
            except SpecError as exc:
                raise SpecError((i, *exc.path), exc.message, exc.value) from None
        return checked

    @field_validator('namespaces')
    @classmethod
    def _bindings(cls, value: dict[str, NamespaceSpec]) -> dict[str, NamespaceSpec]:
        for binding in value:
            if not binding.isidentifier():
                raise SpecError((binding,), 'a binding name must be an identifier', binding)
        return value

    @model_validator(mode='after')
    def _consistent(self) -> ScenarioSpec:
        if not self.namespaces:
            raise SpecError(('namespaces',), 'declare at least one namespace (or give '
                                             'wrangler: wrangler.toml)')
        if self.warmup_ms >= self.duration_ms:
            raise SpecError(('warmup_ms',), f'must be shorter than duration_ms '
                                            f'({self.duration_ms:g})', self.warmup_ms)
        for name, source in self.workload.items():
            if source.namespace not in self.namespaces:
                raise SpecError(('workload', name, 'namespace'), 'unknown namespace; '
                                f'declared: {", ".join(self.namespaces)}', source.namespace)
            if source.start_ms >= self.duration_ms:
                raise SpecError(('workload', name, 'start_ms'), f'must be before duration_ms '
                                f'({self.duration_ms:g})', source.start_ms)
        return self


def merge_wrangler(data: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """*data* with a namespace for every binding of its wrangler.toml: class from
    ``classes`` (or a built-in model of that class name), storage from the migrations.
    A ``namespaces`` entry of the same binding may add ``settings``, nothing else."""
    file = data['wrangler']
    if not isinstance(file, str) or not file:
        raise SpecError(('wrangler',), 'the path of a wrangler.toml', file)
    path = Path(file) if base_dir is None else Path(base_dir) / file
    try:
        bindings = read_wrangler(path)
    except SpecError as exc:
        raise SpecError(('wrangler',), exc.message, exc.value) from None
    classes = data.get('classes') or {}
    if not isinstance(classes, dict):
        return data   # the field's own check reports it
    used = {b.class_name for b in bindings}
    resolved = {}
    for class_name, model in classes.items():
        if class_name not in used:
            raise SpecError(('classes', class_name), f'no binding of {file} has this '
                            f'class_name; its classes: {", ".join(sorted(used))}')
        try:
            resolved[class_name] = resolve(model, base_dir)
        except SpecError as exc:
            raise SpecError(('classes', class_name), exc.message, exc.value) from None
    extra = data.get('namespaces') or {}
    namespaces = dict(extra) if isinstance(extra, dict) else {}
    for b in bindings:
        model = resolved.get(b.class_name)
        if model is None and builtin(b.class_name) is None:
            raise SpecError(('classes',), f'{file} binds {b.name} to class_name '
                            f'{b.class_name!r}, which is not a built-in model: map it, e.g. '
                            f"classes: {{{b.class_name}: busy}} or {{{b.class_name}: "
                            "'mypkg.objects:MyClass'}")
        own = namespaces.get(b.name) or {}
        for key in ('class', 'storage'):
            if isinstance(own, dict) and key in own:
                raise SpecError(('namespaces', b.name, key), f'{b.name} comes from {file}, '
                                'which sets its class and storage; give only settings here '
                                '(and the class in classes)', own[key])
        settings = own.get('settings', {}) if isinstance(own, dict) else own
        entry = {'class': model or b.class_name, 'storage': b.storage}
        namespaces[b.name] = {**entry, 'settings': settings} if settings else entry
    return {**data, 'namespaces': namespaces}
