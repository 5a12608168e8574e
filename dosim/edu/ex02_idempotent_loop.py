"""Exercise 2 -- the digest that went out twice: an agent loop under at-least-once alarms.

An agent wakes on its alarm every minute, mails its owner digest number *n*, asks an LLM to
summarise it, records *n* as done and sets the next alarm (:mod:`dosim.edu.mail`). Alarms are
delivered *at least once*: a run that raises is retried, a run cut short by a reset runs
again -- and every rerun after the mail went out mails it again. And a run of failures longer
than the runtime's retries (7 attempts, about two minutes) ends the loop for good.

The check runs the student's agent against a mail provider in five hidden scenarios -- a
flaky LLM, crashes right after the provider accepted a digest, refused sends, a five-minute
outage, and all of it at once -- and requires that

* no digest is delivered twice (a send the provider recognises by its idempotency key is not
  a delivery);
* no digest is skipped: the digests delivered are 1, 2, ... n;
* the loop is still running at the end.

A failure names the digest, the alarm attempts that sent it, how the first one ended, and the
keys the provider saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import figures
from .mail import DigestAgentBase, digest_world
from .report import CheckResult, Verdict
from .scenario import crashed, fmt_s, new_sim, require_class, run

__all__ = ['NAME', 'TITLE', 'check']

NAME = 'idempotent_loop'
TITLE = 'Exercise 2: the digest that went out twice'
SUCCESS = ('Every digest was delivered exactly once, none was skipped, and the loop outlived '
           'the outage. The provider saw the same key on every attempt of a digest, so '
           'retries and reruns after a crash were recognised as repeats; and no failure could '
           'end the chain of alarms.')
KEY_HINT = ('Give every attempt at digest #{n} the same idempotency key -- derived from what '
            'is stored (the digest number), or stored before the call -- so the provider can '
            'recognise a repeat: `yield self.mail.send(self.owner, n, key=...)`.')


@dataclass(frozen=True)
class Plan:
    """A hidden scenario: its seed, length and the faults it brings."""

    name: str
    seed: int
    minutes: float
    llm_failure_rate: float = 0.0
    provider: dict[str, Any] = field(default_factory=dict)
    resets_per_hour: float = 0.0


PLANS = (
    Plan('flaky LLM', 7, 12, llm_failure_rate=0.3),
    Plan('crash after sending', 3, 10, provider={'crash_after': frozenset({3, 6})}),
    Plan('refused sends', 5, 10, provider={'refuse_first': frozenset({2, 5})}),
    Plan('five-minute outage', 9, 16, provider={'outages': ((150_000.0, 450_000.0),)}),
    Plan('all at once', 13, 20, llm_failure_rate=0.2, resets_per_hour=20,
         provider={'refuse_first': frozenset({4}), 'crash_after': frozenset({7})}),
)


def check(cls: type) -> CheckResult:
    """Run the hidden scenarios against *cls* (a :class:`DigestAgentBase` subclass)."""
    require_class(NAME, cls, DigestAgentBase)
    return CheckResult.from_verdicts(NAME, TITLE, [_scenario(cls, p) for p in PLANS], SUCCESS)


def _scenario(cls: type, plan: Plan) -> Verdict:
    sim = new_sim(plan.seed)
    provider = digest_world(sim, cls, plan.llm_failure_rate, **plan.provider)
    end = plan.minutes * 60_000
    if plan.resets_per_hour:
        sim.faults.inject_random('reset', plan.resets_per_hour, until_ms=end)
    error = run(sim, end)
    if error:
        return crashed(plan.name, error, sim)
    if provider.start_error is not None:
        return Verdict(plan.name, False, 'start_loop() failed',
                       f'`start_loop()` failed with `{provider.start_error}`, so the loop never '
                       'started.', sim=sim)
    log = _log(sim, provider.log)
    period = getattr(cls, 'period_ms', 60_000)
    verdict = _duplicate(plan, sim, log) or _gap(plan, sim, log) or _dead(plan, sim, log, period)
    if verdict is not None:
        return verdict
    sent = int((log['result'] == 'delivered').sum())
    return Verdict(plan.name, True, f'digests 1..{sent} delivered once each', sim=sim)


def _log(sim: Any, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The provider's log, with the alarm attempt of the agent that made each call."""
    log = pd.DataFrame(rows, columns=['time_ms', 'digest', 'key', 'request_id', 'result'])
    req = sim.trace.requests.set_index('request_id')
    sent = [req['sent_ms'].get(rid, t) for rid, t in zip(log.request_id, log.time_ms,
                                                         strict=True)]
    alarms = sim.trace.alarms
    alarms = alarms[alarms['object'] == 'agent'].reset_index(drop=True)
    attempt = [_attempt_of(alarms, t) for t in sent]
    log['attempt'] = [a if a is not None else -1 for a in attempt]
    for col in ('fired_ms', 'done_ms', 'retry_count', 'outcome', 'error'):
        log[f'attempt_{col}'] = [alarms[col].iloc[a] if a is not None else None
                                 for a in attempt]
    return log


def _attempt_of(alarms: pd.DataFrame, t: float) -> int | None:
    hits = alarms.index[(alarms['fired_ms'] <= t) & (alarms['done_ms'] >= t)]
    return int(hits[-1]) if len(hits) else None


# -- what can go wrong ------------------------------------------------------------------------
def _duplicate(plan: Plan, sim: Any, log: pd.DataFrame) -> Verdict | None:
    delivered = log[log['result'] == 'delivered']
    repeats = delivered[delivered.duplicated('digest', keep='first')]
    if repeats.empty:
        return None
    second = repeats.iloc[0]
    n = int(second.digest)
    first = delivered[delivered['digest'] == n].iloc[0]
    text = (f'Digest #{n} was delivered twice: at {fmt_s(first.time_ms)} and again at '
            f'{fmt_s(second.time_ms)}. {_how(sim, first, second)} {_keys(first, second, n)}')
    figure = figures.deliveries(sim, log, [], f'Digest #{n} delivered twice')
    return Verdict(plan.name, False, f'digest #{n} delivered twice', text, _evidence(log, n),
                   figure, sim)


def _how(sim: Any, first: Any, second: Any) -> str:
    """How the run that sent *first* ended, and how the run that sent *second* came about."""
    a, b = first.attempt, second.attempt
    if a < 0 or b < 0:
        return 'One of the two sends did not come from an alarm run.'
    if a == b:
        return f'The same alarm run (fired at {fmt_s(first.attempt_fired_ms)}) sent it twice.'
    when = fmt_s(second.attempt_fired_ms)
    if first.attempt_outcome == 'superseded':
        again = f'the alarm you had set for the next cycle ran at {when}, and that run'
    else:
        again = (f'the runtime retried the alarm at {when} -- alarms are delivered at least '
                 'once -- and the retry')
    reset = _reset_between(sim, first.time_ms, first.attempt_done_ms)
    if reset is not None:
        return (f'The object was reset at {fmt_s(reset)} while the alarm run that sent it '
                'was still waiting for the provider\'s answer: the provider had the mail, '
                'but nothing your handler meant to write after the send was written. Then '
                f'{again} sent the digest again.')
    if first.attempt_outcome in ('error', 'superseded', 'abandoned'):
        return (f'The alarm run that sent it first (fired at {fmt_s(first.attempt_fired_ms)}) '
                f'then failed with `{first.attempt_error}`; {again} sent the digest again.')
    return (f'The alarm run that sent it first ended well, but the run at {when} sent it '
            'again: your handler did not record that it was delivered.')


def _reset_between(sim: Any, start: float, end: float) -> float | None:
    """The time of the first reset of the agent between *start* and *end*, if any."""
    faults = sim.trace.faults
    hits = faults.loc[(faults['kind'] == 'reset') & (faults['target'] == 'agent')
                      & (faults['time_ms'] >= start) & (faults['time_ms'] <= end), 'time_ms']
    return float(hits.iloc[0]) if len(hits) else None


def _keys(first: Any, second: Any, n: int) -> str:
    if first.key is None and second.key is None:
        return ('Neither send carried an idempotency key, so the provider could not tell the '
                'second from a new mail. ' + KEY_HINT.format(n=n))
    return (f'The two sends carried different keys ({first.key!r} and {second.key!r}), so '
            'the provider took them for two mails. ' + KEY_HINT.format(n=n))


def _gap(plan: Plan, sim: Any, log: pd.DataFrame) -> Verdict | None:
    digests = sorted(set(log.loc[log['result'] == 'delivered', 'digest']))
    missing = [n for n in range(1, (digests[-1] if digests else 0) + 1) if n not in digests]
    if not missing:
        return None
    n = missing[0]
    refused = log[(log['digest'] == n) & (log['result'] == 'refused')]
    after = log[(log['digest'] > n) & (log['result'] == 'delivered')].iloc[0]
    if len(refused):
        why = (f'The provider refused digest #{n} at {fmt_s(refused.time_ms.iloc[0])} (`503 '
               'Service Unavailable`), and your agent never sent it again: the next digest '
               f'sent was #{after.digest} at {fmt_s(after.time_ms)}. A refused send is not a '
               'sent mail: record a digest as done only after the provider accepted it.')
    else:
        why = (f'Digest #{n} never reached the provider; the next digest sent was '
               f'#{after.digest} at {fmt_s(after.time_ms)}.')
    figure = figures.deliveries(sim, log, [n], f'Digest #{n} never delivered')
    return Verdict(plan.name, False, f'digest #{n} never delivered',
                   f'Digest #{n} was never delivered. {why}', _evidence(log, n), figure, sim)


def _dead(plan: Plan, sim: Any, log: pd.DataFrame, period: float) -> Verdict | None:
    end = sim.now
    if len(log) and log['time_ms'].max() >= end - 2.5 * period:
        return None
    alarms = sim.trace.alarms
    alarms = alarms[alarms['object'] == 'agent']
    last = f'the last send was at {fmt_s(log.time_ms.max())}' if len(log) else 'nothing was sent'
    head = f'The loop stopped: {last}, and the run lasted until {fmt_s(end)}.'
    abandoned = alarms[alarms['outcome'] == 'abandoned']
    recent = alarms[alarms['fired_ms'] >= end - 2.5 * period]
    if len(recent):
        failed = alarms[alarms['error'].astype(bool)]
        error = failed['error'].iloc[-1] if len(failed) else 'no error at all'
        since = fmt_s(log.time_ms.max()) if len(log) else 'the start'
        head = (f'The agent sent nothing since {since}, although its alarm kept running until '
                f'{fmt_s(recent.fired_ms.max())}.')
        why = (f'Its runs failed before the provider accepted anything -- the last with '
               f'`{error}`.')
    elif len(abandoned):
        row = abandoned.iloc[0]
        why = (f'The alarm was abandoned at {fmt_s(row.done_ms)} after 7 failed attempts in a '
               f'row (the last with `{row.error}`). The runtime retries a failing alarm six '
               'times, 2 s to 64 s apart -- about two minutes -- and then gives up; nothing '
               'wakes the agent after that. Don\'t let a failure end the chain: set the next '
               'alarm whatever happens in this run (first thing, or in a `finally`).')
    elif len(alarms):
        row = alarms.iloc[-1]
        why = (f'The last alarm run (fired at {fmt_s(row.fired_ms)}) ended `{row.outcome}` '
               'without a next alarm set: every run must set the next one.')
    else:
        why = 'The alarm never ran: `start_loop()` must set the first alarm.'
    figure = figures.deliveries(sim, log, [], 'The loop stopped')
    return Verdict(plan.name, False, 'the loop stopped', f'{head} {why}',
                   _evidence(log.tail(8)), figure, sim)


def _evidence(log: pd.DataFrame, digest: int | None = None) -> pd.DataFrame:
    """The provider's rows (those of digests *digest* - 1 to *digest* + 1, if given) with
    the alarm attempt that made each send."""
    if digest is not None:
        log = log[(log['digest'] - digest).abs() <= 1]
    frame = log[['time_ms', 'digest', 'key', 'result', 'request_id', 'attempt_fired_ms',
                 'attempt_retry_count', 'attempt_outcome', 'attempt_error']]
    return frame.round({'time_ms': 1, 'attempt_fired_ms': 1}).reset_index(drop=True)
