"""The network: where objects are placed, how long messages take, what the first call costs.

An object is placed in the hosting data centre nearest its first caller -- or in the region
of the first ``get()``'s location hint -- and never moves. A one-way trip costs great-circle
distance over fibre (200 km/ms) x 1.5 route inflation + 1 ms, plus jitter. The first call to
a name-derived id pays the worldwide uniqueness check (200 ms) once.
"""

from __future__ import annotations

import pytest

import dosim
from dosim import geo
from dosim.models import MessagingAgent, Relay
from tests.conftest import fire, make_sim


class Where(dosim.DurableObject):
    def fetch(self, request):
        loc = self.ctx.storage._actor.location
        return dosim.Response(loc.iata)


def one_request(sim, ns, name, client='IAD', hint=None):
    stub = ns.get_by_name(name, hint, client_location=client)
    (out,) = fire(sim, [(0, lambda: stub.fetch('https://do/'))])
    return out


def test_objects_are_placed_near_their_first_caller(sim):
    ns = sim.namespace('W', Where)
    assert one_request(sim, ns, 'tokyo', client='NRT').text == 'NRT'
    assert one_request(sim, ns, 'paris', client='CDG').text == 'CDG'
    # later callers from elsewhere reach it where it is: it never moves
    assert one_request(sim, ns, 'tokyo', client='LHR').text == 'NRT'
    # a client in a region without objects (sam) gets the nearest hosting data centre
    assert one_request(sim, ns, 'saopaulo', client='GRU').text == 'ATL'


def test_a_location_hint_counts_on_the_first_get_only(sim):
    ns = sim.namespace('W', Where)
    assert one_request(sim, ns, 'a', client='IAD', hint='weur').text == \
        geo.hint_location('weur', sim.network.locations).iata
    assert one_request(sim, ns, 'b', client='IAD').text == 'IAD'
    assert one_request(sim, ns, 'b', client='IAD', hint='apac').text == 'IAD'   # too late
    assert one_request(sim, ns, 'c', client='NRT', hint='sam').text == \
        geo.hint_location('enam', sim.network.locations).iata              # sam -> enam


def test_latency_grows_with_distance():
    sim = make_sim()
    ns = sim.namespace('W', Where)
    one_request(sim, ns, 'here', client='IAD')
    for client in ('IAD', 'ORD', 'LHR', 'NRT'):
        one_request(sim, ns, 'here', client=client)
    lat = sim.trace.requests['network_ms'].tolist()[1:]
    same_city, same_region, cross_ocean, far = lat
    assert same_city < same_region < cross_ocean < far
    iad, lhr = sim.network.locations['IAD'], sim.network.locations['LHR']
    expected = geo.great_circle_km(iad, lhr) / 200.0 * 1.5 + 1.0
    assert cross_ocean == pytest.approx(2 * expected, abs=1e-9)   # there and back
    assert same_city == 2.0


def test_the_uniqueness_check_is_paid_once_per_name():
    sim = make_sim(uniqueness_check_ms=200.0)
    ns = sim.namespace('W', Where)
    named = ns.get_by_name('n')
    unique = ns.get(ns.new_unique_id())
    fire(sim, [(0, lambda: named.fetch('https://do/')), (10, lambda: unique.fetch('https://do/')),
               (500, lambda: named.fetch('https://do/'))])
    reqs = sim.trace.requests.sort_values('request_id')   # rows come in order of answer
    assert reqs['latency_ms'].tolist() == [202.0, 2.0, 2.0]


def test_calls_sent_during_the_uniqueness_check_wait_for_its_answer():
    """The check is made once, but nobody reaches the object before it ends: a second call
    sent 50 ms into the first call's check arrives when the check is done (200 ms + 1 ms
    trip), not 51 ms in -- and the first call is still the first to arrive."""
    sim = make_sim(uniqueness_check_ms=200.0)
    ns = sim.namespace('W', Where)
    fire(sim, [(0, lambda: ns.get_by_name('n').fetch('https://do/')),
               (50, lambda: ns.get_by_name('n').fetch('https://do/'))])
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['arrived_ms'].tolist() == [201.0, 201.0]
    assert reqs['latency_ms'].tolist() == [202.0, 152.0]


def test_jitter_is_seeded_heavy_tailed_and_never_negative():
    sim = dosim.Simulation(seed=3)
    draws = [sim.network.one_way('IAD', 'IAD') - 1.0 for _ in range(20_000)]
    assert min(draws) >= 0.0
    mean = sum(draws) / len(draws)
    assert mean == pytest.approx(0.1 / (3.0 - 1.0), rel=0.1)   # Pareto: scale / (shape - 1)
    assert max(draws) > 20 * mean                              # a heavy tail
    again = dosim.Simulation(seed=3)
    assert [again.network.one_way('IAD', 'IAD') - 1.0 for _ in range(100)] == draws[:100]


def test_unknown_places_are_refused_by_name(sim):
    ns = sim.namespace('W', Where)
    with pytest.raises(ValueError, match="get\\(client_location\\): unknown data centre 'XXX'"):
        ns.get_by_name('a', client_location='XXX')
    with pytest.raises(ValueError, match=r"Config\.client_location: unknown data centre 'ZZZ'"):
        dosim.Simulation(config=dosim.Config(client_location='ZZZ'))


def test_agents_message_each_other_across_regions(sim):
    ns = sim.namespace('AGENTS', MessagingAgent)
    tokyo = ns.get_by_name('tokyo', 'apac-ne')
    london = ns.get_by_name('london', 'weur')

    def run():
        yield london.inbox()          # place london first
        status = yield tokyo.send_to_agent('london', {'text': 'hello'})
        inbox = yield london.inbox()
        return status, inbox

    proc = sim.process(run())
    sim.run()
    status, inbox = proc.value
    assert status == 202
    assert [(m['from'], m['message']) for m in inbox] == [('tokyo', {'text': 'hello'})]
    reqs = sim.trace.requests.sort_values('request_id')
    hop = reqs[(reqs['caller'] == 'tokyo') & (reqs['object'] == 'london')].iloc[0]
    a = sim.network.locations[geo.hint_location('apac-ne', sim.network.locations).iata]
    b = sim.network.locations[geo.hint_location('weur', sim.network.locations).iata]
    assert hop['network_ms'] == pytest.approx(2 * geo.one_way_ms(a, b), abs=1e-9)


def test_a_relay_fans_out_to_many_agents(sim):
    sim.namespace('AGENTS', MessagingAgent)
    relay = sim.namespace('RELAY', Relay).get_by_name('relay')

    def run():
        return (yield relay.fan_out([f'agent-{i}' for i in range(20)], 'news'))

    proc = sim.process(run())
    sim.run()
    assert proc.value == {'delivered': 20, 'failed': 0}
    reqs = sim.trace.requests
    fanned = reqs[reqs['caller'] == 'relay']
    assert len(fanned) == 20
    assert fanned['sent_ms'].nunique() == 1      # all at once, not one after another


def test_the_space_time_record_has_every_message(sim):
    ns = sim.namespace('AGENTS', MessagingAgent)
    fire(sim, [(0, lambda: ns.get_by_name('a').send_to_agent('b', 'hi'))])
    ev = sim.trace.events
    sent = ev[ev['kind'] == 'message_sent']
    received = ev[ev['kind'] == 'message_received']
    assert len(sent) == len(received) == 4      # two calls, each a request and a reply
    assert sent['detail'].tolist() == [
        'rpc client->a', 'fetch a->b', 'reply b->a', 'reply a->client']
