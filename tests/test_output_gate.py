"""The output gate: nothing leaves an object before the writes issued before it are confirmed.

A ``put()`` returns at once -- the handler need not wait -- but the *response* is held until
the write is confirmed durable (``Config.write_confirm_ms_sqlite``, 4 ms by default). So a
client is never told "done" about a write that could still be lost. Outbound fetches and calls
to other objects wait at the same gate.
"""

from __future__ import annotations

import dosim
from tests.conftest import fire, make_sim, texts


class Writer(dosim.DurableObject):
    def fetch(self, request):
        if request.path == '/write':
            self.ctx.storage.put('k', 'v')
        return dosim.Response('ok')


def test_a_write_delays_the_response_by_exactly_one_confirmation(sim):
    ns = sim.namespace('W', Writer)
    a, b = ns.get_by_name('a'), ns.get_by_name('b')
    fire(sim, [(0, lambda: a.fetch('https://do/read')), (0, lambda: b.fetch('https://do/write'))])
    reqs = sim.trace.requests.set_index('object')
    confirm = sim.config.write_confirm_ms_sqlite
    assert reqs.loc['b', 'latency_ms'] - reqs.loc['a', 'latency_ms'] == confirm == 4.0
    assert reqs.loc['b', 'gate_ms'] == confirm
    assert reqs.loc['a', 'gate_ms'] == 0.0


def test_the_kv_backend_has_its_own_confirmation_latency():
    sim = make_sim(write_confirm_ms_kv=12.5)
    ns = sim.namespace('W', Writer, storage='kv')
    stub = ns.get_by_name('a')
    fire(sim, [(0, lambda: stub.fetch('https://do/write'))])
    assert sim.trace.requests['gate_ms'].tolist() == [12.5]


class FetchAfterWrite(dosim.DurableObject):
    def fetch(self, request):
        self.ctx.storage.put('k', 1)
        t0 = sim_now(self)
        yield dosim.fetch_external(latency_ms=20)
        return dosim.Response(f'{t0} {sim_now(self)}')


def sim_now(obj):
    return dosim.now() - obj.ctx.storage._actor.sim.start_epoch_ms


def test_an_outbound_fetch_waits_for_earlier_writes(sim):
    """The fetch leaves only after the 4 ms confirmation: back 24 ms after it was made."""
    ns = sim.namespace('F', FetchAfterWrite)
    stub = ns.get_by_name('f')
    (out,) = fire(sim, [(0, lambda: stub.fetch('https://do/'))])
    assert out.text == '1 25'


class Caller(dosim.DurableObject):
    def fetch(self, request):
        self.ctx.storage.put('sent', True)
        resp = yield self.env.TARGET.get_by_name('t').fetch('https://do/hello')
        return dosim.Response('target said ' + resp.text)


class Target(dosim.DurableObject):
    def fetch(self, request):
        return dosim.Response(f'hi at {sim_now(self)}')


def test_a_call_to_another_object_waits_for_earlier_writes(sim):
    sim.namespace('TARGET', Target)
    ns = sim.namespace('CALLER', Caller)
    stub = ns.get_by_name('c')
    (out,) = fire(sim, [(0, lambda: stub.fetch('https://do/'))])
    # arrives at the caller at 1, its write confirms at 5, the call lands at 6
    assert out.text == 'target said hi at 6'


class Crashy(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.memory = 'warm'

    def fetch(self, request):
        if request.path == '/write':
            self.ctx.storage.put('a', 1)
            self.ctx.storage.put('b', 2)
            return dosim.Response('written')
        got = yield self.ctx.storage.get(['a', 'b'])
        return dosim.Response(f'{sorted(got.items())} {getattr(self, "memory", None)}')


def test_a_failed_write_resets_the_object_and_no_response_confirms_it(sim):
    ns = sim.namespace('X', Crashy)
    stub = ns.get_by_name('x')
    sim.faults.fail_next_writes(1)
    out = fire(sim, [(0, lambda: stub.fetch('https://do/write'))])
    assert isinstance(out[0], dosim.DurableObjectError)
    assert out[0].retryable
    assert not out[0].remote
    assert sim.storage_of('X', 'x') == {}  # the whole batch was lost, never half of it
    fresh = ns.get_by_name('x')
    out = fire(sim, [(0, lambda: fresh.fetch('https://do/read'))])
    assert texts(out) == ['[] warm']  # a new incarnation, constructed again
    life = sim.trace.lifecycle
    assert life['incarnation'].tolist() == [1, 1, 2, 2]
    assert life['state'].tolist() == ['active', 'evicted', 'active', 'idle_hibernatable']


def test_a_failed_write_fails_every_response_waiting_at_the_gate(sim):
    """A read-only request that finished while the write was unconfirmed fails too."""
    ns = sim.namespace('X', Crashy)
    stub = ns.get_by_name('x')
    sim.faults.fail_next_writes(1)
    out = fire(sim, [(0, lambda: stub.fetch('https://do/write')),
                     (0.5, lambda: ns.get_by_name('x').fetch('https://do/read'))])
    assert all(isinstance(o, dosim.DurableObjectError) for o in out)
