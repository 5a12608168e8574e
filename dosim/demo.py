"""The built-in demo: counters under load, and what the input gate protects.

``dosim demo`` (or ``python -m dosim demo``) runs one small scenario and writes what it saw:

* two kinds of counter object, 20 of each, in one simulation:

  - ``Counter`` (binding ``COUNTERS``), the one in the README: read ``n``, write ``n + 1``.
    The read is a storage await, so the input gate stays closed between the read and the
    write and no other request can slip in: no update is ever lost.
  - ``RacyCounter`` (binding ``RACY_COUNTERS``): the same, but it sleeps for
    :data:`RACY_SLEEP_MS` between the read and the write (think of an outbound fetch to log
    the read). A timer opens the input gate; a second request to the same object reads the
    same ``n`` meanwhile, and one of the two increments is lost.

* an open-loop Poisson workload per kind: requests arrive at random, :data:`RATE_PER_S` a
  second on average, each to one of the objects picked at random, for
  :data:`DURATION_MS` of simulated time. "Open loop" means arrivals do not wait for earlier
  answers, as with many independent users.

:func:`run_demo` returns a summary table (one row per variant) and writes ``summary.csv``,
``latency_cdf.png`` and ``latency_breakdown.png`` into a directory. A file is written to a
temporary name beside its final one and then renamed over it, so a reader never sees half a
file and an interrupted run leaves the previous file intact.

The figures are drawn on ``matplotlib.figure.Figure`` objects saved directly, without pyplot:
:func:`run_demo` can be called from a notebook without changing its plotting backend.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

import dosim

from . import plot

__all__ = [
    'DURATION_MS', 'OBJECTS', 'RACY_SLEEP_MS', 'RATE_PER_S', 'SUMMARY_COLUMNS', 'VARIANTS',
    'Counter', 'RacyCounter', 'format_summary', 'run_demo', 'simulate', 'summarise',
    'variant_requests',
]

OBJECTS = 20
"""Counter objects per variant (``counter-00`` ... ``counter-19``)."""

DURATION_MS = 10_000.0
"""How long clients keep sending, in simulated ms; requests still in flight then finish."""

RATE_PER_S = 100.0
"""Mean arrivals per simulated second, per variant, over all its objects together."""

RACY_SLEEP_MS = 20.0
"""The racy counter's sleep between its read and its write."""

SUMMARY_COLUMNS = [
    'requests', 'errors', 'p50_ms', 'p95_ms', 'p99_ms',
    'mean_network_ms', 'mean_queue_ms', 'mean_handler_ms', 'mean_gate_ms',
    'expected_count', 'stored_count', 'lost_updates',
]
"""The summary's columns (its index is ``variant``). ``expected_count`` is the number of
answered increments, ``stored_count`` the sum of ``n`` over the variant's objects afterwards,
``lost_updates`` the difference."""


class Counter(dosim.DurableObject):
    """The README's counter: no update is lost, whatever the load."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        n = (yield self.ctx.storage.get('n')) or 0  # storage await: input gate stays closed
        self.ctx.storage.put('n', n + 1)  # no yield: the output gate holds the reply
        return dosim.Response(str(n + 1))


class RacyCounter(dosim.DurableObject):
    """A counter with a timer between its read and its write: it loses updates."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        n = (yield self.ctx.storage.get('n')) or 0
        yield dosim.sleep(RACY_SLEEP_MS)  # a non-storage await: the input gate opens
        self.ctx.storage.put('n', n + 1)  # may overwrite another request's increment
        return dosim.Response(str(n + 1))


VARIANTS: dict[str, tuple[str, type[dosim.DurableObject]]] = {
    'safe': ('COUNTERS', Counter),
    'racy': ('RACY_COUNTERS', RacyCounter),
}
"""Variant name -> (namespace binding, class), in the order tables and plots show them."""


# -- the scenario ------------------------------------------------------------------------------
def _object_name(i: int) -> str:
    return f'counter-{i:02d}'


def _one_request(ns: dosim.DurableObjectNamespace, name: str) -> Generator[Any, Any, None]:
    with contextlib.suppress(dosim.DurableObjectError):  # the trace records a failure
        yield ns.get_by_name(name).fetch('https://do/inc')


def _poisson_clients(
    sim: dosim.Simulation, ns: dosim.DurableObjectNamespace
) -> Generator[Any, Any, None]:
    """Arrivals with exponential gaps (a Poisson process) until DURATION_MS, each request in
    its own process; then wait until every request has been answered."""
    rng = sim.stream(f'workload/{ns.binding}')  # one stream per variant: independent draws
    rate_per_ms = RATE_PER_S / 1000.0
    in_flight = []
    while True:
        gap = rng.expovariate(rate_per_ms)
        if sim.now + gap >= DURATION_MS:
            break
        yield sim.timeout(gap)
        name = _object_name(rng.randrange(OBJECTS))
        in_flight.append(sim.process(_one_request(ns, name)))
    yield sim.env.all_of(in_flight)


def simulate(seed: int = 0) -> dosim.Simulation:
    """Run the scenario to completion and return the simulation (its trace and storage)."""
    sim = dosim.Simulation(seed=seed)
    clients = []
    for binding, cls in VARIANTS.values():
        ns = sim.namespace(binding, cls)
        clients.append(sim.process(_poisson_clients(sim, ns)))
    sim.run(until=sim.env.all_of(clients))
    return sim


def variant_requests(sim: dosim.Simulation) -> pd.DataFrame:
    """``sim.trace.requests`` with a ``variant`` column (a Categorical in VARIANTS order)."""
    frame = sim.trace.requests
    by_binding = {binding: variant for variant, (binding, _cls) in VARIANTS.items()}
    frame['variant'] = pd.Categorical(
        frame['namespace'].map(by_binding), categories=list(VARIANTS), ordered=True
    )
    return frame


def summarise(sim: dosim.Simulation) -> pd.DataFrame:
    """One row per variant (index ``variant``), with :data:`SUMMARY_COLUMNS`.

    Latency quantiles and means are over answered requests (``status == 'ok'``), in ms,
    rounded to the microsecond."""
    frame = variant_requests(sim)
    rows = []
    for variant, (binding, _cls) in VARIANTS.items():
        mine = frame[frame['variant'] == variant]
        ok = mine[mine['status'] == 'ok']
        stored = sum(
            int(sim.storage_of(binding, _object_name(i)).get('n', 0)) for i in range(OBJECTS)
        )
        expected = len(ok)
        latency = ok['latency_ms']
        rows.append({
            'variant': variant,
            'requests': len(mine),
            'errors': int((mine['status'] == 'error').sum()),
            'p50_ms': latency.quantile(0.50),
            'p95_ms': latency.quantile(0.95),
            'p99_ms': latency.quantile(0.99),
            'mean_network_ms': ok['network_ms'].mean(),
            'mean_queue_ms': ok['queue_ms'].mean(),
            'mean_handler_ms': ok['handler_ms'].mean(),
            'mean_gate_ms': ok['gate_ms'].mean(),
            'expected_count': expected,
            'stored_count': stored,
            'lost_updates': expected - stored,
        })
    summary = pd.DataFrame(rows).set_index('variant')[SUMMARY_COLUMNS]
    ms = [c for c in SUMMARY_COLUMNS if c.endswith('_ms')]
    summary[ms] = summary[ms].astype(float).round(3)
    return summary


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a text table, one column per variant (easier to read in a terminal)."""
    shown = pd.DataFrame(index=summary.columns, columns=summary.index, dtype=object)
    for column in summary.columns:
        for variant in summary.index:
            value = summary.at[variant, column]
            shown.at[column, variant] = f'{value:.2f}' if column.endswith('_ms') else f'{value:d}'
    shown.index.name = None
    shown.columns.name = None
    return shown.to_string()


# -- output ------------------------------------------------------------------------------------
def _write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write *path* by writing a temporary file beside it, then renaming it over *path*.

    ``os.replace`` is atomic within one file system, which is why the temporary file lives in
    the same directory: a reader sees the old file or the new one, never a partial one."""
    tmp = path.with_name(f'.{path.name}.{secrets.token_hex(6)}.tmp')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as usual
    try:
        with os.fdopen(fd, 'wb') as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _save_figure(path: Path, draw: Callable[[Any], None], subtitle: str) -> None:
    from matplotlib.figure import Figure  # a bare Figure: no pyplot, no backend switch

    fig = Figure(figsize=(8, 4.5), layout='constrained')
    ax = fig.subplots()
    draw(ax)
    fig.suptitle(subtitle, fontsize=9, color='0.3')
    _write_atomic(path, lambda fh: fig.savefig(fh, format='png', dpi=120))


def run_demo(out_dir: str | os.PathLike[str], seed: int = 0) -> pd.DataFrame:
    """Run the demo scenario with *seed*; write ``summary.csv``, ``latency_cdf.png`` and
    ``latency_breakdown.png`` into *out_dir* (made if missing); return the summary.

    The same seed gives the same summary, byte for byte in ``summary.csv``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f'{out} exists and is not a directory')
    out.mkdir(parents=True, exist_ok=True)

    sim = simulate(seed)
    summary = summarise(sim)
    frame = variant_requests(sim)
    subtitle = (
        f'dosim demo: {OBJECTS} counters per variant, Poisson clients at {RATE_PER_S:g} req/s '
        f'for {DURATION_MS / 1000:g} s (seed {seed})'
    )

    def cdf(ax: Any) -> None:
        for variant, (binding, cls) in VARIANTS.items():
            mine = frame[frame['variant'] == variant]
            plot.latency_cdf(mine, ax=ax, label=f'{variant} ({cls.__name__}, {binding})')

    def breakdown(ax: Any) -> None:
        plot.latency_breakdown(frame, by='variant', ax=ax)

    csv = summary.to_csv(lineterminator='\n').encode()
    _write_atomic(out / 'summary.csv', lambda fh: fh.write(csv))
    _save_figure(out / 'latency_cdf.png', cdf, subtitle)
    _save_figure(out / 'latency_breakdown.png', breakdown, subtitle)
    return summary
