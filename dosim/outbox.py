"""A broadcast: the sends of one handler step, put in flight together.

A chat room answers each message by sending it to every other client::

    for other in self.ctx.get_websockets('chat'):
        if other is not ws:
            other.send(message)

Every one of those sends is the same message, from the same object, at the same moment,
through the same output gate. So the runtime takes them as one *batch*: ``send`` checks
only what differs from socket to socket (is this end open?), reserves the message's event
id (its place among events at the same moment, as if it were sent alone) and notes the
socket. The rest -- the latency draw, the socket's one ordered stream, the message in flight
(:mod:`dosim.inflight`) -- is done for the whole batch in one loop when it is *flushed*:

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

from heapq import heappush
from typing import TYPE_CHECKING, Any

from .inflight import TRIM, Noop, arm, catch_up

if TYPE_CHECKING:
    from .simulation import Simulation
    from .sockets import SocketHub
    from .websocket import WebSocket

__all__ = ['Outbox']


class Outbox:
    """The open batch of one simulation (see the module docstring). It is also its own
    flush event in SimPy's queue."""

    __slots__ = ('_due', '_env', '_sim', 'callbacks', 'eids', 'ends', 'hub', 'message')
    _ok = True

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self._env = env = sim.env
        self.eids = env._eid            # SimPy's event ids, to reserve one per message
        self.hub: SocketHub | None = None
        self.message: Any = None        # what the open batch sends (None: no batch open)
        self.ends: list[tuple[WebSocket, int]] = []   # (server end, reserved event id)
        self.callbacks: Any = None
        self._due = False               # a flush event waits in SimPy's queue

    def open(self, hub: SocketHub, message: Any) -> None:
        """Start a batch of *message* from *hub*'s object (flushing the one before)."""
        if self.ends:
            self.flush()
        self.hub = hub
        self.message = message
        if not self._due:
            self._due = True
            env = self._env
            self.callbacks = _FLUSH_DUE
            heappush(env._queue, (env._now, 0, next(env._eid), self))

    def _flush_due(self) -> None:
        self._due = False
        self.flush()

    def flush(self) -> None:
        """Put every message of the batch in flight, in the order sent; close the batch.

        :meth:`dosim.network.Network.one_way` and :func:`dosim.inflight.send`, written
        out for a loop over many sockets."""
        ends, message, hub = self.ends, self.message, self.hub
        self.ends, self.message, self.hub = [], None, None
        if not ends:
            return
        actor, sim, env = hub.actor, self._sim, self._env
        now, queue, last = env._now, env._queue, env.last_in_flight
        net, faults = sim.network, sim.faults
        jitter, draw, power = net._jitter_scale, net._random, net._pareto_power
        spikes, trim = faults.latency_spikes, TRIM
        for ws, eid in ends:
            route = ws._route
            if route is None:   # the first message on this socket: where its client is
                client = ws.peer
                route = ws._route = (client, net.base_ms(actor, client.origin),
                                     net.where(client.origin))
            client, ms, place = route
            if jitter:
                ms += jitter * ((1.0 - draw()) ** power - 1.0)
            if spikes:
                ms += faults.latency_extra(actor.location, place)
            arrive = now + ms
            if arrive < client._last_arrival:   # one ordered stream
                arrive = client._last_arrival
            client._last_arrival = arrive
            flight = client._flying
            msgs, head = flight.msgs, flight.head
            if len(msgs) - head >= trim and flight.at[head] < now:
                catch_up(client)
            flight.at.append(arrive)
            flight.eids.append(eid)
            msgs.append(message)
            if arrive > last:   # the latest yet: the run lasts until it arrives (see Noop)
                last = arrive
                heappush(queue, (arrive, 1, eid, Noop()))
            if client._waiters and not client._armed:
                arm(client)
        env.last_in_flight = last


_FLUSH_DUE = (Outbox._flush_due,)   # called with the outbox, as its own event
