"""Many timers on one alarm: the multi-event scheduler.

An object has a single alarm, so a model that needs many timers keeps them in storage and
points the alarm at the earliest. Each event is stored twice:

* ``event:<id>`` -> ``{'id', 'runAt', 'repeatMs', 'payload'}`` (to find and cancel it by id);
* ``due:<runAt, 15 digits>:<id>`` -> ``id``: an index ordered by time, because ``list()``
  returns keys in byte order and zero-padded numbers sort like numbers.

When the alarm fires, every event with ``runAt <= now`` is handled (:meth:`on_event`):
repeating ones move forward by ``repeatMs`` (past now), one-shot ones are deleted. Then the
alarm is set to the earliest remaining ``runAt`` -- or deleted when nothing is left -- so
exactly one alarm is pending while any event is.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..context import now
from ..http import Response
from ..object import DurableObject

__all__ = ['EventScheduler']

_WIDTH = 15


def _due_key(run_at: float, event_id: str) -> str:
    return f'due:{int(run_at):0{_WIDTH}d}:{event_id}'


class EventScheduler(DurableObject):
    """RPC: ``add_event(id, run_at, repeat_ms=None, payload=None)``, ``cancel_event(id)``,
    ``pending()``. Override :meth:`on_event` (a generator) to act on each due event."""

    def add_event(self, event_id: str, run_at: float, repeat_ms: float | None = None,
                  payload: Any = None) -> Generator[Any, Any, dict[str, Any]]:
        if not isinstance(event_id, str) or ':' in event_id:
            raise ValueError(f'add_event(event_id): a string without ":", got {event_id!r}')
        if isinstance(run_at, bool) or not isinstance(run_at, (int, float)) or run_at <= 0:
            raise ValueError(f'add_event(run_at): epoch ms > 0, got {run_at!r}')
        if repeat_ms is not None and (not isinstance(repeat_ms, (int, float)) or repeat_ms <= 0):
            raise ValueError(f'add_event(repeat_ms): a number > 0 or None, got {repeat_ms!r}')
        st = self.ctx.storage
        old = yield st.get(f'event:{event_id}')
        if old is not None:
            st.delete(_due_key(old['runAt'], event_id))
        event = {'id': event_id, 'runAt': int(run_at), 'repeatMs': repeat_ms, 'payload': payload}
        st.put({f'event:{event_id}': event, _due_key(run_at, event_id): event_id})
        yield from self._rearm()
        return event

    def cancel_event(self, event_id: str) -> Generator[Any, Any, bool]:
        st = self.ctx.storage
        old = yield st.get(f'event:{event_id}')
        if old is None:
            return False
        st.delete([f'event:{event_id}', _due_key(old['runAt'], event_id)])
        yield from self._rearm()
        return True

    def pending(self) -> Generator[Any, Any, list[dict[str, Any]]]:
        """Pending events, earliest first."""
        st = self.ctx.storage
        index = yield st.list(prefix='due:')
        events = yield st.get([f'event:{i}' for i in index.values()][:128])
        return [events[f'event:{i}'] for i in index.values() if f'event:{i}' in events]

    def next_alarm(self) -> Generator[Any, Any, dict[str, Any]]:
        """The alarm's time and the earliest pending ``runAt`` (equal, or both ``None``)."""
        st = self.ctx.storage
        first = yield st.list(prefix='due:', limit=1)
        earliest = int(next(iter(first)).split(':')[1]) if first else None
        return {'alarm': (yield st.get_alarm()), 'earliest': earliest}

    def fetch(self, request: Any) -> Generator[Any, Any, Response]:
        if request.path == '/pending':
            return Response((yield from self.pending()))
        return Response('not found', status=404)

    def on_event(self, event: dict[str, Any]) -> Generator[Any, Any, None]:
        """Act on one due event; by default count it in storage (``fired:<id>``)."""
        st = self.ctx.storage
        st.put(f'fired:{event["id"]}', ((yield st.get(f'fired:{event["id"]}')) or 0) + 1)

    def alarm(self, alarm_info: Any) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        current = now()
        due = yield st.list(prefix='due:', end=_due_key(current + 1, ''))
        for key, event_id in due.items():
            event = yield st.get(f'event:{event_id}')
            if event is None:
                st.delete(key)
                continue
            yield from self.on_event(event)
            st.delete(key)
            if event['repeatMs']:
                run_at = event['runAt']
                while run_at <= current:
                    run_at += event['repeatMs']
                event = {**event, 'runAt': int(run_at)}
                st.put({f'event:{event_id}': event, _due_key(run_at, event_id): event_id})
            else:
                st.delete(f'event:{event_id}')
        yield from self._rearm()

    def _rearm(self) -> Generator[Any, Any, None]:
        st = self.ctx.storage
        first = yield st.list(prefix='due:', limit=1)
        if first:
            run_at = int(next(iter(first)).split(':')[1])
            if (yield st.get_alarm()) != run_at:
                yield st.set_alarm(run_at)
        else:
            yield st.delete_alarm()
