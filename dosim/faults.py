"""Injected failures.

Today: storage writes that fail to confirm, either at random
(``Config.write_failure_rate``, drawn from the ``'faults'`` stream) or on demand with
:meth:`Faults.fail_next_writes`. A failed write resets its object; its callers get errors;
the output gate makes sure nobody was told the write succeeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actor import Actor
    from .simulation import Simulation

__all__ = ['Faults']


class Faults:
    """The faults of one simulation."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._rate = sim.config.write_failure_rate
        self._forced: dict[str | None, int] = {}
        self._failovers: dict[str | None, list[float]] = {}

    def fail_next_writes(self, count: int = 1, object_name: str | None = None) -> None:
        """Make the next *count* write batches to confirm fail (only those of the object
        whose name or id label is *object_name*, if given)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f'fail_next_writes(count): count must be an int >= 1, got {count!r}')
        self._forced[object_name] = self._forced.get(object_name, 0) + count

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
                self.sim.trace.event(actor.ns_name, actor.label, actor.incarnation, 'fault',
                                     -1, f'alarm failover +{delay:g} ms')
                return delay
        return 0.0

    def write_fails(self, actor: Actor) -> bool:
        """Whether the write batch of *actor* confirming now fails."""
        for key in (actor.label, None):
            left = self._forced.get(key, 0)
            if left:
                self._forced[key] = left - 1
                self.sim.trace.event(actor.ns_name, actor.label, actor.incarnation, 'fault',
                                     -1, 'write failure')
                return True
        if self._rate and self.sim.streams.get('faults').random() < self._rate:
            self.sim.trace.event(actor.ns_name, actor.label, actor.incarnation, 'fault', -1,
                                 'write failure')
            return True
        return False
