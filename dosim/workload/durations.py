"""Duration distributions: how long a handler computes, how long a client stays.

A handler's CPU work is ``yield dosim.compute(ms)``. Real handlers do not all take the same
time, and the spread matters: one slow request holds the object's single thread while the
queue behind it grows. ``spec.draw(rng)`` gives one duration in ms:

* :class:`ConstantMs` -- always ``ms``.
* :class:`ExponentialMs` -- mean ``mean_ms``, memoryless: many short, a few long.
* :class:`LogNormalMs` -- ``median_ms x exp(sigma x N(0, 1))``: the long right tail measured
  latencies usually have. Its mean is ``median_ms x exp(sigma**2 / 2)``.
* :class:`UniformMs` -- evenly between ``low_ms`` and ``high_ms``.

The same specs give WebSocket session lengths and reconnect pauses
(:class:`~dosim.workload.clients.WebSocketClients`). A handler cost reaches the object in one
of two ways: the driver draws it and sends it with the request (the ``x-cost-ms`` header of a
fetch, the last argument of an RPC call: :mod:`dosim.workload.requests`), or the object's
handler draws it itself: ``yield dosim.compute(spec.draw(dosim.stream('handler.cost')))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .spec import Spec, register

__all__ = ['ConstantMs', 'Duration', 'ExponentialMs', 'LogNormalMs', 'UniformMs']


@dataclass(frozen=True)
class Duration(Spec):
    """Base of the duration distributions."""

    family = 'cost'

    def draw(self, rng: Any) -> float:
        """One duration in ms."""
        raise NotImplementedError


@register
@dataclass(frozen=True)
class ConstantMs(Duration):
    """``ConstantMs(ms)``: always *ms*."""

    kind = 'constant'
    ms: float

    def check(self) -> None:
        self._number('ms', strict=False)

    def draw(self, rng: Any) -> float:
        return float(self.ms)

    @property
    def mean_ms(self) -> float:
        return float(self.ms)


@register
@dataclass(frozen=True)
class ExponentialMs(Duration):
    """``ExponentialMs(mean_ms)``: exponential with mean *mean_ms*."""

    kind = 'exponential'
    mean_ms: float

    def check(self) -> None:
        self._number('mean_ms')

    def draw(self, rng: Any) -> float:
        return rng.expovariate(1.0 / self.mean_ms)


@register
@dataclass(frozen=True)
class LogNormalMs(Duration):
    """``LogNormalMs(median_ms, sigma)``: log-normal with that median and log-scale spread."""

    kind = 'lognormal'
    median_ms: float
    sigma: float

    def check(self) -> None:
        self._number('median_ms')
        self._number('sigma', strict=False)

    def draw(self, rng: Any) -> float:
        return rng.lognormvariate(math.log(self.median_ms), self.sigma)

    @property
    def mean_ms(self) -> float:
        return self.median_ms * math.exp(self.sigma ** 2 / 2.0)


@register
@dataclass(frozen=True)
class UniformMs(Duration):
    """``UniformMs(low_ms, high_ms)``: evenly between the two."""

    kind = 'uniform'
    low_ms: float
    high_ms: float

    def check(self) -> None:
        self._number('low_ms', strict=False)
        self._number('high_ms', low=self.low_ms, strict=False)

    def draw(self, rng: Any) -> float:
        return rng.uniform(self.low_ms, self.high_ms)

    @property
    def mean_ms(self) -> float:
        return (self.low_ms + self.high_ms) / 2.0
