"""The timeline, message and cost plots of ``dosim.plot``: each figure holds exactly what the
frames say -- one bar per lifecycle interval, one marker per alarm attempt, one label per
backoff gap, one line per message, one bar per meter and namespace -- and saves as a PNG.

The simulations are small and run once per module; every expected number is computed here
from the frames, independently of the plotting code.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import dosim
from dosim import plot, plot_messages, plot_timelines
from dosim.models import AgentLoop, ChatRoom
from tests.conftest import fire, make_sim

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


# -- simulations ------------------------------------------------------------------------------
def loop_sim(failure_rate: float, minutes: float = 30, seed: int = 4) -> dosim.Simulation:
    """One agent loop with a 10 s interval whose cycles fail at *failure_rate*, rethrown."""
    sim = make_sim(seed=seed)
    ns = sim.namespace('AGENTS', AgentLoop.configure(
        loop_interval_ms=10_000, failure_rate=failure_rate, policy='rethrow'))

    def start():
        yield ns.get_by_name('agent-1').start_loop()

    sim.process(start())
    sim.run(until=minutes * 60_000)
    return sim


@pytest.fixture(scope='module')
def flaky() -> dosim.Simulation:
    return loop_sim(0.25, minutes=8)


@pytest.fixture(scope='module')
def doomed() -> dosim.Simulation:
    """Every cycle fails: the first alarm is retried 6 times, then abandoned."""
    return loop_sim(1.0, minutes=5)


@pytest.fixture(scope='module')
def chat() -> dosim.Simulation:
    """Two rooms; users talk every 25 s, so the rooms hibernate and wake between messages."""
    sim = make_sim(seed=2)
    rooms = sim.namespace('ROOMS', ChatRoom)

    def user(room, i):
        ws = yield from dosim.connect_websocket(rooms.get_by_name(room), f'https://r/?name={i}')
        for _ in range(4):
            yield sim.timeout(25_000)
            ws.send('hi')
        ws.close()

    for room in ('lobby', 'den'):
        for i in range(2):
            sim.process(user(room, i))
    sim.run(until=200_000)
    return sim


class Back(dosim.DurableObject):
    def work(self):
        yield dosim.compute(2)
        return 'done'


class Front(dosim.DurableObject):
    def fetch(self, request):
        return dosim.Response((yield self.env.BACK.get_by_name('b').work()))


class Slow(dosim.DurableObject):
    def fetch(self, request):
        yield dosim.compute(20)
        return dosim.Response('ok')


@pytest.fixture(scope='module')
def busy() -> dosim.Simulation:
    """A front object calling a back object (4 messages a request), and a slow object
    receiving more than it can serve (20 ms of CPU per request, one every 15 ms)."""
    sim = make_sim(seed=3)
    front = sim.namespace('FRONT', Front).get_by_name('f')
    sim.namespace('BACK', Back)
    slow = sim.namespace('SLOW', Slow).get_by_name('s')
    calls = [(i * 5.0, lambda: front.fetch('https://do/x')) for i in range(1500)]
    calls += [(i * 15.0, lambda: slow.fetch('https://do/x')) for i in range(300)]
    fire(sim, calls)
    return sim


def save_png(ax, tmp_path, name: str) -> None:
    path = tmp_path / f'{name}.png'
    ax.figure.savefig(path, dpi=80)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000  # a drawn figure, not an empty canvas


# -- lifecycle --------------------------------------------------------------------------------
def state_bars(ax) -> list[tuple[str, float, float]]:
    """Every lifecycle bar drawn: (colour, start s, width s), from the per-state collections."""
    bars = []
    for coll in ax.collections:
        if str(coll.get_gid()).startswith('state:'):
            colour = to_hex(coll.get_facecolor()[0])
            for path in coll.get_paths():
                xs = path.vertices[:, 0]
                bars.append((colour, xs.min(), xs.max() - xs.min()))
    return bars


def test_lifecycle_has_one_bar_per_interval_in_its_states_colour(chat, tmp_path):
    frame = chat.trace.lifecycle
    assert {'hibernated', 'idle_hibernatable', 'active'} <= set(frame['state'])
    ax = plot.lifecycle_timeline(chat)
    assert isinstance(ax.figure, Figure)
    bars = state_bars(ax)
    assert len(bars) == len(frame)
    drawn = pd.Series([colour for colour, _x, _w in bars]).value_counts()
    wanted = frame['state'].map(lambda s: plot.LIFECYCLE_STATES[s].lower()).value_counts()
    pd.testing.assert_series_equal(drawn.sort_index(), wanted.sort_index(), check_names=False)
    spans = sorted((round(x * 1000, 6), round(w * 1000, 6)) for _c, x, w in bars)
    assert spans == sorted(zip((frame['start_ms']).round(6),
                               (frame['end_ms'] - frame['start_ms']).round(6), strict=True))
    assert ax.get_xlabel() == 'time (s)'
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(frame['state']) | {'new incarnation'} == set(legend)
    save_png(ax, tmp_path, 'lifecycle')


def test_lifecycle_ticks_each_incarnation_and_filters_objects(chat):
    frame = chat.trace.lifecycle
    den = frame[frame['object'] == 'den']
    ax = plot.lifecycle_timeline(chat.trace.lifecycle, objects=['den'])
    assert len(state_bars(ax)) == len(den)
    assert [t.get_text() for t in ax.get_yticklabels()] == ['ROOMS/den']
    (ticks,) = [c for c in ax.collections if c.get_gid() == plot_timelines.TICK_GID]
    starts = den.groupby('incarnation')['start_ms'].min()
    assert len(starts) > 1  # it woke up at least once
    assert sorted(seg[0][0] for seg in ticks.get_segments()) == pytest.approx(
        sorted(starts / 1000))


# -- alarms -----------------------------------------------------------------------------------
def attempt_offsets(ax) -> np.ndarray:
    gid = plot_timelines.ATTEMPT_GID
    return np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == gid])


def gap_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == plot_timelines.GAP_GID]


def test_alarm_timeline_has_one_marker_per_attempt_and_labels_each_gap(flaky, tmp_path):
    alarms = flaky.trace.alarms
    assert {'ok', 'error'} <= set(alarms['outcome'])
    ax = plot.alarm_timeline(flaky, object='agent-1')
    offsets = attempt_offsets(ax)
    assert len(offsets) == len(alarms)
    assert sorted(offsets[:, 0]) == pytest.approx(sorted(alarms['fired_ms'] / 1000))
    late = (alarms['fired_ms'] - alarms['scheduled_ms']) / 1000
    assert sorted(offsets[:, 1]) == pytest.approx(sorted(late))
    retried = alarms[alarms['next_attempt_ms'].notna()]
    gaps = retried['next_attempt_ms'] - retried['done_ms']
    assert 0 < len(gaps) == (alarms['outcome'] == 'error').sum() <= 30  # all labelled
    assert gap_texts(ax) == [f'{g / 1000:.1f} s' for g in gaps]
    assert 'retries' in ax.get_title()
    assert ax.get_ylabel() == 'behind schedule (s)'
    save_png(ax, tmp_path, 'alarms')


def test_alarm_timeline_marks_abandonment_after_the_7th_failure(doomed):
    alarms = doomed.trace.alarms
    assert alarms['outcome'].tolist() == ['error'] * 6 + ['abandoned']
    ax = plot.alarm_timeline(alarms)
    assert len(attempt_offsets(ax)) == 7
    assert [t.get_text() for t in ax.texts].count('abandoned') == 1
    retried = alarms[alarms['next_attempt_ms'].notna()]
    assert gap_texts(ax) == [f'{g / 1000:.1f} s'
                             for g in retried['next_attempt_ms'] - retried['done_ms']]
    assert gap_texts(ax)[0].startswith('2.')  # the first backoff: 2 s plus jitter
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {'error', 'abandoned', 'backoff gap'} <= set(legend)


def test_alarm_timeline_labels_only_the_longest_gaps_when_asked(flaky):
    alarms = flaky.trace.alarms
    retried = alarms[alarms['next_attempt_ms'].notna()]
    gaps = (retried['next_attempt_ms'] - retried['done_ms']).to_numpy()
    ax = plot.alarm_timeline(flaky, max_labels=3)
    assert sorted(gap_texts(ax)) == sorted(f'{g / 1000:.1f} s' for g in np.sort(gaps)[-3:])
    assert 'longest 3 labelled' in ax.get_title()


def test_alarm_timeline_refuses_an_unknown_object(flaky):
    with pytest.raises(ValueError, match="no rows for object 'nobody'"):
        plot.alarm_timeline(flaky, object='nobody')


# -- loop timing ------------------------------------------------------------------------------
def test_loop_timing_draws_every_period_in_both_panels(flaky, tmp_path):
    alarms = flaky.trace.alarms
    ok = alarms[alarms['outcome'] == 'ok']
    periods = ok['fired_ms'].diff().dropna().to_numpy() / 1000
    hist_ax, time_ax = plot.loop_timing(flaky, interval_ms=10_000)
    assert hist_ax.figure is time_ax.figure
    assert sum(p.get_height() for p in hist_ax.patches) == len(periods)
    (line,) = [ln for ln in time_ax.get_lines() if ln.get_label() == 'period ending here']
    assert line.get_ydata() == pytest.approx(periods)
    assert line.get_xdata() == pytest.approx(ok['fired_ms'].to_numpy()[1:] / 1000)
    for ax in (hist_ax, time_ax):
        nominal = [ln for ln in ax.get_lines() if ln.get_label() == 'nominal interval 10 s']
        assert len(nominal) == 1
    assert periods.min() >= 10  # the interval, plus the cycle and delivery
    assert periods.max() > 12  # a failure's backoff lengthened this one
    save_png(hist_ax, tmp_path, 'loop')


def test_loop_timing_draws_into_given_axes(flaky):
    fig = Figure()
    a, b = fig.subplots(1, 2)
    assert plot.loop_timing(flaky, axes=(a, b)) == (a, b)
    single = Figure().subplots()
    assert plot.loop_timing(flaky.trace.alarms, ax=single) is single
    assert single.get_title() == 'Loop period over time'


# -- queue depth ------------------------------------------------------------------------------
def count_open(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> np.ndarray:
    return ((starts[None, :] <= at[:, None]) & (ends[None, :] > at[:, None])).sum(axis=1)


def test_queue_depth_steps_match_the_requests_frame(busy, tmp_path):
    reqs = busy.trace.requests
    mine = reqs[reqs['object'] == 's']
    arrived, started = mine['arrived_ms'].to_numpy(), mine['started_ms'].to_numpy()
    done = mine['handler_done_ms'].to_numpy()
    ax = plot.queue_depth(busy, 's', threshold=20)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for label, (starts, ends) in {'waiting': (arrived, started),
                                  'in progress': (started, done)}.items():
        at = np.unique(np.concatenate([starts, ends]))  # every time the count changes
        x, y = lines[label].get_xdata(), lines[label].get_ydata()
        assert x[1:] == pytest.approx(at / 1000)
        assert y[0] == 0
        assert y[1:] == pytest.approx(count_open(starts, ends, at))
    assert max(lines['waiting'].get_ydata()) > 20  # a queue built up
    assert max(lines['in progress'].get_ydata()) == 1  # one event at a time
    assert list(lines['overload threshold (20)'].get_ydata()) == [20, 20]
    twin = next(a for a in ax.figure.axes if a is not ax)
    (stairs,) = twin.patches
    assert stairs.get_data().values.sum() == len(mine)
    save_png(ax, tmp_path, 'queue')


# -- space-time -------------------------------------------------------------------------------
def message_segments(ax) -> list:
    gid = plot_messages.MESSAGE_GID
    return [s for c in ax.collections if c.get_gid() == gid for s in c.get_segments()]


def messages_in(reqs: pd.DataFrame, start: float, end: float, objects: set[str]) -> int:
    """Requests and replies sent in [start, end] to or from *objects*, counted by hand."""
    n = 0
    for r in reqs.itertuples():
        if r.caller not in objects and r.object not in objects:
            continue
        n += start <= r.sent_ms <= end and not np.isnan(r.arrived_ms)
        left = r.released_ms if not np.isnan(r.released_ms) else r.handler_done_ms
        n += start <= left <= end and not np.isnan(r.received_ms)
    return n


def test_space_time_draws_one_line_per_message_in_the_window(busy, tmp_path):
    reqs = busy.trace.requests
    expected = messages_in(reqs, 100, 160, {'f', 'b'})
    assert expected > 30
    ax = plot.space_time(busy, start_ms=100, end_ms=160, objects=['f', 'b'])
    segments = message_segments(ax)
    assert len(segments) == expected
    assert [t.get_text() for t in ax.get_xticklabels()] == ['client', 'f', 'b']
    assert ax.get_title() == f'Space-time diagram: {expected:,} messages'
    assert ax.get_ylabel() == 'time (ms)'
    assert ax.yaxis_inverted()
    save_png(ax, tmp_path, 'space_time')


def test_space_time_samples_large_runs_reproducibly(busy, tmp_path):
    total = messages_in(busy.trace.requests, -np.inf, np.inf, {'f', 'b', 's'})
    assert total > 6_000
    ax = plot.space_time(busy)
    assert len(message_segments(ax)) == 2_000
    assert ax.get_title() == f'Space-time diagram: sampled 2,000 of {total:,} messages'
    again = plot.space_time(busy.trace.requests)
    assert all(np.array_equal(a, b) for a, b in zip(message_segments(ax),
                                                    message_segments(again), strict=True))
    small = plot.space_time(busy, max_messages=50)
    assert len(message_segments(small)) == 50
    assert 'sampled 50 of' in small.get_title()
    save_png(ax, tmp_path, 'space_time_sampled')


# -- cost -------------------------------------------------------------------------------------
def test_cost_bars_are_the_meter_sums_per_namespace(busy, tmp_path):
    sums = busy.meters.groupby('namespace')[list(plot.COST_METERS)].sum()
    ax = plot.cost_breakdown(busy)
    for meter in plot.COST_METERS:
        bars = [p for p in ax.patches if p.get_gid() == meter]
        assert [b.get_height() for b in bars] == pytest.approx(sums[meter].tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(sums.index)
    assert ax.get_yscale() == 'log'  # 1,500 requests vs a fraction of a GB-s
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert 'duration_gb_s (GB-s)' in legend
    save_png(ax, tmp_path, 'cost')


def test_cost_axis_is_linear_within_three_decades():
    meters = pd.DataFrame({'namespace': ['A', 'B'], **{m: [10.0, 20.0]
                                                       for m in plot.COST_METERS}})
    ax = plot.cost_breakdown(meters)
    assert ax.get_yscale() == 'linear'
    assert len(ax.patches) == 2 * len(plot.COST_METERS)


def test_plots_never_change_the_backend(chat):
    before = matplotlib.get_backend()
    plot.lifecycle_timeline(chat)
    plot.cost_breakdown(chat)
    assert matplotlib.get_backend() == before
