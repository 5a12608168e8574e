"""Agents that message each other: ``sendToAgent`` and a relay that fans out.

The seed's ``sendToAgent(targetId, message)`` posts a JSON message to another agent's
``/inbox``: a call from one object to another, over the network between their data centres.
While the sender waits, its input gate is open. A :class:`Relay` sends one message to many
agents at once and waits for all the answers.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..context import all_settled, compute, now
from ..http import Response
from ..object import DurableObject

__all__ = ['MessagingAgent', 'Relay']


class MessagingAgent(DurableObject):
    """An agent with an inbox. ``binding`` names the namespace of the other agents (its own
    by default: set the class attribute when agents live elsewhere). ``inbox_cpu_ms`` of CPU
    is spent per message received."""

    binding = 'AGENTS'
    inbox_cpu_ms = 0.0

    def send_to_agent(self, target: str, message: Any) -> Generator[Any, Any, int]:
        """Post *message* to agent *target*'s inbox; returns the HTTP status."""
        agents = getattr(self.env, self.binding)
        stub = agents.get(agents.id_from_name(target))
        response = yield stub.fetch('https://agent/inbox', method='POST',
                                    body={'from': str(self.ctx.id.name or self.ctx.id),
                                          'message': message, 'sentAt': now()})
        return response.status

    def fetch(self, request: Any) -> Generator[Any, Any, Response]:
        if request.path == '/inbox' and request.method == 'POST':
            if self.inbox_cpu_ms:
                yield compute(self.inbox_cpu_ms)
            st = self.ctx.storage
            count = ((yield st.get('inbox:count')) or 0) + 1
            st.put({'inbox:count': count, f'inbox:{count:09d}': request.json()})
            return Response('accepted', status=202)
        if request.path == '/inbox':
            return Response((yield from self.inbox()))
        return Response('not found', status=404)

    def inbox(self) -> Generator[Any, Any, list[Any]]:
        """Every message received, oldest first."""
        got = yield self.ctx.storage.list(prefix='inbox:0')
        return list(got.values())


class Relay(DurableObject):
    """Fans one message out to many agents of namespace ``binding`` at once."""

    binding = 'AGENTS'

    def fan_out(self, targets: list[str], message: Any) -> Generator[Any, Any, dict[str, int]]:
        """Send *message* to every agent in *targets* concurrently; returns the count of
        accepted deliveries and of failures."""
        agents = getattr(self.env, self.binding)
        calls = [agents.get(agents.id_from_name(t)).fetch(
            'https://agent/inbox', method='POST',
            body={'from': 'relay', 'message': message, 'sentAt': now()}) for t in targets]
        results = yield all_settled(calls)
        ok = sum(1 for good, value in results if good and value.status == 202)
        return {'delivered': ok, 'failed': len(calls) - ok}
