"""Each scenario, run in workerd (through Miniflare) and in dosim, must be observed alike.

See :mod:`tests.conformance.scenario` for the scenario format and the comparison rules, and
``docs/conformance.md`` for the last run's table. A scenario where dosim and workerd disagree
fails here -- unless local workerd is known to differ from production (``production_differs``
in its ``expect.json``), in which case only what is meaningful is compared.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import pytest

from . import dosim_driver
from .conftest import ROWS
from .report import Row
from .scenario import Scenario, compare, load_all

pytestmark = pytest.mark.slow

SCENARIO_LIST = load_all()


def _what(s: Scenario) -> str:
    """What the comparison covers, in a few words."""
    ops: dict[str, int] = {}
    for step in s.steps:
        ops[step['op']] = ops.get(step['op'], 0) + 1
    parts = [', '.join(f'{n} {op}' for op, n in ops.items())]
    if s.expect.get('ranges'):
        parts.append('timings in ranges: ' + ', '.join(
            f'{k} in {v}' for k, v in s.expect['ranges'].items()))
    if s.expect.get('ignore'):
        parts.append('not compared: ' + ', '.join(s.expect['ignore']))
    return '; '.join(parts)


@pytest.mark.parametrize('scenario', SCENARIO_LIST, ids=[s.name for s in SCENARIO_LIST])
def test_scenario(scenario: Scenario, workerd_results: dict[str, Any]) -> None:
    def record(result: str, detail: str = '') -> None:
        ROWS[scenario.name] = Row(scenario.name, scenario.summary, _what(scenario), result,
                                  detail)

    got = workerd_results['scenarios'].get(scenario.name)
    if got is None or got.get('error'):
        record('FAIL', 'workerd side did not run: ' + str(got and got['error'])[:300])
        pytest.fail(f'workerd side failed: {got}', pytrace=False)
    try:
        sim_obs = dosim_driver.run(scenario)
    except Exception:
        trace = traceback.format_exc()
        record('FAIL', 'dosim side raised: ' + trace.strip().splitlines()[-1])
        pytest.fail(f'dosim side raised:\n{trace}', pytrace=False)
    problems = compare(scenario, got['observations'], sim_obs)
    if problems:
        record('FAIL', '; '.join(problems))
        pytest.fail(
            f'{scenario.name}: dosim disagrees with workerd\n  ' + '\n  '.join(problems)
            + '\nworkerd: ' + json.dumps(got['observations'], ensure_ascii=False)[:3000]
            + '\ndosim:   ' + json.dumps(sim_obs, ensure_ascii=False)[:3000],
            pytrace=False,
        )
    if scenario.production_differs:
        record('production_differs', scenario.production_differs)
    else:
        record('pass')
