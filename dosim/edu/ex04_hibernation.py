"""Exercise 4 -- the room that never sleeps: find what keeps a chat room from hibernating.

A chat room that accepts its WebSockets with the standard API (``server.accept()``) is pinned
in memory while anyone is connected, and billed duration for every second of it -- hours of
GB-s for a room where three people say a few words. Accepted with the Hibernation API
(``ctx.accept_websocket``) the sockets stay connected while the room hibernates, and a message
wakes it. But a woken room is a new instance: whatever it kept in memory -- the list of
members, their names -- is gone. What must outlive it lives with the sockets: the runtime's
list (``ctx.get_websockets()``), tags and attachments.

The check connects users to the student's room (``https://room/ws?name=<user>``) in two hidden
conversations with long pauses and requires that

* every message reaches every *other* member connected at the time, as ``'<name>: <text>'``;
* the room hibernates in every pause of a minute or more.

It shows the billed duration (GB-s) and the lifecycle of a standard-socket room (before) and
the student's (after) on the same conversation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pandas as pd

from ..errors import DurableObjectError
from ..models import ChatRoom
from ..simulation import Simulation
from ..websocket import connect_websocket
from . import figures
from .report import CheckResult, Verdict
from .scenario import crashed, fmt_s, fresh, new_sim, require_class, run

__all__ = ['NAME', 'TITLE', 'check']

NAME = 'hibernation'
TITLE = 'Exercise 4: the room that never sleeps'
BEFORE = ChatRoom.configure(hibernatable=False, message_cpu_ms=0.0)
PAUSE_MS = 60_000.0      # a pause this long must see the room hibernated ...
SETTLE_MS = 30_000.0     # ... this long after it began (10 s to hibernate, and margin)


@dataclass(frozen=True)
class Plan:
    """A conversation: ``(time_s, user, action, text)`` with action ``join``, ``say`` or
    ``leave``; it ends at *end_s*."""

    name: str
    seed: int
    end_s: float
    script: tuple[tuple[float, str, str, str], ...]


PLANS = (
    Plan('three friends, half an hour', 4, 1800, (
        (0.0, 'alice', 'join', ''), (0.2, 'bob', 'join', ''), (0.4, 'carol', 'join', ''),
        (2.0, 'alice', 'say', 'hi all'), (3.0, 'bob', 'say', 'hey alice'),
        (5.0, 'carol', 'say', 'morning!'), (185.0, 'bob', 'say', 'anyone up for lunch?'),
        (190.0, 'alice', 'say', 'yes!'), (795.0, 'carol', 'say', 'back from lunch'),
        (1500.0, 'alice', 'say', 'bye'))),
    Plan('come and go', 8, 1200, (
        (0.0, 'alice', 'join', ''), (0.5, 'bob', 'join', ''), (2.0, 'alice', 'say', 'hello?'),
        (300.0, 'carol', 'join', ''), (302.0, 'carol', 'say', 'sorry I am late'),
        (303.0, 'bob', 'say', 'welcome carol'), (600.0, 'bob', 'leave', ''),
        (900.0, 'alice', 'say', 'bob left'), (905.0, 'carol', 'say', 'see you'))),
)


def check(cls: type) -> CheckResult:
    """Run the hidden conversations against *cls* (a DurableObject class)."""
    require_class(NAME, cls)
    verdicts = [_scenario(cls, p) for p in PLANS]
    result = CheckResult.from_verdicts(NAME, TITLE, verdicts, '')
    if result.passed:
        before, after = _bill(_conversation(BEFORE, PLANS[0])[0]), _bill(verdicts[0].sim)
        less = (' -- it was in memory only for the instants its handlers ran' if after == 0
                else f' -- {before / after:,.0f} times less')
        result.explanation = (
            'Every message reached everyone, and the room hibernated in every pause. On the '
            f'half-hour conversation it was billed {_gbs(after)} of duration, against '
            f'{_gbs(before)} with standard sockets{less}. The sockets, and the names on them, '
            'outlived every instance of the room.')
        result.figure = verdicts[0].figure
    return result


def _conversation(cls: type, plan: Plan) -> tuple[Simulation, dict[str, Any], str | None]:
    """Run *plan* against a fresh copy of *cls*; the simulation, each user's client end
    (``None`` until joined) and the error that stopped the run, if any."""
    sim = new_sim(plan.seed)
    rooms = sim.namespace('ROOMS', fresh(cls))
    ends: dict[str, Any] = {}
    refused: dict[str, str] = {}   # user -> why they could not join

    def user(name: str) -> Any:
        for t, who, action, text in plan.script:
            if who != name:
                continue
            yield sim.timeout(t * 1000 - sim.now)
            if action == 'join':
                try:
                    ends[name] = yield from connect_websocket(rooms.get_by_name('lobby'),
                                                              f'https://room/ws?name={name}')
                except (ValueError, DurableObjectError) as exc:
                    refused[name] = str(exc)
                    return
            elif action == 'say':
                ends[name].send(text)
            else:
                ends[name].close(1000, 'bye')

    for name in dict.fromkeys(who for _, who, _, _ in plan.script):
        sim.process(user(name))
    error = run(sim, plan.end_s * 1000)
    if error is None and refused:
        name, why = next(iter(refused.items()))
        error = f'{name} could not join: {why}'
    return sim, ends, error


def _scenario(cls: type, plan: Plan) -> Verdict:
    sim, ends, error = _conversation(cls, plan)
    if error and 'could not join' in error:
        return Verdict(plan.name, False, error.split(':')[0],
                       f'{error}. `fetch` must answer a WebSocket upgrade with '
                       '`Response(status=101, web_socket=client)`.', sim=sim)
    if error:
        return crashed(plan.name, error, sim)
    before = _conversation(BEFORE, plan)[0]
    bills = (_bill(before), _bill(sim))
    figure = figures.lifecycle_before_after(before.trace.lifecycle, sim.trace.lifecycle, bills)
    verdict = _deliveries(plan, sim, ends) or _hibernation(plan, sim)
    if verdict is not None:
        verdict.figure = figure
        verdict.explanation += (f' Billed duration on this conversation: {_gbs(bills[1])} '
                                f'for your room, {_gbs(bills[0])} for a room with standard '
                                'sockets.')
        return verdict
    return Verdict(plan.name, True, f'{_gbs(bills[1])} billed, {_gbs(bills[0])} before',
                   figure=figure, sim=sim)


def _bill(sim: Simulation) -> float:
    meters = sim.meters
    return float(meters.loc[meters['namespace'] == 'ROOMS', 'duration_gb_s'].sum())


def _gbs(value: float) -> str:
    return '0 GB-s' if value == 0 else f'{value:,.4g} GB-s'


# -- messages ---------------------------------------------------------------------------------
def _expected(plan: Plan) -> pd.DataFrame:
    """Every delivery the conversation calls for: one row per message and recipient."""
    members: set[str] = set()
    rows = []
    for t, who, action, text in plan.script:
        if action == 'join':
            members.add(who)
        elif action == 'leave':
            members.discard(who)
        else:
            rows += [(t, who, to, f'{who}: {text}') for to in sorted(members - {who})]
    return pd.DataFrame(rows, columns=['time_s', 'sender', 'recipient', 'expected'])


def _deliveries(plan: Plan, sim: Simulation, ends: dict[str, Any]) -> Verdict | None:
    expected = _expected(plan)
    got = {name: Counter(end.received) for name, end in ends.items()}
    expected['received'] = [got.get(to, Counter())[text] > 0
                            for to, text in zip(expected.recipient, expected.expected,
                                                strict=True)]
    for to, text in zip(expected.recipient, expected.expected, strict=True):
        got.get(to, Counter())[text] -= 1
    extra = [(to, text) for to, c in got.items() for text, n in c.items() if n > 0]
    missing = expected[~expected['received']]
    if missing.empty and not extra:
        return None
    if missing.empty:
        to, text = extra[0]
        return Verdict(plan.name, False, f'{to} got an unexpected message',
                       f'{to} received {text!r}, which no one sent to them: each message goes '
                       'to every *other* member, as `name: text`.', expected, sim=sim)
    row = missing.iloc[0]
    instead = [m for m, n in got.get(row.recipient, Counter()).items() if n > 0]
    told = f' (it received {instead[0]!r} instead)' if instead else ''
    text = (f'{row.sender}\'s message at {fmt_s(row.time_s * 1000)} never reached '
            f'{row.recipient} as {row.expected!r}{told}. {_woke(sim, row.time_s * 1000)}')
    return Verdict(plan.name, False, f'{len(missing)} of {len(expected)} messages missing',
                   text, expected, sim=sim)


def _woke(sim: Simulation, t: float) -> str:
    """Why a message handled at about *t* may have found the room's memory empty."""
    ev = sim.trace.events
    room = ev[ev['namespace'] == 'ROOMS']
    gone = room[room['kind'].isin(['hibernate', 'evict']) & (room['time_ms'] < t)]
    errors = room[(room['kind'] == 'websocket_error') & (room['time_ms'] >= t)]
    raised = f' Your handler raised `{errors.detail.iloc[0]}`.' if len(errors) else ''
    if gone.empty:
        return f'Each message must go to every other member as `name: text`.{raised}'
    last = gone.iloc[-1]
    built = room[(room['kind'] == 'constructor') & (room['time_ms'] >= t)]
    which = f' (incarnation {int(built.incarnation.iloc[0])})' if len(built) else ''
    return (f'The room had hibernated at {fmt_s(last.time_ms)}; the message woke it as a new '
            f'instance{which}, whose constructor had just run: what the room kept in '
            f'memory was gone.{raised} Ask the '
            'runtime for the members (`self.ctx.get_websockets()`), and keep each name with '
            'its socket (a tag, or `serialize_attachment`).')


# -- hibernation ------------------------------------------------------------------------------
def _hibernation(plan: Plan, sim: Simulation) -> Verdict | None:
    life = sim.trace.lifecycle
    times = [t * 1000 for t, *_ in plan.script] + [plan.end_s * 1000]
    for start, end in pairwise(times):
        if end - start < PAUSE_MS:
            continue
        at = start + SETTLE_MS
        state = _state_at(life, at)
        if state != 'hibernated':
            return Verdict(plan.name, False, f'no hibernation in the pause at {fmt_s(start)}',
                           _awake(sim, start, end, at, state), _intervals(life, start, end),
                           sim=sim)
    return None


def _state_at(life: pd.DataFrame, t: float) -> str:
    hit = life[(life['start_ms'] <= t) & (life['end_ms'] > t)]
    return str(hit['state'].iloc[0]) if len(hit) else 'evicted'


def _awake(sim: Simulation, start: float, end: float, at: float, state: str) -> str:
    minutes = (end - start) / 60_000
    head = (f'During the {minutes:.0f}-minute pause from {fmt_s(start)} to {fmt_s(end)} the room '
            f'did not hibernate: at {fmt_s(at)} it was `{state}`'
            + (' -- in memory and billed.' if state in ('idle', 'active') else '.'))
    ev = sim.trace.events
    standard = ev[(ev['kind'] == 'websocket_accept') & (ev['detail'] == 'standard')]
    if len(standard):
        return (f'{head} {len(standard)} WebSockets were accepted with `server.accept()`, the '
                'standard API: while one is open the room cannot hibernate, and it is billed '
                'for every second. Accept them with `self.ctx.accept_websocket(server, tags)` '
                'instead.')
    return (f'{head} Something kept it in memory: a `ctx.wait_until`, a call still pending, or '
            'a handler still running.')


def _intervals(life: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    rows = life[(life['end_ms'] > start) & (life['start_ms'] < end)]
    return rows[['object', 'incarnation', 'state', 'start_ms', 'end_ms', 'reason']].round(
        {'start_ms': 1, 'end_ms': 1}).reset_index(drop=True)
