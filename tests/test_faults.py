"""Injected faults and what each visibly does; the client retry helper.

Every fault is scheduled at a simulated time (or drawn at a rate from the seeded 'faults'
stream), appears in ``sim.trace.faults``, and replays identically with the same seed.
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

import dosim
from tests.conftest import fire, make_sim, texts

LOST = 'Network connection lost.'


class Work(dosim.DurableObject):
    """/slow sleeps 5 s (then, with ?write, writes); /read reads a key; else answers."""

    def fetch(self, request):
        if request.path == '/slow':
            yield dosim.sleep(int(request.text or 5000))
            if 'write' in request.url:
                self.ctx.storage.put('after', True)
        if request.path == '/read':
            yield self.ctx.storage.get(f'k{dosim.now()}')
        return dosim.Response(f'inc {self.ctx.storage._actor.incarnation}')


def test_a_reset_fails_the_calls_in_progress_with_a_retryable_error(sim):
    ns = sim.namespace('W', Work)
    sim.faults.reset(3000, 'W', 'w')
    out = fire(sim, [(0, lambda: ns.get_by_name('w').fetch('https://do/slow')),
                     (4000, lambda: ns.get_by_name('w').fetch('https://do/'))])
    assert texts(out) == [LOST, 'inc 2']
    assert out[0].retryable
    assert sim.trace.faults[['time_ms', 'kind', 'target']].values.tolist() == [
        [3000.0, 'reset', 'w']]


def test_a_datacenter_failure_resets_only_the_objects_placed_there(sim):
    ns = sim.namespace('W', Work)
    sim.faults.datacenter_failure(3000, 'IAD')
    out = fire(sim, [
        (0, lambda: ns.get_by_name('us', client_location='IAD').fetch('https://do/slow')),
        (0, lambda: ns.get_by_name('eu', client_location='LHR').fetch('https://do/slow')),
    ])
    assert texts(out) == [LOST, 'inc 1']
    assert sim.trace.faults['detail'].tolist() == ['1 objects']


def test_alarms_rerun_after_a_datacenter_failure(sim):
    class Alarmed(dosim.DurableObject):
        def fetch(self, request):
            self.ctx.storage.set_alarm(dosim.now() + 1000)
            return dosim.Response('')

        def alarm(self, info):
            yield dosim.sleep(2000)

    ns = sim.namespace('A', Alarmed)
    fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/'))])
    sim.faults.datacenter_failure(2000, 'IAD')
    sim.run(until=20_000)
    assert sim.trace.alarms['outcome'].tolist() == ['reset', 'ok']


class Room(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.incarnation = ctx.storage._actor.incarnation

    def fetch(self, request):
        if request.headers.get('Upgrade') == 'websocket':
            client, server = dosim.WebSocketPair()
            self.ctx.accept_websocket(server)
            return dosim.Response(status=101, web_socket=client)
        yield dosim.sleep(int(request.text))
        if 'write' in request.url:
            yield self.ctx.storage.put('x', 1)
        return dosim.Response(f'inc {self.incarnation}')


def test_a_deploy_closes_sockets_and_gives_running_requests_30_s(sim):
    ns = sim.namespace('R', Room)
    closed = []

    def socket_user():
        ws = yield from dosim.connect_websocket(ns.get_by_name('r'))
        try:
            yield ws.receive()
        except dosim.WebSocketClosedError as exc:
            closed.append((exc.code, exc.reason))

    sim.process(socket_user())
    sim.faults.deploy(1000, 'R')

    def post(body, path='/'):
        return lambda: ns.get_by_name('r').fetch('https://do' + path, method='POST', body=body)

    out = fire(sim, [
        (500, post('5000')),                 # finishes within the grace, no storage: ok
        (500, post('40000')),                # runs past the 30 s grace: stopped
        (2000, post('0')),                   # after the deploy: a new instance
    ])
    assert texts(out) == [
        'inc 1',
        'Grace period complete: the old instance of this Durable Object was stopped.',
        'inc 2',
    ]
    assert closed == [(1012, 'Durable Object reset because its code was updated.')]
    assert sim.trace.requests.sort_values('request_id')['incarnation'].tolist() == [1, 1, 1, 2]


def test_storage_access_during_the_grace_stops_the_old_instance(sim):
    """The old instance must not touch storage once a new one exists (global uniqueness):
    the request that tries is stopped, and with it whatever else still runs there."""
    ns = sim.namespace('R', Room)
    sim.faults.deploy(1000, 'R')

    def post(body, path='/'):
        return lambda: ns.get_by_name('r').fetch('https://do' + path, method='POST', body=body)

    out = fire(sim, [(500, post('5000', '/?write')), (500, post('8000'))])
    assert texts(out) == ['Durable Object reset because its code was updated.'] * 2
    assert sim.storage_of('R', 'r') == {}


def test_a_storage_latency_spike_slows_reads(sim):
    ns = sim.namespace('W', Work)
    sim.faults.storage_latency_spike(1000, 2000, 50.0)
    out = fire(sim, [(t, lambda: ns.get_by_name('w').fetch('https://do/read'))
                     for t in (0, 1500, 2500)])
    assert texts(out) == ['inc 1'] * 3
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['handler_ms'].tolist() == pytest.approx([0.1, 50.1, 0.1])


def test_a_latency_spike_slows_messages_to_and_from_a_place(sim):
    ns = sim.namespace('W', Work)
    sim.faults.latency_spike(1000, 2000, 100.0, 'IAD')
    fire(sim, [(t, lambda: ns.get_by_name('w').fetch('https://do/')) for t in (0, 1500, 2500)])
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['network_ms'].tolist() == [2.0, 202.0, 2.0]


def test_a_partition_fails_calls_until_it_heals(sim):
    ns = sim.namespace('W', Work)
    ns.get_by_name('eu', 'weur')   # placed in Europe by its first get()
    sim.faults.partition(1000, 5000, 'enam', 'weur')
    stub = ns.get_by_name('eu')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/')),
                     (2000, lambda: stub.fetch('https://do/')),
                     (3000, lambda: stub.fetch('https://do/')),                  # broken stub
                     (6000, lambda: ns.get_by_name('eu').fetch('https://do/'))])  # healed
    assert texts(out) == ['inc 1', LOST, LOST, 'inc 1']
    assert out[1].retryable
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['latency_ms'].iloc[2] == 0.0     # the broken stub failed at once


def test_the_retry_helper_backs_off_with_a_new_stub_each_time():
    sim = make_sim()
    ns = sim.namespace('W', Work)
    ns.get_by_name('eu', 'weur')
    sim.faults.partition(0, 250, 'enam', 'weur')
    stubs = []

    def make():
        stubs.append(ns.get_by_name('eu'))
        return stubs[-1]

    def client():
        return (yield from dosim.call_with_retry(make, lambda s: s.fetch('https://do/'),
                                                 attempts=5))

    proc = sim.process(client())
    sim.run()
    assert proc.value.text == 'inc 1'
    sent = sim.trace.requests.sort_values('request_id')['sent_ms'].tolist()
    assert len(sent) == len(stubs) >= 2
    assert len({id(s) for s in stubs}) == len(stubs)          # a new stub every attempt
    for k in range(1, len(sent)):
        waited = sent[k] - sent[k - 1]
        trip = sim.network.base_ms('IAD', sim.network.where(next(iter(ns.actors.values()))))
        assert 0 <= waited - trip <= min(20_000, 100 * 2 ** k) + 1e-6


def test_the_retry_helper_never_retries_overload():
    sim = make_sim(overload_max_queued=0)
    ns = sim.namespace('W', Work)
    calls = []

    def client():
        try:
            yield from dosim.call_with_retry(lambda: calls.append(1) or ns.get_by_name('w'),
                                             lambda s: s.fetch('https://do/'))
        except dosim.DurableObjectError as exc:
            return exc.overloaded

    proc = sim.process(client())
    sim.run()
    assert proc.value is True
    assert calls == [1]


def test_faults_as_data_with_named_errors(sim):
    sim.namespace('W', Work)
    sim.faults.apply([{'kind': 'reset', 'at_ms': 10, 'namespace': 'W', 'name': 'w'},
                      {'kind': 'latency_spike', 'start_ms': 0, 'end_ms': 5, 'extra_ms': 3}])
    with pytest.raises(ValueError, match=r"faults\[0\]\.kind: unknown fault 'meteor'"):
        sim.faults.apply([{'kind': 'meteor'}])
    with pytest.raises(ValueError, match=r'faults\[0\] \(partition\): .*unknown data centre '
                                         r"or region 'mars'"):
        sim.faults.apply([{'kind': 'partition', 'start_ms': 0, 'end_ms': 1, 'a': 'IAD',
                           'b': 'mars'}])
    with pytest.raises(ValueError, match=r'faults\[0\] \(reset\): .*at_ms must be a number'):
        sim.faults.apply([{'kind': 'reset', 'at_ms': -1, 'namespace': 'W', 'name': 'w'}])


def random_fault_run(seed):
    sim = dosim.Simulation(seed=seed)
    ns = sim.namespace('W', Work)
    sim.faults.inject_random('reset', rate_per_hour=600, until_ms=120_000)
    sim.faults.inject_random('latency_spike', rate_per_hour=60, until_ms=120_000,
                             extra_ms=50.0, duration_ms=5_000)
    rng = sim.stream('workload')

    def client():
        for _ in range(200):
            yield sim.timeout(rng.expovariate(1 / 500))
            stub = ns.get_by_name(f'w{rng.randrange(5)}')
            with contextlib.suppress(dosim.DurableObjectError):
                yield stub.fetch('https://do/slow', method='POST', body='200')

    sim.process(client())
    sim.run()
    return sim


def test_a_random_fault_run_replays_identically():
    a, b = random_fault_run(8), random_fault_run(8)
    for name in ('events', 'requests', 'lifecycle', 'faults'):
        pd.testing.assert_frame_equal(getattr(a.trace, name), getattr(b.trace, name))
    assert (a.trace.faults['kind'] == 'reset').sum() > 5
    assert (a.trace.requests['error'] == LOST).sum() > 0
