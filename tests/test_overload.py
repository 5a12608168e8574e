"""Overload: an object queues requests, then refuses new ones.

Past ``Config.overload_max_queued`` requests waiting to start, or while the oldest has waited
longer than ``Config.overload_max_queue_time_ms``, new requests fail at once with
``overloaded=True`` and Cloudflare's text. Callers must not retry those.
"""

from __future__ import annotations

import dosim
from tests.conftest import fire, make_sim, texts


class Slow(dosim.DurableObject):
    def fetch(self, request):
        yield dosim.compute(10)
        return dosim.Response('ok')


def test_too_many_queued_requests_are_refused():
    sim = make_sim(overload_max_queued=2)
    ns = sim.namespace('S', Slow)
    stub = ns.get_by_name('s')
    out = fire(sim, [(0, lambda: stub.fetch('https://do/'))] * 5)
    # the first starts at once; two wait in the queue; the last two are refused
    assert texts(out) == ['ok', 'ok', 'ok',
                          'Durable Object is overloaded. Too many requests queued.',
                          'Durable Object is overloaded. Too many requests queued.']
    assert [getattr(o, 'overloaded', None) for o in out] == [None, None, None, True, True]


def test_requests_queued_for_too_long_refuse_newcomers():
    sim = make_sim(overload_max_queue_time_ms=15)
    ns = sim.namespace('S', Slow)
    stub = ns.get_by_name('s')
    # request k leaves at t=k and arrives at t=k+1; each takes 10 ms of CPU
    out = fire(sim, [(t, lambda: stub.fetch('https://do/')) for t in range(20)])
    refused = [i for i, o in enumerate(out) if isinstance(o, dosim.DurableObjectError)]
    assert out[refused[0]].message == 'Durable Object is overloaded. Requests queued for too long.'
    # request 2 arrives at t=3 and waits until t=21 for its turn. Request 17 arrives at
    # t=18, when it has waited 15 ms (not more): accepted. Request 18 arrives at t=19: 16 ms.
    assert refused[0] == 18
    assert all(o.overloaded for o in out[18:])
