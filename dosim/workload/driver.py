"""Drivers: turn workload specs into SimPy processes that call a namespace's objects.

:func:`drive` sends *open-loop* requests: arrivals come at the times of the arrival process
whether or not earlier requests were answered, as independent users do -- so an overloaded
object builds a queue instead of slowing its callers down. Each request

* goes to the key drawn from the popularity spec (``ns.id_from_name(key)``, ids cached),
* through a new stub, as each Worker invocation makes its own (so there is no E-order
  between requests, and one broken stub breaks nothing else),
* from the place drawn from the location mix (``client_location=``; else
  ``Config.client_location``),
* as the request spec says (fetch or RPC), with a handler cost drawn from its ``cost``.

It is one loop in one process: per request a few draws, a timeout and the call -- no extra
object or closure -- so a million-request run costs what the runtime model costs.

:func:`drive_websockets` starts one process per WebSocket client
(:mod:`dosim.workload.clients`).

Every draw comes from a stream the simulation owns, named ``'<name>.arrivals'``,
``'<name>.keys'``, ``'<name>.locations'``, ``'<name>.cost'`` (and ``'<name>.connects'``,
``'<name>.messages'``, ``'<name>.sessions'`` for WebSocket clients), ``name='workload'`` by
default: give two workloads in one simulation different names and each replays on its own.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from ..namespace import DurableObjectNamespace
from .clients import ClientTally, WebSocketClients, run_client
from .popularity import Keys, UniformKeys
from .requests import Fetch
from .spec import load

__all__ = ['drive', 'drive_websockets']


def _window(sim: Any, target: Any, duration_ms: Any, start_ms: Any,
            what: str) -> tuple[float, float]:
    if not isinstance(target, DurableObjectNamespace):
        raise TypeError(f'{what}(target): a namespace (sim.namespace(...)), got {target!r}')
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, (int, float)) \
            or not 0 < duration_ms < math.inf:
        raise ValueError(f'{what}(duration_ms): a number of ms > 0, got {duration_ms!r}')
    start = sim.now if start_ms is None else start_ms
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not start >= sim.now:
        raise ValueError(f'{what}(start_ms): a time in ms >= now ({sim.now:g}), '
                         f'got {start_ms!r}')
    return float(start), float(start + duration_ms)


def drive(sim: Any, target: DurableObjectNamespace, *, arrivals: Any, duration_ms: float,
          keys: Any = None, locations: Any = None, request: Any = None,
          start_ms: float | None = None, name: str = 'workload') -> simpy.Process:
    """Send requests to *target*'s objects from *start_ms* (default now) for *duration_ms*.

    *arrivals*, *keys* (default: one key, ``'key-0'``), *locations* (default: every client
    at ``Config.client_location``) and *request* (default ``Fetch()``) are specs or mappings
    (:func:`dosim.workload.load`). Returns the SimPy process; its value is the number of
    requests sent. The answers are in ``sim.trace.requests``."""
    start, until = _window(sim, target, duration_ms, start_ms, 'drive')
    arrivals = load('arrivals', arrivals)
    keys = UniformKeys(1) if keys is None else load('keys', keys)
    locations = None if locations is None else load('locations', locations)
    request = Fetch() if request is None else load('request', request)
    streams = sim.streams
    times = arrivals.times(streams.get(f'{name}.arrivals'), start)
    rngs = (streams.get(f'{name}.keys'), streams.get(f'{name}.locations'),
            streams.get(f'{name}.cost'))
    return sim.process(_requests(sim, target, times, keys, locations, request, until, rngs))


def _requests(sim: Any, ns: DurableObjectNamespace, times: Any, keys: Keys, locations: Any,
              request: Any, until: float, rngs: tuple[Any, Any, Any]
              ) -> Generator[Any, Any, int]:
    env = sim.env
    key_rng, location_rng, cost_rng = rngs
    ids: dict[int, Any] = {}
    cost = request.cost
    send = request.send
    sent = 0
    for t in times:
        if t >= until:
            break
        if t > env.now:
            yield env.timeout(t - env.now)
        i = keys.draw(key_rng)
        oid = ids.get(i)
        if oid is None:
            oid = ids[i] = ns.id_from_name(keys.name(i))
        where = None if locations is None else locations.draw(location_rng)
        send(ns.get(oid, client_location=where), None if cost is None else cost.draw(cost_rng))
        sent += 1
    return sent


def drive_websockets(sim: Any, target: DurableObjectNamespace, clients: Any, *,
                     duration_ms: float, keys: Any = None, locations: Any = None,
                     start_ms: float | None = None, name: str = 'workload') -> ClientTally:
    """Start a population of WebSocket clients (a :class:`WebSocketClients` spec or
    mapping) on *target*'s objects, named by *keys* (default: one key, ``'key-0'``), for
    *duration_ms* from *start_ms* (default now). Returns a :class:`ClientTally` that counts
    connects, messages and disconnects as the simulation runs."""
    start, until = _window(sim, target, duration_ms, start_ms, 'drive_websockets')
    clients: WebSocketClients = load('clients', clients)
    keys = UniformKeys(1) if keys is None else load('keys', keys)
    locations = None if locations is None else load('locations', locations)
    streams = sim.streams
    rngs = (streams.get(f'{name}.connects'), streams.get(f'{name}.messages'),
            streams.get(f'{name}.sessions'))
    key_rng, location_rng = streams.get(f'{name}.keys'), streams.get(f'{name}.locations')
    if clients.per_object is not None:
        homes = [i for i in range(keys.n_keys) for _ in range(clients.per_object)]
    else:
        homes = [keys.draw(key_rng) for _ in range(clients.count)]
    ids = {i: target.id_from_name(keys.name(i)) for i in sorted(set(homes))}
    tally = ClientTally(clients=len(homes))
    for index, home in enumerate(homes):
        where = None if locations is None else locations.draw(location_rng)
        life = run_client(sim, target, ids[home], where, clients, index, until, rngs, tally)
        sim.process(_starting_at(sim.env, start, life))
    return tally


def _starting_at(env: Any, start: float, life: Generator[Any, Any, None]
                 ) -> Generator[Any, Any, None]:
    if start > env.now:
        yield env.timeout(start - env.now)
    yield from life
