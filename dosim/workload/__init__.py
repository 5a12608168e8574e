"""Workloads: who calls which object, when, from where, and how much work each call is.

A capacity question -- "how many objects do we need?", "what does a busy hour cost?", "how
long is the queue at the hottest room?" -- needs traffic. A workload is described by small
pieces of plain data (:mod:`dosim.workload.spec`), each with a ``kind`` so that a YAML
scenario file can name it:

============  ==============================================  ===============================
family        kinds (classes)                                  answers
============  ==============================================  ===============================
arrivals      ``poisson``, ``constant``, ``on_off``,           when does the next request come?
              ``diurnal`` (:mod:`~.arrivals`)
keys          ``uniform``, ``zipf`` (:mod:`~.popularity`)      which object does it go to?
locations     ``mix`` (:mod:`~.locations`)                     where is its caller?
cost          ``constant``, ``exponential``, ``lognormal``,    how long does its handler
              ``uniform`` (:mod:`~.durations`)                 compute?
request       ``fetch``, ``rpc`` (:mod:`~.requests`)           what is sent?
clients       ``websocket`` (:mod:`~.clients`)                 who holds a WebSocket open?
============  ==============================================  ===============================

:func:`drive` and :func:`drive_websockets` start the SimPy processes that send the traffic;
every draw comes from a stream the simulation owns, so the same seed replays the same
requests. :class:`BusyObject` is a stand-in object that computes for the cost each request
carries::

    import dosim
    from dosim import workload as wl

    sim = dosim.Simulation(seed=1)
    ns = sim.namespace('BUSY', wl.BusyObject)
    wl.drive(sim, ns, arrivals=wl.Poisson(rate_per_s=200), keys=wl.ZipfKeys(50, s=1.1),
             locations=wl.LocationMix({'LHR': 2, 'IAD': 1}),
             request=wl.Fetch(cost=wl.LogNormalMs(median_ms=2, sigma=0.8)),
             duration_ms=60_000)
    sim.run(until=70_000)
    sim.trace.requests.groupby('object')['latency_ms'].describe()
"""

from __future__ import annotations

from .arrivals import Arrivals, Constant, Diurnal, OnOff, Poisson
from .busy import BusyObject
from .clients import ClientTally, WebSocketClients
from .driver import drive, drive_websockets
from .durations import ConstantMs, Duration, ExponentialMs, LogNormalMs, UniformMs
from .locations import LocationMix
from .popularity import Keys, UniformKeys, ZipfKeys
from .requests import COST_HEADER, Fetch, RequestSpec, Rpc
from .spec import FAMILIES, Spec, load

__all__ = [
    'drive',
    'drive_websockets',
    'load',
    'Poisson',
    'Constant',
    'OnOff',
    'Diurnal',
    'UniformKeys',
    'ZipfKeys',
    'LocationMix',
    'ConstantMs',
    'ExponentialMs',
    'LogNormalMs',
    'UniformMs',
    'Fetch',
    'Rpc',
    'COST_HEADER',
    'WebSocketClients',
    'ClientTally',
    'BusyObject',
    'Arrivals',
    'Keys',
    'Duration',
    'RequestSpec',
    'Spec',
    'FAMILIES',
]
