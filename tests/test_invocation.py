"""How a handler's generator is driven (:mod:`dosim.invocation`).

An :class:`~dosim.invocation.Invocation` does not send into the user's generator itself: it
drives :func:`~dosim.invocation._drive`, which runs the generator with ``yield from`` and,
when the generator returns, yields a :class:`~dosim.invocation.Returned` holding the value.
That is how a compiled runtime learns that a handler finished without catching a
``StopIteration`` (which costs it a traceback entry). To the handler nothing changes: every
yield comes out, every send and throw goes in, and what it returns is what its caller gets.
"""

from __future__ import annotations

from typing import Any

import pytest

import dosim
from dosim.invocation import Returned, _drive


def handler() -> Any:
    got = yield 'first'
    try:
        yield ('got', got)
    except KeyError as error:
        return f'caught {error.args[0]}'
    return 'not thrown'


def test_yields_sends_and_throws_pass_through_and_the_return_comes_out_as_returned():
    driver = _drive(handler())
    assert driver.send(None) == 'first'
    assert driver.send(5) == ('got', 5)
    done = driver.throw(KeyError('k'))
    assert type(done) is Returned
    assert done.value == 'caught k'


def test_a_plain_return_and_a_return_of_none():
    driver = _drive(handler())
    driver.send(None)
    driver.send(1)
    assert driver.send(None).value == 'not thrown'

    def empty() -> Any:
        yield 'only'

    driver = _drive(empty())
    assert driver.send(None) == 'only'
    done = driver.send(None)
    assert type(done) is Returned
    assert done.value is None


def test_an_error_the_generator_does_not_catch_comes_out_of_the_driver():
    driver = _drive(handler())
    driver.send(None)
    with pytest.raises(ValueError, match='no'):
        driver.throw(ValueError('no'))


class Nesting(dosim.DurableObject):
    """A handler whose value comes back through a nested frame (a transaction) and whose
    own return value is the response."""

    def fetch(self, request: Any) -> Any:
        def body(txn: Any) -> Any:
            n = (yield txn.get('n')) or 0
            txn.put('n', n + 1)
            return n + 1

        n = yield self.ctx.storage.transaction(body)
        return dosim.Response(f'n={n}')


def test_return_values_reach_the_caller_through_nested_frames():
    sim = dosim.Simulation(seed=1)
    stub = sim.namespace('NESTING', Nesting).get_by_name('a')
    texts: list[str] = []

    def client() -> Any:
        for _ in range(3):
            response = yield stub.fetch('https://do/')
            texts.append(response.text)

    sim.process(client())
    sim.run()
    assert texts == ['n=1', 'n=2', 'n=3']
