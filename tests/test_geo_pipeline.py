"""The geographic pipeline in process: unit values, soft bands, current plans, connectors, ZIP units, locks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas
import pandas as pd
import pytest
from shapely.geometry import box

from optimizer.errors import ConfigError, InfeasibleError, InputError
from optimizer.geo.pipeline import geo_plan_files, plan_geographic
from optimizer.geo.request import GeoRequest, parse_band, parse_locks, parse_metric, parse_unit_pair
from optimizer.geo.validate import district_plan_problems
from tests.geo_fixtures import GRID_UNITS, read_csv, unit_box, write_accounts, write_csv, write_grid, write_reps


def checked(result):
    """Return the result after checking its plan with the solver-independent validator."""
    assert district_plan_problems(result.instance.problem, result.plan.assignment) == []
    return result


def territory_of(result) -> dict[str, str]:
    return dict(zip(result.units["unit_id"], result.units["territory_id"]))


def test_unit_values_soft_band_and_current_plan(tmp_path):
    grid = write_grid(tmp_path)
    # Households: 30 in each unit of column A, 10 elsewhere, so the current left-right split has 160 and 80.
    values = write_csv(tmp_path / "values.csv", [{"unit_id": unit_id, "households": 30 if unit_id[0] == "A" else 10}
                                                 for unit_id in GRID_UNITS])
    current = write_csv(tmp_path / "current.csv", [{"unit_id": unit_id, "territory_id": "T1" if unit_id[0] in "AB"
                                                    else "T2"} for unit_id in GRID_UNITS])
    request = GeoRequest(units=grid, unit_values=values, metrics=[parse_metric("households=households:households")],
                         territories=2, bands=[parse_band("households=soft")], current=current, move_penalty=10_000,
                         time_limit_s=20)

    result = checked(geo_plan_files(request, tmp_path / "out"))

    # A soft band is balanced first. T1 must hand 40 households to T2 and the move charge keeps the moves
    # fewest: one unit of column A and one of column B, side by side in the top or the bottom row.
    territories = {row["territory_id"]: row for row in result.metrics["territories"]}
    assert territories["T1"]["households"] == 120
    assert territories["T2"]["households"] == 120
    assert territories["T1"]["households_target"] == 120
    assert territories["T1"]["households_deviation_pct"] == 0
    moved = sorted(result.units.loc[result.units["moved"], "unit_id"])
    assert moved in (["A1", "B1"], ["A4", "B4"])
    assert result.metrics["disruption"]["units_moved"] == 2
    assert result.metrics["disruption"]["current_plan"] == "the file current.csv"
    assert territories["T2"]["units_moved_in"] == 2
    assert territories["T1"]["units_moved_out"] == 2
    assert result.metrics["metrics"]["households"]["band"] == {"hard": False, "tolerance": None}
    assert result.metrics["metrics"]["households"]["unit"] == "households"
    units = read_csv(tmp_path / "out" / "units.csv")
    assert list(units[0]) == ["unit_id", "territory_id", "previous_territory_id", "moved", "households", "area_km2"]
    assert {row["households"] for row in units} == {"10", "30"}


def test_soft_band_balances_without_penalty(tmp_path):
    grid = write_grid(tmp_path)
    values = write_csv(tmp_path / "values.csv", [{"unit_id": unit_id, "households": 30 if unit_id[0] == "A" else 10}
                                                 for unit_id in GRID_UNITS])
    request = GeoRequest(units=grid, unit_values=values, territories=2, bands=[parse_band("households=soft")],
                         time_limit_s=20)

    result = checked(plan_geographic(request))

    # 240 households: two connected halves of exactly 120 exist, such as column A with two units of B.
    assert result.plan.max_deviation["households"] == 0
    assert result.plan.status in ("optimal", "feasible")


def test_island_needs_connector(tmp_path):
    frame = geopandas.read_file(write_grid(tmp_path))
    island = geopandas.GeoDataFrame({"unit_id": ["I1"], "population": [1000]},
                                    geometry=[box(-99.55, 40.0, -99.45, 40.1)], crs="EPSG:4326")
    path = tmp_path / "with_island.geojson"
    geopandas.GeoDataFrame(pd.concat([frame, island], ignore_index=True), crs="EPSG:4326").to_file(path, driver="GeoJSON")
    request = GeoRequest(units=path, territories=2, bands=[parse_band("population=20%")], time_limit_s=20)

    with pytest.raises(InfeasibleError, match="add a connector edge"):
        plan_geographic(request)

    request.connectors = [parse_unit_pair("D1:I1", "connector")]
    result = checked(plan_geographic(request))
    owner = territory_of(result)
    assert owner["I1"] == owner["D1"]
    parts = {row["territory_id"]: row["parts"] for row in result.metrics["territories"]}
    assert parts[owner["I1"]] == 2   # connected through the ferry, drawn as two polygons
    assert result.metrics["adjacency"]["connectors_added"] == [["D1", "I1"]]
    assert result.metrics["summary"]["territories_in_several_parts"] == [owner["I1"]]


def test_barrier_splits_neighbours(tmp_path):
    request = GeoRequest(units=write_grid(tmp_path), territories=2, bands=[parse_band("population=0%")],
                         barriers=[parse_unit_pair("A1:B1", "barrier"), parse_unit_pair("A3:A4", "barrier")],
                         time_limit_s=20)

    result = checked(plan_geographic(request))

    assert result.metrics["adjacency"]["barriers_removed"] == [["A1", "B1"], ["A3", "A4"]]
    assert result.metrics["adjacency"]["edges"] == 24 - 2


def test_zip_units_from_postal_codes(tmp_path):
    # Des Moines ZIP codes; two accounts share 50309, and one account without a postal code joins by its point.
    rows = [{"account_id": f"Z{index}", "name": "", "postal_code": code, "lat": "", "lon": "", "potential": 100}
            for index, code in enumerate(["50309", "50309", "50310", "50311", "50312", "50313", "50314", "50315"])]
    rows.append({"account_id": "P1", "name": "", "postal_code": "", "lat": 41.5868, "lon": -93.6250,
                 "potential": 100})
    accounts = write_csv(tmp_path / "accounts.csv", rows)
    request = GeoRequest(accounts=accounts, territories=2, bands=[parse_band("accounts=soft")], time_limit_s=20)

    result = checked(plan_geographic(request))

    assert sorted(result.units["unit_id"]) == ["50309", "50310", "50311", "50312", "50313", "50314", "50315"]
    assignments = result.assignments.set_index("account_id")
    assert assignments.loc["Z0", "unit_id"] == "50309"
    assert assignments.loc["Z1", "unit_id"] == "50309"
    assert assignments.loc["P1", "unit_id"] in set(result.units["unit_id"])
    assert result.units.set_index("unit_id").loc["50309", "accounts"] == 2 + (assignments.loc["P1", "unit_id"] == "50309")
    assert assignments["rep_id"].notna().all()
    assert result.metrics["unit_layer"]["source"] == "Voronoi cells of 7 points"
    # The cells end 75 km around the data instead of tiling the US. The ZIP centroids lie within about
    # 10 km of each other, so the units cover more than a 75 km disc and less than a 90 km one.
    covered = result.units["area_km2"].sum()
    assert math.pi * 75.0**2 * 0.98 < covered < math.pi * 90.0**2


def test_far_rep_noted_with_zip_units(tmp_path):
    """A rep in Anchorage for Des Moines accounts is planned, and the plan's notes name it."""
    rows = [{"account_id": f"Z{index}", "name": "", "postal_code": code, "lat": "", "lon": "", "potential": 100}
            for index, code in enumerate(["50309", "50310", "50311", "50312"])]
    accounts = write_csv(tmp_path / "accounts.csv", rows)
    reps = write_csv(tmp_path / "reps.csv", [
        {"rep_id": "R1", "name": "", "lat": 41.60, "lon": -93.61, "capacity_hours": 100},
        {"rep_id": "R2", "name": "", "lat": 61.20, "lon": -149.90, "capacity_hours": 100}])
    request = GeoRequest(accounts=accounts, reps=reps, bands=[parse_band("accounts=soft")], time_limit_s=20)

    result = checked(plan_geographic(request))

    far = [note for note in result.plan.notes if note.startswith("rep R2 at (61.2000, -149.9000) lies ")]
    assert len(far) == 1
    assert far[0].endswith("check its coordinates if it does not belong there")


def test_account_locks_lock_units(tmp_path):
    accounts = write_accounts(tmp_path)
    rows = read_csv(accounts)
    for row in rows:
        if row["account_id"] == "ACC-D1":
            row["locked_owner"] = "R1"
    write_csv(accounts, rows)
    request = GeoRequest(units=write_grid(tmp_path), accounts=accounts, reps=write_reps(tmp_path),
                         bands=[parse_band("potential=0%")], time_limit_s=20)

    result = checked(plan_geographic(request))

    assert territory_of(result)["D1"] == "R1"

    request.locks = parse_locks(["D1=R2"])
    with pytest.raises(InputError, match="locks unit D1 to R1, but it is locked to R2 already"):
        plan_geographic(request)


def test_unit_values_errors_name_rows(tmp_path):
    grid = write_grid(tmp_path)
    rows = [{"unit_id": unit_id, "households": 10} for unit_id in GRID_UNITS]
    rows[2]["households"] = "ten"
    values = write_csv(tmp_path / "values.csv", rows)
    request = GeoRequest(units=grid, unit_values=values, territories=2, bands=[parse_band("households=5%")])

    with pytest.raises(InputError, match="values.csv row 4, column households: 'ten' is not a number"):
        plan_geographic(request)

    rows[2]["households"] = 10
    write_csv(values, rows[1:])
    with pytest.raises(InputError, match=r"has no row for 1 unit\(s\) of the layer \(A1\)"):
        plan_geographic(request)


def test_unit_values_other_units_ignored(tmp_path):
    # A table of more units than the layer, such as a national table for one state's counties.
    rows = [{"unit_id": unit_id, "households": 10} for unit_id in GRID_UNITS + ["Z8", "Z9"]]
    request = GeoRequest(units=write_grid(tmp_path), unit_values=write_csv(tmp_path / "values.csv", rows),
                         territories=2, bands=[parse_band("households=0%")], time_limit_s=20)

    result = checked(plan_geographic(request))

    assert "values.csv: 2 row(s) name no unit of the layer and were ignored (Z8, Z9)" in result.plan.notes
    assert [row["households"] for row in result.metrics["territories"]] == [80, 80]


def test_queen_joins_corner_units(tmp_path):
    # A checkerboard of two squares meeting at a corner: neighbours only with queen adjacency.
    path = tmp_path / "corner.geojson"
    geopandas.GeoDataFrame({"unit_id": ["A1", "B2"], "population": [1, 1]},
                           geometry=[unit_box("A1"), unit_box("B2")], crs="EPSG:4326").to_file(path, driver="GeoJSON")

    with pytest.raises(InfeasibleError, match="the units form 2 separate connected areas"):
        plan_geographic(GeoRequest(units=path, territories=1, time_limit_s=5))

    result = checked(plan_geographic(GeoRequest(units=path, territories=1, adjacency="queen", time_limit_s=5)))
    assert result.metrics["territories"][0]["parts"] == 2
    assert result.metrics["adjacency"]["edges"] == 1


def test_metric_name_taken_is_rejected(tmp_path):
    request = GeoRequest(units=write_grid(tmp_path), accounts=write_accounts(tmp_path), territories=2,
                         metrics=[parse_metric("potential=population")])

    with pytest.raises(ConfigError, match="potential is a total over the accounts already"):
        plan_geographic(request)


def test_geojson_is_rfc7946(tmp_path):
    request = GeoRequest(units=write_grid(tmp_path), territories=2, bands=[parse_band("population=0%")],
                         time_limit_s=20)
    geo_plan_files(request, tmp_path / "out")

    collection = json.loads((tmp_path / "out" / "territories.geojson").read_text(encoding="utf-8"))
    assert "crs" not in collection
    for feature in collection["features"]:
        ring = feature["geometry"]["coordinates"][0]
        # RFC 7946: exterior rings counter-clockwise, so the shoelace sum of (x2 - x1)(y2 + y1) is negative.
        assert sum((x2 - x1) * (y2 + y1) for (x1, y1), (x2, y2) in zip(ring, ring[1:])) < 0
        assert all(-180 <= x <= 180 for x, _ in ring)
        assert all(-90 <= y <= 90 for _, y in ring)


@pytest.mark.parametrize(("text", "expected"), [
    ("population=5%", ("population", 0.05)),
    ("population = 0.5 %", ("population", 0.005)),
    ("population=soft", ("population", None)),
    ("population=SOFT", ("population", None)),
])
def test_parse_band(text, expected):
    band = parse_band(text)
    assert (band.metric, band.tolerance) == (expected[0], pytest.approx(expected[1]) if expected[1] else None)


@pytest.mark.parametrize("text", ["population", "population=", "=5%", "population=5", "population=-1%",
                                  "population=2000%", "moved=5%"])
def test_parse_band_rejects(text):
    with pytest.raises(ConfigError, match="band"):
        parse_band(text)


def test_parse_locks_rejects_two_territories():
    with pytest.raises(ConfigError, match="unit A1 is locked to both R1 and R2"):
        parse_locks(["A1=R1", "A1=R2"])


def test_request_check_names_setting():
    with pytest.raises(ConfigError, match="snap_km is -1"):
        GeoRequest(units=Path("x.geojson"), territories=2, snap_km=-1).check()
    with pytest.raises(ConfigError, match="band 'population' is given more than once"):
        GeoRequest(units=Path("x.geojson"), territories=2,
                   bands=[parse_band("population=1%"), parse_band("population=soft")]).check()


def capacity_request(tmp_path: Path, capacity: dict[str, float], band: str, accounts: Path | None = None) -> GeoRequest:
    """Return a request on the grid with reps R1 and R2 at the given capacity_hours and one hard band."""
    reps = write_reps(tmp_path)
    rows = read_csv(reps)
    for row in rows:
        row["capacity_hours"] = capacity[row["rep_id"]]
    write_csv(reps, rows)
    return GeoRequest(units=write_grid(tmp_path), accounts=accounts or write_accounts(tmp_path), reps=reps,
                      bands=[parse_band(band)], time_limit_s=20)


def test_total_workload_above_capacity_is_rejected(tmp_path):
    # 16 units of one 10-hour account each: 160 hours against 70 + 70.
    request = capacity_request(tmp_path, {"R1": 70, "R2": 70}, "potential=50%")

    with pytest.raises(InfeasibleError) as caught:
        plan_geographic(request)

    assert "total workload is 160 hours but the reps' total capacity is 140 hours (20 hours short)" in caught.value.causes
    assert "add at least 20 hours of rep capacity, or lower the hours per tier" in caught.value.relaxations


def test_workload_band_stops_at_capacity(tmp_path):
    # Capacity 60 and 100 hours: targets 60 and 100 of the 160 hours, and +-20 % would allow R1 72 hours
    # (7 units). The band's upper limits are cut to the capacities, so R1 gets exactly 6 units.
    request = capacity_request(tmp_path, {"R1": 60, "R2": 100}, "workload_hours=20%")

    result = checked(plan_geographic(request))

    territories = {row["territory_id"]: row for row in result.metrics["territories"]}
    assert territories["R1"]["workload_hours"] == 60
    assert territories["R2"]["workload_hours"] == 100
    assert territories["R1"]["capacity_hours"] == 60.0
    assert territories["R1"]["utilisation"] == 1.0
    assert territories["R2"]["utilisation"] == 1.0
    assert any("upper limit is the rep's capacity_hours for 2 of 2 territories" in note
               for note in result.plan.notes)


def test_workload_above_capacity_is_noted(tmp_path):
    # A1's account needs 90 hours: 240 in all against 120 + 120. The potential band gives each rep 8 units,
    # and R1's 8 include its home A1, so R1 has at least 90 + 7 x 10 = 160 hours.
    accounts = write_accounts(tmp_path)
    rows = read_csv(accounts)
    for row in rows:
        if row["account_id"] == "ACC-A1":
            row["workload_hours"] = 90
    write_csv(accounts, rows)
    request = capacity_request(tmp_path, {"R1": 120, "R2": 120}, "potential=0%", accounts)

    result = checked(plan_geographic(request))

    notes = [note for note in result.plan.notes if note.startswith("workload above the rep's capacity_hours")]
    assert notes == ["workload above the rep's capacity_hours in 1 territory (workload hours of capacity hours: "
                     "R1 160.0 of 120.0); add a hard band on workload_hours, such as --band workload_hours=10%, "
                     "to keep every rep within capacity"]


def test_capacity_bound_band_names_capacity(tmp_path):
    # Capacity 65 and 95 hours for 160 hours of 10-hour units: R1 would need exactly 65 hours, which whole
    # units cannot give. The band that stops at capacity is infeasible, and the message names the capacity.
    request = capacity_request(tmp_path, {"R1": 65, "R2": 95}, "workload_hours=20%")

    with pytest.raises(InfeasibleError) as caught:
        plan_geographic(request)

    cause = caught.value.causes[0]
    assert ("where the workload_hours band stops at each rep's capacity_hours (160.0 hours of workload for "
            "160.0 hours of capacity, 0.0 spare)") in cause
    assert caught.value.relaxations[0] == "add rep capacity_hours: the workload_hours band cannot pass it"
