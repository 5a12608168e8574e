"""The record of what happened, as tidy pandas DataFrames.

While a simulation runs, the runtime appends plain tuples to lists (cheap); a frame is built
only when asked for, and rebuilt only if rows were added since. Times are milliseconds since
the simulation started.

``events`` -- one row per runtime event:
    ``time_ms``, ``namespace``, ``object`` (the name an id was made from, else 16 hex digits),
    ``incarnation`` (1 for the first constructor run of that object, 2 after its first
    reset ...; 0 before any), ``kind`` (see :data:`EVENT_KINDS`), ``request_id`` (or -1),
    ``detail`` (free text).

``requests`` -- one row per request or RPC call, in the order the answers arrived:
    ``request_id``, ``caller``, ``namespace``, ``object``, ``kind`` (``fetch`` or ``rpc``),
    ``method`` (HTTP method, or the RPC method's name), ``incarnation``, the times
    ``sent_ms`` (the caller made it), ``departed_ms`` (it left, once the caller's output gate
    let it: later than ``sent_ms`` only for calls from objects with unconfirmed writes),
    ``arrived_ms`` (reached the object), ``started_ms``
    (its handler began), ``handler_done_ms``, ``released_ms`` (the output gate let the reply
    go), ``received_ms`` (the caller has it), and the parts of the latency ``network_ms``
    (both directions), ``queue_ms``, ``handler_ms``, ``gate_ms``, ``latency_ms`` (their sum,
    received - sent; ``network_ms`` includes any wait at the caller's own output gate and
    the uniqueness check of a name's first call), then ``status`` (``ok`` or ``error``),
    ``http_status`` and ``error``. A stage a request never reached is NaN.

``lifecycle`` -- one row per interval an object spent in one state:
    ``namespace``, ``object``, ``incarnation``, ``state`` (``active``: an event in progress;
    ``idle``: in memory, nothing running; ``hibernated``; ``evicted``: out of memory),
    ``start_ms``, ``end_ms`` (the simulation's current time for the interval still open),
    ``reason`` (why the interval began).

``faults`` -- one row per injected fault as it takes effect: ``time_ms``, ``kind``,
    ``target`` (object, data centre, namespace, places) and ``detail``.

``writes`` (level ``full``) -- one row per key of every flushed write batch: ``flushed_ms``,
    ``namespace``, ``object``, ``incarnation``, ``batch`` (its number within the
    incarnation), ``request_id`` (of the handler that wrote it; -1 outside one), ``key``,
    ``deleted`` and ``value`` (a copy; ``None`` for deletes).

``batches`` (level ``full``) -- one row per flushed write batch: ``namespace``, ``object``,
    ``incarnation``, ``batch``, ``flushed_ms``, ``done_ms`` and ``outcome``
    (``confirmed``; ``failed``: its confirmation failed and the object reset; ``lost``: the
    object was reset before it was confirmed).

``alarms`` -- one row per alarm attempt:
    ``namespace``, ``object``, ``incarnation``, ``scheduled_ms`` (the time the alarm was set
    for), ``fired_ms`` (its handler started; NaN if the object was reset before it could),
    ``done_ms``, ``retry_count`` and ``is_retry`` (as the handler saw them), ``outcome``
    (``ok``; ``error``: raised, a retry follows; ``abandoned``: the 7th failure, no retry;
    ``superseded``: failed, but a new alarm set during the run replaces the retry; ``reset``:
    the object was reset under it, an uncounted retry follows), ``next_attempt_ms`` (when
    the retry is due, NaN if none) and ``error``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .values import clone_out

__all__ = ['EVENT_KINDS', 'Trace']

EVENT_KINDS = (
    'request_received', 'request_started', 'request_done', 'response_released',
    'request_failed', 'overloaded', 'constructor', 'reset', 'gate_open', 'gate_close',
    'storage_get', 'storage_put', 'storage_delete', 'storage_list', 'storage_delete_all',
    'storage_sync', 'alarm_set', 'alarm_deleted', 'alarm_fired', 'alarm_started',
    'alarm_retry', 'alarm_cleared', 'alarm_abandoned', 'fault', 'placed', 'uniqueness_check',
    'state', 'hibernate', 'wake', 'evict', 'websocket_accept', 'websocket_message',
    'websocket_close', 'websocket_error', 'websocket_auto_response', 'websocket_started',
    'websocket_send', 'websocket_sent',
    'message_sent', 'message_received', 'message_lost', 'deploy', 'transaction_commit',
    'transaction_rollback', 'flush', 'confirm',
    'write_failed', 'compute', 'sleep', 'fetch_external', 'block_concurrency',
)

EVENT_COLUMNS = ['time_ms', 'namespace', 'object', 'incarnation', 'kind', 'request_id', 'detail']
REQUEST_COLUMNS = [
    'request_id', 'caller', 'stub', 'namespace', 'object', 'kind', 'method', 'incarnation',
    'sent_ms', 'departed_ms', 'arrived_ms', 'started_ms', 'handler_done_ms', 'released_ms',
    'received_ms',
    'network_ms', 'queue_ms', 'handler_ms', 'gate_ms', 'latency_ms',
    'status', 'http_status', 'error',
]
LIFECYCLE_COLUMNS = [
    'namespace', 'object', 'incarnation', 'state', 'start_ms', 'end_ms', 'reason'
]
FAULT_COLUMNS = ['time_ms', 'kind', 'target', 'detail']
WRITE_COLUMNS = [
    'flushed_ms', 'namespace', 'object', 'incarnation', 'batch', 'request_id', 'key', 'deleted',
    'value',
]
BATCH_COLUMNS = ['namespace', 'object', 'incarnation', 'batch', 'flushed_ms', 'done_ms', 'outcome']
ALARM_COLUMNS = [
    'namespace', 'object', 'incarnation', 'scheduled_ms', 'fired_ms', 'done_ms', 'retry_count',
    'is_retry', 'outcome', 'next_attempt_ms', 'error',
]


class _Table:
    """Rows appended as tuples; the frame is built on demand and cached."""

    __slots__ = ('_frame', '_frame_rows', 'columns', 'rows')

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.rows: list[tuple[Any, ...]] = []
        self._frame: pd.DataFrame | None = None
        self._frame_rows = -1

    def frame(self, extra: list[tuple[Any, ...]] | None = None) -> pd.DataFrame:
        if extra:
            return pd.DataFrame(self.rows + extra, columns=self.columns)
        if self._frame is None or self._frame_rows != len(self.rows):
            self._frame = pd.DataFrame(self.rows, columns=self.columns)
            self._frame_rows = len(self.rows)
        return self._frame.copy()


class Transitions:
    """The lifecycle's log of state changes, and the intervals made from it.

    :meth:`dosim.lifecycle.Lifecycle.enter` appends five fields per change to ``log`` (the
    lifecycle, the incarnation, the state, the time, the reason): a million changes cost one
    list, and nothing else is done while the simulation runs. The intervals are made when
    someone asks for them (:meth:`replay`), object by object, by these rules:

    * a change closes the object's open interval and opens one in the new state;
    * a change to the state the open interval is in (same incarnation) changes nothing;
    * an interval that would last no time (the next change comes at the same instant) is
      dropped, and if the object is back in that instant to the state (and incarnation) of
      the interval before, that one goes on: an object that is idle, busy for an instant,
      then idle again shows one idle interval.

    So an interval is final only once the object's next interval has lasted some time: each
    object keeps its open interval and the one before in :attr:`open`; the intervals that
    are final are kept flat in :attr:`closed`, seven fields each (namespace, object,
    incarnation, state, start, reason, end), and the log's replayed part is dropped."""

    __slots__ = ('closed', 'log', 'open')

    def __init__(self) -> None:
        self.log: list[Any] = []
        self.closed: list[Any] = []
        # per lifecycle, in the order of first change: [open interval (incarnation, state,
        # start, reason), the interval before it (or None), when that one ended]
        self.open: dict[Any, list[Any]] = {}

    def __len__(self) -> int:
        self.replay()
        return len(self.closed) // 7 + sum(1 + (s[1] is not None) for s in self.open.values())

    def replay(self) -> None:
        """Turn the changes logged since the last call into intervals (see the rules)."""
        log = self.log
        if not log:
            return
        opened, closed = self.open, self.closed
        it = iter(log)
        for holder, inc, state, time, reason in zip(it, it, it, it, it, strict=True):
            s = opened.get(holder)
            if s is None:
                opened[holder] = [(inc, state, time, reason), None, 0.0]
                continue
            cur, prev, prev_end = s
            if cur[1] == state and cur[0] == inc:
                continue
            if cur[2] == time:   # the open interval lasted no time: dropped
                if prev is not None and prev_end == time and prev[1] == state and \
                        prev[0] == inc:
                    s[0], s[1] = prev, None   # the one before goes on
                    continue
            else:
                if prev is not None:   # final now
                    actor = holder.actor
                    closed += (actor.ns_name, actor.label, *prev, prev_end)
                s[1], s[2] = cur, time
            s[0] = (inc, state, time, reason)
        log.clear()

    def frame(self, now: float) -> pd.DataFrame:
        """Every interval, those still open ending *now* (rows in no particular order)."""
        self.replay()
        v = self.closed
        columns = (v[0::7], v[1::7], v[2::7], v[3::7], v[4::7], v[6::7], v[5::7])  # end, reason
        rows = list(zip(*columns, strict=True))
        for holder, (cur, prev, prev_end) in self.open.items():
            actor = holder.actor
            if prev is not None:
                rows.append((actor.ns_name, actor.label, *prev[:3], prev_end, prev[3]))
            rows.append((actor.ns_name, actor.label, *cur[:3], now, cur[3]))
        return pd.DataFrame(rows, columns=LIFECYCLE_COLUMNS)


class Trace:
    """Everything recorded in one simulation (see the module docstring for the columns)."""

    def __init__(self, level: str, clock: Any) -> None:
        self.level = level
        self.full = level == 'full'
        self.keep_requests = level in ('full', 'requests')
        self._clock = clock  # the SimPy environment, for open intervals
        self._events = _Table(EVENT_COLUMNS)
        self._requests = _Table(REQUEST_COLUMNS)
        self._lifecycle = Transitions()
        self.transitions = self._lifecycle.log   # extended directly by Lifecycle.enter
        self._alarms = _Table(ALARM_COLUMNS)
        self._faults = _Table(FAULT_COLUMNS)
        self.fault_rows = self._faults.rows
        self._writes = _Table(WRITE_COLUMNS)
        self.write_rows = self._writes.rows
        self._batches = _Table(BATCH_COLUMNS)
        self.batch_rows = self._batches.rows
        self.event_rows = self._events.rows  # appended to directly on the hot path
        self.request_rows = self._requests.rows
        self.alarm_rows = self._alarms.rows
        self.request_count = 0

    # -- recording ----------------------------------------------------------------------
    def event(
        self, ns: str, obj: str, inc: int, kind: str, rid: int = -1, detail: str = ''
    ) -> None:
        """Record one runtime event at the current time (only at level ``full``)."""
        if self.full:
            self.event_rows.append((self._clock._now, ns, obj, inc, kind, rid, detail))

    # -- frames -------------------------------------------------------------------------
    @property
    def events(self) -> pd.DataFrame:
        return self._events.frame()

    @property
    def requests(self) -> pd.DataFrame:
        return self._requests.frame()

    @property
    def alarms(self) -> pd.DataFrame:
        return self._alarms.frame()

    @property
    def faults(self) -> pd.DataFrame:
        return self._faults.frame()

    @property
    def writes(self) -> pd.DataFrame:
        frame = self._writes.frame()
        frame['value'] = pd.Series(
            [None if d else clone_out(v)
             for d, v in zip(frame['deleted'], frame['value'], strict=True)],
            index=frame.index, dtype=object)
        return frame

    @property
    def batches(self) -> pd.DataFrame:
        return self._batches.frame()

    @property
    def lifecycle(self) -> pd.DataFrame:
        frame = self._lifecycle.frame(self._clock.now)
        return frame.sort_values(['start_ms', 'namespace', 'object'], kind='stable').reset_index(
            drop=True
        )
