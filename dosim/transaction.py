"""``storage.transaction(fn)``: several reads and writes that commit or vanish together.

``fn(txn)`` runs inside the handler (a generator function, or a plain one). Its writes go to
the transaction, not to storage: its own reads see them, nothing else does. As on the SQLite
backend, ``ctx.storage`` calls made by the callback are part of the transaction too (other
events interleaving at a non-storage wait are not). When ``fn``
returns, every write joins the object's open write batch at once, so they are confirmed (or
lost) together. If ``fn`` raises, or calls ``txn.rollback()``, the writes are discarded; a
raise propagates to the handler unchanged, a rollback lets ``fn``'s value through. After a
rollback any further use of ``txn`` raises.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .context import active
from .storage import _MISSING, StorageResult
from .store import DELETED
from .values import clone_out

if TYPE_CHECKING:
    from .storage import Storage

__all__ = ['Nested', 'Transaction', 'start_transaction']


class Nested:
    """Marker for the runtime: run *gen* as a nested frame of the current handler, then pass
    its value through *on_return* (or its exception through *on_error*) to the handler.
    *exclusive* frames keep the input gate closed even at non-storage waits."""

    __slots__ = ('exclusive', 'gen', 'on_error', 'on_return')

    def __init__(
        self,
        gen: types.GeneratorType,
        on_return: Callable[[Any], Any],
        on_error: Callable[[BaseException], BaseException],
        exclusive: bool = False,
    ) -> None:
        self.gen = gen
        self.on_return = on_return
        self.on_error = on_error
        self.exclusive = exclusive


class Transaction:
    """The ``txn`` handed to a transaction's callback: ``get``, ``put``, ``delete``,
    ``list`` and ``rollback``, with the same signatures as ``ctx.storage``."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._writes: dict[str, Any] = {}
        self._state = 'open'

    def _check(self, op: str) -> None:
        if self._state == 'rolled back':
            raise RuntimeError(f'Cannot {op}() on rolled back transaction')
        if self._state == 'done':
            raise RuntimeError(f'Cannot {op}() on a transaction that has already completed')

    def get(self, key: str | list[str]) -> StorageResult:
        self._check('get')
        s = self._storage
        if isinstance(key, str):
            if key in self._writes:
                stored = self._writes[key]
                return StorageResult(None if stored is DELETED else clone_out(stored))
            return s.direct(s.get, key)
        keys = s._keys(key, 'get')
        missing = [k for k in keys if k not in self._writes]
        result = s.direct(s.get, missing) if missing else StorageResult({})
        found = dict(result.value)
        for k in keys:
            if k in self._writes and self._writes[k] is not DELETED:
                found[k] = clone_out(self._writes[k])
        return StorageResult(dict(sorted(found.items())), result.delay)

    def put(self, key: str | dict[str, Any], value: Any = _MISSING) -> StorageResult:
        self._check('put')
        s = self._storage
        if value is _MISSING:
            if not isinstance(key, dict):
                raise TypeError('txn.put(): give a key and a value, or a dict of entries')
            for k in s._keys(key, 'put'):
                self._writes[k] = s._stored(k, key[k])
        else:
            self._writes[s._key(key, 'put')] = s._stored(key, value)
        return StorageResult(None)

    def delete(self, key: str | list[str]) -> StorageResult:
        self._check('delete')
        s = self._storage
        keys = [s._key(key, 'delete')] if isinstance(key, str) else s._keys(key, 'delete')
        existed, delay = 0, 0.0
        for k in keys:
            if k in self._writes:
                existed += self._writes[k] is not DELETED
            else:
                got = s.direct(s.get, k)
                delay = max(delay, got.delay)
                existed += got.value is not None
            self._writes[k] = DELETED
        return StorageResult(bool(existed) if isinstance(key, str) else existed, delay)

    def list(self, prefix: str | None = None, start: str | None = None,
             start_after: str | None = None, end: str | None = None,
             limit: int | None = None, reverse: bool = False) -> StorageResult:
        self._check('list')
        s = self._storage
        base = s.direct(s.list, prefix=prefix, start=start, start_after=start_after, end=end,
                        reverse=reverse)
        found = dict(base.value)
        low = max(start or '', start_after or '', prefix or '')
        for k, stored in self._writes.items():
            in_range = k >= low and (end is None or k < end) and k != start_after
            if not in_range or (prefix is not None and not k.startswith(prefix)):
                continue
            if stored is DELETED:
                found.pop(k, None)
            else:
                found[k] = clone_out(stored)
        items = sorted(found.items(), reverse=bool(reverse))
        if limit is not None:
            items = items[:limit]
        return StorageResult(dict(items), base.delay)

    def delete_all(self) -> StorageResult:
        """Refused, as in workerd."""
        raise RuntimeError('Cannot call deleteAll() within a transaction')

    def rollback(self) -> None:
        """Discard every write of this transaction; later calls on ``txn`` raise (a
        second ``rollback()`` is allowed)."""
        if self._state == 'done':
            self._check('rollback')
        self._state = 'rolled back'
        self._writes.clear()

    # -- ending ---------------------------------------------------------------------------
    def _commit(self, value: Any) -> Any:
        rolled_back = self._state == 'rolled back'
        self._state = 'done' if not rolled_back else self._state
        s = self._storage
        self._close()
        if not rolled_back:
            parent = s._txns[-1][0] if s._txns else None
            for key, stored in self._writes.items():
                if parent is not None:       # a nested transaction commits into its parent
                    parent._writes[key] = stored
                else:
                    s._write(key, stored)
        s._event('transaction_rollback' if rolled_back else 'transaction_commit',
                 f'{len(self._writes)} keys')
        return value

    def _close(self) -> None:
        txns = self._storage._txns
        if txns and txns[-1][0] is self:
            txns.pop()

    def _discard(self, exc: BaseException) -> BaseException:
        self._close()
        self._state = 'done'
        self._writes.clear()
        self._storage._event('transaction_rollback', type(exc).__name__)
        return exc


def start_transaction(storage: Storage, fn: Callable[..., Any]) -> Nested | StorageResult:
    """Begin ``fn(txn)``; see the module docstring."""
    if not callable(fn):
        raise TypeError(f'storage.transaction(fn): fn must be callable, got {fn!r}')
    txn = Transaction(storage)
    if not storage._txns:
        storage._txns = []   # the first transaction (Storage starts with an empty tuple)
    storage._txns.append((txn, active.invocation))
    try:
        result = fn(txn)
    except BaseException as exc:
        txn._discard(exc)
        raise
    if isinstance(result, types.GeneratorType):
        return Nested(result, txn._commit, txn._discard)
    return StorageResult(txn._commit(result))
