"""The counter that scenario files run: the README's counter, with a handler cost if asked.

``class: counter`` in a scenario is :class:`Counter`: read ``n``, write ``n + 1``, answer --
exactly the README's object (:class:`dosim.demo.Counter`), except that a request carrying a
handler cost (``request: {kind: fetch, cost: ...}``: the ``x-cost-ms`` header) first
computes for that long. Real handlers do work around their storage calls -- parse, check,
render -- and that work, not the storage, is what makes one object a bottleneck: at 1 ms a
request, one counter answers at most about 1,000 requests a second. Without a cost it is
the README's counter, whose cached read and unawaited write keep it fast at any load.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..context import compute
from ..http import Request, Response
from ..object import DurableObject
from ..workload.requests import COST_HEADER

__all__ = ['Counter']


class Counter(DurableObject):
    """``fetch``: compute for the ``x-cost-ms`` header's ms (if any), then increment ``n``
    and answer its new value; ``value()`` (RPC) returns ``n``."""

    def fetch(self, request: Request) -> Generator[Any, Any, Response]:
        ms = float(request.headers.get(COST_HEADER, 0) or 0)
        if ms:
            yield compute(ms)
        n = (yield self.ctx.storage.get('n')) or 0   # storage await: the input gate stays shut
        self.ctx.storage.put('n', n + 1)              # no yield: the output gate holds the reply
        return Response(str(n + 1))

    def value(self) -> Generator[Any, Any, int]:
        return (yield self.ctx.storage.get('n')) or 0
