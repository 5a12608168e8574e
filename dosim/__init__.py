"""dosim: simulate Cloudflare Durable Objects in Python, on SimPy.

A user writes Durable Object classes that read like the TypeScript they would deploy --
``yield`` where TypeScript says ``await`` -- and runs many of them in a :class:`Simulation`
that models the Cloudflare runtime around them:

* lifecycle: an object is constructed by its first event, and again after every reset
  (:mod:`dosim.actor`);
* the input gate: one thread per object; storage waits and CPU work keep other events out,
  timers, outbound fetches and calls to other objects let them in (:mod:`dosim.context`);
* storage: the KV API with read-your-writes, write coalescing into atomic batches,
  transactions, size limits, a cache, and the output gate that holds every reply until the
  writes before it are confirmed (:mod:`dosim.storage`, :mod:`dosim.transaction`);
* calls: namespaces, ids, stubs with E-order, errors with Cloudflare's flags, overload
  (:mod:`dosim.namespace`, :mod:`dosim.call`, :mod:`dosim.errors`);
* alarms with retry backoff (:mod:`dosim.alarms`); hibernation, eviction and duration billing
  (:mod:`dosim.lifecycle`); WebSockets and the Hibernation API (:mod:`dosim.websocket`);
* every constant in :class:`Config`, with its source; every happening in ``sim.trace``.

Time is in milliseconds; see ``../shared/design.md`` for the contract.
"""

from __future__ import annotations

from . import native  # noqa: F401 - first: it picks compiled runtime modules or sources
from .config import Config
from .context import all_settled, compute, fetch_external, now, sleep, stream
from .errors import DurableObjectError, StorageLimitError
from .http import Headers, Request, Response
from .ids import DurableObjectId
from .namespace import DurableObjectNamespace, DurableObjectStub
from .object import DurableObject
from .retry import call_with_retry
from .simulation import Simulation
from .websocket import (
    WebSocket,
    WebSocketClosedError,
    WebSocketPair,
    WebSocketRequestResponsePair,
    connect_websocket,
)

__all__ = [
    'Config',
    'all_settled',
    'call_with_retry',
    'DurableObject',
    'DurableObjectError',
    'DurableObjectId',
    'DurableObjectNamespace',
    'DurableObjectStub',
    'Headers',
    'Request',
    'Response',
    'Simulation',
    'StorageLimitError',
    'WebSocket',
    'WebSocketClosedError',
    'WebSocketPair',
    'WebSocketRequestResponsePair',
    'compute',
    'connect_websocket',
    'fetch_external',
    'now',
    'sleep',
    'stream',
]

__version__ = '0.1.0'
