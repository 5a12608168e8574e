"""Exercise 6 -- half the bill, same minute: an agent fleet that pays for memory it sleeps in.

A fleet of 1,000 research agents, one Durable Object each, wakes every minute on its alarm,
reads the next feed with an LLM (:meth:`~dosim.edu.capacity.AgentBase.think`) and remembers
the summary. The agents keep their notes in memory and keep *themselves* in memory to hold
on to them: a ``ctx.wait_until`` on a minute's sleep after every cycle. That pins each object
around the clock, and duration -- billed for every second in memory at 128 MB -- is nearly
the whole bill: 1,000 agents x 30 days x 0.128 GB-s a second = 331,776,000 GB-s, $4,142.20.

The check runs four agents (a sample of the fleet) in two hidden scenarios -- twenty quiet
minutes, and the same with a code deploy at minute ten -- and requires that

* every agent starts a cycle every 60 s (each within 2 s of a minute after the one before);
* cycle *k* reads ``FEEDS[k % 100]`` and ``memory()`` returns the latest summary of every
  feed read: nothing is forgotten, not across hibernation, not across a deploy;
* the fleet's monthly bill (paid plan, :func:`dosim.cost.estimate` of minutes 5 to 20 scaled
  to 1,000 agents) is at most half the bill of the fleet as it runs today
  (:class:`~dosim.edu.capacity.WarmAgent`) on the same scenario.

A failure shows the bill before and after by meter (:func:`dosim.plot.monthly_bill`), the
cycle periods (:func:`dosim.plot.loop_timing`) or the moment an agent forgot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from .. import cost
from ..errors import DurableObjectError
from ..simulation import Simulation
from . import capacity
from .capacity import FEEDS, FLEET, PERIOD_MS, AgentBase, WarmAgent, start_fleet
from .report import CheckResult, Verdict
from .scenario import crashed, fmt_s, new_sim, require_class, run

__all__ = ['NAME', 'TITLE', 'check']

NAME = 'fleet_bill'
TITLE = 'Exercise 6: half the bill, same minute'
AGENTS = 4
STAGGER_MS = 15_000.0
WINDOW_MS = (300_000.0, 1_200_000.0)   # the bill is measured over minutes 5 to 20 ...
ASK_MS = 1_207_500.0                   # ... then memory() is asked, between cycles
TOLERANCE_MS = 2_000.0


@dataclass(frozen=True)
class Plan:
    """A hidden scenario: its seed, and the time of a code deploy (if any)."""

    name: str
    seed: int
    deploy_ms: float | None = None


PLANS = (Plan('four agents, twenty minutes', 1),
         Plan('a deploy at minute ten', 2, deploy_ms=607_000.0))


@dataclass
class Run:
    """One scenario run: the simulation, the think log, the answers to ``memory()``, the
    window's meters, and what went wrong."""

    sim: Simulation
    log: pd.DataFrame
    memory: dict[str, Any] = field(default_factory=dict)
    meters: pd.DataFrame = field(default_factory=pd.DataFrame)
    error: str | None = None
    start_errors: dict[str, str] = field(default_factory=dict)

    def bill(self) -> pd.DataFrame:
        """The fleet's month, priced: the window's meters scaled to the fleet."""
        return cost.estimate(self.meters, simulated_ms=WINDOW_MS[1] - WINDOW_MS[0],
                             scale=FLEET / AGENTS, namespace='AGENTS')


def check(cls: type) -> CheckResult:
    """Run the hidden scenarios against *cls* (an :class:`AgentBase` subclass)."""
    require_class(NAME, cls, AgentBase)
    runs = [_fleet(cls, plan) for plan in PLANS]
    verdicts = [_scenario(plan, yours) for plan, yours in zip(PLANS, runs, strict=True)]
    result = CheckResult.from_verdicts(NAME, TITLE, verdicts, '')
    if result.passed:
        before, yours = _before(PLANS[0]).bill(), runs[0].bill()
        b, y = _total(before), _total(yours)
        result.explanation = (
            f'Your fleet\'s bill: {_usd(y)} a month, against {_usd(b)} before '
            f'({_change(b, y)}). Every cycle started a minute after the one before, and no '
            'agent forgot a note -- not even across the deploy. Duration fell from '
            f'{_usd(_line(before, "duration_gb_s"))} to {_usd(_line(yours, "duration_gb_s"))}: '
            'the agents are in memory only while they think, and what they know lives in '
            'storage.')
        result.figure = verdicts[0].figure
    return result


# -- running ----------------------------------------------------------------------------------
def _fleet(cls: type, plan: Plan) -> Run:
    sim = new_sim(plan.seed)
    agent_cls, names, start_errors = start_fleet(sim, cls, AGENTS, STAGGER_MS)
    if plan.deploy_ms is not None:
        sim.faults.deploy(plan.deploy_ms, 'AGENTS')
    out = Run(sim, pd.DataFrame(), start_errors=start_errors)
    snapshots: list[pd.DataFrame] = []
    ns = sim.namespaces['AGENTS']

    def observe() -> Any:
        for at in WINDOW_MS:
            yield sim.timeout(at - sim.now)
            snapshots.append(sim.meters)
        yield sim.timeout(ASK_MS - sim.now)
        for name in names:
            try:
                out.memory[name] = yield ns.get_by_name(name).memory()
            except DurableObjectError as exc:   # the student's memory() failed
                out.memory[name] = exc

    sim.process(observe())
    out.error = run(sim, ASK_MS + 5_000)
    out.log = pd.DataFrame(agent_cls.log, columns=['agent', 'feed', 'started_ms', 'done_ms',
                                                   'summary'])
    if len(snapshots) == 2:
        out.meters = _difference(*snapshots)
    return out


def _difference(start: pd.DataFrame, end: pd.DataFrame) -> pd.DataFrame:
    """The meters of the window: *end* minus *start*, object by object."""
    columns = list(cost.RUN_METERS)
    before = start.set_index(['namespace', 'object'])[columns]
    after = end.set_index(['namespace', 'object'])[columns]
    return after.sub(before.reindex(after.index, fill_value=0.0)).reset_index()


@cache
def _before(plan: Plan) -> Run:
    return _fleet(WarmAgent, plan)


def _scenario(plan: Plan, yours: Run) -> Verdict:
    sim = yours.sim
    if yours.error:
        return crashed(plan.name, yours.error, sim)
    if yours.start_errors:
        name, why = next(iter(yours.start_errors.items()))
        return Verdict(plan.name, False, 'start() failed',
                       f'`start()` of {name} failed with `{why}`, so its loop never began. '
                       'The fleet calls `start()` once on each agent.', sim=sim)
    return (_period(plan, yours) or _rotation(plan, yours) or _memory(plan, yours)
            or _bill(plan, yours))


# -- the period -------------------------------------------------------------------------------
def _cycles(log: pd.DataFrame, agent: str) -> pd.DataFrame:
    """The think() calls of *agent* before memory() was asked, in order."""
    rows = log[(log['agent'] == agent) & (log['started_ms'] < ASK_MS)]
    return rows.sort_values('started_ms', kind='stable').reset_index(drop=True)


def _period(plan: Plan, yours: Run) -> Verdict | None:
    for i in range(AGENTS):
        agent = f'agent-{i}'
        cycles = _cycles(yours.log, agent)
        starts = cycles['started_ms'].to_numpy(dtype=float)
        first_due = i * STAGGER_MS + PERIOD_MS + TOLERANCE_MS
        if len(starts) < 2 or starts[-1] < ASK_MS - PERIOD_MS - TOLERANCE_MS \
                or starts[0] > first_due:
            return _stopped(plan, yours, agent, starts)
        gaps = starts[1:] - starts[:-1]
        off = [k for k, g in enumerate(gaps) if abs(g - PERIOD_MS) > TOLERANCE_MS]
        if off:
            return _off_period(plan, yours, agent, starts, off[0])
    return None


def _stopped(plan: Plan, yours: Run, agent: str, starts: Any) -> Verdict:
    if len(starts) == 0:
        text = (f'{agent} never ran a cycle: no `think()` in {fmt_s(ASK_MS)}. `start()` must '
                'set the first alarm, and `alarm()` must call `yield from self.think(feed)`.')
    else:
        text = (f'{agent}\'s cycles stopped: its last `think()` began at {fmt_s(starts[-1])}, '
                f'and the run went on until {fmt_s(ASK_MS)}. Every cycle must set the next '
                'alarm, a minute after the one before.')
    return Verdict(plan.name, False, f'{agent}: the loop stopped', text,
                   _period_table(yours.log, agent), _periods_figure(yours.log), yours.sim)


def _off_period(plan: Plan, yours: Run, agent: str, starts: Any, k: int) -> Verdict:
    gap = starts[k + 1] - starts[k]
    gaps = starts[1:] - starts[:-1]
    median = float(pd.Series(gaps).median())
    text = (f'{agent} started a cycle at {fmt_s(starts[k + 1])}, {fmt_s(gap)} after the one '
            f'at {fmt_s(starts[k])}: the fleet\'s loop period is 60 s, and every cycle must '
            f'start within {TOLERANCE_MS / 1000:g} s of a minute after the one before (the '
            f'median period was {fmt_s(median)}). ')
    if gap > PERIOD_MS:
        text += ('A longer interval cuts the bill by doing less work -- the owners would '
                 'get their summaries late. Keep the minute; make each minute cheaper.')
    else:
        text += ('Cycles that come early do work nobody asked for: one `think()` per cycle, '
                 'a minute apart.')
    return Verdict(plan.name, False, f'{agent}: a period of {fmt_s(gap)}', text,
                   _period_table(yours.log, agent), _periods_figure(yours.log), yours.sim)


def _periods_figure(log: pd.DataFrame) -> Any:
    return capacity.periods_figure(log, ASK_MS, TOLERANCE_MS)


def _period_table(log: pd.DataFrame, agent: str) -> pd.DataFrame:
    cycles = _cycles(log, agent)
    start = cycles['started_ms'] / 1000
    return pd.DataFrame({'agent': agent, 'cycle': range(len(cycles)), 'feed': cycles['feed'],
                         'started_s': start.round(3),
                         'period_s': start.diff().round(3)})


# -- memory -----------------------------------------------------------------------------------
def _rotation(plan: Plan, yours: Run) -> Verdict | None:
    for i in range(AGENTS):
        agent = f'agent-{i}'
        cycles = _cycles(yours.log, agent)
        for k, row in enumerate(cycles.itertuples()):
            due = FEEDS[k % len(FEEDS)]
            if row.feed == due:
                continue
            text = (f'{agent}\'s cycle {k} (at {fmt_s(row.started_ms)}) read `{row.feed}`, but '
                    f'cycle {k} must read `{due}`: cycle k reads `FEEDS[k % 100]`. ')
            if k:
                prev = cycles.iloc[k - 1]
                text += (f'The cycle before read `{prev.feed}`. '
                         + _why_forgot(yours.sim, agent, prev.started_ms, row.started_ms))
            return Verdict(plan.name, False, f'{agent} lost count at cycle {k}', text,
                           _period_table(yours.log, agent).iloc[max(0, k - 3):k + 2]
                           .reset_index(drop=True),
                           capacity.lifecycle_figure(yours.sim, f'{agent} lost count'), yours.sim)
    return None


def _memory(plan: Plan, yours: Run) -> Verdict | None:
    for i in range(AGENTS):
        agent = f'agent-{i}'
        answer = yours.memory.get(agent)
        if isinstance(answer, BaseException) or not isinstance(answer, dict):
            what = f'failed with `{answer}`' if isinstance(answer, BaseException) \
                else f'returned {answer!r}'
            return Verdict(plan.name, False, f'{agent}: memory() {what[:40]}',
                           f'{agent}\'s `memory()` {what}: it must return a dict from feed '
                           'to the latest summary of it.', sim=yours.sim)
        cycles = _cycles(yours.log, agent)
        known = cycles[cycles['done_ms'] <= ASK_MS].drop_duplicates('feed', keep='last')
        for row in known.itertuples():
            said = answer.get(row.feed)
            if said == row.summary:
                continue
            text = (f'Asked at {fmt_s(ASK_MS)}, {agent}\'s `memory()` said `{row.feed}` is '
                    f'{said!r}, but it read `{row.feed}` at {fmt_s(row.started_ms)} and '
                    f'learned {row.summary!r}. '
                    + _why_forgot(yours.sim, agent, row.done_ms, ASK_MS))
            evidence = pd.DataFrame({'feed': known['feed'], 'read_s': known['started_ms'] / 1000,
                                     'learned': known['summary'],
                                     'memory_says': [answer.get(f) for f in known['feed']]})
            return Verdict(plan.name, False, f'{agent} forgot {row.feed}', text,
                           evidence.round({'read_s': 3}).reset_index(drop=True),
                           capacity.lifecycle_figure(yours.sim, f'{agent} forgot {row.feed}'),
                           yours.sim)
    return None


def _why_forgot(sim: Simulation, agent: str, start: float, end: float) -> str:
    """Why *agent* may have lost what it held in memory between *start* and *end*."""
    life = sim.trace.lifecycle
    gone = life[(life['object'] == agent) & life['state'].isin(['hibernated', 'evicted'])
                & (life['start_ms'] >= start) & (life['start_ms'] < end)]
    if gone.empty:
        return 'The agent stayed in memory all along: check how it counts its cycles.'
    row = gone.iloc[0]
    how = {'hibernated': f'it hibernated at {fmt_s(row.start_ms)}',
           'evicted': f'it was evicted at {fmt_s(row.start_ms)}'}[row.state]
    if row.reason == 'code deploy':
        how = f'the code deploy at {fmt_s(row.start_ms)} restarted it'
    built = life[(life['object'] == agent) & (life['reason'] == 'constructor')
                 & (life['start_ms'] >= row.start_ms)]
    which = f' (incarnation {int(built.incarnation.iloc[0])})' if len(built) else ''
    return (f'Between the two, {how}, and the next event ran the constructor again{which}: '
            'whatever the agent kept in memory started over. What an agent must remember from '
            'one cycle to the next -- its cycle count, its notes -- belongs in storage.')


# -- the bill ---------------------------------------------------------------------------------
def _total(bill: pd.DataFrame) -> float:
    return float(cost.totals(bill)['paid'])


def _line(bill: pd.DataFrame, meter: str) -> float:
    rows = bill[(bill['plan'] == 'paid') & (bill['meter'] == meter)]
    return float(rows['cost'].sum())


def _usd(amount: float) -> str:
    return f'${amount:,.2f}'


def _change(before: float, after: float) -> str:
    share = (after - before) / before
    return f'{share:+.0%}'.replace('-', '\u2212')


def _bill(plan: Plan, yours: Run) -> Verdict:
    before, mine = _before(plan).bill(), yours.bill()
    b, y = _total(before), _total(mine)
    figure = capacity.bill_figure(before, mine, yours.sim)
    summary = f'{_usd(y)} a month, {_usd(b)} before ({_change(b, y)})'
    if y <= b / 2:
        return Verdict(plan.name, True, summary, figure=figure, sim=yours.sim)
    text = (f'The fleet\'s bill with your agents: {_usd(y)} a month, against {_usd(b)} '
            f'before ({_change(b, y)}); half would be {_usd(b / 2)}. '
            + _biggest(yours, mine))
    return Verdict(plan.name, False, summary, text, _bill_table(before, mine), figure,
                   yours.sim)


def _biggest(yours: Run, bill: pd.DataFrame) -> str:
    """What makes the bill high: the most expensive line, and why."""
    paid = bill[(bill['plan'] == 'paid') & (bill['meter'] != 'minimum')]
    meter = str(paid.sort_values('cost', ascending=False)['meter'].iloc[0])
    cycles = _window_cycles(yours.log)
    alarms = yours.sim.trace.alarms
    fired = alarms[(alarms['fired_ms'] >= WINDOW_MS[0]) & (alarms['fired_ms'] < WINDOW_MS[1])]
    per_cycle = len(fired) / cycles if cycles else math.inf
    if per_cycle > 1.5:
        every = (WINDOW_MS[1] - WINDOW_MS[0]) * AGENTS / max(len(fired), 1)
        return (f'Your agents ran {len(fired):,} alarms in the 15 minutes measured for '
                f'{cycles} cycles -- {per_cycle:.0f} a cycle, one every {fmt_s(every)}: they '
                'poll. Every alarm is billed as a request '
                f'({_usd(_line(bill, "billed_requests"))} a month) and every `set_alarm` as a '
                f'row written ({_usd(_line(bill, "rows_written"))}). Set the alarm for when '
                'the next cycle is due, and let the agent hibernate in between.')
    if meter == 'duration_gb_s':
        return _in_memory(yours, bill)
    if meter == 'rows_written':
        rows = float(yours.meters['rows_written'].sum())
        return (f'Rows written cost {_usd(_line(bill, "rows_written"))} a month: '
                f'{rows / cycles:,.0f} rows a cycle. Every key you `put` is one row, '
                'whatever its size (up to 2 MB), and every `set_alarm` another: writing every '
                'note every cycle writes 100 rows to change one. Write only the note that '
                'changed, or keep the notes together in one value.')
    return (f'The biggest line is {meter}: {_usd(_line(bill, meter))} a month over '
            f'{cycles} cycles measured.')


def _window_cycles(log: pd.DataFrame) -> int:
    started = log['started_ms']
    return int(((started >= WINDOW_MS[0]) & (started < WINDOW_MS[1])).sum())


def _in_memory(yours: Run, bill: pd.DataFrame) -> str:
    share = _states(yours.sim)
    billed = share.get('active', 0.0) + share.get('idle', 0.0)
    text = (f'Duration costs {_usd(_line(bill, "duration_gb_s"))} a month: in the 15 minutes '
            f'measured your agents were in memory and billed {billed:.0%} of the time -- '
            f'{share.get("active", 0.0):.1%} running a handler, {share.get("idle", 0.0):.1%} '
            'idle but unable to hibernate. ')
    ev = yours.sim.trace.events
    if ((ev['kind'] == 'websocket_accept') & (ev['detail'] == 'standard')).any():
        return text + ('A standard WebSocket (`server.accept()`) pins an object while it is '
                       'open: accept with `self.ctx.accept_websocket` instead.')
    if share.get('idle', 0.0) > share.get('active', 0.0):
        return text + ('Something pinned them between cycles: a `ctx.wait_until` (it holds '
                       'an object in memory until its event fires, up to 15 minutes), a call '
                       'still pending, or a standard WebSocket. Let the agent go between '
                       'cycles: the alarm wakes it when the next one is due.')
    return text + ('A handler was running most of the time: a handler that waits (a '
                   '`dosim.sleep` in it) keeps the object active. End the handler; the alarm '
                   'wakes the agent when the next cycle is due.')


def _states(sim: Simulation) -> dict[str, float]:
    """The share of the agents' time in each lifecycle state during the window."""
    life = sim.trace.lifecycle
    life = life[life['namespace'] == 'AGENTS']
    lo, hi = WINDOW_MS
    span = (life['end_ms'].clip(lo, hi) - life['start_ms'].clip(lo, hi))
    total = (hi - lo) * AGENTS
    return {str(k): float(v) / total for k, v in span.groupby(life['state']).sum().items()}


def _bill_table(before: pd.DataFrame, mine: pd.DataFrame) -> pd.DataFrame:
    def paid(bill: pd.DataFrame) -> pd.DataFrame:
        return bill[bill['plan'] == 'paid'].set_index('meter')[['usage', 'cost']]

    a, b = paid(before), paid(mine)
    table = pd.DataFrame({'before_usage': a['usage'], 'before_usd': a['cost'].round(2),
                          'yours_usage': b['usage'], 'yours_usd': b['cost'].round(2)})
    table = table[(table[['before_usd', 'yours_usd']] > 0).any(axis=1)
                  | (table[['before_usage', 'yours_usage']] > 0).any(axis=1)]
    total = pd.DataFrame({'before_usage': [math.nan], 'before_usd': [round(_total(before), 2)],
                          'yours_usage': [math.nan], 'yours_usd': [round(_total(mine), 2)]},
                         index=['total'])
    return pd.concat([table, total]).rename_axis('meter').reset_index()
