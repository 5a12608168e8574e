"""Arrival processes: *when* requests (or a client's messages) happen.

An arrival process turns a random stream into an increasing sequence of times, in simulated
milliseconds. ``spec.times(rng, start_ms)`` is a generator of them: a driver takes the next
time, waits until then, sends, and asks again -- one loop, no object per request. Rates are
given per second, as people think of traffic; times come out in ms.

* :class:`Poisson` -- independent arrivals at a steady rate: gaps are exponential with mean
  ``1000 / rate_per_s`` ms. The usual model of many independent users.
* :class:`Constant` -- exactly every ``interval_ms``: a timer, a polling client, a heartbeat.
* :class:`OnOff` -- bursts: Poisson at ``rate_per_s`` during ``on_ms``, silence during
  ``off_ms``, repeating. The average rate is ``rate_per_s x on / (on + off)``, but the queue
  an object builds up during a burst depends on the burst rate.
* :class:`Diurnal` -- a day's tide: Poisson whose rate follows a cosine around
  ``mean_rate_per_s``, highest at ``peak_ms`` into each ``period_ms``. Drawn by *thinning*:
  candidates at the peak rate, each kept with probability ``rate(t) / peak rate``.

Each has ``mean_rate_per_s``, the long-run average rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .spec import Spec, register

__all__ = ['Arrivals', 'Constant', 'Diurnal', 'OnOff', 'Poisson']

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Arrivals(Spec):
    """Base of the arrival processes."""

    family = 'arrivals'

    def times(self, rng: Any, start_ms: float = 0.0) -> Iterator[float]:
        """Arrival times (ms) after *start_ms*, drawn from *rng*, forever."""
        raise NotImplementedError

    # Every arrival process also has ``mean_rate_per_s``: the long-run average number of
    # arrivals per second (a property, or a field of Diurnal).


@register
@dataclass(frozen=True)
class Poisson(Arrivals):
    """``Poisson(rate_per_s)``: exponential gaps of mean ``1000 / rate_per_s`` ms."""

    kind = 'poisson'
    rate_per_s: float

    def check(self) -> None:
        self._number('rate_per_s')

    def times(self, rng: Any, start_ms: float = 0.0) -> Iterator[float]:
        expo, lam, t = rng.expovariate, self.rate_per_s / 1000.0, start_ms
        while True:
            t += expo(lam)
            yield t

    @property
    def mean_rate_per_s(self) -> float:
        return float(self.rate_per_s)


@register
@dataclass(frozen=True)
class Constant(Arrivals):
    """``Constant(interval_ms, offset_ms=0)``: at ``start + offset + k x interval``, k = 0,
    1, 2 ... exactly; nothing is drawn."""

    kind = 'constant'
    interval_ms: float
    offset_ms: float = 0.0

    def check(self) -> None:
        self._number('interval_ms')
        self._number('offset_ms', strict=False)

    def times(self, rng: Any, start_ms: float = 0.0) -> Iterator[float]:
        first, step, k = start_ms + self.offset_ms, self.interval_ms, 0
        while True:
            yield first + k * step   # multiplied, not summed: no drift over a million steps
            k += 1

    @property
    def mean_rate_per_s(self) -> float:
        return 1000.0 / self.interval_ms


@register
@dataclass(frozen=True)
class OnOff(Arrivals):
    """``OnOff(rate_per_s, on_ms, off_ms)``: Poisson at *rate_per_s* during each on period,
    nothing during each off period; the first on period starts at *start_ms*."""

    kind = 'on_off'
    rate_per_s: float
    on_ms: float
    off_ms: float

    def check(self) -> None:
        self._number('rate_per_s')
        self._number('on_ms')
        self._number('off_ms', strict=False)

    def times(self, rng: Any, start_ms: float = 0.0) -> Iterator[float]:
        expo, lam = rng.expovariate, self.rate_per_s / 1000.0
        cycle = self.on_ms + self.off_ms
        on_start = start_ms
        t = start_ms
        while True:
            t += expo(lam)
            while t >= on_start + self.on_ms:
                # past this burst: gaps are memoryless, so start afresh at the next one
                on_start += cycle
                t = on_start + expo(lam)
            yield t

    @property
    def mean_rate_per_s(self) -> float:
        return self.rate_per_s * self.on_ms / (self.on_ms + self.off_ms)

    def is_on(self, t_ms: float, start_ms: float = 0.0) -> bool:
        """Whether *t_ms* falls in an on period of a process started at *start_ms*."""
        return (t_ms - start_ms) % (self.on_ms + self.off_ms) < self.on_ms


@register
@dataclass(frozen=True)
class Diurnal(Arrivals):
    """``Diurnal(mean_rate_per_s, amplitude=0.5, period_ms=1 day, peak_ms=12 h)``: Poisson
    with rate ``mean x (1 + amplitude x cos(2 pi (t - peak_ms) / period_ms))`` at simulated
    time t. Simulated time 0 is midnight UTC, so the default peak is noon UTC."""

    kind = 'diurnal'
    mean_rate_per_s: float
    amplitude: float = 0.5
    period_ms: float = DAY_MS
    peak_ms: float = DAY_MS / 2

    def check(self) -> None:
        self._number('mean_rate_per_s')
        self._number('amplitude', strict=False, high=1.0)
        self._number('period_ms')
        self._number('peak_ms', strict=False)

    def rate_at(self, t_ms: float) -> float:
        """The rate (per second) at simulated time *t_ms*."""
        phase = 2.0 * math.pi * (t_ms - self.peak_ms) / self.period_ms
        return self.mean_rate_per_s * (1.0 + self.amplitude * math.cos(phase))

    def times(self, rng: Any, start_ms: float = 0.0) -> Iterator[float]:
        expo, uniform = rng.expovariate, rng.random
        top = 1.0 + self.amplitude
        lam = self.mean_rate_per_s * top / 1000.0
        amp, peak, omega = self.amplitude, self.peak_ms, 2.0 * math.pi / self.period_ms
        t = start_ms
        while True:
            t += expo(lam)
            if uniform() * top < 1.0 + amp * math.cos(omega * (t - peak)):
                yield t
