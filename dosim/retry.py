"""The client retry helper Cloudflare documents for calls to Durable Objects.

Errors with ``retryable`` set may succeed on a new attempt -- with a *new stub*, since the
old one may be broken -- after a jittered exponential backoff. Errors with ``overloaded``
set must never be retried: retrying makes the overload worse. The documented defaults: 3
attempts, a base of 100 ms, a cap of 20 s, and ``backoff = min(cap, base * random() *
2 ** attempt)`` for attempt 1, 2, ...; the random draws come from the simulation's
``'retry'`` stream.

Use it from a client process or inside an object::

    response = yield from dosim.call_with_retry(
        lambda: ns.get_by_name('room'), lambda stub: stub.fetch('https://do/'))
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from .context import sleep, stream
from .errors import DurableObjectError

__all__ = ['call_with_retry']


def call_with_retry(
    make_stub: Callable[[], Any],
    call: Callable[[Any], Any],
    *,
    attempts: int = 3,
    base_ms: float = 100.0,
    cap_ms: float = 20_000.0,
) -> Generator[Any, Any, Any]:
    """Run ``call(make_stub())`` until it succeeds, retrying retryable errors (see the module
    docstring); the last error is raised."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f'call_with_retry(attempts): an int >= 1, got {attempts!r}')
    for name, value in (('base_ms', base_ms), ('cap_ms', cap_ms)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f'call_with_retry({name}): a number >= 0, got {value!r}')
    attempt = 1
    while True:
        try:
            return (yield call(make_stub()))
        except DurableObjectError as exc:
            if not exc.retryable or exc.overloaded or attempt >= attempts:
                raise
        backoff = min(cap_ms, base_ms * stream('retry').random() * 2 ** attempt)
        attempt += 1
        yield sleep(backoff)
