"""Tests of the offline gazetteer (optimizer.locate)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from optimizer.inputs import load_inputs
from optimizer.locate import Gazetteer, default_gazetteer, locate_rows

# The shared data folder sits beside the checkout, on developer machines and in CI.
INC5000 = Path(__file__).resolve().parents[2] / "shared" / "data" / "scenarios" / "inc5000-2014"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return default_gazetteer()


def zip_record(zip_code, city, lat, lon, *, state="MA", kind="STANDARD", active=True, acceptable=()):
    return {
        "zip_code": zip_code, "city": city, "acceptable_cities": list(acceptable), "state": state,
        "lat": str(lat), "long": str(lon), "active": active, "zip_code_type": kind, "country": "US",
    }


@pytest.mark.parametrize(
    ("city", "state", "canonical", "note"),
    [
        ("St. Louis", "MO", "Saint Louis", "city 'St. Louis' matched as 'Saint Louis'"),
        ("ST LOUIS", "mo", "Saint Louis", "city 'ST LOUIS' matched as 'Saint Louis'"),
        ("saint  louis", "Missouri", "Saint Louis", ""),
        ("Ft. Lauderdale", "FL", "Fort Lauderdale", "city 'Ft. Lauderdale' matched as 'Fort Lauderdale'"),
        ("Mt. Vernon", "NY", "Mount Vernon", "city 'Mt. Vernon' matched as 'Mount Vernon'"),
        ("Austin, TX", "", "Austin", "city 'Austin, TX' read as 'Austin' in state TX"),
        ("Austin, Texas", "", "Austin", "city 'Austin, Texas' read as 'Austin' in state TX"),
        ("Charlotte, NC", "NC", "Charlotte", "city 'Charlotte, NC' read as 'Charlotte'"),
        ("Elk Grove Village IL", "IL", "Elk Grove Village", "city 'Elk Grove Village IL' read as 'Elk Grove Village'"),
        ("San Francisco,", "CA", "San Francisco", ""),
        ("O'Fallon", "IL", "O Fallon", ""),
        ("N. Charleston", "SC", "North Charleston", "city 'N. Charleston' matched as 'North Charleston'"),
        ("Pittsburg", "PA", "Pittsburgh", "city 'Pittsburg' matched 'Pittsburgh' (one-letter typo)"),
        ("Seatle", "WA", "Seattle", "city 'Seatle' matched 'Seattle' (one-letter typo)"),
        ("Jersey Cty", "NJ", "Jersey City", "city 'Jersey Cty' matched 'Jersey City' (one-letter typo)"),
        ("Housotn", "TX", "Houston", "city 'Housotn' matched 'Houston' (swapped letters)"),
    ],
)
def test_city_normalization(gazetteer, city, state, canonical, note):
    found = gazetteer.by_city(city, state, "US")
    expected = gazetteer.by_city(canonical, state or "TX", "US")
    assert found is not None
    assert expected is not None
    assert found[:2] == expected[:2]
    assert found[2] == note


@pytest.mark.parametrize(
    ("city", "state", "note"),
    [
        ("Ustin", "TX", "city 'Ustin' not found in TX; one letter away from 'Austin' and 'Justin', so no match was made"),
        ("Nework", "NY", "city 'Nework' not found in NY; one letter away from 'New York' and 'Newark', so no match was made"),
        ("Houstonnn", "TX", "city 'Houstonnn' not found in TX"),
        ("Boston", "", "city 'Boston' has no state; give the state column or write the city as 'City, ST'"),
        ("Boston", "XX", "state 'XX' is not a US state or territory code"),
        ("Springfield, IL", "MO", "city 'Springfield, IL' not found in MO"),
        ("Toronto", "ON", "state 'ON' is not a US state or territory code"),
    ],
)
def test_city_not_matched(gazetteer, city, state, note):
    assert gazetteer.by_city(city, state, "US") is None
    assert gazetteer.match_city(city, state, "US").note == note


def test_city_outside_us(gazetteer):
    assert gazetteer.match_city("Toronto", "ON", "CA").note == "no offline gazetteer for country CA; give lat and lon"


def test_territory_as_country(gazetteer):
    assert gazetteer.by_city("San Juan", "", "PR") == gazetteer.by_city("San Juan", "PR", "US")
    assert gazetteer.by_city("San Juan", "", "PR") is not None


@pytest.mark.parametrize("code", ["02116", "2116", "2116.0", "02116-1234"])
def test_postal_code_lookup(gazetteer, code):
    assert gazetteer.by_postal_code(code, "US") == (42.3506, -71.0769)


@pytest.mark.parametrize(("code", "country"), [("99999", "US"), ("ABCDE", "US"), ("02116", "CA"), ("M5V 2T6", "CA")])
def test_postal_code_not_found(gazetteer, code, country):
    assert gazetteer.by_postal_code(code, country) is None


def test_us_boxes_cover_regions(gazetteer):
    boxes = gazetteer.country_boxes("US")
    assert len(boxes) == 6
    for lat, lon in [(42.36, -71.06), (61.2, -149.9), (21.3, -157.8), (18.47, -66.1), (13.47, 144.75), (-14.27, -170.7)]:
        assert any(b[0] <= lat <= b[2] and b[1] <= lon <= b[3] for b in boxes), (lat, lon)
    assert gazetteer.country_boxes("CA") == []
    assert len(gazetteer.country_boxes("PR")) == 1


def test_city_mean_prefers_standard_zips():
    gazetteer = Gazetteer([
        zip_record("01001", "Springfield", 42.0, -72.0),
        zip_record("01002", "Springfield", 42.2, -72.4),
        zip_record("01003", "Springfield", 50.0, -60.0, kind="PO BOX"),
        zip_record("01004", "Springfield", 49.0, -61.0, active=False),
        zip_record("01005", "Boxville", 41.0, -71.0, kind="PO BOX"),
        zip_record("01006", "Nowhere", 0, 0),
    ])
    assert gazetteer.by_city("Springfield", "MA", "US") == (42.1, -72.2, "")
    assert gazetteer.by_city("Boxville", "MA", "US") == (41.0, -71.0, "")
    assert gazetteer.by_city("Nowhere", "MA", "US") is None
    assert gazetteer.by_postal_code("01006", "US") is None


def test_acceptable_city_names():
    gazetteer = Gazetteer([
        zip_record("01001", "Boston", 42.0, -71.0, acceptable=["Back Bay"]),
        zip_record("01002", "Back Bay", 43.0, -72.0, active=False),
    ])
    assert gazetteer.by_city("Back Bay", "MA", "US") == (43.0, -72.0, "")
    assert gazetteer.by_city("Boston", "MA", "US") == (42.0, -71.0, "")


def test_typo_aliases_of_one_city_are_unique():
    gazetteer = Gazetteer([
        zip_record("08030", "Gloucester City", 39.9, -75.1, state="NJ", acceptable=["Gloucester Cty"]),
        zip_record("08031", "Bellmawr", 39.8, -75.0, state="NJ"),
    ])
    assert gazetteer.by_city("Gloucester Ciy", "NJ", "US") == (39.9, -75.1, "city 'Gloucester Ciy' matched 'Gloucester City' (one-letter typo)")


def test_locate_rows_statuses(gazetteer):
    frame = pd.DataFrame({
        "lat": [40.0, math.nan, math.nan, math.nan, math.nan],
        "lon": [-75.0, math.nan, math.nan, math.nan, math.nan],
        "postal_code": [None, "10001", None, None, None],
        "city": [None, None, "Ft. Myers", "Nowhereville", None],
        "state": [None, None, "FL", "FL", None],
        "country": ["US", "US", "US", "US", "DE"],
    })
    located = locate_rows(frame, gazetteer)
    assert list(located["located_by"]) == ["coordinates", "postal_code", "city", "not_located", "not_located"]
    assert list(located["location_note"]) == [
        "",
        "",
        "city 'Ft. Myers' matched as 'Fort Myers'",
        "city 'Nowhereville' not found in FL",
        "no offline gazetteer for country DE; give lat and lon to locate the row",
    ]
    assert (located.loc[0, "lat"], located.loc[0, "lon"]) == (40.0, -75.0)
    assert not math.isnan(located.loc[2, "lat"])
    assert "located_by" not in frame.columns


def test_inc5000_location_coverage():
    inputs = load_inputs(INC5000 / "accounts.csv", INC5000 / "reps.csv")
    located = (inputs.accounts["located_by"] != "not_located").mean()
    assert len(inputs.accounts) == 5001
    assert located >= 0.995
    assert (inputs.reps["located_by"] != "not_located").all()
