"""Capacity answers: the saturation knee, latency against load, sharding, the cost frontier.

One object runs one event at a time, so a handler costing S ms caps it at 1000 / S requests a
second -- the *knee*. Below it the object is a single-server queue whose mean wait queueing
theory gives exactly (M/D/1 for a constant cost, M/M/1 for an exponential one); past it the
throughput stays at the knee whatever the load. Sharding N ways moves the knee N times out
when keys are equally popular, but with Zipf popularity the shard holding the hottest key
saturates first: the system carries a load only while the hottest shard's share of it stays
below one object's capacity. These tests check the simulated answers against those
expectations; runs are a few simulated seconds, with fixed seeds, so each outcome is the
same on every run.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dosim import capacity as cap
from dosim.workload import ConstantMs, ExponentialMs, LogNormalMs, UniformKeys, ZipfKeys

SHORT = {'duration_ms': 3_000, 'warmup_ms': 1_000}


def mean(summary: pd.DataFrame, metric: str, **at) -> float:
    rows = summary[summary['metric'] == metric]
    for column, value in at.items():
        rows = rows[rows[column] == value]
    [value] = rows['mean']
    return float(value)


def interval(summary: pd.DataFrame, metric: str, **at) -> tuple[float, float]:
    rows = summary[summary['metric'] == metric]
    for column, value in at.items():
        rows = rows[rows[column] == value]
    return float(rows['ci_low'].iloc[0]), float(rows['ci_high'].iloc[0])


# -- one object's capacity ---------------------------------------------------------------------
def test_capacity_is_one_second_divided_by_the_mean_cost():
    assert cap.capacity_per_s(2.0) == 500.0
    assert cap.capacity_per_s(ConstantMs(4)) == 250.0
    assert cap.capacity_per_s(LogNormalMs(median_ms=1, sigma=1)) == \
        pytest.approx(1000 / math.exp(0.5))
    # The documented soft limit of ~1,000 requests/s is the knee of a 1 ms handler.
    assert cap.capacity_per_s(1.0) == cap.DOCUMENTED_SOFT_LIMIT_PER_S
    with pytest.raises(ValueError, match='a mean cost > 0 ms'):
        cap.capacity_per_s(0)
    with pytest.raises(TypeError):
        cap.capacity_per_s(True)


@pytest.fixture(scope='module')
def curve() -> pd.DataFrame:
    """A 2 ms handler (knee 500/s) offered half and one and a half times its capacity."""
    return cap.load_curve(2.0, [250, 750], reps=1, **SHORT)


def test_below_the_knee_everything_offered_is_carried(curve):
    offered = mean(curve, 'offered_per_s', rate_per_s=250)
    assert mean(curve, 'throughput_per_s', rate_per_s=250) == pytest.approx(offered, rel=0.01)
    assert mean(curve, 'hot_utilisation', rate_per_s=250) == pytest.approx(0.5, abs=0.03)
    assert mean(curve, 'error_rate', rate_per_s=250) == 0


def test_past_the_knee_throughput_stays_at_capacity_and_latency_explodes(curve):
    assert cap.knee(curve) == pytest.approx(cap.capacity_per_s(2.0), rel=0.005)
    assert mean(curve, 'hot_utilisation', rate_per_s=750) == pytest.approx(1.0, abs=0.001)
    assert mean(curve, 'p99_ms', rate_per_s=750) > 100 * mean(curve, 'p99_ms', rate_per_s=250)


def test_the_knee_of_a_1_ms_handler_is_the_documented_soft_limit():
    curve = cap.load_curve(1.0, [1_500], reps=1, **SHORT)
    assert cap.knee(curve) == pytest.approx(cap.DOCUMENTED_SOFT_LIMIT_PER_S, rel=0.005)
    with pytest.raises(ValueError, match='no throughput_per_s rows'):
        cap.knee(curve[curve['metric'] != 'throughput_per_s'])


# -- queueing theory --------------------------------------------------------------------------
def test_theory_gives_the_textbook_values():
    """S = 10 ms, λ = 50/s (ρ = 0.5): M/M/1 waits ρ/(μ−λ) = 10 ms and its response time is
    exponential with rate μ−λ (p99 = ln 100 / 0.05 per ms); M/D/1 waits half as long."""
    mm1 = cap.theory([50, 100], 10.0, 'exponential')
    assert list(mm1.loc[0, ['rho', 'wait_ms', 'response_ms']]) == pytest.approx([0.5, 10, 20])
    assert mm1.loc[0, 'p99_response_ms'] == pytest.approx(math.log(100) / 0.05)
    assert mm1.loc[1, 'wait_ms'] == math.inf   # ρ = 1: no steady state
    md1 = cap.theory([50], 10.0, 'constant')
    assert list(md1.loc[0, ['wait_ms', 'response_ms']]) == pytest.approx([5, 15])
    assert math.isnan(md1.loc[0, 'p99_response_ms'])
    with pytest.raises(ValueError, match="'constant' or 'exponential'"):
        cap.theory([1], 1.0, 'pareto')


@pytest.mark.parametrize('service', ['constant', 'exponential'])
def test_the_simulated_wait_matches_queueing_theory(service):
    """At ρ = 0.5, the theoretical mean wait lies in the 95 % interval of five 20-second
    runs, and the response time is the wait plus service plus the 2 ms network round trip."""
    cost = 10.0 if service == 'constant' else ExponentialMs(10.0)
    curve = cap.load_curve(cost, [50], reps=5, duration_ms=20_000, warmup_ms=2_000)
    expected = cap.theory([50], 10.0, service).iloc[0]
    low, high = interval(curve, 'wait_ms')
    assert low <= expected['wait_ms'] <= high
    low, high = interval(curve, 'mean_ms')
    assert low <= expected['response_ms'] + 2 <= high


def test_the_tail_grows_faster_than_the_load():
    curve = cap.load_curve(10.0, [50, 90], reps=1, duration_ms=20_000, warmup_ms=2_000)
    p99 = {rate: mean(curve, 'p99_ms', rate_per_s=rate) for rate in (50, 90)}
    assert p99[90] > 3 * p99[50]


# -- sharding -----------------------------------------------------------------------------------
def test_uniform_keys_split_evenly_and_zipf_keys_do_not():
    for shards in range(1, 9):
        assert cap.shard_shares(cap.KEYS, shards) == pytest.approx([1 / shards] * shards)
    zipf = ZipfKeys(50, s=1.1)
    p = zipf.probabilities()
    for shards in (1, 4, 8):
        shares = cap.shard_shares(zipf, shards)
        assert sum(shares) == pytest.approx(1)
        assert shares[0] == pytest.approx(sum(p[0::shards]))   # keys 0, N, 2N ... on shard 0
    table = cap.shard_table(2.0, zipf, [1, 4, 8], rate_per_s=1_500).set_index('shards')
    assert table.loc[1, 'capacity_per_s'] == pytest.approx(500)
    assert table.loc[8, 'capacity_per_s'] == pytest.approx(500 / sum(p[0::8]))
    assert table.loc[1, 'carried_per_s'] == pytest.approx(500)
    assert table.loc[4, 'carried_per_s'] == pytest.approx(
        500 + 1_500 * sum(cap.shard_shares(zipf, 4)[1:]))   # the hot shard is capped
    assert table.loc[8, 'carried_per_s'] == pytest.approx(1_500)   # all carried
    assert (table['hottest_share'] > p[0]).all()   # the hottest key is always on one shard
    with pytest.raises(ValueError, match='shards: a whole number >= 1'):
        cap.shard_shares(zipf, 0)


def test_sharding_uniform_keys_scales_throughput_with_the_shards():
    """2 ms per request, 1,250 offered: 1 shard carries 500, 2 carry 1,000, 4 carry it all."""
    summary = cap.sharding(2.0, 1_250, [1, 2, 4], reps=1, **SHORT)
    offered = mean(summary, 'offered_per_s', shards=4)
    for shards in (1, 2, 4):
        expected = min(shards * 500, offered)
        assert mean(summary, 'throughput_per_s', shards=shards) == \
            pytest.approx(expected, rel=0.02)


def test_a_hot_key_limits_what_sharding_buys():
    """Zipf keys, 1,500 offered, 2 ms each: with 4 shards the hottest takes 40 % -- 600/s,
    more than one object's 500 -- and saturates, so the system carries
    sum(min(share x load, 500)); with 8 shards the hottest takes 32 % (475/s) and all is
    carried."""
    zipf = ZipfKeys(50, s=1.1)
    summary = cap.sharding(2.0, 1_500, [4, 8], keys=zipf, reps=1, **SHORT)
    for shards in (4, 8):
        offered = mean(summary, 'offered_per_s', shards=shards)
        [expected] = cap.shard_table(2.0, zipf, [shards], rate_per_s=offered)['carried_per_s']
        assert mean(summary, 'throughput_per_s', shards=shards) == \
            pytest.approx(expected, rel=0.03)
    assert max(cap.shard_shares(zipf, 4)) * 1_500 > 500
    assert mean(summary, 'hot_utilisation', shards=4) == pytest.approx(1.0, abs=0.001)
    assert max(cap.shard_shares(zipf, 8)) * 1_500 < 500
    assert mean(summary, 'hot_utilisation', shards=8) < 0.99


# -- batching and the cost frontier ---------------------------------------------------------
def test_batching_cuts_calls_and_the_bill_and_adds_latency():
    one = cap.serve(1, rate_per_s=1_000, cost=0.2, shards=1, measure_from_ms=1_000,
                    duration_ms=3_000)
    ten = cap.serve(1, rate_per_s=1_000, cost=0.2, shards=1, batch=10,
                    measure_from_ms=1_000, duration_ms=3_000)
    assert one['calls_per_s'] == pytest.approx(one['offered_per_s'], rel=0.001)
    # 1,000 items/s fill a batch of 10 in ~10 ms, before the 20 ms linger: full batches.
    assert ten['calls_per_s'] == pytest.approx(ten['offered_per_s'] / 10, rel=0.02)
    assert ten['monthly_usd'] < one['monthly_usd'] / 5
    assert ten['p50_ms'] > one['p50_ms'] + 3


def test_the_same_seed_serves_the_same_run():
    design = {'rate_per_s': 300, 'cost': 1.0, 'shards': 2, 'duration_ms': 1_000,
              'measure_from_ms': 200}
    assert cap.serve(5, **design) == cap.serve(5, **design)
    assert cap.serve(5, **design) != cap.serve(6, **design)


def test_pareto_keeps_the_designs_nothing_beats_on_both():
    frame = pd.DataFrame({'monthly_usd': [10, 20, 20, 5, 30, math.nan],
                          'p99_ms': [50, 40, 45, 90, 40, 1]})
    assert list(cap.pareto(frame)) == [True, True, False, True, False, False]


def test_the_frontier_prices_every_design_and_marks_the_ones_that_carry_the_load():
    frontier = cap.frontier(1.0, 1_500, shards=(1, 4), batches=(1, 10), reps=1,
                            overhead_ms=0.5, **SHORT)
    assert list(zip(frontier['shards'], frontier['batch'], strict=True)) == \
        [(1, 1), (1, 10), (4, 1), (4, 10)]
    design = frontier.set_index(['shards', 'batch'])
    # One object at 1.5 ms a request cannot carry 1,500/s: it is not a candidate.
    assert not design.loc[(1, 1), 'carries_load']
    assert not design.loc[(1, 1), 'pareto']
    carried = frontier[frontier['carries_load']]
    assert list(carried['pareto']) == list(cap.pareto(carried))
    assert design.loc[(4, 10), 'monthly_usd'] < design.loc[(4, 1), 'monthly_usd']
    assert design.loc[(4, 1), 'p99_ms'] < design.loc[(4, 10), 'p99_ms']


def test_keys_are_checked():
    with pytest.raises(ValueError, match='keys'):
        cap.serve(1, rate_per_s=10, keys={'kind': 'zipf', 'n_keys': 0})
    assert UniformKeys(840) == cap.KEYS
