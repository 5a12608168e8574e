"""WebSockets and the Hibernation API.

A hibernatable socket (``ctx.accept_websocket``) stays connected while its object hibernates;
a message wakes the object (constructor, then ``websocket_message``). Its attachment survives
hibernation. An auto-response answers without waking anything. A standard socket
(``server.accept()``) keeps the object in memory -- and billed -- while it is open. A reset
closes every socket, hibernating ones too.
"""

from __future__ import annotations

import json

import pytest

import dosim
from dosim.models import AgentSocket, ChatRoom
from tests.conftest import make_sim

HOUR = 3_600_000


class Echo(dosim.DurableObject):
    """Echoes messages with the attachment and its construction count; tags from the URL."""

    built = 0

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        type(self).built += 1

    def fetch(self, request):
        client, server = dosim.WebSocketPair()
        tags = [t for t in request.url.partition('tags=')[2].split(',') if t]
        self.ctx.accept_websocket(server, tags)
        server.serialize_attachment({'joined': request.url})
        return dosim.Response(status=101, web_socket=client)

    def websocket_message(self, ws, message):
        if message == 'abort':
            self.ctx.abort('reset by test')
        if message == 'tags':
            ws.send(json.dumps({'mine': self.ctx.get_tags(ws),
                                'blue': len(self.ctx.get_websockets('blue'))}))
            return
        ws.send(json.dumps({'echo': message, 'attachment': ws.deserialize_attachment(),
                            'built': type(self).built}))


def echo_class():
    return type('EchoCopy', (Echo,), {'built': 0})


def client(sim, ns, script, url='https://do/ws', name='room'):
    """Connect, then for each (delay, message) wait and send; collect what comes back."""
    received = []

    def run():
        ws = yield from dosim.connect_websocket(ns.get_by_name(name), url)
        for delay, message in script:
            yield sim.timeout(delay)
            if message is None:
                ws.close(1000, 'bye')
                continue
            ws.send(message)
            reply = yield ws.receive()
            received.append(json.loads(reply))
        return ws

    return sim.process(run()), received


def test_a_message_wakes_a_hibernated_object_and_the_attachment_survives(sim):
    cls = echo_class()
    ns = sim.namespace('E', cls)
    _, got = client(sim, ns, [(0, 'one'), (60_000, 'two')])
    sim.run(until=2 * 60_000)
    assert got[0]['built'] == 1
    assert got[1]['built'] == 2                      # constructor ran again after hibernation
    assert got[1]['attachment'] == {'joined': 'https://do/ws'}
    ev = sim.trace.events
    assert ev.loc[ev['kind'] == 'wake', 'time_ms'].tolist() == [60_005.0]   # sent at 60,004
    assert ev.loc[ev['kind'] == 'hibernate', 'time_ms'].tolist()[0] == pytest.approx(10_003.0)


def test_attachment_size_limits():
    def attach(limit, size):
        sim = make_sim(ws_attachment_max_bytes=limit)
        outcome = []

        class Big(dosim.DurableObject):
            def fetch(self, request):
                client, server = dosim.WebSocketPair()
                self.ctx.accept_websocket(server)
                try:
                    server.serialize_attachment('x' * size)
                    outcome.append('ok')
                except ValueError as exc:
                    outcome.append(str(exc))
                return dosim.Response(status=101, web_socket=client)

        ns = sim.namespace('B', Big)
        sim.process(dosim.connect_websocket(ns.get_by_name('b')))
        sim.run()
        return outcome[0]

    # n ASCII characters (n < 16,384) serialize to n + 5 bytes: header 2, tag 1, length 2
    assert attach(16_384, 16_379) == 'ok'
    assert attach(16_384, 16_380) == ('serializeAttachment(): the serialized attachment is '
                                      '16385 bytes; the limit is 16384 bytes')
    assert attach(2_048, 2_043) == 'ok'          # the older limit, as a Config option
    assert attach(2_048, 2_044) == ('serializeAttachment(): the serialized attachment is '
                                    '2049 bytes; the limit is 2048 bytes')


def test_auto_response_does_not_wake_the_object():
    sim = make_sim()

    class Pinger(dosim.DurableObject):
        built = 0

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            type(self).built += 1
            ctx.set_websocket_auto_response(dosim.WebSocketRequestResponsePair('ping', 'pong'))

        def fetch(self, request):
            client, server = dosim.WebSocketPair()
            self.ctx.accept_websocket(server)
            self.server = server
            return dosim.Response(status=101, web_socket=client)

    ns = sim.namespace('P', Pinger)
    replies = []

    def run():
        ws = yield from dosim.connect_websocket(ns.get_by_name('p'))
        for _ in range(30):
            yield sim.timeout(60_000)
            ws.send('ping')
            replies.append((yield ws.receive()))

    sim.run(until=sim.process(run()))
    assert replies == ['pong'] * 30
    assert Pinger.built == 1                              # never woken again
    assert sim.meters['duration_gb_s'].iloc[0] == 0.0     # nothing billed
    assert sim.meters['ws_messages_in'].iloc[0] == 30     # but messages are counted
    actor = next(iter(ns.actors.values()))
    (server,) = actor.sockets.sockets
    # connected at 2 ms; each round is 60 s plus a 2 ms round trip; the last ping lands 1 ms
    # after it was sent
    assert server.auto_response_ms == sim.start_epoch_ms + 2 + 30 * 60_000 + 29 * 2 + 1


def test_tags_filter_and_their_limits(sim):
    ns = sim.namespace('E', echo_class())
    _, got = client(sim, ns, [(0, 'tags')], url='https://do/ws?tags=blue,blue,red')
    _, _ = client(sim, ns, [], url='https://do/ws?tags=blue')
    _, _ = client(sim, ns, [], url='https://do/ws?tags=green')
    sim.run(until=1000)
    assert got == [{'mine': ['blue', 'red'], 'blue': 2}]   # duplicates ignored

    class Tagger(dosim.DurableObject):
        def fetch(self, request):
            _client, server = dosim.WebSocketPair()
            tags = json.loads(request.text)
            try:
                self.ctx.accept_websocket(server, tags)
            except ValueError as exc:
                return dosim.Response(str(exc))
            try:
                self.ctx.get_tags(dosim.WebSocketPair()[1])
            except TypeError as exc:
                return dosim.Response(str(exc))
            return dosim.Response('accepted')

    tagger = sim.namespace('T', Tagger).get_by_name('t')
    outs = []

    def send(tags):
        resp = yield tagger.fetch('https://do/', method='POST', body=json.dumps(tags))
        outs.append(resp.text)

    for tags in ([f't{i}' for i in range(11)], ['x' * 257], ['x' * 256] * 10 + ['x' * 256]):
        sim.process(send(tags))
    sim.run()
    assert outs == [
        'a Hibernatable WebSocket cannot have more than 10 tags',
        'a Hibernatable WebSocket tag cannot be longer than 256 characters; got 257',
        "you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket.",
    ]


def test_a_reset_closes_every_socket_and_clients_see_it(sim):
    ns = sim.namespace('E', echo_class())
    seen = []

    def watcher():
        ws = yield from dosim.connect_websocket(ns.get_by_name('room'))
        yield sim.timeout(20_000)    # the object hibernates meanwhile
        try:
            yield ws.receive()
        except dosim.WebSocketClosedError as exc:
            seen.append((exc.code, exc.reason, sim.now))

    def aborter():
        ws = yield from dosim.connect_websocket(ns.get_by_name('room'))
        yield sim.timeout(15_000)
        ws.send('abort')

    sim.process(watcher())
    sim.process(aborter())
    sim.run(until=60_000)
    assert seen == [(1011, 'Durable Object connection closed because the object was reset.',
                     20_002.0)]
    assert next(iter(ns.actors.values())).sockets.sockets == []


def test_a_standard_socket_keeps_the_object_in_memory_and_billed(sim):
    cls = ChatRoom.configure(hibernatable=False, message_cpu_ms=0)
    ns = sim.namespace('R', cls)

    def user():
        ws = yield from dosim.connect_websocket(ns.get_by_name('r'), 'https://r/ws?name=a')
        yield sim.timeout(600_000)
        ws.close()

    sim.process(user())
    sim.run(until=HOUR)
    ev = sim.trace.events
    # accepted at 1 ms; the client closes at 600,002 ms, which reaches the object at 600,003
    # ms; it hibernates 10 s later. Billed: the 600.002 s the socket was open.
    assert ev.loc[ev['kind'] == 'hibernate', 'time_ms'].tolist() == [610_003.0]
    assert sim.meters['duration_gb_s'].iloc[0] == pytest.approx(600.002 * 0.128)


def chat_hour(hibernatable: bool) -> float:
    """10 users in one room, one 10 ms message per user per minute, for an hour."""
    sim = make_sim(seed=2)
    ns = sim.namespace('R', ChatRoom.configure(hibernatable=hibernatable, message_cpu_ms=10))

    def user(i):
        ws = yield from dosim.connect_websocket(ns.get_by_name('lobby'), f'https://r/ws?name={i}')
        yield sim.timeout(i * 6_000)
        for _ in range(60):
            ws.send(f'hello from {i}')
            yield sim.timeout(60_000)

    for i in range(10):
        sim.process(user(i))
    sim.run(until=HOUR)
    meters = sim.meters.iloc[0]
    assert meters['ws_messages_in'] == 600
    assert meters['requests'] == 10                  # one per connection
    assert meters['billed_requests'] == 10 + 600 / 20   # messages bill at 20:1
    return meters['duration_gb_s']


def test_hibernatable_rooms_bill_a_fraction_of_standard_ones():
    """600 messages x 10 ms = 6 s active: 0.768 GB-s. The standard room is in memory from the
    first connection to the end of the hour: 3,599.999 s, 460.80 GB-s -- 600 times more."""
    hibernating = chat_hour(True)
    standard = chat_hour(False)
    assert hibernating == pytest.approx(600 * 0.010 * 0.128)
    assert standard == pytest.approx((HOUR - 1.0) / 1000 * 0.128)
    assert standard / hibernating > 599


def test_received_messages_are_limited():
    sim = make_sim(ws_max_message_bytes=1000)
    ns = sim.namespace('E', echo_class())
    closed = []

    def run():
        ws = yield from dosim.connect_websocket(ns.get_by_name('room'))
        ws.send('x' * 1001)
        try:
            yield ws.receive()
        except dosim.WebSocketClosedError as exc:
            closed.append(exc.code)

    sim.process(run())
    sim.run(until=10_000)
    assert closed == [1009]


def test_agent_subscriptions_survive_hibernation(sim):
    ns = sim.namespace('AGENT', AgentSocket)
    got = []

    def subscriber():
        ws = yield from dosim.connect_websocket(ns.get_by_name('agent-7'))
        ws.send(json.dumps({'type': 'subscribe', 'topic': 'agent.memory.*'}))
        got.append(json.loads((yield ws.receive())))
        got.append(json.loads((yield ws.receive())))

    def publisher():
        ws = yield from dosim.connect_websocket(ns.get_by_name('agent-7'))
        yield sim.timeout(120_000)     # long after the object hibernated
        ws.send(json.dumps({'type': 'publish', 'topic': 'agent.memory.update', 'data': 42}))
        ws.send(json.dumps({'type': 'publish', 'topic': 'agent.tools.run', 'data': 0}))

    sim.process(subscriber())
    sim.process(publisher())
    sim.run(until=200_000)
    assert got == [{'type': 'subscribed', 'topic': 'agent.memory.*'},
                   {'type': 'event', 'topic': 'agent.memory.update', 'data': 42}]
    assert sim.trace.lifecycle['incarnation'].max() == 2      # it did hibernate in between


def test_a_model_may_keep_its_own_attributes_on_a_socket(sim):
    """A socket keeps the runtime's fields in slots, but a model can still hang its own
    on it, as JavaScript code may on a WebSocket object (it lives as long as the object
    stays in memory; what must survive hibernation goes in ``serialize_attachment``)."""

    class Named(dosim.DurableObject):
        def fetch(self, request):
            client, server = dosim.WebSocketPair()
            server.accept()
            server.nickname = request.url.partition('name=')[2]
            return dosim.Response(status=101, web_socket=client)

        def websocket_message(self, ws, message):
            ws.send(f'{ws.nickname}: {message}')

    ns = sim.namespace('N', Named)
    got = []

    def client():
        ws = yield from dosim.connect_websocket(ns.get_by_name('n'), 'https://n/ws?name=ada')
        ws.send('hi')
        got.append((yield ws.receive()))

    sim.process(client())
    sim.run(until=10_000)
    assert got == ['ada: hi']
