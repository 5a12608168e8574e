"""Messages from an object to its WebSocket clients: in flight, then delivered when looked at.

A broadcast to 100 clients is 100 deliveries. dosim does not make each one a SimPy event:
it keeps each client's messages in flight (:mod:`dosim.inflight`), takes the sends of one
handler step as one batch (:mod:`dosim.outbox`), and hands messages over when someone looks
-- reading ``received``, waiting in ``receive()``, a close. These tests pin down that this is
only bookkeeping: every client sees exactly what one event per delivery would have shown, at
the same simulated moment, ties included.

The network is quiet here (no jitter), so a message takes exactly ``L`` ms one way: the
client's latency to the object's data centre, which the tests read from the network model.
Each test runs at trace level ``full``, where every send is recorded and put in flight on
its own, and at ``summary``, where the sends of a step go as one batch.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import simpy

import dosim
from dosim.fanout import ROWS
from dosim.inflight import TRIM, in_flight
from tests.conftest import make_sim


@pytest.fixture(params=['full', 'summary'])
def level(request: pytest.FixtureRequest) -> str:
    return request.param


class Room(dosim.DurableObject):
    """Every message goes to every client, the sender too; ``'write:<m>'`` sends ``<m>`` to
    the first client, writes to storage, then sends ``<m>`` to the others; ``'burst'`` sends
    ``b0`` .. ``b19`` to every client in one step."""

    def fetch(self, request):
        client, server = dosim.WebSocketPair()
        self.ctx.accept_websocket(server, ['all'])
        return dosim.Response(status=101, web_socket=client)

    def websocket_message(self, ws, message):
        everyone = self.ctx.get_websockets('all')
        if message.startswith('write:'):
            text = message[len('write:'):]
            everyone[0].send(text)
            self.ctx.storage.put('last', text)
            for other in everyone[1:]:
                other.send(text)
            return
        for text in [f'b{i}' for i in range(20)] if message == 'burst' else [message]:
            for other in everyone:
                other.send(text)


def room(sim: dosim.Simulation, clients: int, cls: type[dosim.DurableObject] | None = None
         ) -> list[Any]:
    """Connect *clients* clients to one room (of class *cls*, :class:`Room` by default);
    returns their ends (filled in as they connect)."""
    ns = sim.namespace('ROOM', cls or Room)
    ends: list[Any] = []

    def connect() -> Any:
        ends.append((yield from dosim.connect_websocket(ns.get_by_name('r'))))

    for _ in range(clients):
        sim.process(connect())
    sim.run(until=1_000)
    return ends


def latency(sim: dosim.Simulation) -> float:
    """One way between a client and the room's data centre (no jitter: always the same)."""
    actor = next(iter(sim.namespaces['ROOM'].actors.values()))
    return sim.network.base_ms(sim.network.client_location, actor)


def say(sim: dosim.Simulation, end: Any, message: str, at: float) -> None:
    def go() -> Any:
        yield sim.timeout(at - sim.now)
        end.send(message)

    sim.process(go())


def test_a_waiting_client_and_a_passive_one_get_the_same_message_at_the_same_moment(level):
    """Client 0 sends at 2,000 ms; the room has it at 2,000 + L and broadcasts; every client
    has it at 2,000 + 2L. A client waiting in ``receive()`` wakes exactly then; a client
    nobody watches holds it in ``received`` when looked at."""
    sim = make_sim(trace_level=level)
    ends = room(sim, 3)
    woke: list[tuple[float, str]] = []

    def wait() -> Any:
        message = yield ends[1].receive()
        woke.append((sim.now, message))

    sim.process(wait())
    say(sim, ends[0], 'hello', at=2_000)
    sim.run()
    one_way = latency(sim)
    assert woke == [(2_000 + 2 * one_way, 'hello')]
    assert [list(end.received) for end in ends] == [['hello'], ['hello'], ['hello']]


def test_the_run_lasts_until_the_last_message_lands(level):
    """Nothing else happens after the broadcast: the room hibernates a quarter of a trip
    after it. The run still ends when the last message lands, not when the last event
    before it fired -- the same clock as one event per delivery."""
    sim = make_sim(hibernate_after_ms=0.25, trace_level=level)
    ends = room(sim, 3)
    say(sim, ends[0], 'last', at=2_000)
    sim.run()
    one_way = latency(sim)
    assert one_way > 0.25
    assert sim.now == 2_000 + 2 * one_way
    assert [list(end.received) for end in ends] == [['last'], ['last'], ['last']]


def test_stepping_by_hand_also_lasts_until_the_last_message_lands(level):
    """The same run, one ``env.step()`` at a time while ``env.peek()`` sees an event: the
    last step is the last message landing, as it would be with an event per delivery."""
    sim = make_sim(hibernate_after_ms=0.25, trace_level=level)
    ends = room(sim, 3)
    say(sim, ends[0], 'last', at=2_000)
    while sim.env.peek() < math.inf:
        sim.env.step()
    with pytest.raises(simpy.core.EmptySchedule):
        sim.env.step()
    assert sim.now == 2_000 + 2 * latency(sim)
    assert [list(end.received) for end in ends] == [['last'], ['last'], ['last']]


def test_at_the_same_moment_events_scheduled_before_the_send_come_first(level):
    """SimPy orders events at the same time by when they were scheduled. A delivery keeps
    the place its event would have had: an observer whose timer was set before the broadcast
    does not see the message that lands at that very moment; one set after it does."""
    sim = make_sim(trace_level=level)
    ends = room(sim, 2)
    say(sim, ends[0], 'tick', at=2_000)
    one_way = latency(sim)
    lands = 2_000 + 2 * one_way
    seen: dict[str, int] = {}

    def look(name: str, set_at: float) -> Any:
        yield sim.timeout(set_at - sim.now)
        yield sim.timeout(lands - sim.now)   # exact: lands - now is exact (Sterbenz)
        assert sim.now == lands
        seen[name] = len(ends[1].received)

    sim.process(look('set before the send', set_at=1_500))
    sim.process(look('set after the send', set_at=2_000 + 1.5 * one_way))
    sim.run()
    assert seen == {'set before the send': 0, 'set after the send': 1}


class SplitRoom(Room):
    """Sends each message to the first client, then calls ``between()`` (which the test
    sets), then sends it to the others: all in one step, so one broadcast at level
    ``summary``."""

    between: Any = None

    def websocket_message(self, ws, message):
        everyone = self.ctx.get_websockets('all')
        everyone[0].send(message)
        type(self).between()
        for other in everyone[1:]:
            other.send(message)


def test_an_event_scheduled_in_the_middle_of_a_broadcast_lands_between_its_messages(level):
    """The room's handler sets a timer of one trip between its first send and the others:
    the timer goes off at the very moment the messages land, and SimPy puts it after the
    first client's message and before the others' (the order in which each was scheduled).
    A batch's sends take their event ids only when something else needs one, and keep
    their places all the same."""
    sim = make_sim(trace_level=level)
    ends = room(sim, 4, SplitRoom)
    one_way = latency(sim)
    seen: list[list[int]] = []

    def between() -> None:
        timer = sim.timeout(one_way)
        timer.callbacks.append(lambda _: seen.append([len(e.received) for e in ends]))

    SplitRoom.between = between
    say(sim, ends[3], 'tick', at=2_000)
    sim.run()
    assert seen == [[1, 0, 0, 0]]
    assert [list(e.received) for e in ends] == [['tick']] * 4


def test_run_until_stops_before_a_message_landing_at_that_moment(level):
    """``run(until=T)`` stops before anything else scheduled at T (as in SimPy): a message
    landing at exactly T is still in flight; the next ``run()`` delivers it."""
    sim = make_sim(trace_level=level)
    ends = room(sim, 2)
    say(sim, ends[0], 'late', at=2_000)
    lands = 2_000 + 2 * latency(sim)
    sim.run(until=lands)
    assert ends[1].received == []
    sim.run()
    assert ends[1].received == ['late']


def test_a_list_of_received_kept_from_before_sees_what_arrives_later(level):
    """``received`` is a list that brings itself up to date whenever it is read, also
    through a reference taken before the messages came."""
    sim = make_sim(trace_level=level)
    ends = room(sim, 2)
    kept = ends[1].received
    say(sim, ends[0], 'one', at=2_000)
    say(sim, ends[0], 'two', at=3_000)
    sim.run()
    assert kept == ['one', 'two']
    assert len(kept) == 2
    assert kept[-1] == 'two'
    assert 'one' in kept
    assert list(reversed(kept)) == ['two', 'one']
    assert [*kept, 'x'] == ['one', 'two', 'x']


def test_each_socket_is_one_ordered_stream_whatever_the_jitter(level):
    """A WebSocket runs over one TCP connection: messages arrive in the order sent. With a
    heavy-tailed jitter a later message can draw a shorter trip; it then arrives right behind
    the one before it (same moment), never ahead of it."""
    sim = dosim.Simulation(seed=4, config=dosim.Config(
        jitter_scale_ms=40.0, jitter_shape=1.1, uniqueness_check_ms=0.0, trace_level=level))
    ends = room(sim, 2)
    times: list[float] = []
    got: list[str] = []

    def listen() -> Any:
        for _ in range(20):
            got.append((yield ends[1].receive()))
            times.append(sim.now)

    sim.process(listen())
    say(sim, ends[0], 'burst', at=2_000)
    sim.run()
    assert got == [f'b{i}' for i in range(20)]
    assert times == sorted(times)
    assert len(set(times)) < len(times)   # some drew a shorter trip and waited their turn


def test_a_write_between_two_sends_holds_the_second_at_the_output_gate():
    """The output gate: what an object sends after a write leaves only once the write is
    confirmed. A broadcast batch ends at the write: the first client gets the message one
    trip after the send, the others one trip after the confirmation -- the same moments as
    at trace level ``full``, where nothing is batched."""
    arrivals = {}
    for level in ('full', 'summary'):
        sim = make_sim(trace_level=level)
        ends = room(sim, 3)
        when: list[float] = []

        def listen(end: Any, when: list[float] = when, sim: dosim.Simulation = sim) -> Any:
            yield end.receive()
            when.append(sim.now)

        for end in ends:
            sim.process(listen(end))
        say(sim, ends[0], 'write:x', at=2_000)
        sim.run()
        arrivals[level] = when
        first_trip = 2_000 + 2 * latency(sim)
        assert when[0] == first_trip
        assert when[1] == when[2] > first_trip
    assert arrivals['full'] == arrivals['summary']


def test_a_passive_client_holds_only_messages_still_in_flight(level):
    """Nobody reads this client for 300 broadcasts; what is held for it in flight is
    trimmed as new ones come: never more than TRIM messages in its own queue (trace level
    ``full``, where every send goes alone) or ROWS broadcasts in its column (``summary``,
    where each broadcast is one row of the room's :class:`dosim.fanout.Fanout`)."""
    sim = make_sim(trace_level=level)
    ends = room(sim, 2)
    for i in range(300):
        say(sim, ends[0], f'm{i}', at=2_000 + 100 * i)
    peak = 0

    def watch() -> Any:
        nonlocal peak
        while sim.now < 2_000 + 100 * 300:
            yield sim.timeout(50)
            peak = max(peak, in_flight(ends[1]))

    sim.process(watch())
    sim.run()
    assert 0 < peak <= (TRIM if level == 'full' else ROWS)
    assert ends[1].received == [f'm{i}' for i in range(300)]
