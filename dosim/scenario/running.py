"""Running a scenario: one run with its frames, replications, and sweeps.

A run builds ``Simulation(seed, Config(**overrides))``, binds the namespaces, starts every
traffic source, schedules the faults, and runs for ``duration_ms`` plus ``drain_ms``.
:func:`run` returns a :class:`RunResult` whose ``frames`` are what a run has to say:

* ``requests``, ``lifecycle``, ``alarms``, ``faults`` -- the trace (:mod:`dosim.trace`);
* ``meters`` -- the billing meters per object; ``bill`` -- the monthly bill they extrapolate
  to on both plans (:func:`dosim.cost.estimate`); ``clients`` -- what each WebSocket
  population did;
* ``summary`` -- one row per namespace and one for ``all``: requests, errors, throughput,
  latency p50/p99/mean, alarms, WebSocket messages, objects, GB-s, and (for ``all``) the
  monthly bill on Workers Paid.

The summary leaves out the warm-up: a system that starts empty (no queue, no object in
memory) is not in its steady state, so only requests *sent* in ``[warmup_ms,
duration_ms)`` count, and throughput is the answers *received* in that window per second.
Meters and the bill cover the whole run.

:func:`replicate` and :func:`sweep` go through :mod:`dosim.experiment`: each run is the
top-level function :func:`scenario_metrics` of a seed and the scenario as plain data, so it
runs the same in this process, a process pool or a Dask cluster; a sweep's parameters are
dotted paths into the scenario (``workload.arrivals.rate_per_s``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import cost, experiment
from ..simulation import Simulation
from ..workload import ClientTally, Fetch, UniformKeys, drive, drive_websockets
from .errors import ScenarioError, SpecError
from .loading import Scenario
from .schema import Source

__all__ = ['METRICS', 'RunResult', 'build', 'replicate', 'run', 'scenario_metrics', 'sweep']

SUMMARY_COLUMNS = [
    'namespace', 'requests', 'errors', 'error_rate', 'throughput_per_s', 'p50_ms', 'p99_ms',
    'mean_ms', 'alarms', 'alarm_errors', 'ws_messages', 'objects', 'duration_gb_s',
    'monthly_usd',
]
METRICS = [c for c in SUMMARY_COLUMNS if c != 'namespace']
"""The metrics of a run in replications and sweeps: the ``all`` row of its summary."""


@dataclass
class RunResult:
    """One run of a scenario: the scenario, the seed, the finished simulation, the
    WebSocket tallies by source, and its :attr:`frames`."""

    scenario: Scenario
    seed: int
    sim: Simulation
    tallies: dict[str, ClientTally] = field(default_factory=dict)
    _frames: dict[str, pd.DataFrame] | None = field(default=None, init=False, repr=False)

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Every frame of the run by name (see the module docstring); built once."""
        if self._frames is None:
            self._frames = _frames(self)
        return self._frames

    @property
    def summary(self) -> pd.DataFrame:
        return self.frames['summary']


# -- building and running ---------------------------------------------------------------------
def build(scenario: Scenario, seed: int | None = None) -> tuple[Simulation, dict[str, Any]]:
    """A simulation of *scenario* ready to run (namespaces bound, traffic and faults
    scheduled), and the WebSocket tallies by source name."""
    spec = scenario.spec
    sim = Simulation(seed=spec.seed if seed is None else seed, config=spec.config)
    for binding, ns in spec.namespaces.items():
        sim.namespace(binding, ns.cls, storage=ns.storage)
    tallies = {}
    for name, source in spec.workload.items():
        tally = _start(sim, name, source, spec.duration_ms)
        if tally is not None:
            tallies[name] = tally
    sim.faults.apply([dict(f) for f in spec.faults])
    return sim, tallies


def run(scenario: Scenario, seed: int | None = None) -> RunResult:
    """Run *scenario* once, with its own seed unless *seed* is given."""
    sim, tallies = build(scenario, seed)
    spec = scenario.spec
    sim.run(until=spec.duration_ms + spec.drain_ms)
    return RunResult(scenario, sim.seed, sim, tallies)


def _start(sim: Simulation, name: str, source: Source, duration_ms: float) -> Any:
    ns = sim.namespaces[source.namespace]
    start = source.start_ms
    until = duration_ms if source.duration_ms is None \
        else min(duration_ms, start + source.duration_ms)
    if source.arrivals is not None:
        drive(sim, ns, arrivals=source.arrivals, duration_ms=until - start, keys=source.keys,
              locations=source.locations, request=source.request, start_ms=start, name=name)
        return None
    if source.clients is not None:
        return drive_websockets(sim, ns, source.clients, duration_ms=until - start,
                                keys=source.keys, locations=source.locations, start_ms=start,
                                name=name)
    sim.process(_each_key_once(sim, ns, source, name))
    return None


def _each_key_once(sim: Simulation, ns: Any, source: Source, name: str
                   ) -> Generator[Any, Any, int]:
    """Send ``source.request`` once to every key, evenly over ``source.once.over_ms``."""
    keys = source.keys or UniformKeys(1)
    request = source.request or Fetch()
    where_rng, cost_rng = sim.stream(f'{name}.locations'), sim.stream(f'{name}.cost')
    step = source.once.over_ms / keys.n_keys
    for i in range(keys.n_keys):
        at = source.start_ms + i * step
        if at > sim.now:
            yield sim.timeout(at - sim.now)
        where = None if source.locations is None else source.locations.draw(where_rng)
        ms = None if request.cost is None else request.cost.draw(cost_rng)
        request.send(ns.get(ns.id_from_name(keys.name(i)), client_location=where), ms)
    return keys.n_keys


# -- frames -------------------------------------------------------------------------------------
def _frames(result: RunResult) -> dict[str, pd.DataFrame]:
    sim, spec = result.sim, result.scenario.spec
    trace = sim.trace
    frames = {
        'requests': trace.requests, 'lifecycle': trace.lifecycle, 'alarms': trace.alarms,
        'faults': trace.faults, 'meters': sim.meters,
        'clients': pd.DataFrame(
            [{'source': name, 'namespace': spec.workload[name].namespace,
              **dataclasses.asdict(tally)} for name, tally in result.tallies.items()],
            columns=['source', 'namespace', *(f.name for f in dataclasses.fields(ClientTally))]),
    }
    frames['bill'] = _bill(result)
    frames['summary'] = _summary(frames, spec, frames['bill'])
    return frames


def _bill(result: RunResult) -> pd.DataFrame:
    sim, spec = result.sim, result.scenario.spec
    once = None
    if result.tallies and spec.cost.connects == 'once' and sim.trace.keep_requests:
        once = {'requests': float(cost.websocket_connects(sim))}
    return cost.estimate(sim, simulated_ms=spec.duration_ms, month_days=spec.cost.month_days,
                         scale=spec.cost.scale, once=once)


def _summary(frames: Mapping[str, pd.DataFrame], spec: Any, bill: pd.DataFrame) -> pd.DataFrame:
    low, high = spec.warmup_ms, spec.duration_ms
    requests, alarms, meters = frames['requests'], frames['alarms'], frames['meters']
    rows = []
    for ns in [*spec.namespaces, None]:
        row = {'namespace': ns or 'all',
               **_request_stats(_of(requests, ns), low, high),
               **_alarm_stats(_of(alarms, ns), low, high)}
        own = _of(meters, ns)
        row['ws_messages'] = float(own['ws_messages_in'].sum())
        row['objects'] = float(len(own))
        row['duration_gb_s'] = float(own['duration_gb_s'].sum())
        row['monthly_usd'] = float(cost.totals(bill)['paid']) if ns is None else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _of(frame: pd.DataFrame, namespace: str | None) -> pd.DataFrame:
    return frame if namespace is None else frame[frame['namespace'] == namespace]


def _request_stats(requests: pd.DataFrame, low: float, high: float) -> dict[str, float]:
    sent = requests[(requests['sent_ms'] >= low) & (requests['sent_ms'] < high)]
    ok = sent[sent['status'] == 'ok']
    answered = requests[(requests['status'] == 'ok') & (requests['received_ms'] >= low)
                        & (requests['received_ms'] < high)]
    count, errors = len(sent), len(sent) - len(ok)
    latency = ok['latency_ms']
    return {
        'requests': float(count), 'errors': float(errors),
        'error_rate': errors / count if count else math.nan,
        'throughput_per_s': len(answered) / ((high - low) / 1000),
        'p50_ms': float(latency.quantile(0.5)) if len(ok) else math.nan,
        'p99_ms': float(latency.quantile(0.99)) if len(ok) else math.nan,
        'mean_ms': float(latency.mean()) if len(ok) else math.nan,
    }


def _alarm_stats(alarms: pd.DataFrame, low: float, high: float) -> dict[str, float]:
    fired = alarms[(alarms['fired_ms'] >= low) & (alarms['fired_ms'] < high)]
    return {'alarms': float(len(fired)), 'alarm_errors': float((fired['outcome'] != 'ok').sum())}


# -- replications and sweeps --------------------------------------------------------------------
def scenario_metrics(seed: int, *, scenario: Mapping[str, Any], base_dir: str | None = None,
                     source: str | None = None, paths: Sequence[str] = (),
                     **values: Any) -> dict[str, float]:
    """The metrics (:data:`METRICS`) of one run of the *scenario* mapping with *seed*; the
    value of ``p<i>`` in *values* is set at ``paths[i]``. The model of :func:`replicate` and
    :func:`sweep`, at the top level of a module so that worker processes can find it."""
    chosen = {paths[int(name[1:])]: value for name, value in values.items()}
    sc = Scenario(scenario, base_dir, source)
    if chosen:
        sc = sc.with_values(chosen)
    row = run(sc, seed).summary.iloc[-1]
    return {m: float(row[m]) for m in METRICS}


def _fixed(scenario: Scenario) -> dict[str, Any]:
    return {'scenario': scenario.data, 'source': scenario.source,
            'base_dir': None if scenario.base_dir is None else str(scenario.base_dir)}


def replicate(scenario: Scenario, reps: int | None = None, seed: int | None = None,
              executor: Any = None, workers: int | None = None,
              progress: bool | None = False) -> pd.DataFrame:
    """*reps* (default: the scenario's ``replications``) independent runs, seeds spawned
    from *seed* (default: the scenario's); the tidy frame of :func:`dosim.experiment.replicate`
    (``rep``, ``seed``, ``metric``, ``value``)."""
    spec = scenario.spec
    return experiment.replicate(
        scenario_metrics, reps=reps or spec.replications,
        seed=spec.seed if seed is None else seed, executor=executor, workers=workers,
        progress=progress, **_fixed(scenario))


def sweep(scenario: Scenario, grid: Mapping[str, Sequence[Any]], reps: int | None = None,
          seed: int | None = None, executor: Any = None, workers: int | None = None,
          progress: bool | None = False) -> pd.DataFrame:
    """:func:`replicate` at every combination of the *grid* of dotted paths and values
    (``{'workload.arrivals.rate_per_s': [100, 200]}``); one column per path. Every value is
    checked before anything runs."""
    if not isinstance(grid, Mapping) or not grid:
        raise ScenarioError([('<grid>', 'name at least one path with a list of values')])
    for path, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ScenarioError([(str(path), f'a non-empty list of values, got {values!r}')])
        for value in values:
            try:
                scenario.with_values({path: value})
            except SpecError as exc:   # pragma: no cover - with_values raises ScenarioError
                raise ScenarioError.of(exc) from None
    paths = list(grid)
    spec = scenario.spec
    frame = experiment.sweep(
        scenario_metrics, {f'p{i}': list(grid[p]) for i, p in enumerate(paths)},
        reps=reps or spec.replications, seed=spec.seed if seed is None else seed,
        executor=executor, workers=workers, progress=progress, paths=tuple(paths),
        **_fixed(scenario))
    return frame.rename(columns={f'p{i}': p for i, p in enumerate(paths)})
