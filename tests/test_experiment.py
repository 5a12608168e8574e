"""Experiments: replications, warm-up removal, confidence intervals, sweeps and executors.

A model is a top-level function ``model(seed, **params)`` that runs one simulation and
returns its observations. :func:`dosim.experiment.replicate` runs it with independent seeds,
drops the observations timed before the warm-up, and measures each run;
:func:`~dosim.experiment.sweep` does so at every point of a parameter grid;
:func:`~dosim.experiment.summarize` reports each metric's mean with a 95 % confidence
interval. Because a run depends on nothing but its model, seed and parameters, the frames are
identical whichever executor ran them: sequential, a process pool, or a Dask cluster.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import dosim
from dosim.experiment import (
    replicate,
    replication_seeds,
    student_t_critical,
    summarize,
    sweep,
)

QUIET = dosim.Config(jitter_scale_ms=0.0, uniqueness_check_ms=0.0)


# -- models (top level, so that worker processes can find them) ---------------------------------
def ramp(seed: int, slope: float = 1.0) -> pd.DataFrame:
    """Observations at 0, 1, ... 9 ms whose value is slope × time: no randomness at all."""
    times = [float(t) for t in range(10)]
    return pd.DataFrame({'time_ms': times, 'level': [slope * t for t in times]})


class Worker(dosim.DurableObject):
    def fetch(self, request):
        yield dosim.compute(5)
        return dosim.Response('done')


def paced(seed: int, every_ms: float = 100.0) -> dosim.Simulation:
    """A client sends one request every *every_ms*, ten in all, each taking 5 ms of CPU."""
    sim = dosim.Simulation(seed=seed, config=QUIET)
    stub = sim.namespace('WORK', Worker).get_by_name('w')

    def client():
        for _ in range(10):
            yield stub.fetch('https://do/')
            yield sim.timeout(every_ms - 7)

    sim.process(client())
    sim.run()
    return sim


def bursty(seed: int, clients: int, think_ms: float) -> dosim.Simulation:
    """*clients* clients with exponential think times share one object, with the default
    (jittery) network: a small random model whose metrics depend on every draw."""
    sim = dosim.Simulation(seed=seed)
    stub = sim.namespace('WORK', Worker).get_by_name('w')
    think = sim.stream('think')

    def client():
        for _ in range(20):
            yield sim.timeout(think.expovariate(1 / think_ms))
            yield stub.fetch('https://do/')

    for _ in range(clients):
        sim.process(client())
    sim.run()
    return sim


def broken(seed: int) -> dosim.Simulation:
    raise ZeroDivisionError('the model divided by zero')


def metrics_only(seed: int, scale: float = 1.0) -> dict[str, float]:
    return {'seed_mod_7': scale * (seed % 7)}


# -- Student's t, and summaries ------------------------------------------------------------------
@pytest.mark.parametrize(('df', 'confidence', 'expected'), [
    (1, 0.95, 12.706205), (2, 0.95, 4.302653), (4, 0.95, 2.776445), (9, 0.95, 2.262157),
    (29, 0.95, 2.045230), (100, 0.95, 1.983972), (10, 0.99, 3.169273), (1000, 0.95, 1.962339),
])
def test_student_t_critical_values_match_the_tables(df, confidence, expected):
    """The critical values of Student's t, as printed in every statistics table: computed
    without SciPy, from the exact series (and past 300 degrees of freedom an expansion)."""
    assert student_t_critical(df, confidence) == pytest.approx(expected, abs=1e-6)


def test_student_t_is_continuous_where_the_method_changes():
    assert student_t_critical(300) == pytest.approx(1.967903, abs=1e-6)
    assert student_t_critical(301) == pytest.approx(1.967877, abs=1e-6)


def test_summarize_gives_mean_std_and_the_t_interval():
    """Four runs measured 1, 2, 3, 4: mean 2.5, std √(5/3), half-width t(3)·std/√4."""
    frame = pd.DataFrame({'rep': range(4), 'seed': range(4), 'metric': 'x',
                          'value': [1.0, 2.0, 3.0, 4.0]})
    row = summarize(frame).iloc[0]
    std = math.sqrt(5 / 3)
    half = 3.182446305 * std / 2
    assert row['mean'] == 2.5
    assert row['std'] == pytest.approx(std)
    assert row['n'] == 4
    assert row['half_width'] == pytest.approx(half)
    assert (row['ci_low'], row['ci_high']) == pytest.approx((2.5 - half, 2.5 + half))


def test_summarize_keeps_parameters_and_order_and_one_run_has_no_interval():
    frame = pd.DataFrame({'rho': [0.9, 0.9, 0.5], 'rep': [0, 1, 0], 'seed': [7, 8, 7],
                          'metric': ['w', 'w', 'w'], 'value': [3.0, 5.0, 1.0]})
    out = summarize(frame, confidence=0.9)
    assert list(out.columns) == ['rho', 'metric', 'mean', 'std', 'n', 'half_width', 'ci_low',
                                 'ci_high']
    assert out['rho'].tolist() == [0.9, 0.5]
    assert out['half_width'].iloc[0] == pytest.approx(6.313752)   # t(1) · √2 / √2
    assert math.isnan(out['std'].iloc[1])
    assert math.isnan(out['half_width'].iloc[1])


# -- seeds ---------------------------------------------------------------------------------------
def test_replication_seeds_are_distinct_stable_and_prefix_free_of_the_count():
    """Seeds come from NumPy's SeedSequence: the same base seed gives the same seeds, and
    asking for more replications keeps the first ones."""
    seeds = replication_seeds(1, 5)
    assert seeds == replication_seeds(1, 5)
    assert seeds[:3] == replication_seeds(1, 3)
    assert len(set(seeds)) == 5
    assert set(seeds).isdisjoint(replication_seeds(2, 5))
    assert all(0 <= s < 2**63 for s in seeds)


# -- replicate: warm-up removal and measurement --------------------------------------------------
def test_a_wide_frame_is_measured_by_column_means_after_warm_up():
    """Observations timed before warmup_ms are dropped: the level's mean over 5..9 ms."""
    frame = replicate(ramp, reps=2, seed=3, warmup_ms=5, progress=False, slope=2.0)
    assert list(frame.columns) == ['rep', 'seed', 'metric', 'value']
    assert frame['metric'].tolist() == ['level', 'level']
    assert frame['value'].tolist() == [14.0, 14.0]   # 2 × mean(5, 6, 7, 8, 9)
    assert frame['seed'].tolist() == replication_seeds(3, 2)
    no_warmup = replicate(ramp, reps=1, progress=False, slope=2.0)
    assert no_warmup['value'].tolist() == [9.0]   # 2 × mean(0 .. 9)


def test_a_simulation_is_measured_by_its_requests():
    """Ten requests, 100 ms apart, each 1 ms out, 5 ms of CPU and 1 ms back: latency 7 ms,
    nothing queued. A warm-up of 250 ms drops the three sent at 0, 100 and 200 ms."""
    frame = replicate(paced, reps=1, warmup_ms=250, progress=False)
    metrics = dict(zip(frame['metric'], frame['value'], strict=True))
    assert metrics == {
        'requests': 7.0, 'error_rate': 0.0, 'latency_ms': 7.0, 'latency_p50_ms': 7.0,
        'latency_p99_ms': 7.0, 'network_ms': 2.0, 'queue_ms': 0.0, 'handler_ms': 5.0,
        'gate_ms': 0.0,
    }


def test_a_custom_measure_sees_the_observations_after_warm_up():
    def first_and_count(requests):
        return {'first_sent_ms': requests['sent_ms'].min(), 'count': len(requests)}

    frame = replicate(paced, reps=1, warmup_ms=250, measure=first_and_count, progress=False)
    assert frame['value'].tolist() == [300.0, 7.0]


def test_a_model_may_return_metrics_directly():
    seeds = replication_seeds(0, 3)
    frame = replicate(metrics_only, reps=3, progress=False, scale=2.0)
    assert frame['value'].tolist() == [2.0 * (s % 7) for s in seeds]


def test_replications_are_the_model_run_with_the_spawned_seeds():
    """replicate() adds nothing random: its values are the model's at each spawned seed."""
    frame = replicate(bursty, reps=3, seed=11, progress=False, clients=3, think_ms=20.0)
    for rep, seed in enumerate(replication_seeds(11, 3)):
        requests = bursty(seed, clients=3, think_ms=20.0).trace.requests
        got = frame[(frame['rep'] == rep) & (frame['metric'] == 'latency_ms')]['value']
        assert got.item() == requests['latency_ms'].mean()


# -- sweeps and executors ------------------------------------------------------------------------
def test_a_sweep_runs_the_grid_with_common_seeds():
    """Every combination of the grid, in order; replication i has the same seed at every
    point (common random numbers), and the grid parameters come first in the frame."""
    frame = sweep(ramp, {'slope': [1.0, 3.0]}, reps=2, seed=5, progress=False)
    assert list(frame.columns) == ['slope', 'rep', 'seed', 'metric', 'value']
    assert frame['slope'].tolist() == [1.0, 1.0, 3.0, 3.0]
    assert frame['rep'].tolist() == [0, 1, 0, 1]
    assert frame['seed'].tolist() == replication_seeds(5, 2) * 2
    assert frame['value'].tolist() == [4.5, 4.5, 13.5, 13.5]


def test_a_two_parameter_grid_is_a_cartesian_product():
    frame = sweep(bursty, {'clients': [1, 2], 'think_ms': [10.0, 50.0]}, reps=1,
                  progress=False, measure=lambda requests: {'n': len(requests)})
    assert list(zip(frame['clients'], frame['think_ms'], frame['value'], strict=True)) == [
        (1, 10.0, 20.0), (1, 50.0, 20.0), (2, 10.0, 40.0), (2, 50.0, 40.0)]


GRID = {'clients': [2, 4], 'think_ms': [5.0, 40.0]}


@pytest.fixture(scope='module')
def sequential_sweep() -> pd.DataFrame:
    return sweep(bursty, GRID, reps=3, seed=42, progress=False)


def test_a_process_pool_gives_the_same_frame(sequential_sweep):
    pooled = sweep(bursty, GRID, reps=3, seed=42, executor='processes', workers=2,
                   progress=False)
    pd.testing.assert_frame_equal(pooled, sequential_sweep)
    assert sequential_sweep['value'].nunique() > 20   # random, yet reproduced exactly


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_frame(sequential_sweep):
    """A Dask cluster of two worker processes (``distributed.LocalCluster``), reached through
    ``client.get_executor()``: the same frame again."""
    distributed = pytest.importorskip('distributed')
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = sweep(bursty, GRID, reps=3, seed=42, executor=client.get_executor(),
                        progress=False)
    pd.testing.assert_frame_equal(on_dask, sequential_sweep)


def test_a_failing_model_names_its_parameters_and_seed():
    """The error says which run failed (in a pool, whichever failed first) and why."""
    seed = replication_seeds(0, 1)[0]
    with pytest.raises(RuntimeError, match=rf'^model broken\(seed={seed}, \*\*\{{\}}\) failed: '
                                           'ZeroDivisionError: the model divided by zero$'):
        replicate(broken, reps=2, progress=False)
    with pytest.raises(RuntimeError, match=r'^model broken\(seed=\d+, \*\*\{\}\) failed: '
                                           'ZeroDivisionError') as info:
        replicate(broken, reps=2, executor='processes', workers=2, progress=False)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


# -- progress --------------------------------------------------------------------------------------
def test_progress_bar_only_when_asked_or_slow(capsys):
    """progress=True draws a bar; False draws none; None (automatic) draws one only once a
    run has taken a few seconds, so a fast run stays quiet."""
    replicate(ramp, reps=3, progress=True)
    assert '3/3' in capsys.readouterr().err
    replicate(ramp, reps=3, progress=False)
    replicate(ramp, reps=3)
    assert capsys.readouterr().err == ''


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize(('kwargs', 'error', 'message'), [
    ({'reps': 0}, ValueError, 'reps must be >= 1, got 0'),
    ({'reps': True}, TypeError, 'reps must be a whole number, got True'),
    ({'reps': 2, 'seed': -1}, ValueError, 'seed must be >= 0, got -1'),
    ({'reps': 2, 'warmup_ms': -5}, ValueError, 'warmup_ms must be a finite number >= 0, got -5'),
    ({'reps': 2, 'warmup_ms': math.nan}, ValueError, 'warmup_ms must be a finite number'),
    ({'reps': 2, 'warmup_ms': '5'}, TypeError, "warmup_ms must be a number of milliseconds"),
    ({'reps': 2, 'executor': 'dask'}, ValueError,
     "executor must be one of \\('sequential', 'processes'\\) or a concurrent.futures.Executor, "
     "got 'dask'"),
    ({'reps': 2, 'executor': 4}, TypeError, 'executor must be one of'),
    ({'reps': 2, 'workers': 2}, ValueError,
     "workers=2 applies to executor='processes' only, got executor=None"),
    ({'reps': 2, 'executor': 'processes', 'workers': 0}, ValueError, 'workers must be >= 1'),
    ({'reps': 2, 'progress': 'yes'}, TypeError, 'progress must be True, False or None'),
    ({'reps': 2, 'rep': 3}, ValueError, "parameter 'rep' clashes with a column"),
    ({'reps': 2, 'measure': 'mean'}, TypeError, 'measure must be a function'),
])
def test_bad_replicate_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        replicate(ramp, **kwargs)


def test_a_thread_pool_is_refused():
    """dosim keeps the running simulation in one module-level slot: threads would share it."""
    with ThreadPoolExecutor(2) as pool, pytest.raises(TypeError, match='ThreadPoolExecutor'):
        replicate(ramp, reps=2, executor=pool)


@pytest.mark.parametrize(('grid', 'error', 'message'), [
    ({}, ValueError, 'grid is empty: name at least one parameter, or use replicate()'),
    ({'slope': []}, ValueError, r"grid\['slope'\] is empty: give at least one value"),
    ({'slope': 'fast'}, TypeError, r"grid\['slope'\] must be a list of values, got 'fast'"),
    ({'slope': 2.0}, TypeError, r"grid\['slope'\] must be a list of values, got 2.0"),
    ([('slope', [1.0])], TypeError, 'grid must be a mapping'),
    ({'seed': [1, 2]}, ValueError, "parameter 'seed' clashes with a column"),
])
def test_bad_grids_are_refused(grid, error, message):
    with pytest.raises(error, match=message):
        sweep(ramp, grid, reps=1)


def test_a_parameter_cannot_be_both_swept_and_fixed():
    with pytest.raises(ValueError, match="parameter 'slope' is both in the grid and fixed"):
        sweep(ramp, {'slope': [1.0]}, reps=1, slope=2.0)


@pytest.mark.parametrize(('model', 'kwargs', 'message'), [
    (ramp, {'warmup_ms': 50}, r'warmup_ms=50 removes every observation: the last time_ms is '
                              r'9.0'),
    (ramp, {'warmup_ms': 5, 'time_col': 'when'},
     "warmup_ms=5 needs a time column: the observations have no column 'when'"),
    (metrics_only, {'warmup_ms': 5}, 'the model returned metrics, not observations'),
    (ramp, {'measure': lambda frame: {'level': 'high'}}, "metric 'level' must be a number"),
    (ramp, {'measure': lambda frame: [1.0]}, 'metrics must be a mapping'),
    (lambda seed: [seed], {}, 'a model must return a dosim.Simulation, a DataFrame'),
])
def test_bad_model_output_is_reported_with_its_run(model, kwargs, message):
    with pytest.raises(RuntimeError, match=message):
        replicate(model, reps=1, progress=False, **kwargs)


def test_a_model_must_be_callable():
    with pytest.raises(TypeError, match=r'model must be a function model\(seed, \*\*params\)'):
        replicate('ramp', reps=1)


def test_summarize_needs_a_replicated_frame():
    with pytest.raises(ValueError, match="the frame has no column 'metric'"):
        summarize(pd.DataFrame({'value': [1.0]}))
    with pytest.raises(ValueError, match='between 0 and 1, got 95'):
        summarize(pd.DataFrame({'metric': ['x'], 'value': [1.0]}), confidence=95)
