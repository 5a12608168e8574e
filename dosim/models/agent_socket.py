"""An agent's WebSocket endpoint: subscriptions that survive hibernation.

The seed's ``AgentDO`` keeps, per connection, an attachment ``{'connectedAt', 'subscriptions'}``
(``serialize_attachment``), so that after the object hibernates -- and its memory is gone --
a message still finds out who is subscribed to what. Clients send JSON:

* ``{"type": "subscribe", "topic": "agent.memory.*"}`` -- a glob over topic names;
* ``{"type": "publish", "topic": "agent.memory.update", "data": ...}`` -- delivered to every
  socket with a matching subscription, as ``{"type": "event", "topic", "data"}``;
* anything else gets ``{"type": "error"}``.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from ..context import now
from ..http import Response
from ..object import DurableObject
from ..websocket import WebSocket, WebSocketPair

__all__ = ['AgentSocket']


class AgentSocket(DurableObject):
    """Accepts hibernatable sockets tagged ``'agent'``; see the module docstring."""

    def fetch(self, request: Any) -> Response:
        if request.headers.get('Upgrade', '').lower() != 'websocket':
            return Response('expected a WebSocket upgrade', status=426)
        client, server = WebSocketPair()
        self.ctx.accept_websocket(server, ['agent'])
        server.serialize_attachment({'connectedAt': now(), 'subscriptions': []})
        return Response(status=101, web_socket=client)

    def websocket_message(self, ws: WebSocket, message: Any) -> None:
        try:
            msg = json.loads(message)
            kind = msg['type']
        except (ValueError, KeyError, TypeError):
            ws.send(json.dumps({'type': 'error', 'error': 'invalid message'}))
            return
        if kind == 'subscribe':
            state = ws.deserialize_attachment() or {'connectedAt': now(), 'subscriptions': []}
            if msg['topic'] not in state['subscriptions']:
                state['subscriptions'].append(msg['topic'])
            ws.serialize_attachment(state)
            ws.send(json.dumps({'type': 'subscribed', 'topic': msg['topic']}))
        elif kind == 'publish':
            event = json.dumps({'type': 'event', 'topic': msg['topic'], 'data': msg.get('data')})
            for other in self.ctx.get_websockets('agent'):
                subs = (other.deserialize_attachment() or {}).get('subscriptions', [])
                if any(fnmatchcase(msg['topic'], pattern) for pattern in subs):
                    other.send(event)
        else:
            ws.send(json.dumps({'type': 'error', 'error': f'unknown type {kind!r}'}))
