"""Timelines of one simulation: object lifecycles, alarm attempts, loop periods, queues.

Every function takes a :class:`~dosim.Simulation` or the frame it reads (``sim.trace.lifecycle``,
``sim.trace.alarms`` or ``sim.trace.requests``, or a slice of one) and returns the matplotlib
``Axes`` it drew on. Without an ``ax`` it draws on a new ``matplotlib.figure.Figure`` (no
pyplot, no backend switch); in a notebook, end the cell with ``ax.figure`` to show it. Times
on these axes are in seconds, as a reader thinks of timelines; the frames keep milliseconds.

Import these from :mod:`dosim.plot`, which re-exports them. This module also holds the
colour palette the plot modules share (:data:`OKABE_ITO`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    'ALARM_OUTCOMES', 'LIFECYCLE_STATES', 'OKABE_ITO', 'alarm_timeline', 'lifecycle_timeline',
    'loop_timing', 'queue_depth',
]

OKABE_ITO = {
    'black': '#000000',
    'orange': '#E69F00',
    'sky_blue': '#56B4E9',
    'bluish_green': '#009E73',
    'yellow': '#F0E442',
    'blue': '#0072B2',
    'vermillion': '#D55E00',
    'reddish_purple': '#CC79A7',
}
"""Okabe & Ito's eight colours, safe for colour-blind readers (Okabe & Ito 2008)."""

LIFECYCLE_STATES = {
    'active': OKABE_ITO['vermillion'],
    'idle': OKABE_ITO['orange'],
    'idle_hibernatable': OKABE_ITO['bluish_green'],
    'hibernated': OKABE_ITO['sky_blue'],
    'evicted': OKABE_ITO['blue'],
}
"""The colour of each lifecycle state: warm while in memory, blue once out of it."""

ALARM_OUTCOMES = {
    'ok': ('o', OKABE_ITO['bluish_green']),
    'error': ('v', OKABE_ITO['vermillion']),
    'abandoned': ('X', OKABE_ITO['black']),
    'superseded': ('s', OKABE_ITO['reddish_purple']),
    'reset': ('D', OKABE_ITO['orange']),
}
"""The marker and colour of each alarm attempt's ``outcome``."""

GRID = '0.92'
GAP_GID = 'dosim-alarm-gap'
ATTEMPT_GID = 'dosim-alarm-attempt'
TICK_GID = 'dosim-incarnation'


# -- shared helpers -------------------------------------------------------------------------
def new_axes(ncols: int = 1, size: tuple[float, float] = (8.0, 4.0)) -> list[Axes]:
    """*ncols* Axes side by side on a new pyplot figure, which a notebook shows at the end of
    the cell. Code that saves figures itself, or draws many (``dosim demo``, the widgets),
    passes its own Axes from a bare ``matplotlib.figure.Figure`` instead, and pyplot keeps
    nothing open."""
    import matplotlib.pyplot as plt  # only now: importing dosim must not pick a backend

    _fig, axes = plt.subplots(1, ncols, figsize=size, layout='constrained')
    return list(np.atleast_1d(axes))


def frame_of(source: Any, name: str, func: str, columns: Sequence[str]) -> pd.DataFrame:
    """The frame *name* of a Simulation (``sim.trace.<name>``, or ``sim.meters``), or
    *source* itself if it is a frame, after checking it has *columns*."""
    if isinstance(source, pd.DataFrame):
        frame = source
    elif name == 'meters' and hasattr(source, 'meters'):
        frame = source.meters
    elif hasattr(source, 'trace'):
        frame = getattr(source.trace, name)
    else:
        raise TypeError(f'{func}: pass a dosim.Simulation or its {name} frame, '
                        f'got {type(source).__name__}')
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        where = 'sim.meters' if name == 'meters' else f'sim.trace.{name}'
        raise ValueError(f'{func}: the frame has no column {", ".join(map(repr, missing))}; '
                         f'pass {where} or a slice of it')
    return frame


def only_object(frame: pd.DataFrame, obj: str | None, func: str) -> pd.DataFrame:
    """The rows of *obj* (all rows if None); a clear error if there are none."""
    rows = frame if obj is None else frame[frame['object'] == obj]
    if rows.empty:
        what = 'rows' if obj is None else f'rows for object {obj!r}'
        raise ValueError(f'{func}: the frame has no {what} to draw')
    return rows


def seconds_label(ms: float) -> str:
    """A duration in ms written in seconds, as the gap labels show it: 2345.6 -> '2.3 s'."""
    return f'{ms / 1000:.1f} s'


def _lane_label(ns: str, obj: str) -> str:
    return f'{ns}/{obj}'


# -- lifecycle --------------------------------------------------------------------------------
def lifecycle_timeline(
    sim_or_frame: Any, ax: Axes | None = None, objects: Sequence[str] | None = None
) -> Axes:
    """Draw each object's life as a lane of coloured bars, one bar per lifecycle interval.

    Read a lane left to right: *active* (an event running) bars should be thin slivers;
    between them an object waits *idle* (in memory, billed) or *idle_hibernatable* (in memory,
    ready to hibernate); after 10 s of the latter it is *hibernated*, and an idle object that
    cannot hibernate is eventually *evicted*. A thin black tick (labelled ``#n`` when there
    are few) marks where incarnation *n* begins: the constructor ran again, so everything in
    memory was rebuilt -- after hibernation, eviction or a reset.

    *sim_or_frame* is a Simulation or ``sim.trace.lifecycle``; *objects* keeps only the
    objects with these names (the frame's ``object`` column). Time is in seconds.
    """
    frame = frame_of(sim_or_frame, 'lifecycle', 'lifecycle_timeline',
                     ['namespace', 'object', 'incarnation', 'state', 'start_ms', 'end_ms'])
    if objects is not None:
        frame = frame[frame['object'].isin(list(objects))]
    frame = only_object(frame, None, 'lifecycle_timeline')
    if ax is None:
        ax = new_axes(size=(9.0, 1.2 + 0.45 * frame[['namespace', 'object']].drop_duplicates()
                            .shape[0]))[0]
    labels = [_lane_label(n, o) for n, o in zip(frame['namespace'], frame['object'], strict=True)]
    lanes = list(dict.fromkeys(labels))
    lane_of = {label: i for i, label in enumerate(lanes)}
    y = np.array([lane_of[label] for label in labels], dtype=float)
    _draw_state_bars(ax, frame, y)
    _draw_incarnation_ticks(ax, frame, y)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5)  # the first object on top
    ax.set_xlabel('time (s)')
    ax.set_title('Object lifecycles: state over time')
    ax.grid(True, axis='x', color=GRID)
    ax.set_axisbelow(True)
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
              title='state', title_fontsize=8)
    return ax


def _draw_state_bars(ax: Axes, frame: pd.DataFrame, y: np.ndarray) -> None:
    """One collection of rectangles per state (gid ``state:<name>``), so each state is one
    legend entry and one colour, and a long run with thousands of intervals draws quickly."""
    from matplotlib.collections import PolyCollection

    states = list(LIFECYCLE_STATES) + sorted(set(frame['state']) - set(LIFECYCLE_STATES))
    start = frame['start_ms'].to_numpy(dtype=float) / 1000
    end = frame['end_ms'].to_numpy(dtype=float) / 1000
    for state in states:
        mask = (frame['state'] == state).to_numpy()
        if not mask.any():
            continue
        x0, x1, lane = start[mask], end[mask], y[mask]
        boxes = np.stack([np.column_stack([x0, lane - 0.3]), np.column_stack([x1, lane - 0.3]),
                          np.column_stack([x1, lane + 0.3]), np.column_stack([x0, lane + 0.3])],
                         axis=1)
        colour = LIFECYCLE_STATES.get(state, '0.6')
        # Active intervals are often ms long on an axis of minutes: an edge of their own
        # colour keeps each one visible as a thin sliver, however short.
        edge = 0.8 if state == 'active' else 0.0
        ax.add_collection(PolyCollection(list(boxes), facecolors=colour, edgecolors=colour,
                                         linewidths=edge, label=state, gid=f'state:{state}'))
    ax.update_datalim(np.column_stack([np.r_[start, end], np.r_[y - 0.3, y + 0.3]]))
    ax.autoscale_view()


def _draw_incarnation_ticks(ax: Axes, frame: pd.DataFrame, y: np.ndarray) -> None:
    """A black tick where each incarnation (1, 2, ...) of an object begins."""
    keyed = frame.assign(_y=y)
    keyed = keyed[keyed['incarnation'] > 0]
    firsts = keyed.sort_values('start_ms', kind='stable').drop_duplicates(
        ['namespace', 'object', 'incarnation'])
    if firsts.empty:
        return
    x = firsts['start_ms'].to_numpy(dtype=float) / 1000
    lane = firsts['_y'].to_numpy()
    ax.vlines(x, lane - 0.4, lane + 0.4, colors=OKABE_ITO['black'], linewidth=1.2,
              gid=TICK_GID, label='new incarnation')
    if len(firsts) <= 30:
        for xi, yi, inc in zip(x, lane, firsts['incarnation'], strict=True):
            ax.text(xi, yi - 0.42, f'#{inc}', fontsize=7, ha='left', va='bottom', color='0.2')


# -- alarms -----------------------------------------------------------------------------------
def alarm_timeline(
    sim_or_frame: Any, ax: Axes | None = None, object: str | None = None, *,
    max_labels: int = 30,
) -> Axes:
    """Draw every alarm attempt at the time it ran, raised by how late it ran.

    The x axis is when an attempt's handler started (s); the y axis how far behind the time
    the alarm was set for (``fired_ms - scheduled_ms``, s). A healthy alarm sits on the dotted
    *on schedule* line, a few ms late. A failed attempt (marker by ``outcome``: see
    :data:`ALARM_OUTCOMES`) is retried after the runtime's backoff -- 2 s, 4 s, ... 64 s plus
    jitter -- so a run of failures climbs a staircase: each dashed step is one backoff gap,
    labelled with its length, from the end of the failed attempt to the retry's due time.
    After the 7th failure the alarm is *abandoned* (a black cross, labelled): nothing fires
    again until the code sets a new alarm.

    *sim_or_frame* is a Simulation or ``sim.trace.alarms``; *object* keeps one object's
    attempts (by name; default: every object's). With more than *max_labels* gaps only the
    longest *max_labels* are labelled (the title says so), so the labels stay legible.
    """
    frame = frame_of(sim_or_frame, 'alarms', 'alarm_timeline',
                     ['object', 'scheduled_ms', 'fired_ms', 'done_ms', 'outcome',
                      'next_attempt_ms'])
    frame = only_object(frame, object, 'alarm_timeline')
    if ax is None:
        ax = new_axes(size=(9.0, 4.0))[0]
    ran = frame['fired_ms'].fillna(frame['done_ms']).to_numpy(dtype=float)
    late = (ran - frame['scheduled_ms'].to_numpy(dtype=float)) / 1000
    _draw_attempts(ax, frame, ran / 1000, late)
    labelled = _draw_gaps(ax, frame, max_labels)
    ax.axhline(0, color='0.6', linestyle=':', linewidth=1, label='on schedule')
    ax.set_xlabel('time the attempt ran (s)')
    ax.set_ylabel('behind schedule (s)')
    names = frame['object'].unique()
    who = f'object {names[0]!r}' if len(names) == 1 else f'{len(names)} objects'
    gaps = int(frame['next_attempt_ms'].notna().sum())
    note = f' (longest {labelled} labelled)' if labelled < gaps else ''
    ax.set_title(f'Alarm attempts of {who}: {len(frame)} attempts, {gaps} retries{note}')
    ax.grid(True, color=GRID)
    ax.set_axisbelow(True)
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
              title='outcome', title_fontsize=8)
    return ax


def _draw_attempts(ax: Axes, frame: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> None:
    """One marker per attempt: one scatter per outcome; 'abandoned' crosses are labelled."""
    outcomes = list(ALARM_OUTCOMES) + sorted(set(frame['outcome']) - set(ALARM_OUTCOMES))
    for outcome in outcomes:
        mask = (frame['outcome'] == outcome).to_numpy()
        if not mask.any():
            continue
        marker, colour = ALARM_OUTCOMES.get(outcome, ('P', '0.5'))
        ax.scatter(x[mask], y[mask], marker=marker, color=colour, s=42, zorder=3,
                   edgecolors='white', linewidths=0.5, label=outcome, gid=ATTEMPT_GID)
        if outcome == 'abandoned':
            ax.margins(y=0.12)  # headroom for the label above the cross
            for xi, yi in zip(x[mask], y[mask], strict=True):
                ax.annotate('abandoned', (xi, yi), xytext=(0, 7), textcoords='offset points',
                            ha='center', fontsize=8, fontweight='bold')


def _draw_gaps(ax: Axes, frame: pd.DataFrame, max_labels: int) -> int:
    """A dashed step from each failed attempt's end to its retry's due time; the longest
    *max_labels* steps are labelled with their length. Returns how many were labelled."""
    due = frame[frame['next_attempt_ms'].notna()]
    gap = (due['next_attempt_ms'] - due['done_ms']).to_numpy(dtype=float)
    labelled = set(np.argsort(-gap, kind='stable')[:max(0, max_labels)].tolist())
    for i, (done, nxt, sched) in enumerate(zip(due['done_ms'], due['next_attempt_ms'],
                                               due['scheduled_ms'], strict=True)):
        x0, x1 = done / 1000, nxt / 1000
        y0, y1 = (done - sched) / 1000, (nxt - sched) / 1000
        ax.plot([x0, x1], [y0, y1], color='0.45', linestyle='--', linewidth=0.9, zorder=2)
        if i in labelled:
            ax.annotate(seconds_label(nxt - done), ((x0 + x1) / 2, (y0 + y1) / 2),
                        xytext=(5, -2), textcoords='offset points', fontsize=8, color='0.25',
                        ha='left', va='center', gid=GAP_GID)
    if not due.empty:
        ax.plot([], [], color='0.45', linestyle='--', linewidth=0.9, label='backoff gap')
    return len(labelled)


# -- loop timing ------------------------------------------------------------------------------
def loop_periods(alarms: pd.DataFrame) -> pd.DataFrame:
    """The periods of repeating alarm loops: for each object, the time from the start of one
    successful attempt (``outcome == 'ok'``) to the start of the next. Columns ``object``,
    ``time_ms`` (the later start) and ``period_ms``; failed attempts and their retries fall
    inside a period and lengthen it, as they delay the loop."""
    ok = alarms[alarms['outcome'] == 'ok'].sort_values(['object', 'fired_ms'], kind='stable')
    period = ok.groupby('object', sort=False)['fired_ms'].diff()
    out = pd.DataFrame({'object': ok['object'], 'time_ms': ok['fired_ms'], 'period_ms': period})
    return out.dropna(subset=['period_ms']).reset_index(drop=True)


def loop_timing(
    sim_or_frame: Any,
    ax: Axes | None = None,
    object: str | None = None,
    *,
    axes: tuple[Axes, Axes] | None = None,
    interval_ms: float | None = None,
) -> Axes | tuple[Axes, Axes]:
    """Draw the period of a repeating alarm loop (see :func:`loop_periods`), in seconds.

    Left, a histogram of the periods: a loop that keeps time is one narrow spike just right of
    its nominal interval (the dashed line, if *interval_ms* is given), because each period
    also holds the cycle's own run time and a few ms of delivery. Right, each period against
    the time it ended: outliers there are failed cycles (their retry backoff lengthens the
    period) or an object that was reset or overloaded.

    Without *ax* or *axes*, a new figure with both panels; ``axes=(ax1, ax2)`` draws both
    into yours; either way the pair is returned. ``ax=`` alone draws only the right panel
    (period over time) and returns that Axes. *object* keeps one object (by name).
    """
    frame = frame_of(sim_or_frame, 'alarms', 'loop_timing', ['object', 'fired_ms', 'outcome'])
    periods = loop_periods(only_object(frame, object, 'loop_timing'))
    if periods.empty:
        raise ValueError('loop_timing: fewer than two successful attempts: no period to draw')
    seconds = periods['period_ms'].to_numpy(dtype=float) / 1000
    nominal = None if interval_ms is None else interval_ms / 1000
    if ax is not None and axes is None:
        _period_over_time(ax, periods['time_ms'].to_numpy(dtype=float) / 1000, seconds, nominal)
        return ax
    hist_ax, time_ax = axes if axes is not None else new_axes(2, size=(11.0, 4.0))
    _period_histogram(hist_ax, seconds, nominal)
    _period_over_time(time_ax, periods['time_ms'].to_numpy(dtype=float) / 1000, seconds,
                      nominal)
    return hist_ax, time_ax


def _nominal_label(nominal: float) -> str:
    return f'nominal interval {nominal:g} s'


def _period_histogram(ax: Axes, seconds: np.ndarray, nominal: float | None) -> None:
    if seconds.max() - seconds.min() < 1.0:
        # A loop that keeps time: periods within ms of each other. 'auto' bins would be
        # hair-thin and vanish under their edges; 0.1 s bins, with half a second either
        # side, stay visible.
        lo = np.floor(seconds.min() * 10) / 10 - 0.5
        hi = np.ceil(seconds.max() * 10) / 10 + 0.5
        bins: Any = np.linspace(lo, hi, round((hi - lo) * 10) + 1)
    else:
        edges = np.histogram_bin_edges(seconds, bins='auto')
        bins = edges if len(edges) <= 51 else 50
    ax.hist(seconds, bins=bins, color=OKABE_ITO['blue'], edgecolor='white', linewidth=0.5,
            label=f'{len(seconds)} periods')
    if nominal is not None:
        ax.axvline(nominal, color=OKABE_ITO['vermillion'], linestyle='--', linewidth=1.2,
                   label=_nominal_label(nominal))
    ax.set_xlabel('period (s)')
    ax.set_ylabel('number of periods')
    ax.set_title('Loop period: distribution')
    ax.grid(True, axis='y', color=GRID)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8)


def _period_over_time(
    ax: Axes, time_s: np.ndarray, seconds: np.ndarray, nominal: float | None
) -> None:
    ax.plot(time_s, seconds, color=OKABE_ITO['blue'], marker='.', markersize=5, linewidth=0.8,
            label='period ending here')
    if nominal is not None:
        ax.axhline(nominal, color=OKABE_ITO['vermillion'], linestyle='--', linewidth=1.2,
                   label=_nominal_label(nominal))
    ax.set_xlabel('time (s)')
    ax.set_ylabel('period (s)')
    ax.set_title('Loop period over time')
    ax.grid(True, color=GRID)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8)


# -- queue depth ------------------------------------------------------------------------------
def step_counts(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many [start, end) intervals are open, as a step function: (times, counts), each
    count holding from its time until the next. An interval with a NaN end never closes."""
    starts = starts[~np.isnan(starts)]
    ends = ends[~np.isnan(ends)]
    times = np.concatenate([starts, ends])
    if times.size == 0:
        return np.zeros(1), np.zeros(1)
    deltas = np.concatenate([np.ones(starts.size), -np.ones(ends.size)])
    uniq, where = np.unique(times, return_inverse=True)
    counts = np.cumsum(np.bincount(where, weights=deltas))
    return np.concatenate([uniq[:1], uniq]), np.concatenate([[0.0], counts])


def _first_of(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Per row, the first of *columns* that is not NaN."""
    out = frame[columns[0]].astype(float)
    for column in columns[1:]:
        out = out.fillna(frame[column].astype(float))
    return out.to_numpy(dtype=float)


def queue_depth(
    sim_or_frame: Any, object: str, ax: Axes | None = None,
    threshold: float | None = None,
) -> Axes:
    """Draw one object's queue over time: requests *waiting* (arrived, handler not started)
    and *in progress* (handler started, not finished), as stepped lines; on a twin right axis
    the *throughput*, requests whose handler finished in each whole second.

    Waiting that climbs while throughput stays flat is an object at its limit: it serves one
    event at a time, so more demand only lengthens the queue (and ``queue_ms``). Past the
    overload threshold (a dashed line, if *threshold* is given: compare
    ``Config.overload_max_queued``) new requests are refused. A request that never started
    leaves the queue when it was answered. Time is in seconds.

    *sim_or_frame* is a Simulation or ``sim.trace.requests``; *object* is the object's name.
    """
    frame = frame_of(sim_or_frame, 'requests', 'queue_depth',
                     ['object', 'arrived_ms', 'started_ms', 'handler_done_ms', 'released_ms',
                      'received_ms'])
    rows = only_object(frame[frame['arrived_ms'].notna()], object, 'queue_depth')
    if ax is None:
        ax = new_axes(size=(9.0, 4.0))[0]
    arrived = rows['arrived_ms'].to_numpy(dtype=float)
    left_queue = _first_of(rows, ['started_ms', 'released_ms', 'received_ms'])
    started = rows['started_ms'].to_numpy(dtype=float)
    finished = _first_of(rows, ['handler_done_ms', 'released_ms', 'received_ms'])
    for (starts, ends), label, colour in (
        ((arrived, left_queue), 'waiting', OKABE_ITO['vermillion']),
        ((started, np.where(np.isnan(started), np.nan, finished)), 'in progress',
         OKABE_ITO['blue']),
    ):
        t, n = step_counts(starts, ends)
        ax.step(t / 1000, n, where='post', color=colour, linewidth=1.4, label=label)
    if threshold is not None:
        ax.axhline(threshold, color=OKABE_ITO['black'], linestyle='--', linewidth=1,
                   label=f'overload threshold ({threshold:g})')
    twin = _throughput(ax, rows['handler_done_ms'].dropna().to_numpy(dtype=float))
    ax.set_xlabel('time (s)')
    ax.set_ylabel('requests')
    ax.set_ylim(bottom=0)
    ax.set_title(f'Queue at object {object!r}: {len(rows)} requests')
    ax.grid(True, color=GRID)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc='upper center', bbox_to_anchor=(0.5, -0.14), ncol=4,
              fontsize=8, frameon=False)  # below the plot: nothing to hide there
    return ax


def _throughput(ax: Axes, done_ms: np.ndarray) -> Axes:
    """Completed requests per whole second, as stairs on a twin y axis; returns the twin."""
    twin = ax.twinx()
    if done_ms.size:
        first, last = np.floor(done_ms.min() / 1000), np.floor(done_ms.max() / 1000) + 1
        edges = np.arange(first, last + 1)
        counts, _ = np.histogram(done_ms / 1000, bins=edges)
        twin.stairs(counts, edges, color=OKABE_ITO['bluish_green'], linewidth=1.1,
                    alpha=0.9, label='completed per second (right)')
    twin.set_ylabel('completed per second (1/s)', color=OKABE_ITO['bluish_green'])
    twin.set_ylim(bottom=0)
    return twin
