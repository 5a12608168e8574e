"""Soak: the property test of ``tests/test_properties.py`` for minutes, over fresh seeds.

Each round asks hypothesis for a batch of fresh random scenarios (models, workloads, fault
schedules; not derandomized, no example database), runs each twice through
:func:`tests.test_properties.run_example` and keeps every violation of
:func:`dosim.check.check`, every replay mismatch and every crash, with the scenario that
caused it. When the time is up it writes a Markdown report, atomically (a temporary file
renamed over the old one), so a reader never sees half a report.

    python bench/soak.py --minutes 20 --out out/soak.md     # what `make soak` runs
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from tests.test_properties import Scenario, run_example, scenarios  # noqa: E402

ROUND = 50   # examples per hypothesis round


class Tally:
    """What the soak saw."""

    def __init__(self) -> None:
        self.examples = 0
        self.requests = 0
        self.faults: collections.Counter[str] = collections.Counter()
        self.violations: collections.Counter[str] = collections.Counter()
        self.findings: list[tuple[str, str, Scenario]] = []   # (kind, detail, scenario)

    def run(self, s: Scenario) -> None:
        self.examples += 1
        try:
            sim, violations = run_example(s)
        except AssertionError as exc:       # the two runs differ
            self._found('replay', str(exc).splitlines()[0], s)
            return
        except Exception:                   # the simulator itself failed
            self._found('crash', traceback.format_exc(limit=3).strip().splitlines()[-1], s)
            return
        self.requests += len(sim.trace.requests)
        self.faults.update(sim.trace.faults['kind'])
        for inv, detail in zip(violations['invariant'], violations['detail'], strict=True):
            self._found(inv, detail, s)

    def _found(self, kind: str, detail: str, s: Scenario) -> None:
        self.violations[kind] += 1
        if sum(1 for k, _, _ in self.findings if k == kind) < 5:   # a few examples each
            self.findings.append((kind, detail, s))


def soak(minutes: float) -> tuple[Tally, float]:
    tally = Tally()
    deadline = time.monotonic() + minutes * 60
    start = time.monotonic()

    @settings(max_examples=ROUND, deadline=None, derandomize=False, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(scenarios)
    def one_round(s: Scenario) -> None:
        if time.monotonic() < deadline:
            tally.run(s)

    while time.monotonic() < deadline:
        one_round()
    return tally, time.monotonic() - start


def report(t: Tally, seconds: float, minutes: float) -> str:
    lines = [
        '# dosim soak report',
        '',
        f'Ran the property test of `tests/test_properties.py` for {seconds / 60:.1f} min '
        f'(asked: {minutes:g}) over fresh random scenarios.',
        '',
        '| measure | count |',
        '|---|---|',
        f'| examples (each run twice) | {t.examples} |',
        f'| requests answered (first runs) | {t.requests} |',
        f'| faults injected (first runs) | {sum(t.faults.values())} |',
        f'| violations, replay mismatches and crashes | {sum(t.violations.values())} |',
        '',
        '## Faults injected, by kind',
        '',
        '| kind | count |',
        '|---|---|',
        *(f'| {k} | {n} |' for k, n in sorted(t.faults.items())),
        '',
        '## Violations, by invariant',
        '',
    ]
    if not t.violations:
        lines.append('None: every invariant held in every example, and every example replayed '
                     'identically.')
    else:
        lines += ['| invariant | count |', '|---|---|',
                  *(f'| {k} | {n} |' for k, n in sorted(t.violations.items())), '',
                  '## Examples (at most 5 per invariant)', '']
        for kind, detail, s in t.findings:
            lines += [f'- **{kind}**: {detail}', '', '  ```python', f'  {s!r}', '  ```', '']
    return '\n'.join(lines) + '\n'


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=20.0)
    parser.add_argument('--out', type=Path, default=ROOT / 'out' / 'soak.md')
    args = parser.parse_args(argv)
    tally, seconds = soak(args.minutes)
    write_atomically(args.out, report(tally, seconds, args.minutes))
    print(f'{tally.examples} examples, {sum(tally.faults.values())} faults, '
          f'{sum(tally.violations.values())} violations -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
