"""The durable part of an object's storage: what has been confirmed.

A :class:`Store` belongs to one object id and outlives every reset, hibernation and eviction
of that object. It holds only *confirmed* writes; unconfirmed ones live in the instance's
:class:`~dosim.storage.Storage` until their batch is confirmed. Keys are kept in a dict for
point reads, with a sorted index built the first time a range is listed and then maintained.
Python orders ``str`` by code point, which is the same order as UTF-8 bytes: the order
Cloudflare's ``list()`` uses.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

__all__ = ['DELETED', 'Store']


class _Deleted:
    __slots__ = ()

    def __repr__(self) -> str:
        return 'DELETED'


DELETED: Any = _Deleted()  # an unconfirmed delete, in a write batch


class Store:
    """Confirmed key/value data of one object."""

    __slots__ = ('_sorted', 'data')

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self._sorted: list[str] | None = None

    def apply(self, writes: dict[str, Any], clear: bool) -> None:
        """Make one confirmed batch durable: optionally wipe everything, then write."""
        data = self.data
        if clear:
            data.clear()
            self._sorted = None
        index = self._sorted
        for key, value in writes.items():
            if value is DELETED:
                if data.pop(key, DELETED) is not DELETED and index is not None:
                    del index[bisect_left(index, key)]
            else:
                if index is not None and key not in data:
                    insort(index, key)
                data[key] = value

    def keys_between(self, low: str, high: str | None) -> list[str]:
        """Keys k with ``low <= k < high`` (no upper bound for ``None``), ascending."""
        index = self._sorted
        if index is None:
            index = self._sorted = sorted(self.data)
        i = bisect_left(index, low)
        j = len(index) if high is None else bisect_left(index, high, i)
        return index[i:j]

    def __len__(self) -> int:
        return len(self.data)
