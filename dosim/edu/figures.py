"""The pictures a check draws to show the moment something broke.

Each function returns a bare :class:`matplotlib.figure.Figure` (pyplot is never touched); the
check's report embeds it. Colours are the kit's colour-blind-safe palette: vermillion marks
what went wrong, bluish green what went right, sky blue the waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..plot_timelines import OKABE_ITO, lifecycle_timeline, new_axes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..simulation import Simulation

__all__ = ['deliveries', 'lifecycle_before_after', 'requests_lanes', 'timer_lanes']

BAD = OKABE_ITO['vermillion']
GOOD = OKABE_ITO['bluish_green']
WAIT = OKABE_ITO['sky_blue']


def requests_lanes(sim: Simulation, rows: pd.DataFrame, pair: tuple[int, int],
                   title: str) -> Figure:
    """Exercise 1: one lane per request around the collision -- its handler (grey), its waits
    (sky blue), its read (o) and its write (square, with the value); the two requests whose
    writes collided are labelled in vermillion."""
    lo, hi = (rows.set_index('request_id').loc[list(pair), c] for c in ('started_ms', 'wrote_ms'))
    shown = rows[(rows['started_ms'] <= hi.max()) & (rows['handler_done_ms'] >= lo.min())]
    shown = shown.sort_values('request_id').head(10)
    ax = new_axes(size=(9.0, 1.0 + 0.4 * len(shown)))[0]
    ev = sim.trace.events
    for y, row in enumerate(shown.itertuples()):
        ax.plot([row.started_ms, row.handler_done_ms], [y, y], color='0.75', linewidth=6,
                solid_capstyle='butt', zorder=1)
        waits = ev[(ev['request_id'] == row.request_id)
                   & ev['kind'].isin(['fetch_external', 'sleep'])]
        for t, detail in zip(waits['time_ms'], waits['detail'], strict=True):
            ax.plot([t, t + float(detail.split()[0])], [y, y], color=WAIT, linewidth=6,
                    solid_capstyle='butt', zorder=2)
        ax.scatter([row.read_ms], [y], marker='o', color='black', zorder=3, s=25)
        colour = BAD if row.request_id in pair else 'black'
        ax.scatter([row.wrote_ms], [y], marker='s', color=colour, zorder=3, s=30)
        ax.annotate(f'likes={row.wrote}', (row.wrote_ms, y), xytext=(4, 4), fontsize=8,
                    textcoords='offset points', color=colour)
    labels = [f'#{r}' for r in shown['request_id']]
    ax.set_yticks(range(len(shown)), labels)
    for tick, rid in zip(ax.get_yticklabels(), shown['request_id'], strict=True):
        if rid in pair:
            tick.set_color(BAD)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.margins(x=0.08)
    ax.set_xlabel('time (ms)')
    ax.plot([], [], color='0.75', linewidth=6, label='handler running')
    ax.plot([], [], color=WAIT, linewidth=6, label='waiting: input gate open')
    ax.scatter([], [], marker='o', color='black', label='read likes')
    ax.scatter([], [], marker='s', color='black', label='write likes')
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.set_title(title)
    return ax.figure


def deliveries(sim: Simulation, log: pd.DataFrame, missing: list[int], title: str) -> Figure:
    """Exercise 2: the agent's alarm attempts (top) over the mail provider's log (bottom):
    each send at its digest number -- a repeat delivery in vermillion, a repeat the provider
    recognised by its key as a grey cross, a refusal as a black triangle; digests in
    *missing* are labelled."""
    from ..plot_timelines import alarm_timeline

    top, bottom = _stacked(9.0, 6.0)
    alarm_timeline(sim, ax=top, object='agent')
    top.set_xlabel('')
    again = log['result'].eq('delivered') & log.duplicated(['digest', 'result'])
    kinds = (('delivered', log['result'].eq('delivered') & ~again, 'o', GOOD),
             ('delivered again', again, 'o', BAD),
             ('repeat recognised by key', log['result'].eq('deduplicated'), 'x', '0.4'),
             ('refused (503)', log['result'].eq('refused'), 'v', 'black'))
    for label, mask, marker, colour in kinds:
        if mask.any():
            bottom.scatter(log.loc[mask, 'time_ms'] / 1000, log.loc[mask, 'digest'],
                           marker=marker, color=colour, label=label, zorder=3)
    for n in missing:
        tried = log[log['digest'] == n]
        x = tried['time_ms'].iloc[0] / 1000 if len(tried) else 0.0
        bottom.annotate(f'#{n} never delivered', (x, n), xytext=(8, -4), color=BAD,
                        textcoords='offset points', fontsize=8)
    bottom.set_xlabel('time (s)')
    bottom.set_ylabel('digest #')
    bottom.set_xlim(top.get_xlim())
    bottom.grid(True, color='0.92')
    if len(log):
        bottom.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
                      title='at the provider', title_fontsize=8)
    top.figure.suptitle(title)
    return top.figure


def timer_lanes(table: pd.DataFrame, alarms: pd.DataFrame, title: str, end_s: float,
                late_limit_ms: float | None = None) -> Figure:
    """Exercise 3: one lane per timer -- when it was due (hollow) and when it fired (filled;
    vermillion if wrong, joined to its due time if late) -- over the object's ``get_alarm()``
    against the earliest due time; or, given *late_limit_ms*, over how late each firing came
    (for a timer that drifts). Time runs from 0 to *end_s*."""
    top, bottom = _stacked(9.0, 5.5)
    timers = list(dict.fromkeys(table['timer']))
    lane = {t: i for i, t in enumerate(timers)}
    y = table['timer'].map(lane).to_numpy(dtype=float)
    due = table['due_s'].to_numpy(dtype=float)
    fired = table['fired_s'].to_numpy(dtype=float)
    ok = (table['verdict'] == 'on time').to_numpy()
    top.scatter(due, y, facecolors='none', edgecolors='0.3', s=40, label='due', zorder=2)
    top.scatter(fired[ok], y[ok], color=GOOD, s=18, label='fired on time', zorder=3)
    top.scatter(fired[~ok], y[~ok], color=BAD, s=22, marker='D', label='fired wrongly',
                zorder=3)
    late = (table['verdict'] == 'late').to_numpy()
    for d, f, yi in zip(due[late], fired[late], y[late], strict=True):
        top.plot([d, f], [yi, yi], color=BAD, linestyle=':', linewidth=1, zorder=1)
    top.set_yticks(range(len(timers)), timers)
    top.set_ylim(len(timers) - 0.5, -0.5)
    top.grid(True, axis='x', color='0.92')
    top.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    if late_limit_ms is None:
        _alarm_probes(bottom, alarms)
    else:
        _lateness(bottom, table, late_limit_ms)
    bottom.set_xlabel('time (s)')
    for ax in (top, bottom):
        ax.set_xlim(-0.02 * end_s, 1.02 * end_s)
        ax.grid(True, color='0.92')
    bottom.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    top.figure.suptitle(title)
    return top.figure


def _alarm_probes(ax: Any, alarms: pd.DataFrame) -> None:
    ax.step(alarms['time_s'], alarms['expected_s'], where='post', color='0.4',
            label='earliest due timer')
    wrong = alarms[~alarms['ok']]
    ax.scatter(alarms['time_s'], alarms['get_alarm_s'], s=14, color=GOOD, label='get_alarm()',
               zorder=3)
    ax.scatter(wrong['time_s'], wrong['get_alarm_s'].fillna(0.0), s=30, color=BAD, marker='D',
               label='get_alarm() wrong (None at 0)', zorder=4)
    ax.set_ylabel('alarm at (s)')


def _lateness(ax: Any, table: pd.DataFrame, limit_ms: float) -> None:
    fired = table[table['late_ms'].notna()]
    colour = [GOOD if v == 'on time' else BAD for v in fired['verdict']]
    ax.scatter(fired['due_s'], fired['late_ms'], s=12, c=colour, zorder=3,
               label='firing: ms after its due time')
    ax.axhline(limit_ms, color=BAD, linestyle='--', linewidth=1, label=f'{limit_ms:g} ms limit')
    ax.set_ylabel('late by (ms)')


def lifecycle_before_after(before: pd.DataFrame, after: pd.DataFrame,
                           bills: tuple[float, float]) -> Figure:
    """Exercise 4: the room's lifecycle with the standard sockets it started with (top lane)
    and with the student's code (bottom lane), billed GB-s in the lane names."""
    labels = {'before': f'before (standard sockets)\n{bills[0]:,.4g} GB-s',
              'yours': f'yours\n{bills[1]:,.4g} GB-s'}
    frame = pd.concat([before.assign(namespace='before'), after.assign(namespace='yours')],
                      ignore_index=True)
    ax = lifecycle_timeline(frame)
    lanes = list(dict.fromkeys(frame['namespace']))
    ax.set_yticks(range(len(lanes)), [labels[lane] for lane in lanes])
    ax.set_title('The chat room: in memory and billed (warm colours) or hibernated (blue)')
    ax.figure.set_size_inches(9.0, 2.4)
    return ax.figure


def _stacked(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout='constrained')
    top, bottom = fig.subplots(2, 1, sharex=False, height_ratios=[1, 1])
    return top, bottom
