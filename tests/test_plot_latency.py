"""The latency plots of ``dosim.plot``: the CDF marks exactly the quantiles of the frame, and
the breakdown's stacked bars are exactly the mean network, queue, handler and gate times.

Expected numbers are computed here from ``sim.trace.requests`` with pandas, independently of
the plotting code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dosim
from dosim import plot
from tests.conftest import make_sim


class Slow(dosim.DurableObject):
    def fetch(self, request):
        yield dosim.compute(float(request.text))
        self.ctx.storage.put('k', request.text)
        return dosim.Response('ok')


@pytest.fixture(scope='module')
def requests() -> pd.DataFrame:
    """20 requests to each of two namespaces, handlers taking 1..20 ms, one at a time."""
    sim = make_sim(seed=3)
    fast, slow = sim.namespace('FAST', Slow), sim.namespace('SLOW', Slow)

    def client():
        for i in range(1, 21):
            yield fast.get_by_name('a').fetch('https://do/', method='POST', body=str(i))
            yield slow.get_by_name('b').fetch('https://do/', method='POST', body=str(10 * i))

    sim.process(client())
    sim.run()
    return sim.trace.requests


def test_the_cdf_marks_p50_p95_p99_at_the_frames_quantiles(requests):
    ax = plot.latency_cdf(requests)
    expected = requests['latency_ms'].quantile([0.5, 0.95, 0.99]).to_numpy()
    (curve, dots) = ax.get_lines()[:2]
    assert np.allclose(dots.get_xdata(), expected)
    assert list(dots.get_ydata()) == [0.5, 0.95, 0.99]
    assert curve.get_ydata()[-1] == 1.0                       # every request is under the curve
    assert sorted(t.get_text() for t in ax.texts) == ['p50', 'p95', 'p99']
    assert f'p99 {expected[2]:.3g}' in ax.get_legend().get_texts()[0].get_text()


def test_cdfs_drawn_on_one_axes_take_the_next_colour_and_share_the_guides(requests):
    ax = plot.latency_cdf(requests[requests['namespace'] == 'FAST'], label='fast')
    plot.latency_cdf(requests[requests['namespace'] == 'SLOW'], ax=ax, label='slow')
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [label.split(':')[0] for label in labels] == ['fast', 'slow']
    curves = [line for line in ax.get_lines() if line.get_gid() is not None]
    assert curves[0].get_color() != curves[1].get_color()
    assert len(ax.texts) == 3                                  # p50, p95, p99 once each


def test_a_frame_of_your_own_latencies_needs_only_latency_ms():
    """Clients can time their own calls: a frame without ``status`` counts every row."""
    mine = pd.DataFrame({'latency_ms': [1.0, 2.0, 3.0, 4.0]})
    ax = plot.latency_cdf(mine, label='mine', quantiles=(0.5,))
    assert list(ax.get_lines()[1].get_xdata()) == [2.5]


def test_the_cdf_refuses_frames_it_cannot_draw(requests):
    with pytest.raises(ValueError, match="latency_cdf: the frame has no column 'latency_ms'"):
        plot.latency_cdf(pd.DataFrame({'x': [1]}))
    with pytest.raises(ValueError, match='no answered requests'):
        plot.latency_cdf(requests.assign(status='error'))
    with pytest.raises(ValueError, match=r'strictly between 0 and 1, got 1\.0'):
        plot.latency_cdf(requests, quantiles=(0.5, 1.0))


def test_each_breakdown_bar_stacks_the_groups_mean_parts(requests):
    ax = plot.latency_breakdown(requests)
    means = requests.groupby('namespace')[list(plot.LATENCY_PARTS)].mean()
    heights = {}
    for container, part in zip(ax.containers, plot.LATENCY_PARTS, strict=True):
        for bar, group in zip(container, means.index, strict=True):
            heights[group, part] = bar.get_height()
    for group in means.index:
        for part in plot.LATENCY_PARTS:
            assert heights[group, part] == pytest.approx(means.loc[group, part])
    totals = requests.groupby('namespace')['latency_ms'].mean()
    tops = [t for t in ax.texts if t.get_text().endswith(' ms')]   # the total over each bar
    assert [t.get_text() for t in tops] == [f'{v:.3g} ms' for v in totals]
