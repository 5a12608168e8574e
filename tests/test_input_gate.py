"""The input gate: one thread per object, and which waits let other events in.

A Durable Object runs one event at a time. While a handler computes or waits on *storage*,
nothing else is delivered: a read followed by a write is safe. At a *non-storage* wait -- a
timer, an outbound fetch, a call to another object -- the gate opens and queued events run
in between: a read, a ``sleep``, then a write can lose updates.
"""

from __future__ import annotations

import dosim
from tests.conftest import fire, texts


class SafeCounter(dosim.DurableObject):
    def fetch(self, request):
        n = (yield self.ctx.storage.get('n')) or 0
        self.ctx.storage.put('n', n + 1)
        return dosim.Response(str(n + 1))


class RacyCounter(dosim.DurableObject):
    """Reads, waits on a timer (the gate opens), then writes what it read plus one."""

    def fetch(self, request):
        n = (yield self.ctx.storage.get('n')) or 0
        yield dosim.sleep(10)
        self.ctx.storage.put('n', n + 1)
        return dosim.Response(str(n + 1))


class ExternalCounter(dosim.DurableObject):
    def fetch(self, request):
        n = (yield self.ctx.storage.get('n')) or 0
        yield dosim.fetch_external(latency_ms=30)
        self.ctx.storage.put('n', n + 1)
        return dosim.Response(str(n + 1))



def test_storage_awaits_keep_the_gate_closed(sim):
    """Three concurrent read-then-write requests return 1, 2, 3: no update is lost."""
    ns = sim.namespace('C', SafeCounter)
    stub = ns.get_by_name('c')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/inc'))] * 3)
    assert texts(out) == ['1', '2', '3']
    assert sim.storage_of('C', 'c') == {'n': 3}


def test_a_sleep_between_read_and_write_loses_updates(sim):
    """With a timer between the read and the write, all three read 0: two updates lost."""
    ns = sim.namespace('C', RacyCounter)
    stub = ns.get_by_name('c')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/inc'))] * 3)
    assert texts(out) == ['1', '1', '1']
    assert sim.storage_of('C', 'c') == {'n': 1}


def test_an_outbound_fetch_opens_the_gate_too(sim):
    """Requests 1 ms apart interleave at a 30 ms external fetch: both read 0."""
    ns = sim.namespace('C', ExternalCounter)
    stub = ns.get_by_name('c')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/a')),
                     (1, lambda: stub.fetch('https://do/b'))])
    assert texts(out) == ['1', '1']


class Busy(dosim.DurableObject):
    """Each request computes for 5 ms and reports when it started."""

    def fetch(self, request):
        started = dosim.now() - self.ctx.storage._actor.sim.start_epoch_ms
        yield dosim.compute(5)
        return dosim.Response(f'{started}')


def test_compute_holds_the_thread_and_delivery_is_fifo(sim):
    """Three requests arriving together start 5 ms apart, in arrival order."""
    ns = sim.namespace('B', Busy)
    stub = ns.get_by_name('b')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/x'))] * 3)
    assert texts(out) == ['1', '6', '11']  # network 1 ms, then 5 ms each
    reqs = sim.trace.requests
    assert reqs['queue_ms'].tolist() == [0.0, 5.0, 10.0]
    assert reqs['handler_ms'].tolist() == [5.0, 5.0, 5.0]


def test_a_resumed_handler_queues_behind_waiting_events(sim):
    """A handler whose timer ends while another computes waits its turn (FIFO)."""
    log = []

    class Mixed(dosim.DurableObject):
        def fetch(self, request):
            log.append((sim.now, request.path, 'start'))
            if request.path == '/sleeper':
                yield dosim.sleep(2)
            else:
                yield dosim.compute(10)
            log.append((sim.now, request.path, 'end'))
            return dosim.Response('')

    ns = sim.namespace('M', Mixed)
    stub = ns.get_by_name('m')
    fire(sim, [(0, lambda: stub.fetch('https://do/sleeper')),
               (0, lambda: stub.fetch('https://do/worker'))])
    assert log == [
        (1.0, '/sleeper', 'start'),
        (1.0, '/worker', 'start'),   # the sleep opened the gate
        (11.0, '/worker', 'end'),
        (11.0, '/sleeper', 'end'),   # woke at 3 ms, ran only once the thread was free
    ]


def test_yielding_something_else_is_a_clear_error(sim):
    class Odd(dosim.DurableObject):
        def fetch(self, request):
            yield 42
            return dosim.Response('unreachable')

    ns = sim.namespace('O', Odd)
    stub = ns.get_by_name('o')
    (out,) = fire(sim, [(0, lambda: stub.fetch('https://do/'))])
    assert isinstance(out, dosim.DurableObjectError)
    assert out.remote
    assert out.error_type == 'TypeError'
    assert out.message.startswith('a handler yielded 42;')
