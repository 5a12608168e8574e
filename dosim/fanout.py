"""Broadcasts in flight, column-wise: one row per broadcast, one column per client.

A chat room of 100 clients sends each message to the 99 others: 100 rooms make 60 million
deliveries an hour. :mod:`dosim.inflight` keeps each client's messages in its own queue,
which is still several Python steps per delivery. A :class:`Fanout` (one per
:class:`~dosim.sockets.SocketHub`) keeps a broadcast instead as one *row* of a matrix whose
*columns* are the hub's clients:

* ``at[row, col]`` is when the message reaches that client: its latency drawn, but no
  earlier than the client's messages before it, so that every column only grows (a
  WebSocket is one ordered stream). Where the client is not in the row, it holds the
  column's latest arrival before it;
* ``inc[row, col]`` says whether the client is in the row at all;
* ``last[col]`` is each client's last arrival (the one ordered stream's clamp) and
  ``base[col]`` its latency without jitter (NaN until known), both arrays, so that a batch
  reads all its columns at once; ``cur[col]`` is the first row not yet handed over to the
  client (a plain list: it is read one client at a time).

A batch of sends (:mod:`dosim.outbox`) becomes one row: its columns, event ids, latency
jitters (drawn at once, in order) and the time sent. The rows are computed and written into
the matrix many at a time, when someone needs it (:meth:`Fanout._make`): every client's
latency in a few array operations for all of them, then the clamp, as a running maximum down
each column; ``last`` is up to date once every row is written. A run that would end while
rows wait computes them first (their latest arrival keeps it going,
:class:`~dosim.simulation.Environment`).
Nothing else changes: a client's messages are handed over when someone looks, exactly as
in :mod:`dosim.inflight` (the arrival key of a message in a row is ``(at, NORMAL, event
id)``, the event id its send would have taken, :mod:`dosim.outbox`). The rules that keep
the two places in step:

* a client's messages wait in its own queue first, then in its column: a message put in its
  own queue (a single send) first moves the column's messages there (:meth:`Fanout.settle`);
* a client someone waits for in ``receive()`` is *watched*: its column is moved to its own
  queue, and later broadcasts put its messages there (its first message must be an event);
* when the matrix is full, everything that arrived (strictly before now) is handed over to
  every client at once and the rows every client has passed are dropped (:meth:`trim`);
* a socket that closes at the object frees its column (its messages move to its own queue),
  so a hub with many short connections does not grow without bound.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence
from itertools import compress, islice, pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from .heap import heappush
from .inflight import Noop, catch_up_own

if TYPE_CHECKING:
    from .websocket import WebSocket

__all__ = ['Fanout']

ROWS = 256   # rows of a new matrix (it doubles when trimming frees less than half)
COLUMNS = 8  # columns of a new matrix (it doubles when a client needs one more)

SHAPES = 512  # broadcast shapes a Fanout remembers (it forgets them all when full)


class Shape:
    """The set of columns one or more broadcasts went to, in the order sent: as a tuple
    (``key``), an array (``cols``), a mask over the matrix's columns (``mask``) and whether
    they ascend (then a row of them is written without indices, see :meth:`Fanout._make`)."""

    __slots__ = ('ascending', 'cols', 'key', 'mask')

    def __init__(self, cols: tuple[int, ...], capacity: int) -> None:
        self.key = cols
        self.cols = np.array(cols, np.intp)
        self.mask = np.zeros(capacity, dtype=bool)
        self.mask[self.cols] = True
        self.ascending = all(a < b for a, b in pairwise(cols))


#: a row as pushed: the columns of its clients (their Shape), their event ids (a range,
#: mostly), their jitters (None: the network has none) and the time sent
Row = tuple[Shape, Sequence[int], 'np.ndarray | None', float]


class Fanout:
    """The broadcasts in flight from one object to its clients (see the module docstring)."""

    __slots__ = ('at', 'base', 'clients', 'cur', 'env', 'free', 'inc', 'last', 'made', 'msgs',
                 'n', 'rows', 'shapes', 'unplaced', 'watched')

    def __init__(self, env: Any) -> None:
        self.env = env
        self.at = np.full((ROWS, COLUMNS), -math.inf)
        self.inc = np.zeros((ROWS, COLUMNS), dtype=bool)   # rows from n on are all False
        self.last = np.full(COLUMNS, -math.inf)    # per column: its last arrival
        self.base = np.full(COLUMNS, math.nan)     # per column: latency without jitter
        self.cur: list[int] = []                   # per column: first row not handed over
        self.clients: list[WebSocket | None] = []  # per column: its client end (None: free)
        self.free: list[int] = []                  # columns to reuse
        self.msgs: list[Any] = []                  # per row: the message
        self.rows: list[Row] = []                  # per row: its columns, event ids,
        #                                            jitters and time sent
        self.shapes: dict[tuple[int, ...], Shape | None] = {}   # see columns()
        self.n = 0                                 # rows in use ...
        self.made = 0                              # ... of which at and inc are written
        self.watched = 0                           # watched clients with a column
        self.unplaced = 0                          # columns whose ``base`` is not known yet

    # -- columns ----------------------------------------------------------------------------
    def join(self, server: WebSocket) -> None:
        """Give *server*'s client a column."""
        client = server.peer
        self._make()   # (rows not written yet may name this column for its last client)
        if self.free:
            col = self.free.pop()
            self.cur[col] = self.n
            self.clients[col] = client
        else:
            col = len(self.clients)
            if col == self.at.shape[1]:
                self._widen()
            self.cur.append(self.n)
            self.clients.append(client)
        self.last[col] = client._last_arrival
        self.base[col] = math.nan
        self.at[:, col] = -math.inf
        self.inc[:, col] = False
        self.unplaced += 1
        server._col = client._col = col
        client._fan = self
        self.env.joined = True

    def leave(self, server: WebSocket) -> None:
        """*server* closed at the object: its client's messages move to its own queue and its
        column is free for the next client."""
        client = server.peer
        col = server._col
        if col is None or client._fan is not self:
            return
        self.settle(client)
        client._last_arrival = float(self.last[col])
        if client._watched:
            self.watched -= 1
        if math.isnan(self.base[col]):
            self.unplaced -= 1
        client._fan = None
        server._col = client._col = None
        self.clients[col] = None
        self.free.append(col)

    def _widen(self) -> None:
        rows, old = self.at.shape
        at = np.full((rows, 2 * old), -math.inf)
        inc = np.zeros((rows, 2 * old), dtype=bool)
        at[:, :old] = self.at
        inc[:, :old] = self.inc
        self.at, self.inc = at, inc
        self.last = np.concatenate([self.last, np.full(old, -math.inf)])
        self.base = np.concatenate([self.base, np.full(old, math.nan)])
        self.shapes.clear()   # (their masks are as wide as the matrix was)

    # -- rows -------------------------------------------------------------------------------
    def columns(self, cols: list[int]) -> Shape | None:
        """The :class:`Shape` of *cols*, or None if they name a column twice (a row cannot
        hold that broadcast). A room sends to the same sets of clients again and again (all
        but the sender, in the order they joined), so the answers are remembered: looking one
        up costs a fraction of making it."""
        key = tuple(cols)
        shapes = self.shapes
        try:
            return shapes[key]
        except KeyError:
            pass
        if len(shapes) == SHAPES:
            shapes.clear()
        shape = Shape(key, self.at.shape[1]) if len(set(key)) == len(key) else None
        shapes[key] = shape
        return shape

    def push(self, message: Any, shape: Shape, eids: Sequence[int],
             jitters: np.ndarray | None, now: float) -> None:
        """One broadcast at *now*: *message* reaches column ``shape.key[i]`` (a
        :meth:`columns` answer) after its latency without jitter plus ``jitters[i]`` (none: no
        jitter), or later, behind that client's earlier messages (no column twice), under
        event id ``eids[i]``. The row is computed and written into the matrix later, with
        others (:meth:`_make`)."""
        if self.n == self.at.shape[0]:
            self.trim()
        if self.made == self.n:
            self.env.unmade[self] = None   # (made when the run would end, see Environment)
        self.msgs.append(message)
        self.rows.append((shape, eids, jitters, now))
        self.n += 1

    def _make(self) -> None:
        """Compute the rows pushed since the last call and write them into ``at`` and
        ``inc``, all at once, and bring ``last`` up to date. A row's arrivals are
        :meth:`dosim.network.Network.one_way`'s arithmetic for all its clients (latency
        without jitter, plus jitter, plus the time sent). Down each column, a running maximum
        that starts from the column's last arrival: a row's arrival is its own or the latest
        before it (the clamp), and where a column is not in a row, the latest before it.
        The latest arrival of all, if it is the latest yet, keeps the run going until it
        arrives (see :class:`dosim.inflight.Noop`).

        When every row's columns ascend (a room's clients in the order they joined), the
        rows are written whole, as a block of the matrix: each arrival is the same sum in
        the same order (latency without jitter, plus jitter, plus the time sent), and a
        row's jitters fill its mask's places in order, which is the order they were drawn.
        Otherwise each arrival is written to its place by index (:meth:`_scatter`)."""
        made, n = self.made, self.n
        if made == n:
            return
        del self.env.unmade[self]
        width = len(self.clients)
        rows = self.rows[made:n]
        if all(row[0].ascending for row in rows):
            masks = np.array([row[0].mask for row in rows])
            mask = masks[:, :width]
            if rows[0][2] is not None:
                jitters = np.zeros((n - made, width))
                jitters[mask] = np.concatenate([row[2] for row in rows])
                block = self.base[:width] + jitters
            else:
                block = np.repeat(self.base[None, :width], n - made, axis=0)
            block += np.array([row[3] for row in rows])[:, None]
            block[~mask] = -math.inf
            # the first message with the latest arrival: rows in order, columns ascending
            r, col = divmod(int(block.argmax()), width)
            self._keep_going(float(block[r, col]), made + r, col)
            self.inc[made:n] = masks
        else:
            block = self._scatter(rows, width)
        last = self.last[:width]   # (a view)
        np.maximum(block[0], last, out=block[0])
        self.at[made:n, :width] = np.maximum.accumulate(block, axis=0)
        last[:] = self.at[n - 1, :width]
        self.made = n

    def _scatter(self, rows: list[Row], width: int) -> np.ndarray:
        """The rows' arrivals (before the clamp), written by index; -inf where a column is
        not in a row. Also marks them in ``inc``."""
        counts = [len(row[0].key) for row in rows]
        cols = np.concatenate([row[0].cols for row in rows])
        arrive = self.base[cols]
        if rows[0][2] is not None:
            arrive += np.concatenate([row[2] for row in rows])
        arrive += np.repeat([row[3] for row in rows], counts)
        # the first message with the latest arrival, in the order sent
        i = int(arrive.argmax())
        for r, (row, count) in enumerate(zip(rows, counts, strict=True)):
            if i < count:
                self._keep_going(float(arrive[i]), self.made + r, row[0].key[i])
                break
            i -= count
        where = np.repeat(np.arange(len(rows)), counts)
        block = np.full((len(rows), width), -math.inf)
        block[where, cols] = arrive
        self.inc[where + self.made, cols] = True
        return block

    def _keep_going(self, top: float, r: int, col: int) -> None:
        """If *top*, the latest arrival of the rows being made (before the clamp), is the
        latest arrival yet, the run lasts until it comes: a :class:`~dosim.inflight.Noop`
        under the key of the first message that has it, row *r*'s to column *col*. (The clamp
        cannot change this answer: every earlier arrival is at most
        ``env.last_in_flight``.)"""
        env = self.env
        if top > env.last_in_flight:
            env.last_in_flight = top
            if top > env._now:   # (an earlier one has arrived: it would change nothing)
                heappush(env._queue, (top, 1, self._eid(r, col), Noop()))

    def _eid(self, r: int, col: int) -> int:
        shape, eids, _, _ = self.rows[r]
        return eids[shape.key.index(col)]

    def settle(self, client: WebSocket) -> None:
        """Move *client*'s messages from its column to its own queue (in order)."""
        col = client._col
        start, n = self.cur[col], self.n
        if start == n:
            return
        self._make()
        flight = client._flying
        for i in np.flatnonzero(self.inc[start:n, col]).tolist():
            r = start + i
            flight.at.append(float(self.at[r, col]))
            flight.eids.append(self._eid(r, col))
            flight.msgs.append(self.msgs[r])
        self.cur[col] = n

    def held(self, client: WebSocket) -> int:
        """How many messages of *client*'s column it has not been handed yet."""
        self._make()
        return int(self.inc[self.cur[client._col]:self.n, client._col].sum())

    def watch(self, client: WebSocket) -> None:
        """Someone waits for *client*'s next message: from now on its messages wait in its
        own queue (see the module docstring)."""
        if not client._watched:
            client._watched = True
            self.watched += 1
            self.settle(client)

    # -- handing over -----------------------------------------------------------------------
    def catch_up(self, client: WebSocket, time: float, priority: int, eid: int) -> None:
        """Hand *client* every message of its column whose key ``(at, NORMAL, event id)`` is
        before ``(time, priority, eid)`` (its own queue is empty)."""
        col = client._col
        start, n = self.cur[col], self.n
        if start == n:
            return
        self._make()
        column = self.at[start:n, col]
        if column[-1] < time:
            cut = n
        else:   # arrivals only grow: those before time, then ties by event id
            cut = start + int(np.searchsorted(column, time, 'left'))
            at, inc = self.at, self.inc
            while cut < n and at[cut, col] == time:
                if inc[cut, col] and (1, self._eid(cut, col)) > (priority, eid):
                    break
                cut += 1
        if cut > start:
            msgs = self.msgs
            picked = np.flatnonzero(self.inc[start:cut, col]).tolist()
            if picked:
                list.extend(client.received, [msgs[start + i] for i in picked])
            self.cur[col] = cut

    def trim(self) -> None:
        """The matrix is full: hand every client what reached it strictly before now, drop
        the rows everyone has passed, and double the rows if that freed less than half.

        The first trim after a client joined (in any room) starts with a young garbage
        collection. Its ``received`` list is about to grow by hundreds of messages at every
        trim, and while a list is in the collector's young generation, each young
        collection reads every item in it: in ``chat`` at full size, three young collections
        late in the run read tens of millions (3.8 s). Collected once now, while the lists
        are short, they move on to the middle generation, which the collector visits only
        after a hundred young collections during a run
        (:data:`~dosim.simulation.GC_MIDDLE_THRESHOLD`)."""
        env = self.env
        if env.joined:
            env.joined = False
            gc.collect(0)
        self._make()
        n, width = self.n, len(self.clients)
        time = env.key[0]
        cur, clients = self.cur, self.clients
        passed = np.count_nonzero(self.at[:n, :width] < time, axis=0).tolist()
        # which rows each client is in, column after column: a column's rows from start to
        # cut are flags[col * n + start:col * n + cut], one byte each (1: in the row)
        flags = self.inc[:n, :width].T.tobytes()
        msgs = self.msgs
        for col, cut in enumerate(passed):
            start = cur[col]
            if cut > start:
                client = clients[col]
                if client is not None:
                    mine = flags[col * n + start:col * n + cut]
                    if 1 in mine:
                        if client._flying:   # its own queue comes first (and has arrived too)
                            catch_up_own(client)
                        _hand_over(client.received, msgs, start, mine)
                    cur[col] = cut
        self._drop(min((c for c, w in zip(cur, clients, strict=True) if w is not None), default=n))

    def _drop(self, k: int) -> None:
        n = self.n
        rows = self.at.shape[0]
        if k:
            self.at[:n - k] = self.at[k:n]
            self.inc[:n - k] = self.inc[k:n]
            self.inc[n - k:n] = False
            del self.msgs[:k], self.rows[:k]
            self.cur = [max(0, c - k) for c in self.cur]
            self.n = n = n - k
            self.made -= k
        if 2 * n > rows:
            grow = rows
            self.at = np.concatenate([self.at, np.full((grow, self.at.shape[1]), -math.inf)])
            self.inc = np.concatenate([self.inc, np.zeros((grow, self.inc.shape[1]), bool)])


def _hand_over(received: list[Any], msgs: list[Any], start: int, flags: bytes) -> None:
    """Extend *received* by the messages ``msgs[start + i]`` whose ``flags[i]`` is 1. A
    client of a room is in nearly every row (all but its own messages): then whole slices
    between the few rows it is not in, which lists take in one step, else one by one."""
    gaps = flags.count(0)
    if gaps > 8:
        list.extend(received, compress(islice(msgs, start, start + len(flags)), flags))
        return
    at = 0
    for _ in range(gaps):
        gap = flags.index(0, at)
        if gap > at:
            list.extend(received, msgs[start + at:start + gap])
        at = gap + 1
    if at < len(flags):
        list.extend(received, msgs[start + at:start + len(flags)])
