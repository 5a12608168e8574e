"""A stand-in object for load tests: it computes for as long as each request says.

:class:`BusyObject` is the simplest thing to point a workload at when the question is about
the runtime rather than the application -- how a queue grows at one hot object, what
duration a request rate bills, how far clients are from their object. Every event keeps its
single thread busy for the cost the request carries (:mod:`dosim.workload.requests`), then
answers. It stores nothing.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..context import compute
from ..http import Response
from ..object import DurableObject
from .requests import COST_HEADER

__all__ = ['BusyObject']


class BusyObject(DurableObject):
    """``fetch`` computes for the ``x-cost-ms`` header's ms; the RPC method ``work(ms)``
    computes for *ms* and returns it; ``ping()`` returns ``'pong'`` at once."""

    def fetch(self, request: Any) -> Generator[Any, Any, Response]:
        ms = float(request.headers.get(COST_HEADER, 0) or 0)
        if ms:
            yield compute(ms)
        return Response('ok')

    def work(self, ms: float) -> Generator[Any, Any, float]:
        if ms:
            yield compute(ms)
        return ms

    def ping(self) -> str:
        return 'pong'
