"""Exercise 5 -- the viral video: shard a hot object until its p99 meets a target.

A video site counts views with Durable Objects. Every view holds an object's one thread for
a 10 ms bot check, so one object serves at most 100 views a second -- and the starter sends
every view of every video to one object. Popularity is Zipf: ``video-0`` alone draws a fifth
of the views. Spreading the videos over many objects (by hash, or one object per video) is
the first step, but not enough: at 600 views/s ``video-0`` alone sends its object 128 views a
second, more than any one object can serve, and its queue grows without end. The hot video
itself must be split over several objects, its count being the sum of theirs.

The student's counter class routes each view with ``route(video, n)`` (a static method: the
object for view number *n* of *video*). The check sends Zipf traffic through it
(:func:`~dosim.edu.capacity.send_views`) in three hidden scenarios -- an evening at 600
views/s, the evening peak at 750, and a quiet minute long enough to hibernate -- and
requires that

* every view still gets its 10 ms bot check (the CPU meter);
* the p99 latency of all views, a view never answered counting as infinitely slow, is at
  most 100 ms;
* every view is counted: for each video, the counts the objects store under its name add up
  to the views of it that were answered.

A failure shows each object's load against its capacity, which videos it served, and the
latency CDF against the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..simulation import Simulation
from . import capacity
from .capacity import BOT_CHECK_MS, CAPACITY_PER_S, TARGET_P99_MS, p99, send_views
from .report import CheckResult, Verdict
from .scenario import crashed, fmt_ms, fmt_s, fresh, new_sim, require_class, run

__all__ = ['NAME', 'TITLE', 'check']

NAME = 'sharding'
TITLE = 'Exercise 5: the viral video'
DRAIN_MS = 5_000.0
SPLIT_HINT = ('Split the hot video itself: send its views to several objects (route by `n`, '
              'for example `f\'{video}#{n % 4}\'`). Its count is then the sum of theirs.')


@dataclass(frozen=True)
class Plan:
    """A hidden scenario: its seed and its traffic, ``(start_ms, end_ms, views_per_s)``."""

    name: str
    seed: int
    bursts: tuple[tuple[float, float, float], ...]

    @property
    def seconds(self) -> float:
        return sum(end - start for start, end, _ in self.bursts) / 1000


PLANS = (
    Plan('an evening: 600 views/s', 1, ((0.0, 10_000.0, 600.0),)),
    Plan('the evening peak: 750 views/s', 2, ((0.0, 10_000.0, 750.0),)),
    Plan('a quiet minute', 3, ((0.0, 5_000.0, 50.0), (75_000.0, 80_000.0, 50.0))),
)


def check(cls: type) -> CheckResult:
    """Run the hidden scenarios against *cls* (a DurableObject class with ``route``)."""
    require_class(NAME, cls)
    if not callable(getattr(cls, 'route', None)):
        raise TypeError(f'check({NAME!r}, cls): {cls.__name__} needs a static method '
                        '`route(video, n)` that names the object for each view')
    verdicts = [_scenario(cls, plan) for plan in PLANS]
    result = CheckResult.from_verdicts(NAME, TITLE, verdicts, '')
    if result.passed:
        peak = verdicts[1]
        result.explanation = (
            f'Every view was counted, and the p99 met the target of {fmt_ms(TARGET_P99_MS)} '
            f'in every scenario ({peak.summary} at the peak). No object was sent more than '
            'it can serve: the hot video is split, the others spread out, and the counts '
            'survive hibernation because they live in storage.')
        result.figure = peak.figure
    return result


def _scenario(cls: type, plan: Plan) -> Verdict:
    sim = new_sim(plan.seed, quiet=True)
    ns = sim.namespace('VIEWS', fresh(cls))
    views = send_views(sim, ns, cls.route, plan.bursts)
    error = run(sim, plan.bursts[-1][1] + DRAIN_MS)
    if error:
        return crashed(plan.name, error, sim)
    frame = _frame(views)
    load = _load(frame, plan)
    return (_failed(plan, sim, frame) or _bot_check(plan, sim, frame)
            or _slow(plan, sim, frame, load) or _uncounted(plan, sim, frame)
            or Verdict(plan.name, True, f'p99 {fmt_ms(p99(frame["latency_ms"]))}',
                       figure=capacity.load_figure(frame, load, plan.name), sim=sim))


def _frame(views: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(views, columns=['view', 'sent_ms', 'video', 'n', 'object',
                                         'received_ms', 'status', 'reply', 'error'])
    answered = frame['status'] == 'ok'
    frame['latency_ms'] = (frame['received_ms'] - frame['sent_ms']).where(answered, math.inf)
    return frame


def _load(frame: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """One row per object: its views a second against its capacity, its p99, its videos."""
    rows = []
    for name, part in frame.groupby('object', sort=False):
        per_video = part['video'].value_counts()
        rate = len(part) / plan.seconds
        rows.append({'object': name, 'views_per_s': round(rate, 1),
                     'of_capacity': f'{rate / CAPACITY_PER_S:.0%}',
                     'p99_ms': round(p99(part['latency_ms']), 1), 'videos': len(per_video),
                     'busiest_video': per_video.index[0],
                     'its_views_per_s': round(per_video.iloc[0] / plan.seconds, 1)})
    load = pd.DataFrame(rows)
    return load.sort_values(['views_per_s', 'object'], ascending=[False, True],
                            kind='stable').reset_index(drop=True)


# -- what can go wrong ------------------------------------------------------------------------
def _failed(plan: Plan, sim: Simulation, frame: pd.DataFrame) -> Verdict | None:
    failed = frame[frame['status'] == 'error']
    if failed.empty:
        return None
    first = failed.iloc[0]
    text = (f'{len(failed):,} of {len(frame):,} views failed. The first, view {first.n} of '
            f'`{first.video}` (sent to `{first.object}` at {fmt_ms(first.sent_ms)}), got '
            f'`{first.error}`. A view must be answered: fix the handler, then the load.')
    return Verdict(plan.name, False, f'{len(failed):,} views failed', text,
                   failed.head(20)[['view', 'sent_ms', 'video', 'n', 'object', 'error']],
                   sim=sim)


def _bot_check(plan: Plan, sim: Simulation, frame: pd.DataFrame) -> Verdict | None:
    answered = int((frame['status'] == 'ok').sum())
    meters = sim.meters
    cpu = float(meters.loc[meters['namespace'] == 'VIEWS', 'cpu_ms'].sum())
    if answered == 0 or cpu >= answered * BOT_CHECK_MS - 1e-6:
        return None
    text = (f'Your objects answered {answered:,} views with {cpu:,.1f} ms of CPU in all: '
            f'{cpu / answered:.2f} ms a view. Every view must still pass the bot check, '
            f'{BOT_CHECK_MS:g} ms of CPU (`yield dosim.compute(BOT_CHECK_MS)`): make room '
            'for the work, don\'t skip it.')
    per_object = meters[meters['namespace'] == 'VIEWS'][['object', 'requests', 'cpu_ms']]
    return Verdict(plan.name, False, f'{cpu / answered:.2f} ms of CPU a view', text,
                   per_object.reset_index(drop=True), sim=sim)


def _slow(plan: Plan, sim: Simulation, frame: pd.DataFrame, load: pd.DataFrame
          ) -> Verdict | None:
    measured = p99(frame['latency_ms'])
    if measured <= TARGET_P99_MS:
        return None
    hot = load.iloc[0]
    if math.isinf(measured):
        head = f'More than 1 % of the {len(frame):,} views were never answered: ' + \
            _unanswered(frame) + f' The target is a p99 of {fmt_ms(TARGET_P99_MS)}.'
        summary = 'p99 over a view never answered'
    else:
        head = (f'The p99 latency was {fmt_ms(measured)}; the target is '
                f'{fmt_ms(TARGET_P99_MS)}.')
        summary = f'p99 {fmt_ms(measured)} > {fmt_ms(TARGET_P99_MS)}'
    times = hot.views_per_s / CAPACITY_PER_S
    text = (f'{head} The busiest object, `{hot.object}`, was sent {hot.views_per_s:,.1f} '
            f'views/s: {times:.2f} times what one object can serve ({CAPACITY_PER_S:g} '
            f'views/s: each view holds its thread {BOT_CHECK_MS:g} ms for the bot check). '
            + _diagnosis(hot))
    return Verdict(plan.name, False, summary, text, load,
                   capacity.load_figure(frame, load, plan.name), sim)


def _unanswered(frame: pd.DataFrame) -> str:
    refused = int((frame['status'] == 'refused').sum())
    pending = int((frame['status'] == 'pending').sum())
    parts = []
    if refused:
        parts.append(f'{refused:,} were refused (`Durable Object is overloaded`)')
    if pending:
        parts.append(f'{pending:,} were still waiting {fmt_s(DRAIN_MS)} after the traffic '
                     'stopped')
    return ' and '.join(parts) + '.'


def _diagnosis(hot: Any) -> str:
    if hot.its_views_per_s > CAPACITY_PER_S:
        alone = (f'`{hot.busiest_video}` alone sent it {hot.its_views_per_s:,.1f} views/s'
                 if hot.videos > 1 else f'All of them were views of `{hot.busiest_video}`')
        return (f'{alone}: as long as all the views of one video go to one object, no '
                'number of objects can meet the target. ' + SPLIT_HINT)
    if hot.views_per_s > CAPACITY_PER_S:
        return (f'It counts {hot.videos} videos, the busiest (`{hot.busiest_video}`) at '
                f'{hot.its_views_per_s:,.1f} views/s, more than it can serve together: '
                'spread the videos over more objects.')
    return (f'No object was sent more than it can serve, but `{hot.object}` ran at '
            f'{hot.of_capacity} of its capacity, and close to capacity a queue builds up at '
            'every burst of arrivals: keep every object well below it (under about 70 %).')


def _uncounted(plan: Plan, sim: Simulation, frame: pd.DataFrame) -> Verdict | None:
    objects = sorted(set(frame['object']))
    stores = {name: sim.storage_of('VIEWS', name) for name in objects}
    answered = frame[frame['status'] == 'ok']
    pending = frame.loc[frame['status'] == 'pending', 'video'].value_counts()
    for video, part in answered.groupby('video', sort=False):
        held = {name: s.get(video) for name, s in stores.items() if s.get(video) is not None}
        total = sum(v for v in held.values() if isinstance(v, int) and not isinstance(v, bool))
        if len(part) <= total <= len(part) + pending.get(video, 0):   # a reply on its way
            continue
        where = ', '.join(f'{v!r} in `{name}`' for name, v in held.items()) or 'nothing'
        text = (f'{len(part):,} views of `{video}` were answered, but the counts the objects '
                f'store under the key `{video}` add up to {total:,} ({where}). '
                + _why_lost(sim, part))
        evidence = frame[frame['video'] == video][['view', 'sent_ms', 'n', 'object', 'status',
                                                   'reply']]
        return Verdict(plan.name, False, f'{video}: {len(part):,} views, counted {total:,}',
                       text, evidence.round({'sent_ms': 1}).reset_index(drop=True), sim=sim)
    return None


def _why_lost(sim: Simulation, views: pd.DataFrame) -> str:
    life = sim.trace.lifecycle
    first, last = views['sent_ms'].min(), views['sent_ms'].max()
    gone = life[life['object'].isin(set(views['object']))
                & life['state'].isin(['hibernated', 'evicted'])
                & (life['start_ms'] > first) & (life['start_ms'] < last)]
    if gone.empty:
        return ('Each view must add one to the count its object stores under the video\'s '
                'name (`storage.put(video, views + 1)`).')
    row = gone.iloc[0]
    built = life[(life['object'] == row.object) & (life['reason'] == 'constructor')
                 & (life['start_ms'] >= row.start_ms)]
    which = f' (incarnation {int(built.incarnation.iloc[0])})' if len(built) else ''
    how = 'hibernated' if row.state == 'hibernated' else 'was evicted'
    return (f'`{row.object}` {how} at {fmt_s(row.start_ms)}, and the next view ran the '
            f'constructor again{which}: a count kept in memory starts over in every new '
            'instance. Memory is a cache, not a store: read the count from storage, add one, '
            'write it back.')
