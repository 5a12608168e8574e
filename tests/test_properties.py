"""Random models, random workloads, random faults: the runtime's invariants always hold.

Hypothesis draws a *model* from a small grammar -- each request is a list of operations
(``get``, a coalesced ``put``, an awaited ``put``, ``delete``, a ``transaction`` of a few
operations, ``sleep``, ``compute``, ``fetch_external``, a ``call`` to another object of the
namespace, ``set_alarm``) -- a workload of a few dozen such requests at random times on a few
objects, and a schedule of faults (resets, failed writes, partitions, latency and storage
spikes, deploys, data-centre failures). Each example runs at trace level ``full`` and must
pass :func:`dosim.check.check` with no violation, and replay row for row from the same seed.

``DOSIM_SOAK_EXAMPLES`` raises the number of examples (25 by default, so the file stays
under a minute); ``bench/soak.py`` runs :func:`run_example` for minutes over fresh seeds.
Every failing example found on the way stays below as an ``@example`` or a plain test.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dosim
from dosim.check import check, meters_never_decrease

NAMES = ('a', 'b', 'c')          # 'c' is placed in Europe (hint weur, at LHR)
KEYS = ('k0', 'k1', 'k2', 'k3')
FRAMES = ('events', 'requests', 'lifecycle', 'alarms', 'writes', 'batches', 'faults')
EXAMPLES = int(os.environ.get('DOSIM_SOAK_EXAMPLES', '25'))
RUN_UNTIL_MS = 400_000.0         # long enough for an alarm's 7 attempts (2+4+...+64 s)


# -- the model: a Durable Object that runs the operations it is sent ---------------------------
class Ops(dosim.DurableObject):
    """``run(ops, tag)`` performs *ops* in order. Every value written is ``'<tag>.<i>'``
    (unique per request and operation), so a stray value in storage names its writer.
    The alarm counts its runs in storage and raises while ``alarm_failures`` is not used up."""

    alarm_failures = 0

    def run(self, ops: list[Any], tag: str) -> Any:
        st_ = self.ctx.storage
        seen = []
        for i, op in enumerate(ops):
            kind, value = op[0], f'{tag}.{i}'
            if kind == 'get':
                seen.append((yield st_.get(op[1])))
            elif kind == 'put':
                st_.put(op[1], value)
            elif kind == 'aput':
                yield st_.put(op[1], value)
            elif kind == 'delete':
                yield st_.delete(op[1])
            elif kind == 'txn':
                seen.append((yield st_.transaction(_txn(op[1], value))))
            elif kind == 'sleep':
                yield dosim.sleep(op[1])
            elif kind == 'compute':
                yield dosim.compute(op[1])
            elif kind == 'fetch':
                yield dosim.fetch_external(op[1])
            elif kind == 'call':
                stub = self.env.P.get_by_name(op[1])
                try:
                    seen.append((yield stub.run(op[2], value)))
                except dosim.DurableObjectError as exc:
                    seen.append(exc.message)
            elif kind == 'alarm':
                st_.set_alarm(dosim.now() + op[1])
        return seen

    def alarm(self, info: Any) -> Any:
        runs = ((yield self.ctx.storage.get('alarm_runs')) or 0) + 1
        self.ctx.storage.put('alarm_runs', runs)
        if runs <= type(self).alarm_failures:
            raise RuntimeError(f'alarm run {runs} fails')


def _txn(ops: list[Any], tag: str) -> Any:
    def body(txn: Any) -> Any:
        got = []
        for j, (kind, key) in enumerate(ops):
            if kind == 'get':
                got.append((yield txn.get(key)))
            elif kind == 'put':
                yield txn.put(key, f'{tag}.t{j}')
            elif kind == 'delete':
                yield txn.delete(key)
            elif kind == 'rollback':
                txn.rollback()
                return got
        return got
    return body


# -- a scenario, as plain data --------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """Everything one example runs: seed, requests ``(at_ms, object, stub slot, ops)``,
    faults (``sim.faults.apply`` data) and how often the alarm fails before it succeeds."""

    seed: int
    requests: list[tuple[float, str, int, list[Any]]]
    faults: list[dict[str, Any]] = field(default_factory=list)
    alarm_failures: int = 0


def build(s: Scenario) -> dosim.Simulation:
    """Run *s* to ``RUN_UNTIL_MS`` and return the simulation."""
    sim = dosim.Simulation(seed=s.seed, config=dosim.Config(trace_level='full'))
    cls = type('Ops', (Ops,), {'alarm_failures': s.alarm_failures})
    ns = sim.namespace('P', cls)
    ns.get_by_name('c', 'weur')      # placed in Europe by its first get()
    sim.faults.apply([dict(f) for f in s.faults])
    stubs: dict[tuple[str, int], Any] = {}

    def client(i: int, at: float, name: str, slot: int, ops: list[Any]) -> Any:
        yield sim.timeout(at)
        if slot < 0 or (name, slot) not in stubs:
            stub = ns.get_by_name(name)
            if slot >= 0:
                stubs[(name, slot)] = stub
        else:
            stub = stubs[(name, slot)]
        with contextlib.suppress(dosim.DurableObjectError):
            yield stub.run(ops, f'r{i}')

    for i, (at, name, slot, ops) in enumerate(s.requests):
        sim.process(client(i, at, name, slot, ops))
    snapshots = []
    for step in (1, 2, 3, 4):   # meters sampled along the way must never fall
        sim.run(until=RUN_UNTIL_MS * step / 4)
        snapshots.append(sim.meters)
    sim.meter_snapshots = snapshots
    return sim


def run_example(s: Scenario) -> tuple[dosim.Simulation, pd.DataFrame]:
    """Run *s* twice: assert identical frames, return the first run and its violations."""
    a, b = build(s), build(s)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a.trace, name), getattr(b.trace, name),
                                      obj=f'trace.{name}')
    violations = pd.concat([check(a), meters_never_decrease(a.meter_snapshots)],
                           ignore_index=True)
    return a, violations


# -- strategies ---------------------------------------------------------------------------
key = st.sampled_from(KEYS)
small_ms = st.integers(0, 40)
txn_ops = st.lists(st.tuples(st.sampled_from(('get', 'put', 'delete', 'rollback')), key),
                   min_size=1, max_size=3)
leaf_op = st.one_of(
    st.tuples(st.just('get'), key),
    st.tuples(st.just('put'), key),
    st.tuples(st.just('aput'), key),
    st.tuples(st.just('delete'), key),
    st.tuples(st.just('txn'), txn_ops),
    st.tuples(st.just('sleep'), small_ms),
    st.tuples(st.just('compute'), st.integers(0, 20)),
    st.tuples(st.just('fetch'), small_ms),
    st.tuples(st.just('alarm'), st.integers(0, 3000)),
)
op = st.one_of(leaf_op, st.tuples(st.just('call'), st.sampled_from(NAMES),
                                  st.lists(leaf_op, min_size=1, max_size=3)))
request = st.tuples(st.integers(0, 5000).map(float), st.sampled_from(NAMES),
                    st.integers(-1, 2), st.lists(op, min_size=1, max_size=5))
at = st.integers(0, 6000)
span = st.tuples(at, st.integers(1, 3000)).map(lambda p: (p[0], p[0] + p[1]))
fault = st.one_of(
    st.builds(lambda t, n: {'kind': 'reset', 'at_ms': t, 'namespace': 'P', 'name': n},
              at, st.sampled_from(NAMES)),
    st.builds(lambda t, c, n: {'kind': 'write_failure', 'at_ms': t, 'count': c,
                               'object_name': n},
              at, st.integers(1, 2), st.sampled_from((None, *NAMES))),
    st.builds(lambda s, b: {'kind': 'partition', 'start_ms': s[0], 'end_ms': s[1],
                            'a': 'enam', 'b': b},
              span, st.sampled_from(('weur', 'IAD'))),
    st.builds(lambda s, x, p: {'kind': 'latency_spike', 'start_ms': s[0], 'end_ms': s[1],
                               'extra_ms': x, 'place': p},
              span, st.integers(1, 200), st.sampled_from((None, 'IAD', 'LHR'))),
    st.builds(lambda s, x, n: {'kind': 'storage_latency_spike', 'start_ms': s[0],
                               'end_ms': s[1], 'extra_ms': x, 'object_name': n},
              span, st.integers(1, 100), st.sampled_from((None, *NAMES))),
    st.builds(lambda t, n: {'kind': 'deploy', 'at_ms': t, 'namespace': n},
              at, st.sampled_from(('P', None))),
    st.builds(lambda t, d: {'kind': 'datacenter_failure', 'at_ms': t, 'iata': d},
              at, st.sampled_from(('IAD', 'LHR'))),
)
scenarios = st.builds(
    Scenario,
    seed=st.integers(0, 2**32 - 1),
    requests=st.lists(request, min_size=1, max_size=30),
    faults=st.lists(fault, max_size=6),
    alarm_failures=st.sampled_from((0, 0, 1, 3, 7, 9)),
)


# -- the property ----------------------------------------------------------------------------
#: Found by hypothesis: two deletes of one key, the first in a batch that fails. (The
#: checker compared the NaN that ``trace.writes`` shows for a delete with itself.)
DELETE_IN_FAILED_BATCH = Scenario(
    seed=0,
    requests=[(0.0, 'a', 0, [('put', 'k0'), ('call', 'b', [('delete', 'k3')])]),
              (0.0, 'b', 0, [('delete', 'k3')])],
    faults=[{'kind': 'write_failure', 'at_ms': 0, 'count': 1, 'object_name': None}],
)


#: Found by the soak: a deploy evicts an active object and the next event constructs it in
#: the same instant, so ``lifecycle`` shows ``active -> active`` across two incarnations (the
#: checker took that for an undocumented transition).
DEPLOY_THEN_CONSTRUCTOR = Scenario(
    seed=74310,
    requests=[
        (
            53.0,
            'a',
            2,
            [
                ('alarm', 684),
                ('sleep', 38),
                ('alarm', 1295),
                ('delete', 'k3'),
                ('call', 'a', [('sleep', 13)]),
            ],
        ),
        (358.0, 'a', -1, [('get', 'k0')]),
        (847.0, 'a', -1, [('compute', 4)]),
        (3.0, 'b', 0, [('put', 'k2')]),
        (
            39.0,
            'a',
            0,
            [
                ('aput', 'k3'),
                ('fetch', 12),
                ('fetch', 28),
                ('txn', [('delete', 'k0'), ('delete', 'k1'), ('delete', 'k1')]),
                ('alarm', 232),
            ],
        ),
        (
            1677.0,
            'a',
            2,
            [('delete', 'k0'), ('aput', 'k3'), ('delete', 'k0'), ('delete', 'k0'), ('fetch', 24)],
        ),
        (1291.0, 'a', -1, [('alarm', 130), ('get', 'k1'), ('get', 'k0')]),
        (231.0, 'a', 0, [('put', 'k2')]),
        (3785.0, 'a', 2, [('compute', 19)]),
        (
            787.0,
            'c',
            2,
            [
                ('fetch', 1),
                ('aput', 'k0'),
                ('sleep', 30),
                ('delete', 'k0'),
                ('txn', [('delete', 'k1')]),
            ],
        ),
        (
            2449.0,
            'b',
            2,
            [
                ('fetch', 29),
                ('txn', [('get', 'k2')]),
                ('delete', 'k3'),
                ('delete', 'k0'),
                ('alarm', 96),
            ],
        ),
        (4096.0, 'a', -1, [('put', 'k1'), ('put', 'k2')]),
        (28.0, 'c', 2, [('delete', 'k1'), ('get', 'k1'), ('sleep', 28), ('alarm', 247)]),
        (260.0, 'c', 0, [('fetch', 32), ('call', 'a', [('fetch', 26), ('aput', 'k3')])]),
        (
            847.0,
            'b',
            0,
            [
                ('fetch', 35),
                ('call', 'c', [('sleep', 8), ('delete', 'k3'), ('fetch', 0)]),
                ('delete', 'k0'),
                ('aput', 'k0'),
                ('compute', 10),
            ],
        ),
        (637.0, 'b', 1, [('put', 'k0'), ('call', 'b', [('get', 'k0'), ('get', 'k1')])]),
        (
            0.0,
            'a',
            2,
            [('delete', 'k1'), ('compute', 8), ('put', 'k3'), ('alarm', 3000), ('compute', 18)],
        ),
        (1202.0, 'a', 0, [('txn', [('delete', 'k2'), ('put', 'k2')])]),
        (
            637.0,
            'b',
            -1,
            [
                ('call', 'b', [('txn', [('rollback', 'k3')])]),
                ('alarm', 247),
                ('get', 'k0'),
                ('put', 'k3'),
                ('alarm', 2307),
            ],
        ),
        (
            69.0,
            'c',
            0,
            [
                ('call', 'c', [('get', 'k1')]),
                ('sleep', 40),
                ('put', 'k1'),
                ('sleep', 37),
                ('delete', 'k1'),
            ],
        ),
        (
            53.0,
            'c',
            1,
            [('sleep', 6), ('alarm', 677), ('fetch', 1), ('get', 'k2'), ('delete', 'k0')],
        ),
    ],
    faults=[
        {'kind': 'write_failure', 'at_ms': 4235, 'count': 1, 'object_name': 'b'},
        {'kind': 'deploy', 'at_ms': 203, 'namespace': 'P'},
    ],
    alarm_failures=1,
)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios)
@example(DELETE_IN_FAILED_BATCH)
@example(DEPLOY_THEN_CONSTRUCTOR)
def test_random_models_keep_every_invariant_and_replay(s: Scenario) -> None:
    """No invariant is violated, and the same seed and model give identical frames."""
    _, violations = run_example(s)
    assert violations.empty, violations.to_string()


def test_the_checker_refuses_a_trace_that_is_not_full() -> None:
    sim = dosim.Simulation(seed=1, config=dosim.Config(trace_level='requests'))
    with pytest.raises(ValueError, match="needs the full trace"):
        check(sim)


# -- regressions: runtime bugs the checker found (fixed in da64308); each test names its bug ----
#: Request 1 puts k0 during a storage latency spike (its batch confirms at 305 ms); the
#: namespace is deployed at 250 ms, so request 1 finishes on the old instance; request 2, on
#: the new instance, puts k0 at 252 ms after the spike and is confirmed at 256 ms.
DEPLOY_DURING_SLOW_CONFIRM = Scenario(
    seed=0,
    requests=[(0.0, 'a', 0, [('put', 'k0')]), (251.0, 'a', -1, [('put', 'k0')])],
    faults=[{'kind': 'storage_latency_spike', 'start_ms': 0, 'end_ms': 251.5, 'extra_ms': 100,
             'object_name': None},
            {'kind': 'deploy', 'at_ms': 250, 'namespace': 'P'}],
)


def test_a_deploy_never_loses_the_new_instances_acknowledged_write() -> None:
    """Was: after a deploy, a batch the old instance flushed before it confirms after a
    later batch of the new instance and overwrites it: confirmations are ordered per
    Storage (WriteQueue._last_confirm), not per object, so request 2's acknowledged k0=r1.0
    is lost."""
    sim = build(DEPLOY_DURING_SLOW_CONFIRM)
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['status'].tolist() == ['ok', 'ok']
    assert sim.storage_of('P', 'a') == {'k0': 'r1.0'}      # the later acknowledged write
    assert check(sim).empty


def test_a_batch_confirmed_after_a_deploy_keeps_its_incarnation() -> None:
    """Was: after a deploy, the batches row of an old-instance batch carries the new
    instance's incarnation: WriteQueue._record_batch reads self._actor.incarnation at
    confirmation time, after the new instance has incremented it (so is the confirm event)."""
    sim = build(DEPLOY_DURING_SLOW_CONFIRM)
    batches = sim.trace.batches.sort_values('flushed_ms')
    assert batches[['incarnation', 'batch', 'outcome']].values.tolist() == [
        [1, 1, 'confirmed'], [2, 1, 'confirmed']]


def test_an_old_instances_failed_write_does_not_reset_the_new_instance() -> None:
    """Was: after a deploy, a failed confirmation of an old-instance batch resets the new
    instance (WriteQueue._confirm calls self._actor.reset on the shared Actor): request 2,
    whose own batch was confirmed, fails with the write-failure error, while request 1 on
    the old instance runs on until the 30 s grace ends."""
    s = Scenario(
        seed=0,
        requests=[(0.0, 'a', 0, [('put', 'k0')]),
                  (251.0, 'a', -1, [('put', 'k1'), ('sleep', 100)])],
        faults=[*DEPLOY_DURING_SLOW_CONFIRM.faults,
                {'kind': 'write_failure', 'at_ms': 270, 'count': 1, 'object_name': 'a'}],
    )
    sim = build(s)
    reqs = sim.trace.requests.sort_values('request_id')
    assert reqs['status'].tolist() == ['error', 'ok']
    assert reqs['error'].iloc[0].startswith('Internal error: a storage write failed')


def test_a_reset_does_not_leave_a_phantom_outbound_call() -> None:
    """Was: a reset while a call to another object waits at the output gate leaks
    Actor.outbound (the call never departs, _arrive_back never decrements it): every later
    incarnation counts as having pending I/O, cannot hibernate, and is billed idle until
    evicted."""
    s = Scenario(
        seed=0,
        requests=[(0.0, 'a', 0, [('put', 'k0'), ('call', 'b', [('get', 'k0')])]),
                  (1000.0, 'a', -1, [('get', 'k0')])],
        faults=[{'kind': 'reset', 'at_ms': 202, 'namespace': 'P', 'name': 'a'}],
    )
    sim = build(s)
    lc = sim.trace.lifecycle
    states = lc.loc[lc['object'] == 'a', 'state'].tolist()
    assert states == ['active', 'evicted', 'active', 'idle_hibernatable', 'hibernated']


def test_the_writes_frame_shows_none_for_deletes() -> None:
    """Was: trace.writes shows NaN, not the documented None, in 'value' for a delete when
    another row of the frame holds a value (pandas turns the None into NaN)."""
    sim = build(DELETE_IN_FAILED_BATCH)
    writes = sim.trace.writes
    assert writes.loc[writes['deleted'], 'value'].tolist() == [None, None]
