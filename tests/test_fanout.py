"""Broadcasts as rows of a matrix (:mod:`dosim.fanout`): bookkeeping, never behaviour.

At trace level ``summary`` a broadcast to a room's clients becomes one row of the room's
``Fanout``: latency, the one-ordered-stream clamp and the row for all clients at once. At
level ``full`` nothing is batched: every message goes into its client's own queue, one by
one. These tests run the same rooms at both levels and ask for the same thing, to the
bit: every message, in the same order, seen at the same simulated moment -- with jitter,
with single sends mixed into broadcasts, with a socket named twice in one step, with
clients that start waiting half-way, with connections that come and go, and with many more
broadcasts in flight than the matrix has rows.
"""

from __future__ import annotations

import ctypes
import gc
from itertools import compress, islice, permutations
from typing import Any, ClassVar

import pytest

import dosim
from dosim.fanout import ROWS, SHAPES, Fanout, _hand_over
from dosim.websocket import WebSocketPair
from tests.test_inflight import room


class Room(dosim.DurableObject):
    """A broadcasting room with a few extra moves, chosen by the message:

    * ``'solo:<m>'``: ``<m>`` to the sender only (a single send);
    * ``'gated:<m>'``: a write, then ``<m>`` to the sender (held by the output gate);
    * ``'twice:<m>'``: ``<m>`` to everyone, and once more to the first client, in one step;
    * ``'mixed:<m>'``: ``<m>`` to everyone but the sender, then ``'re:<m>'`` to the sender;
    * ``'backwards:<m>'``: ``<m>`` to everyone but the sender, the last to join first;
    * ``'logged:<m>'``: ``<m>`` to everyone but the sender, a write, then ``'re:<m>'`` to
      the sender (held by the output gate until the write is confirmed);
    * ``'bye'``: the object closes the sender's socket;
    * ``'abort:<m>'``: ``<m>`` to everyone but the sender, then the object resets;
    * anything else: to everyone but the sender."""

    def fetch(self, request: Any) -> Any:
        client, server = dosim.WebSocketPair()
        self.ctx.accept_websocket(server, ['all'])
        return dosim.Response(status=101, web_socket=client)

    def websocket_message(self, ws: Any, message: str) -> None:
        everyone = self.ctx.get_websockets('all')
        kind, _, text = message.partition(':')
        if kind == 'solo':
            ws.send(text)
        elif kind == 'gated':
            self.ctx.storage.put('last', text)
            ws.send(text)
        elif kind == 'twice':
            for other in everyone:
                other.send(text)
            everyone[0].send(text)
        elif kind == 'bye':
            ws.close(1000, 'bye')
        elif kind == 'backwards':
            for other in reversed(everyone):
                if other is not ws:
                    other.send(text)
        elif kind == 'logged':
            for other in everyone:
                if other is not ws:
                    other.send(text)
            self.ctx.storage.put('last', text)
            ws.send(f're:{text}')
        else:
            for other in everyone:
                if other is not ws:
                    other.send(text or message)
            if kind == 'mixed':
                ws.send(f're:{text}')
            if kind == 'abort':
                self.ctx.abort('reset by test')


def run_room(level: str, script: list[tuple[float, int, str]], clients: int = 6,
             waiters: tuple[int, ...] = (), wait_from: float = 0.0, looks: int = 400,
             seed: int = 3, jitter: float = 8.0) -> dict[str, Any]:
    """Connect *clients* clients, play *script* (time, client, message), let the clients in
    *waiters* wait in ``receive()`` from *wait_from* on, and look at every client's
    ``received`` at *looks* moments. Returns what was seen and when."""
    sim = dosim.Simulation(seed=seed, config=dosim.Config(
        jitter_scale_ms=jitter, jitter_shape=1.5, uniqueness_check_ms=0.0, trace_level=level))
    ends = room(sim, clients, Room)
    woke: list[tuple[int, float, str]] = []
    seen: list[tuple[float, tuple[int, ...]]] = []

    def say(at: float, who: int, message: str) -> Any:
        yield sim.timeout(at - sim.now)
        ends[who].send(message)

    def wait(who: int) -> Any:
        yield sim.timeout(wait_from - sim.now)
        while True:
            try:
                message = yield ends[who].receive()
            except dosim.WebSocketClosedError:
                return
            woke.append((who, sim.now, message))

    def look() -> Any:
        end = max(at for at, _, _ in script) + 500
        for i in range(looks):
            yield sim.timeout((end - sim.now) / (looks - i))
            seen.append((sim.now, tuple(len(e.received) for e in ends)))

    for at, who, message in script:
        sim.process(say(at, who, message))
    for who in waiters:
        sim.process(wait(who))
    sim.process(look())
    sim.run()
    return {'received': [list(e.received) for e in ends], 'woke': woke, 'seen': seen,
            'now': sim.now, 'closed': [(e.closed, e.close_code) for e in ends]}


def same_at_both_levels(**kwargs: Any) -> dict[str, Any]:
    full = run_room('full', **kwargs)
    summary = run_room('summary', **kwargs)
    assert summary == full
    return summary


def test_jittered_broadcasts_arrive_in_order_at_the_same_moments():
    """Forty messages 5 ms apart with a heavy-tailed jitter: later messages often draw a
    shorter trip and wait behind the one before them. Every client sees each broadcast at
    the moment one event per delivery would have shown it (the room gets the messages of
    different clients in the order they land, not the order sent)."""
    script = [(2_000 + 5 * i, i % 6, f'm{i}') for i in range(40)]
    got = same_at_both_levels(script=script)
    for who, received in enumerate(got['received']):
        assert sorted(received) == sorted(f'm{i}' for i in range(40) if i % 6 != who)
    assert got['received'][0] != sorted(got['received'][0], key=lambda m: int(m[1:]))


def test_single_sends_between_broadcasts_keep_their_place():
    """A reply to the sender alone goes into its own queue (in a room of six, one send is
    too small a row; a reply held by the output gate leaves on its own); broadcasts before
    and after it sit in its column of the matrix. The client still sees one stream, in send
    order."""
    kinds = ('mixed', 'solo', 'gated')
    script = [(2_000 + 3 * i, i % 6, f'{kinds[i % 3]}:{i}') for i in range(60)]
    got = same_at_both_levels(script=script)
    assert sum(m.startswith('re:') for m in got['received'][0]) == 10


def test_a_write_after_a_broadcast_ends_its_batch_not_its_message():
    """A write opens the output gate's next batch of writes, so a send after it waits for
    its confirmation and cannot join the broadcast before it. The broadcast itself still
    carries its message: every other client gets each text, and the sender its reply."""
    script = [(2_000 + 40 * i, i % 6, f'logged:{i}') for i in range(12)]
    got = same_at_both_levels(script=script)
    for who, received in enumerate(got['received']):
        mine = [i for i in range(12) if i % 6 == who]
        assert sorted(received) == sorted(
            [str(i) for i in range(12) if i not in mine] + [f're:{i}' for i in mine])


def test_broadcasts_in_any_order_of_clients():
    """Rows whose clients are not in column order are written by index, the rest as whole
    rows of the matrix: mixed in one matrix, and with ties (no jitter, every client equally
    far), each message still arrives when and in the order it would alone."""
    script = [(2_000 + 7 * i, i % 5, f'backwards:m{i}' if i % 3 else f'm{i}')
              for i in range(40)]
    sent = [text.partition(':')[2] or text for _, _, text in script]
    jittered = same_at_both_levels(script=script)
    assert sorted(jittered['received'][5]) == sorted(sent)   # (the way in has jitter too)
    assert jittered['received'][5] != sent
    assert same_at_both_levels(script=script, jitter=0.0)['received'][5] == sent


def test_a_socket_named_twice_in_one_step():
    """The same socket twice in one broadcast: its second copy must land behind its first;
    the batch goes one socket after the other."""
    got = same_at_both_levels(script=[(2_000, 1, 'twice:x'), (2_001, 2, 'y')])
    assert sum(received.count('x') for received in got['received']) == 7
    assert ['x', 'x', 'y'] in got['received'] or ['x', 'x'] in got['received']


def test_clients_that_start_waiting_half_way():
    """Two clients start waiting in ``receive()`` after 20 broadcasts are already on their
    way: those move from their column to their own queues, and each wakes at the very
    moment its message lands."""
    script = [(2_000 + 2 * i, 5, f'm{i}') for i in range(60)]
    got = same_at_both_levels(script=script, waiters=(0, 3), wait_from=2_040)
    assert [m for who, _, m in got['woke'] if who == 0] == [f'm{i}' for i in range(60)]


def test_more_broadcasts_in_flight_than_the_matrix_has_rows():
    """Broadcasts far faster than the trip: more than ROWS are in flight at once, so the
    matrix grows instead of dropping rows nobody has passed."""
    script = [(2_000 + 0.01 * i, i % 2, f'm{i}') for i in range(3 * ROWS)]
    got = same_at_both_levels(script=script, clients=3, looks=50)
    assert len(got['received'][2]) == 3 * ROWS


@pytest.mark.parametrize('share', [1.0, 0.99, 0.9, 0.5, 0.02])
def test_a_trim_hands_each_client_the_rows_it_is_in(share):
    """A trim hands a client the messages of the rows it is in, in order: for a room's
    client nearly every row (whole slices between the few it is not in), for others few
    (one by one). Either way, what ``itertools.compress`` would pick."""
    rnd = dosim.Simulation(seed=7).stream('test')
    msgs = [f'm{i}' for i in range(ROWS)]
    for start, cut in [(0, ROWS), (5, ROWS), (17, 200), (30, 31), (40, 40)]:
        flags = bytes(rnd.random() < share for _ in range(cut - start))
        received = ['before']
        _hand_over(received, msgs, start, flags)
        assert received == ['before', *compress(msgs[start:cut], flags)]


def test_clients_lists_leave_the_young_generation_at_the_first_trim():
    """The garbage collector reads every item of a list in its young generation at each
    young collection, and a client's ``received`` grows by hundreds of messages at every
    trim. So the first trim after a client joined makes one young collection: by the time
    the lists are long, they sit in an older generation (during a run, young collections
    are rare, :data:`dosim.simulation.GC_YOUNG_THRESHOLD`, and the test makes none)."""
    sim = dosim.Simulation(seed=1, config=dosim.Config(uniqueness_check_ms=0.0,
                                                       trace_level='summary'))
    ends = room(sim, 4, Room)
    young: list[bool] = []

    def say() -> Any:
        for i in range(2 * ROWS):
            yield sim.timeout(5.0)
            ends[i % 4].send(f'm{i}')
        yield sim.timeout(1_000.0)   # every message has landed and been handed over
        in_young = {id(obj) for obj in gc.get_objects(generation=0)}
        young.extend(id(end.received) in in_young for end in ends)

    sim.process(say())
    sim.run()
    assert young == [False] * 4
    assert [len(end.received) for end in ends] == [2 * ROWS * 3 // 4] * 4


def test_broadcast_shapes_are_remembered_and_their_number_is_bounded():
    """A room sends to the same sets of clients again and again, so a Fanout remembers
    each set's columns as an array (the same array each time it is asked), and that a set
    naming a column twice cannot be one row. It forgets them all when it holds SHAPES, so
    a room whose clients keep changing does not grow without bound."""
    fan = Fanout(dosim.Simulation().env)
    first = fan.columns([0, 2, 3])
    assert first.cols.tolist() == [0, 2, 3]
    assert first.mask[:5].tolist() == [True, False, True, True, False]
    assert first.ascending
    assert not fan.columns([3, 0, 2]).ascending
    assert fan.columns([0, 2, 3]) is first
    assert fan.columns([0, 2, 0]) is None
    assert len(fan.shapes) == 3
    for cols in islice(permutations(range(8), 4), SHAPES - 3):   # (8 columns so far)
        fan.columns(list(cols))
    assert len(fan.shapes) == SHAPES
    fan.columns([7, 1])   # one more: everything remembered is forgotten first
    assert list(fan.shapes) == [(7, 1)]
    assert fan.columns([0, 2, 3]) is not first
    assert fan.columns([0, 2, 3]).cols.tolist() == [0, 2, 3]


def test_the_fields_a_broadcast_reads_come_first_in_a_socket():
    """Each ``send`` of a broadcast reads three fields of its socket. They are the first
    words after CPython's object header (reference count, type), close to the count, which
    iterating the room's list touches anyway: in a run of many rooms, every memory line of
    a socket is a cache miss by the room's next message, so the fewer lines, the better.
    (The check reads the socket's memory: words 2 to 4 hold the three fields.)"""
    end = WebSocketPair()[1]
    marks = [object(), object(), object()]
    end._col, end._hub, end._outbox = marks
    words = (ctypes.c_void_p * 5).from_address(id(end))
    assert [words[i] for i in (2, 3, 4)] == [id(mark) for mark in marks]


def test_sockets_that_close_free_their_columns():
    """Three clients leave (the object closes their sockets) while broadcasts are on their
    way to them: those still arrive, and each close travels behind them."""
    script = [(2_000 + 3 * i, i % 3, f'm{i}') for i in range(30)]
    script += [(2_010 + 20 * k, 3 + k, 'bye') for k in range(3)]
    got = same_at_both_levels(script=script)
    assert got['closed'] == [(False, None)] * 3 + [(True, 1000)] * 3


@pytest.mark.parametrize('level', ['summary', 'requests'])
def test_a_closed_socket_column_is_reused(level):
    """A room whose clients come and go does not grow its matrix with every connection
    ever made: the column of a socket the object closed goes to the next client."""
    sim = dosim.Simulation(seed=1, config=dosim.Config(trace_level=level))
    ns = sim.namespace('ROOM', Room)

    def visit(i: int) -> Any:
        ws = yield from dosim.connect_websocket(ns.get_by_name('r'))
        ws.send(f'hi{i}')
        yield sim.timeout(50)
        ws.send('bye')

    def arrivals() -> Any:
        for i in range(40):
            sim.process(visit(i))
            yield sim.timeout(200)

    sim.process(arrivals())
    sim.run()
    hub = next(iter(ns.actors.values())).sockets
    assert sim.meters['ws_messages_in'].sum() == 80   # 40 clients came, said hi and left
    assert len(hub.fan.clients) <= 2   # at most two were connected at once


def test_a_reset_with_broadcasts_on_their_way_to_many_clients():
    """Twenty clients (more columns than a new matrix has: it widens). The room broadcasts
    and resets in the same step: every client still gets the broadcast, then the close
    (code 1011) right behind it, as one event per delivery would have shown."""
    script = [(2_000 + 4 * i, i % 20, f'm{i}') for i in range(30)] + [(2_200, 0, 'abort:last')]
    got = same_at_both_levels(script=script, clients=20, waiters=(7,), wait_from=2_100)
    assert got['closed'] == [(True, 1011)] * 20
    assert all(received[-1] == 'last' for received in got['received'][1:])


class ClosingRoom(Room):
    """Closes the fourth socket, then broadcasts to the list it took before the close."""

    refused: ClassVar[list[str]] = []

    def websocket_message(self, ws: Any, message: str) -> None:
        everyone = self.ctx.get_websockets('all')
        everyone[3].close(1000, 'bye')
        try:
            for other in everyone:
                other.send(message)
        except RuntimeError as exc:
            self.refused.append(str(exc))


@pytest.mark.parametrize('level', ['full', 'summary'])
def test_a_socket_closed_mid_broadcast_refuses_its_send(level):
    """A closed end never joins a broadcast: its ``send`` raises, as it would alone, and
    the clients before it in the list still get the message."""
    sim = dosim.Simulation(seed=1, config=dosim.Config(trace_level=level))
    ends = room(sim, 6, ClosingRoom)
    ClosingRoom.refused = []
    ends[0].send('hello')
    sim.run()
    assert ClosingRoom.refused == ['WebSocket send() after close()']
    assert sorted(len(end.received) for end in ends) == [0, 0, 0, 1, 1, 1]
