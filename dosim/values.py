"""Stored values: copying them, and measuring them against the size limits.

Storage keeps a *copy* of what was put, and ``get`` hands out a copy: mutating a dict after
``put`` does not change what is stored, exactly as with the structured clone the runtime uses.
Immutable values (``None``, bools, numbers, strings, bytes) need no copy; anything else is
kept pickled, which both copies it and refuses what cannot be serialised (functions, locks,
open files ...), as structured clone does.

Sizes follow V8's serialiser, which Cloudflare measures values with, for the types where it
is simple: a version header of 2 bytes, a tag byte, a varint length, then the payload (one byte
per character for Latin-1 strings; two for the rest, after a padding byte if needed to start
at an even offset). These sizes reproduce the limits measured in workerd byte for byte
(``data/workerd_observations.md`` §1-2). For other values the pickled size is
used: an approximation, stated in ``data/config.md``.
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ['Blob', 'clone_in', 'clone_out', 'key_bytes', 'value_bytes']

_IMMUTABLE = (type(None), bool, int, float, str, bytes)


class Blob:
    """A stored value kept pickled (``data``), with its size (``size``)."""

    __slots__ = ('data', 'size')

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)


def clone_in(value: Any, where: str) -> Any:
    """The form in which *value* is stored; a :class:`TypeError` names *where* if it cannot
    be serialised."""
    if type(value) in _IMMUTABLE:
        return value
    try:
        return Blob(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        raise TypeError(
            f'{where}: value of type {type(value).__name__} could not be cloned ({exc})'
        ) from None


def clone_out(stored: Any) -> Any:
    """A fresh copy of a stored value for the caller."""
    if type(stored) is Blob:
        return pickle.loads(stored.data)
    return stored


def _varint(n: int) -> int:
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def value_bytes(stored: Any) -> int:
    """The serialised size of a stored value, as V8 would count it (see module docstring)."""
    kind = type(stored)
    if kind is str:
        try:
            payload = len(stored.encode('latin-1'))
        except UnicodeEncodeError:  # a two-byte string, its data aligned to an even offset
            payload = len(stored.encode('utf-16-le'))
            head = 3 + _varint(payload)
            return head + (head & 1) + payload
        return 3 + _varint(payload) + payload
    if kind is Blob:
        return stored.size
    if kind is bytes:
        return 3 + _varint(len(stored)) + len(stored)
    if stored is None or kind is bool:
        return 3
    if kind is int and -(2**30) <= stored < 2**30:
        return 3 + _varint(abs(stored) * 2)
    return 11  # a double: tag + 8 bytes


def key_bytes(key: str) -> int:
    """The size of a key: its UTF-8 bytes."""
    return len(key.encode('utf-8'))
