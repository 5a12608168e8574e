"""An explorer of hibernation: what a chat room is billed for, and when it sleeps.

A :class:`~dosim.models.ChatRoom` holds three users' WebSockets. The users take turns sending
a heartbeat (``'ping'``) every *gap* seconds, so the room is idle for *gap* seconds between
messages; now and then (at most every two minutes) the first user also posts a chat message,
which is broadcast.

* With **hibernatable** sockets (``ctx.accept_websocket``) an idle room is not billed, and
  after 10 s idle it hibernates: it leaves memory, the sockets stay connected, and the next
  message runs the constructor again. Duration is billed only while a message is handled.
* With **standard** sockets (``server.accept()``) the room can never hibernate while anyone
  is connected: it is in memory, and billed, from the first connection to the end.
* An **auto-response** (``ctx.set_websocket_auto_response``, hibernatable sockets only)
  answers ``'ping'`` with ``'pong'`` in the runtime, without waking the room: only the chat
  messages still wake it.

Duration is billed in GB-s: seconds in memory and billed x 128 MB.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

import dosim

from .. import plot
from ..models import ChatRoom
from ..plot_timelines import GRID, OKABE_ITO
from ._controls import Choice, Number, Toggle
from ._explorer import Explorer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['hibernation']

SECOND = 1_000
CHAT_EVERY_MS = 120_000
SOCKET_KINDS = ('hibernatable', 'standard')
USERS = 3

CONTROLS = (
    Number('idle_gap_s', 'idle gap (s)', 30, low=2, high=120,
           help='seconds between two messages at the room'),
    Choice('socket', 'sockets', 'hibernatable', options=SOCKET_KINDS),
    Toggle('auto_response', 'auto-response ping → pong', False,
           help='the runtime answers pings without waking the room (hibernatable only)'),
    Number('minutes', 'simulated minutes', 10, low=1, high=20),
)


class HeartbeatRoom(ChatRoom):
    """A chat room that answers ``'ping'`` with ``'pong'`` itself -- or, with
    ``auto_response`` and hibernatable sockets, lets the runtime answer it."""

    auto_response = False

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        if self.auto_response and self.hibernatable:
            ctx.set_websocket_auto_response(dosim.WebSocketRequestResponsePair('ping', 'pong'))

    def websocket_message(self, ws: Any, message: Any) -> Generator[Any, Any, None]:
        if message != 'ping':
            yield from super().websocket_message(ws, message)
            return
        if self.message_cpu_ms:
            yield dosim.compute(self.message_cpu_ms)
        ws.send('pong')


def _simulate(values: dict[str, Any]) -> dosim.Simulation:
    sim = dosim.Simulation(seed=values['seed'])
    cls = type('HeartbeatRoom', (HeartbeatRoom,), {
        'hibernatable': values['socket'] == 'hibernatable',
        'auto_response': values['auto_response'], 'message_cpu_ms': 10.0})
    rooms = sim.namespace('ROOMS', cls)
    users, gap = USERS, values['idle_gap_s'] * SECOND
    end = values['minutes'] * 60 * SECOND

    def user(i: int) -> Generator[Any, Any, None]:
        ws = yield from dosim.connect_websocket(rooms.get_by_name('lobby'),
                                                f'https://room/ws?name=user{i}')
        at = 1000.0 + i * gap   # user i sends message i, i + users, i + 2 users ...
        next_chat = CHAT_EVERY_MS
        while at < end:
            yield sim.timeout(at - sim.now)
            ws.send('ping')
            if i == 0 and at >= next_chat:
                ws.send('hello, room')
                next_chat += CHAT_EVERY_MS
            at += users * gap

    for i in range(users):
        sim.process(user(i))
    sim.run(until=end)
    return sim


def _draw(sim: dosim.Simulation, fig: Figure) -> dict[str, Any]:
    fig.subplots_adjust(left=0.12, right=0.82, top=0.93, bottom=0.1, hspace=0.55)
    top, bottom = fig.subplots(2, 1, height_ratios=(1, 2))
    plot.lifecycle_timeline(sim, ax=top)
    top.set_xlim(0, sim.now / SECOND)   # the same time axis as the bill below
    life = sim.trace.lifecycle
    _billed_curve(bottom, life, sim)
    events = sim.trace.events
    meters = sim.meters.iloc[0]
    hibernated = life.loc[life['state'] == 'hibernated']
    return {
        'duration_gb_s': round(float(meters['duration_gb_s']), 4),
        'constructor_runs': int((events['kind'] == 'constructor').sum()),
        'messages_in': int(meters['ws_messages_in']),
        'auto_responses': int((events['kind'] == 'websocket_auto_response').sum()),
        'hibernated_pct': round(100 * float((hibernated['end_ms'] - hibernated['start_ms']).sum())
                                / sim.now, 1),
        'billed_requests': round(float(meters['billed_requests']), 2),
    }


def _billed_curve(ax: Axes, life: Any, sim: dosim.Simulation) -> float:
    """The duration billed so far, over time: it climbs only in billed states."""
    billed = ['active', 'idle'] + (['idle_hibernatable'] if sim.config.bill_hibernatable_idle
                                   else [])
    rows = life[life['state'].isin(billed)].sort_values('start_ms')
    per_ms = sim.config.billed_memory_mb / 1000 / 1000
    start, end = rows['start_ms'].to_numpy(float), rows['end_ms'].to_numpy(float)
    after = np.cumsum((end - start) * per_ms)
    before = after - (end - start) * per_ms
    t = np.concatenate([[0.0], np.ravel(np.column_stack([start, end])), [sim.now]]) / SECOND
    y = np.concatenate([[0.0], np.ravel(np.column_stack([before, after])),
                        [after[-1] if after.size else 0.0]])
    ax.plot(t, y, color=OKABE_ITO['vermillion'], linewidth=1.8, label='billed so far')
    ax.fill_between(t, y, color=OKABE_ITO['vermillion'], alpha=0.15)
    ax.set_xlim(0, sim.now / SECOND)
    ax.set_ylim(bottom=0, top=max(float(y[-1]) * 1.15, 0.01))
    ax.set_xlabel('time (s)')
    ax.set_ylabel('billed duration (GB-s)')
    ax.set_title(f'Billed duration: {y[-1]:.3g} GB-s in {sim.now / 60_000:g} min')
    ax.grid(True, color=GRID)
    ax.set_axisbelow(True)
    return float(y[-1])


def hibernation(*, seed: int = 0, debounce_s: float = 0.25, **values: Any) -> Explorer:
    """A chat room with three users taking turns to send a heartbeat every
    ``idle_gap_s`` seconds (and a chat message every 2 minutes), over ``socket``
    (``'hibernatable'``/``'standard'``) sockets, with or without an ``auto_response``: the
    room's lifecycle (top) and the duration billed so far (bottom)."""
    return Explorer(
        'hibernation', CONTROLS, _simulate, _draw, values=values, seed=seed,
        debounce_s=debounce_s, figsize=(10.0, 5.5),
        intro='<b>Hibernation.</b> An idle room with hibernatable sockets sleeps after 10 s '
              'and is billed only while it handles a message. Compare standard sockets, '
              'and gaps below and above 10 s.',
        labels={'duration_gb_s': 'billed GB-s', 'hibernated_pct': 'hibernated (%)'},
    )
