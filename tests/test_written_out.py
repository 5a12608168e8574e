"""Written-out copies stay copies.

A few constructors run at every wake of an object, so the runtime makes their objects with a
copy of their ``__init__`` lines rather than a call (the copy is marked where it stands): a
woken object's ``Storage`` (with its write queue's fields) and its ``ctx``. A field added to
the original and forgotten in the copy would be missing only for objects made on that path.
These tests make each object both ways and compare every field.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import dosim
from dosim import writequeue
from dosim.state import DurableObjectState
from dosim.writequeue import WriteQueue


class Plain(dosim.DurableObject):
    def fetch(self, request: Any) -> Any:
        yield self.ctx.storage.put('k', 1)
        return dosim.Response('ok')


def woken(sim: dosim.Simulation) -> Any:
    """The runtime record of an object 1 s after its first request: constructed on the
    fast path, still in memory (it hibernates 10 s after)."""
    ns = sim.namespace('PLAIN', Plain)
    stub = ns.get_by_name('a')

    def go() -> Any:
        yield stub.fetch('https://x/')

    sim.process(go())
    sim.run(until=1_000)
    actor = ns.actor(stub.id)
    assert actor.instance is not None
    assert actor.storage is not None
    return actor


def comparable(value: Any) -> Any:
    return list(value) if isinstance(value, deque) else value


def test_storage_sets_every_field_of_its_write_queue(sim: dosim.Simulation) -> None:
    """``Storage.__init__`` writes out ``WriteQueue.__init__``: every slot of the queue is
    set, to what ``WriteQueue.__init__`` itself would set."""
    actor = woken(sim)
    storage = actor.storage
    reference = WriteQueue(actor)
    fresh = type(storage)(actor)
    for name in writequeue.FIELDS:
        assert hasattr(fresh, name), name
        assert comparable(getattr(fresh, name)) == comparable(getattr(reference, name)), name


def test_ctx_of_a_woken_object_has_the_fields_of_durable_object_state(
        sim: dosim.Simulation) -> None:
    """``Actor._construct`` writes out ``DurableObjectState.__init__``: the ``ctx`` it makes
    has exactly the attributes, with the same values, that the constructor gives."""
    actor = woken(sim)
    reference = DurableObjectState(actor)
    assert vars(actor.ctx) == vars(reference)
    assert set(vars(actor.ctx)) == {'_actor', '_incarnation', 'id', 'storage'}
