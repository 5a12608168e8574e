"""What each request of a workload is: an HTTP ``fetch`` or an RPC call.

* :class:`Fetch` -- ``stub.fetch(url, method=...)``; with a ``cost``, the drawn handler cost
  travels in the ``x-cost-ms`` header (read it with ``float(request.headers['x-cost-ms'])``).
* :class:`Rpc` -- ``stub.<method>(*args)``; with a ``cost``, the drawn cost is the last
  argument.

:class:`~dosim.workload.busy.BusyObject` understands both: it computes for the cost it is
sent. Each is billed as one request (``do-semantics.md`` §6: every RPC method call is its
own session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .durations import Duration
from .spec import Spec, register

__all__ = ['COST_HEADER', 'Fetch', 'RequestSpec', 'Rpc']

COST_HEADER = 'x-cost-ms'


@dataclass(frozen=True)
class RequestSpec(Spec):
    """Base of the request kinds."""

    family = 'request'
    nested = {'cost': 'cost'}   # noqa: RUF012 - a read-only class constant

    def send(self, stub: Any, cost_ms: float | None) -> Any:
        """Send one request on *stub*; the event to ``yield`` (or not)."""
        raise NotImplementedError


@register
@dataclass(frozen=True)
class Fetch(RequestSpec):
    """``Fetch(url='https://do/', method='GET', cost=None)``."""

    kind = 'fetch'
    url: str = 'https://do/'
    method: str = 'GET'
    cost: Duration | None = None

    def check(self) -> None:
        self._text('url')
        self._text('method')

    def send(self, stub: Any, cost_ms: float | None) -> Any:
        if cost_ms is None:
            return stub.fetch(self.url, method=self.method)
        return stub.fetch(self.url, method=self.method, headers={COST_HEADER: repr(cost_ms)})


@register
@dataclass(frozen=True)
class Rpc(RequestSpec):
    """``Rpc(method, args=(), cost=None)``: ``stub.<method>(*args)``, plus the cost."""

    kind = 'rpc'
    method: str
    args: tuple[Any, ...] = ()
    cost: Duration | None = None

    def check(self) -> None:
        if not isinstance(self.method, str) or not self.method.isidentifier() \
                or self.method.startswith('_'):
            raise ValueError(f'{self._name("method")} must be a public method name, '
                             f'got {self.method!r}')
        if not isinstance(self.args, (tuple, list)):
            raise TypeError(f'{self._name("args")} must be a list of arguments, '
                            f'got {self.args!r}')
        object.__setattr__(self, 'args', tuple(self.args))

    def send(self, stub: Any, cost_ms: float | None) -> Any:
        call = getattr(stub, self.method)
        return call(*self.args) if cost_ms is None else call(*self.args, cost_ms)
