"""One run of a handler inside an object, and how its ``yield``\\ s are served.

An :class:`Invocation` drives a user's generator the way SimPy's ``Process`` does, but knows
what each yielded thing means for the object (see :mod:`dosim.context` for the table):

* a storage result that is ready (a cache hit, a ``put``) is sent straight back: no SimPy
  event, no time passes, the input gate never opens;
* a storage miss or :func:`~dosim.compute` keeps the object's single thread: the invocation
  resumes itself after the delay and nothing else runs meanwhile;
* a timer, an outbound fetch, a call to another object or any SimPy event releases the thread:
  queued events may run, and this invocation queues up again (FIFO) when its wait ends;
* a nested frame (a transaction, ``block_concurrency_while``) runs inside this invocation.

Every ``yield`` also ends the current write batch (see :mod:`dosim.storage`).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final

from simpy.events import Event

from . import errors
from .context import Compute, Ms, Timer, active
from .errors import Aborted
from .heap import heappush
from .storage import Held, Storage, StorageResult
from .transaction import Nested

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ['Aborted', 'Invocation']

Done = Callable[[Any, BaseException | None], None]


class Invocation:
    """A handler run (request, RPC call, alarm, ``block_concurrency_while`` task)."""

    __slots__ = (
        '_error', '_value', 'actor', 'callbacks', 'cpu_ms', 'dead', 'exclusive',
        'frames', 'gen', 'kind', 'on_done', 'rid', 'storage',
    )
    _ok = True   # its own timer in SimPy's queue while it holds the thread (see _hold)
    # set where they are used (_hold, _serve): what to send into the handler next, and the
    # invocation's callbacks while it is its own timer in SimPy's queue
    _value: Any
    _error: BaseException | None
    callbacks: Any

    def __init__(self, actor: Actor, kind: str, rid: int, on_done: Done) -> None:
        self.actor = actor
        self.storage: Storage = actor.storage  # type: ignore[assignment]  # it has one now
        self.kind = kind
        self.rid = rid
        self.on_done = on_done
        self.gen: Any = None   # the generator running now (a types.GeneratorType)
        self.frames: list[tuple[Any, ...]] | None = None   # nested frames, made on first use
        self.exclusive = 0
        self.cpu_ms: Ms = 0.0
        self.dead = False

    # -- starting ---------------------------------------------------------------------------
    def start(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Call the handler; drive it if it is a generator function."""
        prev, active.invocation = active.invocation, self
        try:
            result = fn(*args)
        except Aborted:
            active.invocation = prev
            return
        except Exception as exc:
            try:
                if not self.dead:
                    self._finish(None, exc)
            finally:
                active.invocation = prev
            return
        except BaseException:
            active.invocation = prev
            raise
        if isinstance(result, types.GeneratorType):
            self.gen = _drive(result)
            try:
                if not self.dead:
                    self._run(None, None)
            finally:
                active.invocation = prev
        else:
            active.invocation = prev
            self._finish(result, None)

    def push(self, nested: Nested) -> None:
        """Run *nested* as this invocation's bottom frame (a task of its own)."""
        self.gen = _drive(nested.gen)
        if self.frames is None:
            self.frames = []
        self.frames.append((None, nested.on_return, nested.on_error, nested.exclusive))
        self.exclusive += nested.exclusive

    # -- the driver -------------------------------------------------------------------------
    def resume(self, value: Any, exc: BaseException | None) -> None:
        """Send *value* (or throw *exc*) into the handler and serve what it yields next."""
        if self.dead:
            return
        prev, active.invocation = active.invocation, self
        try:
            self._run(value, exc)
        finally:
            active.invocation = prev

    def _run(self, value: Any, exc: BaseException | None) -> None:
        storage = self.storage
        while True:
            gen = self.gen
            try:
                target = gen.send(value) if exc is None else gen.throw(exc)
            except Aborted:
                return
            except Exception as error:
                value, exc = None, error
            else:
                kind = type(target)
                if kind is StorageResult and not self.dead:
                    if storage.open is not None:   # the fast path: a cache hit, a put ...
                        storage.end_turn()
                    if target.delay == 0:
                        value = target.value
                        continue
                    # ... or a miss (as _serve): self._hold(target.delay, target.value),
                    # written out (every read that misses the cache passes here)
                    self._value = target.value
                    self._error = None
                    self.callbacks = _HELD
                    env: Any = self.actor.sim.env
                    heappush(env._queue, (env._now + target.delay, 1, next(env._eid), self))
                    return
                if kind is not Returned:
                    if self._serve(target, storage):
                        return
                    value, exc = self._value, self._error
                    continue
                value, exc = target.value, None   # its generator returned (see _drive)
            # the current frame ended: back to its parent frame, or the handler is done
            if self.dead:
                return
            if self.frames:
                value, exc = self._pop_frame(value, exc)
                if self.dead:
                    return
                if self.gen is not None:
                    continue
            self._finish(value, exc)
            return

    def _serve(self, target: Any, storage: Any) -> bool:
        """Serve one yielded *target*. True when the invocation now waits; otherwise the
        value (or error) to send back at once is left in ``_value`` / ``_error``."""
        if self.dead:
            return True
        if storage.open is not None:
            storage.end_turn()
        self._value, self._error = None, None
        kind = type(target)
        if kind is StorageResult:
            if target.delay == 0:
                self._value = target.value
                return False
            self._hold(target.delay, target.value)
        elif kind is Compute:
            self._compute(target.ms)
        elif kind is Timer:
            self._timer(target)
        elif kind is Nested:
            if self.frames is None:
                self.frames = []
            self.frames.append((self.gen, target.on_return, target.on_error, target.exclusive))
            self.exclusive += target.exclusive
            self.gen = _drive(target.gen)
            return False
        elif kind is Held:
            target.register(self._held_done)
        elif isinstance(target, Event):
            self._wait_event(target)
        else:
            self._error = TypeError(
                f'a handler yielded {target!r}; yield a storage call, dosim.compute(), '
                'dosim.sleep(), dosim.fetch_external(), a stub call or a SimPy event'
            )
            return False
        return True


    def _pop_frame(self, value: Any, exc: BaseException | None) -> tuple[Any, Any]:
        parent, on_return, on_error, exclusive = self.frames.pop()  # type: ignore[union-attr]
        self.exclusive -= exclusive
        self.gen = parent
        if exc is not None:
            return None, on_error(exc)
        try:
            return on_return(value), None
        except Exception as error:
            return None, error

    def _finish(self, value: Any, exc: BaseException | None) -> None:
        storage = self.storage
        if storage.open is not None:
            storage.end_turn()
        self.dead = True
        self.actor.finished(self, value, exc)

    # -- waits that keep the thread ------------------------------------------------------------
    def _hold(self, delay: Ms, value: Any, exc: BaseException | None = None) -> None:
        self._value = value   # what to send in when the hold ends (see _held_event)
        self._error = exc
        self.callbacks = _HELD
        env: Any = self.actor.sim.env   # wake_after(env, delay, self), written out
        heappush(env._queue, (env._now + delay, 1, next(env._eid), self))

    def _held_event(self, _event: Any = None) -> None:
        if self.dead:   # self.resume(self._value, self._error), written out: every storage
            return      # miss ends here
        prev, active.invocation = active.invocation, self
        try:
            self._run(self._value, self._error)
        finally:
            active.invocation = prev

    def _held_done(self) -> None:
        self.resume(None, None)

    def _compute(self, ms: Ms) -> None:
        actor = self.actor
        limit = actor.sim.config.cpu_limit_ms
        actor.meters['cpu_ms'] += ms
        if self.cpu_ms + ms > limit:
            over = limit - self.cpu_ms
            self.cpu_ms = limit
            def over_limit(_event: Any) -> None:
                if not self.dead:
                    actor.reset(errors.DurableObjectError(
                        errors.CPU_EXCEEDED, remote=True, breaks_stub=True,
                    ), 'CPU limit', culprit=self)

            actor.sim.env.timeout(max(over, 0.0)).callbacks.append(over_limit)
            return
        self.cpu_ms += ms
        if actor._full:   # (the text costs a float's repr: only when recorded)
            # exact: dosim.check reads the duration back from this text
            actor.event('compute', self.rid, f'{ms!r} ms')
        self._hold(ms, None)

    # -- waits that open the input gate ---------------------------------------------------------
    def _timer(self, timer: Timer) -> None:
        actor = self.actor
        actor.event(timer.kind if timer.kind != 'fetch' else 'fetch_external', self.rid,
                    f'{timer.ms:g} ms')
        if not self.exclusive:
            actor.release(self)
        env = actor.sim.env
        if timer.gated:
            self.storage.when_confirmed(
                lambda: env.timeout(timer.ms).callbacks.append(self._woken)
            )
        else:
            env.timeout(timer.ms).callbacks.append(self._woken)

    def _wait_event(self, event: Event) -> None:
        if not self.exclusive:
            self.actor.release(self)
        if event.callbacks is None:  # already processed
            self._wake(event._value if event._ok else None, None if event._ok else event._value)
        else:
            event.callbacks.append(self._woken)

    def _woken(self, event: Event) -> None:
        if event._ok:
            self._wake(event._value, None)
        else:
            event._defused = True
            self._wake(None, event._value)

    def _wake(self, value: Any, exc: BaseException | None) -> None:
        if self.dead:
            return
        if self.exclusive:
            self.resume(value, exc)
        else:
            self.actor.ready_to_resume(self, value, exc)


class Returned:
    """What :func:`_drive` yields when the generator it runs returns: the value returned."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _drive(gen: Any) -> Generator[Any, Any, None]:
    """Run the handler's generator *gen* (or a nested frame's): yield what it yields, send
    and throw into it what is sent and thrown in; when it returns, yield :class:`Returned`.

    An :class:`Invocation` drives this instead of *gen* itself. ``gen.send(value)`` tells
    that a generator returned by raising ``StopIteration``, and compiled (``dosim.native``),
    catching an exception costs more than the rest of a short handler's run: a traceback
    entry, for which mypyc makes a code object and a frame (about 2 microseconds a run). A
    ``yield from`` in a compiled generator receives the return value without any exception
    (CPython's ``PyIter_Send``). Once it has yielded :class:`Returned`, the driver is not
    resumed again; it is dropped with the invocation's frame."""
    value = yield from gen
    yield Returned(value)


_HELD: Final = (Invocation._held_event,)   # an invocation's callbacks while it holds the thread
