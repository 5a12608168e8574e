"""Durable Object ids.

An id names one object of one namespace, worldwide. Its string form is 64 hex digits: 32
bytes, built as workerd builds them (``data/workerd_observations.md`` §10). With
``key = SHA-256(namespace key)``:

* the first 16 bytes are ``HMAC-SHA256(key, name)[:16]`` for an id made from a name, or 16
  random bytes for a unique id (drawn from the simulation's ``'ids'`` stream);
* the last 16 bytes are ``HMAC-SHA256(key, first 16 bytes)[:16]``: a check that ties the id
  to its namespace, so ``id_from_string`` refuses an id of another namespace.

So ``id_from_name`` is deterministic: the same name in the same namespace is always the same
id, in every run.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ['DurableObjectId']

_HEX64 = re.compile(r'[0-9a-f]{64}')


_KEYS: dict[str, bytes] = {}   # namespace key -> its SHA-256, computed once


def _key(namespace_key: str) -> bytes:
    key = _KEYS.get(namespace_key)
    if key is None:
        key = _KEYS[namespace_key] = hashlib.sha256(namespace_key.encode()).digest()
    return key


def _mac(namespace_key: str, head: bytes) -> bytes:
    # hmac.digest: the same HMAC-SHA256 as hmac.new(...).digest(), in one C call
    return hmac.digest(_key(namespace_key), head, 'sha256')[:16]


class DurableObjectId:
    """The id of one object. ``str(id)`` gives its 64 hex digits; ``id.name`` the name it
    was made from, or ``None`` for unique ids."""

    __slots__ = ('_hex', 'name', 'namespace_key')

    def __init__(self, hex_id: str, namespace_key: str, name: str | None = None) -> None:
        self._hex = hex_id
        self.namespace_key = namespace_key
        self.name = name

    @classmethod
    def from_name(cls, namespace_key: str, name: str) -> DurableObjectId:
        head = hmac.digest(_key(namespace_key), name.encode(), 'sha256')[:16]
        return cls((head + _mac(namespace_key, head)).hex(), namespace_key, name)

    @classmethod
    def from_random(cls, namespace_key: str, bits: int) -> DurableObjectId:
        head = bits.to_bytes(16, 'big')
        return cls((head + _mac(namespace_key, head)).hex(), namespace_key)

    @classmethod
    def parse(cls, namespace_key: str, text: str) -> DurableObjectId:
        if not isinstance(text, str) or not _HEX64.fullmatch(text):
            raise TypeError('Invalid Durable Object ID: must be 64 hex digits')
        raw = bytes.fromhex(text)
        if not hmac.compare_digest(_mac(namespace_key, raw[:16]), raw[16:]):
            raise TypeError('Durable Object ID is not valid for this namespace.')
        return cls(text, namespace_key)

    @property
    def label(self) -> str:
        """What frames show in their ``object`` column: the name, else 16 hex digits."""
        return self.name if self.name is not None else self._hex[:16]

    def equals(self, other: object) -> bool:
        """``id.equals(other)``, as in the TypeScript API."""
        return self == other

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        extra = f', name={self.name!r}' if self.name is not None else ''
        return f'DurableObjectId({self._hex[:16]}…{extra})'

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DurableObjectId)
            and other._hex == self._hex
            and other.namespace_key == self.namespace_key
        )

    def __hash__(self) -> int:
        return hash(self._hex)
