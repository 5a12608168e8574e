"""``dosim.check``: each invariant passes on a clean run and reports exactly one doctored fact.

One small run feeds every test: object ``s`` gets two writes (``x=1``, then ``y=2``, each
followed by 5 ms of CPU work) and an alarm for 1 s later whose handler always raises, so it
is retried six times and abandoned. Its record is clean. Each test then changes one fact in a
copy of a frame (a value in storage, a batch outcome, a release time ...) and hands it to the
invariant's own function, which must report that fact and nothing else.
"""

from __future__ import annotations

import pandas as pd
import pytest

import dosim
from dosim import check as chk
from tests.conftest import fire, make_sim

COLUMNS = ['invariant', 'time_ms', 'namespace', 'object', 'detail', 'rows']


class Shop(dosim.DurableObject):
    """``POST /<key>`` puts the body under key (coalesced), then computes 5 ms;
    ``/alarm`` sets the alarm 1 s ahead; the alarm always fails."""

    def fetch(self, request):
        if request.path == '/alarm':
            self.ctx.storage.set_alarm(dosim.now() + 1000)
        else:
            self.ctx.storage.put(request.path[1:], request.text)
            yield dosim.compute(5)
        return dosim.Response('ok')

    def alarm(self, info):
        raise RuntimeError('always fails')


@pytest.fixture(scope='module')
def run() -> dosim.Simulation:
    sim = make_sim()
    ns = sim.namespace('S', Shop)
    stub = ns.get_by_name('s')
    fire(sim, [(0, lambda: stub.fetch('https://do/x', method='POST', body='1')),
               (1, lambda: stub.fetch('https://do/y', method='POST', body='2')),
               (2, lambda: stub.fetch('https://do/alarm'))])
    sim.run(until=300_000)
    return sim


def only(frame: pd.DataFrame) -> list:
    """The single violation row of *frame*, as a list."""
    assert len(frame) == 1, frame.to_string()
    return list(frame.iloc[0])


def test_the_clean_run_has_no_violation_at_all(run):
    assert list(chk.check(run).columns) == COLUMNS
    assert chk.check(run).empty


def test_the_run_is_what_the_tests_below_assume(run):
    """Two confirmed batches with keys, one for the alarm; compute 1-6 and 6-11 ms."""
    t = run.trace
    assert t.batches[['batch', 'flushed_ms', 'done_ms', 'outcome']].values.tolist() == [
        [1, 1.0, 5.0, 'confirmed'], [2, 6.0, 10.0, 'confirmed'], [3, 11.0, 15.0, 'confirmed']]
    assert t.alarms['outcome'].tolist() == ['error'] * 6 + ['abandoned']
    assert chk.confirmed_storage(run) == {('S', 's'): {'x': '1', 'y': '2'}}


def test_check_needs_the_full_trace():
    sim = make_sim(trace_level='requests')
    with pytest.raises(ValueError, match=r"check\(sim\) needs the full trace.*'requests'"):
        chk.check(sim)


# -- acknowledged writes and atomic batches ----------------------------------------------------
def test_an_acknowledged_write_missing_from_storage_is_reported(run):
    t = run.trace
    storage = {('S', 's'): {'x': '1'}}          # y=2 (request 2, answered ok) is gone
    row = only(chk.check_acknowledged_writes(t.requests, t.writes, t.batches, t.events, storage))
    assert row == ['acknowledged_write', 6.0, 'S', 's',
                   "request 2 wrote 'y'='2' (batch 2, the last confirmed write of it), "
                   "storage holds '<missing>'", [2]]


def test_an_acknowledged_write_in_a_lost_batch_is_reported(run):
    t = run.trace
    batches = t.batches
    batches.loc[batches['batch'] == 1, 'outcome'] = 'lost'
    storage = {('S', 's'): {'y': '2'}}
    row = only(chk.check_acknowledged_writes(t.requests, t.writes, batches, t.events, storage))
    assert row == ['acknowledged_write', 1.0, 'S', 's',
                   "request 1 answered ok, but its write of 'x' is in batch 1, which was lost",
                   [1]]


def test_a_later_write_excuses_the_value_it_replaced(run):
    """x=1 is not in storage, but a later confirmed batch wrote x=9: nothing to report."""
    t = run.trace
    writes = pd.concat([t.writes, pd.DataFrame([[20.0, 'S', 's', 1, 4, -1, 'x', False, '9']],
                                               columns=t.writes.columns)], ignore_index=True)
    batches = pd.concat([t.batches, pd.DataFrame([['S', 's', 1, 4, 20.0, 24.0, 'confirmed']],
                                                 columns=t.batches.columns)], ignore_index=True)
    storage = {('S', 's'): {'x': '9', 'y': '2'}}
    assert chk.check_acknowledged_writes(t.requests, writes, batches, t.events, storage).empty
    assert chk.check_atomic_batches(writes, batches, t.events, storage).empty


def test_a_lost_batch_whose_value_is_in_storage_is_reported(run):
    t = run.trace
    batches = t.batches
    batches.loc[batches['batch'] == 2, 'outcome'] = 'lost'   # yet y=2 is in storage
    row = only(chk.check_atomic_batches(t.writes, batches, t.events,
                                        chk.confirmed_storage(run)))
    assert row == ['atomic_batch', 6.0, 'S', 's',
                   "lost batch 2 (incarnation 1) left its values for keys ['y']", [2]]


def test_a_confirmed_batch_missing_from_storage_is_reported(run):
    t = run.trace
    row = only(chk.check_atomic_batches(t.writes, t.batches, t.events,
                                        {('S', 's'): {'y': '2'}}))
    assert row == ['atomic_batch', 1.0, 'S', 's',
                   "confirmed batch 1 (incarnation 1) is not in storage for keys ['x']", [1]]


# -- the output gate ---------------------------------------------------------------------------
def test_a_reply_released_before_its_batch_is_confirmed_is_reported(run):
    t = run.trace
    requests = t.requests
    requests.loc[requests['request_id'] == 3, 'released_ms'] = 12.0   # batch 3 is done at 15
    row = only(chk.check_output_gate(requests, t.batches, t.events))
    assert row == ['output_gate', 12.0, 'S', 's',
                   'request 3 released at 12 ms, before batch 3 was confirmed at 15 ms', [3, 3]]


def test_an_ok_reply_after_a_failed_batch_is_reported(run):
    t = run.trace
    batches = t.batches
    batches.loc[batches['batch'] == 3, 'outcome'] = 'failed'   # request 3's own batch
    row = only(chk.check_output_gate(t.requests, batches, t.events))
    assert row == ['output_gate', 15.0, 'S', 's',
                   'request 3 answered ok after batch 3 was failed', [3, 3]]


# -- the single thread -------------------------------------------------------------------------
def test_an_event_resuming_during_another_requests_compute_is_reported(run):
    """Request 1 computes from 1 to 6 ms; request 3 resuming at 3 ms breaks the input gate."""
    ev = run.trace.events
    extra = pd.DataFrame([[3.0, 'S', 's', 1, 'gate_close', 3, '']], columns=ev.columns)
    events = pd.concat([ev, extra], ignore_index=True).sort_values('time_ms', kind='stable')
    row = only(chk.check_single_thread(events))
    assert row == ['single_thread', 3.0, 'S', 's',
                   'request 3 gate close at 3 ms while request 1 computes from 1 to 6 ms', [1, 3]]


def test_overlapping_computes_are_reported(run):
    ev = run.trace.events
    events = ev.copy()
    events.loc[(events['kind'] == 'compute') & (events['request_id'] == 2), 'time_ms'] = 4.0
    events = events.sort_values('time_ms', kind='stable')
    row = only(chk.check_single_thread(events))
    assert row == ['single_thread', 4.0, 'S', 's',
                   'request 2 computes at 4 ms while request 1 computes from 1 to 6 ms', [1, 2]]


def test_computes_of_any_precision_back_to_back_are_not_reported():
    """The checker reads each compute's length back from the trace; a length with more than
    six significant digits (a drawn cost such as 1.2345678 ms) must come back exactly, or the
    next compute would seem to start inside it."""
    class Busy(dosim.DurableObject):
        def work(self, ms):
            yield dosim.compute(ms)

    sim = make_sim()
    ns = sim.namespace('B', Busy)
    fire(sim, [(0, lambda ms=ms: ns.get_by_name('b').work(ms))
               for ms in (1.2345678, 2.3456789, 0.1111111)])
    assert chk.check(sim).empty


# -- alarms ------------------------------------------------------------------------------------
def test_an_alarm_abandoned_too_early_is_reported(run):
    t = run.trace
    alarms = t.alarms.drop(index=3)                      # six counted failures, not seven
    row = only(chk.check_alarms(alarms, t.events, run.now))
    assert row == ['alarm_at_least_once', t.alarms.loc[6, 'done_ms'], 'S', 's',
                   'abandoned after 6 counted failures, not 7', [6]]


def test_a_retry_that_never_fired_is_reported(run):
    t = run.trace
    alarms = t.alarms.iloc[:3]                           # the run stops after attempt 3
    events = t.events[t.events['time_ms'] < 17_000]      # and nothing fired after it
    row = only(chk.check_alarms(alarms, events, run.now))
    assert row == ['alarm_at_least_once', t.alarms.loc[2, 'next_attempt_ms'], 'S', 's',
                   'the retry due at 17682.7 ms never fired (run ended 300000 ms)', [2]]


# -- E-order -----------------------------------------------------------------------------------
def test_calls_of_one_stub_arriving_out_of_order_are_reported(run):
    t = run.trace
    requests = t.requests
    requests.loc[requests['request_id'] == 1, 'arrived_ms'] = 2.5   # after request 2 (2 ms)
    row = only(chk.check_e_order(requests, t.events))
    assert row == ['e_order', 2.5, 'S', 's',
                   'stub 1: request 1 arrived after request 2, which was sent later', [1, 2]]


# -- lifecycle ---------------------------------------------------------------------------------
def test_an_undocumented_transition_is_reported(run):
    lc = run.trace.lifecycle
    lc.loc[2, ['state', 'reason']] = ['evicted', 'idle']   # idle_hibernatable -> evicted
    row = only(chk.check_lifecycle(lc))
    assert row == ['lifecycle', lc.loc[2, 'start_ms'], 'S', 's',
                   'idle_hibernatable -> evicted (idle) is not a documented transition', [1, 2]]


# -- meters ------------------------------------------------------------------------------------
def test_duration_that_disagrees_with_the_lifecycle_is_reported(run):
    """Active 1-15 ms is the only billed time: 14 ms x 128 MB = 0.001792 GB-s."""
    meters = run.meters
    assert meters['duration_gb_s'].tolist() == pytest.approx([0.001792])
    meters['duration_gb_s'] += 0.001
    row = only(chk.check_meters(meters, run.trace.lifecycle, bill_hibernatable_idle=False))
    assert row[:4] == ['meters', row[1], 'S', 's']
    assert row[4:] == ['duration_gb_s is 0.002792000, the billed time in lifecycle makes '
                       '0.001792000', ['duration_gb_s']]


def test_a_negative_meter_is_reported(run):
    meters = run.meters
    meters['rows_read'] = -1
    row = only(chk.check_meters(meters, run.trace.lifecycle, bill_hibernatable_idle=False))
    assert row[2:] == ['S', 's', 'rows_read is -1 < 0', ['rows_read']]


def test_billing_hibernatable_idle_changes_what_duration_must_be(run):
    """With bill_hibernatable_idle the same meters are short by the idle_hibernatable time."""
    violations = chk.check_meters(run.meters, run.trace.lifecycle, bill_hibernatable_idle=True)
    assert violations['invariant'].tolist() == ['meters']


def test_a_stored_alarm_that_can_never_fire_is_reported():
    """An alarm still stored at the end must be running, queued or due later."""
    from dosim.models import AgentLoop

    sim = make_sim(trace_level='full')
    ns = sim.namespace('AGENTS', AgentLoop)

    def go():
        yield ns.get_by_name('a').start_loop()

    sim.process(go())
    sim.run(until=30_000)
    assert chk.check_alarms_pending(sim).empty       # the loop's next alarm is due later
    next(iter(ns.actors.values())).alarm.due_at = None   # tamper: drop its schedule
    (row,) = chk.check_alarms_pending(sim).itertuples()
    assert row.invariant == 'alarm_at_least_once'
    assert 'will never fire' in row.detail


def test_meters_that_fall_are_reported():
    """Meters are cumulative: a later snapshot below an earlier one is a violation."""
    before = pd.DataFrame({'namespace': ['P'], 'object': ['x'], 'requests': [1.0]})
    assert chk.meters_never_decrease([before, before.copy()]).empty
    fell = pd.DataFrame({'namespace': ['P'], 'object': ['x'], 'requests': [0.0]})
    (row,) = chk.meters_never_decrease([before, fell]).itertuples()
    assert row.detail == 'requests fell from 1 to 0'


def test_a_call_that_leaves_before_its_callers_writes_confirm_is_reported():
    """Objects' outbound calls wait at the output gate too."""

    class Caller(dosim.DurableObject):
        def fetch(self, request):
            self.ctx.storage.put('before', 1)
            yield dosim.sleep(1)                  # the write is flushed, not yet confirmed
            resp = yield self.env.CALLEE.get_by_name('b').fetch('https://do/')
            return dosim.Response(resp.text)

    class Callee(dosim.DurableObject):
        def fetch(self, request):
            return dosim.Response('hi')

    sim = make_sim(trace_level='full')
    sim.namespace('CALLEE', Callee)
    ns = sim.namespace('CALLER', Caller)
    fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/'))])
    requests, batches = sim.trace.requests, sim.trace.batches
    call = requests[requests['caller'] == 'a'].iloc[0]
    assert call['departed_ms'] == 5.0             # flushed at 1, confirmed 4 ms later
    assert chk.check_output_gate_outgoing(requests, batches).empty
    early = requests.copy()
    early.loc[early['caller'] == 'a', 'departed_ms'] = 2.5
    (row,) = chk.check_output_gate_outgoing(early, batches).itertuples()
    assert row.detail == 'call 2 left at 2.5 ms, before batch 1 of its caller was confirmed at 5 ms'


def test_a_websocket_message_sent_before_its_writes_confirm_is_reported():
    """WebSocket sends wait at the output gate like responses."""

    class Room(dosim.DurableObject):
        def fetch(self, request):
            client, server = dosim.WebSocketPair()
            self.ctx.accept_websocket(server)
            return dosim.Response(status=101, web_socket=client)

        def websocket_message(self, ws, message):
            self.ctx.storage.put('last', message)
            yield dosim.sleep(1)                  # flushed, not yet confirmed
            ws.send('stored')

    sim = make_sim(trace_level='full')
    ns = sim.namespace('R', Room)

    def user():
        ws = yield from dosim.connect_websocket(ns.get_by_name('r'))
        ws.send('hello')
        return (yield ws.receive())

    proc = sim.process(user())
    sim.run()
    assert proc.value == 'stored'
    events, batches = sim.trace.events, sim.trace.batches
    assert chk.check_output_gate_websocket(events, batches).empty
    sent = events['kind'] == 'websocket_sent'
    assert events.loc[sent, 'time_ms'].tolist() == [7.0]   # flushed at 3, confirmed at 7
    early = events.copy()
    early.loc[sent, 'time_ms'] = 4.0
    (row,) = chk.check_output_gate_websocket(early, batches).itertuples()
    assert row.detail == 'WebSocket message #1 left at 4 ms, before batch 1 was confirmed at 7 ms'
