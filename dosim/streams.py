"""Seeded random streams, one per component.

Every random draw in a simulation comes from a stream that the :class:`~dosim.Simulation`
owns, never from the global ``random`` or ``numpy`` state. A stream is named after the
component that draws from it (``'ids'``, ``'storage'``, ``'network'``, ``'workload'`` ...),
and its seed is derived from the simulation's seed and that name with SHA-256. So:

* the same seed and the same model give the same draws, run after run, process after process
  (Python's ``hash()`` is salted per process and is never used);
* adding draws to one component does not shift the numbers another component sees.

A stream that is drawn from both one number at a time and many at once (the network's
latency jitter: one message, or a broadcast to a whole room) is a :class:`Uniforms`: the
same numbers as the stream's ``random()``, in the same order, made by NumPy in blocks --
and, for the network, turned into jitters a block at a time.
"""

from __future__ import annotations

import hashlib
import random
from array import array
from collections.abc import Callable, Iterator
from itertools import chain, islice

import numpy as np

__all__ = ['Streams', 'Uniforms']

BLOCK = 4096   # draws a Uniforms makes at a time

#: a function of an array of draws that returns the array of what they stand for, number
#: by number (the network's: a latency jitter per draw)
Transform = Callable[[np.ndarray], np.ndarray]


class Streams:
    """The random streams of one simulation, created on first use."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f'seed must be an int, got {seed!r}')
        self.seed = seed
        self._py: dict[str, random.Random] = {}
        self._np: dict[str, np.random.Generator] = {}
        self._uniforms: dict[str, Uniforms] = {}

    def _derived(self, name: str) -> int:
        digest = hashlib.sha256(f'{self.seed}/{name}'.encode()).digest()
        return int.from_bytes(digest[:16], 'big')

    def get(self, name: str) -> random.Random:
        """The scalar stream *name* (fast single draws: ``random()``, ``uniform()`` ...)."""
        if name in self._uniforms:
            raise ValueError(f'stream {name!r} is taken: it is drawn from as uniforms() (the '
                             "network's latencies use 'network'), and get() would repeat its "
                             'numbers; use another name')
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

    def uniforms(self, name: str, transform: Transform | None = None) -> Uniforms:
        """The scalar stream *name*'s ``random()`` draws, one or many at a time, each
        mapped by *transform* if given (:class:`Uniforms`). A stream is drawn from either
        this way or with :meth:`get`, and always with the transform it was first made with."""
        found = self._uniforms.get(name)
        if found is None:
            if name in self._py:
                raise ValueError(f'stream {name!r} is taken: it is drawn from with get(), '
                                 'and uniforms() would repeat its numbers')
            found = self._uniforms[name] = Uniforms(random.Random(self._derived(name)),
                                                    transform)
        elif transform is not found.transform:
            raise ValueError(f'stream {name!r} is taken: it is drawn from as uniforms() '
                             f'with transform {found.transform!r}')
        return found


class Uniforms:
    """The ``random()`` draws of a scalar stream, the same numbers in the same order, made
    by NumPy in blocks of :data:`BLOCK`.

    Python's ``random.Random`` and NumPy's legacy ``RandomState`` are the same Mersenne
    Twister and build a double from two of its words the same way, so a ``RandomState``
    given the ``Random``'s state draws the very same numbers. :attr:`draw` takes the next one
    (as fast as ``random()``: it is the ``__next__`` of an iterator over the block), and
    :meth:`take` the next *k* as an array, by slicing the block -- at C speed, so that a
    broadcast to 99 clients makes its 99 draws at once. Either way the stream moves on by
    exactly the numbers taken.

    With a *transform*, each block is mapped by it as it is made, and both ways hand out
    what the draws stand for instead: the network's stream gives latency jitters, each
    computed once, in a few array operations for four thousand of them, where one message
    would spend a handful of Python operations on its own.
    """

    __slots__ = ('_array', '_draws', '_it', '_state', 'draw', 'transform')

    def __init__(self, rng: random.Random, transform: Transform | None = None) -> None:
        self.transform = transform
        _, words, _ = rng.getstate()
        self._state = np.random.RandomState()
        self._state.set_state(('MT19937', np.array(words[:-1], dtype=np.uint32), words[-1]))
        self._array: np.ndarray = np.empty(0)
        self._it: Iterator[float] = iter(())
        self._draws = chain.from_iterable(self._blocks())
        self.draw = self._draws.__next__

    def _blocks(self) -> Iterator[Iterator[float]]:
        while True:
            block = self._state.random_sample(BLOCK)
            self._array = block if self.transform is None else self.transform(block)
            self._array.flags.writeable = False
            # draw() makes each float as it is drawn (a broadcast takes most of the block
            # as an array and needs none), from a copy it can iterate at C speed
            doubles = array('d')
            doubles.frombytes(memoryview(self._array).cast('B'))
            self._it = iter(doubles)
            yield self._it

    def take(self, k: int) -> np.ndarray:
        """The next *k* draws, as a read-only array."""
        state = self._it.__reduce__()   # (iter, (doubles,), position), or (iter, ((),))
        at = state[2] if len(state) == 3 else len(self._array)   # once exhausted
        left = len(self._array) - at
        if k <= left:
            self._it.__setstate__(at + k)
            return self._array[at:at + k]
        head = self._array[at:]
        self._it.__setstate__(len(self._array))
        rest = k - left   # (the next block's, already transformed)
        out = np.concatenate([head, np.fromiter(islice(self._draws, rest), float, rest)])
        out.flags.writeable = False
        return out
