"""Where things are, and how long a message takes between them.

Every caller and every object has a place: a data centre of ``data/locations.csv``
(:mod:`dosim.geo`). Clients sit where their stub says (``ns.get(id, client_location='LHR')``,
default ``Config.client_location``); an object is placed when its first call is sent, in
the hosting data centre nearest that caller -- or, if the first ``get()`` for its id carried a
``location_hint``, in that region (``sam``, ``afr`` and ``me`` spawn nearby) -- and it never
moves.

One-way latency is physics plus noise::

    great-circle km / Config.fibre_km_per_ms x Config.route_inflation + Config.hop_base_ms
      + jitter (Pareto: Config.jitter_scale_ms x (paretovariate(Config.jitter_shape) - 1))
      + any injected latency spike

The first call to an object whose id came from a name also pays the global uniqueness check
(``Config.uniqueness_check_ms``), once per name. Calls crossing an injected partition fail with
a retryable ``Network connection lost.``. The assumptions are in ``data/network.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import geo
from .geo import Location

if TYPE_CHECKING:
    from .actor import Actor
    from .simulation import Simulation

__all__ = ['Network']


class Network:
    """Placement and one-way latencies of one simulation."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        cfg = sim.config
        self.locations = geo.load_locations()
        self.client_location = self.location(cfg.client_location, 'Config.client_location')
        self._outbox: Any = None   # the simulation's Outbox (set by the Simulation) ...
        self._faults: Any = None   # ... and its Faults
        self._fibre = cfg.fibre_km_per_ms
        self._inflation = cfg.route_inflation
        self._base = cfg.hop_base_ms
        self._jitter_scale = cfg.jitter_scale_ms
        self._jitter_shape = cfg.jitter_shape
        self._pareto_power = -1.0 / cfg.jitter_shape
        # the latency jitters, one per message or a broadcast's all at once
        self._jitters = sim.streams.uniforms('network', self._pareto_jitter)
        self._jitter = self._jitters.draw
        # base latencies: source IATA code -> destination IATA code -> ms (two plain lookups
        # cost less than building and hashing a pair per message)
        self._cache: dict[str, dict[str, float]] = {}
        self._nearest: dict[str, geo.Location] = {}
        self._hosting = [loc for loc in self.locations.values() if loc.hosts_objects]

    def location(self, iata: str, what: str = 'location') -> geo.Location:
        """The data centre with code *iata*; a :class:`ValueError` names unknown ones."""
        found = self.locations.get(iata) if isinstance(iata, str) else None
        if found is None:
            known = ', '.join(sorted(self.locations))
            raise ValueError(f'{what}: unknown data centre {iata!r}; known: {known}')
        return found

    def where(self, endpoint: Any) -> geo.Location:
        """The place of an actor (its placement) or of a client (a location)."""
        placed = getattr(endpoint, 'location', None)
        if placed is not None:
            return placed
        if isinstance(endpoint, geo.Location):
            return endpoint
        return self.client_location

    def place(self, actor: Actor, caller: Any, hint: str | None) -> geo.Location:
        """Fix *actor*'s data centre on its first call (see the module docstring)."""
        if actor.location is None:
            if hint is not None:
                actor.location = geo.hint_location(hint, self.locations)
            else:
                origin = self.where(caller)
                nearest = self._nearest.get(origin.iata)
                if nearest is None:
                    nearest = self._nearest[origin.iata] = geo.nearest(origin, self._hosting)
                actor.location = nearest
            if self.sim.trace.full:
                actor.event('placed', -1, f'{actor.location.iata} ({actor.location.region})'
                            + (f', hint {hint}' if hint else ''))
        return actor.location

    def base_ms(self, src: Any, dst: Any) -> float:
        """The deterministic part of the one-way latency from *src* to *dst*."""
        a = src if type(src) is Location else self.where(src)
        b = dst if type(dst) is Location else self.where(dst)
        row = self._cache.get(a.iata)
        if row is None:
            row = self._cache[a.iata] = {}
        value = row.get(b.iata)
        if value is None:
            value = row[b.iata] = geo.one_way_ms(
                a, b, fibre_km_per_ms=self._fibre, route_inflation=self._inflation,
                base_ms=self._base)
        return value

    def one_way(self, src: Any, dst: Any) -> float:
        """Milliseconds for one message from *src* to *dst*, jitter and faults included."""
        if self._outbox.cols:   # a broadcast's draws come first (dosim.outbox)
            self._outbox.flush()
        a = src if type(src) is Location else getattr(src, 'location', None) or self.where(src)
        b = dst if type(dst) is Location else getattr(dst, 'location', None) or self.where(dst)
        row = self._cache.get(a.iata)
        ms = None if row is None else row.get(b.iata)
        if ms is None:
            ms = self.base_ms(a, b)
        if self._jitter_scale:
            ms += self._jitter()
        faults = self._faults
        if faults.latency_spikes:
            ms += faults.latency_extra(self.where(src), self.where(dst))
        return ms

    def _pareto_jitter(self, u: np.ndarray) -> np.ndarray:
        """The jitters of draws *u*: ``scale * (paretovariate(shape) - 1)`` with
        ``paretovariate``'s arithmetic, ``(1 - u) ** (-1 / shape)``, step by step, so that
        each is the very number Python's float operations give. ``float_power`` calls the C
        library's ``pow``, as Python's ``**`` does; ``np.power`` may use SVML on AVX-512
        CPUs, which differs in the last bit (numpy issues 23289 and 25269)."""
        extra = np.subtract(1.0, u)
        np.float_power(extra, self._pareto_power, out=extra)
        extra -= 1.0
        extra *= self._jitter_scale
        return extra

    def cut(self, src: Any, dst: Any) -> bool:
        """Whether an injected partition separates *src* and *dst* right now."""
        faults = self.sim.faults
        return bool(faults.partitions) and faults.partitioned(self.where(src), self.where(dst))
