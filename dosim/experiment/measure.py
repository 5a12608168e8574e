"""From one run's output to its metrics: observations, warm-up removal, measurement.

A model run returns *observations*, and the experiment turns them into a few numbers, the
*metrics* of that run. The model returns one of:

* a finished :class:`~dosim.Simulation`: its observations are ``sim.trace.requests`` (one row
  per request, timed by ``sent_ms``), measured by :func:`request_metrics`;
* a DataFrame of observations with a time column (``time_ms`` unless told otherwise), either
  long (columns ``metric`` and ``value``: every row is one observation of one metric; the
  metric is the mean of its values) or wide (the metric of each numeric column is its mean).
  A DataFrame with the columns of ``sim.trace.requests`` counts as a requests frame;
* a mapping of metric names to numbers, already measured (it cannot have a warm-up removed).

*Warm-up removal.* A simulation starts empty: no queue, cold caches, nothing in flight. Its
first minutes describe that start, not the steady state a question is usually about, and they
pull every average towards the empty system. Dropping the observations timed before
``warmup_ms`` removes that bias; how long is long enough depends on the model (a queue near
saturation forgets its start slowly). A custom ``measure(frame) -> {name: number}`` sees the
observations after warm-up removal.

All of this runs where the model ran (in a worker process, for a process pool), so only the
small mapping of metrics travels back, never a simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import pandas as pd

from ..simulation import Simulation
from ..trace import REQUEST_COLUMNS

__all__ = ['measure_output', 'mean_metrics', 'request_metrics']

Measure = Callable[[pd.DataFrame], Mapping[str, float]]


def request_metrics(requests: pd.DataFrame) -> dict[str, float]:
    """The default metrics of a requests frame (``sim.trace.requests``): ``requests``
    (rows), ``error_rate`` (share not ``ok``), and over the successful requests the mean
    ``latency_ms``, its median ``latency_p50_ms`` and 99th percentile ``latency_p99_ms``, and
    the mean of each part of the latency: ``network_ms``, ``queue_ms``, ``handler_ms`` and
    ``gate_ms``. Failed requests are left out of the latencies: a refusal returns fast."""
    ok = requests[requests['status'] == 'ok']
    count = len(requests)
    metrics = {
        'requests': float(count),
        'error_rate': 1 - len(ok) / count if count else math.nan,
        'latency_ms': ok['latency_ms'].mean(),
        'latency_p50_ms': ok['latency_ms'].quantile(0.5),
        'latency_p99_ms': ok['latency_ms'].quantile(0.99),
    }
    for part in ('network_ms', 'queue_ms', 'handler_ms', 'gate_ms'):
        metrics[part] = ok[part].mean()
    return metrics


def mean_metrics(frame: pd.DataFrame, time_col: str = 'time_ms') -> dict[str, float]:
    """The default metrics of an observations frame: the mean value of each metric of a
    long frame (columns ``metric``, ``value``), or the mean of each numeric column but
    *time_col* of a wide one."""
    if 'metric' in frame.columns and 'value' in frame.columns:
        return frame.groupby('metric', sort=False)['value'].mean().to_dict()
    numeric = frame.select_dtypes(include=['number', 'bool']).drop(
        columns=[time_col], errors='ignore')
    return numeric.mean().to_dict()


def _is_requests(frame: pd.DataFrame) -> bool:
    return all(c in frame.columns for c in REQUEST_COLUMNS)


def observations(output: Any, time_col: str | None) -> tuple[pd.DataFrame, str, Measure]:
    """The observations frame of a model's *output*, its time column and default measure."""
    if isinstance(output, Simulation):
        if not output.trace.keep_requests:
            raise ValueError('the model returned a Simulation that kept no requests '
                             f'(Config.trace_level={output.config.trace_level!r}); use '
                             "'requests' or 'full'")
        output = output.trace.requests
    if not isinstance(output, pd.DataFrame):
        raise TypeError('a model must return a dosim.Simulation, a DataFrame of observations '
                        f'or a mapping of metric names to numbers, got {type(output).__name__}')
    if _is_requests(output):
        return output, time_col or 'sent_ms', request_metrics
    col = time_col or 'time_ms'
    return output, col, lambda frame: mean_metrics(frame, col)


def trim_warmup(frame: pd.DataFrame, warmup_ms: float, time_col: str) -> pd.DataFrame:
    """The rows of *frame* timed at or after *warmup_ms* by *time_col*."""
    if not warmup_ms:
        return frame
    if time_col not in frame.columns:
        raise ValueError(f'warmup_ms={warmup_ms!r} needs a time column: the observations have '
                         f'no column {time_col!r} (columns: {list(frame.columns)}); pass '
                         'time_col=')
    kept = frame[frame[time_col] >= warmup_ms]
    if len(frame) and not len(kept):
        raise ValueError(f'warmup_ms={warmup_ms!r} removes every observation: the last '
                         f'{time_col} is {float(frame[time_col].max())!r}')
    return kept


def measure_output(output: Any, warmup_ms: float, measure: Measure | None,
                   time_col: str | None) -> list[tuple[str, float]]:
    """The metrics of one run, as ``(name, value)`` pairs in the order they were measured."""
    if isinstance(output, Mapping):
        if warmup_ms:
            raise ValueError(f'warmup_ms={warmup_ms!r}, but the model returned metrics, not '
                             'observations, so nothing can be removed: remove the warm-up '
                             'in the model, or return observations')
        if measure is not None:
            raise ValueError('measure= was given, but the model returned metrics already')
        metrics = output
    else:
        frame, col, default = observations(output, time_col)
        metrics = (measure or default)(trim_warmup(frame, warmup_ms, col))
    return _checked(metrics)


def _checked(metrics: Any) -> list[tuple[str, float]]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f'metrics must be a mapping of names to numbers, got '
                        f'{type(metrics).__name__}')
    pairs = []
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f'a metric name must be a string, got {name!r}')
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f'metric {name!r} must be a number, got {value!r}')
        pairs.append((name, float(value)))
    return pairs
