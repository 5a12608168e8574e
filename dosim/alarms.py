"""Alarms: one per object, at least once, with Cloudflare's retry backoff.

``set_alarm(epoch_ms)`` is a storage write like ``put``: it joins the open write batch and
takes effect for the scheduler when that batch is confirmed (a crash before that loses it,
with the rest of the batch). The :class:`AlarmState` of an object then fires the alarm a
few ms after its time (``Config.alarm_delivery_*_ms``). The run is an event like a request:
it wakes the object if needed (constructor first), passes the input gate, interleaves with
requests at non-storage waits.

While the handler runs, ``get_alarm()`` is ``None`` unless the handler set a new alarm. When
the handler returns and its writes are confirmed, the alarm is cleared -- or, if the handler
set a new one, that one stands. When the handler raises, it is retried after 2, 4, 8, 16, 32,
64 s plus a jitter of 0..25 % (whole ms); between attempts ``get_alarm()`` still shows the
original time; after the 7th failed attempt the alarm is abandoned. A new alarm set during a
failed run replaces the retry. A reset of the object during the run (a failed write, another
request's ``abort()``) is an infrastructure failure: retried with the same backoff, capped at
1,024 s, not counted toward the six retries. An ``abort()`` by the alarm handler itself
counts; ``abort(retry_alarm=False)`` ends the alarm instead.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from . import errors
from .context import Ms, Watchdogs

if TYPE_CHECKING:
    from .actor import Actor
    from .invocation import Invocation

__all__ = ['AlarmInfo', 'AlarmRun', 'AlarmState', 'alarm_time', 'retry_gap_ms']

UNSET: Final[Any] = object()
COUNTED_RETRIES = 6           # SRC workerd ALARM_RETRY_MAX_TRIES
RETRY_START_S = 2             # SRC workerd ALARM_RETRY_START_SECONDS
INFRA_GAP_CAP_MS = 1_024_000  # SRC workerd RETRY_BACKOFF_MAX = 9: 2 << 9 s = 1,024 s


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    """What ``alarm(alarm_info)`` receives: ``retry_count`` (0 on the first attempt),
    ``is_retry``, and ``scheduled_time`` (epoch ms the alarm was set for)."""

    retry_count: int
    is_retry: bool
    scheduled_time: Ms


def retry_gap_ms(failures: int) -> int:
    """The base gap after the *failures*-th failed attempt: 2 s, 4 s, ... 64 s."""
    return (RETRY_START_S << (failures - 1)) * 1000


class AlarmRun:
    """One attempt at running the alarm handler, queued like a request: made by
    :meth:`_Due.fire`, which sets its fields (the class has no ``__init__``: one alarm run
    per firing, and Python makes an object without one in half the time)."""

    __slots__ = ('alarm', 'args', 'arrived_ms', 'error', 'info', 'kind', 'method', 'rid',
                 'started_ms')

    alarm: AlarmState
    info: AlarmInfo
    args: tuple[AlarmInfo]            # what the handler is called with
    rid: int
    kind: str                         # 'alarm', as ...
    method: str                       # ... the method
    arrived_ms: Ms
    started_ms: Ms
    error: BaseException | None       # what the handler raised, once it ended

    def handler(self, instance: Any) -> Any:
        fn = getattr(instance, 'alarm', None)
        if not callable(fn):
            return TypeError('Your Durable Object class must have an alarm() handler.')
        return fn

    def started(self, inv: Invocation) -> None:
        """The handler begins (the actor made *inv* for it)."""
        alarm = self.alarm
        alarm.queued = None
        alarm.running = self
        alarm.running_inv = inv
        alarm.set_during_run = UNSET
        self.started_ms = alarm._env._now
        alarm.attempts += 1
        actor = alarm.actor
        actor.meters['requests'] += 1
        # actor.sim.alarm_watchdogs.start(AlarmRun.too_long, self), written out
        dogs = alarm._watchdogs
        env = alarm._env
        entry = alarm._watchdog = [env._now + dogs.delay, next(env._eid), AlarmRun.too_long, self]
        waiting = dogs._waiting
        waiting.append(entry)
        if len(waiting) == 1:
            dogs._arm(entry)

    def handler_done(self, value: Any, exc: BaseException | None) -> None:
        """The handler returned or raised: the outcome counts once its writes (a new alarm
        among them) are confirmed; a reset before that makes it an infrastructure failure."""
        alarm = self.alarm
        inv = alarm.running_inv
        storage = inv.storage if inv is not None else alarm.actor.storage
        self.error = exc
        storage.when_confirmed(self.confirmed)  # type: ignore[union-attr, arg-type]

    def confirmed(self) -> bool | None:
        """The handler ended and its writes are confirmed: the attempt's outcome counts.
        True when this ended with the object's ``lifecycle.update()`` (see
        :meth:`~dosim.writequeue.WriteQueue._confirm`: it need not update again)."""
        alarm = self.alarm
        if alarm.running is not self:
            return None
        if self.error is not None:
            alarm.attempt_failed(self, self.error, counted=True)
        else:
            alarm._succeeded(self)
        alarm.actor.lifecycle.update()
        return True

    def too_long(self) -> None:
        """The attempt's wall-time limit passed."""
        self.alarm._too_long(self)

    def respond(self, value: Any, error: errors.DurableObjectError | None) -> None:
        """The run could not start (its constructor failed): a counted failure."""
        self.alarm.attempt_failed(self, error, counted=True)


class _Due:
    """The timer of one scheduled attempt (its own entry in SimPy's queue), made by
    :meth:`AlarmState._schedule_at_time` and :meth:`AlarmState._schedule` (no ``__init__``,
    as :class:`AlarmRun`)."""

    __slots__ = ('alarm', 'callbacks', 'version')
    _ok = True

    alarm: AlarmState
    version: int   # the AlarmState's _version when scheduled: a newer one cancels this
    callbacks: Any   # _DUE

    def fire(self) -> None:
        """The attempt's time has come: it runs, unless a newer schedule replaced this one
        or the alarm was deleted."""
        alarm = self.alarm
        if self.version != alarm._version or alarm.stored is None:
            return
        alarm.due_at = None
        attempts = alarm.attempts
        info = AlarmInfo(attempts, attempts > 0, alarm.stored)  # type: ignore[arg-type]
        run = alarm.queued = AlarmRun()
        run.alarm = alarm
        run.info = info
        run.args = (info,)
        actor = alarm.actor
        sim = actor.sim
        sim._request_ids += 1   # sim.next_request_id()
        run.rid = sim._request_ids
        run.kind = run.method = 'alarm'
        run.arrived_ms = alarm._env._now
        run.started_ms = math.nan
        run.error = None
        actor.deliver(run)


_DUE = (_Due.fire,)   # the callbacks of every _Due


class AlarmState:
    """The alarm of one object: what is stored, what is scheduled, the attempt running."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        sim = actor.sim
        self._env = sim.env
        self._lane = sim.alarm_timers
        self._cfg = sim.config
        self._rng = sim.streams.get('alarms')
        self._faults = sim.faults
        self._trace = sim.trace
        self._watchdogs = sim.alarm_watchdogs
        self.stored: Ms | None = None   # epoch ms, confirmed
        self.failures = 0                  # counted failed attempts of this alarm
        self.infra_failures = 0
        self.attempts = 0
        self.queued: AlarmRun | None = None
        self.running: AlarmRun | None = None
        self.running_inv: Invocation | None = None
        self.set_during_run: Any = UNSET
        self.due_at: Ms | None = None   # when the next attempt fires (sim ms), if scheduled
        self._version = 0
        self._watchdog: list[Any] | None = None   # the running attempt's wall-time limit

    # -- what get_alarm() sees --------------------------------------------------------------
    def visible(self) -> Ms | None:
        """``get_alarm()`` with no unconfirmed write of this incarnation in between."""
        if self.running is not None:
            return None if self.set_during_run is UNSET else self.set_during_run
        return self.stored

    # -- stored changes (confirmed set_alarm / delete_alarm) -------------------------------------
    def commit(self, epoch: Ms | None) -> None:
        """A confirmed ``set_alarm`` (or ``delete_alarm`` with ``None``)."""
        if self.running is not None:
            self.set_during_run = epoch
            self.stored = epoch
            return
        self.stored = epoch
        self._fresh()
        if epoch is None:
            self._cancel()
        else:
            self._schedule_at_time(epoch)

    def _fresh(self) -> None:
        self.failures = self.infra_failures = self.attempts = 0

    def _cancel(self) -> None:
        self._version += 1
        self.due_at = None
        if self.queued is not None:
            self.queued = None

    def _schedule_at_time(self, epoch: Ms) -> None:
        cfg = self._cfg
        now = self._env._now
        due = epoch - cfg.start_epoch_ms
        if now > due:   # max(due, now)
            due = now
        # self._rng.uniform(min, max), written out (the same arithmetic, the same draw)
        low = cfg.alarm_delivery_min_ms
        delay = low + (cfg.alarm_delivery_max_ms - low) * self._rng.random()
        faults = self._faults
        if faults._failovers:   # any alarm failover injected (see Faults.alarm_failover)
            delay += faults.alarm_failover_delay(self.actor)
        delay = due + delay - now
        # self._schedule(delay), written out
        self._version += 1
        self.due_at = now + delay
        timer = _Due()
        timer.alarm = self
        timer.version = self._version
        timer.callbacks = _DUE
        self._lane.wake_after(delay, timer)

    def _schedule(self, delay: Ms) -> Ms:
        self._version += 1
        version = self._version
        env = self._env
        at = self.due_at = env._now + delay
        timer = _Due()
        timer.alarm = self
        timer.version = version
        timer.callbacks = _DUE
        self._lane.wake_after(delay, timer)
        return at

    # -- an attempt ---------------------------------------------------------------------------
    def _stop_watchdog(self) -> None:
        """The attempt ended: its wall-time limit no longer matters."""
        if self._watchdog is not None:
            Watchdogs.cancel(self._watchdog)
            self._watchdog = None

    def _too_long(self, run: AlarmRun) -> None:
        if self.running is run:
            error = errors.DurableObjectError(errors.ALARM_WALL_TIME, breaks_stub=True)
            self.actor.reset(error, 'alarm wall-time limit', culprit=self.running_inv)

    def _succeeded(self, run: AlarmRun) -> None:
        if self._trace.keep_requests:
            self._record(run, 'ok', '')
        self.running = self.running_inv = None
        if self._watchdog is not None:   # self._stop_watchdog(), written out
            self._watchdog[2] = self._watchdog[3] = None   # Watchdogs.cancel
            self._watchdog = None
        new = self.set_during_run
        self.failures = self.infra_failures = self.attempts = 0   # self._fresh()
        if new is UNSET or new is None:
            self.stored = None
            self.actor.event('alarm_cleared', run.rid)
        else:
            self._schedule_at_time(new)

    def attempt_failed(self, run: AlarmRun, exc: BaseException | None, counted: bool,
                       retry: bool = True) -> None:
        """The attempt raised (*counted*), or the object was reset under it (not counted)."""
        message = '' if exc is None else str(exc)
        self.running = self.running_inv = None
        self._stop_watchdog()
        if self.queued is run:
            self.queued = None
        new = self.set_during_run
        self.set_during_run = UNSET
        if new is not UNSET:
            self._record(run, 'superseded', message)
            self._fresh()
            if new is not None:
                self._schedule_at_time(new)
            return
        if not retry:
            self._record(run, 'error', message)
            self.stored = None
            self._fresh()
            return
        if counted:
            self.failures += 1
            if self.failures > COUNTED_RETRIES:
                self._record(run, 'abandoned', message)
                self.actor.event('alarm_abandoned', run.rid, f'after {self.failures} failures')
                self.stored = None
                self._fresh()
                return
            gap = retry_gap_ms(self.failures)
        else:
            self.infra_failures += 1
            gap = min(retry_gap_ms(min(self.infra_failures, 20)), INFRA_GAP_CAP_MS)
        jitter = self._rng.randint(0, math.floor(0.25 * gap))
        at = self._schedule(gap + jitter)
        self._record(run, 'error' if counted else 'reset', message, at)
        self.actor.event('alarm_retry', run.rid, f'in {gap + jitter} ms')

    def on_reset(self, culprit: Invocation | None, retry: bool, message: str) -> None:
        """The object was reset: an attempt in progress or queued must run again."""
        run = self.running or self.queued
        if run is None:
            return
        own = culprit is not None and culprit is self.running_inv
        self.attempt_failed(run, RuntimeError(message), counted=own, retry=retry)

    # -- trace --------------------------------------------------------------------------------
    def _record(self, run: AlarmRun, outcome: str, error: str, next_ms: Ms = math.nan) -> None:
        actor = self.actor
        trace = self._trace
        if not trace.keep_requests:
            return
        scheduled = run.info.scheduled_time - self._cfg.start_epoch_ms
        trace.alarm_rows.append((
            actor.ns_name, actor.label, actor.incarnation, scheduled, run.started_ms,
            self._env._now, run.info.retry_count, run.info.is_retry, outcome, next_ms, error,
        ))


def alarm_time(actor: Actor, scheduled_time: Any) -> Ms:
    """The epoch ms ``set_alarm(scheduled_time)`` stores, validated as workerd does: a
    number or a timezone-aware ``datetime``, > 0, and only in a class with an ``alarm()``
    handler (or in its constructor); a time in the past is clamped to now."""
    if (type(scheduled_time) is float or type(scheduled_time) is int) and \
            math.isfinite(scheduled_time):
        epoch = scheduled_time   # _epoch_ms(scheduled_time) in the common case, written out
    else:
        epoch = _epoch_ms(scheduled_time)
    if epoch <= 0:
        raise TypeError('setAlarm() cannot be called with an alarm time <= 0')
    has_handler = callable(getattr(actor.namespace.cls, 'alarm', None))
    if actor.constructor_tasks is None and not has_handler:
        raise TypeError(
            'Your Durable Object class must have an alarm() handler in order to call '
            'setAlarm()'
        )
    sim = actor.sim
    now = math.floor(sim.config.start_epoch_ms + sim.env._now)
    return now if now > epoch else epoch   # max(epoch, now)


def _epoch_ms(value: Any) -> Ms:
    """Epoch milliseconds from a number or a ``datetime`` (as ``setAlarm`` takes a Date)."""
    if (type(value) is float or type(value) is int) and math.isfinite(value):
        return value   # the common case, checked first
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise TypeError('set_alarm(): a datetime must carry a timezone (use UTC)')
        return value.timestamp() * 1000.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(
            f'set_alarm(): the alarm time must be epoch milliseconds or a datetime, got {value!r}'
        )
    return value
