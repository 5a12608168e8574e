"""The ``dosim`` command line: ``dosim <command> [options]``, or ``python -m dosim ...``.

Commands:

* ``dosim run SCENARIO.yaml --out DIR`` -- run a scenario file (:mod:`dosim.scenario`) once
  and write its frames (requests, lifecycle, alarms, faults, meters, bill, clients, summary)
  as CSV or Parquet, with the scenario as run, into ``DIR`` -- atomically, and never over a
  non-empty ``DIR`` without ``--force``; print the summary.
* ``dosim sweep SCENARIO.yaml --param PATH=V1,V2 ... --reps N --workers K`` -- replicate the
  scenario at every combination of the values; print each metric's mean and 95 % interval
  per point, and with ``--out DIR`` write them and every run.
* ``dosim demo [--out DIR] [--seed N]`` -- run the built-in scenario (:mod:`dosim.demo`):
  print its summary table, write ``summary.csv`` and two PNG plots into ``DIR``.
* ``dosim config [--markdown]`` -- print every runtime constant with its unit, default and
  source, as the Markdown table kept in ``data/config.md``.

PATHs are dotted paths into the scenario file (``workload.arrivals.rate_per_s``,
``config.uniqueness_check_ms``); values are read as YAML (``100``, ``true``, ``kv``).

:func:`main` returns the exit status instead of exiting, so tests and notebooks can call it:
0 on success, 2 for bad input (an unknown option, a scenario field with a bad value,
``--out`` naming a file ...), 1 when the work itself fails (a directory that cannot be
written, a model that raises ...). Every error is one line on standard error that names
what was wrong -- one line per problem, for a scenario with several.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ['main']

USAGE_ERROR = 2
FAILURE = 1


class _UsageError(Exception):
    """Bad input, reported as one line by :func:`main` (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with a pointer to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog='dosim',
        description='Simulate Cloudflare Durable Objects: run scenario files, sweep their '
                    'parameters, run the demo, inspect the model.',
        epilog="Run 'dosim <command> --help' for a command's options.",
    )
    parser.add_argument('--version', action='version', version=f'dosim {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='<command>', parser_class=_Parser)
    _add_run(commands)
    _add_sweep(commands)

    demo = commands.add_parser(
        'demo',
        help='run the built-in counter scenario; print a summary, write CSV and plots',
        description=(
            'Run the built-in scenario: 20 safe counters and 20 racy counters (which sleep '
            'between read and write) under Poisson clients for 10 simulated seconds. Prints '
            'a summary table and writes summary.csv, latency_cdf.png and latency_breakdown.png '
            'into the output directory.'
        ),
    )
    demo.add_argument(
        '--out', metavar='DIR', default='out', type=Path,
        help='directory for the CSV and PNG files; made if missing (default: %(default)s)',
    )
    demo.add_argument(
        '--seed', metavar='N', default=0, type=int,
        help='random seed; the same seed gives the same results (default: %(default)s)',
    )
    demo.set_defaults(handler=_demo)

    config = commands.add_parser(
        'config',
        help='print every runtime constant with its unit, default and source',
        description='Print dosim.Config: every constant, its unit, default and source.',
    )
    config.add_argument(
        '--markdown', action='store_true', default=True,
        help='print a Markdown table (the default, and for now the only form)',
    )
    config.set_defaults(handler=_config)

    native = commands.add_parser(
        'native', help="compile the runtime's hot modules with mypyc, or say how they run",
        description=('build: compile the modules in dosim.native.MODULES next to their '
                     'sources with mypyc (needs a C compiler; make does it). status (the '
                     'default): say whether dosim runs them compiled, or from source and why.'),
    )
    native.add_argument('action', choices=('build', 'status'), nargs='?', default='status')
    native.add_argument('-v', '--verbose', action='store_true',
                        help="show the compiler's output")
    native.set_defaults(handler=_native)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'a whole number >= 1, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'a whole number >= 1, got {text!r}')
    return value


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f'a number of simulated ms > 0, got {text!r}')
    return value


def _scenario_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument('scenario', metavar='SCENARIO.yaml', type=Path,
                     help='the scenario file (see data/scenarios/ for examples)')
    cmd.add_argument('--set', metavar='PATH=VALUE', action='append', default=[],
                     dest='values', help='change one value of the scenario, e.g. '
                     '--set config.uniqueness_check_ms=0 (repeatable)')
    cmd.add_argument('--duration', metavar='MS', type=_duration,
                     help="shorthand for --set duration_ms=MS (the workload's length)")
    cmd.add_argument('--seed', metavar='N', type=int,
                     help="base random seed (default: the scenario's seed)")
    cmd.add_argument('--format', choices=('csv', 'parquet'), default='csv', dest='fmt',
                     help='file format of the frames (default: %(default)s; parquet needs '
                     "pyarrow: pip install 'dosim[parquet]')")
    cmd.add_argument('--force', action='store_true',
                     help='replace --out DIR even if it exists and is not empty')
    cmd.add_argument('--workers', metavar='K', type=_positive, default=1,
                     help='run replications on K processes (default: %(default)s, '
                     'one after the other)')


def _add_run(commands: Any) -> None:
    cmd = commands.add_parser(
        'run', help='run a scenario file once; write its frames and summary',
        description=(
            'Run a scenario file once with its seed and write every frame (requests, '
            'lifecycle, alarms, faults, meters, bill, clients, summary) and the scenario as '
            'run into DIR, atomically. The summary (one row per namespace and one for all, '
            'warm-up left out) is printed. With --reps N > 1 (or replications in the file) '
            'N more runs give each metric a mean and 95% interval (replications frame).'),
        epilog='Example: dosim run data/scenarios/hot_counter.yaml --out out/hot '
               '--set workload.arrivals.rate_per_s=800',
    )
    _scenario_options(cmd)
    cmd.add_argument('--out', metavar='DIR', type=Path, required=True,
                     help='directory to write; refused if it exists and is not empty, '
                     'unless --force')
    cmd.add_argument('--reps', metavar='N', type=_positive,
                     help="replications for the interval (default: the scenario's)")
    cmd.set_defaults(handler=_run)


def _add_sweep(commands: Any) -> None:
    cmd = commands.add_parser(
        'sweep', help='replicate a scenario over a grid of values; print means and CIs',
        description=(
            'Run the scenario N times at every combination of the --param values and print '
            'each metric\'s mean with its 95% confidence interval per point. Replication i '
            'has the same seed at every point. With --out DIR, write summary (the table) '
            'and runs (one row per run and metric).'),
        epilog='Example: dosim sweep data/scenarios/hot_counter.yaml '
               '--param workload.arrivals.rate_per_s=200,400,800 --reps 3 --workers 2',
    )
    _scenario_options(cmd)
    cmd.add_argument('--param', metavar='PATH=V1,V2', action='append', required=True,
                     dest='grid', help='a dotted path and the values to sweep it over '
                     '(repeatable: every combination runs)')
    cmd.add_argument('--reps', metavar='N', type=_positive,
                     help="replications per point (default: the scenario's)")
    cmd.add_argument('--metrics', metavar='M1,M2', default=','.join(SWEEP_METRICS),
                     help='metrics to print, or "all" (default: %(default)s)')
    cmd.add_argument('--out', metavar='DIR', type=Path,
                     help='also write the table and every run into DIR')
    cmd.add_argument('--no-progress', action='store_false', dest='progress', default=None,
                     help='no progress bar (by default one appears after a few seconds)')
    cmd.set_defaults(handler=_sweep)


def _demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise _UsageError(f"--out {str(out)!r} is a file, not a directory")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise _UsageError(f"--out {str(out)!r}: {str(parent)!r} is a file, not a directory")

    if 'matplotlib.pyplot' not in sys.modules:  # a session already plotting keeps its backend
        import matplotlib

        matplotlib.use('Agg')  # a command line has no screen to draw on: render off screen

    from . import demo

    summary = demo.run_demo(out, seed=args.seed)
    print(
        f'dosim demo: {demo.OBJECTS} counters per variant, Poisson clients at '
        f'{demo.RATE_PER_S:g} req/s per variant for {demo.DURATION_MS / 1000:g} simulated s '
        f'(seed {args.seed})\n'
    )
    print(demo.format_summary(summary))
    lost = int(summary.at['racy', 'lost_updates'])
    print(
        f'\nThe racy counter lost {lost} update{"s" * (lost != 1)}: its sleep opens the input '
        'gate between the read and the write.'
    )
    names = ', '.join(str(out / n) for n in ('summary.csv', 'latency_cdf.png',
                                            'latency_breakdown.png'))
    print(f'wrote {names}')
    return 0


SWEEP_METRICS = ('throughput_per_s', 'error_rate', 'p50_ms', 'p99_ms', 'monthly_usd')


def _load(args: argparse.Namespace) -> Any:
    """The scenario of *args* with its --set and --duration values (ScenarioError if bad)."""
    from .scenario import load
    from .scenario.errors import ScenarioError, SpecError
    from .scenario.paths import parse_assignment, parse_value

    values = {}
    try:
        for text in args.values:
            path, value = parse_assignment(text)
            values[path] = parse_value(value)
    except SpecError as exc:
        raise ScenarioError.of(exc, ('--set',)) from None
    if args.duration is not None:
        values['duration_ms'] = args.duration
    return load(args.scenario, values)


def _executor(workers: int) -> dict[str, Any]:
    return {'executor': 'processes', 'workers': workers} if workers > 1 else {}


def _run(args: argparse.Namespace) -> int:
    from .scenario import replicate, run, write_frames
    from .scenario.output import check_target

    scenario = _load(args)
    check_target(args.out, args.fmt, args.force)
    try:
        result = run(scenario, args.seed)
    except Exception as exc:   # the model raised: a failed run, not bad input
        raise RuntimeError(f'the run of {scenario.name!r} failed: '
                           f'{type(exc).__name__}: {exc}') from exc
    frames = dict(result.frames)
    reps = args.reps or scenario.spec.replications
    if reps > 1:
        from .experiment import summarize

        runs = replicate(scenario, reps, args.seed, progress=None, **_executor(args.workers))
        frames['replications'] = summarize(runs)
    written = write_frames(frames, args.out, args.fmt, args.force,
                           texts={'scenario.yaml': scenario.to_yaml()})
    spec = scenario.spec
    print(f'dosim run: {scenario.name!r}, seed {result.seed}, '
          f'{spec.duration_ms / 1000:g} simulated s (summary without the first '
          f'{spec.warmup_ms / 1000:g} s)\n')
    print(result.summary.to_string(index=False, float_format=_number, na_rep='-'))
    if 'replications' in frames:
        print(f'\nover {reps} replications (mean and 95% interval):\n')
        print(_table(frames['replications'], [], list(SWEEP_METRICS)))
    print(f'\nwrote {len(written)} files into {args.out}')
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .experiment import summarize
    from .scenario import METRICS, parse_grid, sweep, write_frames
    from .scenario.errors import ScenarioError, SpecError
    from .scenario.output import check_target

    scenario = _load(args)
    try:
        grid = parse_grid(args.grid)
    except SpecError as exc:
        raise ScenarioError.of(exc, ('--param',)) from None
    metrics = list(METRICS) if args.metrics == 'all' else args.metrics.split(',')
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise _UsageError(f'--metrics: unknown metric {unknown[0]!r}; '
                          f'metrics: {", ".join(METRICS)}')
    if args.out is not None:
        check_target(args.out, args.fmt, args.force)
    runs = sweep(scenario, grid, args.reps, args.seed, progress=args.progress,
                 **_executor(args.workers))
    table = summarize(runs)
    print(_table(table, list(grid), metrics))
    if args.out is not None:
        written = write_frames({'summary': table, 'runs': runs}, args.out, args.fmt,
                               args.force, texts={'scenario.yaml': scenario.to_yaml()})
        print(f'\nwrote {len(written)} files into {args.out}')
    return 0


def _number(value: float) -> str:
    return f'{value:.4g}'


def _table(summary: Any, params: list[str], metrics: list[str]) -> str:
    """The summary as text: one row per point and metric, mean ± half-width of the 95 %
    interval (blank with one run)."""
    rows = summary[summary['metric'].isin(metrics)].copy()
    rows['metric'] = rows['metric'].astype('category').cat.set_categories(metrics)
    rows = rows.sort_values(['metric', *params], kind='stable')
    rows['mean'] = rows['mean'].map(_number)
    rows['± 95%'] = rows['half_width'].map(lambda h: '' if h != h else _number(h))
    rows['n'] = rows['n'].astype(int)
    return rows[[*params, 'metric', 'mean', '± 95%', 'n']].to_string(index=False)


def _config(args: argparse.Namespace) -> int:
    from .config import markdown_table

    print(markdown_table(), end='')
    return 0


def _native(args: argparse.Namespace) -> int:
    from . import native

    return native.main(args.action, args.verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version and usage errors end parsing this way
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    if args.command is None:
        print(f'{parser.prog}: error: choose a command: run, sweep, demo, config, native '
              f'(see {parser.prog} --help)', file=sys.stderr)
        return USAGE_ERROR
    where = f'{parser.prog} {args.command}'
    try:
        return args.handler(args)
    except _UsageError as exc:
        print(f'{where}: error: {exc}', file=sys.stderr)
        return USAGE_ERROR
    except ValueError as exc:
        from .scenario import OutputError, ScenarioError

        if not isinstance(exc, (ScenarioError, OutputError)):
            raise
        print(f'{where}: error: {exc}', file=sys.stderr)
        return USAGE_ERROR
    except RuntimeError as exc:   # a run that failed: the experiment names the model and seed
        print(f'{where}: error: {exc}', file=sys.stderr)
        return FAILURE
    except BrokenPipeError:  # pragma: no cover - e.g. `dosim config | head`
        # The reader went away: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILURE
    except OSError as exc:
        target = f' {exc.filename!r}' if exc.filename else ''
        print(f'{where}: error: cannot write{target}: {exc.strerror or exc}', file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        print(f'{where}: interrupted', file=sys.stderr)
        return 130
