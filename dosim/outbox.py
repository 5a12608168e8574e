"""A broadcast: the sends of one handler step, put in flight together.

A chat room answers each message by sending it to every other client::

    for other in self.ctx.get_websockets('chat'):
        if other is not ws:
            other.send(message)

Every one of those sends is the same message, from the same object, at the same moment,
through the same output gate. So the runtime takes them as one *batch*: ``send`` checks
only what differs from socket to socket (is this end open?) and notes the socket. Each
message still gets the event id it would have taken if sent alone (its place among events
at the same moment): while a batch is open, SimPy's ids come through :class:`Reserving`,
so whatever takes one first -- or the flush -- reserves the ids of the sends before it. The
rest -- the latency draws, the sockets' ordered streams, the messages in flight --
is done for the whole batch at once when it is *flushed*: as one row of the object's
:class:`~dosim.fanout.Fanout` (the network stream's draws taken as one array,
:class:`~dosim.streams.Uniforms`, and the arithmetic done later for many rows at once), or,
when some of its clients are watched (someone waits in ``receive()``), a fault adds
latency, a socket is named twice or the batch is small next to the room, one socket after
the other into each client's own queue (:mod:`dosim.inflight`). Either way the batch is flushed:

* before anything else draws a latency from the network stream
  (:meth:`dosim.network.Network.one_way`), so that each message gets the very draw it would
  have got if sent alone, in the same order;
* at the latest by an urgent event at the same moment, before time moves on.

A batch holds one message (the same object) from one object while its output gate is
open. A write opens the gate's next batch of writes, so it ends the broadcast batch (what is
sent after the write waits for it, see :meth:`dosim.sockets.SocketHub.send`); another
message or another object starts a new batch. With full trace recording every send is
recorded, one by one, and nothing is batched.
"""

from __future__ import annotations

import math
from itertools import count
from typing import TYPE_CHECKING, Any

from .heap import heappush
from .inflight import send as in_flight

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .fanout import Fanout
    from .simulation import Simulation
    from .sockets import SocketHub

__all__ = ['NO_BATCH', 'Outbox']

#: a hub's :attr:`~dosim.sockets.SocketHub.batch` while it holds no open batch: no message
#: is this object, so a ``send`` never mistakes it for its batch's message
NO_BATCH: Any = object()


class Unattached:
    """The hub of a socket no object has accepted: it never holds a batch."""

    batch = NO_BATCH


UNATTACHED = Unattached()


class Outbox:
    """The open batch of one simulation (see the module docstring). It is also its own
    flush event in SimPy's queue."""

    __slots__ = ('_due', '_env', '_reserving', '_sim', 'callbacks', 'cols', 'eids', 'hub',
                 'ids', 'message', 'reserved')
    _ok = True

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self._env = env = sim.env
        self.ids = env._eid             # SimPy's event ids (env._eid while no batch is open)
        self.hub: SocketHub | None = None
        self.message: Any = None        # what the open batch sends
        self.cols: list[int] = []       # the column of each send's client (dosim.fanout) ...
        self.eids: list[range] = []     # ... the event ids reserved for them, in runs ...
        self.reserved = 0               # ... for this many of them
        self._reserving = Reserving(self)
        self.callbacks: Any = None
        self._due = False               # a flush event waits in SimPy's queue

    def open(self, hub: SocketHub, message: Any) -> None:
        """Start a batch of *message* from *hub*'s object (flushing the one before). While
        it is open, ``hub.batch`` is *message*: a ``send`` of that very message by one of
        the hub's sockets joins it (:meth:`dosim.websocket.WebSocket.send`), and SimPy's
        event ids come through :class:`Reserving`."""
        if self.cols:   # (a batch is never open without a send in it)
            self.flush()
        self.hub = hub
        self.message = hub.batch = message
        env = self._env
        if not self._due:
            self._due = True
            self.callbacks = _FLUSH_DUE
            heappush(env._queue, (env._now, 0, next(env._eid), self))
        env._eid = self._reserving

    def reserve(self) -> None:
        """Reserve the next event ids for the sends that have none yet: the ids they would
        have taken one by one, as nothing else took one since."""
        k = len(self.cols) - self.reserved
        if k:
            first = next(self.ids)
            if k > 1:   # k - 1 more: the counter moves on (all of SimPy's ids come from it)
                self.ids = count(first + k)
            self.eids.append(range(first, first + k))
            self.reserved += k

    def end(self) -> None:
        """No more sends join the open batch (a write: what is sent next waits for it at
        the output gate). What it holds is flushed as usual."""
        if self.hub is not None:
            self.hub.batch = NO_BATCH

    def _flush_due(self) -> None:
        self._due = False
        self.flush()

    def flush(self) -> None:
        """Put every message of the batch in flight, in the order sent; close the batch."""
        self.reserve()
        self._env._eid = self.ids
        cols, runs, message, hub = self.cols, self.eids, self.message, self.hub
        self.message, self.hub = None, None
        if hub is not None:
            hub.batch = NO_BATCH
        if not cols:
            return
        self.cols, self.eids, self.reserved = [], [], 0
        eids = runs[0] if len(runs) == 1 else [eid for run in runs for eid in run]
        fan = hub.fan
        if fan.watched or self._sim.faults.latency_spikes or 4 * len(cols) < len(fan.clients):
            self._one_by_one(fan, cols, eids, message, hub)
            return
        shape = fan.columns(cols)
        if shape is None:   # a socket twice: its clamps chain
            self._one_by_one(fan, cols, eids, message, hub)
            return
        base = fan.base
        if fan.unplaced:   # the first message to some client: where it is
            for col in cols:
                if math.isnan(base[col]):
                    base[col] = self._route(fan, col, hub)[1]
                    fan.unplaced -= 1
        # Network.one_way's latency for all the row's clients: its draws, in the order sent,
        # taken now; its arithmetic done for many rows at once (Fanout._make)
        net = self._sim.network
        jitters = net._jitters.take(len(cols)) if net._jitter_scale else None
        fan.push(message, shape, eids, jitters, self._env._now)

    def _route(self, fan: Fanout, col: int, hub: SocketHub) -> tuple[Any, ...]:
        """(client, latency without jitter, the client's place) of a column's socket."""
        client = fan.clients[col]
        ws = client.peer
        route = ws._route
        if route is None:
            net = self._sim.network
            route = ws._route = (client, net.base_ms(hub.actor, client.origin),
                                 net.where(client.origin))
        return route

    def _one_by_one(self, fan: Fanout, cols: list[int], eids: Sequence[int], message: Any,
                     hub: SocketHub) -> None:
        """The batch one socket after the other, each message into its client's own queue
        (:func:`dosim.inflight.send`), with :meth:`dosim.network.Network.one_way`'s latency
        (its arithmetic, its draws in the order sent)."""
        actor, sim, env = hub.actor, self._sim, self._env
        faults, net = sim.faults, sim.network
        jitter, draw = net._jitter_scale, net._jitter
        spikes = faults.latency_spikes
        for col, eid in zip(cols, eids, strict=True):
            client, ms, place = self._route(fan, col, hub)
            if jitter:
                ms += draw()
            if spikes:
                ms += faults.latency_extra(actor.location, place)
            in_flight(env, client, ms, message, eid)


_FLUSH_DUE = (Outbox._flush_due,)   # called with the outbox, as its own event


class Reserving:
    """SimPy's event ids while a batch is open (``env._eid``): whatever takes one first
    reserves the ids of the batch's sends so far (:meth:`Outbox.reserve`), so that each
    send keeps its place among events at the same moment, as if it had taken its own id."""

    __slots__ = ('_out',)

    def __init__(self, out: Outbox) -> None:
        self._out = out

    def __iter__(self) -> Reserving:
        return self

    def __next__(self) -> int:
        out = self._out
        if out.reserved < len(out.cols):
            out.reserve()
        return next(out.ids)
