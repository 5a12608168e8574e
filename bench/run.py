"""Benchmark: how fast dosim simulates, next to a bare SimPy M/M/1 queue.

This is a benchmark of the simulator itself, not a test: it prints wall-clock figures that
depend on the machine. It does check that the dosim run got the right answer (every request
answered, every increment stored) and exits non-zero if not.

Three kinds of runs, all in this one process:

* ``baseline``: a bare SimPy M/M/1 queue -- one ``simpy.Resource(capacity=1)``, a source that
  makes N customers with exponential inter-arrival times, each customer a process that
  requests the resource, holds it for an exponential service time and releases it. Draws come
  from ``random.Random(seed)``. It is what SimPy itself costs per arrival: the floor a SimPy
  model can hope to get near.
* ``dosim``: N requests to K counter objects (ids from names). One generator process makes
  Poisson arrivals (exponential gaps from ``sim.stream('workload')``), picks an object
  uniformly and fires ``stub.fetch(...)`` without waiting (the returned events are pre-defused).
  Each handler does ``n = (yield storage.get('n')) or 0; storage.put('n', n + 1)``. The rate
  keeps every object lightly loaded: each sees one request per ``PER_OBJECT_GAP_MS`` on average.
* trace levels: the dosim run again at ``summary``, ``requests`` and ``full`` (``full`` with
  N/4 requests by default), so the cost of recording is visible.

Order: baseline, dosim, baseline again; the baseline figure is the mean of its two runs (the
machines we run on are noisy). Throughput is simulated requests (arrivals) per wall second.

    .venv/bin/python bench/run.py [--requests N] [--objects K] [--seed S]
                                  [--trace-level full|requests|summary] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the working copy's dosim

import dosim

PER_OBJECT_GAP_MS = 100.0  # mean time between two requests to the same object (light load)
MM1_ARRIVAL_RATE = 1.0  # baseline: arrivals per time unit ...
MM1_SERVICE_RATE = 2.0  # ... and services per time unit: utilisation 0.5
TRACE_LEVELS = ('summary', 'requests', 'full')
BINDING = 'COUNTERS'
URL = 'https://do/inc'


class Counter(dosim.DurableObject):
    def fetch(self, request):
        n = (yield self.ctx.storage.get('n')) or 0
        self.ctx.storage.put('n', n + 1)
        return dosim.Response('')


def _events_scheduled(env: simpy.Environment) -> int | None:
    """How many events SimPy scheduled (its private event-id counter; None if it moved)."""
    eid = getattr(env, '_eid', None)
    try:
        return next(eid) if eid is not None else None
    except TypeError:
        return None


# -- the runs ---------------------------------------------------------------------------------
def run_baseline(n: int, seed: int) -> dict[str, Any]:
    """A bare SimPy M/M/1 queue with *n* arrivals."""
    gc.collect()
    start, cpu_start = time.perf_counter(), time.process_time()
    rnd = random.Random(seed)
    expo = rnd.expovariate
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    served = 0

    def customer():
        nonlocal served
        req = server.request()
        yield req
        yield env.timeout(expo(MM1_SERVICE_RATE))
        server.release(req)
        served += 1

    def source():
        for _ in range(n):
            yield env.timeout(expo(MM1_ARRIVAL_RATE))
            env.process(customer())

    env.process(source())
    env.run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if served != n:
        raise AssertionError(f'baseline served {served} customers, expected {n}')
    return {'name': 'baseline', 'requests': n, 'wall_s': wall, 'rate': n / wall, 'cpu_s': cpu,
            'sim_time': env.now, 'events': _events_scheduled(env)}


def run_dosim(n: int, k: int, seed: int, level: str) -> dict[str, Any]:
    """The counter workload: *n* fire-and-forget requests to *k* objects."""
    gc.collect()
    start, cpu_start = time.perf_counter(), time.process_time()
    sim = dosim.Simulation(seed=seed, config=dosim.Config().replace(trace_level=level))
    ns = sim.namespace(BINDING, Counter)
    names = [f'counter-{i}' for i in range(k)]
    stubs = [ns.get(ns.id_from_name(name)) for name in names]
    rate = k / PER_OBJECT_GAP_MS  # arrivals per ms over all objects

    def source():
        rnd = sim.stream('workload')
        expo, pick, timeout = rnd.expovariate, rnd.randrange, sim.timeout
        for _ in range(n):
            yield timeout(expo(rate))
            stubs[pick(k)].fetch(URL)  # fire and forget: the event is pre-defused

    sim.process(source())
    sim.run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    events = _events_scheduled(sim.env)

    # correctness, outside the timed part
    problems = []
    total = sum(sim.storage_of(BINDING, name).get('n', 0) for name in names)
    if total != n:
        problems.append(f'stored counters sum to {total}, expected {n}')
    if sim.trace.request_count != n:
        problems.append(f'{sim.trace.request_count} requests answered, expected {n}')
    if sim.trace.keep_requests:
        frame = sim.trace.requests
        if len(frame) != n:
            problems.append(f'trace.requests has {len(frame)} rows, expected {n}')
        failed = int((frame['status'] != 'ok').sum())
        if failed:
            problems.append(f'{failed} requests failed')
    if problems:
        raise AssertionError(f'dosim run at level {level!r}: ' + '; '.join(problems))
    return {'name': f'dosim ({level})', 'level': level, 'requests': n, 'objects': k,
            'wall_s': wall, 'rate': n / wall, 'cpu_s': cpu, 'sim_time': sim.now,
            'events': events}


# -- reporting --------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == 'darwin' else rss / 1024  # bytes vs KiB


def row(label: str, res: dict[str, Any], base_rate: float | None = None) -> str:
    events = res.get('events')
    per_req = f'{events / res["requests"]:.1f}' if events else '-'
    ratio = f'{res["rate"] / base_rate:.3f}' if base_rate else ''
    return (f'{label:<28} {res["requests"]:>9,} {res["wall_s"]:>8.2f} {res["cpu_s"]:>7.2f}'
            f' {res["rate"]:>12,.0f} {per_req:>7} {ratio:>8}')


HEADER = (f'{"run":<28} {"requests":>9} {"wall s":>8} {"cpu s":>7} {"req/wall s":>12}'
          f' {"ev/req":>7} {"vs base":>8}')


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write *data* to *path* atomically: a temp file in the same folder, then os.replace."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f'.{target.name}.', suffix='.tmp')
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it a normal file's mode
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=2)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def positive_int(text: str) -> int:
    value = int(text.replace('_', ''))
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {text}')
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description='Benchmark dosim against a bare SimPy M/M/1 queue (wall-clock throughput).')
    parser.add_argument('--requests', type=positive_int, default=200_000, metavar='N',
                        help='requests (arrivals) per run (default 200000)')
    parser.add_argument('--objects', type=positive_int, default=1000, metavar='K',
                        help='counter objects in the dosim run (default 1000)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--trace-level', choices=TRACE_LEVELS, default='requests',
                        help="trace level of the main dosim run (default 'requests')")
    parser.add_argument('--full-fraction', type=float, default=0.25, metavar='F',
                        help="the 'full' trace-level run uses F*N requests (default 0.25)")
    parser.add_argument('--no-levels', action='store_true',
                        help='skip the trace-level comparison')
    parser.add_argument('--json', metavar='PATH', help='also write the results as JSON here')
    args = parser.parse_args(argv)
    if not 0 < args.full_fraction <= 1:
        parser.error(f'--full-fraction must be in (0, 1], got {args.full_fraction}')
    n, k, seed = args.requests, args.objects, args.seed

    print(f'dosim benchmark: N={n:,} requests, K={k:,} objects, seed={seed}, '
          f'main trace level {args.trace_level!r}')
    print(f'Python {platform.python_version()}, SimPy {simpy.__version__}, '
          f'dosim {dosim.__version__}, {os.cpu_count()} CPUs, {platform.system()}')
    print(flush=True)

    base1 = run_baseline(n, seed)
    main_run = run_dosim(n, k, seed, args.trace_level)
    base2 = run_baseline(n, seed)
    base_rate = (base1['rate'] + base2['rate']) / 2
    base_wall = (base1['wall_s'] + base2['wall_s']) / 2
    base_cpu = (base1['cpu_s'] + base2['cpu_s']) / 2
    ratio = main_run['rate'] / base_rate
    cpu_ratio = base_cpu / main_run['cpu_s']  # the same ratio from CPU seconds

    print(HEADER)
    print(row('baseline M/M/1 (run 1)', base1))
    print(row(f'dosim counter ({args.trace_level})', main_run, base_rate))
    print(row('baseline M/M/1 (run 2)', base2))
    print(f'{"baseline mean":<28} {n:>9,} {base_wall:>8.2f} {base_cpu:>7.2f} {base_rate:>12,.0f}')
    print(f'\nthroughput ratio dosim/baseline: {ratio:.3f}   (long-term target >= 0.5)')
    print(f'same ratio from CPU seconds:     {cpu_ratio:.3f}   (less sensitive to other load)')
    print(f'simulated time: dosim {main_run["sim_time"] / 1000:,.1f} s '
          f'({PER_OBJECT_GAP_MS:g} ms mean gap per object)', flush=True)

    levels: list[dict[str, Any]] = []
    if not args.no_levels:
        print('\ntrace levels (dosim counter workload):')
        print(HEADER)
        for level in TRACE_LEVELS:
            if level == args.trace_level:
                res = main_run  # already measured above, at the full N
            else:
                size = n if level != 'full' else max(1, round(n * args.full_fraction))
                res = run_dosim(n if level != 'full' else size, k, seed, level)
            levels.append(res)
            print(row(level, res, base_rate), flush=True)

    rss = peak_rss_mb()
    print(f'\npeak RSS: {rss:,.0f} MB')

    if args.json:
        write_json(args.json, {
            'date': datetime.now(UTC).isoformat(timespec='seconds'),
            'python': platform.python_version(),
            'simpy': simpy.__version__,
            'dosim_version': dosim.__version__,
            'cpus': os.cpu_count(),
            'platform': platform.platform(),
            'args': vars(args),
            'per_object_gap_ms': PER_OBJECT_GAP_MS,
            'baseline_runs': [base1, base2],
            'baseline_rate': base_rate,
            'dosim': main_run,
            'ratio': ratio,
            'cpu_ratio': cpu_ratio,
            'trace_levels': levels,
            'peak_rss_mb': rss,
        })
        print(f'results written to {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
