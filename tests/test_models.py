"""The ready-made models: the agent loop and the multi-event scheduler.

An agent loop's period is its interval plus its cycle's duration: it sets the next alarm at
the end of each cycle. What a failed cycle does to the timing depends on the policy:
swallowing keeps the period; rethrowing hands over to the runtime's retry backoff.
"""

from __future__ import annotations

import itertools

import pytest

import dosim
from dosim.models import AgentLoop, EventScheduler
from tests.conftest import make_sim

HOUR = 3_600_000
# The next alarm is set for floor(Date.now()) + interval at the end of a cycle; it is
# delivered 1-5 ms late; and the object, hibernated in between, reads its flag cold (0.1 ms)
# after its constructor runs. So a period is the interval plus 0.1 to 5.1 ms.
PERIOD_SLACK = 5.1
T0 = dosim.Config().start_epoch_ms


def run_loop(hours=1.0, seed=0, **settings):
    sim = make_sim(seed=seed)
    ns = sim.namespace('AGENTS', AgentLoop.configure(**settings))
    stub = ns.get_by_name('agent-1')

    def start():
        yield stub.start_loop()

    sim.process(start())
    sim.run(until=hours * HOUR)
    return sim, sim.trace.alarms


def test_a_60_s_loop_fires_60_times_an_hour():
    sim, alarms = run_loop()
    assert len(alarms) == 60
    periods = alarms['fired_ms'].diff().dropna()
    assert periods.between(60_000, PERIOD_SLACK + 60_000).all()
    assert sim.storage_of('AGENTS', 'agent-1')['cycles'] == 60


def test_a_5_s_cycle_stretches_the_period_to_65_s():
    _, alarms = run_loop(cycle_cpu_ms=5_000)
    periods = alarms['fired_ms'].diff().dropna()
    assert periods.between(65_000, PERIOD_SLACK + 65_000).all()
    assert len(alarms) == 56   # 3,600 s / 65 s, from t = 0


def test_stop_loop_ends_the_chain():
    sim = make_sim()
    ns = sim.namespace('AGENTS', AgentLoop)
    stub = ns.get_by_name('a')

    def client():
        yield stub.start_loop()
        yield sim.timeout(150_000)
        yield stub.stop_loop()
        return (yield stub.status())

    proc = sim.process(client())
    sim.run(until=HOUR)
    assert proc.value == {'running': False, 'cycles': 3, 'failures': 0}
    assert len(sim.trace.alarms) == 3


def test_swallowed_failures_keep_the_period():
    sim, alarms = run_loop(hours=2, seed=4, failure_rate=0.1, policy='swallow')
    status = sim.storage_of('AGENTS', 'agent-1')
    assert 4 <= status['failures'] <= 25                # about 10 % of 120 cycles
    assert (alarms['outcome'] == 'ok').all()           # the runtime never sees them
    assert alarms['fired_ms'].diff().dropna().between(60_000, 60_000 + PERIOD_SLACK).all()


def test_rethrown_failures_hand_the_timing_to_the_retry_backoff():
    """After a failed attempt the next one comes 2 s (+0..0.5 s) later, after two in a
    row 4 s (+0..1 s): the runtime's backoff. After a success, the loop's own 60 s."""
    sim, alarms = run_loop(hours=3, seed=4, failure_rate=0.1, policy='rethrow')
    assert (alarms['outcome'] == 'error').sum() >= 5
    streak = 0
    rows = list(alarms.itertuples())
    for prev, nxt in itertools.pairwise(rows):
        if prev.outcome == 'ok':
            streak = 0
            assert 60_000 <= nxt.fired_ms - prev.fired_ms <= 60_000 + PERIOD_SLACK
        else:
            streak += 1
            base = 2 ** streak * 1000
            waited = nxt.fired_ms - prev.done_ms
            assert base - 1e-6 <= waited <= base + base // 4 + 1e-6
    # no cycle is lost (each failed one is retried until it succeeds), but each failure
    # delays the whole chain by its backoff gap
    status = sim.storage_of('AGENTS', 'agent-1')
    assert status['cycles'] == (alarms['outcome'] == 'ok').sum()
    assert status['failures'] == (alarms['outcome'] == 'error').sum()


class Recorder(EventScheduler):
    fired: list = []  # noqa: RUF012 - shared on purpose: in-memory state is reset by the runtime

    def on_event(self, event):
        type(self).fired.append((event['id'], event['runAt'], self.ctx.storage._actor.sim.now))
        yield from ()


def test_the_scheduler_fires_every_event_on_time_with_one_alarm():
    sim = make_sim(seed=11)
    cls = type('Rec', (Recorder,), {'fired': []})
    ns = sim.namespace('SCHED', cls)
    stub = ns.get_by_name('s')
    rng = sim.stream('test-events')
    horizon = 6 * HOUR
    expected = []
    checks = []

    def client():
        for i in range(1000):
            run_at = T0 + 1000 * rng.randrange(60, horizon // 1000)   # whole seconds
            repeat = 1000 * rng.randrange(600, 3600) if rng.random() < 0.1 else None
            cancelled = rng.random() < 0.05
            yield stub.add_event(f'e{i}', run_at, repeat)
            if cancelled:
                yield stub.cancel_event(f'e{i}')
                continue
            t = run_at
            while t < T0 + horizon:
                expected.append((f'e{i}', t))
                t = t + repeat if repeat else T0 + horizon
        for _ in range(200):   # probe: the one alarm always points at the earliest event
            yield sim.timeout(rng.uniform(0, horizon / 200))
            checks.append((yield stub.next_alarm()))

    sim.process(client())
    sim.run(until=horizon)
    fired = cls.fired
    assert sorted((e, r) for e, r, _ in fired) == sorted(expected)
    lateness = [now - (run_at - T0) for _, run_at, now in fired]
    assert min(lateness) >= 1.0            # never early (delivery takes >= 1 ms)
    assert max(lateness) <= 5.0 + 1.0      # late only by delivery (<= 5 ms) and reads
    assert len(checks) == 200
    assert all(c['alarm'] == c['earliest'] for c in checks), checks
    assert sum(c['alarm'] is not None for c in checks) > 150


@pytest.mark.parametrize('bad', [
    {'policy': 'ignore'}, {'failure_rate': 2}, {'loop_interval_ms': -1},
])
def test_bad_loop_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        AgentLoop.configure(**bad)
    with pytest.raises(TypeError, match="unknown setting 'speed'"):
        AgentLoop.configure(speed=2)
