"""Invariants of the runtime, checked on the record of a finished run.

``check(sim)`` reads the frames of ``sim.trace`` (it needs ``trace_level='full'``), the
confirmed storage of every object and the billing meters, and returns one row per violation:

=======================  ===============================================================
invariant                 what must hold
=======================  ===============================================================
``acknowledged_write``    a write of a request answered ``ok`` is in a confirmed batch, and
                          the final storage holds it unless a later confirmed write replaced
                          it (or a later ``delete_all`` cleared it)
``atomic_batch``          a batch is applied whole or not at all: a confirmed batch's keys
                          all hold its values (unless replaced later); a ``lost`` or
                          ``failed`` batch left no value behind
``output_gate``           a reply leaves only after every batch its instance flushed before
                          the handler ended is confirmed; an ``ok`` reply never follows a lost
                          batch of that instance
``single_thread``         the ``compute`` intervals of one instance never overlap, and no
                          other event starts or resumes during one
``alarm_at_least_once``   every alarm run ends ``ok``, ``abandoned`` after exactly 7 counted
                          failures, ``superseded``, or is deleted or replaced; a due retry
                          fires
``e_order``               the calls of one stub arrive in the order they were sent
``lifecycle``             an object moves only along the documented state transitions
``meters``                meters are never negative; ``duration_gb_s`` is the billed time of
                          ``lifecycle`` at 128 MB
=======================  ===============================================================

Every check is a small function of frames (``check_output_gate(requests, batches, events)``
...), so a test can hand it a doctored frame and see the violation it must report.

Columns of the result: ``invariant``, ``time_ms``, ``namespace``, ``object``, ``detail``
and ``rows`` (the request ids, batch numbers or frame rows that show the violation).
An empty frame means every invariant held.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .values import clone_out

if TYPE_CHECKING:
    from .simulation import Simulation

__all__ = [
    'VIOLATION_COLUMNS',
    'check',
    'confirmed_storage',
    'check_acknowledged_writes',
    'check_atomic_batches',
    'check_output_gate',
    'check_single_thread',
    'check_alarms',
    'check_e_order',
    'check_lifecycle',
    'check_meters',
]

VIOLATION_COLUMNS = ['invariant', 'time_ms', 'namespace', 'object', 'detail', 'rows']

#: Storage of every object: ``{(namespace, object label): {key: value}}``.
StorageMap = dict[tuple[str, str], dict[str, Any]]
Row = tuple[str, float, str, str, str, list[Any]]

#: The documented lifecycle transitions (besides any state -> ``evicted`` by a reset or a
#: deploy). ``lifecycle`` drops intervals that last no time, so two steps through an
#: ``active`` instant (``evicted -> active -> idle_hibernatable``) show as one, and so do two
#: through an ``evicted`` instant (``active -> evicted -> active`` of the next incarnation).
TRANSITIONS: dict[str, frozenset[str]] = {
    'active': frozenset({'idle', 'idle_hibernatable'}),
    'idle': frozenset({'active', 'idle_hibernatable', 'evicted'}),
    'idle_hibernatable': frozenset({'active', 'idle', 'hibernated'}),
    'hibernated': frozenset({'active'}),
    'evicted': frozenset({'active'}),
}
BILLED = ('active', 'idle')
ABANDON_AFTER = 7   # counted failed attempts (retry_count 0..6) before an alarm is abandoned

_BATCH = re.compile(r'batch (\d+)')


def _v(invariant: str, time_ms: float, ns: str, obj: str, detail: str, rows: list[Any]) -> Row:
    return (invariant, float(time_ms), ns, obj, detail, list(rows))


def _frame(rows: list[Row]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=VIOLATION_COLUMNS)


# -- the entry point ------------------------------------------------------------------------------
def check(sim: Simulation) -> pd.DataFrame:
    """Every invariant of the module docstring on *sim*'s run; one row per violation."""
    if sim.trace.level != 'full':
        raise ValueError(
            f"check(sim) needs the full trace: make the Simulation with "
            f"Config(trace_level='full'), not {sim.trace.level!r}"
        )
    t = sim.trace
    events, requests, batches, writes = t.events, t.requests, t.batches, t.writes
    storage = confirmed_storage(sim)
    cfg = sim.config
    parts = [
        check_acknowledged_writes(requests, writes, batches, events, storage),
        check_atomic_batches(writes, batches, events, storage),
        check_output_gate(requests, batches, events),
        check_output_gate_outgoing(requests, batches),
        check_output_gate_websocket(events, batches),
        check_single_thread(events),
        check_alarms(t.alarms, events, sim.now),
        check_alarms_pending(sim),
        check_e_order(requests, events),
        check_lifecycle(t.lifecycle),
        check_meters(sim.meters, t.lifecycle, cfg.bill_hibernatable_idle, cfg.billed_memory_mb),
    ]
    rows = [r for part in parts for r in part.itertuples(index=False, name=None)]
    return _frame(rows)


def confirmed_storage(sim: Simulation) -> StorageMap:
    """The confirmed storage of every object ever addressed, keyed by (namespace, label)."""
    out: StorageMap = {}
    for binding, ns in sim.namespaces.items():
        for actor in ns.actors.values():
            data = actor.store.data
            out[(binding, actor.label)] = {k: clone_out(data[k]) for k in sorted(data)}
    return out


# -- storage: what the batches should have left ----------------------------------------------------
@dataclass(frozen=True)
class _Write:
    batch: tuple[str, str, int, int]   # namespace, object, incarnation, batch
    flushed_ms: float
    rid: int
    key: str
    deleted: bool
    value: Any
    outcome: str                        # confirmed, lost, failed, or pending (not done yet)


def _cleared(events: pd.DataFrame) -> set[tuple[str, str, int, int]]:
    """Batches that began with ``delete_all()`` (their flush event says so)."""
    flushes = events[(events['kind'] == 'flush')
                     & events['detail'].str.endswith('after delete_all')]
    return {(ns, obj, int(inc), int(_BATCH.match(d).group(1)))   # type: ignore[union-attr]
            for ns, obj, inc, d in flushes[['namespace', 'object', 'incarnation', 'detail']]
            .itertuples(index=False, name=None)}


def _writes(writes: pd.DataFrame, batches: pd.DataFrame) -> list[_Write]:
    """Every written key with its batch's outcome, in flush order."""
    outcome = {(ns, obj, int(inc), int(b)): out for ns, obj, inc, b, out in
               batches[['namespace', 'object', 'incarnation', 'batch', 'outcome']]
               .itertuples(index=False, name=None)}
    rows = []
    for f, ns, obj, inc, b, rid, key, deleted, value in writes[
            ['flushed_ms', 'namespace', 'object', 'incarnation', 'batch', 'request_id', 'key',
             'deleted', 'value']].itertuples(index=False, name=None):
        bk = (ns, obj, int(inc), int(b))
        rows.append(_Write(bk, float(f), int(rid), key, bool(deleted), value,
                           outcome.get(bk, 'pending')))
    rows.sort(key=lambda w: (w.flushed_ms, w.batch[2], w.batch[3]))
    return rows


def _expected(ws: list[_Write], batches: pd.DataFrame,
              cleared: set[tuple[str, str, int, int]]) -> dict[tuple[str, str, str], _Write | None]:
    """For each (namespace, object, key): the last confirmed write, or None when a later
    confirmed ``delete_all`` cleared it."""
    last: dict[tuple[str, str, str], _Write | None] = {}
    confirmed_clears = sorted(
        ((float(f), int(inc), int(b), ns, obj) for ns, obj, inc, b, f, out in
         batches[['namespace', 'object', 'incarnation', 'batch', 'flushed_ms', 'outcome']]
         .itertuples(index=False, name=None)
         if out == 'confirmed' and (ns, obj, int(inc), int(b)) in cleared))
    ci = 0
    for w in ws:
        while ci < len(confirmed_clears) and confirmed_clears[ci][:3] < (
                w.flushed_ms, w.batch[2], w.batch[3]):
            _, _, _, ns, obj = confirmed_clears[ci]
            for k in [k for k in last if k[:2] == (ns, obj)]:
                last[k] = None
            ci += 1
        if w.outcome == 'confirmed':
            last[(w.batch[0], w.batch[1], w.key)] = w
    for _, _, _, ns, obj in confirmed_clears[ci:]:
        for k in [k for k in last if k[:2] == (ns, obj)]:
            last[k] = None
    return last


_ABSENT: Any = object()


def _holds(storage: StorageMap, ns: str, obj: str, key: str, deleted: bool, value: Any) -> bool:
    actual = storage.get((ns, obj), {}).get(key, _ABSENT)
    return actual is _ABSENT if deleted else actual is not _ABSENT and actual == value


def check_acknowledged_writes(requests: pd.DataFrame, writes: pd.DataFrame,
                              batches: pd.DataFrame, events: pd.DataFrame,
                              storage: StorageMap) -> pd.DataFrame:
    """A write whose request was answered ``ok`` is confirmed, and still in storage unless
    a later confirmed write (or ``delete_all``) replaced it."""
    ok = set(requests.loc[requests['status'] == 'ok', 'request_id'].astype(int))
    ws = _writes(writes, batches)
    last = _expected(ws, batches, _cleared(events))
    out = []
    for w in ws:
        if w.rid not in ok:
            continue
        ns, obj, _, b = w.batch
        if w.outcome != 'confirmed':
            out.append(_v('acknowledged_write', w.flushed_ms, ns, obj,
                          f'request {w.rid} answered ok, but its write of {w.key!r} is in '
                          f'batch {b}, which was {w.outcome}', [w.rid]))
        elif last.get((ns, obj, w.key)) is w and not _holds(storage, ns, obj, w.key,
                                                           w.deleted, w.value):
            got = storage.get((ns, obj), {}).get(w.key, '<missing>')
            want = '<deleted>' if w.deleted else repr(w.value)
            out.append(_v('acknowledged_write', w.flushed_ms, ns, obj,
                          f'request {w.rid} wrote {w.key!r}={want} (batch {b}, the last '
                          f'confirmed write of it), storage holds {got!r}', [w.rid]))
    return _frame(out)


def check_atomic_batches(writes: pd.DataFrame, batches: pd.DataFrame, events: pd.DataFrame,
                         storage: StorageMap) -> pd.DataFrame:
    """Every batch is applied whole or not at all (see the module docstring)."""
    ws = _writes(writes, batches)
    last = _expected(ws, batches, _cleared(events))
    by_batch: dict[tuple[str, str, int, int], list[_Write]] = defaultdict(list)
    for w in ws:
        by_batch[w.batch].append(w)
    out = []
    for bk, items in by_batch.items():
        ns, obj, inc, b = bk
        outcome = items[0].outcome
        if outcome == 'confirmed':
            missing = [w.key for w in items if last.get((ns, obj, w.key)) is w
                       and not _holds(storage, ns, obj, w.key, w.deleted, w.value)]
            if missing:
                out.append(_v('atomic_batch', items[0].flushed_ms, ns, obj,
                              f'confirmed batch {b} (incarnation {inc}) is not in storage '
                              f'for keys {missing}', [b]))
        elif outcome in ('lost', 'failed'):
            taken = []
            for w in items:
                exp = last.get((ns, obj, w.key))
                if exp is None and w.deleted:
                    continue
                if exp is not None and exp.deleted == w.deleted and (
                        w.deleted or exp.value == w.value):
                    continue   # a confirmed write left the same thing: no evidence either way
                if _holds(storage, ns, obj, w.key, w.deleted, w.value):
                    taken.append(w.key)
            if taken:
                out.append(_v('atomic_batch', items[0].flushed_ms, ns, obj,
                              f'{outcome} batch {b} (incarnation {inc}) left its values for '
                              f'keys {taken}', [b]))
    return _frame(out)


# -- the output gate -------------------------------------------------------------------------------
def check_output_gate(requests: pd.DataFrame, batches: pd.DataFrame,
                      events: pd.DataFrame) -> pd.DataFrame:
    """No reply is released before the confirmation of a batch its instance flushed before
    the handler ended; no ``ok`` reply follows a lost or failed batch of that instance.

    "Before" is the order of the ``flush`` and ``request_done`` events (same time, earlier
    row), so a batch flushed in the same instant by a handler that starts later is not one
    this reply waits for."""
    ev = events.reset_index(drop=True)
    done_row: dict[int, int] = {}
    for i, rid in ev.loc[ev['kind'] == 'request_done', 'request_id'].items():
        done_row[int(rid)] = int(i)
    flush_row: dict[tuple[str, str, int, int], int] = {}
    fl = ev[ev['kind'] == 'flush']
    for i, ns, obj, inc, d in fl[['namespace', 'object', 'incarnation', 'detail']].itertuples(
            name=None):
        m = _BATCH.match(d)
        if m:
            flush_row[(ns, obj, int(inc), int(m.group(1)))] = int(i)
    per_inst: dict[tuple[str, str, int], list[tuple[int, int, float, str]]] = defaultdict(list)
    for ns, obj, inc, b, done, outcome in batches[
            ['namespace', 'object', 'incarnation', 'batch', 'done_ms', 'outcome']].itertuples(
            index=False, name=None):
        row = flush_row.get((ns, obj, int(inc), int(b)))
        if row is not None:
            per_inst[(ns, obj, int(inc))].append((row, int(b), float(done), outcome))
    out = []
    for rid, ns, obj, inc, released, status in requests[
            ['request_id', 'namespace', 'object', 'incarnation', 'released_ms', 'status']
            ].itertuples(index=False, name=None):
        rid = int(rid)
        if rid not in done_row or math.isnan(released):
            continue
        for row, b, done, outcome in per_inst.get((ns, obj, int(inc)), ()):
            if row > done_row[rid]:
                continue
            if done > released and outcome == 'confirmed':
                out.append(_v('output_gate', released, ns, obj,
                              f'request {rid} released at {released:g} ms, before batch {b} '
                              f'was confirmed at {done:g} ms', [rid, b]))
            elif outcome != 'confirmed' and status == 'ok' and done <= released:
                out.append(_v('output_gate', released, ns, obj,
                              f'request {rid} answered ok after batch {b} was {outcome}',
                              [rid, b]))
    return _frame(out)


def check_output_gate_outgoing(requests: pd.DataFrame,
                               batches: pd.DataFrame) -> pd.DataFrame:
    """A call from an object leaves only after every write that object flushed before it
    made the call is confirmed: ``departed_ms`` >= the ``done_ms`` of each of the caller's
    confirmed batches flushed strictly before ``sent_ms``."""
    confirmed = batches[batches['outcome'] == 'confirmed']
    by_object: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for obj, flushed, done, b in confirmed[['object', 'flushed_ms', 'done_ms', 'batch']
                                          ].itertuples(index=False, name=None):
        by_object[obj].append((float(flushed), float(done), int(b)))
    out = []
    calls = requests[(requests['caller'] != 'client') & requests['departed_ms'].notna()]
    for rid, caller, sent, departed in calls[['request_id', 'caller', 'sent_ms', 'departed_ms']
                                             ].itertuples(index=False, name=None):
        for flushed, done, b in by_object.get(caller, ()):
            if flushed < sent and done > departed:
                out.append(_v('output_gate', departed, '', caller,
                              f'call {rid} left at {departed:g} ms, before batch {b} of its '
                              f'caller was confirmed at {done:g} ms', [int(rid), b]))
    return _frame(out)


def check_output_gate_websocket(events: pd.DataFrame,
                                batches: pd.DataFrame) -> pd.DataFrame:
    """A WebSocket message an object sends leaves (``websocket_sent``) only after every batch
    the object flushed strictly before the ``send()`` (``websocket_send``) is confirmed."""
    ws = events[events['kind'].isin(('websocket_send', 'websocket_sent'))]
    sends: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [math.nan, math.nan])
    for t, ns, obj, kind, d in ws[['time_ms', 'namespace', 'object', 'kind', 'detail']
                                  ].itertuples(index=False, name=None):
        sends[(ns, obj, d)][0 if kind == 'websocket_send' else 1] = float(t)
    confirmed = batches[batches['outcome'] == 'confirmed']
    by_object: dict[tuple[str, str], list[tuple[float, float, int]]] = defaultdict(list)
    for ns, obj, flushed, done, b in confirmed[['namespace', 'object', 'flushed_ms', 'done_ms',
                                               'batch']].itertuples(index=False, name=None):
        by_object[(ns, obj)].append((float(flushed), float(done), int(b)))
    out = []
    for (ns, obj, n), (sent, left) in sends.items():
        for flushed, done, b in by_object.get((ns, obj), ()):
            if flushed < sent and done > left:
                out.append(_v('output_gate', left, ns, obj,
                              f'WebSocket message {n} left at {left:g} ms, before batch {b} '
                              f'was confirmed at {done:g} ms', [b]))
    return _frame(out)


# -- the single thread -----------------------------------------------------------------------------
def check_single_thread(events: pd.DataFrame) -> pd.DataFrame:
    """While a handler computes (``compute`` event: start time, detail ``'<ms> ms'``), its
    instance runs nothing else: no overlapping compute, no ``request_started`` or
    ``gate_close`` of another request."""
    ev = events.reset_index(drop=True)
    kinds = ev['kind']
    rel = ev[kinds.isin(('compute', 'request_started', 'gate_close'))]
    out = []
    busy: dict[tuple[str, str, int], tuple[float, float, int]] = {}   # until, start, rid
    for t, ns, obj, inc, kind, rid, detail in rel[
            ['time_ms', 'namespace', 'object', 'incarnation', 'kind', 'request_id', 'detail']
            ].itertuples(index=False, name=None):
        key = (ns, obj, int(inc))
        cur = busy.get(key)
        running = cur is not None and t < cur[0]
        if running and int(rid) != cur[2]:
            what = 'computes' if kind == 'compute' else kind.replace('_', ' ')
            out.append(_v('single_thread', t, ns, obj,
                          f'request {rid} {what} at {t:g} ms while request {cur[2]} computes '
                          f'from {cur[1]:g} to {cur[0]:g} ms', [cur[2], int(rid)]))
        if kind == 'compute':
            ms = float(str(detail).split()[0])
            if ms > 0:
                busy[key] = (t + ms, t, int(rid))
    return _frame(out)


# -- alarms ----------------------------------------------------------------------------------------
def check_alarms(alarms: pd.DataFrame, events: pd.DataFrame, now_ms: float) -> pd.DataFrame:
    """Every alarm run ends ``ok``, ``abandoned`` after exactly 7 counted failed attempts,
    ``superseded``, or with ``error`` and no retry (``abort(retry_alarm=False)``); a run
    whose retry is due (before *now_ms*) fires it unless a ``set_alarm``/``delete_alarm``/
    ``delete_all`` of the object came in between."""
    changes: dict[tuple[str, str], list[float]] = defaultdict(list)
    ch = events[events['kind'].isin(('alarm_set', 'alarm_deleted', 'storage_delete_all'))]
    for t, ns, obj in ch[['time_ms', 'namespace', 'object']].itertuples(index=False, name=None):
        changes[(ns, obj)].append(float(t))
    fired: dict[tuple[str, str], list[float]] = defaultdict(list)
    fi = events[events['kind'] == 'alarm_fired']
    for t, ns, obj in fi[['time_ms', 'namespace', 'object']].itertuples(index=False, name=None):
        fired[(ns, obj)].append(float(t))

    def changed(key: tuple[str, str], lo: float, hi: float) -> bool:
        return any(lo <= t <= hi for t in changes.get(key, ()))

    out = []
    for (ns, obj), group in alarms.groupby(['namespace', 'object'], sort=False):
        counted, prev_done = 0, -math.inf
        rows = list(group.itertuples())
        for i, r in enumerate(rows):
            start = r.fired_ms if not math.isnan(r.fired_ms) else r.done_ms
            if i and changed((ns, obj), prev_done, start):
                counted = 0     # a new alarm was set (or the old one deleted) in between
            if r.outcome == 'error' and not math.isnan(r.next_attempt_ms):
                counted += 1
                if counted >= ABANDON_AFTER:
                    out.append(_v('alarm_at_least_once', r.done_ms, ns, obj,
                                  f'{counted} counted failures and still retried', [r.Index]))
            elif r.outcome == 'abandoned':
                if counted + 1 != ABANDON_AFTER:
                    out.append(_v('alarm_at_least_once', r.done_ms, ns, obj,
                                  f'abandoned after {counted + 1} counted failures, not '
                                  f'{ABANDON_AFTER}', [r.Index]))
                counted = 0
            elif r.outcome in ('ok', 'superseded') or math.isnan(r.next_attempt_ms):
                counted = 0
            prev_done = r.done_ms
        last = rows[-1]
        due = last.next_attempt_ms
        if (not math.isnan(due) and due < now_ms
                and not changed((ns, obj), last.done_ms, due)
                and not any(t >= due for t in fired.get((ns, obj), ()))):
            out.append(_v('alarm_at_least_once', due, ns, obj,
                          f'the retry due at {due:g} ms never fired (run ended {now_ms:g} ms)',
                          [last.Index]))
    return _frame(out)


def check_alarms_pending(sim: Simulation) -> pd.DataFrame:
    """Every alarm still set at the end is running, queued, or due in the future: an alarm
    that was set and not deleted or replaced can never be silently dropped."""
    out = []
    now = sim.now
    for ns in sim.namespaces.values():
        for actor in ns.actors.values():
            alarm = actor.alarm
            if alarm is None or alarm.stored is None:
                continue
            if alarm.running is None and alarm.queued is None and (
                    alarm.due_at is None or alarm.due_at < now):
                at = alarm.stored - sim.config.start_epoch_ms
                out.append(_v('alarm_at_least_once', now, ns.binding, actor.label,
                              f'the alarm set for {at:g} ms is stored but will never fire',
                              []))
    return _frame(out)


def meters_never_decrease(snapshots: list[pd.DataFrame]) -> pd.DataFrame:
    """Billing meters only grow: given ``sim.meters`` taken at successive times, every
    meter of every object is at least what it was (objects may appear, never vanish)."""
    out = []
    for before, after in itertools.pairwise(snapshots):
        merged = before.merge(after, on=['namespace', 'object'], how='left',
                              suffixes=('_a', '_b'), indicator=True)
        for rec in merged.to_dict('records'):
            if rec['_merge'] != 'both':
                out.append(_v('meters_never_decrease', math.nan, rec['namespace'],
                              rec['object'], 'an object vanished from the meters', []))
                continue
            for col in before.columns:
                if col in ('namespace', 'object'):
                    continue
                if rec[f'{col}_b'] < rec[f'{col}_a'] - 1e-9:
                    out.append(_v('meters_never_decrease', math.nan, rec['namespace'],
                                  rec['object'], f'{col} fell from {rec[f"{col}_a"]:g} to '
                                  f'{rec[f"{col}_b"]:g}', []))
    return _frame(out)


# -- E-order -------------------------------------------------------------------------------------
def check_e_order(requests: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Calls made on one stub arrive in the order they were sent (request id order); the
    arrival order is that of the ``request_received`` events."""
    ev = events.reset_index(drop=True)
    arrival = {int(rid): int(i) for i, rid in
               ev.loc[ev['kind'] == 'request_received', 'request_id'].items()}
    out = []
    arrived = requests[requests['arrived_ms'].notna()]
    for stub, group in arrived.groupby('stub', sort=True):
        g = group.assign(_order=[arrival.get(int(r), -1) for r in group['request_id']])
        g = g.sort_values(['arrived_ms', '_order'], kind='stable')
        ids = [int(r) for r in g['request_id']]
        for a, b, (_, row) in zip(ids, ids[1:], g.iloc[1:].iterrows(), strict=False):
            if b < a:
                out.append(_v('e_order', row['arrived_ms'], row['namespace'], row['object'],
                              f'stub {stub}: request {b} arrived after request {a}, which was '
                              f'sent later', [b, a]))
    return _frame(out)


# -- lifecycle -----------------------------------------------------------------------------------
def _allowed(a: str, b: str, reason: str, new_incarnation: bool = False) -> bool:
    if b == 'evicted' and (reason.startswith('reset') or reason == 'code deploy'):
        return True
    if b == 'active' and new_incarnation:
        return True   # any -> evicted (reset, deploy) -> active, the eviction an instant long
    if b in TRANSITIONS.get(a, ()):
        return True
    # an instant spent in 'active' is dropped from the frame
    return 'active' in TRANSITIONS.get(a, ()) and b in TRANSITIONS['active']


def check_lifecycle(lifecycle: pd.DataFrame) -> pd.DataFrame:
    """Consecutive intervals of one object follow a documented transition (see
    :data:`TRANSITIONS`), and each starts where the one before it ended."""
    out = []
    for (ns, obj), group in lifecycle.groupby(['namespace', 'object'], sort=False):
        prev = None
        for r in group.sort_values('start_ms', kind='stable').itertuples():
            if prev is not None:
                reason = r.reason if isinstance(r.reason, str) else ''
                if not _allowed(prev.state, r.state, reason, r.incarnation != prev.incarnation):
                    out.append(_v('lifecycle', r.start_ms, ns, obj,
                                  f'{prev.state} -> {r.state} ({reason or "no reason"}) is not '
                                  'a documented transition', [prev.Index, r.Index]))
                elif abs(r.start_ms - prev.end_ms) > 1e-9:
                    out.append(_v('lifecycle', r.start_ms, ns, obj,
                                  f'gap: {prev.state} ended at {prev.end_ms:g} ms, {r.state} '
                                  f'starts at {r.start_ms:g} ms', [prev.Index, r.Index]))
            prev = r
    return _frame(out)


# -- meters --------------------------------------------------------------------------------------
def check_meters(meters: pd.DataFrame, lifecycle: pd.DataFrame, bill_hibernatable_idle: bool,
                 billed_memory_mb: float = 128) -> pd.DataFrame:
    """No meter is negative, and ``duration_gb_s`` is the time spent in billed states
    (``active``, ``idle``; ``idle_hibernatable`` too if *bill_hibernatable_idle*) x
    128 MB, within 1e-6 GB-s."""
    billed = (*BILLED, 'idle_hibernatable') if bill_hibernatable_idle else BILLED
    lc = lifecycle[lifecycle['state'].isin(billed)]
    ms = (lc['end_ms'] - lc['start_ms']).groupby([lc['namespace'], lc['object']]).sum()
    out = []
    numeric = [c for c in meters.columns if c not in ('namespace', 'object')]
    for r in meters.itertuples(index=False):
        row = r._asdict()
        ns, obj = row['namespace'], row['object']
        for col in numeric:
            if row[col] < 0:
                out.append(_v('meters', math.nan, ns, obj, f'{col} is {row[col]!r} < 0', [col]))
        want = float(ms.get((ns, obj), 0.0)) / 1000 * billed_memory_mb / 1000
        if abs(row['duration_gb_s'] - want) > 1e-6:
            out.append(_v('meters', math.nan, ns, obj,
                          f'duration_gb_s is {row["duration_gb_s"]:.9f}, the billed time in '
                          f'lifecycle makes {want:.9f}', ['duration_gb_s']))
    return _frame(out)
