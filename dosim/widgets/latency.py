"""An explorer of latency between objects: where they live, and waiting for many at once.

A client calls a :class:`~dosim.models.Relay`, which posts one message to *fan_out*
:class:`~dosim.models.MessagingAgent` objects at once and answers when every agent has. Two
hops, drawn as two latency curves:

* **client → relay**: the client's round trip to the relay, *including* the whole fan-out;
* **relay → agent**: each of the relay's calls to one agent.

An object lives where it was placed, for good: in the data centre nearest its first caller,
or in the region its location hint names (``sam``, ``afr`` and ``me`` host no objects: their
objects go to ``enam``, ``weur`` and ``eeur``). A message takes the great-circle distance
over fibre (2/3 of light speed, routes 1.5x longer) plus 1 ms, plus a little jitter. So a
relay far from its client adds the distance twice to every call, and a fan-out to agents
spread over the world waits for the farthest one: its latency is the *maximum* of the
agents', not their average.

Before the rounds that are measured, one warm-up fan-out creates every object: the first
call to an object made from a name also waits for a worldwide uniqueness check (about
200 ms), once per name. Its latency is reported as ``first_round_ms``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pandas as pd

import dosim

from .. import plot
from ..geo import REGIONS, load_locations
from ..models import MessagingAgent, Relay
from ._controls import Choice, Number
from ._explorer import Explorer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['object_latency']

PLACES = tuple(load_locations())
HINTS = ('none', *REGIONS)
HOPS = ('client → relay', 'relay → agent')

CONTROLS = (
    Choice('client', 'client in', 'IAD', options=PLACES, help='the data centre of the client'),
    Choice('relay_hint', 'relay hint', 'none', options=HINTS,
           help='none: placed nearest its first caller (the client)'),
    Choice('agents_hint', 'agents hint', 'none', options=(*HINTS, 'spread'),
           help='none: nearest their first caller (the relay); spread: agent i in region i'),
    Number('fan_out', 'fan-out (agents)', 8, low=1, high=30),
    Number('rounds', 'rounds measured', 10, low=1, high=40),
)


def _hint(choice: str, i: int) -> str | None:
    if choice == 'none':
        return None
    return REGIONS[i % len(REGIONS)] if choice == 'spread' else choice


def _simulate(values: dict[str, Any]) -> dosim.Simulation:
    sim = dosim.Simulation(seed=values['seed'])
    agents = sim.namespace('AGENTS', MessagingAgent)
    relays = sim.namespace('RELAY', Relay)
    names = [f'agent-{i}' for i in range(values['fan_out'])]
    for i, name in enumerate(names):   # a hint counts on the first get() of an id
        agents.get_by_name(name, _hint(values['agents_hint'], i))
    relay = relays.get_by_name('relay', _hint(values['relay_hint'], 0),
                               client_location=values['client'])

    def client() -> Generator[Any, Any, None]:
        for _ in range(values['rounds'] + 1):   # the first round is the warm-up
            yield relay.fan_out(names, 'hello')

    sim.process(client())
    sim.run()
    return sim


def _hops(sim: dosim.Simulation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The measured requests (after the warm-up round), with a ``hop`` column; and the
    warm-up's."""
    requests = sim.trace.requests
    first = requests[requests['caller'] == 'client']['received_ms'].min()
    measured = requests[requests['sent_ms'] >= first].copy()
    measured['hop'] = measured['caller'].map({'client': HOPS[0]}).fillna(HOPS[1])
    return measured, requests[requests['sent_ms'] < first]


def _draw(sim: dosim.Simulation, fig: Figure) -> dict[str, Any]:
    fig.subplots_adjust(left=0.07, right=0.88, top=0.9, bottom=0.12, wspace=0.3)
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    measured, warmup = _hops(sim)
    for hop in HOPS:
        plot.latency_cdf(measured[measured['hop'] == hop], ax=left, label=hop)
    _log_if_wide(left, measured['latency_ms'])
    plot.latency_breakdown(measured, by='hop', ax=right)
    right.tick_params(axis='x', labelsize=8)
    where = _placements(sim)
    fig.suptitle(f'relay in {where["relay"]}; agents in {", ".join(where["agents"])}',
                 fontsize=10)
    p50 = measured.groupby('hop')['latency_ms'].median()
    client_rows = warmup[warmup['caller'] == 'client']
    return {
        'relay_at': where['relay'],
        'agents_at': where['agents'],
        'p50_client_relay_ms': round(float(p50[HOPS[0]]), 2),
        'p50_relay_agent_ms': round(float(p50[HOPS[1]]), 2),
        'max_relay_agent_ms': round(float(measured.loc[measured['hop'] == HOPS[1],
                                                       'latency_ms'].max()), 2),
        'first_round_ms': round(float(client_rows['latency_ms'].iloc[0]), 2),
    }


def _log_if_wide(ax: Axes, latency: Any) -> None:
    """A log latency axis when the latencies span more than a factor of ten, so that a
    6 ms hop and a 250 ms hop both stay readable."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if latency.max() > 10 * latency.min():
        ax.set_xscale('log')
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f'{v:g}'))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title('Latency CDF by hop (log scale)')
    else:
        ax.set_title('Latency CDF by hop')


def _placements(sim: dosim.Simulation) -> dict[str, Any]:
    """Where the relay and the agents were placed (IATA codes)."""
    relay = next(iter(sim.namespaces['RELAY'].actors.values())).location.iata
    agents = [a.location.iata for a in sim.namespaces['AGENTS'].actors.values()
              if a.location is not None]
    return {'relay': relay, 'agents': sorted(set(agents), key=agents.index)}


def object_latency(*, seed: int = 0, debounce_s: float = 0.25, **values: Any) -> Explorer:
    """A client in ``client`` calls a relay (``relay_hint``) that fans out to ``fan_out``
    agents (``agents_hint``: a region, ``'none'`` or ``'spread'``), ``rounds`` times: the
    latency CDF of each hop (left) and where its time goes (right)."""
    return Explorer(
        'object_latency', CONTROLS, _simulate, _draw, values=values, seed=seed,
        debounce_s=debounce_s, figsize=(11.0, 4.8),
        intro='<b>Latency between objects.</b> Objects live where they were first called '
              'from, or where their hint says. A fan-out waits for its farthest agent: try '
              '<i>spread</i>, then move the client.',
        labels={'relay_at': 'relay in', 'agents_at': 'agents in',
                'p50_client_relay_ms': 'p50 client→relay (ms)',
                'p50_relay_agent_ms': 'p50 relay→agent (ms)',
                'max_relay_agent_ms': 'max relay→agent (ms)',
                'first_round_ms': 'first round (ms)'},
    )
