"""A chat room: every message is broadcast to every socket in the room.

``hibernatable = True`` (the default) accepts sockets with ``ctx.accept_websocket`` and the
user's name as a tag: between messages the room hibernates, and duration is billed only while
a message is handled. ``hibernatable = False`` uses the standard ``server.accept()``: the room
can never hibernate while anyone is connected, and is billed for every second of it. Compare
the two with ``sim.meters['duration_gb_s']``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..context import compute
from ..http import Response
from ..object import DurableObject
from ..websocket import WebSocket, WebSocketPair

__all__ = ['ChatRoom']


class ChatRoom(DurableObject):
    """Clients connect with ``connect_websocket(stub, 'https://room/ws?name=<user>')``.
    ``message_cpu_ms`` of CPU is spent per message received."""

    hibernatable = True
    message_cpu_ms = 10.0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.standard: list[WebSocket] = []   # standard sockets live in memory only

    @classmethod
    def configure(cls, **settings: Any) -> type[ChatRoom]:
        """A subclass with other ``hibernatable`` / ``message_cpu_ms`` settings."""
        for name in settings:
            if name not in ('hibernatable', 'message_cpu_ms'):
                raise TypeError(f'ChatRoom.configure(): unknown setting {name!r}')
        return type(cls.__name__, (cls,), settings)

    def fetch(self, request: Any) -> Response:
        if request.headers.get('Upgrade', '').lower() != 'websocket':
            return Response('expected a WebSocket upgrade', status=426)
        name = request.url.partition('name=')[2] or 'anonymous'
        client, server = WebSocketPair()
        if self.hibernatable:
            self.ctx.accept_websocket(server, ['chat', f'user:{name}'])
        else:
            server.accept()
            self.standard.append(server)
        return Response(status=101, web_socket=client)

    def _everyone(self) -> list[WebSocket]:
        if self.hibernatable:
            return self.ctx.get_websockets('chat')
        return [s for s in self.standard if not s.closed]

    def websocket_message(self, ws: WebSocket, message: Any) -> Generator[Any, Any, None]:
        if self.message_cpu_ms:
            yield compute(self.message_cpu_ms)
        for other in self._everyone():
            if other is not ws:
                other.send(message)

    def websocket_close(self, ws: WebSocket, code: int, reason: str, was_clean: bool) -> None:
        if ws in self.standard:
            self.standard.remove(ws)
