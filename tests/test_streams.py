"""Random streams: one per component, seeded from the simulation's seed and the name.

A stream drawn from one number at a time and many at once (the network: one message, or a
broadcast to a room) is a :class:`~dosim.streams.Uniforms` -- the very numbers of
``random.Random(seed).random()``, in the same order, however they are taken.
"""

from __future__ import annotations

import random

import pytest

import dosim
from dosim.streams import BLOCK, Streams, Uniforms


def test_a_stream_is_named_and_seeded_by_the_simulation():
    """The same seed and name give the same numbers; another name, other numbers."""
    a, b = Streams(7), Streams(7)
    assert [a.get('ids').random() for _ in range(5)] == [b.get('ids').random() for _ in range(5)]
    assert a.get('storage').random() != Streams(7).get('ids').random()


def mixed(stream: Uniforms, at_least: int, sizes: list[int]) -> list[float]:
    """At least *at_least* numbers from *stream*: one at a time (``draw``) or *k* at a
    time (``take``, *k* one of *sizes*), the two mixed at random."""
    got: list[float] = []
    plan = random.Random(3)
    while len(got) < at_least:
        if plan.random() < 0.5:
            got.append(stream.draw())
        else:
            got.extend(stream.take(plan.choice(sizes)).tolist())
    return got


def test_uniforms_draw_the_numbers_of_random_random():
    """``draw()`` one at a time and ``take(k)`` many at a time walk the same sequence as
    ``random()``, across the blocks NumPy makes (the mix below crosses several)."""
    seed = 2**100 + 12345
    reference = random.Random(seed)
    expected = [reference.random() for _ in range(5 * BLOCK)]
    got = mixed(Uniforms(random.Random(seed)), 4 * BLOCK, [0, 1, 99, 500, BLOCK + 7])
    assert got == expected[:len(got)]


def test_take_starts_a_fresh_stream_and_returns_read_only_arrays():
    """``take`` may come first. Its arrays cannot be written: most are views of the block,
    and a write there would change numbers not yet drawn."""
    uniforms = Uniforms(random.Random(1))
    first = uniforms.take(3)
    reference = random.Random(1)
    assert first.tolist() == [reference.random() for _ in range(3)]
    assert uniforms.draw() == reference.random()
    with pytest.raises(ValueError, match='read-only'):
        first[0] = 0.5
    assert isinstance(uniforms.draw(), float)


def test_a_stream_is_drawn_either_one_way_or_the_other():
    """``get(name)`` and ``uniforms(name)`` would each start from the stream's seed and
    repeat each other's numbers, so a stream is only ever one of the two."""
    streams = Streams(0)
    assert streams.uniforms('network') is streams.uniforms('network')
    with pytest.raises(ValueError, match="stream 'network' is taken: it is drawn from as uniforms"):
        streams.get('network')
    streams.get('ids')
    with pytest.raises(ValueError, match="stream 'ids' is taken: it is drawn from with get"):
        streams.uniforms('ids')


def test_the_network_draws_its_latency_jitter_from_uniforms():
    """The network's jitter comes from the simulation's ``'network'`` stream: a fresh
    simulation with the same seed draws the same first latency, from the first number that
    ``random.Random`` gives with that stream's seed."""
    lat = []
    for _ in range(2):
        sim = dosim.Simulation(seed=11)
        net = sim.network
        lat.append(net.one_way(net.location('LHR'), net.location('SIN')))
    base = sim.network.base_ms(sim.network.location('LHR'), sim.network.location('SIN'))
    u = random.Random(Streams(11)._derived('network')).random()
    cfg = sim.config
    assert lat[0] == lat[1] == base + cfg.jitter_scale_ms * (
        (1.0 - u) ** (-1.0 / cfg.jitter_shape) - 1.0)


def test_each_jitter_is_the_number_python_s_float_arithmetic_gives():
    """The network maps each block of draws to jitters with array operations, once; a
    message's jitter must still be, to the last bit, ``scale * ((1 - u) ** power - 1)``
    as Python computes it for the draw ``u`` -- taken one at a time or a room's at once,
    across several blocks."""
    sim = dosim.Simulation(seed=5)
    jitters = sim.network._jitters
    cfg = sim.config
    reference = random.Random(Streams(5)._derived('network'))
    power = -1.0 / cfg.jitter_shape
    expected = [cfg.jitter_scale_ms * ((1.0 - reference.random()) ** power - 1.0)
                for _ in range(4 * BLOCK)]
    got = mixed(jitters, 3 * BLOCK, [1, 99, 1000])
    assert got == expected[:len(got)]


def test_a_stream_keeps_the_transform_it_was_made_with():
    """The network's stream hands out jitters; asking for it as plain uniforms (or with
    another transform) is refused rather than handing out jitters as uniforms."""
    sim = dosim.Simulation(seed=0)
    with pytest.raises(ValueError, match="stream 'network' is taken: it is drawn from as "
                                         r'uniforms\(\) with transform'):
        sim.streams.uniforms('network')
    assert sim.streams.uniforms('network', sim.network._jitters.transform) is \
        sim.network._jitters


def test_a_model_cannot_borrow_the_network_stream():
    """``sim.stream('network')`` would hand a model the very numbers the network draws its
    latencies from; it is refused, with a message that says what to do. Other names are the
    model's own, seeded like every stream."""
    sim = dosim.Simulation(seed=0)
    with pytest.raises(ValueError, match=r"'network' is taken.*use another name"):
        sim.stream('network')
    assert sim.stream('workload').random() == random.Random(
        Streams(0)._derived('workload')).random()
