"""The trace: documented columns, documented event kinds, and trace levels.

A run that exercises requests, storage, alarms, WebSockets, hibernation and a fault emits only
event kinds listed in ``dosim.trace.EVENT_KINDS`` and frames with the documented columns.
Trace levels change what is recorded, never what happens.
"""

from __future__ import annotations

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
