"""Write batches and the output gate.

A handler's writes with no ``yield`` between them form one :class:`WriteBatch`. When the
batch closes (the handler yields or ends) it is flushed, and confirmed a little later -- all
of it, or, if the object resets first, none of it. Batches are confirmed in the order they
were flushed: so the queue itself waits in SimPy's event queue, once per flushed batch, and
each time it is due it confirms its oldest one.

The *output gate* is built on that queue: :meth:`WriteQueue.when_confirmed` runs a callback
(releasing a response, sending an outbound call or a WebSocket message) only once every write
issued before it is confirmed. If a confirmation fails, the object is reset and the callbacks
never run: nobody is told "done" about a write that was lost.

:class:`~dosim.storage.Storage` is a write queue with the KV API on top; it says what a
confirmed batch does to the data (``_apply_confirmed``) and how long a confirmation takes
(``_confirm_delay``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import errors
from .context import Ms, active
from .heap import heappush
from .store import DELETED

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ['NO_CHANGE', 'WriteBatch', 'WriteQueue']

NO_CHANGE: Any = object()  # a batch that does not touch the alarm

#: called once a batch is confirmed; True means it ended with lifecycle.update() and left
#: nothing for the lifecycle to look at again (see WriteQueue._confirm)
Waiter = Callable[[], object]

#: every field of a WriteQueue, which Storage.__init__ sets too (a class compiled with mypyc
#: has no ``__slots__`` to read them from)
FIELDS = ('_actor', '_env', '_faults', '_seq', '_trace', 'callbacks', 'dead', 'incarnation',
          'open', 'pending', 'retired_to')


class WriteBatch:
    """Writes with no ``yield`` between them: confirmed, or lost, together."""

    __slots__ = ('alarm', 'clear', 'confirm_at', 'flushed_at', 'rids', 'seq', 'waiters',
                 'writes')

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.writes: dict[str, Any] = {}
        self.alarm: Any = NO_CHANGE
        self.rids: dict[str, int] | None = None  # key -> request id of its writer (level full)
        self.flushed_at: Ms = math.nan
        self.clear = False
        self.confirm_at: Ms = math.nan
        # what waits for its confirmation (WriteQueue.when_confirmed): one callback, as it
        # is, or a list of them
        self.waiters: Waiter | list[Waiter] | None = None

    def record_rid(self, key: str, rid: int) -> None:
        if self.rids is None:
            self.rids = {}
        self.rids[key] = rid


class WriteQueue:
    """The open batch, the flushed ones awaiting confirmation, and the output gate. It is
    also its own timer in SimPy's queue (see the module docstring)."""

    __slots__ = FIELDS
    _ok = True
    callbacks: Any   # (_CONFIRM,) while in SimPy's queue; the loop sets it to None

    def __init__(self, actor: Actor) -> None:
        self._actor = actor
        sim = actor.sim
        self._trace = sim.trace
        self._env = sim.env
        self._faults = sim.faults
        self.callbacks = _CONFIRM
        self.incarnation = actor.incarnation   # this queue's, even after a deploy moves on
        self.open: WriteBatch | None = None
        self.pending: list[WriteBatch] = []   # (a deque is 600 bytes, malloc'd at every wake)
        self._seq = 0
        self.dead = False
        self.retired_to: Any = None   # after a deploy: the actor running the old instance

    def _batch(self) -> WriteBatch:
        batch = self.open
        if batch is None:
            self._seq += 1
            batch = self.open = WriteBatch(self._seq)
            self._actor.sim.outbox.end()   # ends the broadcast batch (dosim.outbox)
        return batch

    def end_turn(self) -> None:
        """Close the open write batch (the handler yielded or ended) and flush it."""
        batch = self.open
        if batch is None:
            return
        self.open = None
        actor = self._actor
        env = self._env
        now = env._now
        # confirmations are in flush order per object, across its instances (a deploy's old
        # instance and the new one share one storage)
        confirm_at = now + (self._confirm_delay() if self._faults.storage_spikes
                            else self._confirm_ms)
        if confirm_at < actor.last_confirm:
            confirm_at = actor.last_confirm
        actor.last_confirm = batch.confirm_at = confirm_at
        self.pending.append(batch)
        batch.flushed_at = now
        if self._trace.full:
            self._record_writes(batch)
            self._event('flush', f'batch {batch.seq}: {len(batch.writes)} keys'
                        + (' after delete_all' if batch.clear else ''))
        # wake_after: due when its oldest pending batch is (confirmations keep flush order)
        heappush(env._queue, (now + (confirm_at - now), 1, next(env._eid), self))  # type: ignore[misc]

    def _record_writes(self, batch: WriteBatch) -> None:
        a = self._actor
        rows = self._trace.write_rows
        rids = batch.rids or {}
        for key, stored in batch.writes.items():
            rows.append((batch.flushed_at, a.ns_name, a.label, self.incarnation, batch.seq,
                         rids.get(key, -1), key, stored is DELETED, stored))

    def _record_batch(self, batch: WriteBatch, outcome: str) -> None:
        if self._trace.full:
            a = self._actor
            self._trace.batch_rows.append((a.ns_name, a.label, self.incarnation, batch.seq,
                                           batch.flushed_at, a.sim.env.now, outcome))

    def lose_pending(self) -> None:
        """The object was reset: every batch not yet confirmed is lost."""
        for batch in self.pending:
            self._record_batch(batch, 'lost')
        self.pending.clear()

    def _confirm(self, _event: Any = None) -> None:
        """The oldest pending batch is due: confirm it (or fail it, resetting the object)."""
        self.callbacks = _CONFIRM   # for the next batch: SimPy's loop cleared them
        if self.dead:
            return
        batch = self.pending[0]
        actor = self._actor
        faults = self._faults
        if (faults._forced or faults._rate) and faults.write_fails(actor):
            self._record_batch(self.pending.pop(0), 'failed')
            self._event('write_failed', f'batch {batch.seq}')
            owner = self.retired_to or actor   # an old instance's failure resets only it
            owner.reset(errors.DurableObjectError(errors.RESET_BY_WRITE_FAILURE, retryable=True,
                                                  breaks_stub=True), 'write failed')
            return
        self.pending.pop(0)
        full = self._trace.full
        if full:
            self._record_batch(batch, 'confirmed')
        self._apply_confirmed(batch)
        if full:
            self._event('confirm', f'batch {batch.seq}')
        # settled: the last callback ended with lifecycle.update() and changed nothing after
        # it that the lifecycle looks at (it returned True: a call's reply leaving, an alarm
        # run's outcome counted)
        waiters = batch.waiters
        if waiters is None:
            settled = False
        elif waiters.__class__ is list:
            for callback in waiters:
                settled = callback() is True
        else:
            settled = waiters() is True  # type: ignore[operator]
        if not settled and not self.pending and self.open is None:
            actor.lifecycle.update()

    def when_confirmed(self, callback: Waiter) -> None:
        """Call *callback* once every write issued so far is confirmed (at once if none is
        pending). If a write fails first, it is never called: the object was reset."""
        batch = self.open
        if batch is None and self.pending:
            batch = self.pending[-1]
        if batch is None:
            callback()
        elif batch.waiters is None:
            batch.waiters = callback
        elif batch.waiters.__class__ is list:
            batch.waiters.append(callback)
        else:
            batch.waiters = [batch.waiters, callback]  # type: ignore[list-item]

    @property
    def gate_open(self) -> bool:
        """True when no write is waiting for confirmation."""
        return self.open is None and not self.pending

    # -- what the storage on top provides --------------------------------------------------------
    def _apply_confirmed(self, batch: WriteBatch) -> None:
        raise NotImplementedError

    _confirm_ms: Ms   # how long a confirmation takes, without faults

    def _confirm_delay(self) -> Ms:
        """How long a confirmation takes now, faults included."""
        raise NotImplementedError

    def _event(self, kind: str, detail: str = '') -> None:
        if self._trace.full:
            a = self._actor
            inv = active.invocation
            rid = inv.rid if inv is not None else -1
            self._trace.event(a.ns_name, a.label, self.incarnation, kind, rid, detail)


_CONFIRM = (WriteQueue._confirm,)   # called with the queue, as its own event
