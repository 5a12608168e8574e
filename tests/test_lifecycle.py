"""Lifecycle: constructed by the first event, constructed again after every reset.

A reset -- ``ctx.abort()``, a ``block_concurrency_while`` callback that throws or runs past
30 s, more than the CPU limit in one invocation -- throws the instance away: memory and
unconfirmed writes are lost, storage is kept, the callers in progress get an error and their
stubs are broken. The next event runs the constructor with a new incarnation number.
"""

from __future__ import annotations

import dosim
from tests.conftest import fire, texts

CONSTRUCTED: list[int] = []


class Memory(dosim.DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        CONSTRUCTED.append(1)
        self.hits = 0

    def fetch(self, request):
        self.hits += 1
        if request.path == '/store':
            self.ctx.storage.put('kept', 'yes')
        if request.path == '/abort':
            self.ctx.abort('reset by test')
        kept = yield self.ctx.storage.get('kept')
        return dosim.Response(f'hits={self.hits} kept={kept}')


def test_the_constructor_runs_on_the_first_event_only(sim):
    CONSTRUCTED.clear()
    ns = sim.namespace('M', Memory)
    stub = ns.get_by_name('m')
    assert CONSTRUCTED == []   # a stub creates nothing
    out = fire(sim, [(0, lambda: stub.fetch('https://do/')), (5, lambda: stub.fetch('https://do/'))])
    assert texts(out) == ['hits=1 kept=None', 'hits=2 kept=None']
    assert CONSTRUCTED == [1]


def test_abort_loses_memory_keeps_storage_and_breaks_the_stub(sim):
    CONSTRUCTED.clear()
    ns = sim.namespace('M', Memory)
    stub = ns.get_by_name('m')
    out = fire(sim, [
        (0, lambda: stub.fetch('https://do/store')),
        (10, lambda: stub.fetch('https://do/')),
        (20, lambda: stub.fetch('https://do/abort')),
        (30, lambda: stub.fetch('https://do/')),            # same stub: broken
        (40, lambda: ns.get_by_name('m').fetch('https://do/')),  # new stub: works
    ])
    assert texts(out) == ['hits=1 kept=yes', 'hits=2 kept=yes', 'reset by test',
                          'reset by test', 'hits=1 kept=yes']
    assert CONSTRUCTED == [1, 1]
    aborted, broken = out[2], out[3]
    # as workerd reports them (data/workerd_observations.md §8)
    assert (aborted.remote, aborted.durable_object_reset) == (True, True)
    assert (broken.remote, broken.durable_object_reset) == (False, True)
    reqs = sim.trace.requests
    assert reqs['incarnation'].tolist() == [1, 1, 1, 0, 2]
    # the broken stub failed at once: no network, no queue
    assert reqs.loc[3, 'latency_ms'] == 0.0
    assert reqs.loc[3, 'arrived_ms'] != reqs.loc[3, 'arrived_ms']  # NaN: never arrived


def test_abort_cannot_be_caught_by_the_handler(sim):
    class Stubborn(dosim.DurableObject):
        def fetch(self, request):
            try:
                self.ctx.abort()
            except Exception:
                return dosim.Response('caught it')
            return dosim.Response('survived')

    ns = sim.namespace('S', Stubborn)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/'))])
    assert out.message == 'Application called abort() to reset Durable Object.'


def test_abort_fails_every_event_in_progress(sim):
    class Sleepy(dosim.DurableObject):
        def fetch(self, request):
            if request.path == '/abort':
                self.ctx.abort('gone')
            yield dosim.sleep(100)
            return dosim.Response('slept')

    ns = sim.namespace('S', Sleepy)
    out = fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/sleep')),
                     (10, lambda: ns.get_by_name('s').fetch('https://do/abort'))])
    assert texts(out) == ['gone', 'gone']


class Initialised(dosim.DurableObject):
    """Loads state in the constructor under block_concurrency_while, as the docs advise."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.value = None
        ctx.block_concurrency_while(self.load)

    def load(self):
        yield dosim.fetch_external(latency_ms=50)    # even a non-storage wait holds events
        self.value = (yield self.ctx.storage.get('v')) or 'loaded'

    def fetch(self, request):
        return dosim.Response(f'{self.value} at {self.ctx.storage._actor.sim.now}')


def test_block_concurrency_while_in_the_constructor_holds_every_event(sim):
    ns = sim.namespace('I', Initialised)
    stub = ns.get_by_name('i')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/')), (2, lambda: stub.fetch('https://do/'))])
    # arrival at 1; the 50 ms fetch, then a 0.1 ms read miss; both requests wait for it
    assert texts(out) == ['loaded at 51.1', 'loaded at 51.1']


def test_block_concurrency_while_inside_a_handler_returns_the_value(sim):
    class Inner(dosim.DurableObject):
        def fetch(self, request):
            if request.path == '/slow':
                def critical():
                    yield dosim.sleep(20)
                    return 'done'
                value = yield self.ctx.block_concurrency_while(critical)
                return dosim.Response(f'{value} {self.ctx.storage._actor.sim.now}')
            return dosim.Response(f'quick {self.ctx.storage._actor.sim.now}')

    ns = sim.namespace('N', Inner)
    out = fire(sim, [(0, lambda: ns.get_by_name('n').fetch('https://do/slow')),
                     (5, lambda: ns.get_by_name('n').fetch('https://do/quick'))])
    assert texts(out) == ['done 21.0', 'quick 21.0']  # the quick one waited


def test_a_throw_in_block_concurrency_while_resets_the_object(sim):
    attempts = []

    class Fragile(dosim.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            attempts.append(ctx.storage._actor.incarnation)
            ctx.block_concurrency_while(self.load)

        def load(self):
            yield self.ctx.storage.get('x')
            if len(attempts) == 1:
                raise RuntimeError('config missing')

        def fetch(self, request):
            return dosim.Response('ready')

    ns = sim.namespace('F', Fragile)
    out = fire(sim, [(0, lambda: ns.get_by_name('f').fetch('https://do/')),
                     (10, lambda: ns.get_by_name('f').fetch('https://do/'))])
    assert texts(out) == ['config missing', 'ready']
    assert out[0].durable_object_reset
    assert out[0].remote
    assert attempts == [1, 2]


def test_block_concurrency_while_past_30_s_resets(sim):
    class Stuck(dosim.DurableObject):
        def fetch(self, request):
            def forever():
                yield dosim.sleep(60_000)
            yield self.ctx.block_concurrency_while(forever)
            return dosim.Response('never')

    ns = sim.namespace('S', Stuck)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/'))])
    assert isinstance(out, dosim.DurableObjectError)
    resets = sim.trace.events.query("kind == 'reset'")
    assert resets['time_ms'].tolist() == [1.0 + 30_000]


def test_exceeding_the_cpu_limit_resets(sim):
    class Spin(dosim.DurableObject):
        def fetch(self, request):
            yield dosim.compute(20_000)
            yield dosim.compute(20_000)
            return dosim.Response('never')

    ns = sim.namespace('S', Spin)
    (out,) = fire(sim, [(0, lambda: ns.get_by_name('s').fetch('https://do/'))])
    assert out.message == 'Durable Object exceeded its CPU time limit and was reset.'
    assert out.remote
    resets = sim.trace.events.query("kind == 'reset'")
    assert resets['time_ms'].tolist() == [1.0 + 30_000]


def test_a_throwing_constructor_reaches_the_caller_and_is_retried(sim):
    tries = []

    class BadStart(dosim.DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            tries.append(1)
            if len(tries) == 1:
                raise KeyError('first start fails')

        def fetch(self, request):
            return dosim.Response('up')

    ns = sim.namespace('B', BadStart)
    stub = ns.get_by_name('b')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/')), (5, lambda: stub.fetch('https://do/'))])
    assert isinstance(out[0], dosim.DurableObjectError)
    assert out[0].remote
    assert out[0].error_type == 'KeyError'
    assert out[1].text == 'up'


def test_lifecycle_frame_records_each_state_interval(sim):
    """The first request takes 0.1 ms (a cold read). Idle and able to hibernate, the object
    hibernates 10 s later. The second request wakes it: a new incarnation, a cold read again."""
    ns = sim.namespace('M', Memory)
    stub = ns.get_by_name('m')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/')),
                     (50_000, lambda: stub.fetch('https://do/'))])
    assert texts(out) == ['hits=1 kept=None', 'hits=1 kept=None']   # memory was lost
    life = sim.trace.lifecycle
    assert life[['incarnation', 'state', 'start_ms', 'end_ms']].values.tolist() == [
        [1, 'active', 1.0, 1.1],
        [1, 'idle_hibernatable', 1.1, 10_001.1],
        [1, 'hibernated', 10_001.1, 50_001.0],
        [2, 'active', 50_001.0, 50_001.1],
        [2, 'idle_hibernatable', 50_001.1, 50_002.1],   # still open: ends now
    ]
