"""One request or RPC call, from the caller to the object and back.

A :class:`Call` is created by a stub. It leaves the caller (from inside an object: only once
the caller's output gate is clear), crosses the network, waits in the object's queue, runs
its handler, waits for the object's output gate, and crosses the network back. Each stage's
time is kept, and on arrival back at the caller one row is added to ``sim.trace.requests``
and the caller's event succeeds with the response (or fails with a
:class:`~dosim.errors.DurableObjectError`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import Event

from . import errors
from .context import Wake, wake_after
from .heap import heappush
from .http import Request, Response
from .values import clone_in, clone_out

if TYPE_CHECKING:
    from .actor import Actor
    from .namespace import StubLink

__all__ = ['Call']

NAN = math.nan
_new_event = Event.__new__
_RESERVED = frozenset({
    'alarm', 'websocket_message', 'websocket_close', 'websocket_error', 'ctx', 'env',
})


class Call:
    """A request or RPC call in flight (see the module docstring).

    A call is also its own timer: while it crosses the network it sits in SimPy's event queue
    (:func:`~dosim.context.wake_after`), first on its way to the object, then on its way
    back."""

    __slots__ = (
        '_error',
        '_value',
        'actor',
        'answered',
        'args',
        'arrived_ms',
        'callbacks',
        'caller',
        'caller_actor',
        'departed_ms',
        'done',
        'handler_done_ms',
        'incarnation',
        'kind',
        'method',
        'origin',
        'received_ms',
        'released_ms',
        'reply_sent_ms',
        'rid',
        'sent_ms',
        'started_ms',
        'stub',
    )
    _ok = True   # as a timer in SimPy's queue

    def __init__(self, stub: StubLink, actor: Actor, kind: str, method: str,
                 args: tuple[Any, ...], caller: str, origin: Any) -> None:
        sim = actor.sim
        sim._request_ids += 1
        self.rid = sim._request_ids
        self.stub = stub
        self.actor = actor
        self.kind = kind
        self.method = method
        self.args = args
        self.caller = caller
        self.origin = origin   # the calling actor, or the client's Location
        self.caller_actor: Actor | None = None
        env = sim.env
        self.done = done = _new_event(Event)   # Event(env), without the call
        done.env = env
        done.callbacks = []
        done._defused = True  # an unobserved failure is in the trace, not a crash
        self.answered = False
        self.incarnation = 0
        self.callbacks: Any = None
        self.sent_ms = env._now
        self.departed_ms = self.arrived_ms = self.started_ms = self.handler_done_ms = NAN
        self.released_ms = self.reply_sent_ms = self.received_ms = NAN

    # -- on the object's side ---------------------------------------------------------------
    def handler(self, instance: Any) -> Callable[..., Any] | BaseException:
        """The bound handler this call runs, or the error to answer with."""
        if self.kind == 'fetch':
            fn = getattr(instance, 'fetch', None)
            if fn is None:
                return TypeError("Handler does not export a fetch() function.")
            if not callable(fn):
                return TypeError(f'{type(instance).__name__}.fetch is not callable: {fn!r}')
            return fn
        name = self.method
        fn = None if name.startswith('_') or name in _RESERVED else getattr(instance, name, None)
        if not callable(fn):
            return TypeError(f'The RPC receiver does not implement the method "{name}".')
        return fn

    def handler_done(self, value: Any, exc: BaseException | None) -> None:
        """The handler ended: the reply waits for the output gate, then leaves."""
        actor = self.actor
        self.handler_done_ms = actor.sim.env._now
        error: errors.DurableObjectError | None = None
        if exc is None:
            if self.kind == 'fetch':
                if not isinstance(value, Response):
                    exc = TypeError(
                        "Incorrect type for Promise: the Promise did not resolve to 'Response'."
                    )
            elif self.kind == 'rpc':
                try:
                    value = clone_out(clone_in(value, f'return value of {self.method}()'))
                except TypeError as clone_error:
                    exc = clone_error
        if exc is not None:
            error = _as_remote(exc)
            value = None
        if actor._trace.full:
            actor.event('request_done', self.rid, 'error' if error else 'ok')
        self._value = value
        self._error = error
        # actor.storage.when_confirmed(self._release), written out: once per request
        storage = actor.storage
        batch = storage.open
        if batch is None and storage.pending:
            batch = storage.pending[-1]
        if batch is None:
            self._release()
        elif batch.waiters is None:
            batch.waiters = self._release
        elif batch.waiters.__class__ is list:
            batch.waiters.append(self._release)
        else:
            batch.waiters = [batch.waiters, self._release]
        if error is not None and actor.sim.config.reset_on_uncaught_exception:
            actor.reset(error, 'uncaught exception')

    def _release(self) -> bool:
        """The output gate lets the reply go. True if this ended with the object's
        ``lifecycle.update()``: sending the reply changes nothing it looks at (see
        :meth:`~dosim.writequeue.WriteQueue._confirm`)."""
        actor = self.actor
        self.released_ms = actor.sim.env._now
        calls = actor.calls
        if calls:
            calls.discard(self)
        if actor._trace.full:
            actor.event('response_released', self.rid)
        if calls:
            self.respond(self._value, self._error)
            return False
        actor.lifecycle.update()
        self.respond(self._value, self._error)
        return True

    def respond(self, value: Any, error: errors.DurableObjectError | None) -> None:
        """Send the reply (or *error*) back over the network to the caller."""
        if self.answered:
            return
        self.answered = True
        actor = self.actor
        sim = actor.sim
        env = sim.env
        self.reply_sent_ms = env._now
        full = actor._trace.full
        if error is not None and full:
            actor.event('request_failed', self.rid, error.message)
        delay = sim.network.one_way(actor.location or actor, self.origin)   # (where it is)
        if sim.faults.partitions and sim.network.cut(actor, self.origin):
            if full:
                actor.event('message_lost', self.rid, 'reply: partition')
            value, error = None, errors.network_lost()
        elif full:
            actor.event('message_sent', self.rid, f'reply {actor.label}->{self.caller}')
        self._value = value
        self._error = error
        if self.callbacks is None:
            self.callbacks = _ARRIVE_BACK
            heappush(env._queue, (env._now + delay, 1, next(env._eid), self))  # wake_after
        else:   # still queued as something else: a timer of its own
            wake_after(env, delay, Wake((lambda _w: self._arrive_back(),)))

    def _arrive_back(self, _event: Any = None) -> None:
        value = self._value
        error = self._error
        actor = self.actor
        trace = actor._trace
        self.received_ms = actor.sim.env._now
        if trace.full:   # a client's receipt is filed under the object it called
            (self.caller_actor or actor).event(
                'message_received', self.rid, f'reply {actor.label}->{self.caller}')
        if error is not None and error.breaks_stub:
            self.stub.broken_by = error
        response = isinstance(value, Response)
        if response and value.web_socket is not None:
            value.web_socket.origin = self.origin   # where the client end lives
        origin = self.caller_actor
        if origin is not None:
            if origin.outbound:
                origin.outbound.discard(self)
            origin.lifecycle.unpin(self)
            origin.lifecycle.update()
        if trace.keep_requests:
            self.record(error, value.status if response else NAN)
        else:
            trace.request_count += 1
        done = self.done
        if not done.callbacks:
            # nobody waits yet (fire and forget): settle it in place, without scheduling an
            # event; a process that yields it later resumes at once, as SimPy does for
            # events already processed
            done._ok = error is None
            done._value = value if error is None else error
            done.callbacks = None
        elif error is None:
            done.succeed(value)
        else:
            done.fail(error)

    def record(self, error: errors.DurableObjectError | None, http_status: float = NAN) -> None:
        """Add this call's row to ``sim.trace.requests``."""
        trace = self.actor._trace
        trace.request_count += 1
        if not trace.keep_requests:
            return
        out = self.arrived_ms - self.sent_ms if self.arrived_ms == self.arrived_ms else 0.0
        network = out + (self.received_ms - self.reply_sent_ms)
        trace.request_rows.append((
            self.rid, self.caller, self.stub.serial, self.actor.ns_name, self.actor.label,
            self.kind, self.method, self.incarnation, self.sent_ms, self.departed_ms,
            self.arrived_ms,
            self.started_ms, self.handler_done_ms, self.released_ms, self.received_ms, network,
            self.started_ms - self.arrived_ms, self.handler_done_ms - self.started_ms,
            self.released_ms - self.handler_done_ms, self.received_ms - self.sent_ms,
            'ok' if error is None else 'error', http_status,
            '' if error is None else error.message,
        ))


def _as_remote(exc: BaseException) -> errors.DurableObjectError:
    """What the caller sees of an exception that escaped the handler: thrown by user code, so
    ``remote``, and it leaves the caller's stub working (workerd, data/workerd_observations.md
    §7) -- even when it is an error the handler got from a call of its own and rethrew, such
    as 'Network connection lost.' from another object: *that* stub broke, not this one."""
    if isinstance(exc, errors.DurableObjectError):
        return exc.copy(remote=True, breaks_stub=False)
    return errors.DurableObjectError(str(exc), remote=True, error_type=type(exc).__name__)


def make_request(url_or_request: Any, method: str, body: Any, headers: Any) -> Request:
    """The request a ``stub.fetch(...)`` sends."""
    if isinstance(url_or_request, Request):
        return url_or_request
    return Request(url_or_request, method, headers, body)


_ARRIVE_BACK = (Call._arrive_back,)
