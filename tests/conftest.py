"""Shared fixtures: a fresh simulation, and a helper that fires requests at one object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import dosim

#: Most tests assert exact times, so they switch off what makes times irregular: network
#: jitter and the one-time worldwide uniqueness check of name-derived ids. The tests of those
#: two features (and of determinism) use the default, realistic Config.
QUIET = dosim.Config(jitter_scale_ms=0.0, uniqueness_check_ms=0.0)


def make_sim(seed: int = 1, **overrides: Any) -> dosim.Simulation:
    """A simulation with the QUIET config, changed by *overrides*."""
    return dosim.Simulation(seed=seed, config=QUIET.replace(**overrides))


@pytest.fixture
def sim() -> dosim.Simulation:
    return make_sim()


def fire(sim: dosim.Simulation, calls: list[tuple[float, Callable[[], Any]]]) -> list[Any]:
    """Start each ``make_call()`` at its time; return outcomes in order: the event's value,
    or the exception it failed with. Runs the simulation until everything is answered."""
    results: list[Any] = [None] * len(calls)

    def one(i: int, at: float, make_call: Callable[[], Any]) -> Any:
        if at:
            yield sim.timeout(at)
        try:
            results[i] = yield make_call()
        except dosim.DurableObjectError as exc:
            results[i] = exc

    procs = [sim.process(one(i, at, mk)) for i, (at, mk) in enumerate(calls)]
    sim.run(until=sim.env.all_of(procs))
    return results


def texts(results: list[Any]) -> list[Any]:
    """Response texts, or error messages for failed calls."""
    return [r.message if isinstance(r, dosim.DurableObjectError) else r.text for r in results]


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Plots drawn without an ``ax`` open pyplot figures, as they should in a notebook; a test
    closes them when it ends, so a long run holds no more than one test's figures."""
    yield
    import sys

    if 'matplotlib.pyplot' in sys.modules:
        sys.modules['matplotlib.pyplot'].close('all')
