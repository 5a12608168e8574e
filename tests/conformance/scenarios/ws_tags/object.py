"""Tags: get_tags(ws) returns them; get_websockets(tag) filters by them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import dosim

BUILT = 0


class Subject(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        global BUILT
        BUILT += 1
        ctx.set_websocket_auto_response(dosim.WebSocketRequestResponsePair('ping', 'pong'))

    def fetch(self, request):
        query = parse_qs(urlsplit(request.url).query)
        tags = [t for t in query.get('tags', [''])[0].split(',') if t]
        client, server = dosim.WebSocketPair()
        self.ctx.accept_websocket(server, tags)
        server.serialize_attachment({'joined': tags})
        return dosim.Response(status=101, web_socket=client)

    def websocket_message(self, ws, message):
        ws.send(json.dumps({
            'echo': message,
            'built': BUILT,
            'attachment': ws.deserialize_attachment(),
            'tags': self.ctx.get_tags(ws),
            'blue': len(self.ctx.get_websockets('blue')),
            'all': len(self.ctx.get_websockets()),
            'autoResponded': self.ctx.get_websocket_auto_response_timestamp(ws) is not None,
        }))
