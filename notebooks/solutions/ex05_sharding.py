"""Exercise 5 -- the viral video: a reference solution and the wrong answers.

The bottleneck: every view holds an object's one thread for the 10 ms bot check, so one
object serves at most 100 views/s, and the starter sends all 600 views/s to one object. The
fix has two halves. Spread the videos out -- in Durable Objects the natural shard is one
object per video, and objects cost nothing while idle. And split the videos too hot for any
one object: ``video-0`` draws 21 % of the views, 128 views/s at 600 and 160 at the peak of
750, so its views go round-robin (by ``n``) to four objects; ``video-1`` (10 %, 75 views/s
at the peak) to two, for headroom. A split video's count is the sum of its pieces' counts.
The count itself stays in storage, read and written in one step, as in exercise 1.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from typing import Any

import dosim
from dosim.edu.capacity import BOT_CHECK_MS

SPLIT = {'video-0': 4, 'video-1': 2}   # video -> the objects its views are spread over


class ViewCounter(dosim.DurableObject):
    """The reference solution: one object per video, the two hottest split."""

    @staticmethod
    def route(video: str, n: int) -> str:
        pieces = SPLIT.get(video, 1)
        return f'{video}#{n % pieces}' if pieces > 1 else video

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        video = request.url.partition('video=')[2]
        yield dosim.compute(BOT_CHECK_MS)   # is this view a bot?
        views = (yield self.ctx.storage.get(video)) or 0
        self.ctx.storage.put(video, views + 1)
        return dosim.Response(str(views + 1))


class SpreadEverything(ViewCounter):
    """Also passes: every video's views go round-robin over 16 shards, so the load is even
    -- but reading any video's count now means asking 16 objects."""

    @staticmethod
    def route(video: str, n: int) -> str:
        return f'shard-{(zlib.crc32(video.encode()) + n) % 16}'


# -- common wrong answers (the checker's reply to each is in notebooks/README.md) ---------------
class Starter(ViewCounter):
    """The starter as the notebook has it: every view to one object."""

    @staticmethod
    def route(video: str, n: int) -> str:
        return 'all-videos'


class ShardByHash(ViewCounter):
    """Wrong: the videos hashed over 16 shards. The load spreads -- except ``video-0``'s,
    which all lands on one shard, and alone exceeds what an object can serve."""

    @staticmethod
    def route(video: str, n: int) -> str:
        return f'shard-{zlib.crc32(video.encode()) % 16}'


class OnePerVideo(ViewCounter):
    """Wrong: one object per video, the natural Durable Objects design -- and ``video-0``'s
    object is sent more than it can serve."""

    @staticmethod
    def route(video: str, n: int) -> str:
        return video


class CountInMemory(ViewCounter):
    """Wrong: routed well, but the count is kept in memory (and written through), to skip
    the storage read. When an object hibernates, its count starts over from 0."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.views: dict[str, int] = {}

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        video = request.url.partition('video=')[2]
        yield dosim.compute(BOT_CHECK_MS)
        self.views[video] = self.views.get(video, 0) + 1
        self.ctx.storage.put(video, self.views[video])
        return dosim.Response(str(self.views[video]))


class SkipTheBotCheck(Starter):
    """Wrong: one object is fast enough once the bot check is gone -- but the check is the
    work, not the overhead."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        video = request.url.partition('video=')[2]
        views = (yield self.ctx.storage.get(video)) or 0
        self.ctx.storage.put(video, views + 1)
        return dosim.Response(str(views + 1))
