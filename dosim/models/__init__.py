"""Ready-made Durable Object models: the patterns people build, in Python.

* :class:`AgentLoop` -- one object per AI agent, woken by its alarm every
  ``loop_interval_ms`` to run a cycle (``start_loop`` / ``stop_loop``), with a choice of what
  happens when a cycle fails;
* :class:`EventScheduler` -- many timers (one-shot and repeating) multiplexed on the single
  alarm an object has;
* :class:`ChatRoom` -- broadcast to every socket, hibernatable or standard;
* :class:`AgentSocket` -- an agent's WebSocket endpoint whose subscriptions live in socket
  attachments, so they survive hibernation;
* :class:`MessagingAgent` and :class:`Relay` -- agents posting to each other's inboxes
  (``sendToAgent``), and one object fanning a message out to many.

Notebooks, scenarios and exercises use these same classes. Configure one with
``AgentLoop.configure(...)``, which returns a subclass with those settings.
"""

from __future__ import annotations

from .agent_loop import AgentLoop, LoopSettings
from .agent_socket import AgentSocket
from .chat import ChatRoom
from .messaging import MessagingAgent, Relay
from .scheduler import EventScheduler

__all__ = [
    'AgentLoop', 'AgentSocket', 'ChatRoom', 'EventScheduler', 'LoopSettings', 'MessagingAgent',
    'Relay',
]
