"""The capacity exercises, checked: sharding a hot object (5) and halving a fleet's bill (6).

Like ``tests/test_edu.py`` for exercises 1-4: the starter (exactly as its notebook has it)
fails with an explanation that quotes the evidence, the reference solution passes, and each
common wrong answer of the teacher's guide (``notebooks/solutions/ex05_*.py``, ``ex06_*.py``)
fails with its own explanation.

The numbers quoted follow from the model and the prices:

* Exercise 5 runs without network jitter: a view that never queues takes 1 ms to the object,
  0.1 ms for the object's first read of a key from disk, 10 ms of bot check, 4 ms for its
  write to be confirmed (the output gate holds the reply) and 1 ms back. One object serves
  ``1000 / 10 = 100`` views/s. ``video-0`` draws ``1 / H(200, 1.1)`` = 21.3 % of the views:
  127.7 views/s of 600 -- more than any one object can serve, wherever it is routed.
* Exercise 6 prices minutes 5 to 20 of four agents and scales them to 1,000 agents and a
  30-day month (x 2,880 x 250). An agent kept in memory all the time is billed
  ``2,592,000 s x 0.128 GB-s`` a month; one alarm a minute is 43,200 requests and 43,200 rows
  written (``set_alarm``) a month. An agent that hibernates is in memory 1,528 ms a cycle:
  4 ms until its ``set_alarm`` is confirmed (the output gate holds the LLM call), 1,500 ms
  of LLM, 20 ms of CPU, 4 ms until its notes are confirmed.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import dosim
import dosim.edu
from dosim import cost
from dosim.edu import CheckResult
from dosim.edu.capacity import (
    CAPACITY_PER_S,
    FEEDS,
    VIDEOS,
    AgentBase,
    WarmAgent,
    p99,
    send_views,
    start_fleet,
)
from dosim.edu.scenario import QUIET
from tests import edu_support as edu
from tests.edu_support import EXERCISES, answer, checked, starter

NOTEBOOK = {k: edu.NOTEBOOK[k] for k in ('sharding', 'fleet_bill')}
MONTH_S = 30 * 86_400
FLEET_CYCLES = 1_000 * MONTH_S // 60   # alarms a month for the fleet: 43,200,000


def failing(result: CheckResult) -> list[str]:
    return result.scenarios.loc[~result.scenarios['passed'], 'scenario'].tolist()


def paid_total(usage: dict[str, float]) -> float:
    """The paid plan's monthly bill of *usage*, by the prices in data/pricing.yaml."""
    return float(cost.totals(cost.price(usage))['paid'])


# -- both exercises ------------------------------------------------------------------------------
@pytest.mark.parametrize('exercise', list(NOTEBOOK))
def test_the_starter_fails_and_the_solution_passes(exercise):
    bad, good = checked(exercise, 'starter'), checked(exercise)
    assert not bad.passed
    assert bad.explanation.startswith('Scenario **'), 'a failure names its scenario'
    assert not bad.evidence.empty, 'a failure shows the rows it is built on'
    assert bad.figure is not None, 'a failure draws the moment it broke'
    assert good.passed, good.explanation
    assert good.scenarios['passed'].all()
    assert len(good.scenarios) >= 2, 'a check runs several hidden scenarios'
    assert good.figure is not None


@pytest.mark.parametrize('exercise', list(NOTEBOOK))
def test_a_check_is_deterministic(exercise):
    """Same class, same scenarios, same seeds: the same verdict, word for word."""
    again = dosim.edu.check(exercise, starter(exercise))
    first = checked(exercise, 'starter')
    assert again.explanation == first.explanation
    pd.testing.assert_frame_equal(again.evidence, first.evidence)


def test_the_notebook_starters_are_the_guides_starters():
    """The solutions modules' ``Starter`` is the notebook's starter: same verdict."""
    for exercise in NOTEBOOK:
        assert checked(exercise, 'Starter').explanation == \
            checked(exercise, 'starter').explanation


# -- exercise 5: the tools -----------------------------------------------------------------------
def test_p99_is_the_nearest_rank_and_a_view_never_answered_is_infinitely_slow():
    assert p99(range(1, 101)) == 99
    assert p99([5.0] * 98 + [7.0, 9.0]) == 7.0
    assert p99([1.0] * 98 + [math.inf, math.inf]) == math.inf
    assert math.isnan(p99([]))


def test_the_hottest_video_alone_is_more_than_one_object_can_serve():
    """Zipf(200, 1.1): the share of video-0 is 1 / H(200, 1.1)."""
    harmonic = sum(k ** -1.1 for k in range(1, 201))
    assert VIDEOS.probabilities()[0] == pytest.approx(1 / harmonic)
    assert 600 / harmonic == pytest.approx(127.7, abs=0.05)
    assert 600 / harmonic > CAPACITY_PER_S == 100


def test_a_view_that_never_waits_takes_16_ms_and_is_counted():
    sim = dosim.Simulation(seed=1, config=QUIET)
    ns = sim.namespace('VIEWS', answer('sharding'))
    views = send_views(sim, ns, answer('sharding').route, ((0.0, 50.0, 100.0),))
    sim.run(until=1_000)
    assert [v['status'] for v in views] == ['ok'] * len(views)
    assert len(views) >= 1
    first = views[0]
    assert first['received_ms'] - first['sent_ms'] == pytest.approx(1 + 0.1 + 10 + 4 + 1)
    assert first['reply'] == '1'
    assert first['object'] == answer('sharding').route(first['video'], 0)


def test_a_route_that_names_no_object_is_reported_with_the_call():
    class NoName(answer('sharding')):
        @staticmethod
        def route(video, n):
            return None

    result = dosim.edu.check('sharding', NoName)
    assert not result.passed
    assert "route('video-" in result.explanation
    assert 'must return the name of an object (a non-empty string), got None' in \
        result.explanation


def test_a_counter_without_route_is_refused():
    class NoRoute(dosim.DurableObject):
        pass

    with pytest.raises(TypeError, match='needs a static method `route'):
        dosim.edu.check('sharding', NoRoute)


# -- exercise 5: the starter, the solution and the wrong answers ---------------------------------
def test_the_starter_sends_six_times_its_capacity_to_one_object():
    result = checked('sharding', 'starter')
    assert failing(result) == ['an evening: 600 views/s', 'the evening peak: 750 views/s']
    text = result.explanation
    assert 'More than 1 % of the 6,047 views were never answered' in text
    assert '4,048 were refused (`Durable Object is overloaded`)' in text
    assert '502 were still waiting 5.0 s after the traffic stopped' in text
    assert 'The busiest object, `all-videos`, was sent 604.7 views/s: 6.05 times' in text
    assert '`video-0` alone sent it 129.5 views/s' in text
    assert 'Split the hot video itself' in text
    row = result.evidence.iloc[0]
    assert (row.object, row.views_per_s, row.videos) == ('all-videos', 604.7, 199)
    assert row.p99_ms == math.inf


def test_hashing_the_videos_leaves_video_0_over_capacity_on_one_shard():
    result = checked('sharding', 'ShardByHash')
    assert failing(result) == ['an evening: 600 views/s', 'the evening peak: 750 views/s']
    text = result.explanation
    assert 'The p99 latency was 4,099.3 ms; the target is 100.0 ms' in text
    assert '`shard-15`, was sent 141.9 views/s: 1.42 times what one object can serve' in text
    assert '`video-0` alone sent it 129.5 views/s' in text, 'the same traffic as the starter'
    assert 'no number of objects can meet the target' in text
    hot = result.evidence.iloc[0]
    assert (hot.object, hot.busiest_video, hot.its_views_per_s) == ('shard-15', 'video-0', 129.5)
    assert (result.evidence['views_per_s'].iloc[1:] < CAPACITY_PER_S).all(), \
        'every other shard is below capacity'


def test_one_object_per_video_is_not_enough_for_video_0():
    result = checked('sharding', 'OnePerVideo')
    text = result.explanation
    assert 'The busiest object, `video-0`, was sent 129.5 views/s: 1.29 times' in text
    assert 'All of them were views of `video-0`' in text
    assert result.evidence['videos'].eq(1).all()


def test_a_count_in_memory_starts_over_after_hibernation():
    result = checked('sharding', 'CountInMemory')
    assert failing(result) == ['a quiet minute']
    text = result.explanation
    assert ('22 views of `video-2` were answered, but the counts the objects store under the '
            'key `video-2` add up to 8 (8 in `video-2`)') in text
    assert failing(result) == ['a quiet minute']
    assert result.scenarios['summary'].iloc[2] == 'video-2: 22 views, counted 8'
    assert 'incarnation 2' in text
    assert 'a count kept in memory starts over' in text
    ev = result.evidence
    first_burst = ev[ev['sent_ms'] < 75_000]
    second_burst = ev[ev['sent_ms'] >= 75_000]
    assert (len(first_burst), len(second_burst)) == (14, 8)
    assert second_burst['reply'].tolist() == [str(i) for i in range(1, 9)], \
        'the new instance counted from 0 again and overwrote the 14'
    # the object goes idle when its last write is confirmed (1 + 10 + 4 ms after the view
    # was sent) and hibernates 10 s later
    hibernated = first_burst['sent_ms'].max() + 15 + 10_000
    assert f'`video-2` hibernated at {hibernated / 1000:,.1f} s' in text


def test_skipping_the_bot_check_is_not_a_fix():
    result = checked('sharding', 'SkipTheBotCheck')
    assert len(failing(result)) == 3
    assert 'answered 6,047 views with 0.0 ms of CPU in all' in result.explanation
    assert 'Every view must still pass the bot check, 10 ms of CPU' in result.explanation


def test_the_solution_meets_the_target_with_headroom_and_spreading_everything_works_too():
    good = checked('sharding')
    peak = good.scenarios.set_index('scenario')['summary']['the evening peak: 750 views/s']
    assert peak == 'p99 32.2 ms'
    assert 'p99 32.2 ms at the peak' in good.explanation
    assert checked('sharding', 'SpreadEverything').passed


# -- exercise 6 ----------------------------------------------------------------------------------
def test_the_starter_bill_is_an_always_on_fleet():
    """Today's fleet: 1,000 agents in memory all month, one alarm a minute each."""
    theory = paid_total({'duration_gb_s': 1_000 * MONTH_S * 0.128,
                         'requests': FLEET_CYCLES, 'rows_written': FLEET_CYCLES})
    assert round(theory, 2) == 4_153.53
    result = checked('fleet_bill', 'starter')
    text = result.explanation
    assert 'The fleet\'s bill with your agents: $4,153.53 a month, against $4,153.53' in text
    assert 'half would be $2,076.77' in text
    assert 'Duration costs $4,142.20 a month' in text
    assert 'billed 100% of the time -- 2.5% running a handler, 97.5% idle' in text
    assert '`ctx.wait_until`' in text
    bill = result.evidence.set_index('meter')
    assert bill.loc['duration_gb_s', 'yours_usage'] == pytest.approx(331_776_000)
    assert bill.loc['total', 'yours_usd'] == 4_153.53


def test_the_starter_forgets_everything_in_a_deploy():
    result = checked('fleet_bill', 'starter')
    summaries = result.scenarios.set_index('scenario')['summary']
    assert summaries['a deploy at minute ten'] == 'agent-0 lost count at cycle 11'


def test_the_solution_bill_is_what_1528_ms_a_cycle_and_three_rows_cost():
    theory = paid_total({'duration_gb_s': FLEET_CYCLES * 1.528 * 0.128,
                         'requests': FLEET_CYCLES, 'rows_written': 3 * FLEET_CYCLES})
    result = checked('fleet_bill')
    assert f'${theory:,.2f} a month, against $4,153.53 before (\u221295%)' in result.explanation
    assert 'Duration fell from $4,142.20 to $100.62' in result.explanation
    assert checked('fleet_bill', 'NotesInOneRow').passed


def test_a_longer_interval_breaks_the_period():
    result = checked('fleet_bill', 'EveryTwoMinutes')
    assert len(failing(result)) == 2
    text = result.explanation
    assert 'agent-0 started a cycle at 120.2 s, 120.0 s after the one at 0.2 s' in text
    assert 'the median period was 120.0 s' in text
    assert result.evidence['period_s'].dropna().round(0).eq(120).all()


def test_an_agent_that_hibernates_forgets_its_count():
    result = checked('fleet_bill', 'LetItSleep')
    text = result.explanation
    assert "agent-0's cycle 1 (at 60.2 s) read `feed-00`, but cycle 1 must read `feed-01`" in text
    # idle when the 20 ms of CPU ends and its write is confirmed, hibernated 10 s later
    assert 'it hibernated at 11.7 s' in text
    assert 'incarnation 2' in text


def test_every_note_every_cycle_costs_more_in_rows_than_it_saves():
    theory = paid_total({'duration_gb_s': FLEET_CYCLES * 1.528 * 0.128,
                         'requests': FLEET_CYCLES, 'rows_written': 102 * FLEET_CYCLES})
    result = checked('fleet_bill', 'EveryNoteEveryCycle')
    text = result.explanation
    assert f'${theory:,.2f} a month, against $4,153.53 before (+8%)' in text
    assert 'Rows written cost $4,356.40 a month: 102 rows a cycle' in text


def test_polling_every_second_pays_for_60_alarms_a_cycle():
    result = checked('fleet_bill', 'PollEverySecond')
    text = result.explanation
    assert '3,560 alarms in the 15 minutes measured for 60 cycles -- 59 a cycle' in text
    assert 'one every 1.0 s: they poll' in text
    assert '($384.33 a month)' in text


def test_polling_to_stay_warm_passes_the_bill_and_fails_the_deploy():
    result = checked('fleet_bill', 'PollToStayWarm')
    assert failing(result) == ['a deploy at minute ten']
    assert 'the code deploy at 607.0 s restarted it' in result.explanation


def test_an_agent_that_counts_in_storage_but_keeps_notes_in_memory_forgets_them():
    class NotesInMemory(answer('fleet_bill')):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.notes = {}

        def alarm(self, alarm_info):
            st = self.ctx.storage
            yield st.set_alarm(dosim.now() + 60_000)
            cycle = (yield st.get('cycle')) or 0
            feed = FEEDS[cycle % len(FEEDS)]
            self.notes[feed] = yield from self.think(feed)
            st.put('cycle', cycle + 1)

        def memory(self):
            return self.notes

    result = dosim.edu.check('fleet_bill', NotesInMemory)
    assert "memory()` said `feed-00` is None, but it read `feed-00` at 0.2 s" in \
        result.explanation
    assert 'it hibernated at' in result.explanation


def test_an_agent_must_extend_the_agent_base_and_think_is_logged():
    with pytest.raises(TypeError, match=r'must subclass dosim\.edu\.capacity\.AgentBase'):
        dosim.edu.check('fleet_bill', dosim.DurableObject)
    sim = dosim.Simulation(seed=1)
    agent, names, failed = start_fleet(sim, WarmAgent, 2, 15_000)
    sim.run(until=70_000)
    assert issubclass(agent, AgentBase)
    assert names == ['agent-0', 'agent-1']
    assert failed == {}
    log = pd.DataFrame(agent.log)
    assert log['feed'].tolist() == ['feed-00', 'feed-00', 'feed-01']
    # the LLM call leaves once the alarm's set_alarm is confirmed (4 ms: the output gate)
    assert (log['done_ms'] - log['started_ms']).round(6).eq(4 + 1_500 + 20).all()
    assert log['summary'].iloc[0] == 'feed-00: the news of minute 0'


# -- the notebooks, the report, and a student's code that breaks things -------------------------
def test_every_capacity_notebook_has_one_starter_and_one_check_cell():
    for exercise, name in NOTEBOOK.items():
        nb = json.loads((EXERCISES / f'{name}.ipynb').read_text(encoding='utf-8'))
        sources = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']
        checks = [s for s in sources if f"dosim.edu.check('{exercise}'" in s]
        assert len(checks) == 1, f'{name}: one check cell'
        assert sources.index(checks[0]) == len(sources) - 1, f'{name}: the check comes last'


def test_a_bill_report_shows_the_bill_table_and_the_figure():
    page = checked('fleet_bill', 'starter')._repr_html_()
    assert 'Exercise 6: half the bill, same minute: ❌ not yet' in page
    assert page.count('<table') == 2            # the scenarios, the bill by meter
    assert '<img alt="figure" src="data:image/png;base64,' in page


def test_a_counter_whose_handler_raises_says_which_view_failed_and_how():
    class Broken(answer('sharding')):
        def fetch(self, request):
            raise ValueError('no such video')

    result = dosim.edu.check('sharding', Broken)
    assert result.scenarios['summary'].str.endswith('views failed').all()
    assert 'The first, view 0 of `video-79` (sent to `video-79` at 0.4 ms), got `no such video`' \
        in result.explanation
    assert 'A view must be answered: fix the handler, then the load.' in result.explanation


def test_an_agent_without_start_or_memory_is_told_so():
    class NoStart(AgentBase):
        pass

    result = dosim.edu.check('fleet_bill', NoStart)
    assert result.scenarios['summary'].eq('start() failed').all()
    assert '`start()` of agent-0 failed with' in result.explanation

    class NoMemory(answer('fleet_bill')):
        memory = None

    result = dosim.edu.check('fleet_bill', NoMemory)
    assert "agent-0's `memory()` failed with" in result.explanation
    assert 'it must return a dict from feed to the latest summary of it' in result.explanation
