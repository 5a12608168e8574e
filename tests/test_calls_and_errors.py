"""Calls into an object, and the errors callers see.

``stub.fetch`` sends a request and yields a :class:`dosim.Response`; ``stub.<method>(...)``
is an RPC call whose value is the method's return value (a copy). An exception the object
does not catch reaches the caller as :class:`dosim.DurableObjectError` with ``remote=True``.
"""

from __future__ import annotations

import pytest

import dosim
from tests.conftest import fire, make_sim, texts


class Service(dosim.DurableObject):
    def fetch(self, request):
        if request.path == '/boom':
            raise ValueError('boom')
        if request.path == '/string':
            return 'not a response'
        return dosim.Response({'method': request.method, 'body': request.text})

    def add(self, a, b):
        return a + b

    def slow_echo(self, value):
        yield dosim.sleep(5)
        value['seen'] = True
        return value

    def fail(self):
        raise PermissionError('nope')

    def _private(self):
        return 'secret'


def test_fetch_carries_method_and_body(sim):
    ns = sim.namespace('S', Service)
    stub = ns.get_by_name('s')
    (out,) = fire(sim, [(0, lambda: stub.fetch('https://do/x', method='post', body='hello'))])
    assert out.json() == {'method': 'POST', 'body': 'hello'}
    assert out.status == 200
    assert out.headers['Content-Type'] == 'application/json'


def test_rpc_returns_the_methods_value(sim):
    ns = sim.namespace('S', Service)
    stub = ns.get_by_name('s')
    arg = {'n': 1}
    out = fire(sim, [(0, lambda: stub.add(2, 3)), (0, lambda: stub.slow_echo(arg))])
    assert out == [5, {'n': 1, 'seen': True}]
    assert arg == {'n': 1}   # arguments travel as copies
    reqs = sim.trace.requests
    assert reqs['kind'].tolist() == ['rpc', 'rpc']
    assert reqs['method'].tolist() == ['add', 'slow_echo']


def test_an_uncaught_exception_reaches_the_caller_as_remote(sim):
    ns = sim.namespace('S', Service)
    stub = ns.get_by_name('s')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/boom')), (5, lambda: stub.fail()),
                     (10, lambda: stub.add(1, 1))])
    boom, fail, ok = out
    assert (boom.message, boom.remote, boom.error_type) == ('boom', True, 'ValueError')
    assert (fail.message, fail.remote, fail.error_type) == ('nope', True, 'PermissionError')
    assert not boom.retryable
    assert not boom.overloaded
    assert ok == 2   # the stub still works, and the object was not reset
    assert sim.trace.requests['incarnation'].tolist() == [1, 1, 1]
    assert sim.trace.requests['status'].tolist() == ['error', 'error', 'ok']


def test_a_rethrown_error_from_another_object_leaves_the_callers_stub_working(sim):
    """A calls B; B resets mid-call, so A's stub to B breaks and A's call raises 'Network
    connection lost.' (retryable). A does not catch it: to A's caller it is an exception
    thrown by A's code -- remote, still retryable -- and A's caller's stub to A keeps
    working, as after any uncaught exception (workerd, data/workerd_observations.md §7)."""
    class Front(Service):
        def relay(self):
            return (yield self.env.BACK.get_by_name('b').slow_echo({}))

    sim.namespace('BACK', Service)
    front = sim.namespace('FRONT', Front)
    stub = front.get_by_name('f')
    sim.faults.reset(3, 'BACK', 'b')          # while slow_echo sleeps
    out = fire(sim, [(0, lambda: stub.relay()), (20, lambda: stub.add(1, 1))])
    assert (out[0].message, out[0].retryable, out[0].remote) == (
        'Network connection lost.', True, True)
    assert out[1] == 2


def test_uncaught_exceptions_can_be_made_to_reset():
    sim = make_sim(reset_on_uncaught_exception=True)
    ns = sim.namespace('S', Service)
    stub = ns.get_by_name('s')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/boom')),
                     (5, lambda: stub.add(1, 1)),                    # the reset broke it
                     (10, lambda: ns.get_by_name('s').add(1, 1))])   # a new stub
    assert out[1].message == 'boom'
    assert out[2] == 2
    assert sim.trace.requests['incarnation'].tolist() == [1, 0, 2]


def test_a_reset_breaks_every_stub_connected_to_the_instance(sim):
    """Not only the stub whose call saw the reset: one that called earlier, and has nothing
    in flight, fails at once too (as workerd does, tests/conformance)."""
    class Abortable(Service):
        def stop(self):
            self.ctx.abort('stopped')

    ns = sim.namespace('A', Abortable)
    earlier, aborter = ns.get_by_name('a'), ns.get_by_name('a')
    out = fire(sim, [(0, lambda: earlier.add(1, 2)), (5, lambda: aborter.stop()),
                     (10, lambda: earlier.add(1, 2))])
    assert out[0] == 3
    assert (out[2].message, out[2].durable_object_reset, out[2].remote) == (
        'stopped', True, False)


def test_a_fetch_handler_must_return_a_response(sim):
    ns = sim.namespace('S', Service)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/string'))])
    assert out.error_type == 'TypeError'
    assert out.message == "Incorrect type for Promise: the Promise did not resolve to 'Response'."


def test_private_and_missing_methods_are_not_callable(sim):
    ns = sim.namespace('S', Service)
    stub = ns.get_by_name('s')
    out = fire(sim, [(0, lambda: stub.nothing_here()), (0, lambda: stub.ctx())])
    assert texts(out) == ['The RPC receiver does not implement the method "nothing_here".',
                          'The RPC receiver does not implement the method "ctx".']
    with pytest.raises(AttributeError):
        stub._private  # noqa: B018 - names starting with _ are never RPC methods


def test_objects_call_each_other_through_env(sim):
    class Front(dosim.DurableObject):
        def fetch(self, request):
            total = yield self.env.BACK.get_by_name('b').add(20, 22)
            return dosim.Response(str(total))

    sim.namespace('BACK', Service)
    ns = sim.namespace('FRONT', Front)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('f').fetch('https://do/'))])
    assert out.text == '42'
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['caller'].tolist() == ['client', 'f']
    # client->front 1 ms, front->back 1 ms, back->front 1 ms, front->client 1 ms
    assert reqs['latency_ms'].tolist() == [4.0, 2.0]


def test_an_unknown_binding_names_the_bindings(sim):
    class Lost(dosim.DurableObject):
        def fetch(self, request):
            self.env.NOPE  # noqa: B018 - the lookup itself is the test
            return dosim.Response('')

    ns = sim.namespace('LOST', Lost)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('l').fetch('https://do/'))])
    assert out.message == "unknown binding 'NOPE' in env (bindings: LOST)"
