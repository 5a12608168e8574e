"""The world of exercise 3: many timers, one alarm, and the plan the checker holds them to.

:class:`TimerHost` is the base of the student's class. The student writes
``schedule(timer_id, at, repeat_ms=None)`` (``at`` in epoch ms, like ``set_alarm``; scheduling
an id again moves it), ``cancel(timer_id)`` and ``alarm(alarm_info)``, which must call
``self.fire(timer_id)`` once for every due time of every timer. The base records each
``fire`` for the checker and answers ``alarm_time()`` (RPC: the object's ``get_alarm()``).

A :class:`Plan` is one hidden scenario: the operations a client makes, at what times, and
when it looks at the alarm. :meth:`Plan.dues` works out from the operations alone when each
timer is due -- the answer the student's firings are compared with.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from ..context import active
from ..object import DurableObject

__all__ = ['PROBE', 'Op', 'Plan', 'TimerHost']

PROBE = 'a look at the alarm'


class TimerHost(DurableObject):
    """The base class of exercise 3 (see the module docstring)."""

    fired_log: ClassVar[list[tuple[float, str]]] = []

    def fire(self, timer_id: str) -> None:
        """The timer *timer_id* is due: do its work (here: record when it fired)."""
        inv = active.invocation
        sim = inv.actor.sim if inv is not None else None
        at = sim.start_epoch_ms + sim.now if sim is not None else math.nan
        type(self).fired_log.append((at, str(timer_id)))

    def alarm_time(self) -> Generator[Any, Any, Any]:
        """The object's alarm (``get_alarm()``), for the checker to compare."""
        return (yield self.ctx.storage.get_alarm())


@dataclass(frozen=True)
class Op:
    """A client operation at *t* (ms since start): ``schedule`` (*at* ms since start, and
    *repeat_ms*) or ``cancel``; ``probe`` only reads the alarm."""

    t: float
    kind: str
    timer: str = ''
    at: float = math.nan
    repeat_ms: float | None = None

    def describe(self) -> str:
        if self.kind == 'schedule':
            every = f', repeat_ms={self.repeat_ms:g}' if self.repeat_ms else ''
            return f'schedule({self.timer!r}, {self.at / 1000:g} s{every})'
        return f'{self.kind}({self.timer!r})' if self.timer else PROBE


@dataclass(frozen=True)
class Plan:
    """A hidden scenario: operations, a seed, the run's end (ms) and exact timing or not."""

    name: str
    seed: int
    quiet: bool
    end_ms: float
    ops: tuple[Op, ...]

    def dues(self, horizon: float | None = None, known_at: float = math.inf
             ) -> dict[str, list[float]]:
        """When each timer is due (ms since start, up to *horizon*, by default the end),
        from the operations made up to *known_at*: a new ``schedule`` of an id drops its
        later due times, a ``cancel`` all of them."""
        horizon = self.end_ms if horizon is None else horizon
        dues: dict[str, list[float]] = {}
        for op in sorted(self.ops, key=lambda o: o.t):
            if op.kind == 'probe' or op.t > known_at:
                continue
            kept = [d for d in dues.get(op.timer, []) if d <= op.t]
            if op.kind == 'schedule':
                kept += _series(op.at, op.repeat_ms, horizon)
            dues[op.timer] = kept
        return dues

    def earliest(self, t: float) -> float | None:
        """The earliest due time after *t* of any timer scheduled by then (ms since start),
        or None."""
        dues = self.dues(self.end_ms + 3_600_000, known_at=t)
        later = [d for ds in dues.values() for d in ds if d > t]
        return min(later) if later else None

    def cancelled(self, timer: str) -> float | None:
        """When *timer* was last cancelled (ms), if it was never scheduled again after."""
        last = [o for o in self.ops if o.timer == timer and o.kind != 'probe']
        last.sort(key=lambda o: o.t)
        return last[-1].t if last and last[-1].kind == 'cancel' else None

    def repeat_of(self, timer: str) -> float | None:
        sched = [o for o in self.ops if o.timer == timer and o.kind == 'schedule']
        return sched[-1].repeat_ms if sched else None


def _series(at: float, repeat_ms: float | None, horizon: float) -> list[float]:
    if not repeat_ms:
        return [at] if at <= horizon else []
    count = int((horizon - at) // repeat_ms) + 1 if at <= horizon else 0
    return [at + k * repeat_ms for k in range(count)]
