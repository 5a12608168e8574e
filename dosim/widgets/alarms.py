"""Two explorers of alarms: an agent loop, and the retry backoff after failures.

:func:`alarm_loop` runs one :class:`~dosim.models.AgentLoop` -- an object that wakes itself
with its alarm, runs a cycle, and sets the next alarm *interval* seconds after the cycle
ends. Its period is therefore the interval *plus* the cycle's CPU time. When a cycle fails,
the policy decides: ``'swallow'`` catches the error and keeps the beat; ``'rethrow'`` lets
the alarm fail, and the runtime retries it 2 s later (then 4 s, 8 s ...), which shifts every
later cycle.

:func:`retry_backoff` isolates the runtime's side: an alarm whose first *failures* attempts
fail. Each failed attempt is retried after 2, 4, 8, 16, 32, 64 s plus a random 0-25 %; the
7th failure in a row abandons the alarm (6 retries). A failure of the *infrastructure* -- here
the attempt's write batch failing to confirm, which resets the object -- is retried with the
same backoff but is not counted: that alarm is never abandoned, and its gaps keep doubling
(up to 1,024 s).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import dosim

from .. import plot
from ..alarms import retry_gap_ms
from ..models import AgentLoop
from ..plot_timelines import GRID, OKABE_ITO
from ._controls import Choice, Number
from ._explorer import Explorer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['alarm_loop', 'retry_backoff']

MINUTE = 60_000

# -- the agent loop ----------------------------------------------------------------------------
LOOP_CONTROLS = (
    Number('interval_s', 'interval (s)', 10, help='from the end of one cycle to the next alarm',
           low=1, high=120),
    Number('cycle_cpu_ms', 'cycle CPU (ms)', 500, help='CPU time each cycle uses',
           low=0, high=5000, step=100),
    Number('failure_rate', 'failure rate', 0.1, help='chance that a cycle fails',
           low=0.0, high=1.0, step=0.05, integer=False),
    Choice('policy', 'on failure', 'swallow', options=('swallow', 'rethrow'),
           help='swallow: catch and keep the beat; rethrow: let the runtime retry'),
    Number('minutes', 'simulated minutes', 10, low=1, high=60),
)


def _simulate_loop(values: dict[str, Any]) -> dosim.Simulation:
    sim = dosim.Simulation(seed=values['seed'])
    agents = sim.namespace('AGENTS', AgentLoop.configure(
        loop_interval_ms=values['interval_s'] * 1000.0, cycle_cpu_ms=values['cycle_cpu_ms'],
        failure_rate=values['failure_rate'], policy=values['policy']))

    def start() -> Generator[Any, Any, None]:
        yield agents.get_by_name('agent').start_loop()

    sim.process(start())
    sim.run(until=values['minutes'] * MINUTE)
    return sim


def _draw_loop(sim: dosim.Simulation, fig: Figure) -> dict[str, Any]:
    settings = sim.namespaces['AGENTS'].cls.settings
    grid = fig.add_gridspec(2, 2, left=0.07, right=0.86, top=0.95, bottom=0.08, hspace=0.45,
                            wspace=0.25)
    plot.alarm_timeline(sim, ax=fig.add_subplot(grid[0, :]), max_labels=8)
    hist_ax, time_ax = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    try:
        plot.loop_timing(sim, axes=(hist_ax, time_ax), interval_ms=settings.loop_interval_ms)
    except ValueError:
        for ax in (hist_ax, time_ax):
            _note(ax, 'fewer than two successful cycles:\nno period to draw')
    alarms = sim.trace.alarms
    stored = sim.storage_of('AGENTS', 'agent')
    periods = plot.loop_periods(alarms)['period_ms']
    return {
        'cycles': int(stored.get('cycles', 0)),
        'failed_cycles': int(stored.get('failures', 0)),
        'attempts': len(alarms),
        'retries': int(alarms['is_retry'].sum()),
        'abandoned': int((alarms['outcome'] == 'abandoned').sum()),
        'mean_period_s': round(float(periods.mean()) / 1000, 3) if len(periods) else None,
        'duration_gb_s': round(float(sim.meters['duration_gb_s'].sum()), 4),
    }


def alarm_loop(*, seed: int = 0, debounce_s: float = 0.25, **values: Any) -> Explorer:
    """An :class:`~dosim.models.AgentLoop` on its alarm: the attempts (top), the period
    histogram and the period over time (bottom). Controls: ``interval_s``,
    ``cycle_cpu_ms``, ``failure_rate``, ``policy`` (``'swallow'``/``'rethrow'``),
    ``minutes`` (simulated). The period is the interval plus the cycle; with
    ``'rethrow'`` each failure adds a retry gap of 2 s or more."""
    return Explorer(
        'alarm_loop', LOOP_CONTROLS, _simulate_loop, _draw_loop, values=values, seed=seed,
        debounce_s=debounce_s, figsize=(10.0, 6.5),
        intro='<b>Agent loop.</b> The period is <i>interval + cycle</i>. Try a failure rate '
              'of 0.3 with each policy: which one keeps the beat, which one retries?',
        labels={'mean_period_s': 'mean period (s)', 'duration_gb_s': 'billed GB-s'},
    )


# -- the retry backoff -------------------------------------------------------------------------
FAILURE_KINDS = ('exception', 'write failure')

BACKOFF_CONTROLS = (
    Number('failures', 'failures in a row', 3, low=0, high=9,
           help='the first attempts that fail; the next one succeeds'),
    Choice('kind', 'failure', 'exception', options=FAILURE_KINDS,
           help='exception: alarm() raises (counted); write failure: its writes fail to '
                'confirm and the object resets (not counted)'),
)


class FlakyAlarm(dosim.DurableObject):
    """An alarm whose first ``failures`` attempts fail: by raising (``kind`` 'exception'),
    or by writing (every attempt writes; the faults make the writes fail)."""

    failures = 3
    kind = 'exception'

    def arm(self) -> Generator[Any, Any, str]:
        yield self.ctx.storage.set_alarm(dosim.now() + 1000)
        return 'armed'

    def alarm(self, alarm_info: Any) -> None:
        if self.kind == 'exception' and alarm_info.retry_count < self.failures:
            raise RuntimeError(f'attempt {alarm_info.retry_count + 1} failed')
        self.ctx.storage.put('last_attempt', alarm_info.retry_count)


def _simulate_backoff(values: dict[str, Any]) -> dosim.Simulation:
    sim = dosim.Simulation(seed=values['seed'])
    cls = type('FlakyAlarm', (FlakyAlarm,), {'failures': values['failures'],
                                             'kind': values['kind']})
    flaky = sim.namespace('FLAKY', cls)

    def arm() -> Generator[Any, Any, None]:
        yield flaky.get_by_name('flaky').arm()   # its write is confirmed: then break writes
        if values['kind'] == 'write failure' and values['failures']:
            sim.faults.fail_next_writes(values['failures'])

    sim.process(arm())
    sim.run(until=30 * MINUTE)
    return sim


def _draw_backoff(sim: dosim.Simulation, fig: Figure) -> dict[str, Any]:
    alarms = sim.trace.alarms
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 2), gridspec_kw={'hspace': 0.4})
    fig.subplots_adjust(left=0.07, right=0.86, top=0.95, bottom=0.08)
    plot.alarm_timeline(sim, ax=top)
    gaps = _draw_gaps(bottom, alarms)
    last = alarms.iloc[-1]
    return {
        'attempts': len(alarms),
        'retries': int(alarms['is_retry'].sum()),
        'outcome': str(last['outcome']),
        'gaps_s': [round(g / 1000, 3) for g in gaps],
        'first_to_last_s': round(float(last['done_ms'] - alarms['scheduled_ms'].iloc[0]) / 1000,
                                 3),
    }


def _draw_gaps(ax: Axes, alarms: Any) -> list[float]:
    """Each retry's gap (bar) against its base, 2 s x 2^(k-1), and the jitter range above it
    (base .. base x 1.25, shaded). Returns the gaps in ms."""
    from matplotlib.ticker import FuncFormatter

    due = alarms[alarms['next_attempt_ms'].notna()]
    gaps = (due['next_attempt_ms'] - due['done_ms']).tolist()
    if not gaps:
        _note(ax, 'no failure: no retry, no gap')
        return []
    k = list(range(1, len(gaps) + 1))
    base = [min(retry_gap_ms(i), 1_024_000) / 1000 for i in k]
    ax.bar(k, [b * 0.25 for b in base], bottom=base, width=0.8, color=OKABE_ITO['sky_blue'],
           alpha=0.35, label='base + 0-25 % jitter')
    bars = ax.bar(k, [g / 1000 for g in gaps], width=0.5, color=OKABE_ITO['blue'],
                  label='gap before the retry')
    ax.bar_label(bars, labels=[f'{g / 1000:.1f} s' for g in gaps], fontsize=8, padding=2)
    ax.scatter(k, base, marker='_', s=300, color=OKABE_ITO['vermillion'], zorder=3,
               label='base: 2 s x 2^(k-1)')
    ax.set_xticks(k)
    ax.set_xlabel('retry number k')
    ax.set_ylabel('gap (s)')
    ax.set_yscale('log', base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f'{v:g}'))
    ax.set_ylim(1, max(max(gaps) / 1000, base[-1] * 1.25) * 2.5)
    ax.set_title('Backoff: each gap doubles')
    ax.grid(True, axis='y', color=GRID)
    ax.set_axisbelow(True)
    ax.legend(loc='upper left', fontsize=8, frameon=False)
    return gaps


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha='center', va='center', color='0.4')
    ax.set_xticks([])
    ax.set_yticks([])


def retry_backoff(*, seed: int = 0, debounce_s: float = 0.25, **values: Any) -> Explorer:
    """An alarm whose first ``failures`` attempts fail (``kind``: ``'exception'``, counted,
    abandoned after 7 failures; or ``'write failure'``, a reset, not counted): the attempts
    (top) and each retry's gap against the 2, 4, 8 ... s base and its jitter (bottom)."""
    return Explorer(
        'retry_backoff', BACKOFF_CONTROLS, _simulate_backoff, _draw_backoff, values=values,
        seed=seed, debounce_s=debounce_s, figsize=(10.0, 6.5),
        intro='<b>Retry backoff.</b> Each failed attempt is retried after 2, 4, 8 … s plus '
              'up to 25 %. How many failures in a row until the alarm is abandoned?',
        labels={'gaps_s': 'gaps (s)', 'first_to_last_s': 'first to last (s)'},
    )
