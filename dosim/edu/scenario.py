"""What every exercise check shares: fresh copies of the student's class, safe runs, times.

A check runs *hidden scenarios*: small simulations with fixed seeds that drive the student's
class the way real traffic would, sometimes with faults. Each scenario gets a fresh subclass
of the student's class (:func:`fresh`), so class attributes set for one scenario never leak
into the next. A scenario that crashes -- the student's code raised where the runtime does not
catch it -- is a failed scenario with the error in its explanation (:func:`run`), never an
exception out of the check: an exercise notebook must run top to bottom with the starter code.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import simpy

from ..config import Config
from ..object import DurableObject
from ..simulation import Simulation
from .report import Verdict

__all__ = [
    'QUIET', 'crashed', 'fmt_ms', 'fmt_s', 'fresh', 'new_sim', 'require_class', 'run',
]

_LIBRARIES = (Path(__file__).resolve().parent.parent, Path(simpy.__file__).resolve().parent)

#: Scenarios whose numbers an explanation quotes exactly switch off network jitter and the
#: one-time uniqueness check of a name's first call (as the test suite's ``make_sim`` does).
QUIET = Config(jitter_scale_ms=0.0, uniqueness_check_ms=0.0)


def new_sim(seed: int, quiet: bool = False) -> Simulation:
    """A simulation for one scenario: the QUIET config, or the realistic default."""
    return Simulation(seed=seed, config=QUIET if quiet else Config())


def require_class(exercise: str, cls: Any, base: type = DurableObject) -> None:
    """Refuse anything but a class derived from *base*, naming what was given."""
    if not isinstance(cls, type):
        raise TypeError(f'check({exercise!r}, cls): cls must be your class itself (not an '
                        f'instance or a string), got {cls!r}')
    if not issubclass(cls, base):
        raise TypeError(f'check({exercise!r}, cls): {cls.__name__} must subclass '
                        f'{base.__module__}.{base.__qualname__}')


def fresh(cls: type, **attributes: Any) -> type:
    """A subclass of *cls* with the same name and these class *attributes*."""
    return type(cls.__name__, (cls,), {'__module__': cls.__module__, **attributes})


def run(sim: Simulation, until: float) -> str | None:
    """Run *sim* until *until* ms; the error text if the student's code broke the run."""
    try:
        sim.run(until=until)
    except Exception as exc:
        frames = []
        cause: BaseException | None = exc
        while cause is not None:   # SimPy re-raises a copy; the original is the cause
            frames += traceback.extract_tb(cause.__traceback__)
            cause = cause.__cause__
        where = next((f for f in reversed(frames) if _theirs(f.filename)), None)
        place = f' (in {where.name}, line {where.lineno})' if where is not None else ''
        return f'{type(exc).__name__}: {exc}{place}'
    return None


def _theirs(filename: str) -> bool:
    """Whether *filename* is the student's code: neither dosim's nor SimPy's."""
    path = Path(filename).resolve()
    return not any(path.is_relative_to(lib) for lib in _LIBRARIES)


def crashed(scenario: str, error: str, sim: Simulation) -> Verdict:
    """The verdict of a scenario the student's code stopped."""
    return Verdict(scenario, False, f'the run stopped: {error}',
                   f'The simulation stopped with an error: `{error}`. Run the experiment in '
                   'the notebook and read the traceback.', sim=sim)


def fmt_ms(ms: float) -> str:
    """A simulated time in milliseconds, for short scenarios: ``12.3 ms``."""
    return f'{ms:,.1f} ms'


def fmt_s(ms: float) -> str:
    """A simulated time in seconds, for long scenarios: ``187.8 s``."""
    return f'{ms / 1000:,.1f} s'

