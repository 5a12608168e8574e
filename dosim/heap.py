"""SimPy's event queue, with its entries compared in compiled code.

SimPy keeps the events to come in a binary heap (``env._queue``) of tuples ``(time,
priority, event id, event)``: the :mod:`heapq` module pushes and pops them, comparing two
entries as tuples. A tuple comparison is generic: each item is first compared for equality,
then the first unequal pair again for order, each through Python's comparison protocol --
about 150 machine instructions, and a pop from a queue of a thousand events makes about a
dozen of them. In ``many`` (``bench/``) that was about an eighth of all its instructions.

:func:`heappush` and :func:`heappop` are :mod:`heapq`'s algorithms, written here so that
:mod:`dosim.native` compiles them: two entries are compared by their time (as C doubles
when both are floats), then priority, then event id, which is the order the tuples have,
for well under half the instructions. The queue stays a list of the same tuples, so SimPy's
own :func:`heapq` calls (``Environment.step``) keep working on it, and every event happens
in the same order.

Run from source (``DOSIM_PURE=1``, or no C compiler), this module hands out
:mod:`heapq`'s own functions instead: written in C, they are faster than the interpreted
versions below.
"""

from __future__ import annotations

import heapq
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_extensions import i64  # a C integer to mypyc: list indexing without checks

__all__ = ['heappop', 'heappush']

#: a queue entry: (time, priority, event id, event)
Entry = tuple[Any, ...]


def _before(a: Entry, b: Entry) -> bool:
    """Whether entry *a* comes before entry *b*: ``a < b`` as tuples. (Two entries never
    have the same event id, so their events are never compared.)"""
    x: Any = a[0]
    y: Any = b[0]
    if x is not y:
        if isinstance(x, float) and isinstance(y, float):
            fx: float = x
            fy: float = y
            if fx != fy:
                return fx < fy
        elif x != y:
            return bool(x < y)
    p: int = a[1]
    q: int = b[1]
    if p != q:
        return p < q
    e: int = a[2]
    f: int = b[2]
    return e < f


def heappush(heap: list[Entry], item: Entry) -> None:
    """Push *item* onto *heap*, keeping it a heap (:func:`heapq.heappush`)."""
    heap.append(item)
    _rise(heap, item, len(heap) - 1)


def heappop(heap: list[Entry]) -> Entry:
    """Pop the smallest item off *heap*, keeping it a heap (:func:`heapq.heappop`: the hole
    at the top moves down to a leaf along the smaller children, then the last item rises
    from there to its place). Raises :class:`IndexError` if *heap* is empty."""
    last = heap.pop()
    if not heap:
        return last
    top = heap[0]
    end: i64 = len(heap)
    pos: i64 = 0
    child: i64 = 1
    while child < end:
        right: i64 = child + 1
        if right < end and not _before(heap[child], heap[right]):
            child = right
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    _rise(heap, last, pos)
    return top


def _rise(heap: list[Entry], item: Entry, pos: i64) -> None:
    """Put *item* in the hole at *pos*, or above it: its parents that come after it move
    down one place each (heapq's ``_siftdown``)."""
    while pos > 0:
        parentpos: i64 = (pos - 1) >> 1
        parent = heap[parentpos]
        if not _before(item, parent):
            break
        heap[pos] = parent
        pos = parentpos
    heap[pos] = item


def _compiled() -> bool:
    """Whether this module runs compiled (mypyc makes its functions built-in functions)."""
    return not isinstance(_compiled, types.FunctionType)


#: this module's own push and pop, compiled or not (what the tests check against heapq's)
OWN = (heappush, heappop)

if not _compiled():   # from source: heapq's C functions
    globals().update(heappush=heapq.heappush, heappop=heapq.heappop)
