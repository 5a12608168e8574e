"""Ids and stubs.

An id is 64 hex digits. ``id_from_name`` is deterministic within a namespace and differs
between namespaces; ``new_unique_id`` draws from the simulation's seeded ``'ids'`` stream;
``id_from_string`` refuses malformed ids and ids of another namespace. Calls on one stub
arrive in the order they were made (E-order).
"""

from __future__ import annotations

import re

import pytest

import dosim


class Log(dosim.DurableObject):
    def fetch(self, request):
        seen = (yield self.ctx.storage.get('seen')) or []
        seen.append(request.path)
        self.ctx.storage.put('seen', seen)
        return dosim.Response(','.join(seen))


def test_ids_from_names_are_deterministic_per_namespace():
    a, b = dosim.Simulation(seed=1), dosim.Simulation(seed=2)
    ns_a, ns_b = a.namespace('A', Log), b.namespace('A', Log)
    other = a.namespace('B', Log)
    one = ns_a.id_from_name('room-1')
    assert re.fullmatch(r'[0-9a-f]{64}', str(one))
    assert str(one) == str(ns_b.id_from_name('room-1'))      # any seed, any run
    assert one == ns_a.id_from_name('room-1')
    assert str(one) != str(ns_a.id_from_name('room-2'))
    assert str(one) != str(other.id_from_name('room-1'))    # namespaces differ


def test_ids_are_built_as_workerd_builds_them():
    """Miniflare keys a namespace by '<worker name>-<class name>'; for a worker with no name
    and a class X, workerd gave this id for the name 'x' (data/workerd_observations.md §10)."""
    ns = dosim.Simulation().namespace('X', Log, unique_key='-X')
    assert str(ns.id_from_name('x')) == (
        '9394bea44ab0f31fb6462e2eee81225b1a5465ffb515a4c7b249ee9ddb400d55'
    )


def test_unique_ids_come_from_the_seeded_stream():
    def ids(seed):
        ns = dosim.Simulation(seed=seed).namespace('A', Log)
        return [str(ns.new_unique_id()) for _ in range(3)]

    assert ids(5) == ids(5)
    assert ids(5) != ids(6)
    assert len(set(ids(5))) == 3


def test_id_from_string_round_trips_and_refuses_bad_ids(sim):
    ns, other = sim.namespace('A', Log), sim.namespace('B', Log)
    uid = ns.new_unique_id()
    assert ns.id_from_string(str(uid)) == uid
    named = ns.id_from_string(str(ns.id_from_name('n')))
    assert named.name == 'n'
    with pytest.raises(TypeError, match=r'^Invalid Durable Object ID: must be 64 hex digits$'):
        ns.id_from_string('zz')
    with pytest.raises(TypeError, match=r'^Durable Object ID is not valid for this namespace\.$'):
        ns.id_from_string(str(other.id_from_name('n')))
    with pytest.raises(TypeError, match="belongs to namespace 'B'"):
        ns.get(other.id_from_name('n'))


def test_unknown_location_hints_are_refused(sim):
    ns = sim.namespace('A', Log)
    with pytest.raises(ValueError, match="unknown location hint 'mars'"):
        ns.get(ns.id_from_name('x'), location_hint='mars')
    assert ns.get(ns.id_from_name('x'), location_hint='weur').location_hint == 'weur'


def test_calls_on_one_stub_arrive_in_order(sim):
    ns = sim.namespace('A', Log)
    stub = ns.get_by_name('log')

    def client():
        events = [stub.fetch(f'https://do/{i}') for i in range(5)]   # all sent at t=0
        results = yield sim.env.all_of(events)
        return [results[e].text for e in events]

    proc = sim.process(client())
    sim.run()
    assert proc.value[-1] == '/0,/1,/2,/3,/4'


def test_e_order_holds_even_when_the_network_would_reorder(sim):
    """If a later call's trip were shorter, it still waits for the earlier one."""
    ns = sim.namespace('A', Log)
    stub = ns.get_by_name('log')
    trips = iter([5.0, 1.0, 1.0])
    sim.network.one_way = lambda src, dst: next(trips, 1.0)

    def client():
        first = stub.fetch('https://do/first')
        second = stub.fetch('https://do/second')
        yield sim.env.all_of([first, second])
        return second.value.text

    proc = sim.process(client())
    sim.run()
    assert proc.value == '/first,/second'
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['arrived_ms'].tolist() == [5.0, 5.0]
