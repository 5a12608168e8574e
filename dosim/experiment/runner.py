"""Running replications and sweeps: seeds, tasks, executors and progress.

Every run of a model is a *task*: ``model(seed, **params)``, then warm-up removal and
measurement (:mod:`dosim.experiment.measure`). A task depends on nothing but its model, its
seed and its parameters, so tasks can run in any order, in any process, on any machine, and
give the same metrics: the frame a sweep returns is identical whether it ran sequentially, on
a local process pool or on a Dask cluster.

*Seeds.* Replication *i* runs with the *i*-th seed spawned from the base seed by NumPy's
``SeedSequence`` -- statistically independent streams, the same for every parameter point of
a sweep. Using the same seeds at every point ("common random numbers") makes differences
between points sharper than independent seeds would: both sides of a comparison see the same
arrivals. The first *n* seeds do not depend on how many replications are asked for, so adding
replications keeps the earlier ones.

*Executors.* ``executor=None`` (or ``'sequential'``) runs the tasks one after the other in
this process; ``'processes'`` starts a :class:`~concurrent.futures.ProcessPoolExecutor` of
*workers* processes for the call; any other :class:`concurrent.futures.Executor` is used as
given and left running, for example a Dask cluster's ``distributed.Client(...).get_executor()``
(``pip install dosim[dask]``). Workers receive the model by reference, so it must be a
function defined at the top level of a module (with the ``fork`` start method, the Linux
default, a notebook's functions qualify too). Thread pools are refused: dosim keeps the
running simulation in one module-level slot, which threads would share.

*Progress.* ``progress=True`` shows a bar (``tqdm.auto``: a widget in Jupyter, text in a
terminal), ``False`` none, and ``None`` one that appears only once the run has taken longer
than a few seconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import as_completed as _as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .measure import Measure, measure_output

__all__ = ['replicate', 'replication_seeds', 'sweep']

#: Columns of the frame of results, after the parameter columns.
RESULT_COLUMNS = ['rep', 'seed', 'metric', 'value']
EXECUTOR_NAMES = ('sequential', 'processes')
_VALUE_LISTS = (Sequence, np.ndarray, pd.Series, pd.Index)
AUTO_PROGRESS_DELAY_S = 3.0  # progress=None: show a bar once a run has taken this long


@dataclass(frozen=True)
class Task:
    """One run: ``model(seed, **params)``, measured after ``warmup_ms``."""

    model: Callable[..., Any]
    params: dict[str, Any]
    seed: int
    warmup_ms: float
    measure: Measure | None
    time_col: str | None


def run_task(task: Task) -> list[tuple[str, float]]:
    """Run one task and measure it (in whichever process the executor chose)."""
    output = task.model(task.seed, **task.params)
    return measure_output(output, task.warmup_ms, task.measure, task.time_col)


def replication_seeds(seed: int, reps: int) -> list[int]:
    """The seeds of replications 0 .. *reps* - 1 spawned from base *seed* (63-bit ints)."""
    _check_int('seed', seed, 0)
    _check_int('reps', reps, 1)
    children = np.random.SeedSequence(seed).spawn(reps)
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)) for child in children]


# -- the public entry points ------------------------------------------------------------------
def replicate(model: Callable[..., Any], *, reps: int, seed: int = 0, warmup_ms: float = 0.0,
              measure: Measure | None = None, time_col: str | None = None,
              executor: str | Executor | None = None, workers: int | None = None,
              progress: bool | None = None, **params: Any) -> pd.DataFrame:
    """Run ``model(seed_i, **params)`` for *reps* independent seeds and measure each run.

    Returns a tidy frame, one row per replication and metric: ``rep``, ``seed``, ``metric``,
    ``value``; :func:`~dosim.experiment.summarize` turns it into means with confidence
    intervals. *warmup_ms* drops the observations timed before it (by *time_col*, which
    defaults to ``sent_ms`` for requests and ``time_ms`` otherwise); *measure*, a function
    ``measure(frame) -> {name: number}``, replaces the default metrics
    (:mod:`dosim.experiment.measure`). *executor*, *workers* and *progress* are described in
    the module docstring; for a process pool or a cluster, *measure* too must be defined at
    the top level of a module."""
    return _run(model, [params], [], reps, seed, warmup_ms, measure, time_col, executor,
                workers, progress)


def sweep(model: Callable[..., Any], grid: Mapping[str, Sequence[Any]], *, reps: int,
          seed: int = 0, warmup_ms: float = 0.0, measure: Measure | None = None,
          time_col: str | None = None, executor: str | Executor | None = None,
          workers: int | None = None, progress: bool | None = None,
          **params: Any) -> pd.DataFrame:
    """:func:`replicate` at every point of a parameter *grid*: ``{'rho': [0.5, 0.8],
    'objects': [1, 10]}`` runs the 4 combinations, *reps* times each, with the fixed
    *params* passed to every run. The frame has one column per grid parameter before
    ``rep``, ``seed``, ``metric``, ``value``; replication *i* uses the same seed at every
    point."""
    names = _check_grid(grid, params)
    points = [{**params, **dict(zip(names, values, strict=True))}
              for values in itertools.product(*(grid[name] for name in names))]
    return _run(model, points, names, reps, seed, warmup_ms, measure, time_col, executor,
                workers, progress)


# -- running ------------------------------------------------------------------------------------
def _run(model: Callable[..., Any], points: list[dict[str, Any]], names: list[str], reps: int,
         seed: int, warmup_ms: float, measure: Measure | None, time_col: str | None,
         executor: str | Executor | None, workers: int | None,
         progress: bool | None) -> pd.DataFrame:
    _check_run(model, warmup_ms, measure, time_col, progress)
    _check_params(points[0])
    seeds = replication_seeds(seed, reps)
    tasks = [Task(model, point, s, warmup_ms, measure, time_col)
             for point in points for s in seeds]
    with _executor(executor, workers) as pool, _bar(len(tasks), progress) as bar:
        results = _execute(tasks, pool, bar)
    rows = []
    for i, (task, metrics) in enumerate(zip(tasks, results, strict=True)):
        head = [task.params[name] for name in names]
        rows += [(*head, i % reps, task.seed, name, value) for name, value in metrics]
    return pd.DataFrame(rows, columns=[*names, *RESULT_COLUMNS])


def _execute(tasks: list[Task], pool: Executor | None, bar: Any) -> list[Any]:
    """The results of *tasks*, in task order, whatever order they finish in."""
    results: list[Any] = [None] * len(tasks)
    if pool is None:
        for i, task in enumerate(tasks):
            results[i] = _result_of(task, run_task, task)
            bar.update(1)
        return results
    futures: dict[Future[Any], int] = {pool.submit(run_task, task): i
                                       for i, task in enumerate(tasks)}
    try:
        for future in _as_completed(futures):
            i = futures[future]
            results[i] = _result_of(tasks[i], future.result)
            bar.update(1)
    finally:
        for future in futures:
            future.cancel()
    return results


def _result_of(task: Task, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        name = getattr(task.model, '__name__', repr(task.model))
        raise RuntimeError(f'model {name}(seed={task.seed}, **{task.params!r}) failed: '
                           f'{type(exc).__name__}: {exc}') from exc


@contextmanager
def _executor(executor: str | Executor | None, workers: int | None) -> Iterator[Executor | None]:
    if workers is not None and executor != 'processes':
        raise ValueError(f"workers={workers!r} applies to executor='processes' only, "
                         f'got executor={executor!r}')
    if executor is None or executor == 'sequential':
        yield None
    elif executor == 'processes':
        if workers is not None:
            _check_int('workers', workers, 1)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
    elif isinstance(executor, ThreadPoolExecutor):
        raise TypeError('executor: a ThreadPoolExecutor would run simulations in threads that '
                        "share dosim's running-simulation state; use 'processes' or a "
                        'process-based executor')
    elif isinstance(executor, Executor):
        yield executor
    elif isinstance(executor, str):
        raise ValueError(f'executor must be one of {EXECUTOR_NAMES} or a '
                         f'concurrent.futures.Executor, got {executor!r}')
    else:
        raise TypeError(f'executor must be one of {EXECUTOR_NAMES} or a '
                        f'concurrent.futures.Executor, got {type(executor).__name__}')


@contextmanager
def _bar(total: int, progress: bool | None) -> Iterator[Any]:
    if progress is False:
        yield _NoBar()
        return
    from tqdm.auto import tqdm

    delay = 0.0 if progress else AUTO_PROGRESS_DELAY_S
    with tqdm(total=total, unit='run', delay=delay) as bar:
        yield bar


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


# -- checking the input -------------------------------------------------------------------------
def _check_int(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'{name} must be a whole number, got {value!r}')
    if value < least:
        raise ValueError(f'{name} must be >= {least}, got {value!r}')


def _check_run(model: Any, warmup_ms: Any, measure: Any, time_col: Any, progress: Any) -> None:
    if not callable(model):
        raise TypeError(f'model must be a function model(seed, **params), got {model!r}')
    if isinstance(warmup_ms, bool) or not isinstance(warmup_ms, (int, float)):
        raise TypeError(f'warmup_ms must be a number of milliseconds, got {warmup_ms!r}')
    if not (math.isfinite(warmup_ms) and warmup_ms >= 0):
        raise ValueError(f'warmup_ms must be a finite number >= 0, got {warmup_ms!r}')
    if measure is not None and not callable(measure):
        raise TypeError(f'measure must be a function measure(frame) -> dict, got {measure!r}')
    if time_col is not None and not isinstance(time_col, str):
        raise TypeError(f'time_col must be a column name, got {time_col!r}')
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f'progress must be True, False or None (automatic), got {progress!r}')


def _check_params(params: Mapping[str, Any]) -> None:
    for name in params:
        if name in RESULT_COLUMNS:
            raise ValueError(f'parameter {name!r} clashes with a column of the results '
                             f'{RESULT_COLUMNS}: rename it in the model')


def _check_grid(grid: Any, params: Mapping[str, Any]) -> list[str]:
    if not isinstance(grid, Mapping):
        raise TypeError(f'grid must be a mapping of parameter names to lists of values, '
                        f'got {type(grid).__name__}')
    if not grid:
        raise ValueError('grid is empty: name at least one parameter, or use replicate()')
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f'grid: parameter names must be identifiers, got {name!r}')
        if isinstance(values, (str, bytes)) or not isinstance(values, _VALUE_LISTS):
            raise TypeError(f'grid[{name!r}] must be a list of values, got {values!r}')
        if len(values) == 0:
            raise ValueError(f'grid[{name!r}] is empty: give at least one value')
        if name in params:
            raise ValueError(f'parameter {name!r} is both in the grid and fixed')
    return list(grid)
