"""Exercise 3 -- many timers on one alarm: one-shot, repeating and cancelled.

A Durable Object has a single alarm. A class that needs many timers keeps them in storage
and points the alarm at the earliest due one; when the alarm fires it does every timer that
is due, moves repeating ones to their next due time, and points the alarm at the next
earliest. ``set_alarm(at)`` for every new timer replaces the alarm: a timer due sooner is
forgotten until the later one fires.

The check drives the student's :class:`~dosim.edu.timers.TimerHost` subclass through four
hidden scenarios (three reminders; a one-second heartbeat for two minutes; cancelling and
moving timers; thirty random timers) and requires that

* every timer fires once per due time, never early and at most 100 ms late;
* a repeating timer fires at ``at + k × repeat_ms`` -- on period, without drifting;
* a cancelled timer never fires again, and a moved one fires only at its new time;
* ``get_alarm()`` always equals the earliest due time of any pending timer (or ``None``).

A failure names the timer, its due time, when it fired instead, and what ``get_alarm()``
said just before.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..errors import DurableObjectError
from ..simulation import Simulation
from . import figures
from .report import CheckResult, Verdict
from .scenario import crashed, fresh, new_sim, require_class, run
from .timers import PROBE, Op, Plan, TimerHost

__all__ = ['NAME', 'TITLE', 'check']

NAME = 'timers'
TITLE = 'Exercise 3: many timers, one alarm'
LATE_MS = 100.0   # alarms arrive within a few ms; a timer later than this was not on the alarm
SUCCESS = ('Every timer fired once per due time, on time; repeating timers kept their period, '
           'cancelled ones stayed quiet, and the alarm always pointed at the earliest due '
           'timer -- so the object wakes exactly when there is work to do.')


def _s(seconds: float) -> float:
    return seconds * 1000.0


def _plans() -> list[Plan]:
    reminders = (Op(0, 'schedule', 'report', _s(30.5)), Op(_s(1), 'schedule', 'standup', _s(10.5)),
                 Op(_s(2), 'schedule', 'lunch', _s(60.5)),
                 *(Op(_s(t), 'probe') for t in (20, 40, 70)))
    heartbeat = (Op(0, 'schedule', 'tick', _s(2.5), 1000.0),
                 Op(_s(1), 'schedule', 'backup', _s(45.5)), Op(_s(120), 'cancel', 'tick'),
                 *(Op(_s(t), 'probe') for t in range(10, 150, 10) if t != 120))
    moves = (Op(0, 'schedule', 'a', _s(20.5)), Op(_s(1), 'schedule', 'b', _s(40.5)),
             Op(_s(2), 'schedule', 'c', _s(60.5)), Op(_s(10), 'cancel', 'a'),
             Op(_s(30), 'schedule', 'c', _s(35.5)), Op(_s(36), 'schedule', 'd', _s(50.5), 5000.0),
             Op(_s(71), 'cancel', 'd'), *(Op(_s(t), 'probe') for t in (15, 45, 80, 90)))
    return [Plan('three reminders', 1, True, _s(90), reminders),
            Plan('heartbeat every second', 2, False, _s(150), heartbeat),
            Plan('cancel and move', 3, False, _s(100), moves),
            Plan('thirty random timers', 4, False, _s(240), _random_ops(4))]


def _random_ops(seed: int) -> tuple[Op, ...]:
    """Thirty timers scheduled one a second, due at whole seconds + 0.5; eight cancels."""
    rng = Simulation(seed=seed).stream('edu-timers')
    ops = []
    for i in range(30):
        repeat = rng.choice([7_000.0, 13_000.0, 30_000.0]) if rng.random() < 0.3 else None
        ops.append(Op(_s(i), 'schedule', f't{i:02d}', _s(rng.randint(i + 5, 200) + 0.5), repeat))
    for t in sorted(rng.sample(range(31, 180), 8)):
        ops.append(Op(_s(t), 'cancel', f't{rng.randrange(30):02d}'))
    ops += [Op(_s(t), 'probe') for t in range(15, 240, 15) if t not in {o.t / 1000 for o in ops}]
    return tuple(ops)


def check(cls: type) -> CheckResult:
    """Run the hidden scenarios against *cls* (a :class:`TimerHost` subclass)."""
    require_class(NAME, cls, TimerHost)
    return CheckResult.from_verdicts(NAME, TITLE, [_scenario(cls, p) for p in _plans()],
                                     SUCCESS)


def _scenario(cls: type, plan: Plan) -> Verdict:
    sim = new_sim(plan.seed, plan.quiet)
    host = fresh(cls, fired_log=[])
    timers = sim.namespace('TIMERS', host)
    probes: list[dict[str, Any]] = []
    failures: list[str] = []

    def client() -> Any:
        stub = timers.get_by_name('timers')
        for op in sorted(plan.ops, key=lambda o: o.t):
            if op.t > sim.now:
                yield sim.timeout(op.t - sim.now)
            if op.kind != 'probe':
                args = (op.timer, sim.start_epoch_ms + op.at, op.repeat_ms)
                call = stub.schedule(*args) if op.kind == 'schedule' else stub.cancel(op.timer)
                try:
                    yield call
                except DurableObjectError as exc:
                    kind = f'{exc.error_type}: ' if exc.error_type else ''
                    failures.append(f'`{op.describe()}` at {op.t / 1000:g} s failed with '
                                    f'`{kind}{exc.message}`. `schedule(timer_id, at, '
                                    'repeat_ms=None)` and `cancel(timer_id)` are methods of '
                                    'your class, called over RPC.')
                    stub = timers.get_by_name('timers')
            got = yield stub.alarm_time()
            probes.append(_probe(sim, plan, op, got))

    sim.process(client())
    error = run(sim, plan.end_ms)
    if error:
        return crashed(plan.name, error, sim)
    if failures:
        return Verdict(plan.name, False, 'an operation failed', failures[0], sim=sim)
    table = _match(plan, host.fired_log, sim.start_epoch_ms)
    alarms = pd.DataFrame(probes)
    return _judge(plan, sim, table, alarms)


def _probe(sim: Simulation, plan: Plan, op: Op, got: Any) -> dict[str, Any]:
    expected = plan.earliest(op.t)
    got_s = (got - sim.start_epoch_ms) / 1000 if isinstance(got, (int, float)) else None
    ok = (got_s is None and expected is None) or (
        got_s is not None and expected is not None and abs(got_s * 1000 - expected) <= 1.0)
    return {'time_s': op.t / 1000, 'after': op.describe(), 'get_alarm_s': got_s,
            'expected_s': None if expected is None else expected / 1000, 'ok': ok}


# -- matching firings to due times -----------------------------------------------------------
def _match(plan: Plan, fired: list[tuple[float, str]], epoch: float) -> pd.DataFrame:
    """One row per due time (``on time``, ``late``, ``missed``) and per firing that matches
    none (``early``, ``after cancel``, ``extra``), in time order."""
    rows = []
    dues = plan.dues(plan.end_ms - 1000.0)
    for timer in sorted(set(dues) | {t for _, t in fired}):
        times = sorted(f - epoch for f, name in fired if name == timer)
        rows += _match_one(plan, timer, dues.get(timer, []), times)
    table = pd.DataFrame(rows, columns=['timer', 'due_s', 'fired_s', 'late_ms', 'verdict'])
    table['_t'] = table['due_s'].fillna(table['fired_s'])
    return table.sort_values(['_t', 'timer'], kind='stable').drop(columns='_t').reset_index(
        drop=True)


def _match_one(plan: Plan, timer: str, dues: list[float], times: list[float]) -> list[tuple]:
    rows, used = [], set()
    for k, due in enumerate(dues):
        nxt = dues[k + 1] if k + 1 < len(dues) else math.inf
        hit = next((j for j, f in enumerate(times) if j not in used and due <= f < nxt), None)
        if hit is None:
            rows.append((timer, due / 1000, math.nan, math.nan, 'missed'))
            continue
        used.add(hit)
        late = times[hit] - due
        rows.append((timer, due / 1000, round(times[hit] / 1000, 3), round(late, 1),
                     'on time' if late <= LATE_MS else 'late'))
    cancelled = plan.cancelled(timer)
    for j, f in enumerate(times):
        if j in used:
            continue
        if cancelled is not None and f >= cancelled:
            verdict = 'after cancel'
        elif any(f < d for d in dues) and not any(d <= f for d in dues):
            verdict = 'early'
        else:
            verdict = 'extra'
        rows.append((timer, math.nan, round(f / 1000, 3), math.nan, verdict))
    return rows


# -- explaining --------------------------------------------------------------------------------
def _judge(plan: Plan, sim: Simulation, table: pd.DataFrame, alarms: pd.DataFrame) -> Verdict:
    wrong = table[table['verdict'] != 'on time']
    bad_alarm = alarms[~alarms['ok']] if len(alarms) else alarms
    if wrong.empty and bad_alarm.empty:
        return Verdict(plan.name, True, f'{len(table)} due times, all on time', sim=sim)
    drift = None
    if wrong.empty:
        row = bad_alarm.iloc[0]
        text = _alarm_text(row) + (' An alarm that points anywhere else wakes the object for '
                                   'nothing, or too late.')
        evidence = bad_alarm.reset_index(drop=True)
        summary = f'get_alarm() wrong at {row.time_s:g} s'
    else:
        row = wrong.iloc[0]
        text = _firing_text(plan, table, row)
        before = bad_alarm[bad_alarm['time_s'] <= _when(row)]
        if len(before):
            text += ' ' + _alarm_text(before.iloc[0])
        evidence = wrong.reset_index(drop=True)
        summary = f'{row.timer!r}: {row.verdict} ({len(wrong)} wrong firings in all)'
        if row.verdict == 'late' and _drifts(table, row.timer):
            drift = LATE_MS
            summary = f'{row.timer!r} drifts ({len(wrong)} late firings)'
    figure = figures.timer_lanes(table, alarms, f'{plan.name}: {summary}',
                                 plan.end_ms / 1000, drift)
    return Verdict(plan.name, False, summary, text, evidence, figure, sim)


def _when(row: Any) -> float:
    return row.due_s if row.due_s == row.due_s else row.fired_s


def _firing_text(plan: Plan, table: pd.DataFrame, row: Any) -> str:
    name, repeat = repr(row.timer), plan.repeat_of(row.timer)
    if row.verdict == 'late' and repeat and _drifts(table, row.timer):
        return (f'Timer {name} (every {repeat / 1000:g} s) drifts: its firing due at '
                f'{row.due_s:.3f} s came at {row.fired_s:.3f} s, {row.late_ms:g} ms late, and '
                'each came a little later than the one before. Compute the next due time from '
                'the last due time (`at + repeat_ms`), not from `now()`.')
    if row.verdict == 'late':
        return (f'Timer {name} was due at {row.due_s:.3f} s but fired at {row.fired_s:.3f} s, '
                f'{row.late_ms / 1000:.1f} s late.')
    if row.verdict == 'missed':
        fired = table[(table['timer'] == row.timer) & table['fired_s'].notna()]
        once = (f' It fired {len(fired)} time(s), last at {fired.fired_s.max():.3f} s: a '
                'repeating timer must be put back at its next due time after it fires.'
                if repeat and len(fired) else '')
        return f'Timer {name} was due at {row.due_s:.3f} s and never fired.{once}'
    if row.verdict == 'after cancel':
        return (f'Timer {name} fired at {row.fired_s:.3f} s although it was cancelled at '
                f'{plan.cancelled(row.timer) / 1000:g} s.')
    if row.verdict == 'early':
        return f'Timer {name} fired at {row.fired_s:.3f} s, before it was due.'
    return (f'Timer {name} fired at {row.fired_s:.3f} s, when it was not due: it fired twice '
            'for one due time, or at a time it had been moved away from.')


def _drifts(table: pd.DataFrame, timer: str) -> bool:
    late = table.loc[(table['timer'] == timer) & table['late_ms'].notna(), 'late_ms']
    return len(late) > 2 and late.iloc[0] <= LATE_MS and late.is_monotonic_increasing


def _alarm_text(row: Any) -> str:
    got = 'None' if _missing(row.get_alarm_s) else f'{row.get_alarm_s:.3f} s'
    expected = ('no timer was pending (it should be None)' if _missing(row.expected_s)
                else f'the earliest due timer was at {row.expected_s:.3f} s')
    after = '' if row.after == PROBE else f', after `{row.after}`'
    return (f'At {row.time_s:g} s{after}, `get_alarm()` was {got}, but {expected}: the alarm '
            'must always point at the earliest due timer.')


def _missing(value: Any) -> bool:
    return value is None or value != value
