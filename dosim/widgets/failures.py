"""An explorer of failures: pick a fault from :mod:`dosim.faults`, a time, and watch.

The scene: an agent object (an :class:`~dosim.models.AgentLoop` waking every 5 s for a 50 ms
cycle) placed in Washington (IAD, by the hint ``enam``), and a client in London (LHR) that
calls it every second, at 0.75 s past, for some work: the agent reads a counter, asks an
outside API (300 ms) and writes the counter back. So at each whole second a call is in the
middle of its work. One fault strikes at *at_s*; faults that last (spikes, partitions) last
*length_s*.

==========================  ==================================================================
fault                        what to look for
==========================  ==================================================================
``reset``                    a new incarnation (a tick in the lifecycle); the calls in flight
                             fail with a retryable error; storage survives
``datacenter_failure``       IAD fails: the same as a reset, for everything placed there
``deploy``                   new code: a new incarnation; a call already running may finish
                             in 30 s of grace, unless it touches storage (these write: fail)
``write_failure``            the next write batch fails to confirm: the object resets, and
                             the call that wrote it gets an error instead of an answer
``storage_latency_spike``    reads and write confirmations take *extra_ms* longer: the output
                             gate holds every reply that long
``partition``                nothing passes between weur and enam: every call fails, and so
                             does a reply sent into it
``latency_spike``            messages to and from IAD take *extra_ms* longer, both ways
``alarm_failover``           the next alarm set after *at_s* runs *length_s* late (60 s at
                             most)
==========================  ==================================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import dosim

from .. import plot
from ..faults import FAULT_KINDS
from ..models import AgentLoop, LoopSettings
from ..plot_timelines import GRID, OKABE_ITO
from ._controls import Choice, Number
from ._explorer import Explorer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['failure_scenarios']

SECOND = 1_000
RUN_MS = 60 * SECOND
EVERY_MS = 1_000.0
FIRST_CALL_MS = 750.0
API_MS = 300.0
OBJECT_HINT, OBJECT_AT, CLIENT_AT = 'enam', 'IAD', 'LHR'

CONTROLS = (
    Choice('fault', 'fault', 'reset', options=FAULT_KINDS),
    Number('at_s', 'at (s)', 20, low=1, high=55, help='when the fault strikes'),
    Number('length_s', 'lasting (s)', 10, low=1, high=30,
           help='spikes and partitions: how long; alarm_failover: the delay'),
    Number('extra_ms', 'extra latency (ms)', 200, low=10, high=1000, step=10,
           help='spikes: how much slower'),
)


class Worker(AgentLoop):
    """An agent loop that also does work for its clients: ``work()`` reads a counter, calls
    an outside API and writes the counter back."""

    settings = LoopSettings(loop_interval_ms=5_000.0, cycle_cpu_ms=50.0)

    def work(self) -> Generator[Any, Any, int]:
        n = ((yield self.ctx.storage.get('work')) or 0) + 1
        yield dosim.fetch_external(latency_ms=API_MS)
        self.ctx.storage.put('work', n)
        return n


def fault_entry(values: dict[str, Any]) -> dict[str, Any]:
    """The chosen fault as data, in the form ``sim.faults.apply`` and scenario files take."""
    at, end = values['at_s'] * SECOND, (values['at_s'] + values['length_s']) * SECOND
    entries = {
        'reset': {'at_ms': at, 'namespace': 'AGENTS', 'name': 'agent'},
        'datacenter_failure': {'at_ms': at, 'iata': OBJECT_AT},
        'deploy': {'at_ms': at, 'namespace': 'AGENTS'},
        'write_failure': {'at_ms': at, 'count': 1},
        'storage_latency_spike': {'start_ms': at, 'end_ms': end, 'extra_ms': values['extra_ms']},
        'partition': {'start_ms': at, 'end_ms': end, 'a': 'weur', 'b': OBJECT_HINT},
        'latency_spike': {'start_ms': at, 'end_ms': end, 'extra_ms': values['extra_ms'],
                          'place': OBJECT_AT},
        'alarm_failover': {'at_ms': at, 'delay_ms': min(values['length_s'] * SECOND, 60_000)},
    }
    return {'kind': values['fault'], **entries[values['fault']]}


def _simulate(values: dict[str, Any]) -> dosim.Simulation:
    sim = dosim.Simulation(seed=values['seed'])
    agents = sim.namespace('AGENTS', Worker)
    sim.faults.apply([fault_entry(values)])

    def stub() -> Any:   # a fresh stub for every call: a reset breaks the old ones
        return agents.get_by_name('agent', OBJECT_HINT, client_location=CLIENT_AT)

    def call(at: float) -> Generator[Any, Any, None]:
        yield sim.timeout(at)
        with contextlib.suppress(dosim.DurableObjectError):   # recorded in the trace
            yield stub().work()

    def start() -> Generator[Any, Any, None]:
        yield stub().start_loop()

    sim.process(start())
    t = FIRST_CALL_MS
    while t < RUN_MS:
        sim.process(call(t))
        t += EVERY_MS
    sim.run(until=RUN_MS + 5 * SECOND)
    return sim


def _draw(sim: dosim.Simulation, fig: Figure) -> dict[str, Any]:
    fig.subplots_adjust(left=0.13, right=0.83, top=0.95, bottom=0.07, hspace=0.6)
    life, calls, alarms = fig.subplots(3, 1, height_ratios=(1, 2.2, 1.6))
    plot.lifecycle_timeline(sim, ax=life)
    requests = sim.trace.requests
    work = requests[requests['method'] == 'work']
    _draw_calls(calls, work)
    plot.alarm_timeline(sim, ax=alarms, max_labels=5)
    alarms.set_title('Alarm attempts: how late each ran', fontsize=10)
    faults = sim.trace.faults
    for ax in (life, calls, alarms):
        ax.set_xlim(0, (RUN_MS + 5 * SECOND) / SECOND)
        for at in faults['time_ms']:
            ax.axvline(at / SECOND, color=OKABE_ITO['black'], linewidth=1, linestyle='-.')
    ok = work[work['status'] == 'ok']
    first = float(faults['time_ms'].min()) if len(faults) else float('nan')
    late = sim.trace.alarms['fired_ms'] - sim.trace.alarms['scheduled_ms']
    return {
        'fault': ', '.join(f'{k} at {t / SECOND:g} s' for k, t in
                           zip(faults['kind'], faults['time_ms'], strict=True)) or 'none',
        'errors': int((work['status'] == 'error').sum()),
        'incarnations': int(sim.trace.lifecycle['incarnation'].max()),
        'p50_before_ms': round(float(ok.loc[ok['sent_ms'] < first, 'latency_ms'].median()), 1),
        'max_after_ms': round(float(ok.loc[ok['sent_ms'] >= first, 'latency_ms'].max()), 1),
        'max_alarm_late_s': round(float(late.max()) / SECOND, 3),
    }


def _draw_calls(ax: Axes, work: Any) -> None:
    """Each call's latency at the time it was sent; failed calls as crosses on the axis."""
    ok = work[work['status'] == 'ok']
    failed = work[work['status'] == 'error']
    ax.plot(ok['sent_ms'] / SECOND, ok['latency_ms'], linestyle='none', marker='.',
            color=OKABE_ITO['blue'], label=f'answered ({len(ok)})')
    ax.plot(failed['sent_ms'] / SECOND, [0] * len(failed), linestyle='none', marker='X',
            markersize=8, color=OKABE_ITO['vermillion'], label=f'failed ({len(failed)})',
            clip_on=False, zorder=3)
    ax.plot([], [], color=OKABE_ITO['black'], linewidth=1, linestyle='-.', label='fault')
    ax.set_ylim(0, max(float(ok['latency_ms'].max()) if len(ok) else 0.0, 1.0) * 1.15)
    ax.set_ylabel('latency (ms)')
    ax.set_xlabel('time the call was sent (s)')
    ax.set_title(f'Calls from {CLIENT_AT} to the agent in {OBJECT_AT}, every '
                 f'{EVERY_MS / SECOND:g} s', fontsize=10)
    ax.grid(True, color=GRID)
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)


def failure_scenarios(*, seed: int = 0, debounce_s: float = 0.25, **values: Any) -> Explorer:
    """An agent in IAD called from LHR every second, hit by one ``fault`` (a kind of
    :data:`dosim.faults.FAULT_KINDS`) at ``at_s``, lasting ``length_s`` (with ``extra_ms``
    for spikes): its lifecycle (top), every call (middle) and its alarm attempts
    (bottom)."""
    return Explorer(
        'failure_scenarios', CONTROLS, _simulate, _draw, values=values, seed=seed,
        debounce_s=debounce_s, figsize=(10.0, 7.0),
        intro='<b>Failure scenarios.</b> Pick a fault and when it strikes: which calls fail, '
              'does the object lose its memory (a new incarnation), do the alarms run late?',
        labels={'p50_before_ms': 'p50 before (ms)', 'max_after_ms': 'max after (ms)',
                'max_alarm_late_s': 'latest alarm (s)'},
    )
