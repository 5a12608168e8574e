"""Scenario files: a whole simulation described as data, run from Python or the command line.

A scenario is a YAML file (``data/scenarios/*.yaml`` has examples) that says which
namespaces exist and which class each runs (a built-in model by name, or your own class by
import path), what traffic reaches them, which faults happen when, which runtime constants
differ from the defaults, and how long to run, with what seed and how many replications::

    duration_ms: 10000
    warmup_ms: 1000
    namespaces:
      COUNTERS: {class: counter}
    workload:
      namespace: COUNTERS
      arrivals: {kind: poisson, rate_per_s: 300}
      keys: {kind: zipf, n_keys: 20, s: 1.2}

The bindings can also come from the project's own ``wrangler.toml`` (``wrangler:
wrangler.toml``): each ``[[durable_objects.bindings]]`` entry becomes a namespace, and the
``[[migrations]]`` decide its storage backend (:mod:`~dosim.scenario.wrangler`).

From Python::

    from dosim import scenario
    sc = scenario.load('data/scenarios/hot_counter.yaml')
    result = scenario.run(sc)                  # one run: result.frames, result.summary
    runs = scenario.sweep(sc, {'workload.arrivals.rate_per_s': [100, 300]}, reps=3)

From the command line: ``dosim run SCENARIO.yaml --out DIR`` and ``dosim sweep SCENARIO.yaml
--param workload.arrivals.rate_per_s=100,300 --reps 3`` (:mod:`dosim.cli`).

Modules: :mod:`~.schema` (the fields), :mod:`~.specs` (workload specs and Config from
data), :mod:`~.classes` (model names), :mod:`~.wrangler`, :mod:`~.paths` (dotted paths),
:mod:`~.loading`, :mod:`~.running`, :mod:`~.output` (atomic writing), :mod:`~.errors`.
"""

from __future__ import annotations

from .classes import MODELS
from .errors import ScenarioError
from .loading import Scenario, load
from .output import OutputError, write_frames
from .paths import parse_grid, set_path
from .running import METRICS, RunResult, build, replicate, run, sweep
from .wrangler import Binding, read_wrangler

__all__ = [
    'Scenario',
    'ScenarioError',
    'load',
    'run',
    'build',
    'replicate',
    'sweep',
    'RunResult',
    'METRICS',
    'MODELS',
    'read_wrangler',
    'Binding',
    'write_frames',
    'OutputError',
    'parse_grid',
    'set_path',
]
