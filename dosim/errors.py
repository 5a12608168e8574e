"""Errors that a caller of a Durable Object can see.

Cloudflare reports every failure of a call to a Durable Object as an exception at the call
site. Three flags on it tell the caller what to do next:

* ``remote`` -- the error came from the object's own code (an uncaught exception in a handler
  or in the constructor), or from some infrastructure faults such as the CPU limit;
* ``retryable`` -- retrying may succeed if the call is idempotent (network faults, resets);
* ``overloaded`` -- the object is overloaded; retrying makes it worse, so never retry;
* ``durable_object_reset`` -- the object was reset (``abort()``, a failed
  ``blockConcurrencyWhile``) while the call was in progress.

Many errors also leave the stub *broken*: every later call on that stub fails at once and the
caller must make a new stub. dosim records that on the stub, not on the error.

The message texts are Cloudflare's where they are known (``data/config.md`` and
``data/workerd_observations.md`` say where each one comes from).
"""

from __future__ import annotations

__all__ = [
    'Aborted',
    'DurableObjectError',
    'StorageLimitError',
    'ABORTED',
    'CPU_EXCEEDED',
    'OVERLOADED_QUEUE_DEPTH',
    'OVERLOADED_QUEUE_TIME',
    'RESET_BY_WRITE_FAILURE',
    'CONNECTION_CLOSED',
    'DEPLOY_RESET',
    'GRACE_OVER',
    'NETWORK_LOST',
    'network_lost',
]

OVERLOADED_QUEUE_DEPTH = 'Durable Object is overloaded. Too many requests queued.'
OVERLOADED_QUEUE_TIME = 'Durable Object is overloaded. Requests queued for too long.'
CPU_EXCEEDED = 'Durable Object exceeded its CPU time limit and was reset.'
ABORTED = 'Application called abort() to reset Durable Object.'
RESET_BY_WRITE_FAILURE = 'Internal error: a storage write failed and the Durable Object was reset.'
BLOCK_CONCURRENCY_TIMEOUT = 'blockConcurrencyWhile() callback exceeded its 30 s limit.'
ALARM_WALL_TIME = 'Alarm handler exceeded its wall-time limit of 15 minutes.'
NETWORK_LOST = 'Network connection lost.'
DEPLOY_RESET = 'Durable Object reset because its code was updated.'
GRACE_OVER = 'Grace period complete: the old instance of this Durable Object was stopped.'
CONNECTION_CLOSED = 'Connection closed: this Durable Object instance is no longer active.'


class Aborted(BaseException):
    """Raised inside user code by ``ctx.abort()``: unwinds the handler; code cannot catch it
    with ``except Exception``."""


class DurableObjectError(Exception):
    """A call to a Durable Object failed.

    *message* is what the caller reads; the flags are described in the module docstring.
    *error_type* names the exception class raised inside the object for ``remote`` errors
    (for example ``'ValueError'``), and ``None`` otherwise.
    """

    def __init__(
        self,
        message: str,
        remote: bool = False,
        retryable: bool = False,
        overloaded: bool = False,
        error_type: str | None = None,
        breaks_stub: bool = False,
        durable_object_reset: bool = False,
    ) -> None:
        # SimPy rebuilds a failed event's exception from its args: keep every flag in them.
        super().__init__(message, remote, retryable, overloaded, error_type, breaks_stub,
                         durable_object_reset)
        self.message = message
        self.remote = remote
        self.retryable = retryable
        self.overloaded = overloaded
        self.error_type = error_type
        self.breaks_stub = breaks_stub
        self.durable_object_reset = durable_object_reset

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        names = ('remote', 'retryable', 'overloaded', 'durable_object_reset')
        flags = [n for n in names if getattr(self, n)]
        return f'DurableObjectError({self.message!r}{"".join(", " + f for f in flags)})'

    def copy(self, remote: bool | None = None,
             breaks_stub: bool | None = None) -> DurableObjectError:
        """A new error with the same message and flags; a broken stub rethrows a copy
        with ``remote=False`` (as workerd does)."""
        return DurableObjectError(
            self.message,
            remote=self.remote if remote is None else remote,
            retryable=self.retryable,
            overloaded=self.overloaded,
            error_type=self.error_type,
            breaks_stub=self.breaks_stub if breaks_stub is None else breaks_stub,
            durable_object_reset=self.durable_object_reset,
        )


class StorageLimitError(ValueError):
    """A storage call broke one of the documented size or count limits.

    Raised at the call site inside the object, with Cloudflare's wording.
    """


def network_lost() -> DurableObjectError:
    """What a caller sees when the network or the object's machine failed under its call:
    retryable, and the stub is broken."""
    return DurableObjectError(NETWORK_LOST, retryable=True, breaks_stub=True)
