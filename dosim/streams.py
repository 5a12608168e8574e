"""Seeded random streams, one per component.

Every random draw in a simulation comes from a stream that the :class:`~dosim.Simulation`
owns, never from the global ``random`` or ``numpy`` state. A stream is named after the
component that draws from it (``'ids'``, ``'storage'``, ``'network'``, ``'workload'`` ...),
and its seed is derived from the simulation's seed and that name with SHA-256. So:

* the same seed and the same model give the same draws, run after run, process after process
  (Python's ``hash()`` is salted per process and is never used);
* adding draws to one component does not shift the numbers another component sees.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

__all__ = ['Streams']


class Streams:
    """The random streams of one simulation, created on first use."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f'seed must be an int, got {seed!r}')
        self.seed = seed
        self._py: dict[str, random.Random] = {}
        self._np: dict[str, np.random.Generator] = {}

    def _derived(self, name: str) -> int:
        digest = hashlib.sha256(f'{self.seed}/{name}'.encode()).digest()
        return int.from_bytes(digest[:16], 'big')

    def get(self, name: str) -> random.Random:
        """The scalar stream *name* (fast single draws: ``random()``, ``uniform()`` ...)."""
        stream = self._py.get(name)
        if stream is None:
            stream = self._py[name] = random.Random(self._derived(name))
        return stream

    def numpy(self, name: str) -> np.random.Generator:
        """The NumPy stream *name*, for vectorised draws (independent of :meth:`get`)."""
        gen = self._np.get(name)
        if gen is None:
            gen = self._np[name] = np.random.default_rng(self._derived('numpy/' + name))
        return gen
