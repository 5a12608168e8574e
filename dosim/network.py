"""How long a message takes between two places.

For now every caller and every object sit in one data centre and a one-way trip takes
``Config.network_one_way_ms``. The geographic model (locations, great-circle distance over
fibre, placement) replaces :meth:`Network.one_way` without changing its callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .simulation import Simulation

__all__ = ['Network']


class Network:
    """One-way latencies between callers and objects."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._one_way = sim.config.network_one_way_ms

    def one_way(self, src: Any, dst: Any) -> float:
        """Milliseconds for one message from *src* to *dst* (a caller label or an actor)."""
        return self._one_way
