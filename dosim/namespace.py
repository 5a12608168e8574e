"""Namespaces, ids and stubs: how callers reach an object.

``sim.namespace(binding, cls)`` declares a class of objects, as a ``[[durable_objects.bindings]]``
entry does in ``wrangler.toml``. From a namespace a caller makes ids (:mod:`dosim.ids`) and
*stubs*. Making a stub sends nothing and creates nothing; the object comes to life when the
first call reaches it.

A stub's calls -- ``stub.fetch(...)`` and RPC methods ``stub.<name>(*args)`` -- return SimPy
events to ``yield``. Calls made on one stub arrive in the order they were made (*E-order*);
calls on different stubs have no such guarantee. After some errors (an ``abort()``, a reset) a
stub is *broken*: every later call on it fails at once with the same error, and the caller
needs a new stub.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simpy.events import Event

from . import errors
from .actor import Actor
from .call import Call, make_request
from .context import active
from .heap import heappush
from .http import Request
from .ids import DurableObjectId
from .storage import storage_settings
from .values import clone_in, clone_out

if TYPE_CHECKING:
    from .object import DurableObject
    from .simulation import Simulation

__all__ = ['LOCATION_HINTS', 'DurableObjectNamespace', 'DurableObjectStub', 'StubLink']

LOCATION_HINTS = (
    'wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'apac-ne', 'apac-se', 'oc', 'afr', 'me'
)
STORAGE_BACKENDS = ('sqlite', 'kv')
# stub.fetch(url) builds a plain GET request field by field -- while Request has exactly the
# fields that is written for (see DurableObjectStub.fetch)
_PLAIN_GET = {name for c in Request.__mro__ for name in getattr(c, '__slots__', ())} == {
    'url', 'method', '_headers', 'body'}
_new_request = Request.__new__


class DurableObjectNamespace:
    """All objects of one class under one binding name."""

    def __init__(self, sim: Simulation, binding: str, cls: type[DurableObject],
                 storage: str = 'sqlite', unique_key: str | None = None) -> None:
        if storage not in STORAGE_BACKENDS:
            raise ValueError(f"storage must be 'sqlite' or 'kv', got {storage!r}")
        if unique_key is not None and not isinstance(unique_key, str):
            raise TypeError(f'unique_key must be a string, got {unique_key!r}')
        self.sim = sim
        self.binding = binding
        self.key = binding if unique_key is None else unique_key
        self.cls = cls
        self.storage = storage
        self.storage_settings = storage_settings(sim.config, storage)   # for each Storage
        self.actors: dict[str, Actor] = {}
        self._names: dict[str, str] = {}
        self._first_hint: dict[str, str | None] = {}   # the hint of each id's first get()

    def __repr__(self) -> str:
        return f'DurableObjectNamespace({self.binding!r}, {self.cls.__name__}, {self.storage})'

    # -- ids --------------------------------------------------------------------------------
    def id_from_name(self, name: str) -> DurableObjectId:
        """The id for *name*: always the same for the same name in this namespace."""
        if not isinstance(name, str):
            raise TypeError(f'id_from_name(name): name must be a string, got {name!r}')
        oid = DurableObjectId.from_name(self.key, name)
        self._names[str(oid)] = name
        return oid

    def new_unique_id(self) -> DurableObjectId:
        """A fresh random id, drawn from the simulation's ``'ids'`` stream."""
        bits = self.sim.streams.get('ids').getrandbits(128)
        return DurableObjectId.from_random(self.key, bits)

    def id_from_string(self, text: str) -> DurableObjectId:
        """Parse ``str(id)`` back into an id; refuses malformed ids and other namespaces'."""
        oid = DurableObjectId.parse(self.key, text)
        oid.name = self._names.get(text)
        return oid

    # -- stubs ------------------------------------------------------------------------------
    def get(self, oid: DurableObjectId, location_hint: str | None = None, *,
            client_location: str | None = None) -> DurableObjectStub:
        """A stub for the object *oid*. Nothing is sent until a call is made. The object is
        placed in the region of *location_hint* if this is the first ``get()`` of its id (a
        later hint is ignored). A client's calls leave from *client_location* (an IATA code;
        default ``Config.client_location``); an object's leave from where it is placed."""
        if not isinstance(oid, DurableObjectId):
            raise TypeError(f'get(id): id must be a DurableObjectId, got {oid!r}')
        if oid.namespace_key != self.key:
            raise TypeError(
                f'get(id): id belongs to namespace {oid.namespace_key!r}, not {self.key!r}'
            )
        if location_hint is not None and location_hint not in LOCATION_HINTS:
            raise ValueError(
                f'get(id, location_hint): unknown location hint {location_hint!r}; '
                f'use one of {", ".join(LOCATION_HINTS)}'
            )
        origin = None
        if client_location is not None:
            origin = self.sim.network.location(client_location, 'get(client_location)')
        self._first_hint.setdefault(str(oid), location_hint)
        return DurableObjectStub(self, oid, location_hint, origin)

    def get_by_name(self, name: str, location_hint: str | None = None, *,
                    client_location: str | None = None) -> DurableObjectStub:
        """Shorthand for ``get(id_from_name(name), ...)``."""
        return self.get(self.id_from_name(name), location_hint, client_location=client_location)

    # -- runtime ----------------------------------------------------------------------------
    def actor(self, oid: DurableObjectId) -> Actor:
        """The runtime record of *oid*, created on first use."""
        key = str(oid)
        actor = self.actors.get(key)
        if actor is None:
            if oid.name is None and key in self._names:
                oid = DurableObjectId(key, self.key, self._names[key])
            actor = self.actors[key] = Actor(self, oid)
        return actor


class DurableObjectStub:
    """A client for one object. ``fetch`` and RPC methods return events to ``yield``."""

    # slots: a simulation may make a stub per object (100,000 of them)
    __slots__ = ('_link', 'id', 'location_hint', 'name')

    def __init__(self, namespace: DurableObjectNamespace, oid: DurableObjectId,
                 location_hint: str | None, origin: Any = None) -> None:
        self._link = StubLink(namespace, oid, origin)
        self.id = oid
        self.name = oid.name
        self.location_hint = location_hint

    def __repr__(self) -> str:
        return f'DurableObjectStub({self._link.ns.binding}, {self.id.label})'

    # -- calls ------------------------------------------------------------------------------------
    def fetch(self, url_or_request: Any, method: str = 'GET', body: Any = None,
              headers: Any = None) -> Event:
        """Send an HTTP request; the event's value is the :class:`~dosim.Response`."""
        if type(url_or_request) is str:
            if _PLAIN_GET and method == 'GET' and body is None and headers is None:
                # Request(url), without the call: the four fields its __init__ would set
                request = _new_request(Request)
                request.url = url_or_request
                request.method = 'GET'
                request._headers = request.body = None
            else:
                request = Request(url_or_request, method, headers, body)
        else:
            request = make_request(url_or_request, method, body, headers)
        return self._link.call('fetch', request.method, (request,))

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):
            raise AttributeError(name)
        link = self._link

        def rpc(*args: Any) -> Event:
            copied = tuple(clone_out(clone_in(a, f'{name}() argument')) for a in args)
            return link.call('rpc', name, copied)

        rpc.__name__ = name
        return rpc


class StubLink:
    """A stub's side of the calls it makes: the object they go to, where they leave from,
    the stub's connection to the object's instance, and whether the stub is broken.

    It is apart from :class:`DurableObjectStub` for speed: the stub's ``__getattr__`` (RPC
    methods by name) makes every attribute access on the stub slow, and a call reads and
    updates a dozen of these. A :class:`~dosim.call.Call` keeps the link of its stub."""

    __slots__ = ('actor', 'broken_by', 'conn', 'conn_breaks', 'id', 'last_arrival', 'ns',
                 'origin', 'serial')

    def __init__(self, namespace: DurableObjectNamespace, oid: DurableObjectId,
                 origin: Any) -> None:
        self.ns = namespace
        self.id = oid
        # where a client's calls leave from (an object's leave from the object)
        self.origin = origin or namespace.sim.network.client_location
        namespace.sim._stubs += 1
        self.serial = namespace.sim._stubs   # the requests frame's 'stub' column
        self.broken_by: Any = None
        self.actor: Actor | None = None    # the object's runtime record, once called
        self.conn: Actor | None = None     # the object it last reached ...
        self.conn_breaks = 0               # ... and that object's break count then
        self.last_arrival = -math.inf

    # -- broken stubs ---------------------------------------------------------------------------
    @property
    def broken(self) -> Any:
        """The error every call on the stub fails with, or None. A reset of the object the
        stub last reached breaks it (:meth:`Actor._break_stubs`); that is looked up here,
        when asked, rather than by visiting every stub at the reset."""
        error = self.broken_by
        if error is None:
            actor = self.conn
            if actor is not None and self.conn_breaks < actor.breaks:
                error = self.broken_by = actor.break_errors[self.conn_breaks]
        return error

    def connect(self, actor: Actor) -> None:
        """A call of the stub reached *actor*: the stub is connected to its instance."""
        if self.conn is not None:
            self.broken   # noqa: B018 - settles a break of the previous connection
        self.conn = actor
        self.conn_breaks = actor.breaks

    # -- calls ------------------------------------------------------------------------------------
    def call(self, kind: str, method: str, args: tuple[Any, ...]) -> Event:
        """Make a call (``fetch`` or an RPC method) and send it; returns the caller's event."""
        actor = self.actor
        if actor is None:
            actor = self.actor = self.ns.actor(self.id)
        inv = active.invocation
        if inv is None:
            call = Call(self, actor, kind, method, args, 'client', self.origin)
        else:
            call = Call(self, actor, kind, method, args, inv.actor.label, inv.actor)
        conn = self.conn
        if self.broken_by is not None or (
                conn is not None and self.conn_breaks < conn.breaks and self.broken is not None):
            error = self.broken.copy(remote=False)
            call.answered = True
            call.reply_sent_ms = call.received_ms = call.sent_ms
            call.record(error)
            call.done.fail(error)
        elif inv is not None:
            origin = call.caller_actor = inv.actor
            origin.add_outbound(call)
            if self.ns.sim.config.pending_io_pins:
                origin.lifecycle.pin(call)
            inv.storage.when_confirmed(lambda: self.depart(call))
        else:
            self.depart(call)
        return call.done

    def depart(self, call: Call) -> None:
        """*call* leaves (from an object: once the caller's output gate let it)."""
        sim = self.ns.sim
        env = sim.env
        actor = call.actor
        now = call.departed_ms = env._now
        if actor.location is None:
            sim.network.place(actor, call.origin, self.ns._first_hint.get(str(self.id)))
        delay = sim.network.one_way(call.origin, actor.location)   # (placed: where it is)
        full = sim.trace.full
        if self.id.name is not None:
            # The worldwide uniqueness check, once per name: the first call pays it, and calls
            # sent while it is still running wait for its answer too.
            if actor.name_checked_ms is None:
                actor.name_checked_ms = now + sim.config.uniqueness_check_ms
                if full:
                    actor.event('uniqueness_check', call.rid,
                                f'{sim.config.uniqueness_check_ms:g} ms')
            wait = actor.name_checked_ms - now
            if wait > 0.0:
                delay += wait
        if sim.faults.partitions and sim.network.cut(call.origin, actor):
            if full:
                actor.event('message_lost', call.rid, 'request: partition')
            call.respond(None, errors.network_lost())
            return
        arrive = now + delay
        if arrive < self.last_arrival:   # E-order: never before the stub's previous call
            arrive = self.last_arrival
        self.last_arrival = arrive
        if full:
            actor.event('message_sent', call.rid, f'{call.kind} {call.caller}->{actor.label}')
        call.callbacks = actor.arrive   # (actor.receive,)
        heappush(env._queue, (now + (arrive - now), 1, next(env._eid), call))  # wake_after
