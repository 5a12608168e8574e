"""The four benchmark workloads, and the bare SimPy queue each is compared with.

Each ``run_<name>(scale, seed, level)`` builds one simulation at trace level *level*, runs it
to the end, checks that it computed the right thing (outside the timed part) and returns its
figures: ``requests`` (simulated requests or events, the unit of the throughput),
``wall_s`` and ``cpu_s`` (building and running the model), ``events`` (SimPy events
scheduled) and ``sim_s`` (simulated seconds). *scale* shrinks a workload for quick runs
(1 is the full size of the issue).

* ``hot``   -- one object, 200,000 requests, each a ``get`` and a ``put``;
* ``many``  -- 100,000 objects, 10 requests each, Poisson arrivals; objects come and go, so
  most of them are hibernated at any time;
* ``fleet`` -- 1,000 agents (:class:`dosim.models.AgentLoop`) on a 60 s alarm loop for 24
  simulated hours: every alarm wakes a hibernated object;
* ``chat``  -- 100 rooms (:class:`dosim.models.ChatRoom`) with 100 hibernatable clients each,
  one message per client per minute for one simulated hour, each broadcast to the room.

:func:`run_baseline` is a bare SimPy M/M/1 queue with the same number of arrivals: the least
SimPy work one arrival can cost, the yardstick of every ratio.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from typing import Any

import simpy

import dosim
from dosim.models import AgentLoop, ChatRoom

__all__ = ['WORKLOADS', 'run_baseline']

MM1_ARRIVAL_RATE = 1.0  # baseline: arrivals per time unit ...
MM1_SERVICE_RATE = 2.0  # ... and services per time unit: utilisation 0.5
HOT_GAP_MS = 1.0        # hot: mean gap between requests to the one object
MANY_ACTIVE = 1_000     # many: objects receiving requests at any moment ...
MANY_GAP_MS = 100.0     # ... each one request per this many ms on average
FLEET_INTERVAL_MS = 60_000.0
DAY_MS = 24 * 3_600_000.0
HOUR_MS = 3_600_000.0
MINUTE_MS = 60_000.0


class Counter(dosim.DurableObject):
    """The README's counter: one ``get`` and one ``put`` per request."""

    def fetch(self, request: Any) -> Any:
        n = (yield self.ctx.storage.get('n')) or 0
        self.ctx.storage.put('n', n + 1)
        return dosim.Response('')


def size(name: str, scale: float) -> int:
    """How many requests (the benchmark's unit) workload *name* makes at *scale*."""
    if name == 'hot':
        return max(1, round(200_000 * scale))
    if name == 'many':
        return max(1, round(100_000 * scale)) * 10
    if name == 'chat':
        return max(1, round(100 * scale)) * 100 * 60
    agents = max(1, round(1_000 * scale))   # fleet: the nominal count, one run a minute a day
    return agents * round(DAY_MS / FLEET_INTERVAL_MS) + agents


def events_scheduled(env: simpy.Environment) -> int | None:
    """How many events SimPy scheduled (its private event-id counter; None if it moved)."""
    eid = getattr(env, '_eid', None)
    try:
        return next(eid) if eid is not None else None
    except TypeError:
        return None


def _timed(build_and_run: Callable[[], dosim.Simulation]) -> tuple[dosim.Simulation, float,
                                                                      float]:
    gc.collect()
    start, cpu_start = time.perf_counter(), time.process_time()
    sim = build_and_run()
    return sim, time.perf_counter() - start, time.process_time() - cpu_start


def _figures(sim: dosim.Simulation, requests: int, wall: float, cpu: float,
             **extra: Any) -> dict[str, Any]:
    return {'requests': requests, 'wall_s': wall, 'cpu_s': cpu, 'events': events_scheduled(
        sim.env), 'sim_s': sim.now / 1000, 'level': sim.config.trace_level, **extra}


def _sim(seed: int, level: str) -> dosim.Simulation:
    return dosim.Simulation(seed=seed, config=dosim.Config(trace_level=level))


def _check(problems: list[str], what: str) -> None:
    if problems:
        raise AssertionError(f'{what}: ' + '; '.join(problems))


# -- the baseline ---------------------------------------------------------------------------
def run_baseline(n: int, seed: int) -> dict[str, Any]:
    """A bare SimPy M/M/1 queue with *n* arrivals: a source of exponential gaps, each
    customer a process that requests one ``simpy.Resource``, holds it for an exponential
    service time and releases it."""
    gc.collect()
    start, cpu_start = time.perf_counter(), time.process_time()
    expo = random.Random(seed).expovariate
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    served = 0

    def customer() -> Any:
        nonlocal served
        req = server.request()
        yield req
        yield env.timeout(expo(MM1_SERVICE_RATE))
        server.release(req)
        served += 1

    def source() -> Any:
        for _ in range(n):
            yield env.timeout(expo(MM1_ARRIVAL_RATE))
            env.process(customer())

    env.process(source())
    env.run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if served != n:
        raise AssertionError(f'baseline served {served} customers, expected {n}')
    return {'requests': n, 'wall_s': wall, 'cpu_s': cpu, 'events': events_scheduled(env)}


# -- 1. hot object --------------------------------------------------------------------------
def run_hot(scale: float, seed: int, level: str) -> dict[str, Any]:
    """One object, N requests (Poisson, one per ms on average), fired without waiting."""
    n = max(1, round(200_000 * scale))

    def build() -> dosim.Simulation:
        sim = _sim(seed, level)
        ns = sim.namespace('HOT', Counter)
        stub = ns.get_by_name('hot')

        def source() -> Any:
            rnd = sim.stream('workload')
            expo, timeout, fetch = rnd.expovariate, sim.timeout, stub.fetch
            for _ in range(n):
                yield timeout(expo(1 / HOT_GAP_MS))
                fetch('https://do/inc')   # fire and forget: the event is pre-defused

        sim.process(source())
        sim.run()
        return sim

    sim, wall, cpu = _timed(build)
    problems = []
    stored = sim.storage_of('HOT', 'hot').get('n')
    if stored != n:
        problems.append(f'the counter holds {stored}, expected {n}')
    if sim.trace.request_count != n:
        problems.append(f'{sim.trace.request_count} requests answered, expected {n}')
    if sim.trace.keep_requests and (sim.trace.requests['status'] != 'ok').any():
        problems.append('a request failed')
    _check(problems, f'hot at level {level!r}')
    return _figures(sim, n, wall, cpu, objects=1)


# -- 2. many objects ------------------------------------------------------------------------
def run_many(scale: float, seed: int, level: str) -> dict[str, Any]:
    """K objects, 10 requests each: MANY_ACTIVE objects take requests at any moment (an
    arrival goes to one of them at random); an object that has had its 10 makes room for a
    new one. Arrivals are Poisson, MANY_ACTIVE / MANY_GAP_MS per ms."""
    k = max(1, round(100_000 * scale))
    per_object = 10
    n = k * per_object
    objects_in_memory: list[int] = []
    sample_every = max(1, n // 10)

    def build() -> dosim.Simulation:
        sim = _sim(seed, level)
        ns = sim.namespace('MANY', Counter)
        active = min(MANY_ACTIVE, k)

        def source() -> Any:
            rnd = sim.stream('workload')
            expo, pick, timeout = rnd.expovariate, rnd.randrange, sim.timeout
            rate = active / MANY_GAP_MS
            slots = [ns.get_by_name(f'o{i}') for i in range(active)]
            left = [per_object] * active
            made = active
            for i in range(n):
                yield timeout(expo(rate))
                slot = pick(len(slots))
                slots[slot].fetch('https://do/inc')
                left[slot] -= 1
                if left[slot] == 0:
                    if made < k:
                        slots[slot] = ns.get_by_name(f'o{made}')
                        left[slot] = per_object
                        made += 1
                    else:   # no new objects left: the slot closes
                        slots[slot], left[slot] = slots[-1], left[-1]
                        slots.pop()
                        left.pop()
                if i % sample_every == 0:
                    objects_in_memory.append(
                        sum(a.instance is not None for a in ns.actors.values()))

        sim.process(source())
        sim.run()
        return sim

    sim, wall, cpu = _timed(build)
    problems = []
    actors = sim.namespaces['MANY'].actors
    if len(actors) != k:
        problems.append(f'{len(actors)} objects touched, expected {k}')
    wrong = sum(a.store.data.get('n') != per_object for a in actors.values())
    if wrong:
        problems.append(f'{wrong} objects do not hold n = {per_object}')
    if sim.trace.request_count != n:
        problems.append(f'{sim.trace.request_count} requests answered, expected {n}')
    _check(problems, f'many at level {level!r}')
    in_memory = sum(a.instance is not None for a in actors.values())
    return _figures(sim, n, wall, cpu, objects=k,
                    peak_in_memory=max(objects_in_memory, default=0),
                    in_memory_at_end=in_memory)


# -- 3. agent fleet -------------------------------------------------------------------------
def run_fleet(scale: float, seed: int, level: str) -> dict[str, Any]:
    """A agents (AgentLoop, 60 s interval) started over the first minute, run for 24 h.
    The unit is the alarm run (plus the A start calls)."""
    agents = max(1, round(1_000 * scale))

    def build() -> dosim.Simulation:
        sim = _sim(seed, level)
        ns = sim.namespace('AGENTS', AgentLoop)

        def starter() -> Any:
            rnd = sim.stream('workload')
            for i in range(agents):
                yield sim.timeout(rnd.uniform(0, FLEET_INTERVAL_MS / agents * 2))
                ns.get_by_name(f'agent-{i}').start_loop()

        sim.process(starter())
        sim.run(until=DAY_MS)
        return sim

    sim, wall, cpu = _timed(build)
    meters = sim.meters
    runs = int(meters['requests'].sum())   # alarm runs count as requests, with the starts
    cycles = sum(sim.storage_of('AGENTS', f'agent-{i}').get('cycles', 0)
                 for i in range(agents))
    problems = []
    if cycles < agents * (DAY_MS / FLEET_INTERVAL_MS - 30):
        problems.append(f'only {cycles} cycles completed')
    if runs < cycles + agents:
        problems.append(f'{runs} requests metered for {cycles} cycles')
    _check(problems, f'fleet at level {level!r}')
    return _figures(sim, runs, wall, cpu, objects=agents, cycles=cycles)


# -- 4. chat --------------------------------------------------------------------------------
def run_chat(scale: float, seed: int, level: str) -> dict[str, Any]:
    """R rooms of C hibernatable clients (ChatRoom, 10 ms CPU per message); each client
    sends one message a minute at its own phase, for one hour; each message is broadcast
    to the other C - 1 clients. The unit is the client message."""
    rooms = max(1, round(100 * scale))
    per_room = 100
    minutes = 60
    clients: list[Any] = []

    def build() -> dosim.Simulation:
        sim = _sim(seed, level)
        ns = sim.namespace('ROOMS', ChatRoom)

        def connect(room: int, user: int) -> Any:
            url = f'https://chat/ws?name=u{user}'
            ws = yield from dosim.connect_websocket(ns.get_by_name(f'room-{room}'), url)
            clients.append(ws)

        def talk() -> Any:
            rnd = sim.stream('workload')
            for room in range(rooms):
                for user in range(per_room):
                    sim.process(connect(room, user))
            yield sim.timeout(MINUTE_MS)   # everyone is connected by now
            order = sorted(clients, key=lambda _ws: rnd.random())
            gap = MINUTE_MS / len(order)
            for minute in range(minutes):
                for ws in order:
                    yield sim.timeout(gap)
                    ws.send(f'm{minute}')

        sim.process(talk())
        sim.run()
        return sim

    sim, wall, cpu = _timed(build)
    sent = len(clients) * minutes
    delivered = sum(len(ws.received) for ws in clients)
    problems = []
    if len(clients) != rooms * per_room:
        problems.append(f'{len(clients)} clients connected, expected {rooms * per_room}')
    if delivered != sent * (per_room - 1):
        problems.append(f'{delivered} messages delivered, expected {sent * (per_room - 1)}')
    _check(problems, f'chat at level {level!r}')
    return _figures(sim, sent, wall, cpu, objects=rooms, clients=len(clients),
                    deliveries=delivered)


WORKLOADS: dict[str, Callable[[float, int, str], dict[str, Any]]] = {
    'hot': run_hot, 'many': run_many, 'fleet': run_fleet, 'chat': run_chat,
}
