"""Hibernation and eviction: when an idle object leaves memory, and what that costs.

An idle object that meets every hibernation condition hibernates after exactly 10 s; one that
cannot (here: an outbound call still pending, with ``Config.pending_io_pins`` off) is evicted
after 70-140 s. ``wait_until`` and pending calls (the 2026-10-01 behaviour) pin it for up to
15 min. Leaving memory drops the instance: the next event runs the constructor again.
Duration is billed (GB-s, at 128 MB) while active or idle-but-not-hibernatable.
"""

from __future__ import annotations

import pytest

import dosim
from tests.conftest import fire, make_sim

BUILT: list[float] = []


class Plain(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        BUILT.append(ctx.storage._actor.sim.now)

    def fetch(self, request):
        if request.path == '/sleep':
            yield dosim.sleep(30_000)
        if request.path == '/wait-until':
            self.ctx.wait_until(self.ctx.storage._actor.sim.timeout(int(request.text)))
        if request.path == '/wait-until-sleep':
            self.ctx.wait_until(dosim.sleep(int(request.text)))   # ctx.waitUntil(promise)
        if request.path == '/fire-and-forget':
            self.env.SLOW.get_by_name('slow').fetch('https://slow/')   # not awaited
        return dosim.Response('ok')


class Slow(dosim.DurableObject):
    def fetch(self, request):
        yield dosim.sleep(3_600_000)
        return dosim.Response('late')


def transitions(sim, obj='p'):
    life = sim.trace.lifecycle
    life = life[life['object'] == obj]
    return [(r.state, r.start_ms) for r in life.itertuples()]


def test_an_idle_object_hibernates_after_exactly_10_s(sim):
    BUILT.clear()
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/'))])
    sim.run(until=60_000)
    # the request takes no time, so its instant of activity is no interval of its own
    assert transitions(sim) == [('idle_hibernatable', 1.0), ('hibernated', 10_001.0)]
    ev = sim.trace.events
    hib = ev[ev['kind'] == 'hibernate']
    assert hib['time_ms'].tolist() == [10_001.0]   # idle from 1.0 (the reply), then 10 s


def test_the_constructor_runs_again_after_hibernation(sim):
    BUILT.clear()
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/')),
               (5_000, lambda: ns.get_by_name('p').fetch('https://do/')),      # still warm
               (30_000, lambda: ns.get_by_name('p').fetch('https://do/'))])    # woken
    assert BUILT == [1.0, 30_001.0]
    assert sim.trace.requests['incarnation'].tolist() == [1, 1, 2]


def test_a_pending_sleep_prevents_hibernation(sim):
    """The handler sleeps 30 s: the object is active all along, hibernating 10 s after."""
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/sleep'))])
    sim.run(until=100_000)
    ev = sim.trace.events
    assert ev.loc[ev['kind'] == 'hibernate', 'time_ms'].tolist() == [40_001.0]


def test_wait_until_pins_the_object_until_its_event(sim):
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/wait-until', method='POST',
                                                       body='300000'))])
    sim.run(until=1_000_000)
    life = sim.trace.lifecycle
    assert life[['state', 'start_ms', 'end_ms']].values.tolist() == [
        ['idle', 1.0, 300_001.0],                     # pinned: idle, not hibernatable
        ['idle_hibernatable', 300_001.0, 310_001.0],  # the event fired: 10 s to hibernate
        ['hibernated', 310_001.0, 1_000_000.0],
    ]


def test_wait_until_takes_a_sleep_as_typescript_takes_a_promise(sim):
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/wait-until-sleep',
                                                       method='POST', body='300000'))])
    sim.run(until=1_000_000)
    assert transitions(sim) == [('idle', 1.0), ('idle_hibernatable', 300_001.0),
                                ('hibernated', 310_001.0)]


def test_a_pin_lasts_at_most_15_minutes(sim):
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/wait-until', method='POST',
                                                       body='3600000'))])
    sim.run(until=2_000_000)
    states = sim.trace.lifecycle[['state', 'start_ms']].values.tolist()
    assert ['idle_hibernatable', 900_001.0] in states
    assert ['hibernated', 910_001.0] in states


def eviction(seed: int) -> tuple[list[float], list[str]]:
    """Eviction times and event kinds of an object left with a call pending (no pinning)."""
    sim = make_sim(pending_io_pins=False, seed=seed)
    sim.namespace('SLOW', Slow)
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/fire-and-forget'))])
    sim.run(until=400_000)
    ev = sim.trace.events
    mine = ev[ev['object'] == 'p']
    return mine.loc[mine['kind'] == 'evict', 'time_ms'].tolist(), mine['kind'].tolist()


@pytest.mark.parametrize('seed', range(6))
def test_an_object_that_cannot_hibernate_is_evicted_after_70_to_140_s(seed):
    evicted, kinds = eviction(seed)
    assert len(evicted) == 1
    idle_since = 1.0
    assert 70_000 <= evicted[0] - idle_since <= 140_000
    assert 'hibernate' not in kinds


def test_the_eviction_delay_is_drawn_per_idle_period():
    assert len({eviction(seed)[0][0] for seed in range(6)}) == 6


def test_pending_outbound_io_pins_under_the_2026_10_01_behaviour(sim):
    """With pending_io_pins (the default) the call pins the object for 15 min; after that,
    still unable to hibernate (the call is pending), it is evicted 70-140 s later."""
    sim.namespace('SLOW', Slow)
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/fire-and-forget'))])
    sim.run(until=1_500_000)
    ev = sim.trace.events
    evicted = ev.loc[(ev['kind'] == 'evict') & (ev['object'] == 'p'), 'time_ms'].tolist()
    assert len(evicted) == 1
    assert 900_000 + 70_000 <= evicted[0] <= 900_000 + 140_000 + 1.0


def test_duration_is_billed_while_active_or_pinned_and_not_while_hibernatable(sim):
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/sleep')),
               (100_000, lambda: ns.get_by_name('p').fetch('https://do/wait-until',
                                                          method='POST', body='60000'))])
    sim.run(until=500_000)
    # 30 s sleeping + 60 s pinned, at 128 MB: 90 s x 0.128 GB
    assert sim.meters['duration_gb_s'].iloc[0] == pytest.approx(90 * 0.128)


def test_the_older_rule_bills_the_10_s_before_hibernation():
    sim = make_sim(bill_hibernatable_idle=True)
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/'))])
    sim.run(until=100_000)
    assert sim.meters['duration_gb_s'].iloc[0] == pytest.approx(10 * 0.128)


def test_hibernated_objects_hold_no_instance(sim):
    ns = sim.namespace('P', Plain)
    fire(sim, [(0, lambda i=i: ns.get_by_name(f'p{i}').fetch('https://do/')) for i in range(50)])
    sim.run(until=20_000)
    actors = list(ns.actors.values())
    assert len(actors) == 50
    assert all(a.instance is None and a.storage is None for a in actors)
