"""Pictures of a simulation: matplotlib plots drawn from ``sim.trace`` frames.

Every function here takes a frame (usually ``sim.trace.requests``, or a slice of it) and an
optional matplotlib ``Axes`` to draw into, and returns the ``Axes`` it drew on. Without an
``ax`` it makes a new figure with pyplot, which is what you want in a notebook; pass an ``ax``
to put several plots in one figure, or to draw on a ``matplotlib.figure.Figure`` that you save
yourself (this is how ``dosim demo`` writes PNGs without touching pyplot's global state).

Colours come from the Okabe-Ito palette (:data:`OKABE_ITO`), chosen so that the common forms
of colour blindness still tell every pair apart, and that survives greyscale printing better
than matplotlib's default cycle. Latencies are in milliseconds, like every time in dosim.

The latency plots draw only requests that were answered (``status == 'ok'``): a failed
request has no complete latency, and mixing it in would hide the failure inside a fast-looking
number. Count errors separately (``(frame['status'] == 'error').sum()``).

The other plots are defined in :mod:`dosim.plot_timelines`, :mod:`dosim.plot_messages` and
:mod:`dosim.plot_cost` and re-exported here. They take a ``Simulation`` or the frame they
read, and without an ``ax`` draw on a new pyplot figure too:

* :func:`lifecycle_timeline` -- each object's states over time, incarnations ticked;
* :func:`alarm_timeline` -- every alarm attempt, how late it ran, the retry backoff gaps;
* :func:`loop_timing` -- the period of a repeating alarm loop, as a histogram and over time;
* :func:`queue_depth` -- one object's waiting and running requests, and its throughput;
* :func:`space_time` -- a Lamport space-time diagram of requests and replies;
* :func:`cost_breakdown` -- the billing meters, per namespace;
* :func:`monthly_bill` -- the monthly bill in dollars by meter, one bar per design.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .plot_cost import monthly_bill
from .plot_messages import COST_METERS, cost_breakdown, messages, space_time
from .plot_timelines import (
    ALARM_OUTCOMES,
    LIFECYCLE_STATES,
    OKABE_ITO,
    alarm_timeline,
    lifecycle_timeline,
    loop_periods,
    loop_timing,
    queue_depth,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    'ALARM_OUTCOMES', 'COST_METERS', 'LATENCY_PARTS', 'LIFECYCLE_STATES', 'OKABE_ITO',
    'alarm_timeline', 'cost_breakdown', 'latency_breakdown', 'latency_cdf', 'lifecycle_timeline',
    'loop_periods', 'loop_timing', 'messages', 'monthly_bill', 'queue_depth', 'space_time',
]

# The order successive CDF curves take their colours in: strong, well-separated hues first.
_LINE_COLOURS = (
    OKABE_ITO['blue'], OKABE_ITO['vermillion'], OKABE_ITO['bluish_green'],
    OKABE_ITO['orange'], OKABE_ITO['reddish_purple'], OKABE_ITO['sky_blue'], OKABE_ITO['black'],
)

LATENCY_PARTS = {
    'network_ms': ('network', OKABE_ITO['sky_blue']),
    'queue_ms': ('queue', OKABE_ITO['orange']),
    'handler_ms': ('handler', OKABE_ITO['bluish_green']),
    'gate_ms': ('output gate', OKABE_ITO['reddish_purple']),
}
"""The columns that add up to ``latency_ms``, with the label and colour each is drawn in:

* ``network_ms`` -- both trips between caller and object;
* ``queue_ms`` -- waiting at the object for the input gate (another event was running);
* ``handler_ms`` -- the handler running, including every ``yield`` inside it;
* ``gate_ms`` -- the finished reply held by the output gate until the writes before it were
  confirmed.
"""

_CDF_GID = 'dosim-latency-cdf'
_GUIDE_GID = 'dosim-quantile-guide'


def _new_axes() -> Axes:
    import matplotlib.pyplot as plt  # only now: importing dosim must not pick a backend

    _fig, ax = plt.subplots(figsize=(7, 4), layout='constrained')
    return ax


def _answered(frame: pd.DataFrame, func: str, columns: Sequence[str]) -> pd.DataFrame:
    """The rows of *frame* that were answered (``status == 'ok'``; every row of a frame of
    your own without a ``status`` column), after checking the columns *func* needs."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f'{func}: the frame has no column {", ".join(map(repr, missing))}; '
            f'pass sim.trace.requests or a slice of it'
        )
    ok = frame[frame['status'] == 'ok'] if 'status' in frame.columns else frame
    if ok.empty:
        raise ValueError(f'{func}: the frame has no answered requests (status == "ok") to draw')
    return ok


def latency_cdf(
    requests_frame: pd.DataFrame,
    ax: Axes | None = None,
    label: str | None = None,
    *,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99),
) -> Axes:
    """Draw the cumulative distribution (CDF) of ``latency_ms`` and mark its quantiles.

    Read a point (x, y) on the curve as "a share y of the requests were answered within x ms".
    The curve climbs steeply where most requests land; a long flat stretch before it reaches 1
    is the *tail*, the slow requests that averages hide. The horizontal guides at 0.5, 0.95
    and 0.99 cross the curve at the median (p50) and at the p95 and p99 latencies, which are
    marked with dots and written into the legend.

    Call it once per group on the same ``ax`` to compare groups; each new curve takes the next
    colour::

        ax = dosim.plot.latency_cdf(frame[frame.namespace == 'A'], label='A')
        dosim.plot.latency_cdf(frame[frame.namespace == 'B'], ax=ax, label='B')

    *label* names the curve in the legend (default: the namespaces in the frame);
    *quantiles* are the shares to mark (default p50, p95, p99).
    """
    ok = _answered(requests_frame, 'latency_cdf', ['latency_ms'])
    latency = np.sort(ok['latency_ms'].dropna().to_numpy(dtype=float))
    if latency.size == 0:
        raise ValueError('latency_cdf: no answered request has a latency_ms')
    if ax is None:
        ax = _new_axes()
    qs = [float(q) for q in quantiles]
    for q in qs:
        if not 0 < q < 1:
            raise ValueError(f'latency_cdf: quantiles must lie strictly between 0 and 1, got {q}')

    drawn = sum(1 for line in ax.get_lines() if line.get_gid() == _CDF_GID)
    colour = _LINE_COLOURS[drawn % len(_LINE_COLOURS)]
    if label is None:
        names = ok['namespace'].unique() if 'namespace' in ok.columns else []
        label = ', '.join(map(str, names)) or 'requests'
    values = np.quantile(latency, qs)  # linear interpolation, as pandas' Series.quantile
    marks = ', '.join(f'p{_percent(q)} {v:.3g}' for q, v in zip(qs, values, strict=True))
    # The curve rises from 0 at the fastest latency; x = 0 stays in view, without a margin
    # below it, so curves drawn later on the same axes are compared from a common origin.
    x = np.concatenate((latency[:1], latency))
    share = np.arange(latency.size + 1) / latency.size
    (line,) = ax.step(x, share, where='post', color=colour, linewidth=1.8, gid=_CDF_GID,
                      label=f'{label}: {marks} ms')
    line.sticky_edges.x.append(0.0)
    ax.update_datalim([(0.0, 0.0)])
    ax.autoscale_view()
    ax.plot(values, qs, linestyle='none', marker='o', markersize=6, color=colour,
            markeredgecolor='white', zorder=3)

    have_guides = {t.get_text() for t in ax.texts if t.get_gid() == _GUIDE_GID}
    for q in qs:
        name = f'p{_percent(q)}'
        if name in have_guides:
            continue
        ax.axhline(q, color='0.75', linewidth=0.8, linestyle=':', zorder=0)
        ax.text(1.01, q, name, transform=ax.get_yaxis_transform(), va='center', ha='left',
                fontsize=8, color='0.35', gid=_GUIDE_GID)

    ax.set_ylim(0, 1.02)
    ax.set_xlabel('latency (ms)')
    ax.set_ylabel('share of requests answered within')
    ax.set_title('Latency CDF')
    ax.grid(True, axis='x', color='0.92')
    dots = ', '.join(f'p{_percent(q)}' for q in qs)
    ax.legend(loc='lower right', fontsize=8, title=f'dots: {dots}', title_fontsize=8)
    return ax


def _percent(q: float) -> str:
    """0.5 -> '50', 0.999 -> '99.9'."""
    return f'{q * 100:g}'


def latency_breakdown(
    requests_frame: pd.DataFrame, by: str = 'namespace', ax: Axes | None = None
) -> Axes:
    """Draw where the time goes: one stacked bar per group, split into the mean
    network, queue, handler and output-gate milliseconds (see :data:`LATENCY_PARTS`).

    For every request ``latency_ms = network_ms + queue_ms + handler_ms + gate_ms``, so the
    means add up too, and each bar is as tall as the group's mean latency (written on top).
    The split tells you what to change: a tall *network* part wants the object nearer its
    callers; *queue* means one object is too busy (split it into more objects); *handler* is
    your code and what it awaits; *output gate* is the wait for writes to be confirmed before
    a reply may leave.

    *by* names the column to group by: ``'namespace'`` (the default), ``'object'``,
    ``'method'`` or any column you add. Groups are drawn in sorted order; make the column a
    pandas ``Categorical`` to choose the order yourself.
    """
    parts = list(LATENCY_PARTS)
    ok = _answered(requests_frame, 'latency_breakdown', [by, *parts])
    means = ok.groupby(by, sort=True, observed=True)[parts].mean().fillna(0.0)
    if ax is None:
        ax = _new_axes()

    x = np.arange(len(means))
    bottom = np.zeros(len(means))
    totals = means.sum(axis=1).to_numpy()
    top = float(totals.max()) if totals.size else 0.0
    for column, (name, colour) in LATENCY_PARTS.items():
        heights = means[column].to_numpy()
        ax.bar(x, heights, bottom=bottom, width=0.6, color=colour, edgecolor='white',
               linewidth=0.8, label=name)
        for xi, b, h in zip(x, bottom, heights, strict=True):
            if top > 0 and h >= 0.07 * top:  # label only segments tall enough to hold it
                ax.text(xi, b + h / 2, f'{h:.3g}', ha='center', va='center', fontsize=8)
        bottom += heights
    for xi, total in zip(x, totals, strict=True):
        ax.text(xi, total, f'{total:.3g} ms', ha='center', va='bottom', fontsize=9,
                fontweight='bold')

    ax.set_xticks(x, [str(g) for g in means.index])
    ax.set_xlim(-0.75, len(means) - 0.25)  # room around the bars, even when there is one
    ax.set_xlabel(by)
    ax.set_ylabel('mean latency per request (ms)')
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.set_title('Where the time goes')
    ax.grid(True, axis='y', color='0.92')
    ax.set_axisbelow(True)
    handles, labels = ax.get_legend_handles_labels()
    # Reversed, so the legend lists the parts top to bottom as they are stacked.
    ax.legend(handles[::-1], labels[::-1], loc='upper left', bbox_to_anchor=(1.01, 1),
              fontsize=8, frameon=False)
    return ax
