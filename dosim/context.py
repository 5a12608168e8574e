"""What object code waits on: CPU work, timers and outbound fetches, and the clock.

Inside a handler, the place where TypeScript says ``await`` is a ``yield`` in Python. What is
yielded decides what the object's *input gate* does while the handler waits:

=============================  ==============================  =================================
yielded                        input gate                       made by
=============================  ==============================  =================================
a storage operation            stays closed                     ``self.ctx.storage.*``
:func:`compute` (CPU work)     stays closed (the thread is busy) ``dosim.compute(ms)``
:func:`sleep` (a timer)        opens: other events may run      ``dosim.sleep(ms)``
:func:`fetch_external`         opens                            ``dosim.fetch_external(...)``
a call to another object       opens                            ``stub.fetch(...)``, RPC
any other SimPy event          opens                            ``sim.timeout(ms)`` ...
=============================  ==============================  =================================

Outside an object (in a client process started with ``sim.process``), :func:`sleep` and
:func:`fetch_external` are plain SimPy timeouts, and :func:`now` reads the running simulation.

The runtime's own timers (a message in flight, a write batch confirming, a storage read) do
not need a whole SimPy ``Timeout`` each: :func:`wake_after` puts an object straight into
SimPy's event queue, in the place a timeout made at that moment would take, and SimPy calls
its ``callbacks`` when the time comes. Events happen in exactly the same order; the runtime
just makes fewer objects per request.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from .heap import heappush

if TYPE_CHECKING:
    from .invocation import Invocation
    from .simulation import Simulation

__all__ = ['all_settled', 'compute', 'fetch_external', 'now', 'sleep', 'stream']

#: Milliseconds, an int or a float, kept as given. (Typing admits an int for ``float``
#: anyway; the union is spelled out because a build compiled with mypyc, see
#: :mod:`dosim.native`, turns an argument annotated ``float`` into a C double, and an int
#: time would come back as a float.)
Ms = float | int

#: Marks a parameter that its function checks itself, as in ``key: str | Checked``: the
#: type to pass, and ``Any`` so that a compiled build does not turn other values away with
#: a message of its own before the function's clear one names the parameter and the value.
Checked = Any


class _Active:
    """The invocation whose code is running right now, and the simulation being run."""

    __slots__ = ('invocation', 'sim')

    def __init__(self) -> None:
        self.invocation: Invocation | None = None
        self.sim: Simulation | None = None


active: Final = _Active()


def wake_after(env: Any, delay: Ms, waker: Any) -> None:
    """Have SimPy call ``waker.callbacks`` (each with *waker*) *delay* ms from now, in the
    queue position ``env.timeout(delay)`` would take now. *waker* is any object with a
    ``callbacks`` sequence and ``_ok = True``, as SimPy's event loop needs; the loop sets
    ``callbacks`` to ``None`` when it runs them."""
    heappush(env._queue, (env._now + delay, 1, next(env._eid), waker))


class Wake:
    """A bare timer for :func:`wake_after`: each of *callbacks* is called with the ``Wake``."""

    __slots__ = ('callbacks',)
    _ok = True

    def __init__(self, callbacks: tuple[Any, ...]) -> None:
        self.callbacks: Any = callbacks   # SimPy's loop sets it to None


class Lane:
    """Timers that mostly come due in the order they are set, such as the 10 s before an
    idle object hibernates: :meth:`wake_after` as the function of that name, but a timer due
    no earlier than the lane's last one waits in a FIFO, and only the FIFO's first timer
    sits in SimPy's event queue. Every timer keeps the event id a ``Timeout`` made at its
    start would have had, so events happen in exactly the same order; SimPy's event queue
    just stays short (10,000 idle objects would otherwise keep 10,000 entries in it, and
    every event pays for its depth). A timer due earlier than the lane's last one gets an
    entry of its own, as with :func:`wake_after`."""

    __slots__ = ('_armed', '_env', '_waiting', 'callbacks')
    _ok = True

    def __init__(self, env: Any) -> None:
        self._env = env
        self._waiting: deque[tuple[Ms, int, Any]] = deque()
        self.callbacks: Any = None
        self._armed = (self._due,)   # its callbacks while it sits in SimPy's queue

    def wake_after(self, delay: Ms, waker: Any) -> None:
        """Have SimPy call ``waker.callbacks`` (each with *waker*) *delay* ms from now."""
        env = self._env
        at = env._now + delay
        waiting = self._waiting
        if not waiting:
            eid = next(env._eid)
            waiting.append((at, eid, waker))
            self.callbacks = self._armed
            heappush(env._queue, (at, 1, eid, self))
        elif at < waiting[-1][0]:   # out of order: an entry of its own (wake_after)
            heappush(env._queue, (at, 1, next(env._eid), waker))
        else:
            waiting.append((at, next(env._eid), waker))

    def _due(self, _event: Any) -> None:
        waiting = self._waiting
        waker = waiting.popleft()[2]
        if waiting:   # the next one takes the first one's place
            at, eid, _ = waiting[0]
            self.callbacks = self._armed
            heappush(self._env._queue, (at, 1, eid, self))
        callbacks, waker.callbacks = waker.callbacks, None   # what SimPy's loop does
        for callback in callbacks:
            callback(waker)


class Watchdogs:
    """Timers that all run the same *delay*, like the 15-minute limit of every alarm run.

    Started one after another, they come due in the order they were started, so they wait
    in a FIFO and only the first of them sits in SimPy's event queue, under the event id a
    ``Timeout`` made at its start would have had: the same order of events, but a small
    event queue (thousands of agents each have a watchdog pending for 15 minutes). A
    watchdog that is cancelled (its alarm run ended) is skipped without an event -- unless
    it is the last one waiting, which keeps its place so that a run without ``until`` still
    ends at the same time."""

    __slots__ = ('_env', '_waiting', 'callbacks', 'delay')
    _ok = True

    def __init__(self, env: Any, delay: Ms) -> None:
        self._env = env
        self.delay = delay
        self._waiting: deque[list[Any]] = deque()
        self.callbacks: Any = None

    def start(self, fn: Any, arg: Any) -> list[Any]:
        """Call ``fn(arg)`` once ``delay`` ms have passed; returns a handle for :meth:`cancel`."""
        env = self._env
        entry = [env._now + self.delay, next(env._eid), fn, arg]
        waiting = self._waiting
        waiting.append(entry)
        if len(waiting) == 1:
            self._arm(entry)
        return entry

    @staticmethod
    def cancel(entry: list[Any]) -> None:
        """The watchdog *entry* is no longer needed: ``fn`` will not be called. Its
        argument is let go at once, not when the entry comes due (an alarm run, and what it
        holds, would otherwise stay in memory for the whole limit)."""
        entry[2] = entry[3] = None

    def _arm(self, entry: list[Any]) -> None:
        self.callbacks = (self._due,)
        heappush(self._env._queue, (entry[0], 1, entry[1], self))

    def _due(self, _event: Any) -> None:
        waiting = self._waiting
        _, _, fn, arg = waiting.popleft()
        while len(waiting) > 1 and waiting[0][2] is None:
            waiting.popleft()   # cancelled: it would do nothing when due
        if waiting:   # the next one takes its place first: fn() may start another
            self._arm(waiting[0])
        if fn is not None:
            fn(arg)


class Compute:
    """Marker: the handler keeps the object's thread busy for *ms* of CPU time."""

    __slots__ = ('ms',)

    def __init__(self, ms: Ms) -> None:
        self.ms = ms


class Timer:
    """Marker: a non-storage wait of *ms*; ``gated`` ones (outbound fetches) leave only when
    the output gate is clear."""

    __slots__ = ('gated', 'kind', 'ms')

    def __init__(self, ms: Ms, kind: str, gated: bool) -> None:
        self.ms = ms
        self.kind = kind
        self.gated = gated


def _duration(name: str, ms: Any) -> float:
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms):
        raise TypeError(f'{name} must be a finite number of milliseconds, got {ms!r}')
    if ms < 0:
        raise ValueError(f'{name} must be >= 0, got {ms!r}')
    return float(ms)


def _current_sim() -> Simulation:
    inv = active.invocation
    if inv is not None:
        return inv.actor.sim
    if active.sim is None:
        raise RuntimeError('no simulation is running: call dosim.now() from simulated code')
    return active.sim


def now() -> int:
    """Epoch milliseconds, like ``Date.now()``: ``sim.start_epoch_ms + sim.now``, floored."""
    inv = active.invocation   # _current_sim(), its common case written out
    sim = inv.actor.sim if inv is not None else _current_sim()
    return sim.config.start_epoch_ms + math.floor(sim.env._now)


def compute(ms: float | Checked) -> Compute:
    """CPU work inside a handler: yield it. The thread is busy and CPU time is counted."""
    ms = _duration('compute(ms)', ms)
    if active.invocation is None:
        raise RuntimeError('dosim.compute() is CPU work of an object: call it inside a handler')
    return Compute(ms)


def sleep(ms: float | Checked) -> Any:
    """A timer (``await scheduler.wait(ms)``): yield it. Inside an object the gate opens."""
    ms = _duration('sleep(ms)', ms)
    if active.invocation is None:
        return _current_sim().env.timeout(ms)
    return Timer(ms, 'sleep', gated=False)


def fetch_external(latency_ms: float | Checked = 50.0) -> Any:
    """An outbound ``fetch()`` to a service outside Cloudflare that answers after
    *latency_ms* (round trip). Inside an object it leaves only once the output gate is clear,
    and the input gate is open while it is in flight."""
    ms = _duration('fetch_external(latency_ms)', latency_ms)
    if active.invocation is None:
        return _current_sim().env.timeout(ms)
    return Timer(ms, 'fetch', gated=True)


def stream(name: str | Checked) -> Any:
    """The running simulation's random stream *name* (a ``random.Random``): object code
    draws from it instead of the global ``random`` so that runs replay exactly."""
    if not isinstance(name, str):
        raise TypeError(f'stream(name): name must be a string, got {name!r}')
    return _current_sim().streams.get(name)


def all_settled(events: list[Any] | Checked) -> Any:
    """An event that fires once every one of *events* has succeeded or failed (like
    ``Promise.allSettled``); its value is a list of ``(ok, value_or_error)`` in order.
    Failures are not raised: the caller inspects them."""
    env = _current_sim().env
    results: list[Any] = [None] * len(events)
    done = env.event()
    left = [len(events)]

    def settle(i: int, ev: Any) -> None:
        if not ev.ok:
            ev._defused = True
        results[i] = (ev.ok, ev.value)
        left[0] -= 1
        if left[0] == 0:
            done.succeed(results)

    if not events:
        done.succeed(results)
    for i, ev in enumerate(events):
        if ev.callbacks is None:
            settle(i, ev)
        else:
            ev.callbacks.append(lambda e, i=i: settle(i, e))
    return done
