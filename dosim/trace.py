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


class _Intervals:
    """Closed lifecycle intervals, kept flat in one list: the six fields of an interval's
    ``row`` (namespace, object, incarnation, state, start, reason), then its end (see
    :meth:`dosim.lifecycle.Lifecycle.enter`). Closing an interval makes no new object (a
    million intervals cost a third of the memory of a million tuples, and the garbage
    collector never looks at them). The frame is built from rebuilt row tuples, so pandas
    infers exactly the dtypes it would from tuples."""

    __slots__ = ('values',)

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __len__(self) -> int:
        return len(self.values) // 7

    def frame(self, extra: list[tuple[Any, ...]]) -> pd.DataFrame:
        v = self.values
        columns = (v[0::7], v[1::7], v[2::7], v[3::7], v[4::7], v[6::7], v[5::7])  # end, reason
        rows = list(zip(*columns, strict=True))
        return pd.DataFrame(rows + extra, columns=LIFECYCLE_COLUMNS)


class Trace:
    """Everything recorded in one simulation (see the module docstring for the columns)."""

    def __init__(self, level: str, clock: Any) -> None:
        self.level = level
        self.full = level == 'full'
        self.keep_requests = level in ('full', 'requests')
        self._clock = clock  # the SimPy environment, for open intervals
        self._events = _Table(EVENT_COLUMNS)
        self._requests = _Table(REQUEST_COLUMNS)
        self._lifecycle = _Intervals()
        self.intervals = self._lifecycle.values   # extended directly by Lifecycle.enter
        self._alarms = _Table(ALARM_COLUMNS)
        self._faults = _Table(FAULT_COLUMNS)
        self.fault_rows = self._faults.rows
        self._writes = _Table(WRITE_COLUMNS)
        self.write_rows = self._writes.rows
        self._batches = _Table(BATCH_COLUMNS)
        self.batch_rows = self._batches.rows
        self.holders: list[Any] = []   # every object's lifecycle, in order of first state
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
        now = self._clock.now
        holders = self.holders
        still_open = [(*h.held[:5], h.held_end, h.held[5]) for h in holders
                      if h.held is not None]
        still_open += [(*h.row[:5], now, h.row[5]) for h in holders]
        frame = self._lifecycle.frame(still_open)
        return frame.sort_values(['start_ms', 'namespace', 'object'], kind='stable').reset_index(
            drop=True
        )
