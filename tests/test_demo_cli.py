"""The demo scenario and the ``dosim`` command line.

``run_demo`` is run once for the module (it simulates about 2000 requests); the command line
runs it a second time with the same seed, which is also the determinism check: both runs must
write the same ``summary.csv``, byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dosim import demo
from dosim.cli import main

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
OUTPUTS = {'summary.csv', 'latency_cdf.png', 'latency_breakdown.png'}


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp('demo') / 'not-yet-made'
    return out, demo.run_demo(out, seed=0)


def test_demo_writes_exactly_its_files_and_no_temporaries(demo_run):
    out, _summary = demo_run
    assert {p.name for p in out.iterdir()} == OUTPUTS


@pytest.mark.parametrize('name', ['latency_cdf.png', 'latency_breakdown.png'])
def test_demo_plots_are_png_files(demo_run, name):
    out, _summary = demo_run
    data = (out / name).read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000  # a drawn figure, not an empty canvas


def test_summary_has_one_row_per_variant_and_the_documented_columns(demo_run):
    out, summary = demo_run
    assert list(summary.index) == ['safe', 'racy']
    assert summary.index.name == 'variant'
    assert list(summary.columns) == demo.SUMMARY_COLUMNS
    from_csv = pd.read_csv(out / 'summary.csv', index_col='variant')
    pd.testing.assert_frame_equal(from_csv, summary, check_dtype=False)


def test_safe_counter_loses_nothing_and_racy_counter_loses_updates(demo_run):
    _out, summary = demo_run
    safe, racy = summary.loc['safe'], summary.loc['racy']
    for row in (safe, racy):
        assert row['errors'] == 0
        assert row['expected_count'] == row['requests'] > 500  # ~1000 in 10 s at 100/s
        assert row['lost_updates'] == row['expected_count'] - row['stored_count']
        assert row['p50_ms'] <= row['p95_ms'] <= row['p99_ms']
    assert safe['lost_updates'] == 0
    assert safe['stored_count'] == safe['requests']
    assert racy['lost_updates'] > 0
    # The racy counter's sleep is part of its handler time, and of nothing else.
    assert racy['mean_handler_ms'] >= demo.RACY_SLEEP_MS
    assert safe['mean_handler_ms'] < 1


def test_cli_demo_returns_0_and_the_same_seed_writes_the_same_csv(demo_run, tmp_path, capsys):
    first, _summary = demo_run
    assert main(['demo', '--out', str(tmp_path), '--seed', '0']) == 0
    printed = capsys.readouterr().out
    assert 'lost_updates' in printed
    assert str(tmp_path / 'latency_cdf.png') in printed
    assert {p.name for p in tmp_path.iterdir()} == OUTPUTS
    assert (tmp_path / 'summary.csv').read_bytes() == (first / 'summary.csv').read_bytes()


@pytest.mark.parametrize('argv', [['config'], ['config', '--markdown']])
def test_cli_config_prints_the_markdown_table(argv, capsys):
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert '| field | default | unit | source | note |' in printed
    assert '`cpu_limit_ms`' in printed


def test_cli_refuses_an_out_path_that_is_a_file(tmp_path, capsys):
    target = tmp_path / 'results.txt'
    target.write_text('keep me')
    assert main(['demo', '--out', str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err
    assert 'not a directory' in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_text() == 'keep me'


def test_cli_refuses_an_out_path_below_a_file(tmp_path, capsys):
    target = tmp_path / 'results.txt'
    target.write_text('')
    assert main(['demo', '--out', str(target / 'plots')]) == 2
    err = capsys.readouterr().err
    assert str(target) in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    'argv', [[], ['bogus'], ['demo', '--seed', 'seven'], ['config', '--csv']]
)
def test_cli_usage_errors_are_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ''
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert 'error' in lines[0]


def test_cli_help_exits_0(capsys):
    assert main(['--help']) == 0
    out = capsys.readouterr().out
    assert 'demo' in out
    assert 'config' in out


def test_python_dash_m_dosim_runs_the_cli():
    paths = [str(ROOT), os.environ.get('PYTHONPATH', '')]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, '-m', 'dosim', 'config'], capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert 'cpu_limit_ms' in done.stdout
