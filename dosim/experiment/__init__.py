"""Experiments: replicated runs, parameter sweeps, and means with confidence intervals.

One simulation run answers a question for one seed: one draw of every random arrival,
latency and failure. Another seed gives another answer. An *experiment* runs a model many
times with independent seeds (*replications*), measures each run after dropping its start-up
period (*warm-up*), and reports each metric's mean with a 95 % confidence interval -- the
range that covers the true long-run mean in 95 of 100 such experiments. A *sweep* does this
at every point of a grid of parameters, to see how a metric depends on them.

A *model* is a plain function at the top level of a module::

    def one_queue(seed: int, rho: float) -> dosim.Simulation:
        sim = dosim.Simulation(seed=seed)
        ...                      # objects, clients at load rho
        sim.run(until=60_000)
        return sim               # or a DataFrame of observations, or {metric: number}

    runs = sweep(one_queue, {'rho': [0.5, 0.8, 0.9]}, reps=10, warmup_ms=10_000,
                 executor='processes')
    summarize(runs)              # rho, metric, mean, std, n, half_width, ci_low, ci_high

Every frame is tidy: one row per observation (per parameter point, replication and metric),
ready for ``groupby``, plotting or a CSV. The same seed gives the same frame, row for row,
whether the runs went one after the other, to a process pool or to a Dask cluster.

.. autosummary::
   replicate
   sweep
   summarize
   replication_seeds
   student_t_critical
"""

from __future__ import annotations

from .measure import mean_metrics, request_metrics
from .runner import replicate, replication_seeds, sweep
from .stats import student_t_critical, summarize

__all__ = [
    'replicate',
    'sweep',
    'summarize',
    'replication_seeds',
    'student_t_critical',
    'request_metrics',
    'mean_metrics',
]
