"""`territory districts` as a user runs it: real layers, real solves, exit codes, messages and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.geo.adjacency import build_graph
from optimizer.geo.problem import DistrictProblem, make_band
from optimizer.geo.units import read_units
from optimizer.geo.validate import district_plan_problems
from tests.geo_fixtures import GRID_UNITS, read_csv, write_accounts, write_grid, write_reps

IOWA = Path(__file__).resolve().parents[2] / "shared" / "data" / "redistricting-iowa-counties" / "IA_counties.zip"
IOWA_POPULATION = 3_046_355  # 2010 census, the sum of TOTPOP over the 99 counties
GEO_FILES = ["map.html", "map.png", "metrics.json", "territories.geojson", "units.csv"]


def territory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli", "districts", *args], capture_output=True, text=True,
                          check=False)


def read_geojson(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=pytest.fail)


def test_iowa_counties_four_territories(tmp_path):
    out = tmp_path / "iowa"
    completed = territory("--units", str(IOWA), "--unit-id", "GEOID10", "--metric", "population=TOTPOP:people",
                          "--territories", "4", "--band", "population=1%", "--time-limit", "8", "--out", str(out))

    assert completed.returncode == 0, completed.stderr
    assert sorted(path.name for path in out.iterdir()) == [".territory-files"] + GEO_FILES
    assert "population" in completed.stdout
    assert "every territory is one polygon" in completed.stdout

    units = pd.read_csv(out / "units.csv", dtype={"unit_id": str})
    layer = read_units(IOWA, id_column="GEOID10")
    assert sorted(units["unit_id"]) == sorted(layer.unit_ids)
    assert set(units["territory_id"]) == {"T1", "T2", "T3", "T4"}
    assert units["population"].sum() == IOWA_POPULATION

    features = read_geojson(out / "territories.geojson")["features"]
    assert [feature["properties"]["territory_id"] for feature in features] == ["T1", "T2", "T3", "T4"]
    by_territory = units.groupby("territory_id")
    for feature in features:
        properties = feature["properties"]
        members = by_territory.get_group(properties["territory_id"])
        assert properties["parts"] == 1
        assert feature["geometry"]["type"] == "Polygon"
        assert properties["unit_count"] == len(members)
        assert properties["population"] == members["population"].sum()
        assert properties["population_target"] == pytest.approx(IOWA_POPULATION / 4)
        assert abs(properties["population"] / (IOWA_POPULATION / 4) - 1) <= 0.01
        assert properties["area_km2"] == pytest.approx(members["area_km2"].sum(), rel=1e-6)

    metrics = read_geojson(out / "metrics.json")
    assert metrics["solver"]["status"] in ("optimal", "feasible")
    assert metrics["solver"]["max_deviation"]["population"] <= 0.01
    assert metrics["adjacency"]["components"] == [{"unit_count": 99}]

    # The plan read back from units.csv passes the solver-independent validator on the layer's own graph.
    graph, _ = build_graph(layer)
    population = layer.frame["TOTPOP"].to_numpy(float)
    problem = DistrictProblem(graph, ["T1", "T2", "T3", "T4"], [make_band("population", population, 0.01, 4, "people")])
    territory_of = dict(zip(units["unit_id"], units["territory_id"]))
    assignment = np.array([["T1", "T2", "T3", "T4"].index(territory_of[unit_id]) for unit_id in layer.unit_ids])
    assert district_plan_problems(problem, assignment) == []


def test_grid_reps_accounts_totals(tmp_path):
    grid, accounts, reps = write_grid(tmp_path), write_accounts(tmp_path), write_reps(tmp_path)
    out = tmp_path / "plan"
    completed = territory("--units", str(grid), "--accounts", str(accounts), "--reps", str(reps),
                          "--band", "potential=0%", "--lock", "D1=R1", "--move-penalty", "1000",
                          "--time-limit", "20", "--out", str(out))

    assert completed.returncode == 0, completed.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted(GEO_FILES + [".territory-files", "assignments.csv"])

    units = {row["unit_id"]: row for row in read_csv(out / "units.csv")}
    assert sorted(units) == sorted(GRID_UNITS)
    assert units["A1"]["territory_id"] == "R1"   # the home units
    assert units["D4"]["territory_id"] == "R2"
    assert units["D1"]["territory_id"] == "R1"                                            # the lock
    # Reaching D1 from A1 takes C1 and D1 from R2, and R1 must hand two units back: four moves at least,
    # and the move penalty of 1000 unit-km outweighs any distance saved by more.
    assert sum(row["moved"] == "True" for row in units.values()) == 4
    assert {row["previous_territory_id"] for row in units.values()} == {"R1", "R2"}

    features = read_geojson(out / "territories.geojson")["features"]
    for feature in features:
        properties = feature["properties"]
        assert properties["unit_count"] == 8
        assert properties["potential"] == 800
        assert properties["potential_target"] == 800
        assert properties["potential_deviation_pct"] == 0
        assert properties["accounts"] == 8
        assert properties["workload_hours"] == 80
        assert properties["tier_1"] == 1
        assert properties["parts"] == 1
        assert properties["rep_id"] == properties["territory_id"]
    assert [feature["properties"]["home_unit_id"] for feature in features] == ["A1", "D4"]

    assignments = {row["account_id"]: row for row in read_csv(out / "assignments.csv")}
    assert len(assignments) == 18
    for unit_id in GRID_UNITS:
        assert assignments[f"ACC-{unit_id}"]["rep_id"] == units[unit_id]["territory_id"]
        assert assignments[f"ACC-{unit_id}"]["unit_id"] == unit_id
    assert assignments["FAR"]["rep_id"] == ""
    assert assignments["FAR"]["unit_id"] == ""
    assert assignments["LOST"]["rep_id"] == ""
    assert assignments["LOST"]["located_by"] == "not_located"
    assert sum(row["moved"] == "True" for row in assignments.values()) == 4

    metrics = read_geojson(out / "metrics.json")
    assert metrics["accounts_outside_units"] == ["FAR"]
    assert metrics["accounts_not_located"] == ["LOST"]
    assert metrics["disruption"]["units_moved"] == 4
    assert metrics["disruption"]["potential_moved"] == 400
    assert metrics["solver"]["status"] == "optimal"
    assert metrics["solver"]["gap"] == pytest.approx(0, abs=1e-6)
    assert metrics["summary"]["potential_unassigned"] == 200


# --- bad input: exit code 2, one message, nothing written ------------------------------------------------


@pytest.fixture
def grid_files(tmp_path):
    return write_grid(tmp_path), write_accounts(tmp_path), write_reps(tmp_path)


BAD_INPUT = [
    ("unknown metric", ["--territories", "2", "--band", "revenue=5%"], "metric 'revenue' is unknown"),
    ("tolerance without percent", ["--territories", "2", "--band", "population=5"],
     "the tolerance '5' is not a percentage"),
    ("connector to unknown unit", ["--territories", "2", "--connector", "A1:Z9"], "'Z9' is not a unit id of the layer"),
    ("lock of unknown unit", ["--territories", "2", "--lock", "Z9=T1"], "lock Z9=T1: 'Z9' is not a unit id of the layer"),
    ("lock to unknown territory", ["--territories", "2", "--lock", "A1=T7"],
     "lock A1=T7: 'T7' is not a territory id; give one of T1, T2"),
    ("missing id column", ["--territories", "2", "--unit-id", "GEOID"], "column GEOID: is not a column of the unit layer"),
    ("reps and territories", ["--territories", "2", "--reps", "REPS"], "give either reps"),
    ("neither reps nor territories", [], "give reps (a rep roster, one territory per rep) or territories"),
    ("weight unknown", ["--territories", "2", "--weight", "revenue"], "metric 'revenue' is unknown"),
    ("account metric without accounts", ["--territories", "2", "--band", "potential=5%"],
     "potential is a total over accounts, so give the accounts file"),
]


@pytest.mark.parametrize(("options", "message"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_exits_2(grid_files, tmp_path, capsys, options, message):
    grid, _, reps = grid_files
    out = tmp_path / "out"
    options = [str(reps) if option == "REPS" else option for option in options]

    code = main(["districts", "--units", str(grid), *options, "--time-limit", "5", "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert captured.err.startswith("error: ")
    assert "Traceback" not in captured.err
    assert not out.exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_infeasible_homes_exit_3(grid_files, tmp_path, capsys):
    grid, _, _ = grid_files
    reps = write_reps(tmp_path, homes=("B2", "B2"))
    out = tmp_path / "out"

    code = main(["districts", "--units", str(grid), "--reps", str(reps), "--out", str(out), "--time-limit", "5"])

    assert code == 3
    assert "territories R1, R2 all have their home in unit B2" in capsys.readouterr().err
    assert not out.exists()


def test_infeasible_unit_above_band_exit_3(tmp_path, capsys):
    grid = write_grid(tmp_path, population={"C3": 20_000})
    out = tmp_path / "out"

    code = main(["districts", "--units", str(grid), "--metric", "population=population:people", "--territories", "4",
                 "--band", "population=10%", "--time-limit", "5", "--out", str(out)])

    # Total 35,000 people: target 8,750 per territory, upper limit 9,625, and C3 alone has 20,000.
    error = capsys.readouterr().err
    assert code == 3
    assert "unit C3 alone has population 20,000 people, above the upper limit 9,625 people" in error
    assert not out.exists()


def test_bands_proven_infeasible_exit_3(tmp_path, capsys):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"

    # 16,000 people in 3 territories: 5,333.3 each, +-1 % is 5,280 to 5,387, and every unit has 1,000 people.
    # The one model over all 16 units proves no plan fits, so the command exits 3, not 4.
    code = main(["districts", "--units", str(grid), "--territories", "3", "--band", "population=1%",
                 "--time-limit", "5", "--out", str(out)])

    assert code == 3
    error = capsys.readouterr().err
    assert "no plan with connected territories meets every band (population=1%)" in error
    assert "the smallest largest deviation possible is population" in error
    assert not out.exists()


def test_band_without_whole_number_exit_3(tmp_path, capsys):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"

    # A 0 % band on a target of 5,333.33 people contains no whole number of people.
    code = main(["districts", "--units", str(grid), "--territories", "3", "--band", "population=0%",
                 "--time-limit", "5", "--out", str(out)])

    assert code == 3
    assert "contains no whole number" in capsys.readouterr().err
    assert not out.exists()


def test_rerun_without_accounts_drops_old_assignments(tmp_path):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"
    first = main(["districts", "--units", str(grid), "--accounts", str(write_accounts(tmp_path)), "--territories",
                  "2", "--band", "population=50%", "--time-limit", "5", "--out", str(out)])
    assert first == 0
    assert (out / "assignments.csv").exists()
    (out / "notes.txt").write_text("kept: no run wrote it\n")

    code = main(["districts", "--units", str(grid), "--territories", "2", "--band", "population=50%",
                 "--time-limit", "5", "--out", str(out)])

    assert code == 0
    assert (out / "units.csv").exists()
    assert not (out / "assignments.csv").exists()
    assert (out / "notes.txt").read_text() == "kept: no run wrote it\n"
    assert (out / ".territory-files").read_text().splitlines() == ["map.html", "map.png", "metrics.json",
                                                                     "territories.geojson", "units.csv"]
