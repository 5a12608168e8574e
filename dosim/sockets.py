"""The runtime's side of one object's WebSockets (see :mod:`dosim.websocket`).

A :class:`SocketHub` belongs to an :class:`~dosim.actor.Actor` and outlives its instances, as
the runtime holds hibernatable sockets while the object hibernates. It moves messages over the
network (one-way latency each way, in order per socket), answers auto-responses without
waking the object, turns client messages and closes into events for the object, holds the
object's sends at the output gate, meters incoming messages, and closes everything on a reset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .context import wake_after
from .fanout import Fanout
from .inflight import Flight, clamp
from .inflight import send as in_flight
from .outbox import NO_BATCH
from .websocket import RESET_REASON, SocketEvent, WebSocket, WebSocketRequestResponsePair

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ['SocketHub']


class SocketHub:
    """The accepted server ends of one object, and its auto-response."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.sockets: list[WebSocket] = []
        self.standard = 0   # how many of them are standard (not hibernatable)
        self.auto_response: WebSocketRequestResponsePair | None = None
        self.sends = 0
        self._tagged: dict[str | None, list[WebSocket]] = {}   # hibernatable(tag), until a change
        self.fan: Fanout | None = None   # broadcasts in flight to the clients (dosim.fanout)
        self.batch: Any = NO_BATCH       # the message of its open batch (dosim.outbox)

    # -- accepting ------------------------------------------------------------------------
    def adopt(self, ws: WebSocket, hibernatable: bool, tags: tuple[str, ...]) -> None:
        cfg = self.actor.sim.config
        if hibernatable and len(self.sockets) - self.standard >= cfg.ws_max_sockets:
            raise RuntimeError(
                f'this object already holds {cfg.ws_max_sockets} hibernatable WebSockets'
            )
        ws.actor = self.actor
        ws._hub = self
        client = ws.peer
        if client._flying is None:   # where its messages will wait (dosim.inflight)
            client._flying = Flight()
            client._env = self.actor.sim.env
        if not self.actor._trace.full and ws._col is None:   # sends may be batched
            ws._outbox = self.actor.sim.outbox                 # (dosim.outbox) into a
            if self.fan is None:                               # column (dosim.fanout)
                self.fan = Fanout(self.actor.sim.env)
            self.fan.join(ws)
        ws.hibernatable = hibernatable
        ws.tags = tags
        ws.label = self.actor.label
        self.sockets.append(ws)
        self._tagged.clear()
        if not hibernatable:
            self.standard += 1
        self.actor.event('websocket_accept', -1, 'hibernatable' if hibernatable else 'standard')
        if not hibernatable:
            self.actor.lifecycle.pin(ws, math.inf)

    def hibernatable(self, tag: str | None = None) -> list[WebSocket]:
        """The open hibernatable sockets (with *tag*, if given), in the order accepted: a
        new list each time (a room broadcasting each message asks for every message), made
        from one kept until a socket comes or goes."""
        found = self._tagged.get(tag)
        if found is None:
            found = self._tagged[tag] = [
                s for s in self.sockets
                if s.hibernatable and not s.closed and (tag is None or tag in s.tags)]
        return found.copy()

    def open_standard(self) -> bool:
        return self.standard > 0

    def _forget(self, ws: WebSocket) -> None:
        self._tagged.clear()
        if ws._col is not None and self.fan is not None:   # its column is free again
            outbox = self.actor.sim.outbox
            if outbox.cols:   # (an open batch may still name it)
                outbox.flush()
            self.fan.leave(ws)
        if ws in self.sockets:
            self.sockets.remove(ws)
            if not ws.hibernatable:
                self.standard -= 1
        if not ws.hibernatable:
            self.actor.lifecycle.unpin(ws)

    # -- client to object ---------------------------------------------------------------------
    def _carry(self, ws: WebSocket, deliver: Callable[..., None], *args: Any) -> None:
        """Call ``deliver(*args)`` after one network trip, keeping this socket's messages in
        order."""
        env = self.actor.sim.env
        now = env._now
        arrive = max(now + self.actor.sim.network.one_way(ws.peer.origin, self.actor),
                     ws._last_arrival)
        ws._last_arrival = arrive
        # (not a SimPy timeout with closures: every client message passes here)
        wake_after(env, arrive - now, Trip(deliver, args))

    def from_client(self, ws: WebSocket, message: Any, size: int) -> None:
        self._carry(ws, self._arrive, ws, message, size)

    def _arrive(self, ws: WebSocket, message: Any, size: int) -> None:
        actor = self.actor
        if ws.closed:
            return
        actor.meters['ws_messages_in'] += 1
        if size > actor.sim.config.ws_max_message_bytes:
            actor.event('websocket_error', -1, f'message of {size} bytes is too large')
            self._enqueue(ws, 'websocket_error', (ValueError('message too large'),))
            ws.close(1009, 'Message too large')
            return
        pair = self.auto_response
        if pair is not None and message == pair.request:
            ws.auto_response_ms = actor.sim.config.start_epoch_ms + actor.sim.env.now
            actor.event('websocket_auto_response', -1, pair.request)
            self._to_client(ws, pair.response)
            return
        if actor._trace.full:
            actor.event('websocket_message', -1, f'{size} bytes')
        self._enqueue(ws, 'websocket_message', (message,))

    def _enqueue(self, ws: WebSocket, method: str, args: tuple[Any, ...]) -> None:
        self.actor.deliver_event(SocketEvent(self.actor, ws, method, args))

    def closed_by_client(self, ws: WebSocket, code: int, reason: str) -> None:
        def arrive() -> None:
            if ws.closed:
                return
            ws._mark_closed(code, reason)
            self._forget(ws)
            self.actor.event('websocket_close', -1, f'{code} by client')
            self._enqueue(ws, 'websocket_close', (code, reason, True))

        self._carry(ws, arrive)

    # -- object to client ---------------------------------------------------------------------
    def send(self, ws: WebSocket, message: Any) -> None:
        """The object sends: held at the output gate, then one network trip."""
        if not ws.accepted:
            raise RuntimeError('You must call one of accept() or state.acceptWebSocket() on '
                               'this WebSocket before sending messages.')
        self.sends += 1
        n = self.sends
        actor = self.actor
        full = actor._trace.full
        if full:   # the send, then its departure: dosim.check pairs them
            actor.event('websocket_send', -1, f'#{n}')
        storage = actor.storage
        if storage is None or (storage.open is None and not storage.pending):
            # no write waits for confirmation: the gate lets it go at once (when_confirmed)
            if full:
                actor.event('websocket_sent', -1, f'#{n}')
            self._to_client(ws, message)
            return

        def depart() -> None:
            if actor._trace.full:
                actor.event('websocket_sent', -1, f'#{n}')
            self._to_client(ws, message)

        storage.when_confirmed(depart)

    def _to_client(self, ws: WebSocket, message: Any) -> None:
        client = ws.peer
        sim = self.actor.sim
        in_flight(sim.env, client, sim.network.one_way(self.actor, client.origin), message)

    def closed_by_server(self, ws: WebSocket, code: int, reason: str) -> None:
        self._forget(ws)
        self.actor.event('websocket_close', -1, f'{code} by object')
        self._close_client(ws, code, reason)

    def _close_client(self, ws: WebSocket, code: int, reason: str) -> None:
        """The close travels to the client behind every message sent before it."""
        client = ws.peer
        env = self.actor.sim.env
        arrive = clamp(client, env.now + self.actor.sim.network.one_way(self.actor, client.origin))
        env.timeout(arrive - env.now).callbacks.append(
            lambda _ev: client._mark_closed(code, reason))

    def close_all(self, code: int = 1011, reason: str = RESET_REASON) -> None:
        """A reset or a deploy: every socket closes, hibernatable ones too."""
        for ws in list(self.sockets):
            ws._mark_closed(code, reason)
            self._forget(ws)
            self._close_client(ws, code, reason)


class Trip:
    """A message or close from a client, on its way to the object: its place in SimPy's
    queue, which calls ``deliver(*args)`` when it arrives (SimPy's event loop reads only
    ``callbacks`` and ``_ok``)."""

    __slots__ = ('args', 'callbacks', 'deliver')
    _ok = True

    def __init__(self, deliver: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.deliver = deliver
        self.args = args
        self.callbacks: Any = _ARRIVED

    def _arrived(self) -> None:
        self.deliver(*self.args)


_ARRIVED = (Trip._arrived,)   # called with the trip, as its own event
