"""Geographic mode over HTTP: upload a unit layer with settings, run it as a job, poll it, read the plan."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.api.conftest import AE_REP, Service, wait_for_run
from tests.geo_fixtures import GRID_UNITS, write_accounts, write_grid, write_reps

IOWA = Path(__file__).resolve().parents[3] / "shared" / "data" / "redistricting-iowa-counties" / "IA_counties.zip"
REPS = (AE_REP, "AE-02")


def grid_files(folder: Path, homes: tuple[str, str] = ("A1", "D4")) -> dict[str, tuple[str, bytes]]:
    return {"units": ("grid.geojson", write_grid(folder).read_bytes()),
            "accounts": ("accounts.csv", write_accounts(folder, rep_ids=REPS).read_bytes()),
            "reps": ("reps.csv", write_reps(folder, homes=homes, rep_ids=REPS).read_bytes())}


def create_geo_scenario(service: Service, files: dict, form: dict, role: str = "sales_ops"):
    return service.client.post("/geo/scenarios", headers=service.headers(role), files=files, data=form)


def start_geo_run(service: Service, geo_scenario_id: int, time_limit_s: float = 20.0) -> dict:
    response = service.client.post("/geo/runs", headers=service.headers(),
                                   json={"geo_scenario_id": geo_scenario_id, "time_limit_s": time_limit_s})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == response.json()["url"]
    return response.json()


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def geo_plan(service: Service, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A solved geographic plan of the grid: two reps, potential balanced exactly, D1 locked to the west rep."""
    files = grid_files(tmp_path_factory.mktemp("grid"))
    form = {"name": "grid", "band": ["potential=0%"], "lock": [f"D1={AE_REP}"], "move_penalty": "1000"}
    response = create_geo_scenario(service, files, form)
    assert response.status_code == 201, response.text
    scenario = response.json()
    run = wait_for_run(service.client, service.headers(), start_geo_run(service, scenario["id"])["url"])
    assert run["status"] == "succeeded", run
    return {"scenario": scenario, "run": run}


def test_geo_scenario_reports_units(geo_plan):
    scenario = geo_plan["scenario"]
    assert scenario["files"] == {"units": "grid.geojson", "accounts": "accounts.csv", "reps": "reps.csv"}
    assert scenario["report"]["units"] == 16
    assert scenario["report"]["territories"] == list(REPS)
    assert scenario["report"]["accounts_outside_units"] == 1
    assert scenario["settings"]["band"] == ["potential=0%"]


def test_geo_run_writes_plan(service: Service, geo_plan):
    run = geo_plan["run"]
    assert run["geo_scenario_id"] == geo_plan["scenario"]["id"]
    assert run["scenario_id"] is None
    assert run["plan_url"] == f"/geo/plans/{run['plan_id']}"
    assert run["progress"]["phase"] == "done"

    plan = service.client.get(run["plan_url"], headers=service.headers()).json()
    assert plan["version"] == 1
    assert plan["solver"]["status"] == "optimal"
    assert plan["solver"]["max_deviation"] == {"potential": 0.0}
    assert plan["summary"]["units"] == 16
    assert plan["summary"]["accounts"] == 18

    territories = service.client.get(f"{run['plan_url']}/territories", headers=service.headers())
    assert territories.headers["content-type"] == "application/geo+json"
    features = territories.json()["features"]
    assert [feature["properties"]["territory_id"] for feature in features] == list(REPS)
    assert [feature["properties"]["potential"] for feature in features] == [800, 800]

    units = csv_rows(service.client.get(f"{run['plan_url']}/units.csv", headers=service.headers()).text)
    assert sorted(row["unit_id"] for row in units) == sorted(GRID_UNITS)
    assert {row["unit_id"]: row["territory_id"] for row in units}["D1"] == AE_REP
    assignments = csv_rows(service.client.get(f"{run['plan_url']}/assignments.csv", headers=service.headers()).text)
    assert len(assignments) == 18
    assert {row["account_id"]: row["rep_id"] for row in assignments}["FAR"] == ""

    metrics = service.client.get(f"{run['plan_url']}/metrics", headers=service.headers()).json()
    assert metrics["disruption"]["units_moved"] == 4
    assert metrics["accounts_outside_units"] == ["FAR"]
    page = service.client.get(f"{run['plan_url']}/map", headers=service.headers())
    assert page.status_code == 200
    assert page.text.startswith("<!DOCTYPE html>")

    listed = service.client.get("/runs", headers=service.headers()).json()
    assert [item["plan_url"] for item in listed if item["id"] == run["id"]] == [run["plan_url"]]


def test_geo_ae_reads_own_territory(service: Service, geo_plan):
    url = geo_plan["run"]["plan_url"]
    features = service.client.get(f"{url}/territories", headers=service.headers("ae")).json()["features"]
    assert [feature["properties"]["territory_id"] for feature in features] == [AE_REP]
    units = csv_rows(service.client.get(f"{url}/units.csv", headers=service.headers("ae")).text)
    assert units
    assert {row["territory_id"] for row in units} == {AE_REP}
    metrics = service.client.get(f"{url}/metrics", headers=service.headers("ae")).json()
    assert [row["territory_id"] for row in metrics["territories"]] == [AE_REP]

    assert service.client.get(f"{url}/territories?rep_id=AE-02", headers=service.headers("ae")).status_code == 403
    assert service.client.get(f"{url}/map", headers=service.headers("ae")).status_code == 403


BAD_SETTINGS = [
    ({"territories": "2", "band": ["revenue=5%"]}, "metric 'revenue' is unknown"),
    ({"territories": "2", "band": ["population=5"]}, "band 'population=5': the tolerance '5' is not a percentage"),
    ({"territories": "2", "connector": ["A1:Z9"]}, "'Z9' is not a unit id of the layer"),
    ({"territories": "2", "lock": ["Z9=T1"]}, "lock Z9=T1: 'Z9' is not a unit id of the layer"),
    ({"territories": "2", "unit_id": "GEOID"}, "column GEOID: is not a column of the unit layer"),
    ({}, "give reps (a rep roster, one territory per rep) or territories"),
]


@pytest.mark.parametrize(("form", "message"), BAD_SETTINGS, ids=[case[1][:30] for case in BAD_SETTINGS])
def test_geo_bad_input_422(service: Service, tmp_path, form, message):
    before = len(service.client.get("/geo/scenarios", headers=service.headers()).json())

    response = create_geo_scenario(service, {"units": ("grid.geojson", write_grid(tmp_path).read_bytes())}, form)

    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert len(service.client.get("/geo/scenarios", headers=service.headers()).json()) == before


def test_geo_reps_and_territories_422(service: Service, tmp_path):
    files = grid_files(tmp_path)

    response = create_geo_scenario(service, files, {"territories": "2"})

    assert response.status_code == 422
    assert "give either reps" in response.json()["detail"]


def test_geo_infeasible_run_explains(service: Service, tmp_path):
    response = create_geo_scenario(service, grid_files(tmp_path, homes=("B2", "B2")), {"band": ["potential=5%"]})
    assert response.status_code == 201, response.text

    run = wait_for_run(service.client, service.headers(), start_geo_run(service, response.json()["id"])["url"])

    assert run["status"] == "infeasible"
    assert any(f"territories {AE_REP}, AE-02 all have their home in unit B2" in cause for cause in run["causes"])
    assert run["plan_id"] is None


def test_geo_zipped_shapefile_upload(service: Service):
    files = {"units": ("IA_counties.zip", IOWA.read_bytes())}
    form = {"territories": "4", "unit_id": "GEOID10", "metric": ["population=TOTPOP:people"],
            "band": ["population=1%"], "time_limit_s": "30"}

    response = create_geo_scenario(service, files, form)

    assert response.status_code == 201, response.text
    report = response.json()["report"]
    assert report["units"] == 99
    assert report["metrics"] == {"population": "people"}
    assert report["territories"] == ["T1", "T2", "T3", "T4"]


def test_geo_run_cancelled_keeps_no_plan(service: Service):
    files = {"units": ("IA_counties.zip", IOWA.read_bytes())}
    form = {"territories": "4", "unit_id": "GEOID10", "band": ["TOTPOP=1%"]}
    scenario_id = create_geo_scenario(service, files, form).json()["id"]
    run = start_geo_run(service, scenario_id, time_limit_s=60)
    wait_for_run(service.client, service.headers(), run["url"], until=("running",))

    response = service.client.post(f"{run['url']}/cancel", headers=service.headers())

    assert response.status_code == 200
    ended = wait_for_run(service.client, service.headers(), run["url"])
    assert ended["status"] == "cancelled"
    assert ended["plan_id"] is None
    plans = service.client.get(f"/geo/plans?geo_scenario_id={scenario_id}", headers=service.headers()).json()
    assert plans == []


def test_geo_roles(service: Service, tmp_path):
    files = {"units": ("grid.geojson", write_grid(tmp_path).read_bytes())}
    assert create_geo_scenario(service, files, {"territories": "2"}, role="leadership").status_code == 403
    response = create_geo_scenario(service, files, {"territories": "2"})
    assert response.status_code == 201
    scenario_id = response.json()["id"]
    run = service.client.post("/geo/runs", headers=service.headers("ae"), json={"geo_scenario_id": scenario_id})
    assert run.status_code == 403


def test_geo_scenario_delete(service: Service, tmp_path, geo_plan):
    files = {"units": ("grid.geojson", write_grid(tmp_path).read_bytes())}
    scenario_id = create_geo_scenario(service, files, {"territories": "2"}).json()["id"]

    assert service.client.delete(f"/geo/scenarios/{scenario_id}", headers=service.headers()).status_code == 204
    assert service.client.get(f"/geo/scenarios/{scenario_id}", headers=service.headers()).status_code == 404
    used = service.client.delete(f"/geo/scenarios/{geo_plan['scenario']['id']}", headers=service.headers())
    assert used.status_code == 409


def test_geo_run_unknown_scenario_422(service: Service):
    response = service.client.post("/geo/runs", headers=service.headers(), json={"geo_scenario_id": 999_999})
    assert response.status_code == 422
    assert "does not exist" in response.json()["detail"]
