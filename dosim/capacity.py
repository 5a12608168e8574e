"""Capacity answers: how much one object takes, and what sharding and batching buy.

A Durable Object runs one event at a time. If each request holds its thread for ``S`` ms of
CPU, one object serves at most ``1000 / S`` requests a second, however fast its storage or
network: that is its *saturation knee* (:func:`capacity_per_s`). Cloudflare documents a soft
limit of about 1,000 requests/s per object (:data:`DOCUMENTED_SOFT_LIMIT_PER_S`) -- the knee
of a handler that costs about 1 ms. Below the knee an object is a single-server queue, and
queueing theory predicts its wait (:func:`theory`: M/M/1 and M/D/1); near it the queue and
the tail latency grow without bound; past it requests pile up until the runtime refuses them
as overloaded.

Past one object's knee the way out is more objects: *sharding* routes each key to one of N
objects (key *i* to shard ``i mod N``). With keys of equal popularity each shard takes 1/N
of the load and the knee moves N times out. With Zipf popularity one hot key stays on one
shard whatever N is: the system saturates when the hottest shard does, at
``capacity / hottest share`` (:func:`shard_table`). And *batching* -- clients sending up to
``batch`` items in one call -- trades latency (an item waits for its batch) for requests,
which is most of the bill: :func:`frontier` prices every design and marks the ones no other
design beats on both cost and p99 (:func:`pareto`).

Every simulated answer comes from :func:`serve`, one run of Poisson clients in front of N
:class:`~dosim.workload.BusyObject` shards, measured after a warm-up, and is replicated
through :mod:`dosim.experiment`: the frames hold each metric's mean with its 95 % interval
(columns of :func:`dosim.experiment.summarize`), one row per point and metric.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import cost as billing
from .config import Config
from .errors import DurableObjectError
from .experiment import summarize, sweep
from .simulation import Simulation
from .workload import BusyObject, ConstantMs, Poisson, UniformKeys, load

__all__ = [
    'CAPACITY_CONFIG', 'DOCUMENTED_SOFT_LIMIT_PER_S', 'KEYS', 'capacity_per_s', 'frontier',
    'knee', 'load_curve', 'pareto', 'serve', 'shard_shares', 'shard_table', 'sharding',
    'theory',
]

DOCUMENTED_SOFT_LIMIT_PER_S = 1_000.0
"""Cloudflare's soft limit of about 1,000 requests/s per object (do-semantics.md §1.12)."""

CAPACITY_CONFIG = Config(jitter_scale_ms=0.0, uniqueness_check_ms=0.0, trace_level='requests')
"""The runtime of :func:`serve`: defaults, but no network jitter and no uniqueness check of a
name's first call, so that what is measured is the objects, not the network's randomness;
only requests are traced."""

KEYS = UniformKeys(840)
"""The default key population: 840 equally popular keys, which 1 to 8 shards split
exactly evenly."""


def _duration(cost: Any) -> Any:
    if isinstance(cost, bool):
        raise TypeError(f'cost: a number of ms or a duration spec, got {cost!r}')
    return ConstantMs(cost) if isinstance(cost, (int, float)) else load('cost', cost)


def capacity_per_s(cost: Any) -> float:
    """Requests a second one object serves at most when each costs *cost* (ms, or a
    duration spec: its mean) of CPU: ``1000 / mean``."""
    mean = _duration(cost).mean_ms
    if not mean > 0:
        raise ValueError(f'capacity_per_s(cost): a mean cost > 0 ms, got {mean!r}')
    return 1000.0 / mean


# -- queueing theory ---------------------------------------------------------------------------
def theory(rates_per_s: Sequence[float], cost_ms: float,
           service: str = 'constant') -> pd.DataFrame:
    """One object as a single-server queue with Poisson arrivals at each rate and service
    time *cost_ms*, ``'constant'`` (M/D/1) or ``'exponential'`` (M/M/1). Columns:
    ``rate_per_s``, ``rho`` (λ/μ), ``wait_ms`` (mean wait in the queue, Wq),
    ``response_ms`` (Wq + service), ``p99_response_ms`` (M/M/1 only: the response time is
    exponential with rate μ − λ). At ρ >= 1 there is no steady state: infinite."""
    if service not in ('constant', 'exponential'):
        raise ValueError(f"theory(service): 'constant' or 'exponential', got {service!r}")
    mu = 1.0 / cost_ms   # per ms
    rows = []
    for rate in rates_per_s:
        lam = rate / 1000.0
        rho = lam / mu
        if rho >= 1:
            rows.append((rate, rho, math.inf, math.inf, math.inf))
            continue
        wait = rho / (mu - lam) if service == 'exponential' else rho / (2 * mu * (1 - rho))
        p99 = math.log(100) / (mu - lam) if service == 'exponential' else math.nan
        rows.append((rate, rho, wait, wait + cost_ms, p99))
    return pd.DataFrame(rows, columns=['rate_per_s', 'rho', 'wait_ms', 'response_ms',
                                       'p99_response_ms'])


# -- sharding by key ---------------------------------------------------------------------------
def shard_shares(keys: Any, shards: int) -> list[float]:
    """Each shard's share of the requests when key *i* goes to shard ``i mod shards``."""
    keys = load('keys', keys)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f'shards: a whole number >= 1, got {shards!r}')
    shares = [0.0] * shards
    for i, p in enumerate(keys.probabilities()):
        shares[i % shards] += p
    return shares


def shard_table(cost: Any, keys: Any, shards: Sequence[int],
                rate_per_s: float | None = None) -> pd.DataFrame:
    """Per shard count: the ``hottest_share`` of the load on one shard and the system's
    ``capacity_per_s`` = one object's capacity / hottest share (the load at which its
    hottest shard saturates). With an offered *rate_per_s*, also ``carried_per_s``: what
    the shards answer, each ``min(share x rate, one object's capacity)``, summed."""
    one = capacity_per_s(cost)
    rows = []
    for n in shards:
        shares = shard_shares(keys, n)
        row = {'shards': n, 'hottest_share': max(shares), 'capacity_per_s': one / max(shares)}
        if rate_per_s is not None:
            row['carried_per_s'] = sum(min(share * rate_per_s, one) for share in shares)
        rows.append(row)
    return pd.DataFrame(rows)


# -- the serving model -------------------------------------------------------------------------
def serve(seed: int, *, rate_per_s: float, cost: Any = 1.0, shards: int = 1, keys: Any = None,
          batch: int = 1, linger_ms: float = 20.0, overhead_ms: float = 0.0,
          duration_ms: float = 10_000.0, measure_from_ms: float = 2_000.0,
          config: Config | None = None) -> dict[str, float]:
    """One run: items arrive as Poisson at *rate_per_s* for *duration_ms*, each for a key
    of *keys* (default :data:`KEYS`) with a handler cost drawn from *cost*; key *i* goes to
    shard ``i mod shards``. Clients send a shard's items in calls of up to *batch* (a call
    leaves when full, or *linger_ms* after its first item); a call costs *overhead_ms*
    plus its items' costs, and is one billed request.

    Returns the metrics of the items that arrived after *measure_from_ms* (the warm-up is
    left out; the sweeps below call it ``warmup_ms``): ``offered_per_s``,
    ``throughput_per_s`` (items answered per second in the window), ``error_rate``
    (refused as overloaded), latency ``p50_ms``, ``p99_ms`` and ``mean_ms`` (arrival to
    answer, batch wait included), ``wait_ms`` (mean queue wait of a call at its shard),
    ``hot_utilisation`` (the busiest shard's share of the window spent in handlers),
    ``calls_per_s`` and
    ``monthly_usd`` (the run's bill on Workers Paid, extrapolated to a month)."""
    sim = Simulation(seed=seed, config=config or CAPACITY_CONFIG)
    ns = sim.namespace('SHARDS', BusyObject)
    oids = [ns.id_from_name(f'shard-{s}') for s in range(shards)]
    done: list[tuple[float, float, bool]] = []
    sim.process(_clients(sim, ns, oids, done, rate_per_s, _duration(cost),
                         KEYS if keys is None else load('keys', keys), batch, linger_ms,
                         overhead_ms, duration_ms))
    sim.run()
    return _measure(sim, done, measure_from_ms, duration_ms)


def _clients(sim: Simulation, ns: Any, oids: list[Any], done: list[Any], rate: float,
             cost: Any, keys: Any, batch: int, linger_ms: float, overhead_ms: float,
             until: float) -> Generator[Any, Any, None]:
    key_rng, cost_rng = sim.stream('capacity.keys'), sim.stream('capacity.cost')
    buffers: list[list[tuple[float, float]]] = [[] for _ in oids]

    def send(s: int) -> None:
        items, buffers[s] = buffers[s], []
        work = overhead_ms + sum(ms for _, ms in items)
        sim.process(_call(sim, ns.get(oids[s]), work, items, done))

    def linger(s: int, items: list[Any]) -> Generator[Any, Any, None]:
        yield sim.timeout(linger_ms)
        if buffers[s] is items:
            send(s)

    for t in Poisson(rate).times(sim.stream('capacity.arrivals')):
        if t >= until:
            break
        yield sim.timeout(t - sim.now)
        s = keys.draw(key_rng) % len(oids)
        buffers[s].append((t, cost.draw(cost_rng)))
        if len(buffers[s]) >= batch:
            send(s)
        elif len(buffers[s]) == 1:
            sim.process(linger(s, buffers[s]))
    for s in range(len(oids)):   # what is left goes out with the last arrivals
        if buffers[s]:
            send(s)


def _call(sim: Simulation, stub: Any, work: float, items: list[tuple[float, float]],
          done: list[Any]) -> Generator[Any, Any, None]:
    try:
        yield stub.work(work)
        ok = True
    except DurableObjectError:
        ok = False
    done.extend((t, sim.now, ok) for t, _ in items)


def _measure(sim: Simulation, done: list[Any], warmup_ms: float,
             duration_ms: float) -> dict[str, float]:
    items = np.array(done, dtype=float).reshape(-1, 3)
    arrived, answered, ok = items[:, 0], items[:, 1], items[:, 2] == 1
    window = (duration_ms - warmup_ms) / 1000.0
    mine = arrived >= warmup_ms
    latency = (answered - arrived)[mine & ok]
    calls = sim.trace.requests
    start = calls['started_ms'].clip(warmup_ms, duration_ms)
    busy = (calls['handler_done_ms'].clip(warmup_ms, duration_ms) - start).groupby(
        calls['object']).sum()   # each shard's handler time inside the window
    calls = calls[calls['sent_ms'] >= warmup_ms]
    bill = billing.estimate(sim, simulated_ms=duration_ms)
    metrics = {
        'offered_per_s': mine.sum() / window,
        'throughput_per_s': (ok & (answered >= warmup_ms) & (answered < duration_ms)).sum()
        / window,
        'error_rate': (mine & ~ok).sum() / mine.sum() if mine.any() else math.nan,
        'p50_ms': float(np.quantile(latency, 0.5)) if len(latency) else math.nan,
        'p99_ms': float(np.quantile(latency, 0.99)) if len(latency) else math.nan,
        'mean_ms': float(latency.mean()) if len(latency) else math.nan,
        'wait_ms': float(calls.loc[calls['status'] == 'ok', 'queue_ms'].mean()),
        'hot_utilisation': float(busy.max()) / (duration_ms - warmup_ms) if len(busy) else 0.0,
        'calls_per_s': len(calls) / window,
        'monthly_usd': billing.totals(bill)['paid'],
    }
    return {name: float(value) for name, value in metrics.items()}


# -- sweeps of the serving model ---------------------------------------------------------------
def _sweep(grid: dict[str, Sequence[Any]], reps: int, seed: int, executor: Any,
           workers: int | None, progress: bool | None, **fixed: Any) -> pd.DataFrame:
    # serve() removes its own warm-up: the experiment's warmup_ms applies to observations
    fixed['measure_from_ms'] = fixed.pop('warmup_ms', 2_000.0)
    runs = sweep(serve, grid, reps=reps, seed=seed, executor=executor, workers=workers,
                 progress=progress, **fixed)
    return summarize(runs)


def load_curve(cost: Any, rates_per_s: Sequence[float], *, reps: int = 3, seed: int = 0,
               executor: Any = None, workers: int | None = None,
               progress: bool | None = False, **design: Any) -> pd.DataFrame:
    """:func:`serve` at each offered rate, *reps* times: the mean and 95 % interval of
    every metric per ``rate_per_s``. *design* passes on to :func:`serve` (``shards``,
    ``duration_ms`` ...), and ``warmup_ms`` (default 2 s) is its ``measure_from_ms``."""
    return _sweep({'rate_per_s': list(rates_per_s)}, reps, seed, executor, workers, progress,
                  cost=cost, **design)


def knee(curve: pd.DataFrame) -> float:
    """The saturation knee of a :func:`load_curve` that goes past it: the highest mean
    throughput, where the curve flattens."""
    rows = curve[curve['metric'] == 'throughput_per_s']
    if rows.empty:
        raise ValueError('knee(curve): the frame has no throughput_per_s rows; pass the '
                         'frame of load_curve()')
    return float(rows['mean'].max())


def sharding(cost: Any, rate_per_s: float, shards: Sequence[int], *, keys: Any = None,
             reps: int = 3, seed: int = 0, executor: Any = None, workers: int | None = None,
             progress: bool | None = False, **design: Any) -> pd.DataFrame:
    """:func:`serve` at one offered rate for each number of *shards*; metrics per
    ``shards`` as in :func:`load_curve`."""
    return _sweep({'shards': list(shards)}, reps, seed, executor, workers, progress,
                  cost=cost, rate_per_s=rate_per_s, keys=keys, **design)


def frontier(cost: Any, rate_per_s: float, *, shards: Sequence[int] = (1, 2, 4, 8),
             batches: Sequence[int] = (1, 10, 50), reps: int = 2, seed: int = 0,
             executor: Any = None, workers: int | None = None, progress: bool | None = False,
             **design: Any) -> pd.DataFrame:
    """Every design of *shards* x *batches* at one offered rate: one row per design with
    the mean ``p99_ms``, ``monthly_usd``, ``error_rate``, ``throughput_per_s`` and
    ``calls_per_s``; ``carries_load``: it answers at least 99 % of the offered items, without
    errors (a saturated design is cheap only because it serves less); and ``pareto``: it
    carries the load and no other design that does is both cheaper and faster."""
    summary = _sweep({'shards': list(shards), 'batch': list(batches)}, reps, seed, executor,
                     workers, progress, cost=cost, rate_per_s=rate_per_s, **design)
    wide = summary.pivot_table(index=['shards', 'batch'], columns='metric', values='mean',
                               sort=False).reset_index()
    wide.columns.name = None
    out = wide[['shards', 'batch', 'p99_ms', 'monthly_usd', 'error_rate', 'throughput_per_s',
                'calls_per_s']].copy()
    out['carries_load'] = (out['error_rate'] == 0) & \
        (out['throughput_per_s'] >= 0.99 * wide['offered_per_s'])
    out['pareto'] = False
    out.loc[out['carries_load'], 'pareto'] = pareto(out[out['carries_load']])
    return out


def pareto(frame: pd.DataFrame, cost: str = 'monthly_usd', latency: str = 'p99_ms') -> pd.Series:
    """Whether each row is on the cost-latency frontier: no other row is at most as
    expensive and at most as slow, and better in one of the two. NaN is never on it."""
    x, y = frame[cost].to_numpy(dtype=float), frame[latency].to_numpy(dtype=float)
    keep = []
    for i in range(len(frame)):
        beaten = (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        keep.append(bool(np.isfinite(x[i]) and np.isfinite(y[i]) and not beaten.any()))
    return pd.Series(keep, index=frame.index, name='pareto')
