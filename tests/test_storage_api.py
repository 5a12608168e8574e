"""The storage KV API: get, put, delete and list, one key or many.

Values are copies (structured clone): mutating a dict after ``put`` -- or after ``get`` --
does not change what is stored. A handler reads its own writes at once, before they are
confirmed. Multi-key calls take at most 128 keys and return results in key order.
"""

from __future__ import annotations

import pytest

import dosim
from tests.conftest import fire


def run_in_object(sim, body, storage='sqlite', name='o'):
    """Run ``body(storage)`` (a generator function) as one fetch; return its value."""

    class Probe(dosim.DurableObject):
        def fetch(self, request):
            result = yield from body(self.ctx.storage)
            return dosim.Response(repr(result))

    binding = f'P{len(sim.namespaces)}'
    ns = sim.namespace(binding, Probe, storage=storage)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name(name).fetch('https://do/'))])
    if isinstance(out, dosim.DurableObjectError):
        raise AssertionError(f'{out.error_type}: {out.message}')
    return eval(out.text)


def test_get_put_delete_single_keys(sim):
    def body(st):
        before = yield st.get('a')
        st.put('a', {'x': 1})
        after = yield st.get('a')
        existed = yield st.delete('a')
        again = yield st.delete('a')
        gone = yield st.get('a')
        return before, after, existed, again, gone

    assert run_in_object(sim, body) == (None, {'x': 1}, True, False, None)


def test_multi_key_calls_return_key_order_and_counts(sim):
    def body(st):
        st.put({'b': 2, 'a': 1, 'c': 3})
        got = yield st.get(['c', 'zz', 'a', 'b'])
        deleted = yield st.delete(['a', 'c', 'missing'])
        rest = yield st.list()
        return list(got.items()), deleted, list(rest.items())

    got, deleted, rest = run_in_object(sim, body)
    assert got == [('a', 1), ('b', 2), ('c', 3)]  # sorted, missing key left out
    assert deleted == 2
    assert rest == [('b', 2)]


def test_values_are_copied_on_put_and_on_get(sim):
    def body(st):
        value = {'items': [1]}
        st.put('k', value)
        value['items'].append(2)         # after put: storage keeps the old copy
        first = yield st.get('k')
        first['items'].append(3)         # after get: storage is not changed either
        second = yield st.get('k')
        return second

    assert run_in_object(sim, body) == {'items': [1]}


def test_read_your_writes_before_confirmation(sim):
    """A get right after a put sees the new value, although it is not yet durable."""
    seen = {}

    def body(st):
        st.put('k', 'new')
        seen['read'] = yield st.get('k')
        seen['durable'] = dict(st._store.data)
        return None

    run_in_object(sim, body)
    assert seen == {'read': 'new', 'durable': {}}
    assert sim.storage_of(next(iter(sim.namespaces)), 'o') == {'k': 'new'}


def test_unserialisable_values_are_refused_naming_the_key(sim):
    def body(st):
        st.put('fn', lambda: None)
        yield st.get('fn')

    with pytest.raises(AssertionError, match=r"TypeError: storage.put\('fn'\): value of type func"):
        run_in_object(sim, body)


def test_keys_must_be_strings(sim):
    def body(st):
        yield st.get(7)

    with pytest.raises(AssertionError, match=r'storage.get\(\): keys must be strings, got 7'):
        run_in_object(sim, body)


UNICODE_KEYS = ['a', 'B', 'é', 'z', '一', '😀', 'aa', 'a\x00', 'ab', 'b']


def _fill(st):
    st.put({k: i for i, k in enumerate(UNICODE_KEYS)})


def test_list_orders_keys_by_utf8_bytes(sim):
    def body(st):
        _fill(st)
        got = yield st.list()
        return list(got)

    ordered = run_in_object(sim, body)
    assert ordered == ['B', 'a', 'a\x00', 'aa', 'ab', 'b', 'z', 'é', '一', '😀']
    assert ordered == sorted(UNICODE_KEYS, key=lambda k: k.encode('utf-8'))


@pytest.mark.parametrize(('options', 'expected'), [
    ({'prefix': 'a'}, ['a', 'a\x00', 'aa', 'ab']),
    ({'start': 'aa'}, ['aa', 'ab', 'b', 'z', 'é', '一', '😀']),
    ({'start_after': 'aa'}, ['ab', 'b', 'z', 'é', '一', '😀']),
    ({'end': 'aa'}, ['B', 'a', 'a\x00']),
    ({'start': 'b', 'end': '一'}, ['b', 'z', 'é']),
    ({'limit': 3}, ['B', 'a', 'a\x00']),
    ({'reverse': True, 'limit': 2}, ['😀', '一']),
    ({'reverse': True, 'start': 'b', 'end': '一'}, ['é', 'z', 'b']),
    ({'prefix': 'a', 'reverse': True, 'limit': 2}, ['ab', 'aa']),
    ({'prefix': 'a', 'start_after': 'a\x00'}, ['aa', 'ab']),
    ({'prefix': 'é'}, ['é']),
    ({'prefix': 'q'}, []),
])
def test_list_options_on_unicode_keys(sim, options, expected):
    def body(st):
        _fill(st)
        got = yield st.list(**options)
        return list(got)

    assert run_in_object(sim, body) == expected


def test_list_merges_confirmed_and_unconfirmed_writes(sim):
    """Second request: 'a' and 'c' are durable, 'b' new and 'c' deleted, all unconfirmed."""

    class Lister(dosim.DurableObject):
        def fetch(self, request):
            st = self.ctx.storage
            if request.path == '/seed':
                st.put({'a': 1, 'c': 3})
                return dosim.Response('')
            st.put('b', 2)
            st.delete('c')
            got = yield st.list()
            return dosim.Response(repr(list(got.items())))

    ns = sim.namespace('L', Lister)
    stub = ns.get_by_name('l')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/seed')),
                     (20, lambda: stub.fetch('https://do/list'))])
    assert out[1].text == "[('a', 1), ('b', 2)]"


def test_delete_all_wipes_confirmed_and_pending_data(sim):
    def body(st):
        st.put({'a': 1, 'b': 2})
        yield dosim.sleep(10)           # the batch is confirmed meanwhile
        st.put('c', 3)
        yield st.delete_all()
        st.put('d', 4)
        got = yield st.list()
        return list(got)

    assert run_in_object(sim, body) == ['d']
    assert sim.storage_of(next(iter(sim.namespaces)), 'o') == {'d': 4}


def test_cache_misses_cost_time_and_hits_do_not(sim):
    """A fresh incarnation reads from disk once per key (0.1 ms on SQLite), then from memory."""
    times = []

    def body(st):
        t0 = st._actor.sim.now
        yield st.get('k')
        times.append(st._actor.sim.now - t0)
        yield st.get('k')
        times.append(st._actor.sim.now - t0)
        st.put('w', 1)
        yield st.get('w')
        times.append(st._actor.sim.now - t0)

    run_in_object(sim, body)
    assert times == [pytest.approx(0.1), pytest.approx(0.1), pytest.approx(0.1)]


def test_sync_waits_for_confirmation(sim):
    times = []

    def body(st):
        st.put('k', 1)
        yield st.sync()
        times.append(st._actor.sim.now)
        yield st.sync()   # nothing pending: resolves at once
        times.append(st._actor.sim.now)

    run_in_object(sim, body)
    assert times == [5.0, 5.0]  # arrived at 1, confirmed 4 ms later


def test_billing_counts_rows_on_sqlite_and_units_on_kv(sim):
    def body(st):
        st.put('small', 'x')
        st.put('big', 'y' * 9000)      # 3 units of 4 KB on the KV backend
        yield st.get(['small', 'big', 'none'])
        yield st.delete('small')

    run_in_object(sim, body, storage='sqlite', name='s')
    run_in_object(sim, body, storage='kv', name='k')
    meters = sim.meters.set_index('object')
    # SQLite: a row read per key asked for; a row written per put and per delete
    assert meters.loc['s', ['rows_read', 'rows_written']].tolist() == [3, 3]
    # KV: read units per key (a missing key costs 1), 4 KB write units, deletes unmetered
    assert meters.loc['k', ['read_units', 'write_units', 'delete_requests']].tolist() == [
        1 + 3 + 1, 1 + 3, 1,
    ]
