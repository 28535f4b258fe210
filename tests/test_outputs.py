"""Tests of optimizer.outputs: territory GeoJSON, the offline HTML map and the PNG map."""

from __future__ import annotations

import itertools
import json
import re

import geopandas
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from optimizer.outputs import geojson_dict, rep_colours, write_map_html, write_map_png, write_territories_geojson
from optimizer.outputs.mapview import _hex_to_lab, _lab_distance
from optimizer.regions import build_territories


def reject_constant(name: str):
    raise ValueError(f"non-strict JSON constant {name}")


def signed_area(ring: list[list[float]]) -> float:
    """Shoelace area of a closed ring: positive when counter-clockwise."""
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:]))


@pytest.fixture
def plan():
    """Three reps in Kansas: r1 and r2 have accounts, r3 has none; one account is not located."""
    accounts = pd.DataFrame({
        "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
        "name": ["Acme <b>Tools</b>", "Bolt & Nut", "Cog \"Works\"", "Dyna", "Lost Inc", "Free Agent"],
        "rep_id": ["r1", "r1", "r2", "r2", "r2", None],
        "tier": [1, 2, 3, 1, 2, 3],
        "potential": [100_000.0, 50_000.0, 75_000.0, 20_000.0, 10_000.0, 5_000.0],
        "lat": [38.0, 38.5, 38.0, 38.6, np.nan, 38.3],
        "lon": [-98.0, -97.6, -96.5, -96.9, np.nan, -97.2],
    })
    reps = pd.DataFrame({
        "rep_id": ["r1", "r2", "r3"],
        "name": ["Ann <script>alert(1)</script>", "Bo", "Cy"],
        "lat": [38.2, 38.2, 38.9],
        "lon": [-97.9, -96.6, -97.0],
    })
    metrics = {
        "r1": {"potential": 150_000.0, "accounts": np.int64(2), "utilisation": 0.8, "mean_distance_km": 12.5,
               "empty": False},
        "r2": {"potential": 105_000.0, "accounts": 3, "utilisation": float("nan"), "mean_distance_km": float("inf"),
               "empty": False},
        "r3": {"potential": 0.0, "accounts": 0, "utilisation": 0.0, "mean_distance_km": None, "empty": True},
    }
    territories = build_territories(accounts, reps)
    return territories, accounts, reps, metrics


# --- GeoJSON --------------------------------------------------------------------------------------------


def test_geojson_strict_and_complete(plan, tmp_path):
    territories, _accounts, reps, metrics = plan
    path = write_territories_geojson(territories, metrics, reps, tmp_path / "territories.geojson")
    collection = json.loads(path.read_text(encoding="utf-8"), parse_constant=reject_constant)

    assert collection["type"] == "FeatureCollection"
    assert "crs" not in collection
    assert [feature["properties"]["rep_id"] for feature in collection["features"]] == ["r1", "r2", "r3"]

    r1, r2, r3 = collection["features"]
    assert r1["properties"]["name"] == "Ann <script>alert(1)</script>"
    assert r1["properties"]["accounts"] == 2
    assert r1["properties"]["area_km2"] == pytest.approx(territories["area_km2"].iloc[0])
    assert r2["properties"]["utilisation"] is None
    assert r2["properties"]["mean_distance_km"] is None
    assert r3["geometry"] is None
    assert r3["properties"]["area_km2"] is None
    assert r3["properties"]["empty"] is True


def test_geojson_rfc7946_orientation():
    # A clockwise exterior with a counter-clockwise hole: both must be turned around.
    exterior = [(0, 0), (0, 2), (2, 2), (2, 0), (0, 0)]
    hole = [(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5), (0.5, 0.5)]
    territories = geopandas.GeoDataFrame(
        {"rep_id": ["r1"], "area_km2": [1.0], "accounts_outside": [0]},
        geometry=[Polygon(exterior, [hole])], crs="EPSG:4326",
    )
    collection = geojson_dict(territories, {}, pd.DataFrame({"rep_id": ["r1"], "name": ["Ann"]}))

    outer_ring, inner_ring = collection["features"][0]["geometry"]["coordinates"]
    assert signed_area(outer_ring) > 0
    assert signed_area(inner_ring) < 0


def test_geojson_coordinates_six_decimals(plan, tmp_path):
    territories, _accounts, reps, metrics = plan
    text = write_territories_geojson(territories, metrics, reps, tmp_path / "t.geojson").read_text(encoding="utf-8")
    collection = json.loads(text)

    numbers = re.findall(r"-?\d+\.(\d+)", json.dumps([f["geometry"] for f in collection["features"]]))
    assert numbers
    assert max(len(decimals) for decimals in numbers) <= 6
    for feature in collection["features"]:
        if feature["geometry"] is None:
            continue
        for polygon in feature["geometry"]["coordinates"] if feature["geometry"]["type"] == "MultiPolygon" else [
            feature["geometry"]["coordinates"]
        ]:
            assert signed_area(polygon[0]) > 0
            for ring in polygon[1:]:
                assert signed_area(ring) < 0
            for ring in polygon:
                for lon, lat in ring:
                    assert -180 <= lon <= 180
                    assert -90 <= lat <= 90


def test_geojson_fixed_property_not_overwritten(plan, caplog):
    territories, _accounts, reps, metrics = plan
    metrics = {**metrics, "r1": {**metrics["r1"], "rep_id": "spoofed"}}
    collection = geojson_dict(territories, metrics, reps)

    assert collection["features"][0]["properties"]["rep_id"] == "r1"
    assert "spoofed" not in json.dumps(collection)
    assert "fixed property" in caplog.text


# --- HTML map -------------------------------------------------------------------------------------------


def test_html_offline_and_escaped(plan, tmp_path):
    territories, accounts, reps, metrics = plan
    path = write_map_html(territories, accounts, reps, metrics, tmp_path / "map.html", title="Plan <A> & B")
    document = path.read_text(encoding="utf-8")

    assert "<svg" in document
    assert "http://" not in document
    assert "https://" not in document
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(//|[a-z]+:)""", document, flags=re.IGNORECASE)
    assert "<link" not in document
    assert "@import" not in document
    assert "<script>alert(1)</script>" not in document
    assert "Ann &lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "Plan &lt;A&gt; &amp; B" in document
    assert "Acme &lt;b&gt;Tools&lt;/b&gt;" in document


def test_html_draws_every_part(plan, tmp_path):
    territories, accounts, reps, metrics = plan
    document = write_map_html(territories, accounts, reps, metrics, tmp_path / "map.html", title="t").read_text(
        encoding="utf-8"
    )

    assert document.count('class="territory"') == 2
    assert document.count('class="account"') == 5
    assert document.count('class="home"') == 3
    assert "1 not located and not drawn" in document
    assert document.count("<tr data-rep=") == 3
    assert "potential (USD)" in document
    assert "area (km2)" in document
    assert "mean distance (km)" in document


def test_html_without_any_location(tmp_path):
    accounts = pd.DataFrame({"account_id": ["a1"], "name": ["X"], "rep_id": [None], "tier": [1], "potential": [1.0],
                             "lat": [np.nan], "lon": [np.nan]})
    reps = pd.DataFrame({"rep_id": ["r1"], "name": ["Ann"], "lat": [np.nan], "lon": [np.nan]})
    territories = build_territories(accounts, reps)
    document = write_map_html(territories, accounts, reps, {}, tmp_path / "map.html", title="empty").read_text(
        encoding="utf-8"
    )

    assert "<svg" in document
    assert "1 not located and not drawn" in document


# --- PNG map and colours --------------------------------------------------------------------------------


def test_png_signature(plan, tmp_path):
    territories, accounts, reps, _metrics = plan
    path = write_map_png(territories, accounts, reps, tmp_path / "map.png", title="Plan")
    data = path.read_bytes()

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def grid_territories(count: int) -> tuple[geopandas.GeoDataFrame, pd.DataFrame]:
    rep_ids = [f"r{i:02d}" for i in range(count)]
    squares = [box(-100 + i % 10, 35 + i // 10, -99 + i % 10, 36 + i // 10) for i in range(count)]
    territories = geopandas.GeoDataFrame(
        {"rep_id": rep_ids, "area_km2": [1.0] * count, "accounts_outside": [0] * count},
        geometry=squares, crs="EPSG:4326",
    )
    reps = pd.DataFrame({"rep_id": rep_ids, "name": rep_ids, "lat": [35.5 + i // 10 for i in range(count)],
                         "lon": [-99.5 + i % 10 for i in range(count)]})
    return territories, reps


def test_png_fifty_reps_without_legend(tmp_path):
    territories, reps = grid_territories(50)
    accounts = reps.assign(account_id=reps["rep_id"] + "-a", tier=1, potential=1.0)
    path = write_map_png(territories, accounts, reps, tmp_path / "map.png", title="50 reps")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_colours_distinct_for_neighbours():
    # A CIELAB distance of about 2.3 is just noticeable; 15 is a plainly different colour.
    territories, reps = grid_territories(50)
    colours = rep_colours(territories, reps)

    assert len(set(colours.values())) == 50
    labs = [_hex_to_lab(colour) for colour in colours.values()]
    assert min(_lab_distance(first, second) for first, second in itertools.combinations(labs, 2)) >= 15
    geometries = dict(zip(territories["rep_id"], territories.geometry))
    for first, second in itertools.combinations(geometries, 2):
        if geometries[first].intersects(geometries[second]):
            distance = _lab_distance(_hex_to_lab(colours[first]), _hex_to_lab(colours[second]))
            assert distance >= 15, (first, second, colours[first], colours[second])


def test_manifest_names_only_files_in_the_folder(tmp_path):
    from optimizer.pipeline import MANIFEST, _manifest

    (tmp_path / MANIFEST).write_text("metrics.json\n../secret.txt\nsub/map.png\n\n.territory-files\n..\nunits.csv\n")

    assert _manifest(tmp_path) == {"metrics.json", "units.csv"}
    assert _manifest(tmp_path / "missing") == set()
