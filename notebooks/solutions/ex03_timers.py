"""Exercise 3 -- many timers, one alarm: a reference solution and the wrong answers.

The bugs of the starter: ``schedule`` sets the alarm to the new timer's time even when
another timer is due sooner; the alarm handler never points the alarm at the next timer; a
repeating timer is deleted after it fires; ``cancel`` leaves the alarm where it was.

The fix used here keeps every timer under ``timer:<id>`` and, after every change -- a new
timer, a cancel, an alarm run -- points the alarm at the earliest ``at`` of all timers, or
deletes it when none is left (:meth:`Timers._rearm`). A repeating timer moves on from its
*due* time by ``repeat_ms`` (not from ``now()``, which would drift by the alarm's delivery
delay every time). Listing every timer is fine for tens of timers; for thousands, keep an
index ordered by time (``due:<at, zero-padded>:<id>``) and list it with ``limit=1``, as
``dosim.models.EventScheduler`` does.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import dosim
from dosim.edu import TimerHost


class Timers(TimerHost):
    """The reference solution."""

    def schedule(self, timer_id: str, at: int,
                 repeat_ms: int | None = None) -> Generator[Any, Any, None]:
        self.ctx.storage.put(f'timer:{timer_id}', {'at': at, 'repeat_ms': repeat_ms})
        yield from self._rearm()

    def cancel(self, timer_id: str) -> Generator[Any, Any, None]:
        yield self.ctx.storage.delete(f'timer:{timer_id}')
        yield from self._rearm()

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        now = dosim.now()
        timers = yield st.list(prefix='timer:')
        for key, timer in timers.items():
            if timer['at'] > now:
                continue
            self.fire(key.removeprefix('timer:'))
            if timer['repeat_ms']:
                at = timer['at']
                while at <= now:
                    at += timer['repeat_ms']           # from the due time: no drift
                st.put(key, {**timer, 'at': at})
            else:
                st.delete(key)
        yield from self._rearm()

    def _rearm(self) -> Generator[Any, Any, None]:
        """Point the alarm at the earliest timer, or delete it when none is left."""
        st = self.ctx.storage
        timers = yield st.list(prefix='timer:')
        if timers:
            yield st.set_alarm(min(t['at'] for t in timers.values()))
        else:
            yield st.delete_alarm()


# -- common wrong answers (the checker's reply to each is in notebooks/README.md) ---------------
class DriftingRepeat(Timers):
    """Wrong: the next due time of a repeating timer counted from ``now()`` drifts later by
    the alarm's delivery delay at every firing."""

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        now = dosim.now()
        timers = yield st.list(prefix='timer:')
        for key, timer in timers.items():
            if timer['at'] <= now:
                self.fire(key.removeprefix('timer:'))
                if timer['repeat_ms']:
                    st.put(key, {**timer, 'at': now + timer['repeat_ms']})
                else:
                    st.delete(key)
        yield from self._rearm()


class CancelWithoutRearm(Timers):
    """Wrong: a cancelled timer no longer fires, but the alarm still points at it, waking
    the object (and billing a request) for nothing."""

    def cancel(self, timer_id: str) -> Generator[Any, Any, None]:
        yield self.ctx.storage.delete(f'timer:{timer_id}')


class NoRearmAfterAlarm(Timers):
    """Wrong: ``schedule`` keeps the alarm at the earliest timer, but after the alarm fires
    nothing points it at the next one: later timers never fire."""

    def schedule(self, timer_id: str, at: int,
                 repeat_ms: int | None = None) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        st.put(f'timer:{timer_id}', {'at': at, 'repeat_ms': repeat_ms})
        current = yield st.get_alarm()
        if current is None or at < current:
            yield st.set_alarm(at)

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        timers = yield st.list(prefix='timer:')
        for key, timer in timers.items():
            if timer['at'] <= dosim.now():
                self.fire(key.removeprefix('timer:'))
                st.delete(key)
