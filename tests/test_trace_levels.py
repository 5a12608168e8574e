"""Trace levels change what is recorded, never what happens.

``Config.trace_level`` picks how much of a run ``sim.trace`` keeps:

* ``'full'``     -- everything: ``events``, ``writes`` and ``batches`` too (what
  :func:`dosim.check.check` reads);
* ``'requests'`` -- one row per request (``requests``) and per alarm attempt (``alarms``),
  the ``lifecycle`` intervals and the ``faults``;
* ``'summary'``  -- only ``lifecycle``, ``faults``, the meters and ``trace.request_count``.

Recording is a side channel: the runtime must make the same decisions, in the same order,
whatever it writes down. Each model below runs once per level from the same seed. What
*happened* -- the meters, every object's storage, what the clients saw and when, the lifecycle
of every object, the faults, the clock -- must be identical; what was *recorded* must shrink
exactly as the levels say. The models cover the runtime's fast paths: a hot object, many
objects that hibernate, queued requests, calls between objects, alarms that wake
hibernated agents, WebSocket broadcasts, and a reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import dosim
from dosim import trace
from dosim.models import AgentLoop, ChatRoom

LEVELS = ('full', 'requests', 'summary')


class Counter(dosim.DurableObject):
    """A get and a put per request; ``/relay`` also asks another counter (a call between
    objects, which leaves only once this object's write is confirmed)."""

    def fetch(self, request):
        n = (yield self.ctx.storage.get('n')) or 0
        self.ctx.storage.put('n', n + 1)
        if request.path == '/relay':
            other = self.env.COUNTERS.get_by_name('relay-target')
            reply = yield other.fetch('https://do/inc')
            return dosim.Response(f'{n + 1}/{reply.text}')
        if request.path == '/slow':
            yield dosim.compute(30)    # holds the thread: later requests queue
        return dosim.Response(str(n + 1))


# -- the models: each returns the simulation and what its clients saw ----------------------
def counters(level: str) -> tuple[dosim.Simulation, list[Any]]:
    """300 requests: Poisson arrivals at one hot object and at 40 others that hibernate in
    between, some of them slow (queueing), some relayed to another object."""
    sim = dosim.Simulation(seed=11, config=dosim.Config(trace_level=level))
    ns = sim.namespace('COUNTERS', Counter)
    seen: list[Any] = []

    def ask(stub: Any, path: str) -> Any:
        resp = yield stub.fetch(f'https://do{path}')
        seen.append((sim.now, resp.text))

    def source() -> Any:
        rnd = sim.stream('workload')
        hot = ns.get_by_name('hot')
        for i in range(300):
            yield sim.timeout(rnd.expovariate(1 / 200))
            if i % 3 == 0:
                hot.fetch('https://do/inc')           # fire and forget
            else:
                stub = ns.get_by_name(f'c{rnd.randrange(40)}')
                path = ('/inc', '/slow', '/relay')[i % 3 if i % 5 else 1]
                sim.process(ask(stub, path))

    sim.process(source())
    sim.run()
    return sim, seen


def agents(level: str) -> tuple[dosim.Simulation, list[Any]]:
    """12 agents on a 30 s alarm loop for an hour; cycles fail now and then and are retried
    (policy 'rethrow'); one agent is reset in the middle of a cycle."""
    sim = dosim.Simulation(seed=12, config=dosim.Config(trace_level=level))
    cls = AgentLoop.configure(loop_interval_ms=30_000, cycle_cpu_ms=20, failure_rate=0.15,
                              policy='rethrow')
    ns = sim.namespace('AGENTS', cls)
    replies: list[Any] = []

    def starter() -> Any:
        for i in range(12):
            yield sim.timeout(1_000)
            replies.append((sim.now, (yield ns.get_by_name(f'agent-{i}').start_loop())))

    sim.process(starter())
    sim.faults.reset(579_590, 'AGENTS', 'agent-3')   # during its cycle at 579.58 s
    sim.run(until=3_600_000)
    return sim, replies


class LoggingRoom(ChatRoom):
    """A chat room that keeps the last message: a write right after each broadcast."""

    def websocket_message(self, ws: Any, message: Any) -> Any:
        yield from super().websocket_message(ws, message)
        self.ctx.storage.put('last', message)


def chat(level: str) -> tuple[dosim.Simulation, list[Any]]:
    """Two rooms of six hibernatable clients (the second a LoggingRoom); each client sends
    three messages a minute apart, each broadcast to its room, and the last client of each
    room leaves early."""
    sim = dosim.Simulation(seed=13, config=dosim.Config(trace_level=level))
    namespaces = [sim.namespace('ROOMS', ChatRoom), sim.namespace('LOGGED', LoggingRoom)]
    sockets: list[Any] = []

    def user(room: int, i: int) -> Any:
        url = f'https://chat/ws?name=u{i}'
        stub = namespaces[room].get_by_name(f'room-{room}')
        ws = yield from dosim.connect_websocket(stub, url)
        sockets.append(ws)
        for k in range(3):
            yield sim.timeout(60_000 + 137 * i)
            ws.send(f'{room}.{i}.{k}')
            if i == 5 and k == 1:
                ws.close(1000, 'bye')
                return

    for room in range(2):
        for i in range(6):
            sim.process(user(room, i))
    sim.run(until=600_000)
    return sim, [list(ws.received) for ws in sockets]


MODELS: dict[str, Callable[[str], tuple[dosim.Simulation, list[Any]]]] = {
    'counters': counters, 'agents': agents, 'chat': chat,
}


@pytest.fixture(scope='module', params=list(MODELS))
def runs(request: Any) -> dict[str, tuple[dosim.Simulation, list[Any]]]:
    """The model run once at each level."""
    return {level: MODELS[request.param](level) for level in LEVELS}


def storage(sim: dosim.Simulation) -> dict[tuple[str, str], dict[str, Any]]:
    return {(binding, actor.label): sim.storage_of(binding, actor.id)
            for binding, ns in sim.namespaces.items() for actor in ns.actors.values()}


# -- what happens -----------------------------------------------------------------------------
def test_what_happens_is_the_same_at_every_level(runs):
    full, full_seen = runs['full']
    for level in ('requests', 'summary'):
        sim, seen = runs[level]
        assert seen == full_seen                       # what the clients saw, and when
        assert sim.now == full.now
        assert storage(sim) == storage(full)
        pd.testing.assert_frame_equal(sim.meters, full.meters)
        pd.testing.assert_frame_equal(sim.trace.lifecycle, full.trace.lifecycle)
        pd.testing.assert_frame_equal(sim.trace.faults, full.trace.faults)
        assert sim.trace.request_count == full.trace.request_count > 0


def test_the_requests_level_keeps_the_same_requests_and_alarms_as_full(runs):
    full, requests = runs['full'][0].trace, runs['requests'][0].trace
    pd.testing.assert_frame_equal(requests.requests, full.requests)
    pd.testing.assert_frame_equal(requests.alarms, full.alarms)


# -- what is recorded -------------------------------------------------------------------------
def test_full_records_one_requests_row_per_answer_and_every_arrival_as_an_event(runs):
    sim = runs['full'][0]
    t = sim.trace
    assert len(t.requests) == t.request_count
    arrivals = (t.events['kind'] == 'request_received').sum()
    refused = t.requests['error'].str.startswith('Network connection lost').sum()
    assert arrivals + refused >= len(t.requests)          # every answered call arrived ...
    assert arrivals == sim.meters['requests'].sum() - len(t.alarms)   # ... alarms aside
    writes = sim.meters['rows_written'].sum()
    assert writes == 0 or (not t.writes.empty and not t.batches.empty)


@pytest.mark.parametrize('level', ['requests', 'summary'])
def test_lower_levels_keep_no_events_writes_or_batches(runs, level):
    t = runs[level][0].trace
    for name, columns in (('events', trace.EVENT_COLUMNS), ('writes', trace.WRITE_COLUMNS),
                          ('batches', trace.BATCH_COLUMNS)):
        frame = getattr(t, name)
        assert frame.empty
        assert list(frame.columns) == columns


def test_summary_keeps_no_requests_or_alarms_only_their_count(runs):
    full, summary = runs['full'][0].trace, runs['summary'][0].trace
    assert summary.requests.empty
    assert list(summary.requests.columns) == trace.REQUEST_COLUMNS
    assert summary.alarms.empty
    assert list(summary.alarms.columns) == trace.ALARM_COLUMNS
    assert summary.request_count == len(full.requests)


def test_the_models_exercise_what_they_claim():
    """Guard for the tests above: the paths they compare are really taken."""
    sim, _seen = counters('requests')
    reqs = sim.trace.requests
    assert len(reqs) == 300 + (reqs['object'] == 'relay-target').sum()
    assert (reqs['queue_ms'] > 0).any()                          # some requests queued
    assert (sim.trace.lifecycle['state'] == 'hibernated').any()
    sim, _ = agents('requests')
    alarms = sim.trace.alarms
    assert {'ok', 'error', 'reset'} <= set(alarms['outcome'])
    sim, received = chat('summary')
    assert sum(map(len, received)) > 0
    logged = sim.storage_of('LOGGED', 'room-1')['last']   # the second room wrote
    assert any(logged in seen for seen in received)
