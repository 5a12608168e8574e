"""One step of a handler's generator: what it yields next, or how it ended.

A handler ends by returning or by raising, and Python tells the one who drives it with an
exception out of ``gen.send``: :class:`StopIteration` carrying the return value, or the
handler's own. :meth:`dosim.invocation.Invocation._run` takes every step through
:func:`step`, which turns both into an :class:`Ended`, rather than catching them itself:
once :mod:`dosim.invocation` is compiled (:mod:`dosim.native`), every exception that passes
through compiled code gets a traceback entry made for it first, caught or not -- about a
microsecond and a half, once for every handler that ends. Interpreted code pays nothing for
an exception it catches, so this module is never compiled.

``ctx.abort()``'s :class:`~dosim.errors.Aborted` is not an :class:`Exception` and passes
through unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = ['Ended', 'step']


class Ended:
    """The generator returned *value* (*error* is None) or raised *error*. No handler yields
    one of these: nothing outside this module makes them."""

    __slots__ = ('error', 'value')

    def __init__(self, value: Any, error: Exception | None) -> None:
        self.value = value
        self.error = error


def step(gen: Any, value: Any, exc: BaseException | None) -> Any:
    """Send *value* into *gen* (or throw *exc* into it): what it yields next, or an
    :class:`Ended` once it returns or raises."""
    try:
        return gen.send(value) if exc is None else gen.throw(exc)
    except StopIteration as stop:
        return Ended(stop.value, None)
    except Exception as error:
        return Ended(None, error)
