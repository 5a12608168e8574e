"""Broadcasts in flight, column-wise: one row per broadcast, one column per client.

A chat room of 100 clients sends each message to the 99 others: 100 rooms make 60 million
deliveries an hour. :mod:`dosim.inflight` keeps each client's messages in its own queue,
which is still several Python steps per delivery. A :class:`Fanout` (one per
:class:`~dosim.sockets.SocketHub`) keeps a broadcast instead as one *row* of a matrix whose
*columns* are the hub's clients:

* ``at[row, col]`` is when the message reaches that client. Where the client is not in the
  row, it holds the client's last arrival so far, so that every column only grows: a
  client's messages arrive in the order sent (a WebSocket is one ordered stream);
* ``inc[row, col]`` says whether the client is in the row at all;
* ``last[col]`` is each client's last arrival (the one ordered stream's clamp), ``base[col]``
  its latency without jitter, ``cur[col]`` the first row not yet handed over to it.

A batch of sends (:mod:`dosim.outbox`) becomes one row with a handful of array operations:
latency, clamp and the row itself for all its clients at once. Nothing else changes: a
client's messages are handed over when someone looks, exactly as in :mod:`dosim.inflight`
(the arrival key of a message in a row is ``(at, NORMAL, event id)``, the event id reserved
when it was sent). The rules that keep the two places in step:

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

import math
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .websocket import WebSocket

__all__ = ['Fanout']

ROWS = 256   # rows of a new matrix (it doubles when trimming frees less than half)
COLUMNS = 8  # columns of a new matrix (it doubles when a client needs one more)


class Fanout:
    """The broadcasts in flight from one object to its clients (see the module docstring)."""

    __slots__ = ('at', 'base', 'clients', 'cur', 'env', 'free', 'inc', 'last', 'msgs', 'n',
                 'rows', 'unplaced', 'watched')

    def __init__(self, env: Any) -> None:
        self.env = env
        self.at = np.full((ROWS, COLUMNS), -math.inf)
        self.inc = np.zeros((ROWS, COLUMNS), dtype=bool)
        self.last = np.full(COLUMNS, -math.inf)
        self.base = np.full(COLUMNS, math.nan)
        self.cur: list[int] = []                   # per column: first row not handed over
        self.clients: list[WebSocket | None] = []  # per column: its client end (None: free)
        self.free: list[int] = []                  # columns to reuse
        self.msgs: list[Any] = []                  # per row: the message
        self.rows: list[tuple[array[int], array[int]]] = []   # per row: columns, event ids
        self.n = 0                                 # rows in use
        self.watched = 0                           # watched clients with a column
        self.unplaced = 0                          # columns whose ``base`` is not known yet

    # -- columns ----------------------------------------------------------------------------
    def join(self, server: WebSocket) -> None:
        """Give *server*'s client a column."""
        client = server.peer
        if self.free:
            col = self.free.pop()
            self.cur[col] = self.n
            self.clients[col] = client
        else:
            col = len(self.clients)
            if col == self.last.shape[0]:
                self._widen()
            self.cur.append(self.n)
            self.clients.append(client)
        self.at[:, col] = -math.inf
        self.inc[:, col] = False
        self.last[col] = client._last_arrival
        self.base[col] = math.nan
        self.unplaced += 1
        server._col = client._col = col
        client._fan = self

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
        cols = 2 * self.last.shape[0]
        rows = self.at.shape[0]
        at = np.full((rows, cols), -math.inf)
        inc = np.zeros((rows, cols), dtype=bool)
        old = self.last.shape[0]
        at[:, :old] = self.at
        inc[:, :old] = self.inc
        self.at, self.inc = at, inc
        self.last = np.concatenate([self.last, np.full(cols - old, -math.inf)])
        self.base = np.concatenate([self.base, np.full(cols - old, math.nan)])

    # -- rows -------------------------------------------------------------------------------
    def open_row(self, cols: np.ndarray) -> bool:
        """Mark *cols* in the next row; False (and nothing marked) if a column is named twice
        (its clamps then depend on each other: the batch goes one socket after the other)."""
        if self.n == self.at.shape[0]:
            self.trim()
        row = self.inc[self.n]
        row[:len(self.clients)] = False
        row[cols] = True
        if np.count_nonzero(row) != len(cols):
            row[cols] = False
            return False
        return True

    def push(self, message: Any, cols_q: array[int], eids: array[int]) -> None:
        """Close the row :meth:`open_row` marked: *message*, sent to columns *cols_q* under
        event ids *eids*, whose arrivals are now in ``last``."""
        r = self.n
        width = len(self.clients)
        self.at[r, :width] = self.last[:width]
        self.msgs.append(message)
        self.rows.append((cols_q, eids))
        self.n = r + 1

    def _eid(self, r: int, col: int) -> int:
        cols, eids = self.rows[r]
        return eids[cols.index(col)]

    def settle(self, client: WebSocket) -> None:
        """Move *client*'s messages from its column to its own queue (in order)."""
        col = client._col
        start, n = self.cur[col], self.n
        if start == n:
            return
        flight = client._flying
        for i in np.flatnonzero(self.inc[start:n, col]).tolist():
            r = start + i
            flight.at.append(float(self.at[r, col]))
            flight.eids.append(self._eid(r, col))
            flight.msgs.append(self.msgs[r])
        self.cur[col] = n

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
        the rows everyone has passed, and double the rows if that freed less than half."""
        from .inflight import catch_up_own

        n, width = self.n, len(self.clients)
        time = self.env.key[0]
        cur, clients = self.cur, self.clients
        passed = np.count_nonzero(self.at[:n, :width] < time, axis=0)
        handed = self.inc[:n, :width].copy()
        rows = np.arange(n)[:, None]
        handed &= (rows >= np.array(cur)[None, :]) & (rows < passed[None, :])
        # every handed-over message, grouped by column (row order within one): one gather
        picked = np.nonzero(handed.T)[1]
        msgs = np.empty(n, dtype=object)
        msgs[:] = self.msgs
        out = msgs[picked].tolist()
        ends = np.cumsum(np.count_nonzero(handed, axis=0)).tolist()
        begin = 0
        for col, cut in enumerate(passed.tolist()):
            end = ends[col]
            client = clients[col]
            if cut > cur[col] and client is not None:
                if end > begin:
                    if client._flying:   # its own queue comes first (and has arrived too)
                        catch_up_own(client)
                    list.extend(client.received, out[begin:end])
                cur[col] = cut
            begin = end
        self._drop(min((c for c, w in zip(cur, clients, strict=True) if w is not None), default=n))

    def _drop(self, k: int) -> None:
        n = self.n
        rows = self.at.shape[0]
        if k:
            self.at[:n - k] = self.at[k:n]
            self.inc[:n - k] = self.inc[k:n]
            del self.msgs[:k], self.rows[:k]
            self.cur = [max(0, c - k) for c in self.cur]
            self.n = n = n - k
        if 2 * n > rows:
            grow = rows
            self.at = np.concatenate([self.at, np.full((grow, self.at.shape[1]), -math.inf)])
            self.inc = np.concatenate([self.inc, np.zeros((grow, self.inc.shape[1]), bool)])
