"""Who talked to whom, and what it cost: a space-time diagram and the billing meters.

Both functions take a :class:`~dosim.Simulation` or the frame they read (``sim.trace.requests``
or ``sim.meters``) and return the matplotlib ``Axes`` they drew on, on a new bare
``matplotlib.figure.Figure`` if no ``ax`` is given (no pyplot, no backend switch). Import them
from :mod:`dosim.plot`, which re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .plot_timelines import GRID, OKABE_ITO, frame_of, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ['COST_METERS', 'cost_breakdown', 'messages', 'space_time']

MESSAGE_COLOURS = {'request': OKABE_ITO['blue'], 'reply': OKABE_ITO['vermillion']}
MESSAGE_GID = 'dosim-message'
SAMPLE_SEED = 0

COST_METERS = {
    'billed_requests': 'requests',
    'duration_gb_s': 'GB-s',
    'rows_read': 'rows',
    'rows_written': 'rows',
    'read_units': '4 KB units',
    'write_units': '4 KB units',
}
"""The meters :func:`cost_breakdown` draws, with their units (KV storage bills units of
``Config.billing_unit_bytes``; SQLite storage bills rows)."""

_METER_COLOURS = (
    OKABE_ITO['blue'], OKABE_ITO['orange'], OKABE_ITO['bluish_green'],
    OKABE_ITO['vermillion'], OKABE_ITO['sky_blue'], OKABE_ITO['reddish_purple'],
)


# -- space-time diagram -----------------------------------------------------------------------
def messages(requests: pd.DataFrame) -> pd.DataFrame:
    """Every message the requests frame implies, one row each, in order of sending:
    ``kind`` (``request`` or ``reply``), ``request_id``, ``src`` and ``dst`` (``'client'`` or
    an object's name), ``sent_ms`` and ``received_ms``.

    A request goes from its caller at ``sent_ms`` to the object at ``arrived_ms``; its reply
    from the object when the output gate released it (``released_ms``, else
    ``handler_done_ms``) to the caller at ``received_ms``. A message whose two ends are not
    both known (a request refused before it arrived, say) is left out."""
    req = pd.DataFrame({
        'kind': 'request', 'request_id': requests['request_id'], 'src': requests['caller'],
        'dst': requests['object'], 'sent_ms': requests['sent_ms'],
        'received_ms': requests['arrived_ms'],
    })
    rep = pd.DataFrame({
        'kind': 'reply', 'request_id': requests['request_id'], 'src': requests['object'],
        'dst': requests['caller'],
        'sent_ms': requests['released_ms'].fillna(requests['handler_done_ms']),
        'received_ms': requests['received_ms'],
    })
    both = pd.concat([req, rep], ignore_index=True).dropna(subset=['sent_ms', 'received_ms'])
    return both.sort_values(['sent_ms', 'request_id'], kind='stable').reset_index(drop=True)


def _in_window(
    msgs: pd.DataFrame, start_ms: float | None, end_ms: float | None,
    objects: Sequence[str] | None,
) -> pd.DataFrame:
    """The messages sent within [start_ms, end_ms] to or from one of *objects*."""
    keep = np.ones(len(msgs), dtype=bool)
    if start_ms is not None:
        keep &= (msgs['sent_ms'] >= start_ms).to_numpy()
    if end_ms is not None:
        keep &= (msgs['sent_ms'] <= end_ms).to_numpy()
    if objects is not None:
        wanted = list(objects)
        keep &= (msgs['src'].isin(wanted) | msgs['dst'].isin(wanted)).to_numpy()
    return msgs[keep]


def _sample(msgs: pd.DataFrame, max_messages: int) -> pd.DataFrame:
    """At most *max_messages* of *msgs*: a uniform sample drawn with a fixed seed, in order."""
    if len(msgs) <= max_messages:
        return msgs
    rng = np.random.default_rng(SAMPLE_SEED)
    return msgs.iloc[np.sort(rng.choice(len(msgs), size=max_messages, replace=False))]


def space_time(
    sim_or_frame: Any,
    ax: Axes | None = None,
    start_ms: float | None = None,
    end_ms: float | None = None,
    objects: Sequence[str] | None = None,
    max_messages: int = 2000,
) -> Axes:
    """Draw a Lamport space-time diagram of the requests and their replies.

    Each participant has a vertical lane -- every client together as ``client``, then each
    object by name -- and time runs down the page. Every message is a line from its sender's
    lane at the time it left to its receiver's lane at the time it arrived (a dot marks the
    arrival): blue for requests, vermillion for replies. The steeper a line, the longer it
    was in flight; a request whose reply leaves much lower down waited in the queue, ran a
    long handler or was held by the output gate. Lines that cross between object lanes are
    calls from one object to another.

    *start_ms*/*end_ms* keep the messages sent in that window, *objects* those to or from
    these objects (by name). Above *max_messages* a uniform random sample of that many is
    drawn (seed 0, so the same frame gives the same picture) and the title says so.
    """
    frame = frame_of(sim_or_frame, 'requests', 'space_time',
                     ['request_id', 'caller', 'object', 'sent_ms', 'arrived_ms',
                      'handler_done_ms', 'released_ms', 'received_ms'])
    if max_messages < 1:
        raise ValueError(f'space_time: max_messages must be >= 1, got {max_messages!r}')
    window = _in_window(messages(frame), start_ms, end_ms, objects)
    if window.empty:
        raise ValueError('space_time: no message was sent in the window to or from the objects')
    drawn = _sample(window, max_messages)
    lanes = _lanes(window)
    if ax is None:
        ax = new_axes(size=(max(5.0, 1.6 * len(lanes) + 2), 6.0))[0]
    scale, unit = (1000.0, 's') if _span(window) > 10_000 else (1.0, 'ms')
    _draw_lanes(ax, lanes, window, scale)
    _draw_messages(ax, drawn, lanes, scale)
    ax.set_xticks(range(len(lanes)), list(lanes))
    ax.set_xlim(-0.5, len(lanes) - 0.5)
    ax.invert_yaxis()  # time runs down the page
    ax.set_ylabel(f'time ({unit})')
    ax.set_title(f'Space-time diagram: {_count_text(len(drawn), len(window))}')
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return ax


def _count_text(drawn: int, total: int) -> str:
    if drawn < total:
        return f'sampled {drawn:,} of {total:,} messages'
    return f'{total:,} messages'


def _span(msgs: pd.DataFrame) -> float:
    return float(msgs['received_ms'].max() - msgs['sent_ms'].min())


def _lanes(msgs: pd.DataFrame) -> dict[str, int]:
    """Lane number of each participant: 'client' first, then objects as they appear."""
    names = list(dict.fromkeys(np.ravel(msgs[['src', 'dst']].to_numpy()).tolist()))
    ordered = (['client'] if 'client' in names else []) + [n for n in names if n != 'client']
    return {name: i for i, name in enumerate(ordered)}


def _draw_lanes(ax: Axes, lanes: dict[str, int], msgs: pd.DataFrame, scale: float) -> None:
    top, bottom = msgs['sent_ms'].min() / scale, msgs['received_ms'].max() / scale
    ax.vlines(list(lanes.values()), top, bottom, colors='0.7', linewidth=1.5, zorder=1)
    ax.grid(True, axis='y', color=GRID)
    ax.set_axisbelow(True)


def _draw_messages(ax: Axes, msgs: pd.DataFrame, lanes: dict[str, int], scale: float) -> None:
    """One LineCollection per kind of message (fast with thousands), and arrival dots."""
    from matplotlib.collections import LineCollection

    for kind, colour in MESSAGE_COLOURS.items():
        part = msgs[msgs['kind'] == kind]
        if part.empty:
            continue
        x0 = part['src'].map(lanes).to_numpy(dtype=float)
        x1 = part['dst'].map(lanes).to_numpy(dtype=float)
        y0 = part['sent_ms'].to_numpy(dtype=float) / scale
        y1 = part['received_ms'].to_numpy(dtype=float) / scale
        segments = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
        width = 1.0 if len(msgs) <= 200 else 0.5
        lines = LineCollection(segments, colors=colour, linewidths=width, alpha=0.8,
                               gid=MESSAGE_GID, label=f'{kind} ({len(part):,})', zorder=2)
        ax.add_collection(lines)
        ax.scatter(x1, y1, s=8 if len(msgs) <= 200 else 2, color=colour, zorder=3)
    ax.autoscale_view()


# -- cost -------------------------------------------------------------------------------------
def cost_breakdown(sim_or_meters: Any, ax: Axes | None = None) -> Axes:
    """Draw the billing meters, summed per namespace: one group of bars per namespace, one
    bar per meter (:data:`COST_METERS`), with its value written on top.

    The meters are what Cloudflare bills: *billed_requests* (requests, plus incoming
    WebSocket messages at 20:1), *duration_gb_s* (the time objects spent in memory, at 128 MB),
    and the storage meters: *rows_read*/*rows_written* for SQLite-backed objects,
    *read_units*/*write_units* (4 KB each) for KV-backed ones. Their units differ, so compare
    a meter across namespaces rather than meters with each other; when the values span more
    than three decades the y axis is logarithmic, so small meters stay visible.

    *sim_or_meters* is a Simulation or its ``sim.meters`` frame.
    """
    meters = frame_of(sim_or_meters, 'meters', 'cost_breakdown', ['namespace', *COST_METERS])
    if meters.empty:
        raise ValueError('cost_breakdown: the meters frame has no rows to draw')
    sums = meters.groupby('namespace', sort=True)[list(COST_METERS)].sum()
    if ax is None:
        ax = new_axes(size=(max(6.0, 2.4 * len(sums) + 3), 4.5))[0]
    x = np.arange(len(sums))
    _meter_bars(ax, sums, x)
    _scale_for(ax, sums.to_numpy(dtype=float))
    ax.set_xticks(x, [str(ns) for ns in sums.index])
    ax.set_xlabel('namespace')
    ax.set_ylabel('amount (unit of each meter: see legend)')
    ax.set_title('Billing meters by namespace')
    ax.grid(True, axis='y', color=GRID)
    ax.set_axisbelow(True)
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
              title='meter (unit)', title_fontsize=8)
    return ax


def _meter_bars(ax: Axes, sums: pd.DataFrame, x: np.ndarray) -> None:
    """Per meter, one bar at each namespace's group position, labelled with its value."""
    width = 0.8 / len(COST_METERS)
    for i, (meter, unit) in enumerate(COST_METERS.items()):
        heights = sums[meter].to_numpy(dtype=float)
        at = x + (i - (len(COST_METERS) - 1) / 2) * width
        bars = ax.bar(at, heights, width=width, color=_METER_COLOURS[i],
                      label=f'{meter} ({unit})', gid=meter)
        ax.bar_label(bars, labels=[f'{h:.3g}' if h else '' for h in heights], fontsize=7,
                     padding=1)
        for xi in at[heights == 0]:  # a zero has no bar to show it: write it at the base
            ax.text(xi, 0.01, '0', transform=ax.get_xaxis_transform(), ha='center',
                    va='bottom', fontsize=7, color='0.4')


def _scale_for(ax: Axes, values: np.ndarray) -> None:
    """A log y axis if the positive values span more than three decades, else linear."""
    positive = values[values > 0]
    if positive.size and positive.max() / positive.min() > 1e3:
        ax.set_yscale('log')
        ax.set_ylim(bottom=positive.min() / 3, top=positive.max() * 5)
    else:
        ax.set_ylim(bottom=0, top=(positive.max() * 1.15) if positive.size else 1)
