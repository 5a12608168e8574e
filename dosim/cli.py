"""The ``dosim`` command line: ``dosim <command> [options]``, or ``python -m dosim ...``.

Commands:

* ``dosim demo [--out DIR] [--seed N]`` -- run the built-in scenario (:mod:`dosim.demo`):
  print its summary table, write ``summary.csv`` and two PNG plots into ``DIR``.
* ``dosim config [--markdown]`` -- print every runtime constant with its unit, default and
  source, as the Markdown table kept in ``data/config.md``.

:func:`main` returns the exit status instead of exiting, so tests and notebooks can call it:
0 on success, 2 for bad input (an unknown option, ``--out`` naming a file ...), 1 when the
work itself fails (a directory that cannot be written ...). Every error is one line on
standard error that names what was wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

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
        description='Simulate Cloudflare Durable Objects: run the demo, inspect the model.',
        epilog="Run 'dosim <command> --help' for a command's options.",
    )
    parser.add_argument('--version', action='version', version=f'dosim {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='<command>', parser_class=_Parser)

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
    return parser


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


def _config(args: argparse.Namespace) -> int:
    from .config import markdown_table

    print(markdown_table(), end='')
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version and usage errors end parsing this way
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    if args.command is None:
        print(f'{parser.prog}: error: choose a command: demo, config '
              f'(see {parser.prog} --help)', file=sys.stderr)
        return USAGE_ERROR
    where = f'{parser.prog} {args.command}'
    try:
        return args.handler(args)
    except _UsageError as exc:
        print(f'{where}: error: {exc}', file=sys.stderr)
        return USAGE_ERROR
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
