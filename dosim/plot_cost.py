"""The monthly bill as a picture: dollars per meter, one bar per design.

:func:`monthly_bill` draws what :mod:`dosim.cost` computed -- a frame from
:func:`dosim.cost.price` or :func:`dosim.cost.estimate` -- as one horizontal bar per design,
split into the meters that cost money (requests, duration, storage) and the plan's monthly
minimum, with the total at the end of each bar. Several designs side by side (a mapping of
label to frame) answer the planning question directly: which design is cheaper, and *which
meter* makes the difference.

Money is drawn unrounded; the labels round to cents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .cost import COLUMNS, METERS, PLANS
from .plot_timelines import GRID, OKABE_ITO, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ['BILL_COLOURS', 'monthly_bill']

BILL_COLOURS = {
    'billed_requests': OKABE_ITO['blue'],
    'duration_gb_s': OKABE_ITO['vermillion'],
    'rows_read': OKABE_ITO['sky_blue'],
    'rows_written': OKABE_ITO['bluish_green'],
    'sqlite_stored_gb': OKABE_ITO['yellow'],
    'read_units': OKABE_ITO['sky_blue'],
    'write_units': OKABE_ITO['bluish_green'],
    'delete_requests': OKABE_ITO['reddish_purple'],
    'kv_stored_gb': OKABE_ITO['yellow'],
    'minimum': '0.75',
}
"""The colour of each bill line: the meters of :data:`dosim.cost.METERS`, then the minimum."""


def _bills(bills: Any) -> dict[str, pd.DataFrame]:
    if isinstance(bills, pd.DataFrame):
        bills = {'': bills}
    if not isinstance(bills, Mapping) or not bills:
        raise TypeError('monthly_bill(bills): a frame from dosim.cost.price/estimate, or a '
                        f'non-empty mapping of label to such frames, got {type(bills).__name__}')
    for label, frame in bills.items():
        missing = [c for c in COLUMNS if c not in getattr(frame, 'columns', ())]
        if missing:
            raise ValueError(f'monthly_bill(bills[{label!r}]): not a dosim.cost frame '
                             f'(no column {missing[0]!r})')
    return {str(k): v for k, v in bills.items()}


def monthly_bill(bills: Any, ax: Axes | None = None, plan: str = 'paid') -> Axes:
    """Draw the bill of *plan* for each design: a bar of stacked dollars per meter.

    *bills* is a frame from :func:`dosim.cost.price` / :func:`dosim.cost.estimate`, or a
    mapping ``{label: frame}`` to compare designs (drawn top to bottom in the mapping's
    order). Segments are labelled with their cost where there is room; each bar ends with the
    design's total. Meters that cost nothing in every design are left out of the legend.
    """
    if plan not in PLANS:
        raise ValueError(f'monthly_bill(plan): one of {PLANS}, got {plan!r}')
    frames = _bills(bills)
    lines = [*METERS, 'minimum']
    costs = pd.DataFrame({
        label: f[f['plan'] == plan].groupby('meter')['cost'].sum().reindex(lines, fill_value=0.0)
        for label, f in frames.items()
    }).T
    if ax is None:
        ax = new_axes(size=(9.0, 1.4 + 0.6 * len(costs)))[0]
    y = np.arange(len(costs))[::-1].astype(float)
    left = np.zeros(len(costs))
    total = costs.sum(axis=1).to_numpy()
    for line in lines:
        dollars = costs[line].to_numpy(dtype=float)
        if not dollars.any():
            continue
        ax.barh(y, dollars, left=left, height=0.6, color=BILL_COLOURS[line], gid=line,
                label=line, edgecolor='white', linewidth=0.8)
        for yi, lo, d in zip(y, left, dollars, strict=True):
            if d >= 0.08 * total.max():
                ax.text(lo + d / 2, yi, f'${d:,.2f}', ha='center', va='center', fontsize=8)
        left += dollars
    for yi, t in zip(y, total, strict=True):
        ax.text(t, yi, f'  ${t:,.2f}', ha='left', va='center', fontsize=9, fontweight='bold')
    ax.set_yticks(y, list(costs.index))
    ax.set_xlim(0, max(total.max(), 1e-9) * 1.2)
    ax.set_xlabel('US dollars per month')
    ax.set_title(f'Monthly bill ({plan} plan) by meter')
    ax.grid(True, axis='x', color=GRID)
    ax.set_axisbelow(True)
    if ax.get_legend_handles_labels()[0]:     # nothing to list when every line is $0
        ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False,
                  title='meter', title_fontsize=8)
    return ax
