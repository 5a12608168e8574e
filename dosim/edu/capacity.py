"""The worlds of exercises 5 and 6: a video site's view counters, and a fleet of AI agents.

**Exercise 5** (:mod:`~dosim.edu.ex05_sharding`). Every view of a video is a request
``GET https://views/view?video=<video>`` to a view-counter object. Which object is the
student's choice: the counter class has a static method ``route(video, n)`` that names the
object for view number *n* (0, 1, 2 ...) of *video*, as the Worker in front of the objects
would. Every view costs :data:`BOT_CHECK_MS` of CPU (``dosim.compute``: is this view a bot?),
so one object -- one thread -- serves at most :data:`CAPACITY_PER_S` views a second, however
fast its storage is. The videos' popularity is Zipf (:data:`VIDEOS`): ``video-0`` alone gets
a fifth of all views. :func:`send_views` sends Poisson traffic through ``route`` and records
every view: when it was sent, which object it went to, when it was answered.

**Exercise 6** (:mod:`~dosim.edu.ex06_fleet_bill`). A fleet of :data:`FLEET` research agents,
one object each. Every :data:`PERIOD_MS` an agent reads the next of its :data:`FEEDS` in turn
with an LLM (:meth:`AgentBase.think`: 1.5 s waiting for the model, 20 ms of CPU) and
remembers the summary. :class:`AgentBase` is what the student's agent extends; every
``think`` is logged, so the checker knows which feed each agent read when, and what it should
remember. :class:`WarmAgent` is the fleet as it runs today -- correct, and kept in memory
around the clock -- whose bill the student must halve; :func:`start_fleet` starts a few
agents, a sample of the fleet.

The pictures the two checks draw are here too: :func:`load_figure` (each shard's load
against its capacity, and the latency CDF against the target), :func:`periods_figure`,
:func:`lifecycle_figure` and :func:`bill_figure` (the monthly bill before and after, by
meter, with :func:`dosim.plot.monthly_bill`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..context import compute, fetch_external, now, sleep
from ..errors import DurableObjectError
from ..object import DurableObject
from ..plot_timelines import OKABE_ITO
from ..workload import Poisson, ZipfKeys
from .figures import BAD, GOOD, WAIT
from .scenario import fresh

__all__ = [
    'BOT_CHECK_MS', 'CAPACITY_PER_S', 'FEEDS', 'FLEET', 'LLM_MS', 'PERIOD_MS', 'TARGET_P99_MS',
    'THINK_CPU_MS', 'VIDEOS', 'AgentBase', 'WarmAgent', 'bill_figure', 'lifecycle_figure',
    'load_figure', 'p99', 'periods_figure', 'send_views', 'start_fleet',
]

# -- exercise 5: views -------------------------------------------------------------------------
VIDEOS = ZipfKeys(200, s=1.1, prefix='video-')
"""200 videos; ``video-0`` is the most popular (21 % of views), ``video-1`` next (10 %)."""
BOT_CHECK_MS = 10.0
"""CPU per view: the bot check every view must pass through."""
CAPACITY_PER_S = 1000.0 / BOT_CHECK_MS
"""Views a second one object can serve: its one thread is busy 10 ms with each."""
TARGET_P99_MS = 100.0
"""The target: 99 % of views answered within this."""
VIEW_URL = 'https://views/view?video='


def p99(latencies: Any) -> float:
    """The 99th percentile by the nearest-rank rule: the smallest latency that at least 99 %
    of the views did not exceed (``inf`` for a view never answered)."""
    ordered = sorted(latencies)
    if not ordered:
        return math.nan
    return float(ordered[math.ceil(0.99 * len(ordered)) - 1])


def send_views(sim: Any, ns: Any, route: Callable[[str, int], Any],
               bursts: tuple[tuple[float, float, float], ...]) -> list[dict[str, Any]]:
    """Send views to *ns*'s objects: during each ``(start_ms, end_ms, views_per_s)`` of
    *bursts*, Poisson arrivals, each to a video drawn from :data:`VIDEOS`, sent to the object
    ``route(video, n)`` names. Returns the list of views, one dict each, that fills in as
    the simulation runs: ``received_ms``, ``status`` (``ok``; ``refused``: the object was
    overloaded; ``error``; ``pending`` until answered), ``reply`` and ``error``."""
    views: list[dict[str, Any]] = []
    arrivals, keys = sim.stream('views.arrivals'), sim.stream('views.keys')

    def traffic() -> Generator[Any, Any, None]:
        seen: dict[str, int] = {}
        ids: dict[str, Any] = {}
        for start, end, rate in bursts:
            for t in Poisson(rate_per_s=rate).times(arrivals, start):
                if t >= end:
                    break
                yield sim.timeout(t - sim.now)
                video = VIDEOS.name(VIDEOS.draw(keys))
                n = seen.get(video, 0)
                seen[video] = n + 1
                name = route(video, n)
                if not isinstance(name, str) or not name:
                    raise TypeError(f'route({video!r}, {n}) must return the name of an object '
                                    f'(a non-empty string), got {name!r}')
                oid = ids.get(name)
                if oid is None:
                    oid = ids[name] = ns.id_from_name(name)
                view = {'view': len(views), 'sent_ms': sim.now, 'video': video, 'n': n,
                        'object': name, 'received_ms': math.nan, 'status': 'pending',
                        'reply': '', 'error': ''}
                views.append(view)
                event = ns.get(oid).fetch(VIEW_URL + video)
                event.callbacks.append(lambda ev, v=view: _answered(sim, v, ev))

    sim.process(traffic())
    return views


def _answered(sim: Any, view: dict[str, Any], event: Any) -> None:
    view['received_ms'] = sim.now
    value = event.value
    if event.ok and getattr(value, 'status', 500) < 400:
        view['status'], view['reply'] = 'ok', value.text
    elif isinstance(value, DurableObjectError):
        view['status'] = 'refused' if value.overloaded else 'error'
        view['error'] = value.message
    else:
        view['status'] = 'error'
        view['error'] = f'HTTP {getattr(value, "status", "?")}: {getattr(value, "text", "")}'


# -- exercise 6: agents ------------------------------------------------------------------------
PERIOD_MS = 60_000
"""An agent starts a cycle every minute."""
FEEDS = tuple(f'feed-{i:02d}' for i in range(100))
"""The feeds an agent follows; cycle *k* reads ``FEEDS[k % 100]``."""
LLM_MS = 1_500.0
THINK_CPU_MS = 20.0
FLEET = 1_000
"""The agents in the fleet; a check runs a few and scales their bill up."""


class AgentBase(DurableObject):
    """The base of every agent: :meth:`think`, and the log the checker reads."""

    sim: ClassVar[Any] = None
    log: ClassVar[list[dict[str, Any]]] = []

    def think(self, feed: str) -> Generator[Any, Any, str]:
        """Read *feed* with the LLM and return its summary (``yield from self.think(feed)``):
        1.5 s waiting for the model (an outbound fetch) and 20 ms of CPU."""
        if feed not in FEEDS:
            raise ValueError(f'think(feed): one of FEEDS (feed-00 ... feed-99), got {feed!r}')
        cls = type(self)
        started = cls.sim.now if cls.sim is not None else math.nan
        row = {'agent': self.ctx.id.name, 'feed': feed, 'started_ms': started,
               'done_ms': math.nan, 'summary': None}
        cls.log.append(row)
        yield fetch_external(latency_ms=LLM_MS)
        yield compute(THINK_CPU_MS)
        minute = int(started // 60_000) if started == started else 0
        row['summary'] = f'{feed}: the news of minute {minute}'
        row['done_ms'] = cls.sim.now if cls.sim is not None else math.nan
        return row['summary']


class WarmAgent(AgentBase):
    """The fleet as it runs today, and the exercise's starter: the notes live in memory, and
    the agent keeps itself in memory -- ``ctx.wait_until`` on a minute's sleep after every
    cycle -- so they are still there for the next cycle."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.cycle = 0
        self.notes = dict.fromkeys(FEEDS, 'nothing yet')

    def start(self) -> Generator[Any, Any, None]:
        yield self.ctx.storage.set_alarm(now())

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        yield self.ctx.storage.set_alarm(now() + PERIOD_MS)
        feed = FEEDS[self.cycle % len(FEEDS)]
        self.notes[feed] = yield from self.think(feed)
        self.cycle += 1
        self.ctx.wait_until(sleep(PERIOD_MS))

    def memory(self) -> dict[str, str]:
        return self.notes


def start_fleet(sim: Any, cls: type, agents: int, stagger_ms: float
                ) -> tuple[type, list[str], dict[str, str]]:
    """Bind a fresh copy of *cls* as ``AGENTS`` and call ``start()`` on ``agent-0`` ...
    ``agent-<agents - 1>``, *stagger_ms* apart. Returns the copy (its ``log`` fills in), the
    agents' names, and the error of every ``start()`` that failed, by agent."""
    agent_cls = fresh(cls, sim=sim, log=[])
    ns = sim.namespace('AGENTS', agent_cls)
    names = [f'agent-{i}' for i in range(agents)]
    failed: dict[str, str] = {}

    def begin(i: int, name: str) -> Generator[Any, Any, None]:
        yield sim.timeout(i * stagger_ms)
        try:
            yield ns.get_by_name(name).start()
        except DurableObjectError as exc:
            failed[name] = exc.message

    for i, name in enumerate(names):
        sim.process(begin(i, name))
    return agent_cls, names, failed


# -- pictures ---------------------------------------------------------------------------------
def load_figure(frame: pd.DataFrame, load: pd.DataFrame, title: str) -> Any:
    """Exercise 5. Left: the busiest objects' views/s -- their busiest video (vermillion
    when it alone is over capacity) and their other videos -- against the capacity. Right:
    the latency CDF of all the views against the target."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 4.2), layout='constrained')
    left, right = fig.subplots(1, 2, width_ratios=[1.1, 1])
    top = load.head(15).iloc[::-1]
    y = range(len(top))
    hot = [BAD if v > CAPACITY_PER_S else WAIT for v in top['its_views_per_s']]
    left.barh(y, top['its_views_per_s'], color=hot, label='its busiest video')
    left.barh(y, top['views_per_s'] - top['its_views_per_s'], left=top['its_views_per_s'],
              color='0.75', label='its other videos')
    left.axvline(CAPACITY_PER_S, color='black', linestyle='--', linewidth=1,
                 label=f'capacity: {CAPACITY_PER_S:g} views/s')
    labels = [o if k == 1 else f'{o} ({v})'
              for o, k, v in zip(top['object'], top['videos'], top['busiest_video'], strict=True)]
    left.set_yticks(list(y), labels, fontsize=8)
    left.set_xlim(0, 1.1 * max(CAPACITY_PER_S, float(top['views_per_s'].max())))
    left.set_xlabel('views/s sent to the object')
    left.set_title('The busiest objects (and their busiest video)')
    left.legend(fontsize=8, loc='lower right')
    _cdf(right, frame)
    fig.suptitle(title)
    return fig


def _cdf(ax: Any, frame: pd.DataFrame) -> None:
    """The share of *all* views answered within each latency: a curve that stops short of 1
    when views were never answered."""
    latency = np.sort(frame.loc[frame['status'] == 'ok', 'latency_ms'].to_numpy(dtype=float))
    if latency.size:
        share = np.arange(1, latency.size + 1) / len(frame)
        ax.step(np.concatenate((latency[:1], latency)), np.concatenate(([0.0], share)),
                where='post', color=OKABE_ITO['blue'], linewidth=1.8, label='your views')
        ax.set_xscale('log')
        if share[-1] < 1:
            ax.annotate(f'{1 - share[-1]:.0%} never answered', (latency[-1], share[-1]),
                        xytext=(-4, -14), textcoords='offset points', ha='right', fontsize=8,
                        color=BAD)
    ax.axhline(0.99, color='0.6', linestyle=':', linewidth=1)
    ax.axvline(TARGET_P99_MS, color=GOOD, linestyle='--', linewidth=1.2,
               label=f'target: 99 % within {TARGET_P99_MS:g} ms')
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('latency (ms)')
    ax.set_ylabel('share of all views answered within')
    ax.set_title('Latency CDF')
    ax.grid(True, color='0.92')
    ax.legend(fontsize=8, loc='upper left')


def periods_figure(log: pd.DataFrame, ask_ms: float, tolerance_ms: float) -> Any:
    """Exercise 6: each agent's cycle periods (:func:`dosim.plot.loop_periods` of its
    ``think()`` starts before *ask_ms*) over time, against the band of *tolerance_ms* around
    the period."""
    from matplotlib.figure import Figure

    from ..plot_timelines import loop_periods

    frame = pd.DataFrame({'object': log['agent'], 'fired_ms': log['started_ms'],
                          'outcome': 'ok'})
    periods = loop_periods(frame[frame['fired_ms'] < ask_ms])
    fig = Figure(figsize=(9.0, 3.4), layout='constrained')
    ax = fig.subplots()
    lo, hi = (PERIOD_MS - tolerance_ms) / 1000, (PERIOD_MS + tolerance_ms) / 1000
    ax.axhspan(lo, hi, color=GOOD, alpha=0.2,
               label=f'allowed: 60 s \u00b1 {tolerance_ms / 1000:g} s')
    colours = list(OKABE_ITO.values())
    for i, (agent, part) in enumerate(periods.groupby('object', sort=True)):
        ax.plot(part['time_ms'] / 1000, part['period_ms'] / 1000, marker='.', linewidth=0.8,
                color=colours[i % len(colours)], label=agent)
    ax.set_xlabel('time (s)')
    ax.set_ylabel('period (s): this cycle\'s start\nminus the one before')
    ax.set_title('Cycle periods: when each think() began, minus the one before')
    ax.grid(True, color='0.92')
    ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return fig


def lifecycle_figure(sim: Any, title: str) -> Any:
    """Exercise 6: the agents' lifecycles, titled *title*."""
    from matplotlib.figure import Figure

    from ..plot_timelines import lifecycle_timeline

    fig = Figure(figsize=(10.0, 2.8), layout='constrained')
    ax = fig.subplots()
    lifecycle_timeline(sim, ax=ax)
    ax.set_title(f'{title}: the agents\' lifecycles (a tick: the constructor ran again)')
    return fig


def bill_figure(before: pd.DataFrame, mine: pd.DataFrame, sim: Any) -> Any:
    """Exercise 6: the fleet's bill before and with the student's agents, by meter, over
    their agents' lifecycles."""
    from matplotlib.figure import Figure

    from ..plot_cost import monthly_bill
    from ..plot_timelines import lifecycle_timeline

    fig = Figure(figsize=(10.0, 5.6), layout='constrained')
    top, bottom = fig.subplots(2, 1, height_ratios=[1, 1.2])
    monthly_bill({'before': before, 'yours': mine}, ax=top)
    top.set_title(f'The fleet\'s monthly bill ({FLEET:,} agents, paid plan), by meter')
    lifecycle_timeline(sim, ax=bottom)
    bottom.set_title('Your agents: in memory and billed (warm colours) or hibernated (blue)')
    return fig
