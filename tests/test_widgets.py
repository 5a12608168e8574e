"""The explorers of ``dosim.widgets``: controls that rerun a seeded simulation and redraw.

An explorer runs its simulation once when it is made (``runs == 1``). Setting one control's
value runs it again (``runs == 2``), draws a new PNG into its ``Image`` widget and updates the
headline numbers. Each test below moves one control and checks that the numbers move the way
the runtime's rules say they must -- exact counts where the rules fix them, bounds derived
from the rules (backoff 2 s x 2^(k-1) plus at most 25 %, distance over fibre) where jitter is
drawn.

Bad values are refused with the control's name. In a running asyncio loop (a Jupyter kernel)
changes are debounced: several quick changes cost one run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import dosim
from dosim import geo, widgets
from dosim.widgets._controls import Number
from dosim.widgets._explorer import Explorer

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
GB_S_PER_MS = 128 / 1000 / 1000   # 128 MB billed: 1 s in memory is 0.128 GB-s


def move(ex: Explorer, name: str, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set one control; check that it reran once and redrew; return the summaries before
    and after."""
    before, png = ex.summary, bytes(ex.image.value)
    runs = ex.runs
    ex.controls[name].value = value
    assert ex.runs == runs + 1
    after = bytes(ex.image.value)
    assert after.startswith(PNG_MAGIC)
    assert after != png
    return before, ex.summary


# -- the agent loop ---------------------------------------------------------------------------
def test_alarm_loop_period_is_interval_plus_cycle():
    """The next alarm is set when the cycle ends: period = interval + cycle CPU + a few ms of
    delivery and storage. With 10 s + 0.5 s, 10 minutes hold attempts at 0, 10.5, ... 598.5 s:
    58 of them; with 30 s + 0.5 s, at 0, 30.5, ... 579.5 s: 20."""
    ex = widgets.alarm_loop(failure_rate=0.0)
    assert ex.runs == 1
    before, after = move(ex, 'interval_s', 30)
    assert ex.runs == 2
    assert before['attempts'] == 58
    assert after['attempts'] == 20
    assert 10.5 < before['mean_period_s'] < 10.52
    assert 30.5 < after['mean_period_s'] < 30.52
    assert before['retries'] == after['retries'] == 0


def test_alarm_loop_rethrow_hands_failures_to_the_retry_backoff():
    """Swallowed failures keep the beat and are never retried; rethrown ones are each retried
    once (the retry succeeds or fails again, and then is retried in turn) and stretch the
    period by at least the 2 s backoff."""
    ex = widgets.alarm_loop(failure_rate=0.3)
    swallow, rethrow = move(ex, 'policy', 'rethrow')
    assert swallow['retries'] == 0
    assert swallow['failed_cycles'] > 0
    assert swallow['cycles'] + swallow['failed_cycles'] == swallow['attempts']
    assert rethrow['retries'] == rethrow['failed_cycles'] > 0
    assert rethrow['cycles'] + rethrow['failed_cycles'] == rethrow['attempts']
    assert rethrow['mean_period_s'] > swallow['mean_period_s'] + 2 * 0.3


# -- the retry backoff ------------------------------------------------------------------------
def assert_backoff(gaps_s: list[float], bases_s: list[float]) -> None:
    """Each gap is its base plus a jitter of 0 to 25 % (whole ms)."""
    assert len(gaps_s) == len(bases_s)
    for gap, base in zip(gaps_s, bases_s, strict=True):
        assert base <= gap <= base * 1.25 + 0.001


def test_retry_backoff_abandons_after_the_seventh_failure():
    """3 failures: 4 attempts, gaps 2, 4, 8 s (+ jitter), then success. 8 failures: the 7th
    attempt is the 7th failure and the alarm is abandoned -- 6 retries, never an 8th. No
    failure: one attempt, no gap."""
    ex = widgets.retry_backoff()
    three, eight = move(ex, 'failures', 8)
    assert (three['attempts'], three['retries'], three['outcome']) == (4, 3, 'ok')
    assert_backoff(three['gaps_s'], [2, 4, 8])
    assert (eight['attempts'], eight['retries'], eight['outcome']) == (7, 6, 'abandoned')
    assert_backoff(eight['gaps_s'], [2, 4, 8, 16, 32, 64])
    _, none = move(ex, 'failures', 0)
    assert (none['attempts'], none['gaps_s'], none['outcome']) == (1, [], 'ok')


def test_retry_backoff_does_not_count_infrastructure_failures():
    """A write batch that fails to confirm resets the object: an infrastructure failure,
    retried with the same backoff but not counted, so 8 of them in a row are followed by a
    9th attempt that succeeds, after gaps of up to 256 s."""
    ex = widgets.retry_backoff(failures=8)
    _, infra = move(ex, 'kind', 'write failure')
    assert (infra['attempts'], infra['retries'], infra['outcome']) == (9, 8, 'ok')
    assert_backoff(infra['gaps_s'], [2, 4, 8, 16, 32, 64, 128, 256])


# -- hibernation ------------------------------------------------------------------------------
def test_standard_sockets_are_billed_for_every_second():
    """10 minutes, a ping every 30 s (20) and 4 chat messages, 10 ms of CPU each. Hibernatable:
    billed only while handling them, 24 x 10 ms. Standard: in memory from the first
    connection (0.2 s, after the name's uniqueness check) to the end."""
    ex = widgets.hibernation()
    hib, std = move(ex, 'socket', 'standard')
    assert hib['messages_in'] == std['messages_in'] == 24
    assert hib['duration_gb_s'] == pytest.approx(24 * 10 * GB_S_PER_MS, abs=1e-4)
    assert std['duration_gb_s'] == pytest.approx(599.8 * 1000 * GB_S_PER_MS, abs=0.01)
    assert std['duration_gb_s'] > 2000 * hib['duration_gb_s']
    assert (hib['constructor_runs'], std['constructor_runs']) == (20, 1)


def test_the_auto_response_answers_pings_without_waking_the_room():
    """With the auto-response the 20 pings are answered by the runtime; only the 4 chat
    messages wake the room: 4 wakes after the first construction, 4 x 10 ms billed."""
    ex = widgets.hibernation()
    off, on = move(ex, 'auto_response', True)
    assert (off['auto_responses'], on['auto_responses']) == (0, 20)
    assert on['constructor_runs'] == 1 + 4
    assert on['duration_gb_s'] == pytest.approx(4 * 10 * GB_S_PER_MS, abs=1e-4)
    assert on['hibernated_pct'] > off['hibernated_pct']


def test_a_room_idle_for_less_than_ten_seconds_never_hibernates():
    """An idle hibernatable room hibernates after 10 s. Messages every 5 s come sooner: the
    constructor runs once, however many messages there are."""
    ex = widgets.hibernation()
    _, busy = move(ex, 'idle_gap_s', 5)
    assert busy['constructor_runs'] == 1
    assert busy['hibernated_pct'] == 0.0


# -- input gates ------------------------------------------------------------------------------
def test_a_sleep_between_read_and_write_loses_updates():
    """Five requests at once. Without a wait, each reads and writes before the next starts:
    nothing is lost. A sleep opens the input gate: all five read n = 1 and write 2, so four of
    the five increments (and four of the six counting the warm-up) are lost."""
    ex = widgets.gates(sleep_ms=0)
    safe, racy = move(ex, 'sleep_ms', 10)
    assert (safe['answered'], safe['stored_n'], safe['lost_updates']) == (6, 6, 0)
    assert (racy['answered'], racy['stored_n'], racy['lost_updates']) == (6, 2, 4)
    assert (safe['most_in_progress'], racy['most_in_progress']) == (1, 5)


def test_cpu_work_keeps_the_gate_closed():
    """``dosim.compute`` keeps the input gate closed: the five run one after another, 10 ms
    each, and nothing is lost -- the last one waits 40 ms more."""
    ex = widgets.gates()
    racy, computed = move(ex, 'await_kind', 'compute')
    assert computed['lost_updates'] == 0
    assert computed['most_in_progress'] == 1
    assert racy['lost_updates'] == 4
    assert computed['burst_p50_ms'] == pytest.approx(racy['burst_p50_ms'] + 20, abs=0.5)


def test_more_concurrency_loses_more():
    ex = widgets.gates()
    _, twenty = move(ex, 'concurrency', 20)
    assert (twenty['answered'], twenty['stored_n'], twenty['lost_updates']) == (21, 2, 19)


# -- latency between objects ------------------------------------------------------------------
def one_way(a: str, b: str) -> float:
    locs = geo.load_locations()
    return geo.one_way_ms(locs[a], locs[b])


def test_a_spread_fan_out_waits_for_the_farthest_agent():
    """Agents hinted to every region: agent i goes to region i (sam to enam). The relay
    answers when the last agent has, so its caller waits at least the round trip to the
    farthest agent -- from IAD, Jakarta (CGK)."""
    ex = widgets.object_latency()
    near, spread = move(ex, 'agents_hint', 'spread')
    assert near['agents_at'] == ['IAD']
    assert near['relay_at'] == 'IAD'
    assert spread['agents_at'] == ['SJC', 'IAD', 'LHR', 'WAW', 'SIN', 'NRT', 'CGK']
    farthest = max(one_way('IAD', at) for at in spread['agents_at'])
    assert farthest == one_way('IAD', 'CGK')
    assert spread['max_relay_agent_ms'] >= 2 * farthest
    assert spread['p50_client_relay_ms'] >= 2 * farthest > 10 * near['p50_client_relay_ms']


def test_a_hint_far_from_the_client_adds_the_distance_twice():
    """A relay hinted to weur (LHR) for a client in IAD: every call crosses the Atlantic both
    ways, on top of the fan-out to agents placed next to the relay."""
    ex = widgets.object_latency(fan_out=2)
    local, far = move(ex, 'relay_hint', 'weur')
    assert far['relay_at'] == 'LHR'
    assert far['agents_at'] == ['LHR']
    extra = 2 * (one_way('IAD', 'LHR') - one_way('IAD', 'IAD'))
    assert far['p50_client_relay_ms'] - local['p50_client_relay_ms'] == pytest.approx(extra,
                                                                                      abs=1.0)


# -- failure scenarios ------------------------------------------------------------------------
def test_a_reset_fails_the_call_in_progress_and_starts_an_incarnation():
    """At 20 s the call sent at 19.75 s is waiting for its outside API: the reset fails it,
    and the next call constructs the object again (incarnation 2). A latency spike instead
    resets nothing and fails nothing: it adds its extra to the messages both ways."""
    ex = widgets.failure_scenarios()
    reset, spike = move(ex, 'fault', 'latency_spike')
    assert (reset['errors'], reset['incarnations']) == (1, 2)
    assert (spike['errors'], spike['incarnations']) == (0, 1)
    assert spike['max_after_ms'] == pytest.approx(spike['p50_before_ms'] + 2 * 200, abs=1.0)
    _, larger = move(ex, 'extra_ms', 300)
    assert larger['max_after_ms'] == pytest.approx(larger['p50_before_ms'] + 2 * 300, abs=1.0)


def test_a_partition_fails_every_call_across_it():
    """Between 20 s and 30 s nothing crosses weur | enam: the 10 calls sent then fail, and so
    does the one sent at 19.75 s, whose reply leaves at 20.1 s. Twice as long, 21 fail."""
    ex = widgets.failure_scenarios(fault='partition')
    ten, twenty = move(ex, 'length_s', 20)
    assert (ten['errors'], twenty['errors']) == (11, 21)
    assert ten['incarnations'] == twenty['incarnations'] == 1


def test_an_alarm_failover_delays_the_next_alarm():
    """The alarm scheduled after 20 s is delivered 30 s late (plus its usual 1-5 ms)."""
    ex = widgets.failure_scenarios(fault='alarm_failover', length_s=30)
    assert 30 < ex.summary['max_alarm_late_s'] < 30.01
    assert ex.summary['errors'] == 0


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(('factory', 'kwargs', 'error', 'message'), [
    (widgets.alarm_loop, {'interval_s': 0}, ValueError, r'alarm_loop\(interval_s\).*got 0'),
    (widgets.alarm_loop, {'policy': 'ignore'}, ValueError, r"alarm_loop\(policy\).*'ignore'"),
    (widgets.alarm_loop, {'intervall_s': 5}, TypeError, r"unknown control 'intervall_s'"),
    (widgets.retry_backoff, {'failures': 2.5}, TypeError, r'retry_backoff\(failures\).*2\.5'),
    (widgets.hibernation, {'auto_response': 'yes'}, TypeError,
     r"hibernation\(auto_response\).*'yes'"),
    (widgets.gates, {'concurrency': True}, TypeError, r'gates\(concurrency\).*True'),
    (widgets.object_latency, {'client': 'XXX'}, ValueError, r"object_latency\(client\).*'XXX'"),
    (widgets.failure_scenarios, {'fault': 'meteor'}, ValueError,
     r"failure_scenarios\(fault\).*'meteor'"),
    (widgets.gates, {'seed': -1}, ValueError, r'gates\(seed\).*-1'),
    (widgets.gates, {'debounce_s': -0.1}, ValueError, r'gates\(debounce_s\).*-0\.1'),
])
def test_bad_values_are_refused_by_name(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        factory(**kwargs)


def test_set_checks_every_value_before_running():
    ex = widgets.gates()
    with pytest.raises(ValueError, match=r'gates\(sleep_ms\).*got 99'):
        ex.set(concurrency=3, sleep_ms=99)
    assert ex.runs == 1
    assert ex.values['concurrency'] == 5
    ex.set(concurrency=3, sleep_ms=0)
    assert ex.runs == 2
    assert ex.summary['lost_updates'] == 0


# -- determinism, display, figures ------------------------------------------------------------
def test_the_same_values_and_seed_draw_the_same_picture():
    a, b = widgets.retry_backoff(seed=3), widgets.retry_backoff(seed=3)
    assert bytes(a.image.value) == bytes(b.image.value)
    assert a.summary == b.summary
    c = widgets.retry_backoff(seed=4)
    assert c.summary['gaps_s'] != a.summary['gaps_s']   # other jitter draws


def test_an_explorer_is_a_widget_with_controls_image_and_summary():
    from matplotlib._pylab_helpers import Gcf
    from matplotlib.figure import Figure

    ex = widgets.gates()
    bundle = ex._repr_mimebundle_()
    assert 'application/vnd.jupyter.widget-view+json' in bundle
    assert ex.image in ex.widget.children
    assert ex.summary_line in ex.widget.children
    assert set(ex.controls) == {'sleep_ms', 'await_kind', 'concurrency'}
    assert ex.controls['sleep_ms'].continuous_update is False
    assert 'lost updates</b> 4' in ex.summary_line.value
    assert isinstance(ex.figure, Figure)
    assert isinstance(ex.sim, dosim.Simulation)
    assert Gcf.get_num_fig_managers() == 0     # nothing left open in pyplot


# -- debouncing -------------------------------------------------------------------------------
def toy(debounce_s: float) -> Explorer:
    """A tiny explorer: the simulation runs until ``x`` ms (``x == 0`` raises)."""
    def simulate(values: dict[str, Any]) -> dosim.Simulation:
        if values['x'] == 0:
            raise ZeroDivisionError('x must not be 0')
        sim = dosim.Simulation(seed=values['seed'])
        sim.run(until=values['x'])
        return sim

    def draw(sim: dosim.Simulation, fig: Any) -> dict[str, Any]:
        fig.subplots().plot([0, sim.now], [0, 1])
        return {'now': sim.now}

    return Explorer('toy', [Number('x', 'x', 1, low=0, high=5)], simulate, draw,
                    debounce_s=debounce_s, figsize=(2, 1))


def test_changes_in_a_running_loop_are_coalesced_into_one_run():
    """In a running asyncio loop (as in a Jupyter kernel) each change restarts a timer; the
    run happens once, when the timer fires, with the last value."""
    async def scenario() -> tuple[int, bool, Explorer]:
        ex = toy(debounce_s=0.05)
        for value in (2, 3, 4):
            ex.controls['x'].value = value
        waiting = ex.runs, ex.pending
        await asyncio.sleep(0.3)   # the timer is due earlier: it fires first
        return *waiting, ex

    runs_waiting, pending, ex = asyncio.run(scenario())
    assert (runs_waiting, pending) == (1, True)
    assert (ex.runs, ex.pending) == (2, False)
    assert ex.summary == {'now': 4}


def test_reading_the_results_applies_a_waiting_change():
    """A notebook cell that sets a control and reads the result in the same breath sees the
    new run: reading ``summary`` (or ``sim``, ``figure``) does not wait for the timer."""
    async def scenario() -> tuple[int, dict[str, Any], int, bool]:
        ex = toy(debounce_s=5)
        ex.controls['x'].value = 3
        before = ex.runs
        summary = ex.summary
        return before, summary, ex.runs, ex.pending

    assert asyncio.run(scenario()) == (1, {'now': 3}, 2, False)


def test_an_error_in_a_debounced_run_is_shown_not_raised():
    """A run started by the timer has no caller to raise to: its error goes under the plot."""
    async def scenario() -> Explorer:
        ex = toy(debounce_s=0.01)
        ex.controls['x'].value = 0
        await asyncio.sleep(0.2)
        return ex

    ex = asyncio.run(scenario())
    assert ex.runs == 1
    assert ex.error == 'ZeroDivisionError: x must not be 0'
    assert 'x must not be 0' in ex.summary_line.value
    ex.controls['x'].value = 2                       # no loop: at once, and the error clears
    assert (ex.runs, ex.error, ex.summary) == (2, None, {'now': 2})
