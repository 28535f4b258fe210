"""Tests of optimizer.geo.join: each account into exactly one unit, with a fixed rule for border points."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from optimizer.errors import InputError
from optimizer.geo.join import join_accounts
from optimizer.geo.units import read_units

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IOWA_SHAPEFILE = DATA / "redistricting-iowa-counties" / "IA_counties.zip"


def read_layer(tmp_path: Path, units: dict[str, shapely.Geometry]):
    """Write {unit id: geometry} as a GeoJSON file and read it back as a unit layer."""
    frame = geopandas.GeoDataFrame({"unit_id": list(units)}, geometry=list(units.values()), crs="EPSG:4326")
    path = tmp_path / "units.geojson"
    frame.to_file(path)
    return read_units(path)


def make_accounts(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """Build an accounts frame from (account_id, lon, lat) rows."""
    return pd.DataFrame({"account_id": [row[0] for row in rows], "lon": [row[1] for row in rows],
                         "lat": [row[2] for row in rows]})


def units_by_account(result) -> dict[str, str | None]:
    return dict(zip(result.accounts["account_id"], result.accounts["unit_id"]))


@pytest.fixture
def grid_layer(tmp_path):
    # A 2 x 2 grid written in an order that is not the id order.
    return read_layer(tmp_path, {"d": box(1, 1, 2, 2), "b": box(1, 0, 2, 1), "c": box(0, 1, 1, 2),
                                 "a": box(0, 0, 1, 1)})


def test_inside_points_join_their_unit(grid_layer):
    accounts = make_accounts([("x1", 0.5, 0.5), ("x2", 1.5, 0.5), ("x3", 0.5, 1.5), ("x4", 1.5, 1.5)])

    result = join_accounts(accounts, grid_layer)

    assert units_by_account(result) == {"x1": "a", "x2": "b", "x3": "c", "x4": "d"}
    assert result.outside == []
    assert result.unit_index.tolist() == [grid_layer.unit_ids.index(unit) for unit in "abcd"]


def test_border_point_joins_smallest_id(grid_layer):
    rows = [
        ("edge-ab", 1.0, 0.5),    # on the border of a and b
        ("edge-bd", 1.5, 1.0),    # on the border of b and d
        ("edge-cd", 1.0, 1.5),    # on the border of c and d
        ("vertex", 1.0, 1.0),     # the corner all four units share
    ]
    expected = {"edge-ab": "a", "edge-bd": "b", "edge-cd": "c", "vertex": "a"}

    for order in itertools.permutations(rows):
        result = join_accounts(make_accounts(list(order)), grid_layer)
        assert units_by_account(result) == expected, order


def test_outside_accounts_reported(grid_layer):
    accounts = make_accounts([("in", 0.5, 0.5), ("far", 10.0, 10.0), ("near", 2.001, 0.5)])

    result = join_accounts(accounts, grid_layer)

    assert result.outside == ["far", "near"]
    assert result.outside_count == 2
    assert units_by_account(result) == {"in": "a", "far": None, "near": None}
    assert result.unit_index.tolist()[1:] == [-1, -1]


def test_accounts_without_location_reported(grid_layer):
    accounts = make_accounts([("in", 0.5, 0.5), ("blank", float("nan"), float("nan"))])

    result = join_accounts(accounts, grid_layer)

    assert result.not_located == ["blank"]
    assert result.outside == []
    assert units_by_account(result)["blank"] is None


def test_other_columns_and_order_kept(grid_layer):
    accounts = make_accounts([("x2", 1.5, 0.5), ("x1", 0.5, 0.5)]).assign(potential=[200.0, 100.0])

    result = join_accounts(accounts, grid_layer)

    assert result.accounts["account_id"].tolist() == ["x2", "x1"]
    assert result.accounts["potential"].tolist() == [200.0, 100.0]


def test_latitude_out_of_range_raises(grid_layer):
    accounts = make_accounts([("ok", 0.5, 0.5), ("bad", 0.5, 91.0)])

    with pytest.raises(InputError) as caught:
        join_accounts(accounts, grid_layer)

    assert "accounts row 2, column lat: '91.0'" in str(caught.value)


def test_missing_column_raises(grid_layer):
    with pytest.raises(InputError, match="lat"):
        join_accounts(pd.DataFrame({"account_id": ["x"], "lon": [0.5]}), grid_layer)


def test_point_on_antimeridian_joins_either_side(tmp_path):
    across = Polygon([(179.5, 0), (-179.5, 0), (-179.5, 1), (179.5, 1)])
    layer = read_layer(tmp_path, {"seam": across, "south": box(-180, -1, -179, 0)})

    result = join_accounts(make_accounts([("plus", 180.0, 0.5), ("minus", -180.0, 0.5), ("edge", 180.0, 0.0)]),
                           layer)

    # "edge" lies on both units' borders, seen from longitude -180 for "south".
    assert units_by_account(result) == {"plus": "seam", "minus": "seam", "edge": "seam"}


def test_100k_accounts_in_iowa_join_in_seconds():
    layer = read_units(IOWA_SHAPEFILE, id_column="GEOID10")
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = layer.frame.total_bounds
    count = 100_000
    accounts = pd.DataFrame({"account_id": [f"A{i}" for i in range(count)],
                             "lon": rng.uniform(minx, maxx, count), "lat": rng.uniform(miny, maxy, count)})

    started = time.perf_counter()
    result = join_accounts(accounts, layer)
    seconds = time.perf_counter() - started

    # NOTE: a loose bound for a shared 2-core machine; about 0.3 s was measured on an idle one.
    assert seconds < 10.0
    joined = result.unit_index >= 0
    assert joined.sum() + result.outside_count == count
    # A sample of 2,000 accounts is checked against the polygons directly.
    sample = rng.choice(count, 2_000, replace=False)
    points = shapely.points(accounts["lon"].to_numpy()[sample], accounts["lat"].to_numpy()[sample])
    in_unit = joined[sample]
    assert shapely.covers(layer.geometries[result.unit_index[sample][in_unit]], points[in_unit]).all()
    assert not shapely.intersects(shapely.union_all(layer.geometries), points[~in_unit]).any()
