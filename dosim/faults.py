"""Injected failures: a seeded, replayable schedule, and random injection at given rates.

Each method schedules one fault at a simulated time (ms); :meth:`Faults.apply` takes the same
faults as plain data (the form scenario files use); :meth:`Faults.inject_random` draws them
from the ``'faults'`` stream at a rate. Every fault that takes effect is a row of
``sim.trace.faults`` (and a ``fault`` event). Same seed and schedule, same run.

==========================  ===================================================================
fault                        effect
==========================  ===================================================================
``reset``                    the object crashes: memory and unconfirmed writes lost, callers in
                             progress get a retryable ``Network connection lost.``
``datacenter_failure``       every object placed in that data centre resets; alarms rerun
``deploy``                   every object of the namespace (or all) resets and closes its
                             WebSockets; requests in flight get 30 s of grace, but one that
                             touches storage in it is stopped at once
``write_failure``            the next write batches fail to confirm: the object resets
``storage_latency_spike``    reads and write confirmations are slower for a while
``partition``                calls between two places fail (retryable) for a while
``latency_spike``            messages from or to a place are slower for a while
``alarm_failover``           the next alarm deliveries are late (at most 60 s)
==========================  ===================================================================
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:
    from .actor import Actor
    from .geo import Location
    from .simulation import Simulation

__all__ = ['FAULT_KINDS', 'Faults']


FAULT_KINDS = ('reset', 'datacenter_failure', 'deploy', 'write_failure', 'storage_latency_spike',
               'partition', 'latency_spike', 'alarm_failover')


def _num(name: str, value: Any, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f'{name} must be a number in [{low:g}, {high:g}], got {value!r}')
    return float(value)


class Faults:
    """The faults of one simulation (see the module docstring)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._rate = sim.config.write_failure_rate
        self._forced: dict[str | None, int] = {}
        self._failovers: dict[str | None, list[float]] = {}
        self.partitions: list[tuple[float, float, str, str]] = []
        self.latency_spikes: list[tuple[float, float, float, str | None]] = []
        self.storage_spikes: list[tuple[float, float, float, str | None]] = []

    # -- recording ----------------------------------------------------------------------------
    def _log(self, kind: str, target: str, detail: str, actor: Actor | None = None) -> None:
        sim = self.sim
        sim.trace.fault_rows.append((sim.env.now, kind, target, detail))
        if actor is not None:
            sim.trace.event(actor.ns_name, actor.label, actor.incarnation, 'fault', -1,
                            f'{kind}: {detail}')

    def _at(self, at_ms: Any, action: Any) -> None:
        at = _num('at_ms', at_ms)
        env = self.sim.env
        env.timeout(max(at - env.now, 0.0)).callbacks.append(lambda _ev: action())

    def _actors(self, namespace: str | None = None) -> list[Actor]:
        spaces = self.sim.namespaces
        if namespace is not None and namespace not in spaces:
            raise ValueError(f'unknown namespace {namespace!r}; bound: {", ".join(spaces)}')
        chosen = [spaces[namespace]] if namespace else list(spaces.values())
        return [a for ns in chosen for a in ns.actors.values()]

    def _find(self, namespace: str, name: str) -> Actor:
        ns = self.sim.namespaces.get(namespace)
        if ns is None:
            raise ValueError(f'unknown namespace {namespace!r}')
        return ns.actor(ns.id_from_name(name))

    # -- object faults ------------------------------------------------------------------------
    def reset(self, at_ms: float, namespace: str, name: str) -> None:
        """At *at_ms* the object *name* of *namespace* crashes."""
        def crash() -> None:
            actor = self._find(namespace, name)
            self._log('reset', actor.label, 'crash', actor)
            actor.reset(errors.network_lost(), 'crash')
        self._at(at_ms, crash)

    def datacenter_failure(self, at_ms: float, iata: str) -> None:
        """At *at_ms* the data centre *iata* fails: every object placed there resets."""
        self.sim.network.location(iata, 'datacenter_failure(iata)')

        def fail() -> None:
            hit = [a for a in self._actors() if a.location is not None and a.location.iata == iata]
            self._log('datacenter_failure', iata, f'{len(hit)} objects')
            for actor in hit:
                actor.reset(errors.network_lost(), f'{iata} failed')
        self._at(at_ms, fail)

    def deploy(self, at_ms: float, namespace: str | None = None) -> None:
        """At *at_ms* new code is deployed (to *namespace*, or everywhere)."""
        self._actors(namespace)   # validates the name now

        def roll() -> None:
            actors = self._actors(namespace)
            self._log('deploy', namespace or '*', f'{len(actors)} objects')
            for actor in actors:
                actor.deploy()
        self._at(at_ms, roll)

    def fail_next_writes(self, count: int = 1, object_name: str | None = None) -> None:
        """Make the next *count* write batches to confirm fail (only those of the object
        whose name or id label is *object_name*, if given)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f'fail_next_writes(count): count must be an int >= 1, got {count!r}')
        self._forced[object_name] = self._forced.get(object_name, 0) + count

    def write_failure(self, at_ms: float, count: int = 1, object_name: str | None = None) -> None:
        """From *at_ms*, the next *count* write batches (of *object_name*) fail."""
        self._at(at_ms, lambda: self.fail_next_writes(count, object_name))

    def write_fails(self, actor: Actor) -> bool:
        """Whether the write batch of *actor* confirming now fails."""
        for key in (actor.label, None):
            left = self._forced.get(key, 0)
            if left:
                self._forced[key] = left - 1
                self._log('write_failure', actor.label, 'batch lost', actor)
                return True
        if self._rate and self.sim.streams.get('faults').random() < self._rate:
            self._log('write_failure', actor.label, 'batch lost (random)', actor)
            return True
        return False

    def storage_latency_spike(self, start_ms: float, end_ms: float, extra_ms: float,
                              object_name: str | None = None) -> None:
        """Between *start_ms* and *end_ms*, storage reads and confirmations take *extra_ms*
        longer (for *object_name* only, if given)."""
        start, end = _num('start_ms', start_ms), _num('end_ms', end_ms, start_ms)
        self.storage_spikes.append((start, end, _num('extra_ms', extra_ms), object_name))
        self._at(start, lambda: self._log('storage_latency_spike', object_name or '*',
                                          f'+{extra_ms:g} ms until {end:g}'))

    def storage_extra(self, actor: Actor) -> float:
        now = self.sim.env.now
        return sum(extra for start, end, extra, who in self.storage_spikes
                   if start <= now < end and who in (None, actor.label))

    # -- network faults -----------------------------------------------------------------------
    def partition(self, start_ms: float, end_ms: float, a: str, b: str) -> None:
        """Between *start_ms* and *end_ms*, nothing passes between *a* and *b* (each a data
        centre code or a region name)."""
        start, end = _num('start_ms', start_ms), _num('end_ms', end_ms, start_ms)
        for side in (a, b):
            self._check_place(side, 'partition')
        self.partitions.append((start, end, a, b))
        self._at(start, lambda: self._log('partition', f'{a}|{b}', f'until {end:g}'))

    def _check_place(self, place: str, what: str) -> None:
        locations = self.sim.network.locations
        if place not in locations and not any(loc.region == place for loc in locations.values()):
            raise ValueError(f'{what}: unknown data centre or region {place!r}')

    def partitioned(self, a: Location, b: Location) -> bool:
        now = self.sim.env.now
        for start, end, x, y in self.partitions:
            if start <= now < end and ((_in(a, x) and _in(b, y)) or (_in(a, y) and _in(b, x))):
                return True
        return False

    def latency_spike(self, start_ms: float, end_ms: float, extra_ms: float,
                      place: str | None = None) -> None:
        """Between *start_ms* and *end_ms*, messages from or to *place* (anywhere, if None)
        take *extra_ms* longer."""
        start, end = _num('start_ms', start_ms), _num('end_ms', end_ms, start_ms)
        if place is not None:
            self._check_place(place, 'latency_spike')
        self.latency_spikes.append((start, end, _num('extra_ms', extra_ms), place))
        self._at(start, lambda: self._log('latency_spike', place or '*',
                                          f'+{extra_ms:g} ms until {end:g}'))

    def latency_extra(self, a: Location, b: Location) -> float:
        now = self.sim.env.now
        return sum(extra for start, end, extra, where in self.latency_spikes
                   if start <= now < end and (where is None or _in(a, where) or _in(b, where)))

    # -- alarms -----------------------------------------------------------------------------
    def alarm_failover(self, delay_ms: float, count: int = 1,
                       object_name: str | None = None) -> None:
        """Delay the next *count* alarm deliveries by *delay_ms* (at most 60 s), as a
        failover to another machine does (of the object named *object_name* only, if given)."""
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) \
                or not 0 <= delay_ms <= 60_000:
            raise ValueError(f'alarm_failover(delay_ms): must be 0..60000 ms, got {delay_ms!r}')
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f'alarm_failover(count): count must be an int >= 1, got {count!r}')
        self._failovers.setdefault(object_name, []).extend([float(delay_ms)] * count)

    def alarm_failover_delay(self, actor: Actor) -> float:
        """Extra delay for the alarm of *actor* being scheduled now (0 without a fault)."""
        for key in (actor.label, None):
            queue = self._failovers.get(key)
            if queue:
                delay = queue.pop(0)
                self._log('alarm_failover', actor.label, f'+{delay:g} ms', actor)
                return delay
        return 0.0

    # -- schedules and random injection ---------------------------------------------------------
    def apply(self, schedule: list[dict[str, Any]]) -> None:
        """Schedule faults given as data: ``[{'kind': 'reset', 'at_ms': 5000, 'namespace':
        'ROOMS', 'name': 'lobby'}, ...]``. Errors name the entry, the field and the value."""
        if not isinstance(schedule, list):
            raise TypeError(f'fault schedule must be a list, got {type(schedule).__name__}')
        for i, entry in enumerate(schedule):
            if not isinstance(entry, dict) or 'kind' not in entry:
                raise ValueError(f'faults[{i}]: a mapping with a "kind" field, got {entry!r}')
            kind = entry['kind']
            if kind not in FAULT_KINDS:
                raise ValueError(f'faults[{i}].kind: unknown fault {kind!r}; '
                                 f'one of {", ".join(FAULT_KINDS)}')
            args = {k: v for k, v in entry.items() if k != 'kind'}
            if kind == 'alarm_failover':
                delay = args.pop('at_ms', None)
                if delay is not None:
                    self._at(delay, lambda a=args: self.alarm_failover(**a))
                    continue
            try:
                getattr(self, kind)(**args)
            except TypeError as exc:
                raise ValueError(f'faults[{i}] ({kind}): {exc}') from None
            except ValueError as exc:
                raise ValueError(f'faults[{i}] ({kind}): {exc}') from None

    def inject_random(self, kind: str, rate_per_hour: float, until_ms: float,
                      **options: Any) -> None:
        """Draw *kind* faults (``reset`` of a random object in memory, ``datacenter_failure``
        of a random hosting data centre, ``latency_spike`` of ``extra_ms`` for
        ``duration_ms``) as a Poisson process of *rate_per_hour*, up to *until_ms*."""
        if kind not in ('reset', 'datacenter_failure', 'latency_spike'):
            raise ValueError(f'inject_random(kind): reset, datacenter_failure or '
                             f'latency_spike, got {kind!r}')
        rate = _num('rate_per_hour', rate_per_hour) / 3_600_000
        rng = self.sim.streams.get('faults')
        t = self.sim.env.now
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= until_ms:
                break
            if kind == 'reset':
                self._at(t, lambda: self._random_reset(rng))
            elif kind == 'datacenter_failure':
                hosting = sorted(i for i, loc in self.sim.network.locations.items()
                                 if loc.hosts_objects)
                self.datacenter_failure(t, rng.choice(hosting))
            else:
                self.latency_spike(t, t + options.get('duration_ms', 10_000),
                                   options.get('extra_ms', 100.0))

    def _random_reset(self, rng: Any) -> None:
        live = [a for a in self._actors() if a.instance is not None]
        if live:
            actor = live[rng.randrange(len(live))]
            self._log('reset', actor.label, 'random crash', actor)
            actor.reset(errors.network_lost(), 'crash')


def _in(loc: Location, place: str) -> bool:
    return loc.iata == place or loc.region == place
