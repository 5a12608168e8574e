"""Workloads: arrival processes, key popularity, client places, handler costs, and drivers.

The statistical checks draw many values from a stream the simulation owns, with a fixed
seed, and compare them with theory: tolerances are about four standard errors, so a correct
generator passes for any seed and a wrong rate, shape or skew fails. Constant arrivals are
checked time by time. Then the drivers: requests reach the drawn keys from the drawn places
with the drawn costs, WebSocket clients connect, send and leave on schedule, and the same
seed replays the same run.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import islice

import pytest

import dosim
from dosim import workload as wl
from dosim.models import ChatRoom
from tests.conftest import make_sim


def stream(name: str = 'workload.arrivals', seed: int = 3):
    return dosim.Simulation(seed=seed).stream(name)


def take(spec, n: int, start_ms: float = 0.0, seed: int = 3) -> list[float]:
    return list(islice(spec.times(stream(seed=seed), start_ms), n))


# -- arrival processes ----------------------------------------------------------------------
def test_poisson_gaps_have_the_mean_and_spread_of_an_exponential():
    """200,000 gaps at 50/s: mean 20 ms (standard error 0.22 %), and an exponential's
    standard deviation equals its mean."""
    times = take(wl.Poisson(rate_per_s=50), 200_000, start_ms=1000.0)
    gaps = [b - a for a, b in zip([1000.0, *times], times, strict=False)]
    mean = sum(gaps) / len(gaps)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / (len(gaps) - 1))
    assert mean == pytest.approx(20.0, rel=0.01)
    assert sd / mean == pytest.approx(1.0, rel=0.015)
    assert min(gaps) > 0


def test_constant_arrivals_are_exact():
    assert take(wl.Constant(interval_ms=250, offset_ms=10), 4, start_ms=1000) == \
        [1010.0, 1260.0, 1510.0, 1760.0]
    millionth = next(islice(wl.Constant(0.1).times(None), 999_999, None))
    assert millionth == 0.1 * 999_999   # multiplied, not accumulated: no drift
    assert wl.Constant(interval_ms=250).mean_rate_per_s == 4.0


def test_on_off_bursts_arrive_only_in_on_periods():
    """Bursts of 2 s at 500/s, then 3 s of silence: every arrival in an on period, every on
    period used, and 200 arrivals per 5 s cycle on average (100/s x 2 s)."""
    spec = wl.OnOff(rate_per_s=100, on_ms=2_000, off_ms=3_000)
    times = [t for t in take(spec, 50_000, start_ms=700) if t < 700 + 200 * 5_000]
    assert all(spec.is_on(t, start_ms=700) for t in times)
    assert {int((t - 700) // 5_000) for t in times} == set(range(200))
    expected = 200 * 2_000 * 100 / 1000
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)
    assert spec.mean_rate_per_s == 40.0


def test_diurnal_arrivals_follow_the_cosine():
    """A one-hour 'day' at 10/s on average, amplitude 0.8, peak at minute 15, over 5 days:
    the arrivals per 5-minute slot (folded over the days) match the integral of the rate."""
    spec = wl.Diurnal(mean_rate_per_s=10, amplitude=0.8, period_ms=3_600_000, peak_ms=900_000)
    days, slot = 5, 300_000
    times = [t for t in take(spec, 300_000) if t < days * 3_600_000]
    assert len(times) < 300_000
    counts = Counter(int(t % 3_600_000 // slot) for t in times)
    omega = 2 * math.pi / spec.period_ms

    def expected(a: float, b: float) -> float:
        wave = (math.sin(omega * (b - spec.peak_ms)) - math.sin(omega * (a - spec.peak_ms)))
        return days * spec.mean_rate_per_s / 1000 * ((b - a) + 0.8 * wave / omega)

    for i in range(12):
        exp = expected(i * slot, (i + 1) * slot)
        assert abs(counts[i] - exp) < 4 * math.sqrt(exp), (i, counts[i], exp)
    assert max(counts, key=counts.get) in (2, 3)    # the slots around minute 15
    assert min(counts, key=counts.get) in (8, 9)    # half a day later
    assert spec.rate_at(900_000) == pytest.approx(18.0)
    assert spec.rate_at(900_000 + 1_800_000) == pytest.approx(2.0)


# -- key popularity -------------------------------------------------------------------------
def test_zipf_frequencies_are_ordered_and_match_theory():
    """s = 1.1 over 100 keys: P(rank k) = k**-1.1 / H(100, 1.1)."""
    spec = wl.ZipfKeys(n_keys=100, s=1.1)
    h = sum(k ** -1.1 for k in range(1, 101))
    assert spec.probabilities()[0] == pytest.approx(1 / h)
    assert sum(spec.probabilities()) == pytest.approx(1.0)
    rng, n = stream('workload.keys'), 200_000
    counts = Counter(spec.draw(rng) for _ in range(n))
    top = [counts[i] for i in range(10)]
    assert top == sorted(top, reverse=True)
    for i in range(100):
        p = (i + 1) ** -1.1 / h
        assert abs(counts[i] - n * p) < 4 * math.sqrt(n * p * (1 - p)), i
    assert spec.name(0) == 'key-0'
    assert set(counts) <= set(range(100))


def test_uniform_keys_are_equally_likely():
    spec, rng, n = wl.UniformKeys(n_keys=20, prefix='room-'), stream('workload.keys'), 100_000
    counts = Counter(spec.draw(rng) for _ in range(n))
    assert sorted(counts) == list(range(20))
    assert all(abs(c - n / 20) < 4 * math.sqrt(n / 20 * 0.95) for c in counts.values())
    assert spec.names()[:2] == ['room-0', 'room-1']


def test_a_location_mix_draws_places_in_proportion():
    spec, rng, n = wl.LocationMix({'LHR': 3, 'SJC': 1, 'NRT': 0}), stream('loc'), 40_000
    counts = Counter(spec.draw(rng) for _ in range(n))
    assert set(counts) == {'LHR', 'SJC'}
    assert abs(counts['LHR'] - 30_000) < 4 * math.sqrt(n * 0.75 * 0.25)
    assert spec.shares() == {'LHR': 0.75, 'SJC': 0.25, 'NRT': 0.0}


# -- handler costs --------------------------------------------------------------------------
@pytest.mark.parametrize(('spec', 'mean'), [
    (wl.ConstantMs(7), 7.0),
    (wl.ExponentialMs(mean_ms=5), 5.0),
    (wl.LogNormalMs(median_ms=4, sigma=0.5), 4 * math.exp(0.125)),
    (wl.UniformMs(low_ms=2, high_ms=10), 6.0),
])
def test_handler_costs_have_their_means(spec, mean):
    rng = stream('workload.cost')
    draws = [spec.draw(rng) for _ in range(100_000)]
    assert sum(draws) / len(draws) == pytest.approx(mean, rel=0.02)
    assert min(draws) >= 0


def test_a_lognormal_cost_has_its_median():
    rng = stream('workload.cost')
    draws = sorted(wl.LogNormalMs(median_ms=4, sigma=1.0).draw(rng) for _ in range(100_001))
    assert draws[50_000] == pytest.approx(4.0, rel=0.02)


# -- specs as data ----------------------------------------------------------------------------
SPECS = [
    ('arrivals', wl.Poisson(rate_per_s=5)),
    ('arrivals', wl.Constant(interval_ms=100, offset_ms=5)),
    ('arrivals', wl.OnOff(rate_per_s=5, on_ms=10, off_ms=20)),
    ('arrivals', wl.Diurnal(mean_rate_per_s=3, amplitude=0.2)),
    ('keys', wl.ZipfKeys(n_keys=10, s=1.1, prefix='user-')),
    ('keys', wl.UniformKeys(n_keys=3)),
    ('locations', wl.LocationMix({'LHR': 1, 'SIN': 2})),
    ('cost', wl.LogNormalMs(median_ms=3, sigma=0.4)),
    ('request', wl.Fetch(url='https://do/x', method='POST', cost=wl.ConstantMs(2))),
    ('request', wl.Rpc(method='work', args=('a', 1), cost=wl.ExponentialMs(3))),
    ('clients', wl.WebSocketClients(count=7, session_ms=wl.ExponentialMs(60_000))),
]


@pytest.mark.parametrize(('family', 'spec'), SPECS)
def test_specs_round_trip_through_plain_data(family, spec):
    data = spec.to_dict()
    assert data['kind'] == spec.kind
    assert wl.load(family, data) == spec


def test_nested_specs_load_from_mappings():
    fetch = wl.load('request', {'kind': 'fetch', 'cost': {'kind': 'exponential', 'mean_ms': 4}})
    assert fetch == wl.Fetch(cost=wl.ExponentialMs(mean_ms=4))
    clients = wl.load('clients', {'kind': 'websocket', 'per_object': 2,
                                  'messages': {'kind': 'poisson', 'rate_per_s': 0.1}})
    assert clients.messages == wl.Poisson(rate_per_s=0.1)


@pytest.mark.parametrize(('make', 'error', 'match'), [
    (lambda: wl.Poisson(rate_per_s=0), ValueError,
     'Poisson.rate_per_s must be a number > 0, got 0'),
    (lambda: wl.Poisson(rate_per_s='5'), TypeError, "Poisson.rate_per_s must be a number, got '5'"),
    (lambda: wl.Constant(interval_ms=-1), ValueError, 'Constant.interval_ms must be .* got -1'),
    (lambda: wl.OnOff(rate_per_s=1, on_ms=0, off_ms=5), ValueError, r'OnOff.on_ms .* got 0'),
    (lambda: wl.Diurnal(mean_rate_per_s=1, amplitude=1.5), ValueError,
     r'Diurnal.amplitude must be a number >= 0 and <= 1, got 1.5'),
    (lambda: wl.ZipfKeys(n_keys=0), ValueError, r'ZipfKeys.n_keys must be a whole number >= 1'),
    (lambda: wl.ZipfKeys(n_keys=2.5), TypeError, r'ZipfKeys.n_keys must be a whole number'),
    (lambda: wl.ZipfKeys(n_keys=10, s=0), ValueError, r'ZipfKeys.s must be a number > 0, got 0'),
    (lambda: wl.LocationMix({'XXX': 1}), ValueError, "unknown data centre 'XXX'"),
    (lambda: wl.LocationMix({}), TypeError, 'LocationMix.weights must be a non-empty mapping'),
    (lambda: wl.LocationMix({'LHR': 0}), ValueError, 'must have a positive sum'),
    (lambda: wl.ExponentialMs(mean_ms=0), ValueError, 'ExponentialMs.mean_ms must be'),
    (lambda: wl.UniformMs(low_ms=5, high_ms=1), ValueError, r'UniformMs.high_ms .* >= 5, got 1'),
    (lambda: wl.Rpc(method='_secret'), ValueError, "Rpc.method must be a public method name"),
    (lambda: wl.Fetch(cost=3), TypeError, 'Fetch.cost must be a cost spec or a mapping, got 3'),
    (lambda: wl.WebSocketClients(), ValueError, 'give exactly one of per_object and count'),
    (lambda: wl.WebSocketClients(per_object=0), ValueError,
     'WebSocketClients.per_object must be a whole number >= 1, got 0'),
    (lambda: wl.load('arrivals', {'kind': 'poison'}), ValueError,
     r"arrivals.kind: unknown kind 'poison'; known: poisson, constant, on_off, diurnal"),
    (lambda: wl.load('arrivals', {'kind': 'poisson'}), TypeError,
     "arrivals: Poisson: missing field 'rate_per_s'"),
    (lambda: wl.load('arrivals', {'kind': 'poisson', 'rate': 3}), TypeError,
     "arrivals: Poisson: unknown field 'rate'; its fields are rate_per_s"),
    (lambda: wl.load('request', {'kind': 'fetch', 'cost': {'kind': 'constant', 'ms': -2}}),
     ValueError, 'request: cost: ConstantMs.ms must be a number >= 0, got -2'),
    (lambda: wl.load('keys', wl.Poisson(1)), TypeError, 'keys: expected a keys spec'),
    (lambda: wl.load('workers', {}), ValueError, r"load\(family\): one of .* got 'workers'"),
])
def test_bad_specs_are_refused_naming_the_field_and_value(make, error, match):
    with pytest.raises(error, match=match):
        make()


# -- driving requests -----------------------------------------------------------------------
def test_constant_requests_are_sent_at_exact_times(sim):
    ns = sim.namespace('BUSY', wl.BusyObject)
    proc = wl.drive(sim, ns, arrivals=wl.Constant(100), duration_ms=1_000, start_ms=50)
    sim.run(until=2_000)
    assert proc.value == 10     # 50, 150 ... 950; the window ends before 1,050
    assert sim.trace.requests['sent_ms'].tolist() == [50.0 + 100 * k for k in range(10)]
    assert (sim.trace.requests['object'] == 'key-0').all()


def test_requests_carry_their_drawn_cost_to_the_handler(sim):
    """Each RPC ``work(ms)`` computes the cost drawn for it: the CPU meter is the sum of
    the draws, which a fresh copy of the 'workload.cost' stream reproduces."""
    ns = sim.namespace('BUSY', wl.BusyObject)
    spec = wl.ExponentialMs(mean_ms=5)
    wl.drive(sim, ns, arrivals=wl.Poisson(rate_per_s=20), keys=wl.UniformKeys(4),
             request=wl.Rpc(method='work', cost=spec), duration_ms=10_000)
    sim.run(until=20_000)
    n = len(sim.trace.requests)
    replay = dosim.Simulation(seed=1).stream('workload.cost')
    assert sim.meters['cpu_ms'].sum() == pytest.approx(sum(spec.draw(replay) for _ in range(n)))
    assert set(sim.meters['object']) == {'key-0', 'key-1', 'key-2', 'key-3'}
    assert (sim.trace.requests['status'] == 'ok').all()


def test_fetch_costs_travel_in_a_header(sim):
    ns = sim.namespace('BUSY', wl.BusyObject)
    wl.drive(sim, ns, arrivals=wl.Constant(1_000), request=wl.Fetch(cost=wl.ConstantMs(7)),
             duration_ms=5_000)
    sim.run(until=10_000)
    assert sim.meters['cpu_ms'].tolist() == [35.0]
    assert sim.trace.requests['handler_ms'].tolist() == [7.0] * 5


def test_objects_are_placed_near_the_drawn_clients(sim):
    """Every caller in Tokyo: every object is created in apac-ne, near its first caller."""
    ns = sim.namespace('BUSY', wl.BusyObject)
    wl.drive(sim, ns, arrivals=wl.Poisson(rate_per_s=50), keys=wl.ZipfKeys(30),
             locations=wl.LocationMix({'NRT': 1}), duration_ms=2_000)
    sim.run(until=5_000)
    assert {actor.location.region for actor in ns.actors.values()} == {'apac-ne'}


def test_the_same_seed_replays_the_same_requests():
    def run(seed):
        sim = make_sim(seed=seed, jitter_scale_ms=1.0)
        ns = sim.namespace('BUSY', wl.BusyObject)
        wl.drive(sim, ns, arrivals=wl.Poisson(rate_per_s=100), keys=wl.ZipfKeys(20),
                 locations=wl.LocationMix({'LHR': 1, 'IAD': 1}),
                 request=wl.Fetch(cost=wl.LogNormalMs(1, 0.5)), duration_ms=3_000)
        sim.run(until=6_000)
        return sim.trace.requests[['sent_ms', 'object', 'received_ms', 'handler_ms']]

    first, again, other = run(8), run(8), run(9)
    assert first.equals(again)
    assert not first['sent_ms'].equals(other['sent_ms'])


def test_two_workloads_draw_from_their_own_streams():
    """Adding a second, named workload leaves the first one's requests as they were."""
    def first_workload(with_second):
        sim = make_sim(seed=2)
        ns = sim.namespace('BUSY', wl.BusyObject)
        wl.drive(sim, ns, arrivals=wl.Poisson(10), duration_ms=5_000)
        if with_second:
            wl.drive(sim, ns, arrivals=wl.Poisson(10), keys=wl.UniformKeys(1, prefix='bg-'),
                     duration_ms=5_000, name='background')
        sim.run(until=6_000)
        r = sim.trace.requests
        assert set(r['object']) == ({'key-0', 'bg-0'} if with_second else {'key-0'})
        return sorted(r.loc[r['object'] == 'key-0', 'sent_ms'])

    assert first_workload(False) == first_workload(True)


def test_bad_driver_input_is_refused(sim):
    ns = sim.namespace('BUSY', wl.BusyObject)
    with pytest.raises(TypeError, match=r'drive\(target\): a namespace'):
        wl.drive(sim, 'BUSY', arrivals=wl.Poisson(1), duration_ms=10)
    with pytest.raises(ValueError, match=r'drive\(duration_ms\): a number of ms > 0, got 0'):
        wl.drive(sim, ns, arrivals=wl.Poisson(1), duration_ms=0)
    sim.run(until=100)
    with pytest.raises(ValueError, match=r'drive\(start_ms\): a time in ms >= now \(100\)'):
        wl.drive(sim, ns, arrivals=wl.Poisson(1), duration_ms=10, start_ms=50)
    with pytest.raises(ValueError, match=r'arrivals: Poisson\.rate_per_s must be'):
        wl.drive(sim, ns, arrivals={'kind': 'poisson', 'rate_per_s': -3}, duration_ms=10)


# -- WebSocket clients --------------------------------------------------------------------------
def test_websocket_clients_connect_send_leave_and_come_back(sim):
    """3 clients per room, 2 rooms; a message every 10 s from the moment a socket opens,
    sessions of 25 s, back 5 s later. In 60 s each client has two sessions (opening at
    2 ms and 30,004 ms) of three messages each, and closes both."""
    rooms = sim.namespace('R', ChatRoom.configure(message_cpu_ms=0))
    clients = wl.WebSocketClients(per_object=3, messages=wl.Constant(10_000),
                                  session_ms=wl.ConstantMs(25_000),
                                  reconnect_ms=wl.ConstantMs(5_000))
    tally = wl.drive_websockets(sim, rooms, clients, keys=wl.UniformKeys(2, prefix='room-'),
                                duration_ms=60_000)
    sim.run(until=70_000)
    assert (tally.clients, tally.connects, tally.messages, tally.disconnects) == (6, 12, 36, 12)
    meters = sim.meters.set_index('object').sort_index()
    assert meters['requests'].tolist() == [6, 6]          # one per connection
    assert meters['ws_messages_in'].tolist() == [18, 18]
    connects = sim.trace.requests
    assert sorted(set(connects['sent_ms'])) == [0.0, 30_002.0]


def test_clients_can_join_rooms_by_popularity(sim):
    rooms = sim.namespace('R', ChatRoom.configure(message_cpu_ms=0))
    tally = wl.drive_websockets(sim, rooms, {'kind': 'websocket', 'count': 60},
                                keys=wl.ZipfKeys(5, prefix='room-'), duration_ms=1_000)
    sim.run(until=2_000)
    assert tally.connects == 60
    sizes = sim.meters.set_index('object')['requests']
    assert sizes.sum() == 60
    assert sizes['room-0'] == sizes.max()


def test_a_reset_ends_sessions_and_clients_reconnect(sim):
    rooms = sim.namespace('R', ChatRoom.configure(message_cpu_ms=0))
    clients = wl.WebSocketClients(per_object=4, messages=wl.Constant(1_000),
                                  reconnect_ms=wl.ConstantMs(500))
    tally = wl.drive_websockets(sim, rooms, clients, duration_ms=10_000)
    sim.faults.reset(5_000, 'R', 'key-0')
    sim.run(until=12_000)
    assert tally.closed_by_object == 4
    assert tally.connects == 8     # each client once more after the reset
