"""``storage.transaction(fn)``: all of ``fn``'s writes commit together, or none do.

Inside ``fn(txn)`` reads see the transaction's own writes. Returning commits; raising
discards and propagates the error; ``txn.rollback()`` discards and lets ``fn``'s value
through, after which ``txn`` refuses further use.
"""

from __future__ import annotations

import dosim
from tests.conftest import fire


class Bank(dosim.DurableObject):
    def fetch(self, request):
        st = self.ctx.storage
        if request.path == '/seed':
            st.put({'alice': 100, 'bob': 0})
            return dosim.Response('seeded')
        amount = int(request.text)

        def transfer(txn):
            a = yield txn.get('alice')
            txn.put('alice', a - amount)
            b = yield txn.get('bob')
            txn.put('bob', b + amount)
            inside = yield txn.get('alice')     # sees its own write
            if request.path == '/rollback':
                txn.rollback()
                return 'rolled back'
            if a - amount < 0:
                raise ValueError('insufficient funds')
            return f'moved {amount}, alice sees {inside}'

        try:
            result = yield st.transaction(transfer)
        except ValueError as exc:
            result = f'refused: {exc}'
        return dosim.Response(result)


def run(sim, *calls):
    ns = sim.namespace('B', Bank)
    stub = ns.get_by_name('bank')
    plan = [(0, lambda: stub.fetch('https://do/seed'))]
    plan += [(10 * (i + 1), lambda p=p, b=b: stub.fetch('https://do' + p, method='POST', body=b))
             for i, (p, b) in enumerate(calls)]
    out = fire(sim, plan)
    return [o.text for o in out[1:]], sim.storage_of('B', 'bank')


def test_a_transaction_commits_all_its_writes(sim):
    texts, stored = run(sim, ('/move', '30'))
    assert texts == ['moved 30, alice sees 70']
    assert stored == {'alice': 70, 'bob': 30}


def test_a_raise_discards_every_write_and_propagates(sim):
    texts, stored = run(sim, ('/move', '130'))
    assert texts == ['refused: insufficient funds']
    assert stored == {'alice': 100, 'bob': 0}


def test_rollback_discards_writes_and_returns_the_value(sim):
    texts, stored = run(sim, ('/rollback', '30'))
    assert texts == ['rolled back']
    assert stored == {'alice': 100, 'bob': 0}


def test_a_transaction_is_one_write_batch(sim):
    run(sim, ('/move', '30'))
    ev = sim.trace.events
    assert ev.loc[ev['kind'] == 'flush', 'detail'].tolist() == [
        'batch 1: 2 keys',     # the seed
        'batch 2: 2 keys',     # alice and bob, together
    ]


def test_txn_is_unusable_after_rollback(sim):
    class After(dosim.DurableObject):
        def fetch(self, request):
            def body(txn):
                txn.rollback()
                txn.put('x', 1)

            try:
                yield self.ctx.storage.transaction(body)
            except RuntimeError as exc:
                return dosim.Response(str(exc))
            return dosim.Response('no error')

    ns = sim.namespace('A', After)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('a').fetch('https://do/'))])
    assert out.text == 'Cannot put() on rolled back transaction'   # workerd's wording
    assert sim.storage_of('A', 'a') == {}


def test_list_inside_a_transaction_sees_its_writes(sim):
    class Lister(dosim.DurableObject):
        def fetch(self, request):
            self.ctx.storage.put({'a': 1, 'b': 2})

            def body(txn):
                txn.delete('a')
                txn.put('c', 3)
                got = yield txn.list()
                return list(got.items())

            got = yield self.ctx.storage.transaction(body)
            return dosim.Response(repr(got))

    ns = sim.namespace('L', Lister)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('l').fetch('https://do/'))])
    assert out.text == "[('b', 2), ('c', 3)]"


def test_storage_calls_inside_the_callback_join_the_transaction(sim):
    """As on the SQLite backend (and in workerd): ctx.storage inside the callback sees the
    transaction's writes, and its own writes are discarded with a rollback."""

    class Outer(dosim.DurableObject):
        def fetch(self, request):
            st = self.ctx.storage

            def body(txn):
                txn.put('a', 1)
                seen = yield st.get('a')           # the outer API, inside the callback
                st.put('b', 2)                     # joins the transaction
                try:
                    txn.delete_all()
                except RuntimeError as exc:
                    refused = str(exc)
                txn.rollback()
                return seen, refused

            seen, refused = yield st.transaction(body)
            after = yield st.get(['a', 'b'])
            return dosim.Response(repr((seen, refused, after)))

    ns = sim.namespace('O', Outer)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('o').fetch('https://do/'))])
    assert out.text == "(1, 'Cannot call deleteAll() within a transaction', {})"
