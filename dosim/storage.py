"""``ctx.storage``: the asynchronous KV API, write coalescing and the output gate.

One :class:`Storage` exists per *incarnation* of an object (a constructor run); the data it
reads and writes outlives it in the object's :class:`~dosim.store.Store`.

Writes
    ``put`` and ``delete`` take effect at once for this object's own reads (read-your-writes)
    and go into the open *write batch*. The batch closes at the handler's next ``yield`` (any
    ``yield``) or when the handler ends, and is then flushed: it is confirmed
    ``Config.write_confirm_ms_<backend>`` later, all of it or none of it. So
    ``put('k', 1); put('k', 3); put('k', 4)`` with no ``yield`` between flushes only ``k=4``,
    and a crash before the confirmation loses the whole batch, never part of it.

The output gate
    Nothing leaves the object -- a response, an outbound fetch, a call to another object --
    until every write issued before it is confirmed (:meth:`Storage.when_confirmed`). If a
    write fails to confirm, the object is reset and whatever waited on the gate is dropped:
    no caller is ever told "done" for a write that was lost.

Reads and the cache
    A read of a key this incarnation has already read or written is a cache hit and costs no
    time; otherwise it costs ``Config.read_miss_ms_<backend>``. Either way the input gate stays
    closed while the handler waits (see :mod:`dosim.context`).

Each method returns a value to ``yield``, as ``await`` in TypeScript; ``put`` and ``delete``
work without it.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from . import errors
from .alarms import alarm_time
from .context import Checked, Ms, active
from .outbox import NO_BATCH
from .store import DELETED
from .values import Blob, clone_in, clone_out, key_bytes, value_bytes
from .writequeue import _CONFIRM, NO_CHANGE, WriteBatch, WriteQueue

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ['Held', 'Storage', 'StorageResult', 'storage_settings']

_MISSING: Any = object()


class StorageResult:
    """What a storage call returns: its *value*, ready after *delay* ms (0 for cache hits)."""

    __slots__ = ('delay', 'value')

    def __init__(self, value: Any, delay: Ms = 0.0) -> None:
        self.value = value
        self.delay = delay


class Held:
    """A storage wait of unknown length (``sync()``): the gate stays closed until the
    runtime calls back. *register* receives that callback."""

    __slots__ = ('register',)

    def __init__(self, register: Callable[[Callable[[], None]], None]) -> None:
        self.register = register


_DONE: Final = StorageResult(None)
_NO_TXNS: Any = ()   # stands for the empty list of open transactions


def storage_settings(cfg: Any, backend: str) -> tuple[str, bool, int, Ms, Ms]:
    """What every :class:`Storage` of a namespace with this *backend* takes from the config:
    the backend, whether it is ``'kv'``, the largest SQLite value, the read-miss and the
    write-confirm time."""
    kv = backend == 'kv'
    return (backend, kv, cfg.sqlite_max_row_bytes - cfg.sqlite_row_overhead_bytes,
            cfg.read_miss_ms_kv if kv else cfg.read_miss_ms_sqlite,
            cfg.write_confirm_ms_kv if kv else cfg.write_confirm_ms_sqlite)


class Storage(WriteQueue):
    """The storage API of one object incarnation (see the module docstring)."""

    __slots__ = ('_alarm_overlay', '_clear_seq', '_confirm_ms', '_direct', '_kv', '_max_row',
                 '_meters', '_miss_ms', '_store', '_txns', 'all_cached', 'backend', 'cached',
                 'draining', 'overlay')

    def __init__(self, actor: Actor) -> None:
        # WriteQueue.__init__(actor), written out: an object makes a new storage every
        # time it wakes
        self._actor = actor
        self._trace = actor._trace
        sim = actor.sim
        self._env = sim.env
        self._faults = sim.faults
        self.callbacks = _CONFIRM
        self.incarnation = actor.incarnation   # this queue's, even after a deploy moves on
        self.open = None
        self.pending = []
        self._seq = 0
        self.dead = False
        self.retired_to = None
        self._store = actor.store
        self.backend, self._kv, self._max_row, self._miss_ms, self._confirm_ms = \
            actor.namespace.storage_settings
        self._meters = actor.meters
        self.overlay: dict[str, tuple[Any, int]] = {}
        self.cached: set[str] = set()
        self.all_cached = False
        self._clear_seq: int | None = None
        self._alarm_overlay: tuple[Ms | None, int] | None = None
        self.draining = False
        # open transactions, innermost last, with the invocation running each: inside a
        # transaction's callback, ctx.storage calls are part of the transaction (a list from
        # the first transaction on)
        self._txns: Any = _NO_TXNS   # list[tuple[Transaction, Invocation]] once used
        self._direct = 0

    # -- transactions -----------------------------------------------------------------------
    def _routed(self) -> Any:
        """The open transaction this call belongs to, if any (see ``_txns``)."""
        if self._direct:
            return None
        txn, owner = self._txns[-1]
        return txn if active.invocation is owner else None

    def direct(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a storage method past any open transaction (the transaction's own reads)."""
        self._direct += 1
        try:
            return fn(*args, **kwargs)
        finally:
            self._direct -= 1

    # -- validation ---------------------------------------------------------------------
    def _live(self) -> None:
        if self.draining:   # the old instance after a deploy: storage access stops it
            self.draining = False
            why = 'touched storage during the grace period'
            self.retired_to.stop_old_instance(errors.DEPLOY_RESET, why)
            raise errors.Aborted(why)
        if self.dead:
            raise errors.DurableObjectError(
                'Durable Object storage is no longer available: this instance was reset.',
                retryable=True,
            )

    def _key(self, key: Any, op: str) -> str:
        if not isinstance(key, str):
            raise TypeError(f'storage.{op}(): keys must be strings, got {key!r}')
        if self.backend == 'kv':
            size = key_bytes(key)
            limit = self._actor.sim.config.kv_max_key_bytes
            if size > limit:
                raise errors.StorageLimitError(
                    f'Keys cannot be larger than {limit} bytes. A key of size {size} was provided.'
                )
        return key

    def _keys(self, keys: Any, op: str) -> list[str]:
        if not isinstance(keys, (list, tuple, dict)):
            self._key(keys, op)  # raises: not a string
        keys = list(keys)
        limit = self._actor.sim.config.max_keys_per_call
        if len(keys) > limit:
            raise errors.StorageLimitError(
                f'Maximum number of key value pairs is {limit}. {len(keys)} pairs were provided.'
            )
        return [self._key(k, op) for k in keys]

    def _stored(self, key: str, value: Any) -> Any:
        if value is None:
            raise TypeError(
                f'storage.put({key!r}): the value is None, which would read back as missing; '
                'use delete()'
            )
        stored = clone_in(value, f'storage.put({key!r})')
        cfg = self._actor.sim.config
        size = value_bytes(stored)
        if self.backend == 'kv':
            if size > cfg.kv_max_value_bytes + cfg.kv_value_allowance_bytes:
                raise errors.StorageLimitError(
                    f'Values cannot be larger than {cfg.kv_max_value_bytes} bytes. '
                    f'A value of size {size} was provided.'
                )
        elif key_bytes(key) + size + cfg.sqlite_row_overhead_bytes > cfg.sqlite_max_row_bytes:
            raise errors.StorageLimitError('string or blob too big: SQLITE_TOOBIG')
        return stored

    # -- reads --------------------------------------------------------------------------
    def _read(self, key: str) -> tuple[Any, bool]:
        entry = self.overlay.get(key)
        if entry is not None:
            return entry[0], True
        hit = self.all_cached or key in self.cached
        if not hit:
            self.cached.add(key)
        if self._clear_seq is not None:
            return DELETED, hit
        return self._store.data.get(key, DELETED), hit

    def _bill_read(self, stored: Any, count: int = 1) -> None:
        m = self._meters
        if self.backend == 'kv':
            size = 0 if stored is DELETED else value_bytes(stored)
            m['read_units'] += max(1, math.ceil(size / self._actor.sim.config.billing_unit_bytes))
        else:
            m['rows_read'] += count

    def get(self, key: str | list[str] | Checked) -> StorageResult:
        """The value of *key* (``None`` if missing), or for a list of keys a dict of the
        present ones in key order."""
        if self.draining or self.dead:
            self._live()
        if self._txns and (txn := self._routed()) is not None:
            return txn.get(key)
        if type(key) is str or isinstance(key, str):
            kv = self._kv
            if kv:
                self._key(key, 'get')
            entry = self.overlay.get(key)   # self._read(key), written out
            if entry is not None:
                stored, hit = entry[0], True
            else:
                hit = self.all_cached or key in self.cached
                if not hit:
                    self.cached.add(key)
                stored = DELETED if self._clear_seq is not None else \
                    self._store.data.get(key, DELETED)
            if kv:
                self._bill_read(stored)
            else:
                self._meters['rows_read'] += 1
            if self._actor._full:
                self._event('storage_get', key)
            if stored is DELETED:
                value = None
            else:
                value = clone_out(stored) if type(stored) is Blob else stored
            if hit:
                if value is None:
                    return _DONE
                return StorageResult(value)
            return StorageResult(
                value, self._miss_ms if not self._faults.storage_spikes else self._miss())
        found: dict[str, Any] = {}
        all_hit = True
        for k in sorted(set(self._keys(key, 'get'))):
            stored, hit = self._read(k)
            all_hit = all_hit and hit
            self._bill_read(stored)
            if stored is not DELETED:
                found[k] = clone_out(stored)
        if self._actor._full:
            self._event('storage_get', f'{len(found)} keys')
        return StorageResult(found, 0.0 if all_hit else self._miss())

    def _miss(self) -> Ms:
        faults = self._actor.sim.faults
        if faults.storage_spikes:
            return self._miss_ms + faults.storage_extra(self._actor)
        return self._miss_ms

    def list(
        self,
        prefix: str | Checked | None = None,
        start: str | Checked | None = None,
        start_after: str | Checked | None = None,
        end: str | Checked | None = None,
        limit: int | Checked | None = None,
        reverse: bool | Checked = False,
    ) -> StorageResult:
        """Entries in UTF-8 key order as a dict: *start* inclusive, *start_after* exclusive
        (not both), *end* exclusive, *prefix* a filter, *reverse* descending (start and end
        keep their meaning), *limit* the most entries returned."""
        self._live()
        if self._txns and (txn := self._routed()) is not None:
            return txn.list(prefix=prefix, start=start, start_after=start_after, end=end,
                            limit=limit, reverse=reverse)
        for name, val in (('prefix', prefix), ('start', start), ('start_after', start_after),
                          ('end', end)):
            if val is not None and not isinstance(val, str):
                raise TypeError(f'storage.list(): {name} must be a string, got {val!r}')
        if start is not None and start_after is not None:
            raise TypeError('list() cannot be called with both start and startAfter values.')
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                raise TypeError(f'storage.list(): limit must be a number, got {limit!r}')
            if limit <= 0:
                raise TypeError('List limit must be positive.')
            limit = max(1, int(limit))
        low = max(start or '', start_after or '', prefix or '')
        keys = set() if self._clear_seq is not None else set(self._store.keys_between(low, end))
        keys.update(k for k in self.overlay if k >= low and (end is None or k < end))
        found: dict[str, Any] = {}
        for k in sorted(keys, reverse=bool(reverse)):
            if (prefix is not None and not k.startswith(prefix)) or k == start_after:
                continue
            stored = self._read(k)[0]
            if stored is DELETED:
                continue
            found[k] = clone_out(stored)
            if limit is not None and len(found) >= limit:
                break
        self._bill_list(found)
        hit = self.all_cached
        if all(v is None for v in (prefix, start, start_after, end, limit)):
            self.all_cached = True
        if self._actor._full:
            self._event('storage_list', f'{len(found)} keys')
        return StorageResult(found, 0.0 if hit else self._miss())

    def _bill_list(self, found: dict[str, Any]) -> None:
        if self.backend == 'kv':
            size = sum(key_bytes(k) + value_bytes(clone_in(v, 'list')) for k, v in found.items())
            unit = self._actor.sim.config.billing_unit_bytes
            self._meters['read_units'] += max(1, math.ceil(size / unit))
        else:
            self._meters['rows_read'] += max(1, len(found))

    # -- writes -------------------------------------------------------------------------
    def _write(self, key: str, stored: Any) -> None:
        batch = self.open
        if batch is None:
            batch = self._batch()
        batch.writes[key] = stored
        if self._actor._full:
            inv = active.invocation
            batch.record_rid(key, inv.rid if inv is not None else -1)
        self.overlay[key] = (stored, batch.seq)
        self.cached.add(key)
        m = self._meters
        if self._kv:
            if stored is DELETED:
                m['delete_requests'] += 1
            else:
                size = key_bytes(key) + value_bytes(stored)
                unit = self._actor.sim.config.billing_unit_bytes
                m['write_units'] += max(1, math.ceil(size / unit))
        else:
            m['rows_written'] += 1

    def put(self, key: str | dict[str, Any] | Checked, value: Any = _MISSING) -> StorageResult:
        """Store *value* under *key*, or every pair of a dict (at most 128)."""
        if self.draining or self.dead:
            self._live()
        if self._txns and (txn := self._routed()) is not None:
            return txn.put(key, value)
        if value is _MISSING:
            if not isinstance(key, dict):
                raise TypeError('storage.put(): give a key and a value, or a dict of entries')
            pairs = [(k, self._stored(k, key[k])) for k in self._keys(key, 'put')]
        else:
            kind = type(value)
            if not self._kv and isinstance(key, str) and (
                    kind is int or kind is float or kind is bool or kind is str) and (
                    4 * len(key) + (4 * len(value) + 9 if kind is str else 11) <= self._max_row):
                # the common case: an immutable scalar, stored as it is, that surely fits (key
                # bytes at most 4 per character; a value's serialised size at most 11 bytes
                # for a number, 4 per character + 9 for a string) -- and self._write(key,
                # value) written out for it (the SQLite backend, no delete)
                batch = self.open
                if batch is None:   # self._batch(), written out
                    self._seq += 1
                    batch = self.open = WriteBatch(self._seq)
                    out = self._actor.sim.outbox   # (see WriteQueue._batch)
                    if out.hub is not None:        # out.end(), written out
                        out.hub.batch = NO_BATCH
                batch.writes[key] = value
                full = self._actor._full
                if full:
                    inv = active.invocation
                    batch.record_rid(key, inv.rid if inv is not None else -1)
                self.overlay[key] = (value, batch.seq)
                self.cached.add(key)
                self._meters['rows_written'] += 1
                if full:
                    self._event('storage_put', key)
                return _DONE
            self._key(key, 'put')
            pairs = [(key, self._stored(key, value))]  # type: ignore[list-item, arg-type]
        for k, stored in pairs:
            self._write(k, stored)
        if self._actor._full:
            self._event('storage_put', pairs[0][0] if len(pairs) == 1 else f'{len(pairs)} keys')
        return _DONE

    def delete(self, key: str | builtins.list[str] | Checked) -> StorageResult:
        """Delete *key* (value: whether it existed), or a list of keys (value: how many did)."""
        self._live()
        if self._txns and (txn := self._routed()) is not None:
            return txn.delete(key)
        single = isinstance(key, str)
        keys = [self._key(key, 'delete')] if single else self._keys(key, 'delete')
        existed, all_hit = 0, True
        for k in keys:
            stored, hit = self._read(k)
            all_hit = all_hit and hit
            existed += stored is not DELETED
            self._write(k, DELETED)
        if self._actor._full:
            self._event('storage_delete', keys[0] if single else f'{len(keys)} keys')
        value: Any = bool(existed) if single else existed
        return StorageResult(value, 0.0 if all_hit else self._miss())

    def delete_all(self) -> StorageResult:
        """Delete every key (atomically, as on the SQLite backend)."""
        self._live()
        if self._txns and (txn := self._routed()) is not None:
            return txn.delete_all()
        batch = self._batch()
        batch.writes.clear()
        batch.clear = True
        self._clear_seq = batch.seq
        self.overlay.clear()
        self.cached.clear()
        self.all_cached = True
        if self._actor.sim.config.delete_all_deletes_alarm:
            batch.alarm = None
            self._alarm_overlay = (None, batch.seq)
        self._meters['rows_written' if self.backend == 'sqlite' else 'delete_requests'] += 1
        self._event('storage_delete_all')
        return _DONE

    # -- the alarm ----------------------------------------------------------------------------
    def get_alarm(self) -> StorageResult:
        """The alarm's time in epoch ms, or ``None``. Inside the alarm handler: ``None``
        unless the handler set a new alarm (see :mod:`dosim.alarms`)."""
        self._live()
        if self._alarm_overlay is not None:
            return StorageResult(self._alarm_overlay[0])
        alarm = self._actor.alarm
        return StorageResult(None if alarm is None else alarm.visible())

    def set_alarm(self, scheduled_time: Any) -> StorageResult:
        """Set (or replace) the object's one alarm, at *scheduled_time* epoch ms (a number
        or a ``datetime``). A time in the past fires almost at once."""
        if self.draining or self.dead:
            self._live()
        actor = self._actor
        epoch = alarm_time(actor, scheduled_time)
        # self._write_alarm(epoch), written out (an agent sets its alarm at every run)
        batch = self.open
        if batch is None:
            batch = self._batch()
        batch.alarm = epoch
        self._alarm_overlay = (epoch, batch.seq)
        if actor.alarm is None:
            actor.alarm_state()
        self._meters['rows_written' if self.backend == 'sqlite' else 'write_units'] += 1
        if self._actor._full:
            self._event('alarm_set', f'{epoch - self._actor.sim.config.start_epoch_ms:g} ms')
        return _DONE

    def delete_alarm(self) -> StorageResult:
        """Delete the alarm (a running alarm handler is not stopped)."""
        self._live()
        self._write_alarm(None)
        self._event('alarm_deleted')
        return _DONE

    def _write_alarm(self, epoch: Ms | None) -> None:
        batch = self._batch()
        batch.alarm = epoch
        self._alarm_overlay = (epoch, batch.seq)
        self._actor.alarm_state()

    def transaction(self, fn: Callable[..., Any] | Checked) -> Any:
        """Run ``fn(txn)`` atomically: its writes commit together when it returns, and are
        discarded if it raises or calls ``txn.rollback()``. Yield it for ``fn``'s value."""
        self._live()
        from .transaction import start_transaction

        return start_transaction(self, fn)

    def sync(self) -> StorageResult | Held:
        """Resolves once every write issued so far is confirmed."""
        self._live()
        if self.open is None and not self.pending:
            return _DONE
        self._event('storage_sync')
        return Held(self.when_confirmed)

    # -- batches and the output gate -------------------------------------------------------

    # -- what a confirmation does (see dosim.writequeue) -------------------------------------
    def _apply_confirmed(self, batch: WriteBatch) -> None:
        """A batch is confirmed: it becomes durable, and reads stop needing its overlay."""
        store = self._store
        overlay = self.overlay
        seq = batch.seq
        if batch.clear or store._sorted is not None:
            store.apply(batch.writes, batch.clear)
            for key in batch.writes:
                entry = overlay.get(key)
                if entry is not None and entry[1] == seq:
                    del overlay[key]
        else:   # store.apply(batch.writes, False) with no key index, written out
            data = store.data
            for key, stored in batch.writes.items():
                if stored is DELETED:
                    data.pop(key, None)
                else:
                    data[key] = stored
                entry = overlay.get(key)
                if entry is not None and entry[1] == seq:
                    del overlay[key]
        if self._clear_seq == batch.seq:
            self._clear_seq = None
        if batch.alarm is not NO_CHANGE:
            if self._alarm_overlay is not None and self._alarm_overlay[1] == batch.seq:
                self._alarm_overlay = None
            alarm = self._actor.alarm
            if alarm is None:
                alarm = self._actor.alarm_state()
            if alarm.running is not None:   # the case of alarm.commit() during a run, written out
                alarm.set_during_run = alarm.stored = batch.alarm
            else:
                alarm.commit(batch.alarm)

    def _confirm_delay(self) -> Ms:
        faults = self._actor.sim.faults
        if faults.storage_spikes:
            return self._confirm_ms + faults.storage_extra(self._actor)
        return self._confirm_ms
