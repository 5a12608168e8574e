"""The conformance session: install Miniflare, run every scenario in workerd once, and write
``docs/conformance.md`` after the comparisons.

The workerd side runs all scenarios in one Node process (``driver.mjs``, a few Miniflare
instances at a time), once per session; each test then runs its scenario in dosim and compares.
Without Node and npm the tests are skipped, saying what is missing -- unless ``CI=true``, where
that fails the session.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from typing import Any

import pytest

from . import node, report
from .scenario import SCENARIOS, load_all

NODE_TIMEOUT_S = 220
ROWS: dict[str, report.Row] = {}
META: dict[str, str] = {}


@pytest.fixture(scope='session')
def workerd_results() -> dict[str, Any]:
    """``{'scenarios': {name: {'observations': [...], 'error'?: str}}, ...}`` from workerd."""
    try:
        setup = node.ensure()
    except node.NodeMissingError as exc:
        message = f'conformance suite needs Node.js: {exc}'
        if os.environ.get('CI', '').lower() == 'true':
            pytest.exit(message, returncode=1)
        pytest.skip(message)
    out = setup.cache / 'workerd-results.json'
    out.unlink(missing_ok=True)
    dirs = [str(s.path) for s in load_all()]
    started = time.monotonic()
    proc = subprocess.run(
        [setup.node, str(node.HERE / 'driver.mjs'), str(out), *dirs],
        capture_output=True, text=True, timeout=NODE_TIMEOUT_S, cwd=node.HERE,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0 or not out.is_file():
        pytest.fail(f'driver.mjs failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}',
                    pytrace=False)
    results = json.loads(out.read_text())
    META.update(
        when=dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC'),
        miniflare=results['miniflare'], compatibilityDate=results['compatibilityDate'],
        node=results['node'], wall=f'{wall:.0f} s',
    )
    return results


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    names = {p.name for p in SCENARIOS.iterdir() if (p / 'steps.json').is_file()}
    if ROWS and set(ROWS) == names:
        report.write_atomic(report.DOC, report.render(list(ROWS.values()), META))
