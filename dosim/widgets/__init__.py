"""Explorers: controls that rerun a seeded simulation and redraw it, in Jupyter.

Each factory returns an :class:`Explorer`; end a notebook cell with it to show its controls
on top and, below them, the plot and a line of headline numbers::

    from dosim import widgets
    ex = widgets.alarm_loop()               # runs once, with the default values
    ex                                      # shows itself in Jupyter
    ex.controls['interval_s'].value = 30    # reruns the seeded simulation and redraws
    ex.set(policy='rethrow', failure_rate=0.5)   # several at once: one run
    ex.sim, ex.figure, ex.summary, ex.runs

==============================  ===========================================================
explorer                         what it teaches
==============================  ===========================================================
:func:`alarm_loop`               an agent loop on its alarm: period = interval + cycle;
                                 swallow or rethrow a failed cycle
:func:`retry_backoff`            the alarm retry backoff: 2, 4, 8 ... s plus jitter, and
                                 abandonment after 6 retries
:func:`hibernation`              what a WebSocket room is billed for: hibernatable and
                                 standard sockets, idle gaps, the auto-response
:func:`gates`                    the input gate: which waits between a read and a write lose
                                 updates under concurrency
:func:`object_latency`           latency between objects: placement, location hints, fan-out
:func:`failure_scenarios`        one fault of :mod:`dosim.faults`, at a time you pick
==============================  ===========================================================

Every factory takes the controls' initial values as keywords (unknown names and bad values
are refused with an error naming them), ``seed=0`` and ``debounce_s=0.25``. The same values
and seed always give the same run. Each update runs a small simulation and draws it in well
under a second.

Debouncing: sliders report a value when you let go of them. In a Jupyter kernel (where an
asyncio event loop is running) a change also waits ``debounce_s`` seconds for more changes,
so that several quick changes cost one run; in plain Python it applies at once. Reading
``ex.sim``, ``ex.figure`` or ``ex.summary`` applies a waiting change first.
"""

from __future__ import annotations

from ._explorer import Explorer
from .alarms import alarm_loop, retry_backoff
from .failures import failure_scenarios
from .gates import gates
from .hibernation import hibernation
from .latency import object_latency

__all__ = [
    'Explorer', 'alarm_loop', 'retry_backoff', 'hibernation', 'gates', 'object_latency',
    'failure_scenarios',
]
