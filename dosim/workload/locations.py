"""Client location mixes: *where* the callers are.

Every client call leaves from a data centre of ``data/locations.csv`` (:mod:`dosim.network`):
the object is placed near the first caller, and every later caller pays the distance to it.
A :class:`LocationMix` says what share of the clients sits where, as weights by IATA code --
``LocationMix({'LHR': 3, 'SJC': 1})`` puts three quarters of the requests in London -- and
``spec.draw(rng)`` picks the place of the next request or WebSocket client.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from .. import geo
from .spec import Spec, register

__all__ = ['LocationMix']


@register
@dataclass(frozen=True)
class LocationMix(Spec):
    """``LocationMix(weights)``: *weights* maps IATA codes to shares (any numbers >= 0 with
    a positive sum)."""

    family = 'locations'
    kind = 'mix'
    weights: Mapping[str, float]
    _codes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _cumulative: list[float] = field(init=False, repr=False, compare=False)

    def check(self) -> None:
        weights = self.weights
        if not isinstance(weights, Mapping) or not weights:
            raise TypeError(f'{self._name("weights")} must be a non-empty mapping from IATA '
                            f'codes to numbers, got {weights!r}')
        known = geo.load_locations()
        for code, weight in weights.items():
            if code not in known:
                raise ValueError(f'{self._name("weights")}: unknown data centre {code!r}; '
                                 f'known: {", ".join(sorted(known))}')
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                    or not 0 <= weight < float('inf'):
                raise ValueError(f'{self._name("weights")}[{code!r}] must be a number >= 0, '
                                 f'got {weight!r}')
        if sum(weights.values()) <= 0:
            raise ValueError(f'{self._name("weights")} must have a positive sum, '
                             f'got {dict(weights)!r}')
        object.__setattr__(self, 'weights', dict(weights))
        object.__setattr__(self, '_codes', tuple(weights))
        object.__setattr__(self, '_cumulative', list(accumulate(weights.values())))

    def __hash__(self) -> int:
        return hash(tuple(self.weights.items()))

    def draw(self, rng: Any) -> str:
        """The IATA code of the next client."""
        cumulative = self._cumulative
        i = bisect_right(cumulative, rng.random() * cumulative[-1])
        return self._codes[min(i, len(self._codes) - 1)]

    def shares(self) -> dict[str, float]:
        """Each place's share of the clients (summing to 1)."""
        total = self._cumulative[-1]
        return {code: w / total for code, w in self.weights.items()}
