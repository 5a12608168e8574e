"""The ``dosim run`` and ``dosim sweep`` commands (``dosim demo`` and ``dosim config`` are in
test_demo_cli.py).

``dosim run SCENARIO.yaml --out DIR`` runs a scenario once and writes its frames -- CSV or
Parquet -- with the scenario as run, into DIR, all at once: DIR appears complete or not at
all, and a DIR that holds something is never overwritten without ``--force``. ``dosim sweep``
replicates a scenario over a grid of dotted-path values and prints each metric's mean and
95 % interval per point. Exit status: 0 done, 2 bad input (nothing is run or written), 1 the
run itself failed. The commands are called in-process through ``dosim.cli.main``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import dosim.scenario
from dosim.cli import main
from dosim.scenario import Scenario, load, run

ROOT = Path(__file__).resolve().parent.parent
FRAMES = ['alarms', 'bill', 'clients', 'faults', 'lifecycle', 'meters', 'requests', 'summary']

SCENARIO = '''
name: tiny
duration_ms: 2000
warmup_ms: 500
seed: 4
replications: 1
config: {uniqueness_check_ms: 0}
namespaces:
  BUSY: {class: busy}
workload:
  namespace: BUSY
  arrivals: {kind: poisson, rate_per_s: 100}
  keys: {kind: uniform, n_keys: 3}
  request: {kind: rpc, method: work, cost: {kind: constant, ms: 2}}
'''


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / 'tiny.yaml'
    path.write_text(textwrap.dedent(SCENARIO))
    return path


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ''
    return captured.err.strip().splitlines()


# -- dosim run ---------------------------------------------------------------------------------
def test_run_writes_every_frame_the_scenario_and_prints_the_summary(scenario_file, tmp_path,
                                                                    capsys):
    out = tmp_path / 'out'
    assert main(['run', str(scenario_file), '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert "dosim run: 'tiny', seed 4, 2 simulated s" in printed
    assert 'p99_ms' in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f'{name}.csv' for name in FRAMES] + ['scenario.yaml'])
    # The files hold the run: the same seed gives the same frames in Python.
    expected = run(load(scenario_file))
    summary = pd.read_csv(out / 'summary.csv')
    pd.testing.assert_frame_equal(summary, expected.summary, check_dtype=False)
    requests = pd.read_csv(out / 'requests.csv')
    assert list(requests['sent_ms']) == pytest.approx(list(expected.frames['requests']['sent_ms']))
    assert Scenario.from_dict(load(out / 'scenario.yaml').data).spec == load(scenario_file).spec


def test_run_writes_parquet(scenario_file, tmp_path):
    pytest.importorskip('pyarrow')
    out = tmp_path / 'out'
    assert main(['run', str(scenario_file), '--out', str(out), '--format', 'parquet']) == 0
    expected = run(load(scenario_file))
    requests = pd.read_parquet(out / 'requests.parquet')
    pd.testing.assert_frame_equal(requests, expected.frames['requests'], check_dtype=False)


def test_run_set_and_duration_change_the_scenario(scenario_file, tmp_path, capsys):
    out = tmp_path / 'out'
    argv = ['run', str(scenario_file), '--out', str(out), '--duration', '1000',
            '--set', 'workload.arrivals.rate_per_s=300', '--set', 'seed=9']
    assert main(argv) == 0
    written = load(out / 'scenario.yaml')
    assert written.spec.duration_ms == 1000
    assert written.spec.workload['main'].arrivals.rate_per_s == 300
    assert "seed 9, 1 simulated s" in capsys.readouterr().out


def test_run_with_replications_writes_their_intervals(scenario_file, tmp_path, capsys):
    out = tmp_path / 'out'
    assert main(['run', str(scenario_file), '--out', str(out), '--reps', '3']) == 0
    assert 'over 3 replications' in capsys.readouterr().out
    table = pd.read_csv(out / 'replications.csv')
    assert set(table['n']) == {3}
    assert set(table['metric']) == set(dosim.scenario.METRICS)


def test_run_refuses_a_non_empty_directory_unless_forced(scenario_file, tmp_path, capsys):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    assert main(['run', str(scenario_file), '--out', str(out)]) == 2
    [line] = error_lines(capsys)
    assert line == (f"dosim run: error: {str(out)!r} exists and is not empty; refusing to "
                    'overwrite it (use --force to replace it)')
    assert [p.name for p in out.iterdir()] == ['notes.txt']
    assert main(['run', str(scenario_file), '--out', str(out), '--force']) == 0
    assert 'notes.txt' not in {p.name for p in out.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out', 'tiny.yaml']   # no temporaries


def test_run_into_an_empty_directory_needs_no_force(scenario_file, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    assert main(['run', str(scenario_file), '--out', str(out)]) == 0
    assert (out / 'summary.csv').exists()


@pytest.mark.parametrize(('argv', 'message'), [
    (['--set', 'workload.arrivals.rate_per_s=-1'],
     'workload.arrivals.rate_per_s: Poisson.rate_per_s must be a number > 0, got -1'),
    (['--set', 'workload.arrivals.rate=5'], "workload.arrivals.rate: unknown field"),
    (['--set', 'nonsense'], "--set: expected PATH=VALUE"),
    (['--set', 'config.hop_base_ms=fast'],
     "config.hop_base_ms: Config.hop_base_ms must be a number, got 'fast'"),
])
def test_run_refuses_bad_values_naming_them_and_writes_nothing(scenario_file, tmp_path, capsys,
                                                               argv, message):
    out = tmp_path / 'out'
    assert main(['run', str(scenario_file), '--out', str(out), *argv]) == 2
    [line] = error_lines(capsys)
    assert line.startswith('dosim run: error: ')
    assert message in line
    assert not out.exists()


def test_run_reports_every_problem_of_a_file_one_per_line(tmp_path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('duration_ms: -1\nseed: x\nnamespaces: {A: {class: busy}}\n')
    assert main(['run', str(bad), '--out', str(tmp_path / 'out')]) == 2
    lines = error_lines(capsys)
    assert lines == [f"dosim run: error: scenario {str(bad)!r} has 2 errors:",
                     '  duration_ms: input should be greater than 0, got -1',
                     "  seed: input should be a valid integer, got 'x'"]


@pytest.mark.parametrize('argv', [
    ['run', 'missing.yaml', '--out', 'x'],
    ['run', 'x.yaml'],                                    # --out is required
    ['run', 'x.yaml', '--out', 'x', '--format', 'xlsx'],
    ['run', 'x.yaml', '--out', 'x', '--reps', '0'],
    ['run', 'x.yaml', '--out', 'x', '--duration', '-5'],
])
def test_run_usage_errors_exit_2_with_one_line(tmp_path, capsys, argv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    [line] = error_lines(capsys)
    assert 'error' in line


def test_a_run_that_fails_exits_1(scenario_file, tmp_path, capsys, monkeypatch):
    def broken(scenario, seed=None):
        raise KeyError('boom')

    monkeypatch.setattr(dosim.scenario, 'run', broken)
    out = tmp_path / 'out'
    assert main(['run', str(scenario_file), '--out', str(out)]) == 1
    [line] = error_lines(capsys)
    assert line == "dosim run: error: the run of 'tiny' failed: KeyError: 'boom'"
    assert not out.exists()


# -- dosim sweep -------------------------------------------------------------------------------
def test_sweep_prints_mean_and_interval_per_point_and_metric(scenario_file, capsys):
    argv = ['sweep', str(scenario_file), '--param', 'workload.arrivals.rate_per_s=50,200',
            '--reps', '2', '--metrics', 'requests,throughput_per_s', '--no-progress']
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ['workload.arrivals.rate_per_s', 'metric', 'mean', '±', '95%',
                                'n']
    body = [line.split() for line in lines[1:]]
    assert [(row[0], row[1], row[-1]) for row in body] == [
        ('50', 'requests', '2'), ('200', 'requests', '2'),
        ('50', 'throughput_per_s', '2'), ('200', 'throughput_per_s', '2')]


def test_sweep_writes_the_table_and_every_run(scenario_file, tmp_path):
    out = tmp_path / 'sweep'
    argv = ['sweep', str(scenario_file), '--param', 'workload.arrivals.rate_per_s=50,200',
            '--param', 'namespaces.BUSY.storage=sqlite,kv', '--reps', '2', '--out', str(out),
            '--no-progress']
    assert main(argv) == 0
    runs = pd.read_csv(out / 'runs.csv')
    metrics = len(dosim.scenario.METRICS)
    assert len(runs) == 2 * 2 * 2 * metrics   # points x reps x metrics
    summary = pd.read_csv(out / 'summary.csv')
    assert len(summary) == 2 * 2 * metrics
    assert set(summary['n']) == {2}
    assert set(summary['namespaces.BUSY.storage']) == {'sqlite', 'kv'}


def test_sweep_on_two_worker_processes_gives_the_same_numbers(scenario_file, tmp_path):
    frames = []
    for workers in ('1', '2'):
        out = tmp_path / f'w{workers}'
        argv = ['sweep', str(scenario_file), '--param', 'workload.arrivals.rate_per_s=50,200',
                '--reps', '2', '--workers', workers, '--out', str(out), '--no-progress']
        assert main(argv) == 0
        frames.append(pd.read_csv(out / 'runs.csv'))
    pd.testing.assert_frame_equal(frames[0], frames[1])


@pytest.mark.parametrize(('argv', 'message'), [
    (['--param', 'workload.arrivals.rate=1,2'], 'workload.arrivals.rate: unknown field'),
    (['--param', 'workload.arrivals.rate_per_s'], '--param: expected PATH=VALUE'),
    (['--param', 'duration_ms=1,,2'], '--param: duration_ms: an empty value'),
    (['--param', 'seed=1', '--metrics', 'p98_ms'], "--metrics: unknown metric 'p98_ms'"),
    (['--param', 'seed=1', '--workers', 'two'], "--workers: a whole number >= 1, got 'two'"),
])
def test_sweep_refuses_bad_input_before_running(scenario_file, capsys, argv, message):
    assert main(['sweep', str(scenario_file), *argv]) == 2
    [line] = error_lines(capsys)
    assert message in line


def test_sweep_needs_a_param(scenario_file, capsys):
    assert main(['sweep', str(scenario_file)]) == 2
    [line] = error_lines(capsys)
    assert '--param' in line


# -- help ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(('command', 'words'), [
    ('run', ['--out DIR', '--force', '--format', '--set PATH=VALUE', '--duration MS']),
    ('sweep', ['--param PATH=V1,V2', '--reps N', '--workers K', '--metrics']),
])
def test_each_command_explains_its_options(command, words, capsys):
    assert main([command, '--help']) == 0
    text = capsys.readouterr().out
    for word in words:
        assert word in text


def test_python_dash_m_dosim_help_lists_every_command():
    paths = [str(ROOT), os.environ.get('PYTHONPATH', '')]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(p for p in paths if p)}
    done = subprocess.run([sys.executable, '-m', 'dosim', '--help'], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for command in ('run', 'sweep', 'demo', 'config'):
        assert f'    {command} ' in done.stdout
