"""Alarms: one per object, at least once, retried with backoff from 2 s.

``set_alarm(t)`` (epoch ms) sets or replaces the object's single alarm. Inside ``alarm()``
``get_alarm()`` is ``None`` unless the handler sets a new one; a successful run clears the
alarm unless the handler set a new one. A handler that raises is retried after 2, 4, 8, 16,
32 and 64 s, each plus a jitter of 0..25 % in whole ms; the 7th failure abandons the alarm.
Facts and sources: ``../shared/reference/do-semantics.md`` §4, ``data/workerd_observations.md`` §6.
"""

from __future__ import annotations

import math
from typing import ClassVar

import pytest

import dosim
from tests.conftest import fire, make_sim

T0 = dosim.Config().start_epoch_ms


def epoch(ms: float) -> int:
    return T0 + int(ms)


class Flaky(dosim.DurableObject):
    """Its alarm fails ``fail`` times (counted in storage), recording what it saw."""

    fail = 99
    seen: ClassVar[list] = []

    def fetch(self, request):
        if request.path == '/set':
            self.ctx.storage.set_alarm(epoch(int(request.text)))
        if request.path == '/delete':
            self.ctx.storage.delete_alarm()
        now_alarm = yield self.ctx.storage.get_alarm()
        return dosim.Response(repr(now_alarm))

    def alarm(self, info):
        runs = ((yield self.ctx.storage.get('runs')) or 0) + 1
        self.ctx.storage.put('runs', runs)
        inside = yield self.ctx.storage.get_alarm()
        type(self).seen.append((info.retry_count, info.is_retry, inside))
        if runs <= type(self).fail:
            raise RuntimeError(f'attempt {runs} failed')


def flaky(fail: int):
    return type('FlakyCopy', (Flaky,), {'fail': fail, 'seen': []})


def set_at(sim, ns, at_ms, when=0.0, name='a'):
    return fire(sim, [(when, lambda: ns.get_by_name(name).fetch('https://do/set', method='POST',
                                                                  body=str(at_ms)))])[0]


def test_the_retry_schedule_backs_off_from_2_s_with_bounded_jitter():
    jitters = set()
    for seed in range(5):
        sim = make_sim(seed=seed)
        cls = flaky(fail=99)
        ns = sim.namespace('A', cls)
        set_at(sim, ns, 1000)
        sim.run(until=400_000)
        rows = sim.trace.alarms
        assert rows['retry_count'].tolist() == [0, 1, 2, 3, 4, 5, 6]
        assert rows['is_retry'].tolist() == [False] + [True] * 6
        assert rows['outcome'].tolist() == ['error'] * 6 + ['abandoned']
        assert math.isnan(rows['next_attempt_ms'].iloc[-1])
        for k in range(6):
            gap = 2 ** (k + 1) * 1000
            waited = rows['fired_ms'].iloc[k + 1] - rows['done_ms'].iloc[k]
            jitter = waited - gap
            assert jitter == pytest.approx(round(jitter), abs=1e-6), 'whole milliseconds'
            jitter = round(jitter)
            assert 0 <= jitter <= math.floor(0.25 * gap)
            jitters.add(jitter)
        # after the 7th failure the alarm is gone
        stub = ns.get_by_name('a')
        (out,) = fire(sim, [(0, lambda: stub.fetch('https://do/get'))])  # noqa: B023
        assert out.text == 'None'
        assert cls.seen == [(k, k > 0, None) for k in range(7)]
    assert len(jitters) > 20   # the jitter is drawn, not fixed


def test_get_alarm_before_inside_and_after_a_successful_run(sim):
    cls = flaky(fail=0)
    ns = sim.namespace('A', cls)
    assert set_at(sim, ns, 1000).text == repr(epoch(1000))    # before: the time set
    sim.run(until=2000)
    assert cls.seen == [(0, False, None)]                     # inside: None
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/get'))])
    assert out.text == 'None'                                 # after success: cleared
    assert sim.trace.alarms['outcome'].tolist() == ['ok']


def test_the_original_time_is_visible_between_retries(sim):
    ns = sim.namespace('A', flaky(fail=1))
    set_at(sim, ns, 1000)
    sim.run(until=2000)   # first attempt failed at ~1001-1005; retry ~2 s later
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/get'))])
    assert out.text == repr(epoch(1000))


class Rearming(dosim.DurableObject):
    """Sets a new alarm inside its handler (then may delete it, or fail)."""

    mode = 'rearm'
    seen: ClassVar[list] = []

    def fetch(self, request):
        self.ctx.storage.set_alarm(epoch(1000))
        return dosim.Response('')

    def alarm(self, info):
        st = self.ctx.storage
        now = dosim.now()
        st.set_alarm(now + 5000)
        after_set = yield st.get_alarm()
        type(self).seen.append((round(now - T0), after_set - now))
        if self.mode == 'delete':
            yield st.delete_alarm()
            st.put('finished', True)       # the handler runs on to the end
        if self.mode == 'fail' and len(type(self).seen) == 1:
            raise RuntimeError('fails, but a new alarm was set')


def rearming(mode):
    return type(f'Rearming_{mode}', (Rearming,), {'mode': mode, 'seen': []})


def test_an_alarm_set_inside_the_handler_survives_and_fires(sim):
    cls = rearming('rearm')
    ns = sim.namespace('R', cls)
    fire(sim, [(0, lambda: ns.get_by_name('r').fetch('https://do/'))])
    sim.run(until=12_000)
    assert [delta for _, delta in cls.seen] == [5000, 5000, 5000]
    fired = sim.trace.alarms['fired_ms'].tolist()
    assert 5000 <= fired[1] - fired[0] <= 5000 + 5.0   # its own time, plus delivery


def test_delete_inside_the_handler_does_not_stop_it(sim):
    cls = rearming('delete')
    ns = sim.namespace('R', cls)
    fire(sim, [(0, lambda: ns.get_by_name('r').fetch('https://do/'))])
    sim.run(until=60_000)
    assert len(cls.seen) == 1
    assert sim.storage_of('R', 'r') == {'finished': True}
    assert sim.trace.alarms['outcome'].tolist() == ['ok']


def test_a_new_alarm_set_during_a_failed_run_replaces_the_retry(sim):
    cls = rearming('fail')
    ns = sim.namespace('R', cls)
    fire(sim, [(0, lambda: ns.get_by_name('r').fetch('https://do/'))])
    sim.run(until=20_000)
    rows = sim.trace.alarms
    assert rows['outcome'].tolist()[:2] == ['superseded', 'ok']
    assert rows['retry_count'].tolist()[:2] == [0, 0]      # a fresh alarm, not a retry
    assert 5000 <= rows['fired_ms'].iloc[1] - rows['fired_ms'].iloc[0] <= 5005


def test_setting_again_overrides_and_a_past_time_fires_at_once(sim):
    cls = flaky(fail=0)
    ns = sim.namespace('A', cls)
    set_at(sim, ns, 50_000)
    set_at(sim, ns, -10_000, when=10)        # in the past: clamped to now
    sim.run(until=100_000)
    rows = sim.trace.alarms
    assert len(rows) == 1                    # the first alarm was replaced
    confirmed = sim.trace.requests['arrived_ms'].iloc[1] + 4.0
    fired = rows['fired_ms'].iloc[0]
    assert confirmed + 1 <= fired <= confirmed + 5   # delivery takes 1-5 ms


def test_delete_between_retries_cancels_the_rest(sim):
    ns = sim.namespace('A', flaky(fail=99))
    set_at(sim, ns, 1000)
    fire(sim, [(1500, lambda: ns.get_by_name('a').fetch('https://do/delete'))])
    sim.run(until=400_000)
    assert sim.trace.alarms['outcome'].tolist() == ['error']


def test_an_alarm_wakes_an_object_that_is_not_in_memory(sim):
    built = []

    class Sleeper(dosim.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            built.append(sim.now)

        def fetch(self, request):
            self.ctx.storage.set_alarm(dosim.now() + 10_000)
            yield self.ctx.storage.sync()
            self.ctx.abort('out of memory now')

        def alarm(self, info):
            built.append(('alarm', sim.now))

    ns = sim.namespace('S', Sleeper)
    fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/'))])
    sim.run(until=20_000)
    assert built[0] == 1.0
    assert built[1] == built[2][1]          # constructor first, then alarm, same instant
    assert sim.trace.alarms['incarnation'].tolist() == [2]


def test_at_least_once_when_the_object_resets_mid_handler(sim):
    """The first attempt's write is lost with the reset; the rerun makes it happen once.
    The reset is an infrastructure failure: it does not count toward the six retries."""
    cls = flaky(fail=0)
    ns = sim.namespace('A', cls)
    set_at(sim, ns, 1000)
    sim.faults.fail_next_writes(1, object_name='a')
    sim.run(until=10_000)
    rows = sim.trace.alarms
    assert rows['outcome'].tolist() == ['reset', 'ok']
    assert rows['retry_count'].tolist() == [0, 1]
    assert sim.storage_of('A', 'a') == {'runs': 1}
    waited = rows['fired_ms'].iloc[1] - rows['done_ms'].iloc[0]
    assert 2000 <= waited <= 2500


class SyncThenFail(Flaky):
    """Writes, waits for the write to be confirmed, then raises."""

    def alarm(self, info):
        self.ctx.storage.put('attempt', info.retry_count)
        yield self.ctx.storage.sync()
        raise RuntimeError('always fails')


def test_infrastructure_failures_do_not_count_toward_the_limit(sim):
    ns = sim.namespace('A', SyncThenFail)
    set_at(sim, ns, 1000)
    sim.faults.fail_next_writes(2, object_name='a')   # two resets first
    sim.run(until=1_000_000)
    outcomes = sim.trace.alarms['outcome'].tolist()
    assert outcomes == ['reset', 'reset'] + ['error'] * 6 + ['abandoned']


def test_infrastructure_retries_back_off_up_to_1024_s(sim):
    ns = sim.namespace('A', flaky(fail=0))
    set_at(sim, ns, 1000)
    sim.faults.fail_next_writes(12, object_name='a')
    sim.run(until=20_000_000)
    rows = sim.trace.alarms
    assert rows['outcome'].tolist() == ['reset'] * 12 + ['ok']
    waited = (rows['fired_ms'].iloc[1:].to_numpy() - rows['done_ms'].iloc[:-1].to_numpy())
    bases = [min(2 ** n, 1024) * 1000 for n in range(1, 13)]
    assert bases[-3:] == [1_024_000] * 3
    for gap, base in zip(waited, bases, strict=True):
        assert base <= gap <= base + base // 4 + 1e-6


class Aborter(dosim.DurableObject):
    retry = True

    def fetch(self, request):
        self.ctx.storage.set_alarm(dosim.now() + 1000)
        return dosim.Response('')

    def alarm(self, info):
        yield self.ctx.storage.get('x')
        if info.retry_count == 0:
            self.ctx.abort('abort in alarm', retry_alarm=self.retry)


def test_abort_in_the_handler_means_a_retry(sim):
    ns = sim.namespace('A', Aborter)
    fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/'))])
    sim.run(until=10_000)
    assert sim.trace.alarms['outcome'].tolist() == ['error', 'ok']


def test_abort_with_retry_alarm_false_ends_the_alarm(sim):
    cls = type('NoRetry', (Aborter,), {'retry': False})
    ns = sim.namespace('A', cls)
    fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/'))])
    sim.run(until=100_000)
    assert sim.trace.alarms['outcome'].tolist() == ['error']


def test_alarms_interleave_with_requests_at_non_storage_waits(sim):
    order = []

    class Busy(dosim.DurableObject):
        def fetch(self, request):
            if request.path == '/arm':
                self.ctx.storage.set_alarm(dosim.now() + 100)
                return dosim.Response('')
            order.append(('request', sim.now))
            return dosim.Response('')

        def alarm(self, info):
            order.append(('alarm start', sim.now))
            yield dosim.fetch_external(latency_ms=50)
            order.append(('alarm end', sim.now))

    ns = sim.namespace('B', Busy)
    fire(sim, [(0, lambda: ns.get_by_name('b').fetch('https://do/arm')),
               (120, lambda: ns.get_by_name('b').fetch('https://do/ping'))])
    sim.run(until=1000)
    assert [what for what, _ in order] == ['alarm start', 'request', 'alarm end']


@pytest.mark.parametrize(('value', 'message'), [
    (0, 'setAlarm() cannot be called with an alarm time <= 0'),
    (-5, 'setAlarm() cannot be called with an alarm time <= 0'),
    ('soon', "set_alarm(): the alarm time must be epoch milliseconds or a datetime, got 'soon'"),
])
def test_bad_alarm_times_are_refused(sim, value, message):
    class Bad(dosim.DurableObject):
        def fetch(self, request):
            try:
                self.ctx.storage.set_alarm(value)
            except TypeError as exc:
                return dosim.Response(str(exc))
            return dosim.Response('accepted')

        def alarm(self, info):
            pass

    ns = sim.namespace('B', Bad)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('b').fetch('https://do/'))])
    assert out.text == message


def test_a_class_without_an_alarm_handler_may_set_one_only_in_its_constructor(sim):
    class NoHandler(dosim.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.set_alarm(dosim.now() + 100_000)     # allowed here

        def fetch(self, request):
            try:
                self.ctx.storage.set_alarm(dosim.now() + 1000)
            except TypeError as exc:
                return dosim.Response(str(exc))
            return dosim.Response('accepted')

    ns = sim.namespace('N', NoHandler)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('n').fetch('https://do/'))])
    assert out.text == ('Your Durable Object class must have an alarm() handler in order to '
                        'call setAlarm()')


@pytest.mark.parametrize(('deletes', 'expected'), [(True, 'None'), (False, repr(epoch(50_000)))])
def test_delete_all_deletes_the_alarm_by_default(deletes, expected):
    sim = make_sim(delete_all_deletes_alarm=deletes)

    class Wiper(dosim.DurableObject):
        def fetch(self, request):
            self.ctx.storage.set_alarm(epoch(50_000))
            yield self.ctx.storage.delete_all()
            return dosim.Response(repr((yield self.ctx.storage.get_alarm())))

        def alarm(self, info):
            pass

    ns = sim.namespace('W', Wiper)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('w').fetch('https://do/'))])
    assert out.text == expected


def test_alarm_billing(sim):
    ns = sim.namespace('A', flaky(fail=1))
    set_at(sim, ns, 1000)
    sim.run(until=10_000)
    meters = sim.meters.iloc[0]
    assert meters['requests'] == 1 + 2            # one fetch, two alarm invocations
    # set_alarm: 1 row; each attempt writes 'runs': 2 rows
    assert meters['rows_written'] == 1 + 2


def test_the_handler_wall_time_is_limited_to_15_minutes(sim):
    class Stuck(dosim.DurableObject):
        def fetch(self, request):
            self.ctx.storage.set_alarm(dosim.now() + 1000)
            return dosim.Response('')

        def alarm(self, info):
            if info.retry_count == 0:
                yield dosim.sleep(20 * 60_000)

    ns = sim.namespace('S', Stuck)
    fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/'))])
    sim.run(until=2_000_000)
    rows = sim.trace.alarms
    assert rows['outcome'].tolist() == ['error', 'ok']
    assert rows['done_ms'].iloc[0] - rows['fired_ms'].iloc[0] == 900_000
    assert 'wall-time limit' in rows['error'].iloc[0]


def test_an_attempt_that_ends_lets_go_of_its_wall_time_watchdog(sim):
    """Every attempt starts a 15-minute watchdog; one that ends in time (here a failure,
    then a success) cancels it, and the cancelled watchdog no longer holds the attempt: a
    thousand agents on a one-minute loop would otherwise keep 15,000 finished attempts in
    memory."""
    ns = sim.namespace('F', flaky(1))
    set_at(sim, ns, 1_000)
    sim.run(until=10_000)
    assert [r[:2] for r in ns.cls.seen] == [(0, False), (1, True)]
    # both watchdogs still wait (cancelled ones are skipped when the first comes due) ...
    waiting = list(sim.alarm_watchdogs._waiting)
    assert len(waiting) == 2
    assert [entry[2:] for entry in waiting] == [[None, None], [None, None]]   # ... empty


def test_a_failover_fault_delays_delivery(sim):
    ns = sim.namespace('A', flaky(fail=0))
    sim.faults.alarm_failover(45_000)
    set_at(sim, ns, 1000)
    sim.run(until=100_000)
    fired = sim.trace.alarms['fired_ms'].iloc[0]
    assert 1000 + 45_000 + 1 <= fired <= 1000 + 45_000 + 5
    with pytest.raises(ValueError, match=r'must be 0\.\.60000 ms, got 61000'):
        sim.faults.alarm_failover(61_000)
