"""dosim.edu: exercises whose checks explain what went wrong, with evidence.

Each exercise is a notebook in ``notebooks/exercises/`` with a story, a task and a starter
class that the student edits in the notebook. Its last cell runs::

    dosim.edu.check('lost_update', LikeCounter)

which runs *hidden scenarios* -- small simulations with fixed seeds, some with faults --
against the student's class and returns a :class:`CheckResult`: passed or not, and an
explanation built from the run itself (the request that lost an update, the alarm that ran
twice, the timer that fired late), the rows of the trace that show it, and a figure of the
moment it broke. A check reports; it raises only for a misused call (an unknown exercise, a
class of the wrong kind) or when asked to with ``raise_on_fail=True``.

==================  =================================================  =======================
exercise            the bug to fix                                     the class to write
==================  =================================================  =======================
``lost_update``     an update lost to interleaving at an outbound      a DurableObject
                    fetch (:mod:`~dosim.edu.ex01_lost_update`)
``idempotent_loop`` an agent loop that mails twice after failures and  a :class:`DigestAgentBase`
                    resets, and dies in an outage                       subclass
                    (:mod:`~dosim.edu.ex02_idempotent_loop`)
``timers``          many timers on the single alarm                    a :class:`TimerHost`
                    (:mod:`~dosim.edu.ex03_timers`)                     subclass
``hibernation``     a chat room that never hibernates                  a DurableObject
                    (:mod:`~dosim.edu.ex04_hibernation`)
``sharding``        a hot object over capacity under Zipf traffic      a DurableObject with a
                    (:mod:`~dosim.edu.ex05_sharding`)                  static ``route(video, n)``
``fleet_bill``      an agent fleet pinned in memory                    an ``AgentBase`` subclass
                    (:mod:`~dosim.edu.ex06_fleet_bill`)                (:mod:`dosim.edu.capacity`)
==================  =================================================  =======================
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .mail import DigestAgentBase, LLMError, MailProvider, ProviderBusyError, digest_world
from .report import CheckResult, ExerciseFailedError, Verdict
from .timers import TimerHost

__all__ = [
    'EXERCISES', 'CheckResult', 'DigestAgentBase', 'ExerciseFailedError', 'LLMError',
    'MailProvider', 'ProviderBusyError', 'TimerHost', 'Verdict', 'check', 'digest_world',
]

#: Exercise name -> the module that checks it (a module with ``NAME``, ``TITLE`` and
#: ``check(cls) -> CheckResult``). New exercises add a line here.
EXERCISES: dict[str, str] = {
    'lost_update': 'dosim.edu.ex01_lost_update',
    'idempotent_loop': 'dosim.edu.ex02_idempotent_loop',
    'timers': 'dosim.edu.ex03_timers',
    'hibernation': 'dosim.edu.ex04_hibernation',
    'sharding': 'dosim.edu.ex05_sharding',
    'fleet_bill': 'dosim.edu.ex06_fleet_bill',
}


def check(exercise: str, cls: Any, *, raise_on_fail: bool = False) -> CheckResult:
    """Run the hidden scenarios of *exercise* against the student's class *cls* and return
    a :class:`CheckResult` (Jupyter shows it as a report). With *raise_on_fail*, a failed
    check raises :class:`ExerciseFailedError` instead."""
    if not isinstance(exercise, str) or exercise not in EXERCISES:
        valid = ', '.join(repr(name) for name in EXERCISES)
        raise ValueError(f'check(exercise): unknown exercise {exercise!r}; one of {valid}')
    if not isinstance(raise_on_fail, bool):
        raise TypeError(f'check(raise_on_fail): True or False, got {raise_on_fail!r}')
    result: CheckResult = import_module(EXERCISES[exercise]).check(cls)
    return result.raise_if_failed() if raise_on_fail else result
