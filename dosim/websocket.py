"""WebSockets between simulated clients and objects, and the Hibernation API.

``client, server = dosim.WebSocketPair()`` makes two connected ends. An object keeps
``server`` and returns ``client`` in a ``Response(status=101, web_socket=client)``; the caller
of ``stub.fetch`` receives that response and talks through ``client``:

* ``client.send(message)`` travels over the network and arrives at the object as a
  ``websocket_message(ws, message)`` event, which passes the input gate like a request. A
  message equal to the object's auto-response request is answered by the runtime without
  waking the object;
* ``yield client.receive()`` waits for the next message from the object (it fails with
  :class:`WebSocketClosedError` once the socket is closed and drained);
* ``client.close(code, reason)`` delivers ``websocket_close(ws, code, reason, was_clean)``.

On the object's side, ``ctx.accept_websocket(server, tags)`` makes the socket *hibernatable*:
it stays connected while the object hibernates, and a message wakes it (constructor first).
``server.accept()`` is the standard API instead: the object cannot hibernate while that socket
is open, and is billed duration the whole time. ``server.send`` is held by the output gate like
a response. ``serialize_attachment`` keeps up to 16,384 bytes with the socket, across
hibernation.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from simpy.events import Event

from .inflight import Flight, Received, arm, catch_up, pending
from .outbox import UNATTACHED
from .values import clone_in, clone_out, value_bytes

if TYPE_CHECKING:
    from .actor import Actor
    from .fanout import Fanout
    from .invocation import Invocation
    from .outbox import Outbox

__all__ = [
    'WebSocket', 'WebSocketClosedError', 'WebSocketPair', 'WebSocketRequestResponsePair',
    'connect_websocket',
]

MAX_MESSAGE_BYTES = 32 * 1024 * 1024   # DOC limits.mdx: received message size
RESET_REASON = 'Durable Object connection closed because the object was reset.'


class WebSocketClosedError(Exception):
    """``receive()`` on a socket that is closed and has no message left."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f'WebSocket closed ({self.code}) {self.reason}'.rstrip()


class WebSocketRequestResponsePair:
    """An auto-response: a message equal to *request* is answered with *response* by the
    runtime, without waking the object. Each at most 2,048 characters."""

    def __init__(self, request: str, response: str) -> None:
        for name, text in (('request', request), ('response', response)):
            if not isinstance(text, str):
                raise TypeError(f'WebSocketRequestResponsePair: {name} must be a string')
            if len(text) > 2048:
                raise ValueError(
                    f'WebSocketRequestResponsePair: {name} is {len(text)} characters; '
                    'the limit is 2048'
                )
        self.request = request
        self.response = response


def _check_message(message: Any) -> int:
    if not isinstance(message, (str, bytes)):
        raise TypeError(f'WebSocket messages are str or bytes, got {type(message).__name__}')
    return len(message.encode('utf-8')) if isinstance(message, str) else len(message)


class _Broadcast:
    """The three fields a broadcast's ``send`` reads, declared first so that they are the
    first words of a :class:`WebSocket` after its header (CPython lays a base class's slots
    out before its subclass's, and each class's in alphabetical order): within 40 bytes of
    its reference count, which iterating the room's list of sockets touches anyway, so in
    that memory line or the next. In a run of a hundred rooms a socket's lines have left the
    cache by the time its room broadcasts again (cachegrind, chat with 100 rooms: 95 fewer
    misses of a 512 kB L2 per message than with the fields 32 to 88 bytes in)."""

    __slots__ = ('_col', '_hub', '_outbox')


class WebSocket(_Broadcast):
    """One end of a WebSocket pair (see the module docstring)."""

    # Slots keep an end's fields inside the object, next to each other: in a run of many
    # rooms, the sockets a broadcast's ``send`` reads were last touched a hundred messages
    # ago (chat at a third of its size: about 9 % faster). ``__dict__`` keeps attributes a
    # model sets of its own working.
    __slots__ = (
        '__dict__',
        '_armed',
        '_attachment',
        '_env',
        '_fan',
        '_flying',
        '_last_arrival',
        '_route',
        '_taken',
        '_waiters',
        '_watched',
        'accepted',
        'actor',
        'auto_response_ms',
        'close_code',
        'close_reason',
        'closed',
        'hibernatable',
        'is_server',
        'label',
        'origin',
        'peer',
        'received',
        'tags',
    )

    def __init__(self) -> None:
        self.peer: WebSocket | None = None
        self.actor: Actor | None = None   # the object holding the server end
        self.is_server = False
        self.hibernatable = False
        self.accepted = False
        self.tags: tuple[str, ...] = ()
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ''
        #: every message this end received, in order (messages in flight to a client are
        #: handed over when it is read: :mod:`dosim.inflight`)
        self.received: list[Any] = Received(self)
        self.auto_response_ms: float | None = None
        self._taken = 0   # how many of ``received`` receive() has handed out (the rest wait)
        self._waiters: deque[Event] = deque()
        self._attachment: Any = None
        self._last_arrival = -math.inf
        self._flying: Flight | None = None   # messages in flight to a client
        self._armed = False   # its first message is in SimPy's queue (someone waits)
        self._fan: Fanout | None = None   # a client's column of broadcasts (dosim.fanout) ...
        self._col: int | None = None      # ... and which column (both ends know it)
        self._watched = False             # someone waited in receive(): no column messages
        self._env: Any = None
        # a server end's batches (dosim.outbox), its object's SocketHub and its way to its
        # client: (client, latency without jitter, the client's place), from its first send
        self._outbox: Outbox | None = None
        self._hub: Any = UNATTACHED
        self._route: tuple[Any, ...] | None = None
        self.label = 'client'
        self.origin: Any = 'client'   # a client end's place (set when it is handed out)

    def __repr__(self) -> str:
        side = 'server' if self.is_server else 'client'
        state = 'closed' if self.closed else 'open'
        return f'WebSocket({side}, {state}, tags={list(self.tags)})'

    # -- sending --------------------------------------------------------------------------
    def send(self, message: str | bytes) -> None:
        """Send *message* to the other end."""
        if message is self._hub.batch:   # (a closed end's hub is UNATTACHED)
            self._outbox.cols.append(self._col)   # one more socket of its object's broadcast
            return                                # (its event id comes later: dosim.outbox)
        out = self._outbox
        size = _check_message(message)
        if self.closed:
            raise RuntimeError('WebSocket send() after close()')
        peer = self.peer
        if self.is_server:
            actor = self.actor
            if actor is None:
                raise RuntimeError('You must call one of accept() or state.acceptWebSocket() '
                                   'on this WebSocket before sending messages.')
            storage = actor.storage
            if out is not None and (
                    storage is None or (storage.open is None and not storage.pending)):
                out.open(self._hub, message)   # the gate is open: a batch may start here
                out.cols.append(self._col)
                return
            actor.sockets.send(self, message)
        elif peer is not None and peer.actor is not None:
            peer.actor.sockets.from_client(peer, message, size)

    def close(self, code: int = 1000, reason: str = '') -> None:
        """Close the connection; the other end sees *code* and *reason*."""
        if isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999:
            raise ValueError(f'close(code): a WebSocket close code 1000..4999, got {code!r}')
        if self.closed:
            return
        self._mark_closed(code, reason)
        if self.is_server:
            if self.actor is not None:
                self.actor.sockets.closed_by_server(self, code, reason)
        elif self.peer is not None and self.peer.actor is not None:
            self.peer.actor.sockets.closed_by_client(self.peer, code, reason)

    def _mark_closed(self, code: int, reason: str) -> None:
        if pending(self):
            catch_up(self)
        self.closed = True
        self._hub = UNATTACHED   # its sends no longer join its object's broadcasts
        self.close_code = code
        self.close_reason = reason
        while self._waiters and self._taken == len(self.received):
            waiter = self._waiters.popleft()
            waiter.fail(WebSocketClosedError(code, reason))

    # -- receiving (client side) -------------------------------------------------------------
    def receive(self) -> Event:
        """An event whose value is the next message received on this end."""
        env = self.actor.sim.env if self.actor else self.peer.actor.sim.env
        event = Event(env)
        event._defused = True
        if pending(self):
            catch_up(self)
        if self._taken < len(self.received):
            event.succeed(self.received[self._taken])
            self._taken += 1
        elif self.closed:
            event.fail(WebSocketClosedError(self.close_code or 1006, self.close_reason))
        else:
            self._waiters.append(event)
            if self._fan is not None:   # its next message must be an event: see dosim.fanout
                self._fan.watch(self)
            if self._flying and not self._armed:
                arm(self)
        return event

    def _deliver(self, message: Any) -> None:
        self.received.append(message)
        if self._waiters:
            self._taken += 1
            self._waiters.popleft().succeed(message)

    # -- the standard API and attachments (server side) -----------------------------------------
    def accept(self) -> None:
        """Accept with the standard (non-hibernatable) API: while this socket is open the
        object cannot hibernate and is billed duration."""
        if self.hibernatable:
            raise RuntimeError("Can't accept() WebSocket after enabling hibernation.")
        if self.accepted:
            raise RuntimeError('This WebSocket has already been accepted.')
        from .context import active

        inv: Invocation | None = active.invocation
        if inv is None or not self.is_server:
            raise RuntimeError('accept() is called by the object on its server end, in a handler')
        inv.actor.sockets.adopt(self, hibernatable=False, tags=())
        self.accepted = True

    def serialize_attachment(self, value: Any) -> None:
        """Keep *value* (a copy) with this socket, across hibernation, while it is open."""
        stored = clone_in(value, 'serialize_attachment()')
        size = value_bytes(stored)
        limit = self.actor.sim.config.ws_attachment_max_bytes if self.actor else 16_384
        if size > limit:
            raise ValueError(
                f'serializeAttachment(): the serialized attachment is {size} bytes; '
                f'the limit is {limit} bytes'
            )
        self._attachment = stored

    def deserialize_attachment(self) -> Any:
        """A copy of the attachment, or ``None``."""
        return None if self._attachment is None else clone_out(self._attachment)


def WebSocketPair() -> tuple[WebSocket, WebSocket]:  # noqa: N802 - the Workers API name
    """``client, server = dosim.WebSocketPair()``: two connected ends."""
    client, server = WebSocket(), WebSocket()
    client.peer, server.peer = server, client
    server.is_server = True
    return client, server


class SocketEvent:
    """A WebSocket event for the object (message, close, error), queued like a request."""

    __slots__ = ('actor', 'args', 'arrived_ms', 'kind', 'method', 'rid', 'started_ms', 'ws')

    def __init__(self, actor: Actor, ws: WebSocket, method: str, args: tuple[Any, ...]) -> None:
        self.actor = actor
        self.ws = ws
        self.method = method
        self.kind = 'websocket'
        self.args = (ws, *args)
        self.rid = actor.sim.next_request_id()
        self.arrived_ms = actor.sim.env.now
        self.started_ms = math.nan

    def handler(self, instance: Any) -> Any:
        fn = getattr(instance, self.method, None)
        if not callable(fn):
            return _Ignore
        return fn

    def started(self, inv: Invocation) -> None:
        self.started_ms = self.actor.sim.env.now

    def handler_done(self, value: Any, exc: BaseException | None) -> None:
        if exc is not None:
            self.actor.event('websocket_error', self.rid, f'{type(exc).__name__}: {exc}')

    def respond(self, value: Any, error: Any) -> None:
        """The object could not be constructed for this event."""
        self.actor.event('websocket_error', self.rid, getattr(error, 'message', str(error)))


def _Ignore(*_args: Any) -> None:  # noqa: N802 - a stand-in handler
    """A class without this WebSocket handler ignores the event."""


def connect_websocket(stub: Any, url: str = 'https://do/ws', headers: Any = None) -> Any:
    """Open a WebSocket to the object behind *stub*: ``ws = yield from connect_websocket(stub)``.
    Sends a ``fetch`` with ``Upgrade: websocket`` and returns the client end of the 101
    response; raises :class:`ValueError` if the object answered anything else."""
    merged = {'Upgrade': 'websocket', **(headers or {})}
    response = yield stub.fetch(url, headers=merged)
    if response.status != 101 or response.web_socket is None:
        raise ValueError(f'expected a 101 response with a WebSocket, got {response!r}')
    return response.web_socket
