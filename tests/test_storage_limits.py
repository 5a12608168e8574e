"""Storage limits and their messages, as the real runtime enforces them.

KV-backed objects: keys up to 2,048 UTF-8 bytes; values up to 131,072 bytes of V8-serialized
size, refused only past 131,106 (workerd allows 34 bytes of serialisation overhead); at most
128 keys per get/put/delete. SQLite-backed objects: key + serialized value + a 6-byte row
header up to 2,200,000 bytes. The boundaries below were measured in workerd
(``data/workerd_observations.md`` §1-2): an ASCII string of n characters serializes to n + 6
bytes, a two-byte string to 2n + 6 (plus a padding byte when its length varint is 4 bytes).
"""

from __future__ import annotations

import pytest

import dosim
from tests.conftest import fire


def attempt(sim, storage, action):
    """Run ``action(ctx.storage)`` in a fresh object; return 'ok' or the error text."""

    class Probe(dosim.DurableObject):
        def fetch(self, request):
            try:
                action(self.ctx.storage)
            except (dosim.StorageLimitError, TypeError) as exc:
                return dosim.Response(f'{type(exc).__name__}: {exc}')
            return dosim.Response('ok')

    ns = sim.namespace(f'P{len(sim.namespaces)}', Probe, storage=storage)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('p').fetch('https://do/'))])
    return out.text


@pytest.mark.parametrize(('storage', 'key', 'expected'), [
    ('kv', 'k' * 2048, 'ok'),
    ('kv', 'k' * 2049,
     'StorageLimitError: Keys cannot be larger than 2048 bytes. A key of size 2049 was provided.'),
    ('kv', 'é' * 1025,   # 2,050 UTF-8 bytes
     'StorageLimitError: Keys cannot be larger than 2048 bytes. A key of size 2050 was provided.'),
    ('sqlite', 'k' * 3000, 'ok'),   # no key limit of its own on SQLite
])
def test_key_size_limits(sim, storage, key, expected):
    assert attempt(sim, storage, lambda st: st.put(key, 1)) == expected


@pytest.mark.parametrize(('value', 'expected'), [
    ('x' * 131_100, 'ok'),
    ('x' * 131_101, 'StorageLimitError: Values cannot be larger than 131072 bytes. '
                    'A value of size 131107 was provided.'),
    ('é' * 131_100, 'ok'),            # Latin-1: one byte per character
    ('一' * 65_550, 'ok'),
    ('一' * 65_551, 'StorageLimitError: Values cannot be larger than 131072 bytes. '
                   'A value of size 131108 was provided.'),
])
def test_kv_value_limit_at_the_measured_boundary(sim, value, expected):
    assert attempt(sim, 'kv', lambda st: st.put('v', value)) == expected


@pytest.mark.parametrize(('key', 'value', 'expected'), [
    ('a', 'x' * 2_199_986, 'ok'),
    ('a', 'x' * 2_199_987, 'StorageLimitError: string or blob too big: SQLITE_TOOBIG'),
    ('k' * 10, 'x' * 2_199_977, 'ok'),
    ('k' * 10, 'x' * 2_199_978, 'StorageLimitError: string or blob too big: SQLITE_TOOBIG'),
    ('a', '一' * 1_099_992, 'ok'),
    ('a', '一' * 1_099_993, 'StorageLimitError: string or blob too big: SQLITE_TOOBIG'),
    ('k' * 2_199_990, 1, 'ok'),
    ('k' * 2_199_991, 1, 'StorageLimitError: string or blob too big: SQLITE_TOOBIG'),
])
def test_sqlite_row_limit_at_the_measured_boundary(sim, key, value, expected):
    assert attempt(sim, 'sqlite', lambda st: st.put(key, value)) == expected


@pytest.mark.parametrize('op', ['get', 'delete', 'put'])
def test_at_most_128_keys_per_call(sim, op):
    def call(n):
        keys = [f'k{i}' for i in range(n)]
        return lambda st: getattr(st, op)(dict.fromkeys(keys, 1) if op == 'put' else keys)

    assert attempt(sim, 'kv', call(128)) == 'ok'
    assert attempt(sim, 'kv', call(129)) == (
        'StorageLimitError: Maximum number of key value pairs is 128. 129 pairs were provided.'
    )


@pytest.mark.parametrize(('options', 'expected'), [
    ({'start': 'a', 'start_after': 'a'},
     'TypeError: list() cannot be called with both start and startAfter values.'),
    ({'limit': 0}, 'TypeError: List limit must be positive.'),
    ({'limit': -1}, 'TypeError: List limit must be positive.'),
    ({'limit': 1.5}, 'ok'),   # truncated, as in workerd
])
def test_list_option_errors(sim, options, expected):
    assert attempt(sim, 'sqlite', lambda st: st.list(**options)) == expected


def test_none_cannot_be_stored(sim):
    assert attempt(sim, 'sqlite', lambda st: st.put('k', None)) == (
        "TypeError: storage.put('k'): the value is None, which would read back as missing; "
        'use delete()'
    )
