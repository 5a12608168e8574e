"""What a run costs: Cloudflare's prices applied to the meters, and a run extrapolated to a month.

The prices live in ``data/pricing.yaml``, each with its source. The checks are Cloudflare's
own worked examples (``do-semantics.md`` §7):

* 100 objects x 100 hibernatable WebSockets, one message per client per minute, 10 ms each,
  a 30-day month: 21.61 M billed requests and 552,960 GB-s, so $3.09 + $1.91 + the $5
  minimum = $10.00 -- from the usage numbers, and from a small simulated chat extrapolated;
* 100 objects active all month: 33,177,600 GB-s, (33,177,600 - 400,000) x $12.50 / M =
  $409.72 of duration -- from the numbers, and from one simulated room with a standard socket;
* the current pricing page rounds billable amounts up to whole millions: $20.65 and $419.30.
"""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
import yaml

from dosim import cost
from dosim import workload as wl
from dosim.models import ChatRoom
from tests.conftest import make_sim

HOUR = 3_600_000
MONTH_MS = 30 * 24 * HOUR


def paid(frame: pd.DataFrame, meter: str) -> pd.Series:
    return frame[(frame['plan'] == 'paid') & (frame['meter'] == meter)].iloc[0]


def free(frame: pd.DataFrame, meter: str) -> pd.Series:
    return frame[(frame['plan'] == 'free') & (frame['meter'] == meter)].iloc[0]


# -- the price table ------------------------------------------------------------------------
def _numbers(node, path=''):
    """(path, parent mapping) of every number in the YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield f'{path}{key}', node
            else:
                yield from _numbers(value, f'{path}{key}.')


def test_every_price_is_dated_and_has_a_source():
    with open(cost.DEFAULT_PATH, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    datetime.date.fromisoformat(data['as_of'])
    numbers = list(_numbers(data['plans'])) + list(_numbers(data['billing']))
    assert len(numbers) == 9 * 3 + 9 + 2 + 2   # (included, usd, per) and a Free limit per
    #                                            meter, two minimums, two billing rules
    for path, parent in numbers:
        assert parent.get('source'), path
    assert set(data['plans']['paid']['meters']) == set(cost.METERS)
    assert set(data['plans']['free']['meters']) == set(cost.METERS)


def test_the_table_matches_the_semantics_reference():
    p = cost.load_pricing()
    assert p.paid['billed_requests'][1:] == (1e6, 0.15, 1e6)
    assert p.paid['duration_gb_s'][1:] == (400_000, 12.50, 1e6)
    assert p.paid['rows_read'][1:] == (25e9, 0.001, 1e6)
    assert p.paid['rows_written'][1:] == (50e6, 1.00, 1e6)
    assert p.paid['read_units'][1:] == (1e6, 0.20, 1e6)
    assert p.free['billed_requests'][1:] == (100_000, True)
    assert p.free['duration_gb_s'][1:] == (13_000, True)
    assert p.minimum == {'free': 0.0, 'paid': 5.0}
    assert p.messages_per_request == 20


# -- pricing a month of usage ---------------------------------------------------------------
EXAMPLE_4 = {   # 10,000 connections; 100 x 100 clients x 1 message/min x 43,200 min
    'requests': 10_000, 'ws_messages_in': 432_000_000, 'duration_gb_s': 552_960,
}


def test_the_published_hibernation_example_costs_ten_dollars():
    bill = cost.price(EXAMPLE_4)
    requests, duration = paid(bill, 'billed_requests'), paid(bill, 'duration_gb_s')
    assert requests['usage'] == 21_610_000          # 10,000 + 432 M / 20
    assert requests['billable'] == 20_610_000
    assert requests['cost'] == pytest.approx(3.0915, rel=1e-12)
    assert duration['billable'] == 152_960
    assert duration['cost'] == pytest.approx(1.912, rel=1e-12)
    assert paid(bill, 'minimum')['cost'] == 5.0
    assert cost.totals(bill)['paid'] == pytest.approx(10.0035, rel=1e-12)
    shown = cost.summary(bill).set_index('meter')['cost']
    assert shown.to_dict() == {'billed_requests': '$3.09', 'duration_gb_s': '$1.91',
                               'minimum': '$5.00', 'total': '$10.00'}


def test_an_object_active_all_month_bills_409_72_of_duration():
    gb_s = 100 * 30 * 24 * 3600 * 0.128   # 100 objects, every second of 30 days, at 128 MB
    assert gb_s == pytest.approx(33_177_600)
    bill = cost.price({'duration_gb_s': 33_177_600})
    assert paid(bill, 'duration_gb_s')['cost'] == pytest.approx(409.72, rel=1e-12)


def test_the_current_page_rounds_billable_amounts_up_to_whole_millions():
    """pricing.mdx @04a87f4 works Example 4 as 21 M x $0.15 + 1 M x $12.50 + $5 = $20.65
    and Example 3 (100 sockets, a message a second) as $1.80 + $412.50 + $5 = $419.30."""
    bill = cost.price(EXAMPLE_4, whole_millions=True)
    assert paid(bill, 'billed_requests')['billable'] == 21_000_000
    assert paid(bill, 'duration_gb_s')['billable'] == 1_000_000
    assert cost.totals(bill)['paid'] == pytest.approx(20.65, rel=1e-12)
    example_3 = {'requests': 100, 'ws_messages_in': 259_200_000, 'duration_gb_s': 33_177_600}
    bill = cost.price(example_3, whole_millions=True)
    assert paid(bill, 'billed_requests')['usage'] == 12_960_100
    assert paid(bill, 'billed_requests')['cost'] == pytest.approx(1.80, rel=1e-12)
    assert paid(bill, 'duration_gb_s')['cost'] == pytest.approx(412.50, rel=1e-12)
    assert cost.totals(bill)['paid'] == pytest.approx(419.30, rel=1e-12)


def test_usage_within_the_allowances_costs_the_minimum():
    """Paid's monthly allowances; all but the requests are more than 30 days of Free."""
    bill = cost.price({'billed_requests': 1_000_000, 'duration_gb_s': 400_000,
                       'rows_read': 25e9, 'rows_written': 50e6})
    assert cost.totals(bill)['paid'] == 5.0
    assert free(bill, 'billed_requests')['included'] == 3_000_000
    over = bill[bill['plan'] == 'free'].set_index('meter')['over_limit']
    assert over[over].index.tolist() == ['duration_gb_s', 'rows_read', 'rows_written']


def test_the_free_plan_says_what_goes_over_its_daily_limits():
    """100,000 requests a day for 30 days is within the Free plan; one more is not.
    Operations beyond a limit fail until 00:00 UTC; key-value storage is Paid only."""
    at_limit = cost.price({'billed_requests': 3_000_000}, month_days=30)
    assert not free(at_limit, 'billed_requests')['over_limit']
    over = cost.price({'billed_requests': 3_000_001, 'write_units': 5}, month_days=30)
    row = free(over, 'billed_requests')
    assert row['over_limit']
    assert row['billable'] == 1
    assert row['cost'] == 0
    assert 'over the limit of 100,000 / day' in row['note']
    kv = free(over, 'write_units')
    assert kv['over_limit']
    assert 'not available on Workers Free' in kv['note']
    assert cost.totals(over)['free'] == 0
    assert cost.summary(over, 'free').iloc[-1]['note'] == 'over a Free limit'


def test_stored_data_is_priced_per_gb_month():
    bill = cost.price({'sqlite_stored_gb': 7.5, 'kv_stored_gb': 3})
    assert paid(bill, 'sqlite_stored_gb')['cost'] == pytest.approx(2.5 * 0.20)
    assert paid(bill, 'kv_stored_gb')['cost'] == pytest.approx(2 * 0.20)
    assert free(bill, 'sqlite_stored_gb')['over_limit']   # 5 GB in total on Free


# -- from a run to a month ------------------------------------------------------------------
def test_extrapolation_scales_rates_and_counts_once_only_once():
    meters = pd.DataFrame([
        {'namespace': 'A', 'object': 'a', **dict.fromkeys(cost.RUN_METERS, 0),
         'requests': 30, 'ws_messages_in': 400, 'duration_gb_s': 2.0},
        {'namespace': 'B', 'object': 'b', **dict.fromkeys(cost.RUN_METERS, 0),
         'requests': 5},
    ])
    month = cost.extrapolate(meters, simulated_ms=HOUR, scale=3, once={'requests': 10})
    assert month['requests'] == ((35 - 10) * 720 + 10) * 3
    assert month['ws_messages_in'] == 400 * 720 * 3
    assert month['billed_requests'] == month['requests'] + month['ws_messages_in'] / 20
    assert month['duration_gb_s'] == pytest.approx(2.0 * 720 * 3)
    only_b = cost.extrapolate(meters, simulated_ms=HOUR, namespace='B', month_days=31)
    assert only_b['requests'] == 5 * 744


def chat_rooms(seconds: int = 600):
    """2 rooms of 100 hibernatable clients; each client sends once a minute and the room
    computes 10 ms per message (``ChatRoom``'s default). Connections spread over the first
    50 s, so every client sends exactly 10 messages in 10 minutes."""
    sim = make_sim(seed=5, trace_level='requests')
    rooms = sim.namespace('ROOMS', ChatRoom)
    clients = wl.WebSocketClients(per_object=100, messages=wl.Constant(60_000),
                                  connect_over_ms=50_000)
    tally = wl.drive_websockets(sim, rooms, clients, keys=wl.UniformKeys(2, prefix='room-'),
                                duration_ms=seconds * 1000)
    sim.run(until=seconds * 1000)
    return sim, tally


def test_a_simulated_chat_extrapolates_to_the_published_ten_dollars():
    """2 rooms for 10 minutes stand for 100 rooms for 30 days: rates x 4,320 x 50. The 200
    connections are made once and held all month: once={'requests': 200}, x 50 = 10,000."""
    sim, tally = chat_rooms()
    assert tally.messages == 2000
    assert tally.connects == 200
    run = sim.meters[['requests', 'ws_messages_in', 'duration_gb_s']].sum()
    assert run['requests'] == 200
    assert run['ws_messages_in'] == 2000
    assert run['duration_gb_s'] == pytest.approx(2000 * 0.010 * 0.128)   # 10 ms per message
    connects = cost.websocket_connects(sim)
    assert connects == 200
    bill = cost.estimate(sim, simulated_ms=600_000, scale=50, once={'requests': connects})
    assert paid(bill, 'billed_requests')['usage'] == 21_610_000
    assert paid(bill, 'duration_gb_s')['usage'] == pytest.approx(552_960, rel=1e-12)
    assert cost.summary(bill).iloc[-1]['cost'] == '$10.00'
    # Treating the connections as a rate would bill them 4,320 times over:
    naive = cost.estimate(sim, simulated_ms=600_000, scale=50)
    extra = paid(naive, 'billed_requests')['usage'] - 21_610_000
    assert extra == 200 * 50 * (4320 - 1)


def test_a_room_held_open_by_a_standard_socket_bills_every_second():
    """One room whose single client uses the standard API (``server.accept()``) stays in
    memory and billed from its first request on. An hour of it, x 720 x 100 rooms, is
    Example 3's 33,177,600 GB-s and $409.72 of duration."""
    sim = make_sim(seed=6)
    rooms = sim.namespace('ROOMS', ChatRoom.configure(hibernatable=False, message_cpu_ms=0))
    wl.drive_websockets(sim, rooms, wl.WebSocketClients(per_object=1), duration_ms=2 * HOUR)
    sim.run(until=10_000)
    born = float(sim.trace.requests['arrived_ms'].iloc[0])   # the connect made the room
    sim.run(until=born + HOUR)
    bill = cost.estimate(sim, simulated_ms=HOUR, scale=100,
                         once={'requests': cost.websocket_connects(sim)})
    duration = paid(bill, 'duration_gb_s')
    assert duration['usage'] == pytest.approx(33_177_600, rel=1e-12)
    assert duration['cost'] == pytest.approx(409.72, rel=1e-12)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(('call', 'match'), [
    (lambda: cost.price({'bogus': 1}), "unknown meter 'bogus'"),
    (lambda: cost.price({'duration_gb_s': -1}), 'duration_gb_s must be a number >= 0, got -1'),
    (lambda: cost.price({'requests': '5'}), "requests must be a number >= 0, got '5'"),
    (lambda: cost.price({}, month_days=0), r'price\(month_days\): .* got 0'),
    (lambda: cost.price([1, 2]), 'a mapping from meter to amount'),
    (lambda: cost.summary(cost.price({}), 'pro'), r"summary\(plan\): .* got 'pro'"),
])
def test_bad_pricing_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_bad_extrapolation_input_is_named():
    sim = make_sim()
    sim.namespace('R', ChatRoom)
    with pytest.raises(ValueError, match=r'extrapolate\(simulated_ms\): a number > 0, got 0'):
        cost.estimate(sim, simulated_ms=0)
    with pytest.raises(ValueError, match=r'extrapolate\(scale\): a number > 0, got -2'):
        cost.estimate(sim, simulated_ms=1000, scale=-2)
    with pytest.raises(ValueError, match="once: unknown meter 'connects'"):
        cost.estimate(sim, simulated_ms=1000, once={'connects': 1})
    with pytest.raises(ValueError, match=r"once\['requests'\] must be .* run's 0, got 3"):
        cost.estimate(sim, simulated_ms=1000, once={'requests': 3})
    with pytest.raises(TypeError, match=r'a Simulation or its sim\.meters frame'):
        cost.estimate(42, simulated_ms=1000)
    with pytest.raises(ValueError, match=r"lacks the columns \['cpu_ms'"):
        cost.estimate(pd.DataFrame({'requests': [1]}), simulated_ms=1000)


def test_a_pricing_file_missing_a_number_is_named(tmp_path):
    with open(cost.DEFAULT_PATH, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    del data['plans']['paid']['meters']['rows_read']['usd']
    data['plans']['free']['meters']['rows_written']['limit'] = -1
    path = tmp_path / 'pricing.yaml'
    path.write_text(yaml.safe_dump(data), encoding='utf-8')
    with pytest.raises(ValueError, match=r"pricing.yaml: missing 'plans.paid.meters.rows_read"):
        cost.load_pricing(path)
    data['plans']['paid']['meters']['rows_read']['usd'] = 0.001
    path.write_text(yaml.safe_dump(data), encoding='utf-8')
    with pytest.raises(ValueError, match=r'rows_written.limit must be a number >= 0, got -1'):
        cost.load_pricing(path)
