"""The runtime's side of one object id: its queue, its single thread, its incarnations.

An :class:`Actor` exists for every object id that was ever sent an event, and outlives every
instance of the user's class. It owns what survives a reset (the :class:`~dosim.store.Store`,
the billing meters) and runs what does not (the instance, its ``ctx.storage`` cache and
unconfirmed writes).

Events reach the actor in arrival order and wait in one FIFO *ready queue* together with
handlers whose non-storage wait has ended. The actor's single thread takes the next item
whenever nothing holds it: that is the *input gate*. A handler holds the thread while it
computes or waits on storage; it lets go at a timer, an outbound fetch or a call to another
object, and at its end. ``block_concurrency_while`` holds it across every kind of wait.

The first event of an incarnation runs the constructor; a reset (``ctx.abort()``, a failed
write, the CPU limit, a ``block_concurrency_while`` that throws or runs too long) throws the
instance away with its unconfirmed writes, fails every call in progress, and the next event
runs the constructor again with a new incarnation number.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from . import errors
from .alarms import AlarmRun, AlarmState
from .context import Ms
from .invocation import Aborted, Invocation
from .lifecycle import Lifecycle
from .object import DurableObject
from .sockets import SocketHub
from .state import DurableObjectState
from .storage import Storage
from .store import Store

if TYPE_CHECKING:
    from .call import Call
    from .namespace import DurableObjectNamespace

__all__ = ['METERS', 'Actor']


METERS = (
    'requests', 'cpu_ms', 'rows_read', 'rows_written', 'read_units', 'write_units',
    'delete_requests', 'ws_messages_in', 'duration_gb_s',
)

_NEW: Final = 0
_RESUME: Final = 1
_TASK: Final = 2
_ALARM: Final = 3
_EVENT: Final = 4


_EMPTY: Final[Any] = ()   # stands for an empty queue until the first item arrives
_NONE: Final[Any] = frozenset()   # stands for an empty set of calls or invocations, likewise
_NO_TASKS: Sequence[Invocation] = ()   # the constructor started no block_concurrency_while task
# Every field of an Actor (the copy a deploy makes takes them all, see Actor._retire)
FIELDS = (
    '_dispatching', '_full', '_sockets', '_trace', 'alarm', 'arrive', 'break_errors', 'breaks',
    'calls', 'constructor_tasks', 'ctx', 'id', 'incarnation', 'instance', 'label',
    'last_confirm', 'lifecycle', 'live', 'location', 'meters', 'name_checked_ms', 'namespace',
    'ns_name', 'outbound', 'queued', 'queued_since', 'ready', 'running', 'sim', 'storage',
    'store',
)
_BASE_INIT = DurableObject.__init__
_new_state = DurableObjectState.__new__


class Actor:
    """Runtime state of one object id (see the module docstring)."""

    __slots__ = FIELDS

    def __init__(self, namespace: DurableObjectNamespace, oid: Any) -> None:
        self.namespace = namespace
        self.sim = namespace.sim
        self.id = oid
        self.ns_name = namespace.binding
        self.label = oid.label
        self.store = Store()
        self.meters: dict[str, float] = dict.fromkeys(METERS, 0)
        self.instance: DurableObject | None = None
        self.ctx: Any = None
        self.storage: Storage | None = None
        self.incarnation = 0
        self.running: Invocation | None = None
        # the ready queue, and when each new call in it arrived: made on first use, as most
        # objects never queue anything (the thread is free when their calls arrive)
        self.ready: Any = _EMPTY   # a deque[tuple[int, Any, Any, Any]] once used
        self.queued = 0  # new calls waiting in `ready`
        self.queued_since: Any = _EMPTY   # a deque[Ms] once used
        # Containers made on first use and dropped when the object leaves memory: a hibernated
        # object costs little, and the garbage collector has fewer objects to visit.
        self.calls: Any = _NONE  # set[Call]: arrived and not yet answered
        # a reset breaks every stub connected to the incarnation: stubs remember the count
        # of breaks when they last reached it (see StubLink.broken)
        self.breaks = 0
        self.break_errors: list[errors.DurableObjectError] | None = None
        self.live: Any = _NONE   # set[Invocation]
        self._dispatching = False
        self.constructor_tasks: list[Invocation] | None = None
        self.alarm: AlarmState | None = None
        self._sockets: SocketHub | None = None
        self.outbound: set[Call] | None = None  # calls this object made, not answered yet
        self.last_confirm: Ms = -math.inf  # when its latest flushed write batch confirms
        self.location: Any = None  # its data centre, fixed by its first call
        self.name_checked_ms: Ms | None = None   # when the name's uniqueness check ends
        self._trace = self.sim.trace
        self._full: bool = self._trace.full   # (read at every step: a field of its own)
        self.lifecycle = Lifecycle(self)
        self.arrive = (self.receive,)   # the callbacks of a call reaching it (see Call)

    # -- recording --------------------------------------------------------------------------
    def event(self, kind: str, rid: int = -1, detail: str = '') -> None:
        if self._full:
            self._trace.event(self.ns_name, self.label, self.incarnation, kind, rid, detail)

    @property
    def sockets(self) -> SocketHub:
        """The runtime's side of this object's WebSockets, created on first use."""
        if self._sockets is None:
            self._sockets = SocketHub(self)
        return self._sockets

    # -- arrivals ---------------------------------------------------------------------------
    def receive(self, call: Call) -> None:
        """A call reached the object: refuse it if overloaded, else queue it."""
        now = self.sim.env._now
        call.arrived_ms = now
        stub = call.stub   # (its StubLink)
        if stub.conn is not self or stub.conn_breaks != self.breaks:
            stub.connect(self)
        self.meters['requests'] += 1
        if self._full:
            self.event('message_received', call.rid, f'{call.kind} {call.caller}->{self.label}')
            self.event('request_received', call.rid, call.method)
        cfg = self.sim.config
        message = None
        if self.queued >= cfg.overload_max_queued:
            message = errors.OVERLOADED_QUEUE_DEPTH
        elif self.queued_since and now - self.queued_since[0] > cfg.overload_max_queue_time_ms:
            message = errors.OVERLOADED_QUEUE_TIME
        if message is not None:
            self.event('overloaded', call.rid, message)
            call.respond(None, errors.DurableObjectError(message, overloaded=True))
            return
        calls = self.calls
        if calls.__class__ is not set:
            calls = self.calls = set()
        calls.add(call)
        if self.running is None and not self.ready and not self._dispatching:
            # the thread is free and nothing is queued: start at once (what _dispatch does)
            if self.instance is not None and self.lifecycle.state != 'active':
                self.lifecycle.update()   # (out of memory, it would change nothing)
            self._dispatching = True
            try:
                self._start(call, _NEW)
            finally:
                self._dispatching = False
            if self.ready and self.running is None:
                self._dispatch()
            return
        self.queued += 1
        self._queue_times().append(now)
        self._ready().append((_NEW, call, None, None))
        if self.lifecycle.state != 'active':
            self.lifecycle.update()
        self._dispatch()

    def alarm_state(self) -> AlarmState:
        """This object's alarm, created on first use."""
        if self.alarm is None:
            self.alarm = AlarmState(self)
        return self.alarm

    def deliver(self, run: AlarmRun) -> None:
        """An alarm fires: it queues like any event."""
        if self._full:
            self.event('alarm_fired', run.rid, f'retry {run.info.retry_count}')
        self._queue_event(_ALARM, run)

    def deliver_event(self, item: Any) -> None:
        """A WebSocket event for the object: it queues like any event."""
        self._queue_event(_EVENT, item)

    def _queue_event(self, kind: int, item: Any) -> None:
        if self.running is None and not self.ready and not self._dispatching and (
                self.instance is None or self.lifecycle.state == 'active'):
            # the thread is free, nothing is queued and lifecycle.update() would change
            # nothing: start at once, as _dispatch would (an alarm waking a hibernated
            # object needs no queue)
            self._dispatching = True
            try:
                if kind != _ALARM or item.alarm.queued is item:
                    self._start(item, kind)
            finally:
                self._dispatching = False
            if self.ready and self.running is None:
                self._dispatch()
            return
        self._ready().append((kind, item, None, None))
        if self.lifecycle.state != 'active':
            self.lifecycle.update()
        self._dispatch()

    def ready_to_resume(self, inv: Invocation, value: Any, exc: BaseException | None) -> None:
        """A handler's non-storage wait ended: it queues for the thread again."""
        self._ready().append((_RESUME, inv, value, exc))
        self._dispatch()

    def _ready(self) -> deque[tuple[int, Any, Any, Any]]:
        ready = self.ready
        if ready is _EMPTY:
            ready = self.ready = deque()
        return ready

    def _queue_times(self) -> deque[Ms]:
        times = self.queued_since
        if times is _EMPTY:
            times = self.queued_since = deque()
        return times

    def add_outbound(self, call: Call) -> None:
        """A call this object made is on its way (it may pin the object; see lifecycle)."""
        if self.outbound is None:
            self.outbound = set()
        self.outbound.add(call)

    # -- the thread -------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if self._dispatching:
            return
        self._dispatching = True
        try:
            ready = self.ready
            while self.running is None and ready:
                kind, item, value, exc = ready.popleft()
                if kind == _RESUME:
                    if not item.dead:
                        self.running = item
                        self.event('gate_close', item.rid)
                        item.resume(value, exc)
                elif kind == _NEW:
                    self.queued -= 1
                    self.queued_since.popleft()
                    self._start(item, _NEW)
                elif kind == _ALARM:
                    if item.alarm.queued is item:
                        self._start(item, _ALARM)
                elif kind == _EVENT:
                    self._start(item, _EVENT)
                else:
                    self.running = item
                    item.resume(None, None)
        finally:
            self._dispatching = False

    def release(self, inv: Invocation) -> None:
        """*inv* stops holding the thread (it waits on something that opens the gate)."""
        if self.running is inv:
            self.running = None
            self.event('gate_open', inv.rid)
            if self.ready:
                self._dispatch()

    def finished(self, inv: Invocation, value: Any, exc: BaseException | None) -> None:
        """*inv*'s handler returned or raised."""
        live = self.live
        if live:
            live.discard(inv)
        inv.on_done(value, exc)
        if self.running is inv:
            self.running = None
        if not self.live and not self.calls:   # a call still at the gate updates on release
            self.lifecycle.update()
        if self.ready and not self._dispatching:
            self._dispatch()

    # -- starting handlers ------------------------------------------------------------------
    def _start(self, call: Call | AlarmRun, kind: int) -> None:
        """Deliver a request (or an alarm run) to the instance, constructing it first."""
        if self.instance is None:
            tasks = self._construct(call)
            if tasks is None:
                return
            if tasks:  # the constructor's block_concurrency_while tasks run first
                ready = self._ready()
                ready.appendleft((kind, call, None, None))
                if kind == _NEW:
                    self.queued += 1
                    self._queue_times().appendleft(call.arrived_ms)
                for task in reversed(tasks):
                    ready.appendleft((_TASK, task, None, None))
                return
        handler = call.handler(self.instance)
        call.started_ms = self.sim.env._now
        inv = Invocation(self, call.kind, call.rid, call.handler_done)
        if kind == _NEW:
            call.incarnation = self.incarnation  # type: ignore[union-attr]
            if self._full:
                self.event('request_started', call.rid, call.method)
        else:
            call.started(inv)  # type: ignore[union-attr]
            if self._full:
                self.event(f'{call.kind}_started', call.rid, call.method)
        live = self.live
        if live.__class__ is not set:
            live = self.live = set()
        live.add(inv)
        self.running = inv
        if isinstance(handler, BaseException):
            self.finished(inv, None, handler)
            return
        inv.start(handler, call.args)

    def _construct(self, call: Call | AlarmRun) -> Sequence[Invocation] | None:
        """Run the user's constructor for a new incarnation. Returns the tasks it started
        with ``block_concurrency_while``, or None if it failed (the call is answered)."""
        self.incarnation += 1
        storage = self.storage = Storage(self)
        # DurableObjectState(self), written out: made at every wake, and in half the time
        ctx = self.ctx = _new_state(DurableObjectState)
        ctx._actor = self
        ctx._incarnation = self.incarnation
        ctx.id = self.id
        ctx.storage = storage
        cls = self.namespace.cls
        instance = cls.__new__(cls)
        instance.ctx = ctx
        env = instance.env = self.sim.bindings
        if self._full:
            if self.lifecycle.state == 'hibernated':
                self.event('wake', call.rid, call.method)
            self.event('constructor', call.rid)
        if cls.__init__ is _BASE_INIT:
            # no constructor of its own: DurableObject's would set ctx and env, as done
            tasks: Sequence[Invocation] | None = _NO_TASKS
        else:
            tasks = self._run_constructor(call, instance, ctx, env)
            if tasks is None:
                return None
        self.instance = instance
        self.lifecycle.enter('active', 'constructor')
        if tasks:
            if self.live.__class__ is not set:
                self.live = set()
            self.live.update(tasks)
        return tasks

    def _run_constructor(self, call: Call | AlarmRun, instance: DurableObject, ctx: Any,
                         env: Any) -> list[Invocation] | None:
        """Call the user's ``__init__``: the tasks it started, or None if it failed."""
        tasks: list[Invocation] = []
        self.constructor_tasks = tasks
        try:
            instance.__init__(ctx, env)  # type: ignore[misc]
        except Aborted:
            return None
        except Exception as exc:
            self.storage.dead = True  # type: ignore[union-attr]
            self.storage = self.ctx = None
            if self.calls:
                self.calls.discard(call)
            call.respond(None, errors.DurableObjectError(
                str(exc), remote=True, error_type=type(exc).__name__))
            return None
        finally:
            self.constructor_tasks = None
        return tasks

    # -- leaving memory -------------------------------------------------------------------------
    def unload(self, state: str, reason: str) -> None:
        """Hibernate or evict: drop the instance (the next event constructs anew); storage,
        the alarm and hibernatable WebSockets stay."""
        if self.storage is not None:
            self.storage.dead = True
        self.instance = self.ctx = self.storage = None
        if not self.calls:
            self.calls = _NONE
        if not self.live:
            self.live = _NONE
        if not self.ready:
            self.ready = self.queued_since = _EMPTY
        if self._full:
            self.event('hibernate' if state == 'hibernated' else 'evict', -1, reason)
        self.lifecycle.enter(state, reason)

    # -- deploys ------------------------------------------------------------------------------
    def deploy(self) -> None:
        """New code: every WebSocket closes and the instance is replaced. Events already
        running finish on the old instance within a 30 s grace period, without storage; new
        events go to a new instance (see :mod:`dosim.faults`)."""
        if self._sockets is not None:
            self._sockets.close_all(1012, errors.DEPLOY_RESET)
        if self.instance is None:
            return
        started = {c for c in self.calls if c.started_ms == c.started_ms}
        if not self.live and not started and self.storage.gate_open:  # type: ignore[union-attr]
            self.unload('evicted', 'code deploy')
            return
        old = self._retire(started)
        self.event('deploy', -1, f'{len(old.live)} events finish on the old instance')
        grace = self.sim.config.deploy_grace_ms
        self.sim.env.timeout(grace).callbacks.append(
            lambda _ev: old.stop_old_instance(errors.GRACE_OVER, 'grace period complete'))
        self._dispatch()

    def _retire(self, started: set[Call]) -> Actor:
        """Move the running instance and its events to a copy of this actor, which runs
        them out; this actor starts afresh for new events."""
        old = Actor(self.namespace, self.id)
        for name in FIELDS:
            setattr(old, name, getattr(self, name))
        old.lifecycle = _Offstage(old)
        old._sockets = None
        keep = (_RESUME, _TASK)
        old.ready = deque(item for item in self.ready if item[0] in keep)
        old.calls, old.queued, old.queued_since = started, 0, deque()
        old.outbound = None
        old.arrive = (old.receive,)
        old.break_errors = None if self.break_errors is None else list(self.break_errors)
        alarm = self.alarm
        old.alarm = alarm if alarm is not None and alarm.running_inv in self.live else None
        for inv in old.live:
            inv.actor = old
        for call in started:
            call.actor = old
        old.storage.draining = True  # type: ignore[union-attr]
        old.storage.retired_to = old  # type: ignore[union-attr]
        self.ready = deque(item for item in self.ready if item[0] not in keep)
        self.calls = set(self.calls) - started
        self._break_stubs(errors.DurableObjectError(errors.CONNECTION_CLOSED, retryable=True))
        self.live = _NONE
        self.instance = self.ctx = self.storage = self.running = None
        self.lifecycle.enter('evicted', 'code deploy')
        return old

    def _break_stubs(self, error: errors.DurableObjectError) -> None:
        """Every stub connected to the instance that ends is broken: its next call fails
        at once with *error* (workerd, data/workerd_observations.md §8; conformance
        scenario alarm_abort_at_least_once). A stub notices when it is next used."""
        if self.break_errors is None:
            self.break_errors = []
        self.break_errors.append(error)
        self.breaks += 1

    def stop_old_instance(self, message: str, why: str) -> None:
        """End the old instance kept after a deploy: whatever still runs there fails with
        *message*."""
        if self.instance is None:
            return
        self.reset(errors.DurableObjectError(message, retryable=True, breaks_stub=True), why)

    # -- resets -----------------------------------------------------------------------------
    def reset(self, error: errors.DurableObjectError, reason: str,
              culprit: Invocation | None = None, retry_alarm: bool = True) -> None:
        """Throw the instance away: memory and unconfirmed writes are lost, every call in
        progress fails with *error*; storage survives; the next event constructs anew. An
        alarm run in progress is retried (counted if *culprit*, the invocation that caused
        the reset, is the alarm's own; not at all unless *retry_alarm*)."""
        if self.storage is not None:
            self.storage.lose_pending()
            self.storage.dead = True
        for inv in self.live:
            inv.dead = True
        self.live = _NONE
        self.outbound = None   # calls still waiting at the output gate will never leave
        calls, self.calls = self.calls, _NONE
        if self.ready:
            self.ready.clear()
        self.queued = 0
        if self.queued_since:
            self.queued_since.clear()
        self.running = None
        self.instance = None
        self.ctx = None
        self.storage = None
        self.event('reset', -1, f'{reason}: {error.message}')
        self.lifecycle.pins = None
        self.lifecycle.enter('evicted', f'reset: {reason}')
        if self._sockets is not None:
            self._sockets.close_all()
        for call in sorted(calls, key=lambda c: c.rid):
            call.respond(None, error.copy())
        self._break_stubs(error)
        if self.alarm is not None:
            self.alarm.on_reset(culprit, retry_alarm, error.message)


class _Offstage(Lifecycle):
    """The lifecycle of an old instance after a deploy: it records nothing."""

    def enter(self, state: str, reason: str = '') -> None:
        pass

    def update(self) -> None:
        pass

    def pin(self, token: Any, limit_ms: Ms = 0.0) -> None:
        pass

    def unpin(self, token: Any) -> None:
        pass

    def open_gb_s(self) -> float:
        return 0.0
