"""Benchmarks: how fast dosim simulates, next to a bare SimPy queue.

This is a benchmark of the simulator itself, not a test: its figures depend on the machine
and on whatever else runs there. It does check that each run computed the right thing (see
:mod:`workloads`) and exits non-zero if not.

    .venv/bin/python bench/run.py                  # all four benchmarks and the sweep: `make bench`
    .venv/bin/python bench/run.py hot              # one of them (hot, many, fleet, chat, sweep)
    .venv/bin/python bench/run.py --scale 0.1      # every workload at a tenth of its size

Each benchmark runs in a fresh Python process of its own, so that its peak resident memory
is its own: first the bare SimPy baseline with as many arrivals as the benchmark has requests,
then the dosim workload at trace level ``summary``, then (for ``hot``) the baseline again
and the workload at the other two trace levels. Then the sweep of :mod:`sweep` (8
replications on 1 worker and on 2) runs in a process of its own. The report goes to
``out/bench.md`` (written atomically: a temporary file, then a rename) and to the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))   # the working copy's dosim
sys.path.insert(0, str(HERE))

BENCHMARKS = ('hot', 'many', 'fleet', 'chat')
SWEEP = 'sweep'   # not a benchmark of the table: a speed-up, reported after it
LEVELS = ('summary', 'requests', 'full')
UNITS = {'hot': 'requests', 'many': 'requests', 'fleet': 'alarm runs + starts',
         'chat': 'client messages'}
TITLES = {
    'hot': '1. Hot object: one object, 200,000 requests, a get and a put each',
    'many': '2. Many objects: 100,000 objects, 10 requests each, Poisson arrivals',
    'fleet': '3. Agent fleet: 1,000 agents on a 60 s alarm loop for 24 simulated hours',
    'chat': '4. Chat: 100 rooms x 100 hibernatable clients, a message per client per minute, '
            'one simulated hour',
}
TARGETS = {'hot': 'ratio >= 0.5', 'many': '< 60 s and < 2 GB', 'fleet': '< 60 s',
           'chat': '< 60 s'}


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == 'darwin' else rss / 1024  # bytes vs KiB


# -- one benchmark, in a child process ------------------------------------------------------
def child(name: str, scale: float, level: str, seed: int, repeat: int) -> dict[str, Any]:
    """Run benchmark *name* at trace *level* *repeat* times, each run between two runs of
    the baseline (B D B D B ...); or the sweep, at *scale* of its size."""
    if name == SWEEP:
        import sweep

        return sweep.measure(max(1, round(sweep.REQUESTS * scale)),
                             max(1, round(sweep.SPIN * scale)), repeat)
    import workloads

    result: dict[str, Any] = {'name': name, 'scale': scale, 'rss_start_mb': peak_rss_mb()}
    n = workloads.size(name, scale)
    baselines = [workloads.run_baseline(n, seed)]
    runs = []
    for _ in range(repeat):
        run = workloads.WORKLOADS[name](scale, seed, level)
        run['rss_mb'] = peak_rss_mb()
        if run['requests'] != n and name != 'fleet':   # fleet: n is the nominal count
            raise AssertionError(f'{name}: {run["requests"]} requests, expected {n}')
        runs.append(run)
        baselines.append(workloads.run_baseline(n, seed))
    result.update(runs=runs, baselines=baselines, peak_rss_mb=peak_rss_mb())
    return result


def run_child(name: str, scale: float, level: str, seed: int, repeat: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return what it printed (JSON)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), '--child', name, '--scale', str(scale),
           '--seed', str(seed), '--level', level, '--repeat', str(repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f'benchmark {name} failed:\n{done.stderr.strip()}')
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the report -------------------------------------------------------------------------------
def figures(res: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's row: its fastest run, and its ratios to the fastest baseline run (on a
    shared machine the fastest run is the one least disturbed by others)."""
    base = res['baselines']
    base_wall = min(b['wall_s'] / b['requests'] for b in base)   # seconds per arrival
    base_cpu = min(b['cpu_s'] / b['requests'] for b in base)
    run = min(res['runs'], key=lambda r: r['wall_s'])
    n = run['requests']
    return {
        **run, 'rate_wall': n / run['wall_s'], 'rate_cpu': n / run['cpu_s'],
        'ratio_wall': base_wall * n / run['wall_s'],
        'ratio_cpu': base_cpu * n / min(r['cpu_s'] for r in res['runs']),
        'events_per_request': (run['events'] or 0) / n, 'rss_mb': res['peak_rss_mb'],
        'base_rate_wall': 1 / base_wall, 'runs': len(res['runs']), 'baseline_runs': len(base),
    }


def markdown(results: list[dict[str, Any]], machine: dict[str, Any], took: float,
             swept: dict[str, Any] | None = None) -> str:
    """The report: a row per benchmark and level, then the sweep's section (if it ran)."""
    lines = [
        '# dosim benchmarks', '',
        f"{machine['date']}, {machine['cpu']} ({machine['cpus']} CPUs), "
        f"Python {machine['python']} ({machine['interpreter']}), "
        f"SimPy {machine['simpy']}; dosim runtime {machine['runtime']}; `bench/run.py` "
        f"{' '.join(machine['argv']) or '(defaults)'}; {took:,.0f} s in all.", '']
    host = host_line(results, machine.get('steal_s'))
    if host:
        lines += [host, '']
    if results:
        lines += table(results)
    if swept is not None:
        import sweep

        lines.append(sweep.markdown(swept, heading='##').rstrip('\n'))
    return '\n'.join(lines) + '\n'


def table(results: list[dict[str, Any]]) -> list[str]:
    """The benchmarks' table, and a line on each benchmark's baseline and size."""
    lines = [
        'Ratio = dosim units per second / bare SimPy M/M/1 arrivals per second, with as many '
        'arrivals as the benchmark has units, in the same process; 1 would mean that dosim '
        'costs what a bare queue does. Each figure is the fastest of the runs (shared machine: '
        'the fastest run is the least disturbed); "cpu" uses process CPU time.', '',
        '| benchmark | trace level | unit | simulated | runs | wall s | every run, wall s '
        '| cpu s | per wall s | ratio (wall) | ratio (cpu) | events / unit | peak RSS MB '
        '| target |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ]
    for res in results:
        row = figures(res)
        every = ', '.join(f"{run['wall_s']:.1f}" for run in res['runs'])
        lines.append(
            f"| {res['name']} | {row['level']} | {UNITS[res['name']]} | {row['requests']:,} "
            f"| {row['runs']} | {row['wall_s']:.1f} "
            f"| {every} | {row['cpu_s']:.1f} "
            f"| {row['rate_wall']:,.0f} | {row['ratio_wall']:.2f} | {row['ratio_cpu']:.2f} "
            f"| {row['events_per_request']:.1f} | {row['rss_mb']:,.0f} "
            f"| {TARGETS[res['name']]} |")
    lines += ['', 'Peak RSS is the benchmark process\'s peak (`getrusage`); the interpreter with '
              f"dosim imported starts at about {min(r['rss_start_mb'] for r in results):,.0f} "
              'MB.', '']
    seen: set[str] = set()
    for res in results:
        if res['name'] not in seen:
            seen.add(res['name'])
            lines.append(f"- **{TITLES[res['name']]}**: " + detail(res))
    return [*lines, '']


def detail(res: dict[str, Any]) -> str:
    run = res['runs'][0]
    base = res['baselines']
    rates = ', '.join(f"{b['requests'] / b['wall_s']:,.0f}" for b in base)
    text = (f"baseline {base[0]['requests']:,} arrivals, at {rates} per wall s (its runs in "
            f"order); simulated {run['sim_s']:,.0f} s")
    extra = {k: run[k] for k in ('objects', 'peak_in_memory', 'cycles', 'clients', 'deliveries')
             if k in run}
    if extra:
        text += '; ' + ', '.join(f'{k.replace("_", " ")} {v:,}' for k, v in extra.items())
    return text + '.'


def write_atomically(path: Path, text: str) -> None:
    """Write *text* to *path*: a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes it 0600: give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def machine_info(argv: list[str]) -> dict[str, Any]:
    import simpy

    from dosim import native

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return {'date': datetime.now(UTC).isoformat(timespec='seconds'), 'cpu': cpu,
            'cpus': os.cpu_count(), 'python': platform.python_version(),
            # which build: the same version runs dosim faster when built with PGO and LTO
            # (see bench/README.md, "Which Python")
            'interpreter': f'{os.path.realpath(sys.executable)}, built '
                           f'{platform.python_build()[1]} with {platform.python_compiler()}',
            'simpy': simpy.__version__, 'platform': platform.platform(), 'argv': argv,
            # compiled with mypyc, or from source (see dosim/native.py)
            'runtime': native.status()}


def steal_s(stat: Path = Path('/proc/stat')) -> float | None:
    """The CPU time the hypervisor gave to others while this guest's CPUs wanted it (the
    *steal* column of the first line of ``/proc/stat``), in seconds since boot; ``None``
    where there is no such file (not Linux). A shared machine slows a run down in two ways:
    time taken away, which this counts, and contention for the caches and memory bandwidth
    the host's tenants share, which it does not (see bench/README.md)."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[:1] != ['cpu'] or len(fields) < 9:
        return None
    return int(fields[8]) / os.sysconf('SC_CLK_TCK')


def host_line(results: list[dict[str, Any]], steal: float | None) -> str:
    """How fast the host was: the baseline's slowest and fastest run (the same bare SimPy
    queue in every benchmark's process) and the steal time over the whole run."""
    rates = [b['requests'] / b['wall_s'] for res in results for b in res['baselines']]
    parts = []
    if rates:
        parts.append(f'the bare SimPy baseline ran at {min(rates):,.0f} to {max(rates):,.0f} '
                     'arrivals per wall second')
    if steal is not None:
        parts.append(f'steal time (CPU time the host gave to others) rose by {steal:.2f} s')
    return ('How fast the host was: ' + '; '.join(parts) + '.') if parts else ''


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'must be > 0, got {text}')
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description='Benchmark dosim against a bare SimPy queue.')
    parser.add_argument('benchmarks', nargs='*', metavar='NAME',
                        help=f'which to run: {", ".join((*BENCHMARKS, SWEEP))} (default: all)')
    parser.add_argument('--scale', type=positive, default=1.0,
                        help='size of every workload, 1 = the full size (default 1)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--all-levels', action='store_true',
                        help="run every benchmark at every trace level (default: only 'hot')")
    parser.add_argument('--out', default='out/bench.md', help='report path (default '
                        'out/bench.md)')
    parser.add_argument('--json', metavar='PATH', help='also write every figure as JSON')
    parser.add_argument('--repeat', type=int, default=None, metavar='R',
                        help='runs of each workload (of each side of the sweep), the fastest '
                             'counts (default: 3 for hot, 2 for the others)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--level', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.scale, args.level, args.seed, args.repeat)))
        return 0
    names = args.benchmarks or [*BENCHMARKS, SWEEP]
    for name in names:
        if name not in (*BENCHMARKS, SWEEP):
            parser.error(f'unknown benchmark {name!r}; choose from '
                         f'{", ".join((*BENCHMARKS, SWEEP))}')
    if args.repeat is not None and args.repeat < 1:
        parser.error(f'--repeat must be >= 1, got {args.repeat}')
    start, stolen = time.perf_counter(), steal_s()
    results, swept = [], None
    for name in names:
        if name == SWEEP:
            print('running the sweep on 1 worker and on 2 ...', flush=True)
            swept = run_child(SWEEP, args.scale, 'requests', args.seed, args.repeat or 2)
            continue
        levels = list(LEVELS) if name == 'hot' or args.all_levels else ['summary']
        for level in levels:
            print(f'running {name} at trace level {level!r} ...', flush=True)
            repeat = args.repeat or (3 if name == 'hot' else 2)
            results.append(run_child(name, args.scale, level, args.seed, repeat))
    machine = machine_info(argv)
    now_stolen = steal_s()
    if stolen is not None and now_stolen is not None:
        machine['steal_s'] = now_stolen - stolen
    report = markdown(results, machine, time.perf_counter() - start, swept)
    write_atomically(Path(args.out), report)
    print('\n' + report)
    print(f'report written to {args.out}')
    if args.json:
        write_atomically(Path(args.json), json.dumps(
            {'machine': machine, 'results': results, 'sweep': swept}, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
