"""The trace: documented columns, documented event kinds, and trace levels.

A run that exercises requests, storage, alarms, WebSockets, hibernation and a fault emits only
event kinds listed in ``dosim.trace.EVENT_KINDS`` and frames with the documented columns.
Trace levels change what is recorded, never what happens.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

import dosim
from dosim import trace
from dosim.models import AgentLoop, ChatRoom
from tests.conftest import make_sim


def rich_run(level: str = 'full') -> dosim.Simulation:
    sim = make_sim(seed=5, trace_level=level)
    agents = sim.namespace('AGENTS', AgentLoop.configure(cycle_cpu_ms=50, failure_rate=0.2,
                                                         policy='rethrow'))
    rooms = sim.namespace('ROOMS', ChatRoom)

    def user(i):
        ws = yield from dosim.connect_websocket(rooms.get_by_name('lobby'), f'https://r/?name={i}')
        for _ in range(3):
            yield sim.timeout(20_000)
            ws.send('hi')
        ws.close()

    def starter():
        yield agents.get_by_name('a').start_loop()

    sim.process(starter())
    for i in range(3):
        sim.process(user(i))
    sim.faults.reset(130_000, 'AGENTS', 'a')
    sim.run(until=300_000)
    return sim


def test_every_event_kind_is_documented():
    kinds = set(rich_run().trace.events['kind'])
    assert kinds <= set(trace.EVENT_KINDS)
    assert {'hibernate', 'wake', 'alarm_retry', 'websocket_message', 'fault'} <= kinds


def test_frames_have_the_documented_columns():
    t = rich_run().trace
    assert list(t.events.columns) == trace.EVENT_COLUMNS
    assert list(t.requests.columns) == trace.REQUEST_COLUMNS
    assert list(t.lifecycle.columns) == trace.LIFECYCLE_COLUMNS
    assert list(t.alarms.columns) == trace.ALARM_COLUMNS
    assert list(t.faults.columns) == trace.FAULT_COLUMNS
    assert list(t.writes.columns) == trace.WRITE_COLUMNS
    assert list(t.batches.columns) == trace.BATCH_COLUMNS
    assert t.requests['stub'].min() >= 1


@pytest.mark.parametrize('level', ['requests', 'summary'])
def test_trace_levels_change_what_is_recorded_never_what_happens(level):
    full, other = rich_run('full'), rich_run(level)
    pd.testing.assert_frame_equal(full.meters, other.meters)
    pd.testing.assert_frame_equal(full.trace.lifecycle, other.trace.lifecycle)
    assert full.trace.request_count == other.trace.request_count > 0
    assert other.trace.events.empty
    if level == 'requests':
        pd.testing.assert_frame_equal(full.trace.requests, other.trace.requests)
        pd.testing.assert_frame_equal(full.trace.alarms, other.trace.alarms)
    else:
        assert other.trace.requests.empty


def test_lifecycle_intervals_are_made_from_the_log_of_changes():
    """``Lifecycle.enter`` only logs a change; the intervals are made when someone asks. An
    interval that lasts no time is dropped, and an object back in that same instant to the
    state before goes on in that interval: idle, busy for an instant, idle again is one idle
    interval. A change to the state it is in changes nothing. Asking halfway through makes
    the same intervals as asking once at the end."""
    holder = type('Lifecycle', (), {'actor': SimpleNamespace(ns_name='N', label='o')})()
    changes = [(1, 'active', 0.0, 'constructor'), (1, 'idle', 5.0, ''),
               (1, 'active', 7.0, ''), (1, 'idle', 7.0, ''),   # busy for no time
               (1, 'idle', 8.0, 'again'),                      # the state it is in
               (1, 'hibernated', 9.0, 'idle'), (2, 'active', 20.0, 'constructor')]
    once, halfway = trace.Transitions(), trace.Transitions()
    for i, change in enumerate(changes):
        once.log.extend((holder, *change))
        halfway.log.extend((holder, *change))
        if i == 3:
            assert len(halfway) == 2   # active 0-5 (final) and idle from 5 (open)
    expected = [['N', 'o', 1, 'active', 0.0, 5.0, 'constructor'],
                ['N', 'o', 1, 'idle', 5.0, 9.0, ''],
                ['N', 'o', 1, 'hibernated', 9.0, 20.0, 'idle'],
                ['N', 'o', 2, 'active', 20.0, 30.0, 'constructor']]   # open: ends now
    for log in (once, halfway):
        assert log.frame(30.0).sort_values('start_ms').values.tolist() == expected
