"""The benchmark suite (``bench/``) at a tiny size.

The benchmarks measure speed, and speed is never asserted here: this machine and CI's are
shared and noisy. What a test can hold them to is that each workload still computes what
it claims -- every counter holds its count, every request is answered, every alarm cycle
and every broadcast happens (each run checks itself and fails loudly otherwise) -- and that
``bench/run.py`` writes a report that says what ran, on which interpreter. Without this,
``make bench`` could rot unnoticed between the sessions that run it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCALE = 0.002   # hot 400 requests, many 200 objects, fleet 2 agents, chat 1 room of 100


@pytest.fixture(scope='module')
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp('bench')
    done = subprocess.run(
        [sys.executable, str(ROOT / 'bench' / 'run.py'), '--scale', str(SCALE), '--repeat', '1',
         '--out', str(out / 'bench.md'), '--json', str(out / 'bench.json')],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return (json.loads((out / 'bench.json').read_text()), (out / 'bench.md').read_text(), out)


def _runs(data: dict, name: str) -> list[dict]:
    return [run for res in data['results'] if res['name'] == name for run in res['runs']]


def test_every_benchmark_runs_at_its_levels(report: tuple[dict, str, Path]) -> None:
    """``hot`` runs at all three trace levels (their costs are compared), the others at
    ``summary``; each benchmark in a process of its own, between runs of the baseline."""
    data, _, _ = report
    ran = [(res['name'], res['runs'][0]['level']) for res in data['results']]
    assert ran == [('hot', 'summary'), ('hot', 'requests'), ('hot', 'full'),
                   ('many', 'summary'), ('fleet', 'summary'), ('chat', 'summary')]
    # the baseline makes as many arrivals as the benchmark has units (fleet: its nominal
    # count, one run a minute a day per agent, plus the starts)
    arrivals = {'hot': 400, 'many': 2_000, 'fleet': 2 * 1_440 + 2, 'chat': 6_000}
    for res in data['results']:
        assert [b['requests'] for b in res['baselines']] == [arrivals[res['name']]] * 2


def test_the_workloads_do_their_work(report: tuple[dict, str, Path]) -> None:
    """The units each benchmark counts, at this size: 400 hot requests; 200 objects with
    10 requests each; 2 agents, each completing (nearly) one cycle a minute for a day; one
    room of 100 clients sending one message a minute for an hour, each delivered to the
    other 99."""
    data, _, _ = report
    assert [r['requests'] for r in _runs(data, 'hot')] == [400, 400, 400]
    (many,) = _runs(data, 'many')
    assert (many['requests'], many['objects']) == (2_000, 200)
    (fleet,) = _runs(data, 'fleet')
    assert fleet['objects'] == 2
    # each cycle is one alarm run, plus one start call per agent; a cycle takes 60 s plus
    # the run's own few milliseconds, so a day holds just under 1,440 of them per agent
    assert fleet['requests'] == fleet['cycles'] + 2
    assert 2 * 1_430 <= fleet['cycles'] <= 2 * 1_440
    (chat,) = _runs(data, 'chat')
    assert (chat['requests'], chat['clients']) == (6_000, 100)
    assert chat['deliveries'] == 6_000 * 99


def test_the_report_names_machine_interpreter_and_targets(
        report: tuple[dict, str, Path]) -> None:
    """The report says which interpreter ran (the same Python version runs dosim faster
    or slower with how it was built), gives one table row per benchmark and level with the
    wall time of each of its runs, and is written atomically: no temporary file is left
    beside it."""
    data, text, out = report
    assert data['machine']['python'] in text
    assert str(Path(sys.executable).resolve()) in data['machine']['interpreter']
    assert data['machine']['interpreter'] in text
    rows = [line for line in text.splitlines() if line.startswith('| ') and 'summary' in line]
    assert [row.split('|')[1].strip() for row in rows] == ['hot', 'many', 'fleet', 'chat']
    # the fastest run counts, and the row shows every run's wall time beside it
    summary = [res for res in data['results'] if res['runs'][0]['level'] == 'summary']
    assert [row.split('|')[7].strip() for row in rows] == [
        ', '.join(f"{run['wall_s']:.1f}" for run in res['runs']) for res in summary]
    assert '| ratio >= 0.5 |' in text
    assert '| < 60 s and < 2 GB |' in text
    assert sorted(p.name for p in out.iterdir()) == ['bench.json', 'bench.md']


def test_the_report_says_how_fast_the_host_was(report: tuple[dict, str, Path]) -> None:
    """The same model runs two to four times as fast on one host as on another of the same
    kind, so the report says how fast its host was: the bare SimPy baseline's slowest and
    fastest run (every benchmark's process runs it), and on Linux how much CPU time the
    hypervisor gave to others over the run (steal)."""
    data, text, _ = report
    rates = [b['requests'] / b['wall_s'] for res in data['results'] for b in res['baselines']]
    line = f'the bare SimPy baseline ran at {min(rates):,.0f} to {max(rates):,.0f} arrivals'
    assert line in text
    if Path('/proc/stat').exists():
        assert data['machine']['steal_s'] >= 0
        assert f"rose by {data['machine']['steal_s']:.2f} s" in text


def _bench_run(monkeypatch: pytest.MonkeyPatch):   # bench/run.py as a module
    monkeypatch.setattr(sys, 'path', list(sys.path))   # (it puts bench/ first on the path)
    spec = importlib.util.spec_from_file_location('bench_run', ROOT / 'bench' / 'run.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_steal_is_the_eighth_figure_of_proc_stat(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``/proc/stat``'s first line counts each kind of CPU time since boot, in clock ticks:
    user, nice, system, idle, iowait, irq, softirq, steal, ... Older kernels have fewer
    columns, and other systems no such file: then nothing is said of steal."""
    steal_s = _bench_run(monkeypatch).steal_s
    stat = tmp_path / 'stat'
    stat.write_text('cpu  11110 0 1760 27825 88 0 31 700 0 0\n'
                    'cpu0 5555 0 880 13912 44 0 15 350 0 0\n')
    assert steal_s(stat) == 700 / os.sysconf('SC_CLK_TCK')
    stat.write_text('cpu  11110 0 1760 27825\n')
    assert steal_s(stat) is None
    assert steal_s(tmp_path / 'missing') is None


def test_the_sweep_reports_its_speed_up_next_to_the_machines_ceiling(tmp_path: Path) -> None:
    """``bench/sweep.py`` at a tiny size: every sweep gives the same frame (it fails
    otherwise), and the report gives the sweep's speed-up next to the one a bare CPU loop
    got from the same pool, since two virtual cores do not always give two processes twice
    the speed. Each side runs ``--repeat`` times, alternating which goes first, and every
    run is shown beside the fastest, which counts. The report is written atomically."""
    out = tmp_path / 'sweep.md'
    done = subprocess.run(
        [sys.executable, str(ROOT / 'bench' / 'sweep.py'), '--requests', '300',
         '--spin', '1000', '--repeat', '3', '--out', str(out)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert '8 replications of 300 requests each' in text
    assert 'alternating (1 then 2, 2 then 1, 1 then 2 workers)' in text
    assert ('| workers | sweep, wall s (fastest) | every run | bare CPU loop (the ceiling), '
            'wall s (fastest) | every run |') in text
    rows = [line.split('|')[1:-1] for line in text.splitlines()
            if line.startswith('| ') and line[2].isdigit()]
    assert [row[0].strip() for row in rows] == ['1', '2']
    for _, fastest, every, ceiling, ceiling_every in rows:
        assert fastest.strip() == min(every.split(','), key=float).strip()
        assert ceiling.strip() == min(ceiling_every.split(','), key=float).strip()
        assert len(every.split(',')) == len(ceiling_every.split(',')) == 3
    assert 'all 6 sweeps gave identical frames' in text
    assert 'The bare CPU loop on the same pool: ' in text
    assert [p.name for p in tmp_path.iterdir()] == ['sweep.md']


def test_make_bench_ends_with_the_sweep(report: tuple[dict, str, Path]) -> None:
    """``bench/run.py`` with no names runs the sweep too, at its ``--scale`` (8
    replications of 200 requests at this size), after the four benchmarks: its section
    closes the report and its figures are in the JSON."""
    data, text, _ = report
    swept = data['sweep']
    assert (swept['reps'], swept['requests'], swept['repeat']) == (8, 200, 1)
    assert [len(swept['sweep_s'][w]) for w in ('1', '2')] == [1, 1]
    assert swept['speedup'] == min(swept['sweep_s']['1']) / min(swept['sweep_s']['2'])
    assert text.index('| chat | summary |') < text.index('## Sweep speed-up')
    assert text.rstrip().endswith("it moves with the host's load).")
