"""The base class of a user's Durable Object, and the ``env`` it sees.

Write a class the way you would in TypeScript, with ``yield`` where TypeScript says
``await``::

    class Counter(dosim.DurableObject):
        def fetch(self, request):
            n = (yield self.ctx.storage.get('n')) or 0
            self.ctx.storage.put('n', n + 1)
            return dosim.Response(str(n + 1))

Handlers -- ``fetch(request)``, ``alarm(alarm_info)``, the WebSocket handlers, and any public
method called over RPC -- may be plain functions or generator functions. ``self.ctx`` is the
object's :class:`~dosim.state.DurableObjectState`; ``self.env`` gives the simulation's
bindings, so ``self.env.AGENTS`` is the namespace bound as ``'AGENTS'``.

The constructor runs when the object's first event arrives, and again after every reset,
hibernation or eviction: whatever it sets up in memory is lost in between, storage is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .simulation import Simulation
    from .state import DurableObjectState

__all__ = ['DurableObject', 'Env']


class DurableObject:
    """Subclass this. ``__init__(self, ctx, env)`` may be overridden (call ``super()``'s or
    not: ``self.ctx`` and ``self.env`` are set before it runs)."""

    ctx: DurableObjectState
    env: Env

    def __init__(self, ctx: DurableObjectState, env: Env) -> None:
        self.ctx = ctx
        self.env = env


class Env:
    """The bindings an object sees as ``self.env``: each namespace under its binding name."""

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):
            raise AttributeError(name)
        namespaces = self._sim.namespaces
        if name not in namespaces:
            known = ', '.join(sorted(namespaces)) or 'none'
            raise AttributeError(f'unknown binding {name!r} in env (bindings: {known})')
        return namespaces[name]

    def __dir__(self) -> list[str]:
        return sorted(self._sim.namespaces)
