"""Messages in flight from an object to its WebSocket clients, delivered when looked at.

A chat room broadcasts every message to every client: 100 rooms of 100 clients make 60
million deliveries an hour. A delivery changes nothing but the client's own end -- its
``received`` list, whose unread tail is what ``receive()`` hands out -- so instead of one
SimPy event per delivery (and with the sends of one handler step batched, see
:mod:`dosim.outbox`), the runtime
keeps each client's messages in flight in a queue (in send order, which is also arrival
order: a WebSocket is one ordered stream) and hands them over when someone looks:

* reading ``received`` (or anything that reads it), ``receive()`` and a close bring the
  client up to date first: every message that would already have arrived is delivered, in
  order. "Would have arrived" is exact, ties included: a message's place in time is the key
  ``(arrival, NORMAL, event id)`` its own SimPy event would have had (the event id it
  took when sent; a broadcast's, the ids its sends would have taken, :mod:`dosim.outbox`),
  and it has arrived if that key is before the key of the event being processed
  (:attr:`dosim.simulation.Environment.key`);
* a client waiting in ``receive()`` needs its next message as an event: the first message in
  flight is then put into SimPy's queue under its reserved key (:func:`arm`), and the next
  one after it while anyone still waits;
* a message is also put in the queue (as an event that does nothing) when it arrives later
  than anything sent before it, so that a run ends at the same time as if every delivery
  were an event (once no event is left, everything up to that time has arrived:
  :data:`dosim.loop.AFTER_ALL`);
* a client's queue is also trimmed when messages are sent to it (arrived ones handed over
  once it holds :data:`TRIM`), so that it never holds many more than are in flight.

A broadcast (a batch of sends, :mod:`dosim.outbox`) does not even go into each client's
queue: it becomes one row of the object's :class:`~dosim.fanout.Fanout`, a matrix with a
column per client, and a client's column comes after its own queue when it is caught up.

The result is the same sequence of states as one event per delivery, at a fraction of the
cost; ``tests/test_inflight.py`` and ``tests/test_fanout.py`` pin it down, ties included.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from .heap import heappush

if TYPE_CHECKING:
    from .websocket import WebSocket

__all__ = ['TRIM', 'Flight', 'Noop', 'Received', 'arm', 'catch_up', 'catch_up_own', 'clamp',
           'in_flight', 'pending', 'send']

#: a client's queue is trimmed (its arrived messages handed over) when it holds this many
TRIM = 32
#: ... and its arrays lose their handed-over front once it is this long (and half of them)
COMPACT = 256


class Flight:
    """The messages in flight to one client, in send order (which is arrival order): their
    arrival times and reserved event ids in flat arrays, the messages in a list, and
    ``head``, the first not yet handed over. Flat arrays hold a message's key without a
    tuple, a float and an int object, and hand arrived messages over with one slice."""

    __slots__ = ('at', 'eids', 'head', 'msgs')

    def __init__(self) -> None:
        self.at = array('d')      # arrival times (ms)
        self.eids = array('q')    # reserved event ids
        self.msgs: list[Any] = []
        self.head = 0

    def __len__(self) -> int:   # messages still in flight
        return len(self.msgs) - self.head

    def hand_over(self, cut: int) -> list[Any]:
        """The messages from ``head`` up to *cut*, now handed over; drops the front of the
        arrays once they are all handed over, or are long and mostly handed over."""
        msgs = self.msgs
        out = msgs[self.head:cut]
        if cut == len(msgs):
            del self.at[:], self.eids[:], msgs[:]
            cut = 0
        elif cut >= COMPACT and 2 * cut >= len(msgs):
            del self.at[:cut], self.eids[:cut], msgs[:cut]
            cut = 0
        self.head = cut
        return out


class Received(list):  # type: ignore[type-arg]
    """A client end's ``received``: a list brought up to date before every read."""

    __slots__ = ('_ws',)

    def __init__(self, ws: WebSocket) -> None:
        super().__init__()
        self._ws = ws

    def _now(self) -> list[Any]:
        ws = self._ws
        if pending(ws):
            catch_up(ws)
        return self

    def __len__(self) -> int:
        return list.__len__(self._now())

    def __iter__(self) -> Any:
        return list.__iter__(self._now())

    def __reversed__(self) -> Any:
        return list.__reversed__(self._now())

    def __getitem__(self, index: Any) -> Any:
        return list.__getitem__(self._now(), index)

    def __contains__(self, item: object) -> bool:
        return list.__contains__(self._now(), item)

    def __eq__(self, other: object) -> bool:
        return list.__eq__(self._now(), other)

    def __ne__(self, other: object) -> bool:
        return list.__ne__(self._now(), other)

    def __lt__(self, other: Any) -> bool:
        return list.__lt__(self._now(), other)

    def __le__(self, other: Any) -> bool:
        return list.__le__(self._now(), other)

    def __gt__(self, other: Any) -> bool:
        return list.__gt__(self._now(), other)

    def __ge__(self, other: Any) -> bool:
        return list.__ge__(self._now(), other)

    def __add__(self, other: Any) -> list[Any]:
        return list(self._now()) + other

    def __radd__(self, other: Any) -> list[Any]:
        return other + list(self._now())

    def __mul__(self, n: Any) -> list[Any]:
        return list(self._now()) * n

    __rmul__ = __mul__
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return list.__repr__(self._now())

    def __reduce__(self) -> Any:   # pickles and copies as the plain list it shows
        return list, (list(self._now()),)

    def copy(self) -> list[Any]:
        return list(self._now())

    def index(self, *args: Any) -> int:
        return list.index(self._now(), *args)

    def count(self, item: Any) -> int:
        return list.count(self._now(), item)


class Noop:
    """A place in SimPy's queue that does nothing when its time comes (see the module
    docstring: the latest message in flight keeps the run going until it arrives). It
    shares its key with that message, which may also be armed: ``__lt__`` lets the queue
    compare the two."""

    __slots__ = ('callbacks',)
    _ok = True

    def __init__(self) -> None:
        self.callbacks: Any = ()

    def __lt__(self, other: object) -> bool:
        return False


def clamp(client: WebSocket, arrive: float) -> float:
    """*arrive*, or later: behind the last message or close sent to *client* (one ordered
    stream); it is now the last one. Kept in the client's column while it has one."""
    fan = client._fan
    if fan is None:
        if arrive < client._last_arrival:
            arrive = client._last_arrival
        client._last_arrival = arrive
        return arrive
    before = float(fan.last[client._col])
    if arrive < before:
        arrive = before
    fan.last[client._col] = arrive
    return arrive


def send(env: Any, client: WebSocket, delay: float, message: Any,
         eid: int | None = None) -> None:
    """Put *message* in flight to *client*, arriving *delay* ms from now, after whatever
    was sent to it before (one ordered stream), under event id *eid* (reserved for a
    batch's send, :mod:`dosim.outbox`; a new one by default)."""
    now = env._now
    fan = client._fan
    if fan is not None and fan.cur[client._col] != fan.n:   # its column's messages first
        fan.settle(client)
    arrive = clamp(client, now + delay)
    if eid is None:
        eid = next(env._eid)
    flight = client._flying   # made when the object accepted the socket (SocketHub.adopt)
    head = flight.head
    if len(flight.msgs) - head >= TRIM and flight.at[head] < now:   # hand over what has
        catch_up(client)                                             # arrived by now
    flight.at.append(arrive)
    flight.eids.append(eid)
    flight.msgs.append(message)
    if arrive > env.last_in_flight:   # the latest yet: the run lasts until it arrives
        env.last_in_flight = arrive
        heappush(env._queue, (arrive, 1, eid, Noop()))
    if client._waiters and not client._armed:
        arm(client)


def pending(client: WebSocket) -> bool:
    """Whether *client* may have messages in flight (in its own queue or its column)."""
    return bool(client._flying) or client._fan is not None


def in_flight(client: WebSocket) -> int:
    """How many messages to *client* are still held in flight (not yet handed over)."""
    count = len(client._flying) if client._flying is not None else 0
    if client._fan is not None:
        count += client._fan.held(client)
    return count


def catch_up(client: WebSocket) -> None:
    """Deliver every message to *client* that has arrived by the event now processed: its
    own queue, then (once that is empty) its column of broadcasts (:mod:`dosim.fanout`)."""
    # arrived: (arrival, NORMAL, eid) <= the key (time, priority, eid) of the event now
    time, priority, eid = client._env.key[:3]
    if client._flying and not _own(client, time, priority, eid):
        return   # some of its own queue is still in flight: its column comes after it
    fan = client._fan
    if fan is not None:
        fan.catch_up(client, time, priority, eid)


def catch_up_own(client: WebSocket) -> None:
    """:func:`catch_up` for the client's own queue only."""
    time, priority, eid = client._env.key[:3]
    _own(client, time, priority, eid)


def _own(client: WebSocket, time: float, priority: int, eid: int) -> bool:
    """Hand over what has arrived of the client's own queue; True if it is now empty."""
    flight = client._flying
    at, head, n = flight.at, flight.head, len(flight.msgs)
    if head == n:
        return True
    if at[n - 1] < time:   # all of them (the common case)
        cut = n
    else:   # arrivals only grow: those before time, then those at time with an earlier key
        cut = bisect_left(at, time, head, n)
        eids = flight.eids
        while cut < n and at[cut] == time and (1, eids[cut]) <= (priority, eid):
            cut += 1
    if cut == head:
        return False
    if client._waiters:   # one by one: each may be what a waiter gets
        for message in flight.hand_over(cut):
            client._deliver(message)
    else:   # client._deliver(message) for each, written out: nobody waits
        client.received.extend(flight.hand_over(cut))
    return cut == n


def arm(client: WebSocket) -> None:
    """Put the first message in flight to *client* into SimPy's queue, under its own key
    (someone waits in ``receive()``)."""
    flight = client._flying
    client._armed = True
    heappush(client._env._queue, (flight.at[flight.head], 1, flight.eids[flight.head],
                                  _Head(client)))


class _Head:
    """The first message in flight to a waiting client, as its SimPy event."""

    __slots__ = ('callbacks', 'client')
    _ok = True

    def __init__(self, client: WebSocket) -> None:
        self.client = client
        self.callbacks = _HEAD_ARRIVES

    def __lt__(self, other: object) -> bool:   # beside the Noop of the same message
        return False

    @staticmethod
    def _arrives(head: _Head) -> None:
        client = head.client
        client._armed = False
        catch_up(client)   # this message, and anything before it
        if client._waiters and client._flying:
            arm(client)


_HEAD_ARRIVES = (_Head._arrives,)
