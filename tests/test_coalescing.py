"""Write coalescing: writes with no ``yield`` between them are one atomic batch.

``put('k', 1); put('k', 3); put('k', 4)`` flushes a single write of ``k=4``. A batch is
confirmed all at once, or -- if the object crashes before its confirmation -- lost all at
once: storage never holds half of it. Any ``yield`` (even an awaited ``put``) closes the batch.
"""

from __future__ import annotations

import dosim
from tests.conftest import fire


def flushes(sim):
    ev = sim.trace.events
    return ev.loc[ev['kind'] == 'flush', 'detail'].tolist()


class Coalescer(dosim.DurableObject):
    def fetch(self, request):
        st = self.ctx.storage
        if request.path == '/same-key':
            st.put('k', 1)
            st.put('k', 3)
            st.put('k', 4)
        elif request.path == '/awaited':
            yield st.put('a', 1)
            yield st.put('b', 2)
        elif request.path == '/abort-after-batch':
            st.put('a', 1)
            st.put('b', 2)
            yield dosim.sleep(1)     # the batch is flushed but not confirmed (4 ms)
            self.ctx.abort('crash before confirmation')
        return dosim.Response('done')


def run(sim, path):
    ns = sim.namespace('C', Coalescer)
    return fire(sim, [(0, lambda: ns.get_by_name('c').fetch('https://do' + path))])[0]


def test_three_puts_to_one_key_flush_only_the_last(sim):
    run(sim, '/same-key')
    assert flushes(sim) == ['batch 1: 1 keys']
    assert sim.storage_of('C', 'c') == {'k': 4}


def test_an_awaited_put_ends_the_batch(sim):
    run(sim, '/awaited')
    assert flushes(sim) == ['batch 1: 1 keys', 'batch 2: 1 keys']


def test_a_crash_before_confirmation_loses_the_whole_batch(sim):
    out = run(sim, '/abort-after-batch')
    assert isinstance(out, dosim.DurableObjectError)
    assert flushes(sim) == ['batch 1: 2 keys']
    assert sim.storage_of('C', 'c') == {}
    kinds = sim.trace.events['kind'].tolist()
    assert 'confirm' not in kinds
    # the writes and batch tables say the same: one batch of two keys, lost with the reset
    assert sim.trace.writes[['batch', 'key', 'value']].values.tolist() == [[1, 'a', 1],
                                                                         [1, 'b', 2]]
    assert sim.trace.batches[['batch', 'outcome']].values.tolist() == [[1, 'lost']]


def test_confirmed_batches_survive_a_later_crash(sim):
    class TwoSteps(dosim.DurableObject):
        def fetch(self, request):
            self.ctx.storage.put({'a': 1, 'b': 2})
            yield dosim.sleep(10)    # confirmed at +4 ms
            self.ctx.storage.put('c', 3)
            self.ctx.abort()

    ns = sim.namespace('T', TwoSteps)
    fire(sim, [(0, lambda: ns.get_by_name('t').fetch('https://do/'))])
    assert sim.storage_of('T', 't') == {'a': 1, 'b': 2}
