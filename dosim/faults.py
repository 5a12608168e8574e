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

    def fail_next_writes(self, count: int = 1, object_name: str | None = None) -> None:
        """Make the next *count* write batches to confirm fail (only those of the object
        whose name or id label is *object_name*, if given)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f'fail_next_writes(count): count must be an int >= 1, got {count!r}')
        self._forced[object_name] = self._forced.get(object_name, 0) + count

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
