"""The :class:`Simulation`: one SimPy environment with a Cloudflare runtime around it.

A simulation owns the clock (milliseconds since start; object code sees epoch milliseconds
through :func:`dosim.now`), every random stream (:mod:`dosim.streams`), the network, the
faults, the namespaces and the trace. Two simulations with the same seed, config and model
produce identical frames.
"""

from __future__ import annotations

import gc
import math
import types
from collections.abc import Generator
from typing import Any

import pandas as pd
import simpy
from simpy.core import BoundClass, EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT, Event, EventPriority, Timeout

from .actor import METERS
from .config import Config
from .context import Lane, Watchdogs, active
from .faults import Faults
from .heap import heappush
from .loop import ran_dry, run_loop
from .namespace import DurableObjectNamespace
from .network import Network
from .object import DurableObject, Env
from .outbox import Outbox
from .streams import Streams
from .trace import Trace

__all__ = ['Environment', 'Simulation']


#: While a simulation runs, Python's cyclic garbage collector looks at new objects after this
#: many allocations instead of after 700: a large simulation keeps hundreds of thousands of
#: long-lived objects, and the default spends a fifth of the run visiting them again and
#: again. Reference counting still frees at once nearly everything a run drops. (100,000
#: rather than 20,000: half the collector's time in a run of 100,000 objects, as fewer
#: short-lived objects -- calls in flight, lifecycle rows -- are visited before they die.)
GC_YOUNG_THRESHOLD = 100_000
#: ... and it looks at the objects that survived that (its middle generation) after this many
#: young collections instead of 10: in ``bench many`` (a million requests) the one middle
#: collection of the default visited every object made since the start, 1.3 s of 63, and
#: found nothing to free. It still comes, every ten million allocations.
GC_MIDDLE_THRESHOLD = 100

_new_timeout = Timeout.__new__


class Environment(simpy.Environment):
    """SimPy's environment with :meth:`run`'s loop written out (:func:`dosim.loop.run_loop`):
    the same steps in the same order as ``while True: self.step()``, without a method call
    per event (a simulation of a million requests processes several million events), and
    its queue pushed and popped by :mod:`dosim.heap`. While it runs, the garbage
    collector's first two thresholds are at least :data:`GC_YOUNG_THRESHOLD` and
    :data:`GC_MIDDLE_THRESHOLD` (restored after)."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        #: the queue entry ``(time, priority, event id, event)`` of the event being (or last)
        #: processed: where "now" is, ties included (see :mod:`dosim.inflight`)
        self.key: tuple[Any, ...] = (initial_time, -1, -1, None)
        #: the latest arrival of a message in flight to a WebSocket client
        self.last_in_flight = -math.inf
        #: the broadcasts' matrices with rows not computed yet (dosim.fanout): their latest
        #: arrival is put in the queue at the latest when it would run dry
        self.unmade: dict[Any, None] = {}
        #: a WebSocket client got a column of broadcasts since the last trim (dosim.fanout)
        self.joined = False
        for name, obj in simpy.Environment.__dict__.items():   # as SimPy does for its own
            if type(obj) is BoundClass:                        # class: env.timeout etc.
                setattr(self, name, getattr(self, name))       # bound once, not per call

    def run(self, until: float | Event | None = None) -> Any:
        """As :meth:`simpy.Environment.run`."""
        if until is not None:
            if not isinstance(until, Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self.now:
                    raise ValueError(
                        f'until ({at}) must be greater than the current simulation time'
                    )
                until = Event(self)
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self.now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        thresholds = gc.get_threshold()
        young, middle, old = thresholds
        raise_it = 0 < young < GC_YOUNG_THRESHOLD
        if raise_it:
            gc.set_threshold(GC_YOUNG_THRESHOLD, max(middle, GC_MIDDLE_THRESHOLD), old)
        try:
            run_loop(self)
        except StopSimulation as exc:
            return exc.args[0]  # == until.value
        except EmptySchedule:
            if until is not None:
                assert not until.triggered
                raise RuntimeError(
                    f'No scheduled events left but "until" event was not triggered: {until}'
                ) from None
        finally:
            if raise_it:
                gc.set_threshold(*thresholds)
        return None

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """As :meth:`simpy.Environment.schedule`, through :func:`dosim.heap.heappush`."""
        heappush(self._queue, (self._now + delay, priority, next(self._eid), event))

    def step(self) -> None:
        """As :meth:`simpy.Environment.step`, keeping :attr:`key` (process one event)."""
        if not self._queue:
            ran_dry(self)
        self.key = self._queue[0]
        super().step()

    def peek(self) -> float:
        """As :meth:`simpy.Environment.peek` (the time of the next event, or infinity)."""
        if not self._queue and self.unmade:
            self._make_unmade()
        return super().peek()

    def _make_unmade(self) -> bool:
        """Compute every broadcast row not computed yet (:meth:`dosim.fanout.Fanout._make`),
        which puts the latest arrival in flight in the queue if it is still to come: whether
        the queue holds anything now."""
        for fan in list(self.unmade):
            fan._make()
        return bool(self._queue)


class Simulation:
    """``Simulation(seed=0, config=None)``: see the module docstring."""

    def __init__(self, seed: int = 0, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        elif not isinstance(config, Config):
            raise TypeError(f'config must be a dosim.Config, got {type(config).__name__}')
        self.config = config
        self.seed = seed
        self.streams = Streams(seed)
        self.env = Environment()
        self.trace = Trace(config.trace_level, self.env)
        # every alarm run's wall-time limit (see dosim.alarms)
        self.alarm_watchdogs = Watchdogs(self.env, config.alarm_wall_limit_ms)
        # timers that mostly come due in the order they are set (see dosim.context.Lane)
        self.hibernate_timers = Lane(self.env)
        self.alarm_timers = Lane(self.env)
        self._hibernate_reason = f'idle and hibernatable for {config.hibernate_after_ms / 1000:g} s'
        self.network = Network(self)
        self.outbox = self.network._outbox = Outbox(self)
        self.faults = self.network._faults = Faults(self)
        self.namespaces: dict[str, DurableObjectNamespace] = {}
        self.bindings = Env(self)
        self._request_ids = 0
        self._stubs = 0

    # -- the clock ----------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated milliseconds since the start."""
        return self.env.now

    @property
    def start_epoch_ms(self) -> int:
        """The wall clock (epoch ms) at simulated time 0."""
        return self.config.start_epoch_ms

    def timeout(self, ms: float, value: Any = None) -> simpy.Timeout:
        """A SimPy timeout of *ms* milliseconds."""
        if (type(ms) is float or type(ms) is int) and ms >= 0:
            # env.timeout(ms, value), written out (Timeout.__init__ and env.schedule): a
            # client process makes one per step
            env = self.env
            timeout = _new_timeout(Timeout)
            timeout.env = env
            timeout.callbacks = []
            timeout._value = value
            timeout._delay = ms
            timeout._ok = True
            heappush(env._queue, (env._now + ms, NORMAL, next(env._eid), timeout))
            return timeout
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms >= 0:
            raise ValueError(f'timeout(ms): a number of milliseconds >= 0, got {ms!r}')
        return self.env.timeout(ms, value)

    def process(self, generator: Generator[Any, Any, Any]) -> simpy.Process:
        """Start a client process (a generator yielding SimPy events, stub calls ...)."""
        if not isinstance(generator, types.GeneratorType):
            raise TypeError(
                f'process() needs a generator (call your generator function), got {generator!r}'
            )
        return self.env.process(generator)

    def run(self, until: float | simpy.Event | None = None) -> Any:
        """Run until a time in ms, until an event fires, or until nothing is left to do."""
        bad_time = isinstance(until, bool) or not isinstance(until, (int, float)) \
            or not until > self.env.now
        if until is not None and not isinstance(until, simpy.Event) and bad_time:
            raise ValueError(f'run(until): a time in ms after now ({self.env.now:g}) or an '
                             f'event, got {until!r}')
        prev, active.sim = active.sim, self
        try:
            return self.env.run(until=until)
        finally:
            active.sim = prev

    def stream(self, name: str) -> Any:
        """The simulation's random stream *name* (a ``random.Random``). ``'network'`` is
        the network's own (its latency draws, :class:`~dosim.streams.Uniforms`) and is
        refused: pick a name of your own, such as ``'workload'``."""
        return self.streams.get(name)

    # -- the model ----------------------------------------------------------------------------
    def namespace(self, binding: str, cls: type[DurableObject], storage: str = 'sqlite',
                  unique_key: str | None = None) -> DurableObjectNamespace:
        """Declare the objects of class *cls*, bound as *binding* (``self.env.<binding>``);
        *storage* is ``'sqlite'`` (the default backend) or ``'kv'`` (legacy). *unique_key*
        is the namespace's identity, from which its ids derive: the binding name by default
        (Miniflare uses ``'<worker name>-<class name>'``)."""
        if not isinstance(binding, str) or not binding.isidentifier():
            raise ValueError(f'namespace(binding): binding must be an identifier, got {binding!r}')
        if binding in self.namespaces:
            raise ValueError(f'namespace(binding): {binding!r} is already bound')
        if not (isinstance(cls, type) and issubclass(cls, DurableObject)):
            raise TypeError(f'namespace(cls): cls must subclass dosim.DurableObject, got {cls!r}')
        ns = DurableObjectNamespace(self, binding, cls, storage, unique_key)
        self.namespaces[binding] = ns
        return ns

    def next_request_id(self) -> int:
        self._request_ids += 1
        return self._request_ids

    # -- results ------------------------------------------------------------------------------
    @property
    def meters(self) -> pd.DataFrame:
        """Billing meters: one row per object ever addressed, one column per meter
        (requests, cpu_ms, rows_read, rows_written, read_units, write_units,
        delete_requests, ws_messages_in, duration_gb_s -- up to now), and billed_requests:
        requests plus incoming WebSocket messages at 20:1."""
        rows = []
        for ns in self.namespaces.values():
            for actor in ns.actors.values():
                values = dict(actor.meters)
                values['duration_gb_s'] += actor.lifecycle.open_gb_s()
                rows.append((ns.binding, actor.label, *(values[m] for m in METERS)))
        frame = pd.DataFrame(rows, columns=['namespace', 'object', *METERS])
        # DOC pricing: incoming WebSocket messages are billed as requests at 20:1
        frame['billed_requests'] = frame['requests'] + frame['ws_messages_in'] / 20
        return frame

    def storage_of(self, namespace: str, name_or_id: Any) -> dict[str, Any]:
        """The confirmed storage of one object, as a dict in key order (for inspection)."""
        from .values import clone_out

        ns = self.namespaces[namespace]
        oid = ns.id_from_name(name_or_id) if isinstance(name_or_id, str) else name_or_id
        actor = ns.actors.get(str(oid))
        if actor is None:
            return {}
        return {k: clone_out(actor.store.data[k]) for k in sorted(actor.store.data)}
