"""Sweep speed-up: 8 replications on 1 worker, then on a 2-worker process pool.

Issue 10's target: a sweep of 8 replications runs at least 1.8x faster on 2 workers than on 1.
Each replication is one seeded hot-counter run (``REQUESTS`` requests, a get and a put each,
Poisson arrivals to 10 objects); workers send back a handful of metrics, never a Simulation,
so the pool's overhead is the fork and a few pickled numbers. Both sweeps must give identical
frames: the speed-up is only worth quoting if the answer is the same.

    python bench/sweep.py [--requests N] [--out out/sweep.md]

Wall time is what a user waits for, so that is what this reports; run it on a quiet machine
(two busy cores make any speed-up smaller than it is). A pool costs a second or two whatever
the work (forking the workers, sending frames back, merging them), so replications of about
a second each (``--requests 20000``) measure that fixed cost more than the parallelism; the
default replication, about 5 s, is the size of a real capacity experiment.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

import dosim
from dosim.experiment import sweep

REPS = 8
REQUESTS = 100_000   # about 5 s a replication: see the module docstring


class Counter(dosim.DurableObject):
    def increment(self):
        n = (yield self.ctx.storage.get('n')) or 0
        self.ctx.storage.put('n', n + 1)
        return n + 1


def hot_counters(seed: int, requests: int = REQUESTS) -> dosim.Simulation:
    """*requests* increments, Poisson at 1 per ms, spread over 10 counters."""
    sim = dosim.Simulation(seed=seed, config=dosim.Config(trace_level='requests'))
    ns = sim.namespace('COUNTERS', Counter)
    stubs = [ns.get_by_name(f'c{i}') for i in range(10)]
    rng = sim.stream('bench.arrivals')

    def arrivals():
        for i in range(requests):
            yield sim.timeout(rng.expovariate(1.0))
            stubs[i % 10].increment()

    sim.process(arrivals())
    sim.run()
    return sim


def timed(workers: int, requests: int) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    pool = {'executor': 'sequential'} if workers == 1 else {'executor': 'processes',
                                                            'workers': workers}
    frame = sweep(hot_counters, {'requests': [requests]}, reps=REPS, seed=1, progress=False,
                  **pool)
    return time.perf_counter() - start, frame


def report(requests: int) -> str:
    one, first = timed(1, requests)
    two, second = timed(2, requests)
    pd.testing.assert_frame_equal(first, second)
    speedup = one / two
    verdict = 'meets' if speedup >= 1.8 else 'misses'
    return '\n'.join([
        '# Sweep speed-up', '',
        f'{REPS} replications of {requests:,} requests each; {os.cpu_count()} CPUs; '
        f'Python {sys.version.split()[0]}.', '',
        '| workers | wall s |', '|---|---|',
        f'| 1 | {one:.2f} |', f'| 2 | {two:.2f} |', '',
        f'Speed-up {speedup:.2f}x ({verdict} the 1.8x target); both sweeps gave identical '
        f'frames.', '',
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=REQUESTS)
    parser.add_argument('--out', type=Path, default=None)
    args = parser.parse_args(argv)
    text = report(args.requests)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix('.tmp')
        tmp.write_text(text, encoding='utf-8')
        os.replace(tmp, args.out)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
