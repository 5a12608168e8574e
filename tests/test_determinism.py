"""Determinism: the same seed and the same model give identical frames, row for row.

Every random draw comes from a stream the simulation owns (ids, faults, the workload below),
so a run can be replayed exactly -- and a different seed gives a different run.
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

import dosim


class Counter(dosim.DurableObject):
    def fetch(self, request):
        n = (yield self.ctx.storage.get('n')) or 0
        yield dosim.compute(1)
        self.ctx.storage.put('n', n + 1)
        if request.path == '/io':
            yield dosim.fetch_external(latency_ms=20)
        return dosim.Response(str(n + 1))


def model(seed: int) -> dosim.Simulation:
    sim = dosim.Simulation(seed=seed, config=dosim.Config(write_failure_rate=0.05))
    ns = sim.namespace('C', Counter)
    rng = sim.stream('workload')
    ids = [ns.new_unique_id() for _ in range(5)]

    def client(i):
        for _ in range(20):
            yield sim.timeout(rng.expovariate(1 / 5))
            stub = ns.get(ids[rng.randrange(len(ids))])
            with contextlib.suppress(dosim.DurableObjectError):
                yield stub.fetch('https://do/io' if rng.random() < 0.3 else 'https://do/')

    for i in range(4):
        sim.process(client(i))
    sim.run()
    return sim


def frames(sim):
    t = sim.trace
    return [t.events, t.requests, t.lifecycle, t.alarms, sim.meters]


def test_same_seed_same_frames():
    first, second = frames(model(3)), frames(model(3))
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert len(first[1]) == 80
    assert (first[1]['status'] == 'error').any()   # the fault stream did inject failures


def test_another_seed_gives_another_run():
    a, b = model(3).trace.requests, model(4).trace.requests
    assert not a[['object', 'sent_ms']].equals(b[['object', 'sent_ms']])


def test_a_run_tunes_the_garbage_collector_and_puts_it_back():
    """While a simulation runs, Python's cyclic collector looks at new objects less often
    (a large run keeps many long-lived objects it would visit again and again); the
    thresholds the program had come back when the run ends, even if it fails."""
    import gc

    from dosim.simulation import GC_MIDDLE_THRESHOLD, GC_YOUNG_THRESHOLD

    before = gc.get_threshold()
    seen = []
    sim = dosim.Simulation(seed=1)

    def look():
        yield sim.timeout(1)
        seen.append(gc.get_threshold())
        raise RuntimeError('a failing process')

    gc.set_threshold(700, 10, 10)
    try:
        sim.process(look())
        with pytest.raises(RuntimeError):
            sim.run()
        assert seen == [(GC_YOUNG_THRESHOLD, GC_MIDDLE_THRESHOLD, 10)]
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
