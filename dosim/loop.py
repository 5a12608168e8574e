"""SimPy's event loop, compiled.

:meth:`simpy.Environment.run` calls :meth:`~simpy.Environment.step` until an exception ends
the run: pop the next entry of the event queue, move the clock to its time, call the
event's callbacks, and raise the event's error if it failed and nobody defused it. A
simulation of a million requests takes that step several million times, so
:class:`dosim.simulation.Environment` runs :func:`run_loop` instead: the same steps in the
same order, written once as a loop, which :mod:`dosim.native` compiles with the runtime
(the queue's :func:`~dosim.heap.heappop` is then a direct C call).

The loop also keeps ``env.key``, the queue entry of the event being processed (where "now"
is, ties included: :mod:`dosim.inflight`), and computes the broadcast rows still waiting
(``env.unmade``) when the queue runs dry.
"""

from __future__ import annotations

from typing import Any

from simpy.core import EmptySchedule, StopSimulation

from .heap import heappop

__all__ = ['AFTER_ALL', 'ran_dry', 'run_loop']

#: A priority after SimPy's two (urgent 0, normal 1): ``env.key`` once no event is left --
#: every event at that time, whatever its id, has happened.
AFTER_ALL = 2


def run_loop(env: Any) -> None:
    """Process *env*'s events until an exception ends the run: :class:`EmptySchedule` when
    the queue is empty, :class:`StopSimulation` from ``run(until=...)``, or the error of an
    event that failed undefused."""
    queue: list[tuple[Any, ...]] = env._queue
    while True:
        try:
            key = heappop(queue)
        except IndexError:
            ran_dry(env)
            continue
        env.key = key
        env._now = key[0]
        event: Any = key[3]
        callbacks = event.callbacks
        event.callbacks = None
        callback: Any = None
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            env.schedule(event, -1)
            raise
        if not event._ok and not hasattr(event, '_defused'):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


def ran_dry(env: Any) -> None:
    """*env*'s queue is empty. Compute the broadcast rows still waiting, which puts their
    latest arrival in the queue if it is still to come, and return if the queue now holds
    an event. Otherwise every event at this time has happened: ``env.key`` says so, and
    :class:`EmptySchedule` ends the run (or the step)."""
    if env.unmade and env._make_unmade():
        return
    env.key = (env._now, AFTER_ALL, 0, None)
    raise EmptySchedule from None
