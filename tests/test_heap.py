"""SimPy's event queue with compiled comparisons (:mod:`dosim.heap`).

SimPy orders the events to come as tuples ``(time, priority, event id, event)`` in a
:mod:`heapq` heap. dosim's compiled runtime pushes and pops them with its own copy of
heapq's algorithms, which compares two entries field by field instead of as tuples. That is
only allowed if nothing changes: the entries must come out in exactly the order heapq gives,
ties in time broken by priority (``URGENT`` before ``NORMAL``) and then by event id (the
order they were scheduled), and SimPy's own heapq calls must keep working on the same list.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

import pytest
import simpy

import dosim
from dosim import heap, native
from dosim.heap import OWN, _before

own_push, own_pop = OWN


def entries(seed: int, n: int) -> list[tuple[Any, ...]]:
    """*n* queue entries with many ties: times on a coarse grid, as ints and floats, both
    priorities, unique event ids in a shuffled order (as a lane's timers and reserved ids
    reach the queue)."""
    rnd = random.Random(seed)
    eids = list(range(n))
    rnd.shuffle(eids)
    out = []
    for eid in eids:
        t = rnd.randrange(20) / 2        # 0.0, 0.5, ... with many equal times
        time = int(t) if t.is_integer() and rnd.random() < 0.5 else t   # 3 and 3.0 are ties
        out.append((time, rnd.choice((0, 1)), eid, object()))
    return out


@pytest.mark.parametrize('seed', range(5))
def test_an_entry_comes_before_another_exactly_when_its_tuple_is_smaller(seed: int) -> None:
    items = entries(seed, 60)
    for a in items:
        for b in items:
            if a is not b:
                assert _before(a, b) == (a[:3] < b[:3]), (a[:3], b[:3])


def test_ties_in_time_go_by_priority_then_by_event_id() -> None:
    urgent_late = (5.0, 0, 9, None)
    normal_early = (5.0, 1, 2, None)
    normal_late = (5, 1, 3, None)    # an int time equal to 5.0 is a tie
    assert _before(urgent_late, normal_early)
    assert _before(normal_early, normal_late)
    assert not _before(normal_late, normal_early)
    assert _before((4.999, 1, 99, None), urgent_late)


@pytest.mark.parametrize('seed', range(5))
def test_pushes_and_pops_come_out_in_heapqs_order(seed: int) -> None:
    """Interleaved pushes and pops, the same on both heaps: every pop returns the very entry
    heapq's pop returns."""
    rnd = random.Random(seed)
    items = entries(seed, 400)
    mine: list[tuple[Any, ...]] = []
    theirs: list[tuple[Any, ...]] = []
    popped = 0
    for item in items:
        own_push(mine, item)
        heapq.heappush(theirs, item)
        if rnd.random() < 0.4:
            assert own_pop(mine) is heapq.heappop(theirs)
            popped += 1
    while theirs:
        assert own_pop(mine) is heapq.heappop(theirs)
        popped += 1
    assert popped == 400
    with pytest.raises(IndexError):
        own_pop(mine)


def test_heapq_and_this_module_can_share_one_queue() -> None:
    """SimPy's ``Environment.step`` pops with heapq; the runtime pushes with this module."""
    items = entries(7, 200)
    queue: list[tuple[Any, ...]] = []
    for i, item in enumerate(items):
        (own_push if i % 2 else heapq.heappush)(queue, item)
    out = [(heapq.heappop if i % 3 else own_pop)(queue) for i in range(len(items))]
    assert [e[:3] for e in out] == sorted(e[:3] for e in items)


def test_compiled_the_runtime_uses_its_own_functions_and_from_source_heapqs() -> None:
    """From source, heapq's C functions are faster than this module's interpreted ones."""
    if 'heap' in native.compiled():
        assert (heap.heappush, heap.heappop) == OWN
        assert heap.heappush is not heapq.heappush
    else:
        assert (heap.heappush, heap.heappop) == (heapq.heappush, heapq.heappop)


def test_a_simulation_runs_events_at_one_instant_in_simpys_order() -> None:
    """Timeouts and events at one instant, scheduled in a mixed order: SimPy runs urgent
    events first, then the others in the order they were scheduled (int and float times
    that are equal are one instant)."""
    sim = dosim.Simulation(seed=0)
    env = sim.env
    seen: list[str] = []

    def note(name: str) -> Any:
        return lambda _event: seen.append(name)

    for name, delay in (('a', 3), ('b', 3.0), ('c', 2.5), ('d', 3)):
        env.timeout(delay).callbacks.append(note(name))

    def at_three() -> Any:
        yield env.timeout(3)
        normal = env.event()
        normal.callbacks.append(note('normal'))
        normal.succeed()                                  # scheduled first, NORMAL ...
        urgent = env.event()
        urgent.callbacks.append(note('urgent'))
        urgent._ok, urgent._value = True, None
        env.schedule(urgent, simpy.events.URGENT)         # ... but URGENT goes first

    env.process(at_three())
    sim.run()
    # the process's own timeout (scheduled after a, b, c, d) wakes it at 3 after them
    assert seen == ['c', 'a', 'b', 'd', 'urgent', 'normal']
