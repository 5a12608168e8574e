"""The checks of the exercises, checked: they fail the starter, pass the solution, and say why.

Each exercise notebook (``notebooks/exercises/``) holds a starter class in the cell tagged
``starter``; its reference solution and the common wrong answers the teacher's guide lists live
in ``notebooks/solutions/``. ``dosim.edu.check(name, cls)`` runs hidden scenarios with fixed
seeds. These tests hold every check to its promise:

* the starter, exactly as the notebook has it, fails -- with an explanation that names the
  evidence (request ids, times, values) rather than just "failed";
* the reference solution passes every scenario;
* each common wrong answer fails with *its own* explanation, not a generic one;
* bad calls fail loudly and name what was wrong; a student's bug never crashes a check.

The exact numbers quoted follow from the model. In exercise 1 (QUIET config: 1 ms each way,
0.1 ms for a first read from disk, likes sent 2 ms apart), like #1 arrives at 1.0 ms, reads,
and waits 30 ms for the spam filter from 1.1 ms: it writes at 31.1 ms; like #2 arrives at
3.0 ms, reads the cached ``likes`` (0) at once and writes at 33.0 ms -- the same value, 1.
In exercise 4 a standard-socket room is billed from its first connection (201.0 ms: 1 ms of
network after the 200 ms uniqueness check) to the end of the half hour: 1,799.799 s at
128 MB = 230.4 GB-s.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dosim
import dosim.edu
from dosim.edu import CheckResult, ExerciseFailedError
from tests import edu_support as edu
from tests.edu_support import EXERCISES, answer, checked, starter

NOTEBOOK = {k: edu.NOTEBOOK[k]
            for k in ('lost_update', 'idempotent_loop', 'timers', 'hibernation')}


def failing(result: CheckResult) -> list[str]:
    return result.scenarios.loc[~result.scenarios['passed'], 'scenario'].tolist()


# -- every exercise ------------------------------------------------------------------------------
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


@pytest.mark.parametrize('exercise', list(NOTEBOOK))
def test_a_check_is_deterministic(exercise):
    """Same class, same scenarios, same seeds: the same verdict, word for word."""
    again = dosim.edu.check(exercise, starter(exercise))
    first = checked(exercise, 'starter')
    assert again.explanation == first.explanation
    pd.testing.assert_frame_equal(again.evidence, first.evidence)


# -- exercise 1 ----------------------------------------------------------------------------------
def test_lost_update_names_the_two_requests_and_the_fetch_between_read_and_write():
    result = checked('lost_update', 'starter')
    assert failing(result) == ['burst: 8 likes in 14 ms', 'stream of 40 likes']
    text = result.explanation
    assert '8 likes to `post-1` were answered, but storage holds `likes=1`' in text
    assert '7 updates were lost' in text
    assert 'Requests #1 and #2 both wrote `likes=1`' in text
    assert '#2 read `likes` at 3.0 ms, before #1 wrote its update at 31.1 ms' in text
    assert 'then wrote at 33.0 ms and overwrote it' in text
    assert '`fetch_external` (30 ms, from 3.0 ms)' in text
    assert 'opens the input gate' in text
    ev = result.evidence
    assert ev['wrote'].tolist() == [1] * 8
    assert ev['reply'].tolist() == ['1'] * 8


def test_lost_update_other_fixes_pass_too():
    assert checked('lost_update', 'ReReadAfterFetch').passed


def test_awaiting_the_put_loses_the_same_likes():
    """Awaiting the write changes when it is confirmed, not what was read."""
    result = checked('lost_update', 'AwaitedPut')
    assert 'Requests #1 and #2 both wrote `likes=1`' in result.explanation


def test_a_count_in_memory_starts_over_after_hibernation():
    result = checked('lost_update', 'CountInMemory')
    assert failing(result) == ['two posts, two quiet minutes']
    text = result.explanation
    assert 'storage holds `likes=6`: 6 updates were lost' in text
    assert 'Request #13 wrote `likes=1` after #11 had written `likes=6`' in text
    assert 'incarnation 2' in text
    assert 'the object hibernated at 13.0 s' in text        # last like at 3.0 s, + 10 s idle
    assert 'read it from storage' in text


def test_dropping_the_spam_filter_is_not_a_fix():
    result = checked('lost_update', 'NoSpamCheck')
    assert '8 of 8 likes never went through the spam filter' in result.explanation


def test_a_failing_handler_is_reported_not_raised():
    class Broken(dosim.DurableObject):
        def fetch(self, request):
            raise KeyError('likes')

    result = dosim.edu.check('lost_update', Broken)
    assert not result.passed
    assert 'Request #1 to `post-1` failed with' in result.explanation
    assert "KeyError: 'likes'" in result.explanation


# -- exercise 2 ----------------------------------------------------------------------------------
def test_the_starter_mails_a_digest_twice_after_a_failed_llm_step():
    result = checked('idempotent_loop', 'starter')
    assert failing(result) == ['flaky LLM', 'crash after sending', 'five-minute outage',
                               'all at once']
    text = result.explanation
    assert 'Digest #3 was delivered twice: at 122.0 s and again at 124.9 s' in text
    assert 'failed with `the model timed out summarising digest #3`' in text
    assert 'the runtime retried the alarm at 124.9 s' in text
    assert 'Neither send carried an idempotency key' in text
    ev = result.evidence
    threes = ev[ev['digest'] == 3]
    assert threes['result'].tolist() == ['delivered', 'delivered']
    assert threes['attempt_outcome'].tolist() == ['error', 'ok']
    assert threes['attempt_retry_count'].tolist() == [0, 1]


def test_a_key_without_a_surviving_loop_dies_in_the_outage():
    result = checked('idempotent_loop', 'KeyButNoSurvival')
    assert failing(result) == ['five-minute outage']
    text = result.explanation
    assert 'The loop stopped' in text
    assert 'The alarm was abandoned at 325.6 s after 7 failed attempts' in text
    assert '503 Service Unavailable' in text
    assert 'set the next alarm whatever happens' in text


def test_a_key_from_the_clock_differs_between_attempts():
    result = checked('idempotent_loop', 'ClockKey')
    text = result.explanation
    assert 'Digest #3 was delivered twice' in text
    assert "different keys ('digest-1767225720216' and 'digest-1767225780217')" in text
    assert 'the alarm you had set for the next cycle ran at 180.2 s' in text


def test_a_mark_after_sending_misses_a_crash_before_the_mark():
    result = checked('idempotent_loop', 'MarkAfterSending')
    assert failing(result) == ['crash after sending', 'all at once']
    text = result.explanation
    assert 'The object was reset at 120.2 s while the alarm run that sent it was still ' \
           "waiting for the provider's answer" in text


def test_a_mark_before_sending_loses_a_refused_digest():
    result = checked('idempotent_loop', 'MarkBeforeSending')
    assert failing(result)[0] == 'refused sends'
    text = result.explanation
    assert 'Digest #2 was never delivered' in text
    assert 'The provider refused digest #2 at 60.2 s' in text
    assert 'the next digest sent was #3' in text


def test_the_agent_must_extend_the_digest_base():
    class Plain(dosim.DurableObject):
        pass

    with pytest.raises(TypeError, match=r'Plain must subclass dosim\.edu\.mail\.DigestAgentBase'):
        dosim.edu.check('idempotent_loop', Plain)


# -- exercise 3 ----------------------------------------------------------------------------------
def test_the_starter_lets_a_later_timer_hide_an_earlier_one():
    result = checked('timers', 'starter')
    assert failing(result) == ['three reminders', 'heartbeat every second', 'cancel and move',
                               'thirty random timers']
    text = result.explanation
    assert "Timer 'standup' was due at 10.500 s but fired at 60.50" in text
    assert '50.0 s late' in text
    assert "after `schedule('lunch', 60.5 s)`, `get_alarm()` was 60.500 s, but the earliest " \
           'due timer was at 10.500 s' in text
    ev = result.evidence
    assert ev['timer'].tolist() == ['standup', 'report']
    assert ev['verdict'].tolist() == ['late', 'late']


def test_a_repeating_timer_counted_from_now_drifts():
    result = checked('timers', 'DriftingRepeat')
    assert failing(result)[0] == 'heartbeat every second'
    text = result.explanation
    assert "Timer 'tick' (every 1 s) drifts" in text
    assert 'not from `now()`' in text
    late = result.evidence['late_ms']
    assert (late > 100).all()
    assert late.is_monotonic_increasing


def test_a_cancel_must_move_the_alarm():
    result = checked('timers', 'CancelWithoutRearm')
    assert "after `cancel('tick')`, `get_alarm()` was 120.500 s, but no timer was pending" \
        in result.explanation


def test_after_an_alarm_the_next_timer_needs_the_alarm():
    result = checked('timers', 'NoRearmAfterAlarm')
    text = result.explanation
    assert "Timer 'report' was due at 30.500 s and never fired" in text
    assert 'At 20 s, `get_alarm()` was None' in text


def test_timer_plans_know_when_timers_are_due():
    """The checker's own model: a new schedule moves a timer, a cancel ends it."""
    from dosim.edu.timers import Op, Plan

    plan = Plan('p', 1, True, 60_000, (
        Op(0, 'schedule', 'a', 10_000), Op(0, 'schedule', 'r', 5_000, 20_000),
        Op(1_000, 'schedule', 'a', 30_000), Op(30_000, 'cancel', 'r')))
    assert plan.dues() == {'a': [30_000], 'r': [5_000, 25_000]}
    assert plan.earliest(500) == 5_000            # 'a' still at 10 s then, 'r' at 5 s
    assert plan.earliest(26_000) == 30_000
    assert plan.earliest(31_000) is None


# -- exercise 4 ----------------------------------------------------------------------------------
def test_the_starter_room_never_hibernates_and_is_billed_all_along():
    result = checked('hibernation', 'starter')
    assert failing(result) == ['three friends, half an hour', 'come and go']
    text = result.explanation
    assert 'During the 3-minute pause from 5.0 s to 185.0 s the room did not hibernate' in text
    assert 'at 35.0 s it was `idle`' in text
    assert '3 WebSockets were accepted with `server.accept()`' in text
    assert '230.4 GB-s for your room, 230.4 GB-s for a room with standard sockets' in text
    assert result.evidence['state'].tolist() == ['idle']


def test_the_solution_room_hibernates_and_shows_before_and_after():
    result = checked('hibernation')
    assert 'billed 0 GB-s of duration, against 230.4 GB-s with standard sockets' \
        in result.explanation
    assert result.figure is not None
    labels = [t.get_text() for t in result.figure.axes[0].get_yticklabels()]
    assert labels == ['before (standard sockets)\n230.4 GB-s', 'yours\n0 GB-s']


def test_members_kept_in_memory_are_gone_after_hibernation():
    result = checked('hibernation', 'MembersInMemory')
    text = result.explanation
    assert "bob's message at 185.0 s never reached alice as 'bob: anyone up for lunch?'." \
        in text
    assert 'The room had hibernated at 15.0 s' in text
    assert 'incarnation 2' in text
    assert '`self.ctx.get_websockets()`' in text


def test_names_kept_in_memory_are_gone_after_hibernation():
    result = checked('hibernation', 'NamesInMemory')
    assert "(it received 'someone: anyone up for lunch?' instead)" in result.explanation


# -- calling check ---------------------------------------------------------------------------
def test_an_unknown_exercise_lists_the_valid_names():
    with pytest.raises(ValueError, match='unknown exercise') as err:
        dosim.edu.check('lost_updates', answer('lost_update'))
    for name in NOTEBOOK:
        assert repr(name) in str(err.value)


def test_check_wants_the_class_itself():
    with pytest.raises(TypeError, match='cls must be your class itself'):
        dosim.edu.check('lost_update', 'LikeCounter')


def test_raise_on_fail_raises_with_the_result():
    with pytest.raises(ExerciseFailedError) as err:
        dosim.edu.check('lost_update', answer('lost_update', 'AwaitedPut'), raise_on_fail=True)
    assert err.value.result.exercise == 'lost_update'
    assert 'Requests #1 and #2' in str(err.value)
    assert dosim.edu.check('lost_update', answer('lost_update'), raise_on_fail=True).passed


# -- what Jupyter shows ------------------------------------------------------------------------
def test_a_result_renders_verdict_explanation_scenarios_evidence_and_figure():
    result = checked('lost_update', 'starter')
    page = result._repr_html_()
    assert 'Exercise 1: the lost like: ❌ not yet' in page
    assert 'Requests #1 and #2 both wrote <code>likes=1</code>' in page
    assert page.count('<table') == 2            # the scenarios, the evidence
    assert '<img alt="figure" src="data:image/png;base64,' in page
    text = result._repr_markdown_()
    assert text.startswith('#### Exercise 1: the lost like: ❌ not yet')
    assert '| burst: 8 likes in 14 ms | False | 7 of 8 likes lost |' in text
    assert 'passed=False' in repr(result)


def test_a_passed_result_renders_without_evidence():
    page = checked('timers')._repr_html_()
    assert '✅ passed' in page
    assert page.count('<table') == 1


def test_every_exercise_notebook_has_one_starter_and_one_check_cell():
    for exercise, name in NOTEBOOK.items():
        nb = json.loads((EXERCISES / f'{name}.ipynb').read_text(encoding='utf-8'))
        sources = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']
        checks = [s for s in sources if f"dosim.edu.check('{exercise}'" in s]
        assert len(checks) == 1, f'{name}: one check cell'
        assert sources.index(checks[0]) == len(sources) - 1, f'{name}: the check comes last'


# -- a student's code that breaks things ------------------------------------------------------
def test_a_room_that_does_not_answer_with_a_websocket_says_so():
    class NoSocket(dosim.DurableObject):
        def fetch(self, request):
            return dosim.Response('hello')

    result = dosim.edu.check('hibernation', NoSocket)
    assert result.explanation.startswith(
        "Scenario **three friends, half an hour**: alice could not join: expected a 101 "
        "response with a WebSocket, got Response(200, 'hello')")
    assert '`Response(status=101, web_socket=client)`' in result.explanation


def test_an_agent_without_an_alarm_handler_cannot_start():
    class NoAlarm(dosim.edu.DigestAgentBase):
        pass

    result = dosim.edu.check('idempotent_loop', NoAlarm)
    assert result.scenarios['summary'].eq('start_loop() failed').all()
    assert 'must have an alarm() handler' in result.explanation


def test_a_timer_method_that_raises_is_named_with_its_error():
    class Refuses(dosim.edu.TimerHost):
        def schedule(self, timer_id, at, repeat_ms=None):
            raise ValueError('not today')

    result = dosim.edu.check('timers', Refuses)
    assert "`schedule('report', 30.5 s)` at 0 s failed with `ValueError: not today`" \
        in result.explanation


def test_a_run_that_breaks_is_reported_with_the_place_in_the_students_code():
    from dosim.edu.scenario import run

    sim = dosim.Simulation()

    def broken():
        yield sim.timeout(5)
        raise RuntimeError('student bug')

    sim.process(broken())
    error = run(sim, 100)
    assert error is not None
    assert error.startswith('RuntimeError: student bug (in broken, line ')
