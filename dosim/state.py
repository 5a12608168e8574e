"""``ctx``: what the runtime gives an object about itself (``DurableObjectState``).

``ctx.id`` and ``ctx.storage`` (a fresh :class:`~dosim.storage.Storage` each incarnation),
``ctx.block_concurrency_while(fn)``, ``ctx.wait_until(event)``, ``ctx.abort(reason)``, and the
WebSocket Hibernation API: ``accept_websocket``, ``get_websockets``, ``get_tags``,
``set_websocket_auto_response`` and ``get_websocket_auto_response_timestamp``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import Event

from . import errors
from .context import Timer, active
from .invocation import Aborted, Invocation
from .storage import StorageResult
from .transaction import Nested
from .websocket import WebSocket, WebSocketRequestResponsePair

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ['DurableObjectState']


class DurableObjectState:
    """The ``ctx`` of one object incarnation."""

    def __init__(self, actor: Actor) -> None:
        # (Actor._construct makes the state of every incarnation with a copy of these lines)
        self._actor = actor
        self._incarnation = actor.incarnation
        self.id = actor.id
        self.storage = actor.storage

    def block_concurrency_while(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` with every other event held back until it ends; yield the result for
        ``fn``'s value. Called in the constructor it runs before the first event. If ``fn``
        raises, or runs past ``Config.block_concurrency_timeout_ms``, the object is reset."""
        if not callable(fn):
            raise TypeError(f'block_concurrency_while(fn): fn must be callable, got {fn!r}')
        actor = self._actor
        result = fn()
        if not isinstance(result, types.GeneratorType):
            return StorageResult(result)
        guard = _Guard(actor, self._incarnation)
        nested = Nested(result, guard.returned, guard.raised, exclusive=True)
        actor.event('block_concurrency', -1, getattr(fn, '__name__', 'fn'))
        if active.invocation is None and actor.constructor_tasks is not None:
            task = Invocation(actor, 'block_concurrency_while', -1, lambda _v, _e: None)
            task.push(nested)
            actor.constructor_tasks.append(task)
            return None
        return nested

    def wait_until(self, event: Event | Timer) -> None:
        """Keep the object in memory until *event* fires (at most 15 min): a SimPy event, or a
        wait such as ``dosim.sleep(ms)`` / ``dosim.fetch_external(...)`` -- as TypeScript's
        ``ctx.waitUntil(promise)`` takes any promise, started now and not awaited."""
        if isinstance(event, Timer):
            event = self._actor.sim.timeout(event.ms)
        if not isinstance(event, Event):
            raise TypeError(f'wait_until(event): expected a SimPy event or a dosim.sleep(), '
                            f'got {event!r}')
        if event.callbacks is None:   # already happened
            return
        lifecycle = self._actor.lifecycle
        lifecycle.pin(event)
        event.callbacks.append(lambda _ev: lifecycle.unpin(event))

    # -- the WebSocket Hibernation API ----------------------------------------------------------
    def accept_websocket(self, ws: WebSocket, tags: Any = ()) -> None:
        """Accept the server end *ws* as hibernatable, with up to 10 *tags* (each at most 256
        characters; duplicates are ignored). Its events then reach ``websocket_message``,
        ``websocket_close`` and ``websocket_error``, waking the object if it hibernates."""
        if not isinstance(ws, WebSocket) or not ws.is_server:
            raise TypeError(
                f'accept_websocket(ws): ws must be the server end of a pair, got {ws!r}'
            )
        if ws.accepted and not ws.hibernatable:
            raise RuntimeError('Cannot call `acceptWebSocket()` if the WebSocket was already '
                               'accepted via `accept()`')
        if ws.accepted:
            raise RuntimeError('This WebSocket has already been accepted.')
        if isinstance(tags, str):
            raise TypeError('accept_websocket(ws, tags): tags is a list of strings, not a string')
        cfg = self._actor.sim.config
        unique: list[str] = []
        for tag in tags:
            if not isinstance(tag, str):
                raise TypeError(f'accept_websocket(): tags must be strings, got {tag!r}')
            if len(tag) > cfg.ws_max_tag_chars:
                raise ValueError(f'a Hibernatable WebSocket tag cannot be longer than '
                                 f'{cfg.ws_max_tag_chars} characters; got {len(tag)}')
            if tag not in unique:
                unique.append(tag)
        if len(unique) > cfg.ws_max_tags:
            raise ValueError(f'a Hibernatable WebSocket cannot have more than {cfg.ws_max_tags} '
                             'tags')
        self._actor.sockets.adopt(ws, hibernatable=True, tags=tuple(unique))
        ws.accepted = True

    def get_websockets(self, tag: str | None = None) -> list[WebSocket]:
        """The open hibernatable sockets of this object (with *tag*, if given)."""
        return self._actor.sockets.hibernatable(tag)

    def get_tags(self, ws: WebSocket) -> list[str]:
        """The tags *ws* was accepted with."""
        if not isinstance(ws, WebSocket) or not ws.hibernatable or ws.actor is not self._actor:
            raise TypeError("you must call 'acceptWebSocket()' before attempting to access the "
                            'tags of a WebSocket.')
        return list(ws.tags)

    def set_websocket_auto_response(self, pair: WebSocketRequestResponsePair | None = None) -> None:
        """Answer messages equal to ``pair.request`` with ``pair.response`` without waking
        the object; ``None`` removes the auto-response."""
        if pair is not None and not isinstance(pair, WebSocketRequestResponsePair):
            raise TypeError('set_websocket_auto_response(pair): pair must be a '
                            f'WebSocketRequestResponsePair or None, got {pair!r}')
        self._actor.sockets.auto_response = pair

    def get_websocket_auto_response(self) -> WebSocketRequestResponsePair | None:
        return self._actor.sockets.auto_response

    def get_websocket_auto_response_timestamp(self, ws: WebSocket) -> float | None:
        """Epoch ms of the last auto-response sent on *ws*, or ``None``."""
        if not isinstance(ws, WebSocket):
            raise TypeError(f'expected a WebSocket, got {ws!r}')
        return ws.auto_response_ms

    def abort(self, reason: str | None = None, retry_alarm: bool = True) -> None:
        """Reset the object now: memory and unconfirmed writes are lost, the callers of
        every event in progress get an error, and their stubs are broken. Cannot be caught.
        An alarm handler in progress is retried unless *retry_alarm* is false."""
        if reason is not None and not isinstance(reason, str):
            raise TypeError(f'abort(reason): reason must be a string, got {reason!r}')
        actor = self._actor
        if actor.incarnation == self._incarnation and actor.ctx is self:
            error = errors.DurableObjectError(reason or errors.ABORTED, remote=True,
                                              breaks_stub=True, durable_object_reset=True)
            actor.reset(error, 'abort', culprit=active.invocation, retry_alarm=retry_alarm)
        raise Aborted(reason)


class _Guard:
    """Watches one ``block_concurrency_while`` callback: resets the object if it raises or
    outlives its time limit."""

    def __init__(self, actor: Actor, incarnation: int) -> None:
        self.actor = actor
        self.incarnation = incarnation
        self.running = True
        env = actor.sim.env
        env.timeout(actor.sim.config.block_concurrency_timeout_ms).callbacks.append(self._late)

    def returned(self, value: Any) -> Any:
        self.running = False
        return value

    def raised(self, exc: BaseException) -> BaseException:
        self.running = False
        error = errors.DurableObjectError(str(exc), remote=True, error_type=type(exc).__name__,
                                          breaks_stub=True, durable_object_reset=True)
        self.actor.reset(error, 'block_concurrency_while threw')
        return exc

    def _late(self, _event: Event) -> None:
        actor = self.actor
        if self.running and actor.incarnation == self.incarnation and actor.ctx is not None:
            self.running = False
            error = errors.DurableObjectError(errors.BLOCK_CONCURRENCY_TIMEOUT, breaks_stub=True,
                                              durable_object_reset=True)
            actor.reset(error, 'block_concurrency_while timed out')
