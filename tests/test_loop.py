"""The event loop (:mod:`dosim.loop`): SimPy's ``step``, repeated, compiled with the runtime.

A run pops the next entry of the event queue, moves the clock to its time and calls the
event's callbacks, until the queue is empty or ``run(until=...)`` is reached. Three things
it must keep from SimPy: an event that failed and that nobody *defused* ends the run with
its error; a run stopped in the middle of an event's callbacks calls the rest first when it
goes on; and once no event is left, "now" is after every event at the last time
(``env.key``, which :mod:`dosim.inflight` compares messages in flight with).
"""

from __future__ import annotations

from typing import Any

import pytest
from simpy.core import StopSimulation

import dosim
from dosim.loop import AFTER_ALL


def test_a_failed_event_nobody_defused_ends_the_run_with_its_error() -> None:
    sim = dosim.Simulation(seed=0)
    env = sim.env
    original = KeyError('lost')
    env.timeout(5).callbacks.append(lambda _e: env.event().fail(original))
    with pytest.raises(KeyError) as raised:
        sim.run()
    assert raised.value is not original          # a copy, raised where the run is ...
    assert raised.value.__cause__ is original     # ... caused by the event's own error
    assert env.now == 5


def test_a_defused_failure_does_not_end_the_run() -> None:
    sim = dosim.Simulation(seed=0)
    env = sim.env

    def fail_defused(_event: Any) -> None:
        failed = env.event()
        failed.fail(KeyError('handled'))
        failed.defused = True

    env.timeout(5).callbacks.append(fail_defused)
    env.timeout(7)
    sim.run()
    assert env.now == 7


def test_a_run_that_stops_inside_an_events_callbacks_calls_the_rest_first_next_time() -> None:
    """``run(until=event)`` stops when the event's callbacks reach a stop; the callbacks
    after it are put back in the queue ahead of everything at that time (priority -1)."""
    sim = dosim.Simulation(seed=0)
    env = sim.env
    seen: list[str] = []
    target = env.event()
    target.callbacks += [lambda _e: seen.append('before'), StopSimulation.callback,
                         lambda _e: seen.append('after')]
    target.succeed('done')
    env.timeout(0).callbacks.append(lambda _e: seen.append('timeout at 0'))
    assert sim.run(until=target) == 'done'
    assert seen == ['before']
    # going on, the rest of target's callbacks come before the timeout that waited at the
    # same time; they end with the stop run() appended, so this run stops again
    assert sim.run() == 'done'
    assert seen == ['before', 'after']
    sim.run()
    assert seen == ['before', 'after', 'timeout at 0']


def test_when_no_event_is_left_now_is_after_every_event_at_the_last_time() -> None:
    sim = dosim.Simulation(seed=0)
    env = sim.env
    env.timeout(3)
    env.timeout(8.5)
    sim.run()
    assert env.now == 8.5
    assert env.key == (8.5, AFTER_ALL, 0, None)
