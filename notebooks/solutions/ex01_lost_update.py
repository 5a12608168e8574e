"""Exercise 1 -- the lost like: a reference solution, and the wrong answers the guide lists.

The bug: the handler reads ``likes``, awaits the spam filter (an outbound fetch, which opens
the input gate), then writes ``likes + 1``. Every like that arrives meanwhile reads the same
count, and all but one of their updates are lost.

The fix used here: call the spam filter *first*, then read and write with nothing but storage
in between. The input gate stays closed across the read and the coalesced write, so the pair
is one step. Two other fixes pass too: read ``likes`` again after the fetch, or wrap the whole
handler in ``self.ctx.block_concurrency_while`` (correct, but every like then waits for the
previous one's spam check: the object handles one like per 30 ms).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import dosim


class LikeCounter(dosim.DurableObject):
    """The reference solution: check first, then read-modify-write in one step."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        yield dosim.fetch_external(latency_ms=30)              # the spam filter, first
        likes = ((yield self.ctx.storage.get('likes')) or 0) + 1
        self.ctx.storage.put('likes', likes)                    # no wait between read and write
        return dosim.Response(str(likes))


class ReReadAfterFetch(dosim.DurableObject):
    """Also right: read for the spam check, then read again after it."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        yield self.ctx.storage.get('likes')
        yield dosim.fetch_external(latency_ms=30)
        likes = ((yield self.ctx.storage.get('likes')) or 0) + 1
        self.ctx.storage.put('likes', likes)
        return dosim.Response(str(likes))


# -- common wrong answers (the checker's reply to each is in notebooks/README.md) ---------------
class AwaitedPut(dosim.DurableObject):
    """Wrong: awaiting the ``put`` changes when the write is confirmed, not when it was read.
    Likes are still lost, exactly as with the starter."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        likes = (yield self.ctx.storage.get('likes')) or 0
        yield dosim.fetch_external(latency_ms=30)
        yield self.ctx.storage.put('likes', likes + 1)
        return dosim.Response(str(likes + 1))


class CountInMemory(dosim.DurableObject):
    """Wrong: a counter in memory is safe from interleaving, but starts over at 0 whenever
    the object leaves memory (here: it hibernates in the quiet two minutes)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.likes = 0

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        yield dosim.fetch_external(latency_ms=30)
        self.likes += 1
        self.ctx.storage.put('likes', self.likes)
        return dosim.Response(str(self.likes))


class NoSpamCheck(dosim.DurableObject):
    """Wrong: dropping the spam filter removes the race -- and the feature."""

    def fetch(self, request: dosim.Request) -> Generator[Any, Any, dosim.Response]:
        likes = ((yield self.ctx.storage.get('likes')) or 0) + 1
        self.ctx.storage.put('likes', likes)
        return dosim.Response(str(likes))
