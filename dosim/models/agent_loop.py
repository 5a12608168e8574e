"""The agent loop: an object that wakes itself with its alarm, forever.

The TypeScript it mirrors::

    async startLoop() { await storage.put('loopRunning', true); await storage.setAlarm(Date.now()) }
    async stopLoop()  { await storage.put('loopRunning', false); await storage.deleteAlarm() }
    async alarm() {
      if (!(await storage.get('loopRunning'))) return
      try { await this.runCycle() } catch (e) { /* policy 'swallow' */ }
      await storage.setAlarm(Date.now() + config.loopIntervalMs)
    }

The period is the interval *plus* the cycle's own duration, because the next alarm is set at
the end of the cycle: 60 s with a 5 s cycle gives a 65 s period.

What happens when a cycle fails is the interesting choice:

* ``'swallow'`` catches the error; the reschedule at the end still runs, the chain keeps its
  period and the failed cycle is simply lost;
* ``'rethrow'`` lets the error escape ``alarm()``: the reschedule is skipped and the runtime's
  retry backoff takes over (2 s, 4 s, ... plus jitter), so a failure shifts the whole chain by
  a couple of seconds, and a run of failures by much more -- but the cycle is retried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from ..context import compute, now, stream
from ..http import Response
from ..object import DurableObject

__all__ = ['AgentLoop', 'CycleFailedError', 'LoopSettings']

POLICIES = ('swallow', 'rethrow')


class CycleFailedError(RuntimeError):
    """A simulated failure of one cycle (drawn with ``failure_rate``)."""


@dataclass(frozen=True)
class LoopSettings:
    """``loop_interval_ms`` between the end of one cycle and the next; each cycle uses
    ``cycle_cpu_ms`` of CPU and fails with probability ``failure_rate``; ``policy`` is
    ``'swallow'`` or ``'rethrow'`` (see the module docstring)."""

    loop_interval_ms: float = 60_000.0
    cycle_cpu_ms: float = 0.0
    failure_rate: float = 0.0
    policy: str = 'swallow'

    def __post_init__(self) -> None:
        for name in ('loop_interval_ms', 'cycle_cpu_ms'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f'LoopSettings.{name} must be a number >= 0, got {value!r}')
        if not 0 <= self.failure_rate <= 1:
            raise ValueError(f'LoopSettings.failure_rate must be 0..1, got {self.failure_rate!r}')
        if self.policy not in POLICIES:
            raise ValueError(f'LoopSettings.policy must be one of {POLICIES}, got {self.policy!r}')


class AgentLoop(DurableObject):
    """An agent woken by its alarm every ``settings.loop_interval_ms``.

    RPC: ``start_loop()``, ``stop_loop()``, ``status()``; HTTP: ``/start``, ``/stop``,
    ``/status``. Storage: ``loopRunning``, ``cycles`` (completed), ``failures``. Override
    :meth:`run_cycle` (a generator) to give the agent real work.
    """

    settings = LoopSettings()

    @classmethod
    def configure(cls, **settings: Any) -> type[AgentLoop]:
        """A subclass with these :class:`LoopSettings` (unknown names are refused)."""
        known = {f.name for f in dataclasses.fields(LoopSettings)}
        for name in settings:
            if name not in known:
                raise TypeError(f'AgentLoop.configure(): unknown setting {name!r}')
        merged = dataclasses.replace(cls.settings, **settings)
        return type(cls.__name__, (cls,), {'settings': merged})

    # -- control --------------------------------------------------------------------------
    def start_loop(self) -> Generator[Any, Any, str]:
        st = self.ctx.storage
        yield st.put('loopRunning', True)
        yield st.set_alarm(now())
        return 'started'

    def stop_loop(self) -> Generator[Any, Any, str]:
        st = self.ctx.storage
        yield st.put('loopRunning', False)
        yield st.delete_alarm()
        return 'stopped'

    def status(self) -> Generator[Any, Any, dict[str, Any]]:
        got = yield self.ctx.storage.get(['loopRunning', 'cycles', 'failures'])
        return {'running': bool(got.get('loopRunning')), 'cycles': got.get('cycles', 0),
                'failures': got.get('failures', 0)}

    def fetch(self, request: Any) -> Generator[Any, Any, Response]:
        routes = {'/start': self.start_loop, '/stop': self.stop_loop, '/status': self.status}
        handler = routes.get(request.path)
        if handler is None:
            return Response('not found', status=404)
        result = yield from handler()
        return Response(result if isinstance(result, str) else dict(result))

    # -- the loop -------------------------------------------------------------------------
    def run_cycle(self) -> Generator[Any, Any, None]:
        """One cycle of work: CPU time, and a simulated failure now and then."""
        cfg = self.settings
        if cfg.cycle_cpu_ms:
            yield compute(cfg.cycle_cpu_ms)
        if cfg.failure_rate and stream('agent_loop').random() < cfg.failure_rate:
            raise CycleFailedError('cycle failed')

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        if not (yield st.get('loopRunning')):
            return
        try:
            yield from self.run_cycle()
            st.put('cycles', ((yield st.get('cycles')) or 0) + 1)
        except CycleFailedError:
            st.put('failures', ((yield st.get('failures')) or 0) + 1)
            if self.settings.policy == 'rethrow':
                raise
        yield st.set_alarm(now() + self.settings.loop_interval_ms)
