"""Where things are, and how long light takes between them.

Cloudflare publishes no latency figures for Durable Objects, so dosim uses a physical model
with its assumptions written down (``data/network.md`` says the same in prose):

* **Places.** ``data/locations.csv`` lists a few Cloudflare data-centre cities in each of the
  eleven location-hint regions, named by their airport's IATA code (as Cloudflare names its
  data centres), with the airport's coordinates. :func:`load_locations` reads and checks it.
* **Distance.** :func:`great_circle_km` is the shortest path over the Earth's surface.
* **Latency.** :func:`one_way_ms` turns a distance into the deterministic part of one
  message's travel time: fibre speed, a route-inflation factor, and a fixed base cost.
  Random jitter is added elsewhere.
* **Placement.** An object is placed near its first caller (:func:`nearest`), or in the
  region its location hint names (:func:`hint_location`); regions that do not host objects
  send them to a neighbour (:data:`HINT_FALLBACK`).

A place is either a :class:`Location` or a plain ``(lat, lon)`` pair in degrees::

    >>> locs = load_locations()
    >>> round(great_circle_km(locs['LHR'], locs['FRA']))
    653
    >>> nearest((48.8566, 2.3522), locs.values()).iata     # central Paris
    'CDG'
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    'REGIONS',
    'Location',
    'Place',
    'load_locations',
    'great_circle_km',
    'one_way_ms',
    'nearest',
    'HINT_FALLBACK',
    'hint_location',
]

#: The location hints ``get(id, {locationHint})`` accepts, in the documentation's order;
#: ``apac-ne`` and ``apac-se`` were added on 2026-06-19.
REGIONS: tuple[str, ...] = (
    'wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'apac-ne', 'apac-se', 'oc', 'afr', 'me',
)

#: The mean radius of the Earth in km (IUGG R1 = (2a + b) / 3 of the WGS 84 ellipsoid). A
#: sphere of this radius is off from the ellipsoid by at most about 0.5 % in distance.
EARTH_RADIUS_KM = 6371.0088

# data/locations.csv is the table; dosim/_data/locations.csv links to it so that a built
# wheel carries a copy (setuptools follows the link) and installs work outside a checkout.
DEFAULT_PATH = Path(__file__).resolve().parent / '_data' / 'locations.csv'
COLUMNS = ('iata', 'city', 'country', 'region', 'lat', 'lon', 'hosts_objects')


@dataclass(frozen=True)
class Location:
    """One data centre: its IATA code, city, ISO country code, hint region, coordinates in
    degrees, and whether Durable Objects can live there."""

    iata: str
    city: str
    country: str
    region: str
    lat: float
    lon: float
    hosts_objects: bool


#: Anything with a position: a :class:`Location` or a ``(lat, lon)`` pair in degrees.
Place = Location | tuple[float, float]


# -- loading -----------------------------------------------------------------------------

def load_locations(path: str | Path | None = None) -> dict[str, Location]:
    """Read a locations CSV (default: the repository's ``data/locations.csv``) into a dict
    from IATA code to :class:`Location`, in file order.

    The header must be exactly ``iata,city,country,region,lat,lon,hosts_objects``. Every row
    is checked; a bad one raises :class:`ValueError` naming the file, the line, the field and
    the value: an IATA code that is not three capital letters or appears twice, an unknown
    region, a latitude outside [-90, 90] or longitude outside [-180, 180], or a
    ``hosts_objects`` other than ``true`` or ``false``.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    with path.open(newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise ValueError(
                f'{path} line 1: header is {header!r}, expected {",".join(COLUMNS)!r}'
            )
        locations: dict[str, Location] = {}
        first_line: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(COLUMNS):
                raise ValueError(
                    f'{path} line {line}: {len(row)} fields, expected {len(COLUMNS)}'
                )
            loc = _parse_row(dict(zip(COLUMNS, (c.strip() for c in row), strict=True)),
                             f'{path} line {line}')
            if loc.iata in locations:
                raise ValueError(
                    f'{path} line {line}: iata {loc.iata!r} is a duplicate '
                    f'(first on line {first_line[loc.iata]})'
                )
            locations[loc.iata] = loc
            first_line[loc.iata] = line
    if not locations:
        raise ValueError(f'{path}: no locations')
    return locations


def _parse_row(row: dict[str, str], where: str) -> Location:
    def bad(name: str, why: str) -> ValueError:
        return ValueError(f'{where}: {name} {row[name]!r} {why}')

    iata = row['iata']
    if not (len(iata) == 3 and iata.isascii() and iata.isalpha() and iata.isupper()):
        raise bad('iata', 'is not a three-letter upper-case IATA code')
    for name in ('city', 'country'):
        if not row[name]:
            raise bad(name, 'is empty')
    if row['region'] not in REGIONS:
        raise bad('region', f'is not a location hint; expected one of {", ".join(REGIONS)}')
    lat = _number(row, 'lat', 90.0, bad)
    lon = _number(row, 'lon', 180.0, bad)
    hosts = row['hosts_objects'].lower()
    if hosts not in ('true', 'false'):
        raise bad('hosts_objects', "is not 'true' or 'false'")
    return Location(iata, row['city'], row['country'], row['region'], lat, lon,
                    hosts == 'true')


def _number(
    row: dict[str, str], name: str, limit: float, bad: Callable[[str, str], ValueError]
) -> float:
    try:
        value = float(row[name])
    except ValueError:
        raise bad(name, 'is not a number') from None
    if not -limit <= value <= limit:   # also refuses nan
        raise bad(name, f'is out of range [{-limit:g}, {limit:g}]')
    return value


# -- distance and latency ----------------------------------------------------------------

def _latlon(place: Place) -> tuple[float, float]:
    if isinstance(place, Location):
        return place.lat, place.lon
    lat, lon = place
    return float(lat), float(lon)


def great_circle_km(a: Place, b: Place) -> float:
    """The great-circle distance between *a* and *b* in km, by the haversine formula on a
    sphere of the Earth's mean radius, 6371.0088 km::

        h = sin²(Δlat / 2) + cos(lat_a) · cos(lat_b) · sin²(Δlon / 2)
        d = 2 R · asin(√h)

    The haversine form stays accurate for short distances, where the spherical law of
    cosines loses digits to rounding.
    """
    lat1, lon1 = map(math.radians, _latlon(a))
    lat2, lon2 = map(math.radians, _latlon(b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def one_way_ms(
    a: Place,
    b: Place,
    *,
    fibre_km_per_ms: float = 200.0,
    route_inflation: float = 1.5,
    base_ms: float = 1.0,
) -> float:
    """Milliseconds for one message from *a* to *b*, without jitter::

        great_circle_km(a, b) / fibre_km_per_ms × route_inflation + base_ms

    * *fibre_km_per_ms*: light in glass fibre travels at about c / 1.5 (the core's refractive
      index is about 1.47), so about 200 km per ms, not vacuum's 300.
    * *route_inflation*: fibre does not follow great circles. Cables run along roads,
      railways and coasts, cross oceans where landing stations are, and packets follow
      peering and routing policy, not geometry. Measurements of Internet paths commonly find
      the route 1.5-2× the great-circle distance; dosim takes the low end.
    * *base_ms*: the fixed cost of one hop, paid even within one data centre: switching,
      queueing in routers and load balancers, and the runtime handing the message to the
      object. No TLS handshake is included: traffic inside Cloudflare's network reuses
      established connections.

    The defaults are those of :class:`dosim.Config` (``fibre_km_per_ms``,
    ``route_inflation`` and ``hop_base_ms``), where a simulation takes them from. Jitter is
    added on top by the network, from its own random stream.
    """
    if fibre_km_per_ms <= 0:
        raise ValueError(f'fibre_km_per_ms must be positive, got {fibre_km_per_ms!r}')
    if route_inflation < 1:
        raise ValueError(f'route_inflation must be at least 1, got {route_inflation!r}')
    if base_ms < 0:
        raise ValueError(f'base_ms must not be negative, got {base_ms!r}')
    return great_circle_km(a, b) / fibre_km_per_ms * route_inflation + base_ms


# -- placement ---------------------------------------------------------------------------

def nearest(place: Place, candidates: Iterable[Location] | Mapping[str, Location]) -> Location:
    """The data centre among *candidates* that hosts objects and is nearest to *place* by
    great-circle distance. Equal distances go to the smaller IATA code, so the answer never
    depends on the order of *candidates*. A mapping (as from :func:`load_locations`) is
    read through its values.

    This is default placement: an object is created in a data centre near the first
    ``get()`` of its id, and stays there.
    """
    pool = candidates.values() if isinstance(candidates, Mapping) else candidates
    hosting = [loc for loc in pool if loc.hosts_objects]
    if not hosting:
        raise ValueError('no candidate hosts Durable Objects')
    return min(hosting, key=lambda loc: (great_circle_km(place, loc), loc.iata))


#: Where an object hinted to a region without Durable Objects is placed instead. The docs
#: say ``sam``, ``afr`` and ``me`` host no objects and that objects hinted there spawn
#: nearby, giving one example: ``sam`` → Eastern North America. ``sam`` → ``enam`` is
#: therefore documented, and it is also what distance says: every ``sam`` city in
#: ``data/locations.csv`` is nearest to an ``enam`` data centre.
#:
#: ``afr`` → ``weur`` and ``me`` → ``eeur`` are assumptions, and distance alone does not
#: decide them (``tests/test_geo.py`` computes it). Averaged over each region's cities, the
#: nearest hosting region is ``eeur`` for both, but by under 1 % (``afr``: eeur 6,653 km,
#: weur 6,680 km; ``me``: eeur 2,747 km, apac 2,758 km), and city by city Mumbai (``apac``)
#: is nearest to Johannesburg, Cape Town, Nairobi, Dubai, Doha and Riyadh. We send ``afr``
#: to Western Europe because most of Africa's international capacity runs over submarine
#: cables that land in southern and western Europe, and ``me`` to Eastern Europe as the
#: (narrow) nearest region on average. :func:`hint_location` takes another mapping where a
#: model needs one.
HINT_FALLBACK: dict[str, str] = {'sam': 'enam', 'afr': 'weur', 'me': 'eeur'}


def hint_location(
    hint: str,
    locations: Mapping[str, Location],
    *,
    fallback: Mapping[str, str] = HINT_FALLBACK,
) -> Location:
    """The data centre an object hinted to *hint* is placed in.

    A region's objects go to the region's representative, the first listed: the first data
    centre of that region in file order that hosts objects. A region with no such data
    centre follows *fallback* (by default :data:`HINT_FALLBACK`). An unknown hint raises
    :class:`ValueError` naming it and listing the valid ones.

    Hints are best-effort and honoured only on an object's first ``get()``; that rule lives
    with the namespace, not here.
    """
    if hint not in REGIONS:
        raise ValueError(f'unknown location hint {hint!r}; valid hints: {", ".join(REGIONS)}')
    region, seen = hint, [hint]
    while True:
        for loc in locations.values():
            if loc.region == region and loc.hosts_objects:
                return loc
        if region not in fallback:
            raise ValueError(
                f'location hint {hint!r}: no data centre hosts objects in '
                f'{" -> ".join(seen)}'
            )
        region = fallback[region]
        seen.append(region)
        if seen.count(region) > 1:
            raise ValueError(f'location hint {hint!r}: fallback loop {" -> ".join(seen)}')
