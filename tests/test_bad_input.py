"""Bad input: every public entry point refuses it with an error naming the parameter and value.

And a user's handler that fails -- raises, returns the wrong type, yields something that is
not an event, is not callable -- never crashes the simulation: the caller gets the error, the
trace records it, and the run goes on.
"""

from __future__ import annotations

import pytest

import dosim
from tests.conftest import fire, make_sim


class Plain(dosim.DurableObject):
    def fetch(self, request):
        return dosim.Response('ok')


@pytest.mark.parametrize(('call', 'error', 'message'), [
    (lambda: dosim.Simulation(seed='7'), TypeError, "seed must be an int, got '7'"),
    (lambda: dosim.Simulation(config={'cpu_limit_ms': 5}), TypeError,
     'config must be a dosim.Config, got dict'),
    (lambda: dosim.Config(cpu_limit_ms=-5), ValueError,
     'Config.cpu_limit_ms must be a finite number >= 0, got -5'),
    (lambda: dosim.Config.from_dict({'cpu_limit': 5}), TypeError,
     "unknown Config field 'cpu_limit'"),
    (lambda: dosim.sleep(-1), ValueError, 'sleep(ms) must be >= 0, got -1'),
    (lambda: dosim.sleep('1'), TypeError,
     "sleep(ms) must be a finite number of milliseconds, got '1'"),
    (lambda: dosim.fetch_external(latency_ms=float('nan')), TypeError,
     'fetch_external(latency_ms) must be a finite number of milliseconds, got nan'),
    (lambda: dosim.Request(42), TypeError, 'url must be a string, got 42'),
    (lambda: dosim.Response(status=700), ValueError,
     'status must be an int from 101 to 599, got 700'),
    (lambda: dosim.Response(body=object()), TypeError, 'body must be str, bytes, None or JSON'),
])
def test_constructors_and_helpers(call, error, message):
    with pytest.raises(error, match=message.replace('(', r'\(').replace(')', r'\)')
                       .replace('.', r'\.')):
        call()


def test_simulation_entry_points(sim):
    with pytest.raises(ValueError, match=r'timeout\(ms\): a number of milliseconds >= 0, got -3'):
        sim.timeout(-3)
    with pytest.raises(ValueError, match=r'run\(until\): a time in ms after now \(0\)'):
        sim.run(until=-1)
    with pytest.raises(TypeError, match=r'process\(\) needs a generator'):
        sim.process(lambda: None)
    with pytest.raises(ValueError, match=r"namespace\(binding\): binding must be an identifier, "
                                         r"got 'no spaces'"):
        sim.namespace('no spaces', Plain)
    with pytest.raises(TypeError, match=r'namespace\(cls\): cls must subclass dosim.DurableObject'):
        sim.namespace('X', object)
    with pytest.raises(ValueError, match=r"storage must be 'sqlite' or 'kv', got 'redis'"):
        sim.namespace('X', Plain, storage='redis')
    ns = sim.namespace('P', Plain)
    with pytest.raises(ValueError, match=r"namespace\(binding\): 'P' is already bound"):
        sim.namespace('P', Plain)
    with pytest.raises(TypeError, match=r'id_from_name\(name\): name must be a string, got 5'):
        ns.id_from_name(5)
    with pytest.raises(TypeError, match=r"get\(id\): id must be a DurableObjectId, got 'abc'"):
        ns.get('abc')
    with pytest.raises(ValueError, match=r"unknown location hint 'moon'"):
        ns.get_by_name('x', 'moon')
    with pytest.raises(ValueError, match=r'fail_next_writes\(count\): count must be an int >= 1'):
        sim.faults.fail_next_writes(0)


def test_bad_calls_inside_an_object_reach_the_caller(sim):
    class Careless(dosim.DurableObject):
        def fetch(self, request):
            what = request.path
            if what == '/wait-until':
                self.ctx.wait_until(5)
            elif what == '/bcw':
                self.ctx.block_concurrency_while(5)
            elif what == '/compute':
                yield dosim.compute(-2)
            elif what == '/list':
                yield self.ctx.storage.list(prefix=3)
            elif what == '/env':
                self.env.MISSING  # noqa: B018
            elif what == '/send':
                dosim.WebSocketPair()[1].send(5)
            return dosim.Response('unreachable')

    ns = sim.namespace('C', Careless)
    paths = ['/wait-until', '/bcw', '/compute', '/list', '/env', '/send']
    out = fire(sim, [(0, lambda p=p: ns.get_by_name('c').fetch('https://do' + p)) for p in paths])
    assert [o.message for o in out] == [
        'wait_until(event): expected a SimPy event or a dosim.sleep(), got 5',
        'block_concurrency_while(fn): fn must be callable, got 5',
        'compute(ms) must be >= 0, got -2',
        'storage.list(): prefix must be a string, got 3',
        "unknown binding 'MISSING' in env (bindings: C)",
        'WebSocket messages are str or bytes, got int',
    ]
    assert all(o.remote for o in out)
    assert (sim.trace.requests['status'] == 'error').sum() == len(paths)


def test_broken_handlers_never_crash_the_simulation(sim):
    class Broken(dosim.DurableObject):
        fetch = 42

        def rpc_loop(self):
            while True:                      # loops forever in simulated time
                yield dosim.sleep(1000)

    ns = sim.namespace('B', Broken)
    out = fire(sim, [(0, lambda: ns.get_by_name('b').fetch('https://do/'))])
    assert out[0].message == 'Broken.fetch is not callable: 42'
    stub = ns.get_by_name('b')
    never = stub.rpc_loop()
    sim.run(until=60_000)                    # the run ends; the call is simply still pending
    assert not never.triggered
    assert sim.now == 60_000


def test_an_unserialisable_rpc_argument_names_the_method():
    sim = make_sim()
    ns = sim.namespace('P', Plain)
    with pytest.raises(TypeError, match=r'store\(\) argument: value of type function could not be'):
        ns.get_by_name('p').store(lambda: 1)
