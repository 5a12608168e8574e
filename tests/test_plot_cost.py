"""``dosim.plot.monthly_bill``: the bill of Cloudflare's worked example drawn as dollars.

100 objects with 100 hibernatable sockets each, one message per client per minute, 10 ms per
message, a 30-day month: $3.09 of requests + $1.91 of duration + the $5 minimum = $10.00.
The same 100 objects kept awake all month by a standard socket each: $409.72 of duration.
"""

from __future__ import annotations

import pandas as pd
import pytest

from dosim import cost, plot

HIBERNATING = cost.price({'billed_requests': 21_610_000, 'duration_gb_s': 552_960})
AWAKE = cost.price({'billed_requests': 21_610_000, 'duration_gb_s': 33_177_600})


def segments(ax, line):
    return [p.get_width() for p in ax.patches if p.get_gid() == line]


def test_each_segment_is_the_dollars_of_its_meter():
    ax = plot.monthly_bill(HIBERNATING)
    assert segments(ax, 'billed_requests') == [pytest.approx(3.0915)]
    assert segments(ax, 'duration_gb_s') == [pytest.approx(1.912)]
    assert segments(ax, 'minimum') == [pytest.approx(5.0)]
    assert segments(ax, 'rows_read') == []                     # costs nothing: not drawn
    texts = [t.get_text() for t in ax.texts]
    assert '  $10.00' in texts                                 # the total ends the bar
    assert {'$3.09', '$1.91', '$5.00'} <= set(texts)


def test_designs_are_compared_bar_by_bar_in_the_order_given():
    ax = plot.monthly_bill({'hibernatable sockets': HIBERNATING, 'standard sockets': AWAKE})
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        'hibernatable sockets', 'standard sockets']
    assert sorted(segments(ax, 'duration_gb_s')) == [pytest.approx(1.912),
                                                     pytest.approx(409.72)]
    totals = sorted(t.get_text() for t in ax.texts if t.get_text().startswith('  $'))
    assert totals == ['  $10.00', '  $417.81']                 # 3.0915 + 409.72 + 5


def test_the_free_plan_costs_nothing_but_is_drawn():
    ax = plot.monthly_bill(HIBERNATING, plan='free')
    assert ax.get_title() == 'Monthly bill (free plan) by meter'
    assert [t.get_text() for t in ax.texts] == ['  $0.00']


def test_bad_bills_are_refused_by_name():
    with pytest.raises(ValueError, match=r"monthly_bill\(plan\): one of \('free', 'paid'\)"):
        plot.monthly_bill(HIBERNATING, plan='pro')
    with pytest.raises(ValueError, match=r"bills\['x'\]\): not a dosim.cost frame"):
        plot.monthly_bill({'x': pd.DataFrame({'a': [1]})})
    with pytest.raises(TypeError, match='non-empty mapping'):
        plot.monthly_bill({})
