"""Key popularity: *which* object a request goes to.

A workload addresses ``n_keys`` objects by name (``'key-0'``, ``'key-1'`` ...; a Durable
Object is usually one per room, user or document). ``spec.draw(rng)`` picks the index of the
next request's key and ``spec.name(i)`` is its name.

* :class:`UniformKeys` -- every key equally likely: load spreads evenly.
* :class:`ZipfKeys` -- the key of rank k (k = 1 for ``key-0``) has probability
  ``k**-s / H(n, s)``, with ``H(n, s) = sum(j**-s for j in 1..n)``. With s near 1 a few keys
  take most requests -- a hot room, a celebrity's feed -- and one object, which runs one
  event at a time, becomes the bottleneck. Drawn by inverting the cumulative weights with a
  binary search: one random number per request.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from .spec import Spec, register

__all__ = ['Keys', 'UniformKeys', 'ZipfKeys']


@dataclass(frozen=True)
class Keys(Spec):
    """Base of the key popularities: ``n_keys`` names ``f'{prefix}{i}'``."""

    family = 'keys'

    def draw(self, rng: Any) -> int:
        """The index (0 .. n_keys - 1) of the next key."""
        raise NotImplementedError

    def name(self, i: int) -> str:
        """The name of key *i*."""
        return f'{self.prefix}{i}'   # type: ignore[attr-defined]

    def names(self) -> list[str]:
        """Every key's name, most popular first."""
        return [self.name(i) for i in range(self.n_keys)]   # type: ignore[attr-defined]

    def probabilities(self) -> list[float]:
        """The probability of each key, by index."""
        raise NotImplementedError

    def _check_keys(self) -> None:
        self._number('n_keys', low=1, strict=False, integer=True)
        if not isinstance(self.prefix, str):   # type: ignore[attr-defined]
            raise TypeError(f'{self._name("prefix")} must be a string, '
                            f'got {self.prefix!r}')   # type: ignore[attr-defined]


@register
@dataclass(frozen=True)
class UniformKeys(Keys):
    """``UniformKeys(n_keys, prefix='key-')``: every key equally likely."""

    kind = 'uniform'
    n_keys: int
    prefix: str = 'key-'

    def check(self) -> None:
        self._check_keys()

    def draw(self, rng: Any) -> int:
        return int(rng.random() * self.n_keys)

    def probabilities(self) -> list[float]:
        return [1.0 / self.n_keys] * self.n_keys


@register
@dataclass(frozen=True)
class ZipfKeys(Keys):
    """``ZipfKeys(n_keys, s=1.1, prefix='key-')``: key i has probability proportional to
    ``(i + 1) ** -s``."""

    kind = 'zipf'
    n_keys: int
    s: float = 1.1
    prefix: str = 'key-'
    _cumulative: list[float] = field(init=False, repr=False, compare=False)

    def check(self) -> None:
        self._check_keys()
        self._number('s')
        weights = ((k + 1) ** -self.s for k in range(int(self.n_keys)))
        object.__setattr__(self, '_cumulative', list(accumulate(weights)))

    def draw(self, rng: Any) -> int:
        cumulative = self._cumulative
        i = bisect_right(cumulative, rng.random() * cumulative[-1])
        return i if i < self.n_keys else self.n_keys - 1   # guards rounding at the top end

    def probabilities(self) -> list[float]:
        total = self._cumulative[-1]
        return [(k + 1) ** -self.s / total for k in range(self.n_keys)]
