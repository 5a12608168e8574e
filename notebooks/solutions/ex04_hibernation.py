"""Exercise 4 -- the room that never sleeps: a reference solution and the wrong answers.

The bug: the starter accepts each socket with ``server.accept()``, the standard WebSocket API,
which pins the room in memory -- billed -- as long as anyone is connected. The fix has two
halves. Accept with ``self.ctx.accept_websocket(server, tags)``: the sockets stay connected
while the room hibernates. And keep nothing the room needs in memory: after hibernation a
message wakes a *new* instance, so the members come from ``self.ctx.get_websockets()`` and
each member's name travels with its socket, as a tag (or with ``serialize_attachment``).
"""

from __future__ import annotations

from typing import Any

import dosim


class ChatRoom(dosim.DurableObject):
    """The reference solution."""

    def fetch(self, request: dosim.Request) -> dosim.Response:
        name = request.url.partition('name=')[2] or 'anonymous'
        client, server = dosim.WebSocketPair()
        self.ctx.accept_websocket(server, [f'name:{name}'])  # hibernatable; the name is a tag
        return dosim.Response(status=101, web_socket=client)

    def websocket_message(self, ws: dosim.WebSocket, message: Any) -> None:
        name = self.ctx.get_tags(ws)[0].removeprefix('name:')
        for other in self.ctx.get_websockets():
            if other is not ws:
                other.send(f'{name}: {message}')


# -- common wrong answers (the checker's reply to each is in notebooks/README.md) ---------------
class MembersInMemory(dosim.DurableObject):
    """Wrong: hibernatable sockets, but the member list lives in memory: after the room
    hibernates and wakes, the list is empty and messages reach no one."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.members: dict[dosim.WebSocket, str] = {}

    def fetch(self, request: dosim.Request) -> dosim.Response:
        client, server = dosim.WebSocketPair()
        self.ctx.accept_websocket(server)
        self.members[server] = request.url.partition('name=')[2] or 'anonymous'
        return dosim.Response(status=101, web_socket=client)

    def websocket_message(self, ws: dosim.WebSocket, message: Any) -> None:
        for other, _name in self.members.items():
            if other is not ws and not other.closed:
                other.send(f'{self.members.get(ws, "someone")}: {message}')


class NamesInMemory(MembersInMemory):
    """Wrong: the members come from ``get_websockets()`` now, but the names are still in
    memory: after a wake-up every message is signed 'someone'."""

    def websocket_message(self, ws: dosim.WebSocket, message: Any) -> None:
        for other in self.ctx.get_websockets():
            if other is not ws:
                other.send(f'{self.members.get(ws, "someone")}: {message}')
