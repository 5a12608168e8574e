"""Exercise 1 -- the lost like: a read-modify-write broken by an outbound fetch.

A post's like counter reads ``likes`` from storage, asks a spam filter about the like (an
outbound ``fetch``, here ``dosim.fetch_external``) and writes ``likes + 1``. While the fetch is
in flight the object's input gate is open, so the next like starts, reads the same count, and
one of the two writes overwrites the other: an update is lost, with no error anywhere.

The check sends likes to the student's class (``POST https://post/like``; the reply is the new
count) in three hidden scenarios -- a burst of simultaneous likes, a steady stream, and two
posts with a quiet two minutes in between, long enough to hibernate -- and requires that

* every like is answered and counted: the final ``likes`` equals the likes answered;
* each reply is the count after that like (1, 2, ... N, each once);
* every like still goes through the spam filter (at least one ``fetch_external`` each).

A failure names the two requests whose writes collided, when each read and wrote, and the wait
between read and write that let the other one in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..simulation import Simulation
from . import figures
from .report import CheckResult, Verdict
from .scenario import crashed, fmt_ms, fmt_s, fresh, new_sim, require_class, run

__all__ = ['NAME', 'TITLE', 'check']

NAME = 'lost_update'
TITLE = 'Exercise 1: the lost like'
URL = 'https://post/like'
WAITS = ('fetch_external', 'sleep')
SUCCESS = ('Every like was counted exactly once in every scenario, and every reply was the new '
           'count. Whatever you chose -- the fetch before the read, a second read after it, or '
           '`block_concurrency_while` -- the read and the write of `likes` are now one step '
           'that no other request can get between.')


@dataclass(frozen=True)
class Plan:
    """A hidden scenario: likes as ``(time_ms, post)``, a seed, exact timing or not."""

    name: str
    seed: int
    quiet: bool
    likes: tuple[tuple[float, str], ...]


def _plans() -> list[Plan]:
    burst = tuple((2.0 * i, 'post-1') for i in range(8))
    stream, t = [], 0.0
    rng = Simulation(seed=11).stream('edu-likes')
    for _ in range(40):
        t += rng.expovariate(1 / 15.0)
        stream.append((round(t, 3), 'post-1'))
    quiet = [(i * 300.0, f'post-{1 + i % 2}') for i in range(12)]
    quiet += [(120_000.0 + i * 300.0, f'post-{1 + i % 2}') for i in range(12)]
    return [Plan('burst: 8 likes in 14 ms', 1, True, burst),
            Plan('stream of 40 likes', 11, False, tuple(stream)),
            Plan('two posts, two quiet minutes', 5, False, tuple(quiet))]


def check(cls: type) -> CheckResult:
    """Run the hidden scenarios against *cls* (a DurableObject class) and explain."""
    require_class(NAME, cls)
    return CheckResult.from_verdicts(NAME, TITLE, [_scenario(cls, p) for p in _plans()],
                                     SUCCESS)


def _scenario(cls: type, plan: Plan) -> Verdict:
    sim = new_sim(plan.seed, plan.quiet)
    posts = sim.namespace('POSTS', fresh(cls))
    replies: dict[int, tuple[str, str]] = {}   # request id -> (post, reply text or error)

    def like(at: float, post: str) -> Any:
        if at:
            yield sim.timeout(at)
        call = posts.get_by_name(post).fetch(URL, method='POST')
        rid = sim._request_ids   # the id the call was given
        replies[rid] = (post, 'never answered')
        try:
            replies[rid] = (post, (yield call).text)
        except Exception as exc:
            kind = getattr(exc, 'error_type', None) or type(exc).__name__
            replies[rid] = (post, f'{kind}: {exc}')

    for at, post in plan.likes:
        sim.process(like(at, post))
    error = run(sim, max(at for at, _ in plan.likes) + 60_000)
    if error:
        return crashed(plan.name, error, sim)
    rows = _requests(sim, replies)
    for post, mine in rows.groupby('object', sort=True):
        verdict = _judge(plan.name, sim, post, mine)
        if verdict is not None:
            return verdict
    return Verdict(plan.name, True, f'{len(rows)} likes, all counted', sim=sim)


def _requests(sim: Simulation, replies: dict[int, tuple[str, str]]) -> pd.DataFrame:
    """One row per like: its request row (``status`` ``'lost'`` if it was never answered),
    the reply, and when it read and wrote ``likes``."""
    req = sim.trace.requests
    req = req[req['request_id'].isin(list(replies))]
    missing = sorted(set(replies) - set(req['request_id']))
    if missing:
        req = pd.concat([req, pd.DataFrame({'request_id': missing, 'status': 'lost',
                                            'object': [replies[r][0] for r in missing],
                                            'error': 'never answered'})])
    req = req.sort_values('request_id').reset_index(drop=True)
    req['reply'] = [replies[rid][1] for rid in req.request_id]
    ev = sim.trace.events
    writes = sim.trace.writes
    writes = writes[writes['key'] == 'likes']
    req['read_ms'] = [_last(ev, rid, ('storage_get', 'storage_list')) for rid in req.request_id]
    req['wrote_ms'] = [_first(ev, rid, 'storage_put') for rid in req.request_id]
    req['wrote'] = [_value(writes, rid) for rid in req.request_id]
    fetches = ev[ev['kind'] == 'fetch_external']
    req['fetches'] = [int((fetches['request_id'] == rid).sum()) for rid in req.request_id]
    return req


def _first(ev: pd.DataFrame, rid: int, kind: str) -> float:
    times = ev.loc[(ev['request_id'] == rid) & (ev['kind'] == kind), 'time_ms']
    return float(times.iloc[0]) if len(times) else float('nan')


def _last(ev: pd.DataFrame, rid: int, kinds: tuple[str, ...]) -> float:
    """The last read by *rid* before its first write (or at all, if it never wrote)."""
    mine = ev[(ev['request_id'] == rid)]
    put = _first(ev, rid, 'storage_put')
    reads = mine.loc[mine['kind'].isin(kinds), 'time_ms']
    if not math.isnan(put):
        reads = reads[reads <= put]
    return float(reads.iloc[-1]) if len(reads) else float('nan')


def _value(writes: pd.DataFrame, rid: int) -> Any:
    values = writes.loc[writes['request_id'] == rid, 'value']
    return values.iloc[-1] if len(values) else None


# -- judging one post -------------------------------------------------------------------------
def _judge(name: str, sim: Simulation, post: str, rows: pd.DataFrame) -> Verdict | None:
    failed = rows[rows['status'] != 'ok']
    if len(failed):
        first = failed.iloc[0]
        return Verdict(name, False, f'request #{first.request_id} failed',
                       f'Request #{first.request_id} to `{post}` failed with '
                       f'`{first.reply}`: every like must be answered.',
                       _evidence(rows), sim=sim)
    skipped = rows[rows['fetches'] == 0]
    if len(skipped):
        return Verdict(name, False, f'{len(skipped)} likes skipped the spam filter',
                       f'{len(skipped)} of {len(rows)} likes never went through the spam '
                       f'filter (request #{skipped.request_id.iloc[0]} is the first): every '
                       'like must still call `dosim.fetch_external` -- fix the race, keep '
                       'the check.', _evidence(rows), sim=sim)
    stored = sim.storage_of('POSTS', post).get('likes')
    if stored != len(rows):
        return _lost(name, sim, post, rows, stored)
    replies = sorted(rows['reply'], key=lambda r: (len(r), r))
    expected = [str(n) for n in range(1, len(rows) + 1)]
    if replies != expected:
        return Verdict(name, False, 'replies are not the new counts',
                       f'`{post}` counted all {len(rows)} likes, but the replies were '
                       f'{", ".join(replies[:10])}... rather than 1, 2, ... {len(rows)}: reply '
                       'with the count after this like.', _evidence(rows), sim=sim)
    return None


def _lost(name: str, sim: Simulation, post: str, rows: pd.DataFrame, stored: Any) -> Verdict:
    lost = len(rows) - stored if isinstance(stored, int) else len(rows)
    head = (f'{len(rows)} likes to `{post}` were answered, but storage holds '
            f'`likes={stored}`: {lost} updates were lost.')
    pair = _collision(rows)
    evidence = _evidence(rows)
    if pair is None:
        return Verdict(name, False, f'{lost} of {len(rows)} likes lost', head, evidence, sim=sim)
    earlier, later = pair
    why = _why(sim, post, earlier, later)
    a, b = int(earlier.request_id), int(later.request_id)
    figure = figures.requests_lanes(sim, rows, (a, b),
                                    f"{post}: #{b}'s write of likes overwrote #{a}'s")
    return Verdict(name, False, f'{lost} of {len(rows)} likes lost',
                   f'{head} {why}', evidence, figure, sim)


def _collision(rows: pd.DataFrame) -> tuple[Any, Any] | None:
    """The first write of ``likes`` that did not go up by one, and the write before it."""
    done = rows.dropna(subset=['wrote_ms']).sort_values(['wrote_ms', 'request_id'])
    previous = None
    for row in done.itertuples():
        if previous is not None and not _above(row.wrote, previous.wrote):
            return previous, row
        previous = row
    return None


def _above(value: Any, before: Any) -> bool:
    return isinstance(value, int) and isinstance(before, int) and value > before


def _why(sim: Simulation, post: str, a: Any, b: Any) -> str:
    """The story of how *b*'s write overwrote *a*'s."""
    both = (f'Requests #{a.request_id} and #{b.request_id} both wrote `likes={b.wrote}`'
            if a.wrote == b.wrote else
            f'Request #{b.request_id} wrote `likes={b.wrote}` after #{a.request_id} had '
            f'written `likes={a.wrote}`')
    if b.read_ms < a.wrote_ms:   # False for a NaN: no read at all
        waits = _waits(sim, int(b.request_id), b.read_ms, b.wrote_ms)
        return (f'{both}: #{b.request_id} read `likes` at {fmt_ms(b.read_ms)}, before '
                f'#{a.request_id} wrote its update at {fmt_ms(a.wrote_ms)}, then wrote at '
                f'{fmt_ms(b.wrote_ms)} and overwrote it. Between its read and its write, '
                f'#{b.request_id}\'s handler awaited {waits}: a wait that is not storage '
                'opens the input gate, so other likes ran meanwhile and read the same count. '
                'Let nothing but storage come between the read and the write: call the spam '
                'filter first, or read again after it.')
    if b.incarnation != a.incarnation:
        gone = _left_memory(sim, post, a.wrote_ms, b.started_ms)
        return (f'{both}. #{b.request_id} ran in a new instance of the object (incarnation '
                f'{b.incarnation}, after #{a.request_id} in incarnation {a.incarnation}): '
                f'{gone} and the constructor ran again. A count kept in memory starts over '
                'in every new instance -- read it from storage.')
    return (f'{both}. Each like must add one to the count in storage: read `likes` from '
            'storage in the same step as the write.')


def _waits(sim: Simulation, rid: int, start: float, end: float) -> str:
    ev = sim.trace.events
    mine = ev[(ev['request_id'] == rid) & ev['kind'].isin(WAITS)
              & (ev['time_ms'] >= start) & (ev['time_ms'] <= end)]
    if mine.empty:
        return 'something that was not storage'
    parts = [f'`{kind}` ({d}, from {fmt_ms(t)})'
             for t, kind, d in zip(mine.time_ms, mine.kind, mine.detail, strict=True)]
    return ', then '.join(parts)


def _left_memory(sim: Simulation, post: str, after: float, before: float) -> str:
    ev = sim.trace.events
    gone = ev[(ev['object'] == post) & ev['kind'].isin(['hibernate', 'evict', 'reset'])
              & (ev['time_ms'] >= after) & (ev['time_ms'] <= before)]
    if gone.empty:
        return 'the object had left memory'
    row = gone.iloc[0]
    verb = {'hibernate': 'hibernated', 'evict': 'was evicted', 'reset': 'was reset'}[row.kind]
    return f'the object {verb} at {fmt_s(row.time_ms)}'


def _evidence(rows: pd.DataFrame) -> pd.DataFrame:
    cols = ['request_id', 'object', 'incarnation', 'started_ms', 'read_ms', 'wrote_ms', 'wrote',
            'reply', 'status']
    frame = rows[cols].sort_values(['object', 'wrote_ms', 'request_id']).reset_index(drop=True)
    return frame.round({'started_ms': 1, 'read_ms': 1, 'wrote_ms': 1})
