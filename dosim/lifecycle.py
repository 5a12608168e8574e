"""The lifecycle of one object: active, idle, hibernated, evicted -- and duration billing.

The documented state machine (``../shared/reference/do-semantics.md`` §1.2):

==========================  =======================================================  ========
state                        meaning                                                   billed
==========================  =======================================================  ========
``active``                   an event in progress (or queued, or writes unconfirmed)   yes
``idle``                     in memory, nothing running, but it cannot hibernate       yes
``idle_hibernatable``        in memory, nothing running, every hibernation condition   no [1]_
``hibernated``               out of memory; hibernatable WebSockets stay connected      no
``evicted``                  out of memory (also after a reset); the initial state      no
==========================  =======================================================  ========

.. [1] ``Config.bill_hibernatable_idle`` switches to the older wording (billed until it
   hibernates).

An idle object hibernates after ``Config.hibernate_after_ms`` (10 s) if it can: no standard
WebSocket open, no pending outbound I/O, nothing pinning it. One that cannot is evicted after
a time drawn uniformly from ``Config.evict_after_min_ms``..``max`` (70-140 s), unless it is
*pinned*: ``ctx.wait_until(event)`` pins it until the event fires or 15 min pass; pending
outbound I/O does the same when ``Config.pending_io_pins`` (the compatibility 2026-10-01
behaviour); an open standard WebSocket pins it while open. Hibernation and eviction drop the
Python instance: the next event runs the constructor again.

Duration is metered in GB-s: wall time in a billed state x ``Config.billed_memory_mb`` / 1000
(Cloudflare bills 128 MB, so 1 s active is 0.128 GB-s).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .context import Ms, Wake, wake_after

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ['STATES', 'Lifecycle']

STATES = ('active', 'idle', 'idle_hibernatable', 'hibernated', 'evicted')
BILLED = frozenset({'active', 'idle'})   # the states billed for duration ...
BILLED_WITH_HIBERNATABLE = BILLED | {'idle_hibernatable'}   # ... with bill_hibernatable_idle
PIN_LIMIT_MS = 15 * 60_000   # DOC state.mdx / CL 2026-10-01: at most 15 min per operation


class Lifecycle:
    """State, timers and pins of one object (see the module docstring)."""

    __slots__ = ('_billed', '_billed_states', '_cfg', '_deadline', '_env', '_timer_at',
                 '_timer_callbacks', 'actor', 'pins', 'since', 'state')

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self._env = actor.sim.env
        self._cfg = actor.sim.config
        self.state = 'evicted'
        self.since = actor.sim.env._now
        # token -> expiry (ms), inf while held open; None until the first pin (most objects
        # are never pinned, and every object ever touched keeps its lifecycle)
        self.pins: dict[Any, float] | None = None
        self._deadline: tuple[Ms, str] | None = None
        self._timer_at: Ms | None = None
        self._billed_states = BILLED_WITH_HIBERNATABLE if self._cfg.bill_hibernatable_idle \
            else BILLED
        self._billed = 'evicted' in self._billed_states
        self._timer_callbacks = (self._timer,)   # of every timer it sets

    # -- states and billing -------------------------------------------------------------------
    def enter(self, state: str, reason: str = '') -> None:
        """Move to *state*, metering the duration of the state left, and log the change for
        the trace: five fields (this lifecycle, the incarnation, the state, the time, the
        reason) at the end of ``trace.transitions``. The intervals are made from that log
        only when someone asks for them (:class:`dosim.trace.Transitions`), which is also
        where an interval that lasted no time is dropped."""
        if state == self.state and reason == '':
            return
        actor = self.actor
        now = self._env._now
        if self._billed:   # self._gb_s(now - self.since), written out
            actor.meters['duration_gb_s'] += (now - self.since) / 1000.0 * \
                self._cfg.billed_memory_mb / 1000.0
        trace = actor._trace
        if actor._full:
            actor.event('state', -1, f'{self.state} -> {state}' + (f': {reason}' if reason else ''))
        self.state, self.since = state, now
        self._billed = state in self._billed_states
        log = trace.transitions
        log += (self, actor.incarnation, state, now, reason)

    def _gb_s(self, ms: float) -> float:
        return ms / 1000.0 * self.actor.sim.config.billed_memory_mb / 1000.0

    def open_gb_s(self) -> float:
        """Duration billed so far in the current state (not yet in the meter)."""
        return self._gb_s(self.actor.sim.env.now - self.since) if self._billed else 0.0

    # -- pins ---------------------------------------------------------------------------------
    def pin(self, token: Any, limit_ms: Ms = PIN_LIMIT_MS) -> None:
        """Hold the object in memory until :meth:`unpin` (or *limit_ms*, at most)."""
        if self.pins is None:
            self.pins = {}
        self.pins[token] = self.actor.sim.env.now + limit_ms
        self.update()

    def unpin(self, token: Any) -> None:
        if self.pins and self.pins.pop(token, None) is not None:
            self.update()

    def _pinned(self, now: Ms) -> Ms | None:
        """The time the last live pin expires, or None if none is live (called only once
        something has pinned the object: ``pins`` is a dict)."""
        live = [t for t in (self.pins or {}).values() if t > now]
        return max(live) if live else None

    # -- deciding ---------------------------------------------------------------------------------
    def update(self) -> None:
        """Re-evaluate after anything that may change the state (an event started or ended,
        a socket opened or closed, a pin came or went)."""
        actor = self.actor
        if actor.instance is None:
            return
        # busy: an event in progress or queued, an alarm running, or writes not yet
        # confirmed (not storage.gate_open)
        storage = actor.storage
        alarm = actor.alarm
        if actor.live or actor.calls or actor.ready or (storage is not None and (
                storage.open is not None or storage.pending)) or (
                alarm is not None and alarm.running is not None):
            self._deadline = None
            if self.state != 'active':
                self.enter('active')
            return
        now = self._env._now
        pinned_until = self._pinned(now) if self.pins else None
        if pinned_until is not None:
            self._deadline = None if math.isinf(pinned_until) else (pinned_until, 'pin')
            self.enter('idle')
        elif not actor.outbound and (actor._sockets is None or
                                     not actor._sockets.open_standard()):
            # it can hibernate: no outbound call pending, no standard WebSocket open
            if self.state != 'idle_hibernatable':
                self.enter('idle_hibernatable')
            self._deadline = (self.since + self._cfg.hibernate_after_ms, 'hibernate')
        else:
            if self.state != 'idle' or self._deadline is None or self._deadline[1] != 'evict':
                cfg = self._cfg
                wait = actor.sim.streams.get('lifecycle').uniform(
                    cfg.evict_after_min_ms, cfg.evict_after_max_ms)
                self.enter('idle')
                self._deadline = (now + wait, 'evict')
        deadline = self._deadline
        if deadline is not None and (self._timer_at is None or self._timer_at > deadline[0]):
            self._arm(deadline[0])   # (an earlier timer pending re-checks when it fires)

    def _arm(self, at: Ms) -> None:
        self._timer_at = at
        sim = self.actor.sim
        env = self._env
        timer = Wake(self._timer_callbacks)
        deadline = self._deadline
        if deadline is not None and deadline[1] == 'hibernate':   # same delay for all: in order
            sim.hibernate_timers.wake_after(at - env._now, timer)
        else:
            wake_after(env, at - env._now, timer)

    def _timer(self, _event: Any) -> None:
        self._timer_at = None
        deadline = self._deadline
        if deadline is None or self.actor.instance is None:
            return
        at, action = deadline
        if self._env._now < at:
            self._arm(at)
        elif action == 'hibernate':
            self._deadline = None
            self.actor.unload('hibernated', self.actor.sim._hibernate_reason)
        elif action == 'evict':
            self._deadline = None
            self.actor.unload('evicted', 'idle and not hibernatable')
        else:
            self.update()   # a pin expired
