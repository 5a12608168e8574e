"""Geography: data-centre locations, distance, latency and placement.

Durable Objects live in Cloudflare data centres, named by airport codes and grouped into the
eleven location-hint regions. A message between two of them takes the great-circle distance
over fibre (about 200 km per ms), stretched by a route-inflation factor because cables do not
follow great circles, plus a fixed base cost. An object is placed in the hosting data centre
nearest to its first caller, or in its hinted region's first-listed data centre; ``sam``,
``afr`` and ``me`` host no objects and hand them to a neighbouring region.
"""

from __future__ import annotations

import math
import re

import pytest

from dosim import geo
from dosim.geo import Location

HEADER = 'iata,city,country,region,lat,lon,hosts_objects\n'


@pytest.fixture(scope='module')
def locs() -> dict[str, Location]:
    return geo.load_locations()


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The haversine formula, written out again so the test does not trust the module."""
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.atan2(math.sqrt(a), math.sqrt(1 - a))


# -- the data file -----------------------------------------------------------------------

def test_every_region_has_at_least_three_locations(locs):
    """Each of the eleven hint regions has 3-5 data centres; IATA codes are unique."""
    counts = dict.fromkeys(geo.REGIONS, 0)
    for loc in locs.values():
        counts[loc.region] += 1
    assert counts == {
        'wnam': 4, 'enam': 5, 'sam': 4, 'weur': 5, 'eeur': 5, 'apac': 4,
        'apac-ne': 4, 'apac-se': 4, 'oc': 4, 'afr': 4, 'me': 4,
    }
    assert min(counts.values()) >= 3
    lines = geo.DEFAULT_PATH.read_text().splitlines()[1:]
    assert len(lines) == len(locs) == 47


def test_sam_afr_and_me_host_no_objects(locs):
    """The docs say objects hinted to sam, afr or me spawn elsewhere; every other region
    hosts them."""
    assert {loc.region for loc in locs.values() if not loc.hosts_objects} == {'sam', 'afr', 'me'}
    assert all(loc.hosts_objects for loc in locs.values()
               if loc.region not in ('sam', 'afr', 'me'))


def test_a_location_is_a_frozen_record(locs):
    assert locs['LHR'] == Location('LHR', 'London', 'GB', 'weur', 51.4706, -0.4619, True)
    with pytest.raises(AttributeError):
        locs['LHR'].lat = 0.0


# -- distance ----------------------------------------------------------------------------

@pytest.mark.parametrize(('a', 'b', 'km'), [
    ('IAD', 'LHR', 5901.845247442032),
    ('SJC', 'NRT', 8276.10437795882),
])
def test_great_circle_distance_is_the_haversine_formula(locs, a, b, km):
    """On a sphere of the Earth's mean radius, 6371.0088 km."""
    pa, pb = locs[a], locs[b]
    assert geo.great_circle_km(pa, pb) == pytest.approx(km, abs=1e-9)
    assert geo.great_circle_km(pa, pb) == pytest.approx(
        haversine_km(pa.lat, pa.lon, pb.lat, pb.lon), abs=1e-9
    )
    assert geo.great_circle_km(pb, pa) == pytest.approx(km, abs=1e-9)   # symmetric


def test_distances_match_well_known_figures(locs):
    """Published great-circle distances: London Heathrow to New York JFK about 5,540 km,
    Washington Dulles to Heathrow about 5,900 km. A place may also be a (lat, lon) pair."""
    jfk = (40.6399, -73.7787)
    assert geo.great_circle_km(locs['LHR'], jfk) == pytest.approx(5540, abs=30)
    assert geo.great_circle_km(locs['IAD'], locs['LHR']) == pytest.approx(5900, abs=30)
    assert geo.great_circle_km(locs['IAD'], locs['IAD']) == 0.0


# -- latency -----------------------------------------------------------------------------

@pytest.mark.parametrize(('a', 'b', 'ms'), [
    ('IAD', 'LHR', 45.26383935581524),    # 5,901.8 km / 200 km/ms × 1.5 + 1
    ('SJC', 'NRT', 63.070782834691144),   # 8,276.1 km / 200 km/ms × 1.5 + 1
])
def test_one_way_latency_is_distance_over_fibre_inflated_plus_base(locs, a, b, ms):
    pa, pb = locs[a], locs[b]
    km = haversine_km(pa.lat, pa.lon, pb.lat, pb.lon)
    assert geo.one_way_ms(pa, pb) == pytest.approx(km / 200.0 * 1.5 + 1.0, abs=1e-9)
    assert geo.one_way_ms(pa, pb) == pytest.approx(ms, abs=1e-9)
    slower = geo.one_way_ms(pa, pb, fibre_km_per_ms=150.0, route_inflation=2.0, base_ms=0.5)
    assert slower == pytest.approx(km / 150.0 * 2.0 + 0.5, abs=1e-9)


def test_latency_grows_from_same_city_to_same_region_to_across_an_ocean(locs):
    """Within one data centre only the base cost is paid."""
    same_city = geo.one_way_ms(locs['IAD'], locs['IAD'])
    same_region = geo.one_way_ms(locs['IAD'], locs['ORD'])
    cross_ocean = geo.one_way_ms(locs['IAD'], locs['LHR'])
    assert same_city == 1.0
    assert same_city < same_region < cross_ocean
    assert same_region == pytest.approx(8.088681381722557, abs=1e-9)


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'fibre_km_per_ms': 0.0}, 'fibre_km_per_ms must be positive, got 0.0'),
    ({'route_inflation': 0.9}, 'route_inflation must be at least 1, got 0.9'),
    ({'base_ms': -1.0}, 'base_ms must not be negative, got -1.0'),
])
def test_latency_parameters_are_checked(locs, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        geo.one_way_ms(locs['IAD'], locs['LHR'], **kwargs)


# -- placement ---------------------------------------------------------------------------

@pytest.mark.parametrize(('point', 'iata'), [
    ((51.5074, -0.1278), 'LHR'),     # central London
    ((48.8566, 2.3522), 'CDG'),      # central Paris
    ((35.6762, 139.6503), 'NRT'),    # central Tokyo, not Osaka
    ((40.7128, -74.0060), 'EWR'),    # Manhattan
    ((-23.5505, -46.6333), 'ATL'),   # São Paulo: GRU hosts no objects, Atlanta is next
])
def test_nearest_hosting_data_centre(locs, point, iata):
    """Default placement: the hosting data centre nearest the first caller."""
    assert geo.nearest(point, locs).iata == iata
    assert geo.nearest(point, list(locs.values())).iata == iata


def test_nearest_breaks_ties_by_iata_code():
    """Two data centres at the same spot: the smaller code wins, whatever the order."""
    b = Location('BBB', 'B', 'XX', 'weur', 10.0, 10.0, True)
    a = Location('AAA', 'A', 'XX', 'weur', 10.0, 10.0, True)
    assert geo.nearest((0.0, 0.0), [b, a]) is a
    assert geo.nearest((0.0, 0.0), [a, b]) is a
    with pytest.raises(ValueError, match='no candidate hosts Durable Objects'):
        geo.nearest((0.0, 0.0), [Location('CCC', 'C', 'XX', 'sam', 0.0, 0.0, False)])


def test_a_hint_places_the_object_in_the_regions_first_listed_data_centre(locs):
    got = {hint: geo.hint_location(hint, locs).iata for hint in geo.REGIONS}
    assert got == {
        'wnam': 'SJC', 'enam': 'IAD', 'weur': 'LHR', 'eeur': 'WAW', 'apac': 'SIN',
        'apac-ne': 'NRT', 'apac-se': 'CGK', 'oc': 'SYD',
        # regions without objects follow HINT_FALLBACK
        'sam': 'IAD', 'afr': 'LHR', 'me': 'WAW',
    }


def test_hint_fallbacks_can_be_replaced(locs):
    assert geo.hint_location('me', locs, fallback={'me': 'apac'}).iata == 'SIN'
    with pytest.raises(ValueError, match=re.escape("hint 'me': no data centre hosts objects "
                                                   'in me')):
        geo.hint_location('me', locs, fallback={})


def test_an_unknown_hint_is_refused(locs):
    with pytest.raises(ValueError, match=re.escape(
        "unknown location hint 'eu'; valid hints: wnam, enam, sam, weur, eeur, apac, "
        'apac-ne, apac-se, oc, afr, me'
    )):
        geo.hint_location('eu', locs)


def test_what_distance_says_about_the_fallbacks(locs):
    """sam → enam is documented and distance agrees: every sam city's nearest hosting data
    centre is Atlanta. afr → weur and me → eeur are assumptions that distance does not
    decide: averaged over each region's cities, eeur is nearest for both, by under 1 %, and
    city by city Mumbai (apac) is nearest for most of them."""
    hosting = {loc.region for loc in locs.values() if loc.hosts_objects}

    def mean_km_to(region: str) -> dict[str, float]:
        cities = [loc for loc in locs.values() if loc.region == region]
        return {
            h: sum(min(geo.great_circle_km(c, d) for d in locs.values() if d.region == h)
                   for c in cities) / len(cities)
            for h in hosting
        }

    def nearest_by_city(region: str) -> dict[str, str]:
        return {c.iata: geo.nearest(c, locs).iata
                for c in locs.values() if c.region == region}

    assert nearest_by_city('sam') == {'GRU': 'ATL', 'EZE': 'ATL', 'SCL': 'ATL', 'BOG': 'ATL'}
    assert nearest_by_city('afr') == {'JNB': 'BOM', 'CPT': 'BOM', 'LOS': 'MAD', 'NBO': 'BOM'}
    assert nearest_by_city('me') == {'DXB': 'BOM', 'DOH': 'BOM', 'TLV': 'OTP', 'RUH': 'BOM'}

    def ranking(region: str) -> list[tuple[str, int]]:
        means = mean_km_to(region)
        return [(h, round(means[h])) for h in sorted(means, key=means.get)][:3]

    assert ranking('sam') == [('enam', 6641), ('wnam', 8161), ('weur', 9304)]
    assert ranking('afr') == [('eeur', 6653), ('weur', 6680), ('apac', 6838)]
    assert ranking('me') == [('eeur', 2747), ('apac', 2758), ('weur', 4171)]
    assert geo.HINT_FALLBACK == {'sam': 'enam', 'afr': 'weur', 'me': 'eeur'}


# -- validation --------------------------------------------------------------------------

GOOD = 'LHR,London,GB,weur,51.4706,-0.4619,true\n'


@pytest.mark.parametrize(('row', 'message'), [
    ('LHR,London,GB,weur,91,-0.4619,true', "line 3: lat '91' is out of range [-90, 90]"),
    ('LHR,London,GB,weur,51.47,-180.5,true', "line 3: lon '-180.5' is out of range [-180, 180]"),
    ('LHR,London,GB,weur,nan,-0.4619,true', "line 3: lat 'nan' is out of range [-90, 90]"),
    ('LHR,London,GB,weur,north,-0.4619,true', "line 3: lat 'north' is not a number"),
    ('XYZ,Nowhere,XX,mars,0,0,true', "line 3: region 'mars' is not a location hint"),
    ('LHR,London,GB,weur,51.4706,-0.4619,yes', "line 3: hosts_objects 'yes' is not 'true' or"),
    ('LHR,London,GB,weur,51.4706,-0.4619,true', "line 3: iata 'LHR' is a duplicate (first on "
                                                'line 2)'),
    ('lh1,London,GB,weur,51.4706,-0.4619,true', "line 3: iata 'lh1' is not a three-letter"),
    ('AMS,,NL,weur,52.3086,4.7639,true', "line 3: city '' is empty"),
    ('AMS,Amsterdam,NL,weur,52.3086', 'line 3: 5 fields, expected 7'),
])
def test_bad_rows_are_refused_naming_line_field_and_value(tmp_path, row, message):
    path = tmp_path / 'locations.csv'
    path.write_text(HEADER + GOOD + row + '\n')
    with pytest.raises(ValueError, match=re.escape(f'{path} {message}')):
        geo.load_locations(path)


def test_a_bad_header_or_an_empty_file_is_refused(tmp_path):
    path = tmp_path / 'locations.csv'
    path.write_text('iata,city,region,lat,lon\n' + GOOD)
    with pytest.raises(ValueError, match=re.escape(f'{path} line 1: header is')):
        geo.load_locations(path)
    path.write_text(HEADER)
    with pytest.raises(ValueError, match=re.escape(f'{path}: no locations')):
        geo.load_locations(path)


def test_a_small_file_loads_in_order(tmp_path):
    """Booleans are case-insensitive; blank lines are skipped; file order is kept."""
    path = tmp_path / 'locations.csv'
    path.write_text(HEADER + 'SIN,Singapore,SG,apac,1.3502,103.994,TRUE\n\n' + GOOD)
    locs = geo.load_locations(path)
    assert list(locs) == ['SIN', 'LHR']
    assert locs['SIN'].hosts_objects is True
    assert geo.hint_location('apac', locs).iata == 'SIN'
