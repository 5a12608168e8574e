"""WebSocket clients: connect, send at a rate, disconnect, maybe come back.

A chat room, a game lobby or a live document is an object holding many WebSockets. Each
client of a :class:`WebSocketClients` population

1. connects at a time drawn evenly in ``[start, start + connect_over_ms)`` (an ``Upgrade``
   fetch, billed as one request: ``dosim.connect_websocket``);
2. sends ``message`` at the times of its ``messages`` arrival process, started when the
   socket opens (``Constant(60_000)``: once a minute, the first at once);
3. disconnects after a ``session_ms`` drawn from its distribution, or stays until the
   driven window ends if there is none; a socket the object closes (a reset, a deploy)
   ends the session too;
4. with ``reconnect_ms``, connects again that long after each disconnect; without, it is
   gone.

Who joins which object: ``per_object=N`` puts exactly N clients on every key of the
workload's key spec; ``count=N`` makes N clients in all, each joining a key drawn from that
spec's popularity (Zipf gives a few crowded rooms and many quiet ones).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from ..errors import DurableObjectError
from ..websocket import connect_websocket
from .arrivals import Arrivals, Constant
from .durations import Duration
from .spec import Spec, register

__all__ = ['ClientTally', 'WebSocketClients', 'run_client']

ONCE_A_MINUTE = Constant(60_000)


@register
@dataclass(frozen=True)
class WebSocketClients(Spec):
    """A population of WebSocket clients (see the module docstring). In *url*, ``{client}``
    is replaced by the client's number."""

    family = 'clients'
    kind = 'websocket'
    nested = {   # noqa: RUF012 - a read-only class constant
        'messages': 'arrivals', 'session_ms': 'cost', 'reconnect_ms': 'cost',
    }
    per_object: int | None = None
    count: int | None = None
    messages: Arrivals = ONCE_A_MINUTE
    connect_over_ms: float = 0.0
    session_ms: Duration | None = None
    reconnect_ms: Duration | None = None
    url: str = 'https://do/ws?name=client-{client}'
    message: str = 'hello'

    def check(self) -> None:
        if (self.per_object is None) == (self.count is None):
            raise ValueError(f'{type(self).__name__}: give exactly one of per_object and count, '
                             f'got per_object={self.per_object!r}, count={self.count!r}')
        self._number('per_object' if self.count is None else 'count', low=1, strict=False,
                     integer=True)
        if self.messages is None:
            raise TypeError(f'{self._name("messages")} must be an arrivals spec, got None')
        self._number('connect_over_ms', strict=False)
        self._text('url')
        if not isinstance(self.message, (str, bytes)):
            raise TypeError(f'{self._name("message")} must be a string, got {self.message!r}')


@dataclass
class ClientTally:
    """What a client population did: counts, updated as the simulation runs."""

    clients: int = 0
    connects: int = 0
    failed_connects: int = 0
    messages: int = 0
    disconnects: int = 0
    closed_by_object: int = 0


def run_client(sim: Any, ns: Any, oid: Any, where: str | None, spec: WebSocketClients,
               index: int, until: float, rngs: tuple[Any, Any, Any],
               tally: ClientTally) -> Generator[Any, Any, None]:
    """The life of one client (a SimPy process): sessions until *until*."""
    env = sim.env
    connect_rng, message_rng, session_rng = rngs
    url = spec.url.replace('{client}', str(index))
    start = env.now + connect_rng.random() * spec.connect_over_ms
    while start < until:
        yield env.timeout(start - env.now)
        try:
            ws = yield from connect_websocket(ns.get(oid, client_location=where), url)
        except (DurableObjectError, ValueError):
            tally.failed_connects += 1
            ws = None
        end = until
        if ws is not None:
            tally.connects += 1
            if spec.session_ms is not None:
                end = env.now + spec.session_ms.draw(session_rng)
            yield from _session(env, ws, spec, min(end, until), end < until, message_rng,
                                tally)
            if end >= until and not ws.closed:
                return   # connected to the end of the driven window
        if spec.reconnect_ms is None:
            return
        start = env.now + spec.reconnect_ms.draw(session_rng)


def _session(env: Any, ws: Any, spec: WebSocketClients, end: float, close: bool, rng: Any,
             tally: ClientTally) -> Generator[Any, Any, None]:
    """Send until *end*; then, if *close*, wait until *end* and close."""
    message = spec.message
    for t in spec.messages.times(rng, env.now):
        if t >= end:
            break
        if t > env.now:
            yield env.timeout(t - env.now)
        if ws.closed:
            tally.closed_by_object += 1
            return
        ws.send(message)
        tally.messages += 1
    if not close:
        return   # the driven window is over: the socket stays open
    if end > env.now:
        yield env.timeout(end - env.now)
    if ws.closed:
        tally.closed_by_object += 1
    else:
        ws.close(1000, 'session over')
        tally.disconnects += 1
