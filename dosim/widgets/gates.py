"""An explorer of the input gate: when do concurrent requests lose updates?

A counter reads ``n``, waits, and writes ``n + 1``. An object runs one event at a time, but
"one at a time" only holds while the input gate is closed:

* awaiting *storage* or doing CPU work (``dosim.compute``) keeps the gate closed: no other
  request starts, so the read and the write are one step;
* a timer (``dosim.sleep``) or an outbound fetch (``dosim.fetch_external``) *opens* it: the
  next request starts and reads the same ``n``. Each request then writes the same ``n + 1``,
  and all but one of their increments are lost -- without any error.

The explorer warms the counter up with one request (so that the first call's worldwide
uniqueness check does not delay one request of the burst), then sends *concurrency*
requests at once. With a wait that opens the gate, all of them read before any writes:
*concurrency* − 1 updates are lost. A wait of 0 ms means no wait at all.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import dosim

from ..plot_timelines import GRID, OKABE_ITO, step_counts
from ._controls import Choice, Number
from ._explorer import Explorer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['RacyCounter', 'gates']

BURST_AT_MS = 1_000.0
AWAIT_KINDS = ('sleep', 'fetch_external', 'compute')

CONTROLS = (
    Number('sleep_ms', 'wait between read and write (ms)', 10, low=0, high=50),
    Choice('await_kind', 'the wait is', 'sleep', options=AWAIT_KINDS,
           help='sleep and fetch_external open the input gate; compute keeps it closed'),
    Number('concurrency', 'requests at once', 5, low=1, high=20),
)


class RacyCounter(dosim.DurableObject):
    """Reads ``n``, waits ``wait_ms`` (by ``await_kind``), writes ``n + 1``."""

    wait_ms = 10.0
    await_kind = 'sleep'

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        n = (yield self.ctx.storage.get('n')) or 0
        if self.wait_ms:
            yield _wait(self.await_kind, self.wait_ms)
        self.ctx.storage.put('n', n + 1)
        return dosim.Response(str(n + 1))


def _wait(kind: str, ms: float) -> Any:
    if kind == 'sleep':
        return dosim.sleep(ms)
    if kind == 'fetch_external':
        return dosim.fetch_external(latency_ms=ms)
    return dosim.compute(ms)


def _simulate(values: dict[str, Any]) -> dosim.Simulation:
    sim = dosim.Simulation(seed=values['seed'])
    cls = type('RacyCounter', (RacyCounter,), {'wait_ms': float(values['sleep_ms']),
                                               'await_kind': values['await_kind']})
    counters = sim.namespace('COUNTERS', cls)

    def one(at: float) -> Generator[Any, Any, None]:
        yield sim.timeout(at)
        yield counters.get_by_name('counter').fetch('https://do/inc')

    sim.process(one(0.0))   # the warm-up
    for _ in range(values['concurrency']):
        sim.process(one(BURST_AT_MS))
    sim.run()
    return sim


def _draw(sim: dosim.Simulation, fig: Figure) -> dict[str, Any]:
    fig.subplots_adjust(left=0.09, right=0.8, top=0.93, bottom=0.1, hspace=0.5)
    top, bottom = fig.subplots(2, 1)
    requests = sim.trace.requests
    burst = requests[requests['sent_ms'] >= BURST_AT_MS]
    lost_in_burst = _draw_windows(top, sim, burst)
    most = _draw_inside(bottom, burst)
    bottom.set_xlim(top.get_xlim())
    answered = int((requests['status'] == 'ok').sum())
    stored = int(sim.storage_of('COUNTERS', 'counter').get('n', 0))
    return {
        'answered': answered,
        'stored_n': stored,
        'lost_updates': answered - stored,
        'lost_in_burst': lost_in_burst,
        'most_in_progress': most,
        'burst_p50_ms': round(float(burst['latency_ms'].median()), 2),
    }


def _draw_windows(ax: Axes, sim: dosim.Simulation, burst: Any) -> int:
    """One lane per request of the burst: a dot where it read ``n``, a bar to where it wrote
    ``n + 1``. Requests that read the same ``n`` collide: all but one of them are lost."""
    events = sim.trace.events
    reads = events[events['kind'] == 'storage_get'].groupby('request_id')['time_ms'].first()
    writes = sim.trace.writes.groupby('request_id')['value'].first()
    rows = burst.sort_values('started_ms')
    seen: set[int] = set()
    lost = 0
    for lane, (rid, done) in enumerate(zip(rows['request_id'], rows['handler_done_ms'],
                                           strict=True)):
        read_at, wrote = float(reads[rid]) - BURST_AT_MS, int(writes[rid])
        kept = wrote not in seen
        seen.add(wrote)
        lost += not kept
        colour = OKABE_ITO['bluish_green'] if kept else OKABE_ITO['vermillion']
        end = float(done) - BURST_AT_MS
        ax.plot([read_at, end], [lane, lane], color=colour, linewidth=5, solid_capstyle='butt',
                label='kept' if kept else 'lost')
        ax.plot([read_at], [lane], marker='o', color=OKABE_ITO['black'], markersize=4)
        ax.annotate(f'read {wrote - 1} → wrote {wrote}', (end, lane), xytext=(4, 0),
                    textcoords='offset points', va='center', fontsize=8)
    ax.set_yticks(range(len(rows)), [f'#{rid}' for rid in rows['request_id']])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f'ms after the burst was sent (at {BURST_AT_MS / 1000:g} s)')
    ax.set_ylabel('request')
    ax.set_title(f'From read to write: {lost} of {len(rows)} increments lost')
    ax.grid(True, axis='x', color=GRID)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc='upper left', bbox_to_anchor=(1.01, 1),
              fontsize=8, frameon=False)
    ax.margins(x=0.25)
    return lost


def _draw_inside(ax: Axes, burst: Any) -> int:
    """How many requests of the burst are in progress inside the object (handler started,
    not finished) and how many wait at its gate, over time. Returns the most in progress."""
    start = burst['started_ms'].to_numpy(float) - BURST_AT_MS
    done = burst['handler_done_ms'].to_numpy(float) - BURST_AT_MS
    arrived = burst['arrived_ms'].to_numpy(float) - BURST_AT_MS
    most = 0
    for (begins, ends), label, colour in (((arrived, start), 'waiting at the gate',
                                           OKABE_ITO['orange']),
                                          ((start, done), 'in progress', OKABE_ITO['blue'])):
        t, n = step_counts(begins, ends)
        ax.step(t, n, where='post', color=colour, linewidth=1.6, label=label)
        if label == 'in progress':   # a handler that takes 0 ms was still one at a time
            most = max(int(n.max()), int(len(start) > 0))
    ax.set_xlabel(f'ms after the burst was sent (at {BURST_AT_MS / 1000:g} s)')
    ax.set_ylabel('requests')
    ax.set_ylim(bottom=0, top=len(burst) + 0.5)
    ax.set_title(f'Inside the object: at most {most} in progress at once')
    ax.grid(True, color=GRID)
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return most


def gates(*, seed: int = 0, debounce_s: float = 0.25, **values: Any) -> Explorer:
    """A counter that reads, waits ``sleep_ms`` (``await_kind``: ``'sleep'``,
    ``'fetch_external'`` or ``'compute'``) and writes, hit by ``concurrency`` requests at
    once: each request from read to write (top), and how many are inside the object at once
    (bottom)."""
    return Explorer(
        'gates', CONTROLS, _simulate, _draw, values=values, seed=seed, debounce_s=debounce_s,
        figsize=(10.0, 6.0),
        intro='<b>Input gate.</b> A sleep or an outbound fetch between the read and the write '
              'lets the next request in; CPU work does not. How many updates are lost?',
        labels={'stored_n': 'stored n', 'burst_p50_ms': 'burst p50 (ms)'},
    )
