"""Plans through the ASGI client: summary, assignments (paged, by rep, CSV), GeoJSON, metrics and map."""

from __future__ import annotations

import csv
import io
import json

from api.errors import api_text
from tests.api.conftest import AE_REP, Service, SolvedPlan


def test_plan_summary(service: Service, small_plan: SolvedPlan) -> None:
    plan = service.client.get(f"/plans/{small_plan.plan_id}", headers=service.headers()).json()
    assert plan["run_id"] == small_plan.run["id"]
    assert plan["scenario_id"] == small_plan.scenario["id"]
    assert plan["version"] == 1
    assert plan["summary"]["accounts"] == 60
    assert plan["summary"]["reps"] == 4
    assert plan["solver"]["status"] in ("optimal", "feasible")
    assert plan["solver"]["gap"] is not None
    metrics = service.client.get(f"/plans/{small_plan.plan_id}/metrics", headers=service.headers()).json()
    assert plan["solver"]["notes"] == [api_text(note) for note in metrics["solver"]["notes"]]
    assert plan["warnings"] == ["rep AE-99 covers industry 'Nothing Sold Here', which no account has (industry "
                                "names must match exactly)"]


def test_assignments_paged(service: Service, small_plan: SolvedPlan) -> None:
    url = f"/plans/{small_plan.plan_id}/assignments"
    first = service.client.get(url, params={"limit": 25}, headers=service.headers()).json()
    rest = service.client.get(url, params={"limit": 100, "offset": 25}, headers=service.headers()).json()
    assert first["total"] == 60
    assert len(first["items"]) == 25
    assert len(rest["items"]) == 35
    ids = [item["account_id"] for item in first["items"] + rest["items"]]
    assert len(set(ids)) == 60
    assert ids[0] == "ACC-0001"  # file order


def test_assignments_by_rep(service: Service, small_plan: SolvedPlan) -> None:
    url = f"/plans/{small_plan.plan_id}/assignments"
    counts = {}
    for rep_id in ("AE-01", "AE-02", "AE-03", "AE-99"):
        page = service.client.get(url, params={"rep_id": rep_id, "limit": 1000}, headers=service.headers()).json()
        assert all(item["rep_id"] == rep_id for item in page["items"])
        counts[rep_id] = page["total"]
    assert sum(counts.values()) == 60
    assert counts["AE-99"] == 0
    lower = service.client.get(url, params={"rep_id": "ae-01"}, headers=service.headers()).json()
    assert lower["total"] == 0  # rep ids are case-sensitive


def test_assignments_csv(service: Service, small_plan: SolvedPlan) -> None:
    response = service.client.get(f"/plans/{small_plan.plan_id}/assignments.csv", headers=service.headers())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 60
    assert list(rows[0]) == ["account_id", "rep_id", "previous_owner", "moved", "tier", "score", "potential",
                             "workload_hours", "distance_km", "located_by"]
    only_one = service.client.get(f"/plans/{small_plan.plan_id}/assignments.csv", params={"rep_id": AE_REP},
                                  headers=service.headers())
    assert {row["rep_id"] for row in csv.DictReader(io.StringIO(only_one.text))} == {AE_REP}


def test_territories_geojson(service: Service, small_plan: SolvedPlan) -> None:
    response = service.client.get(f"/plans/{small_plan.plan_id}/territories", headers=service.headers())
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert [feature["properties"]["rep_id"] for feature in collection["features"]] == ["AE-01", "AE-02", "AE-03", "AE-99"]
    empty = collection["features"][3]
    assert empty["geometry"] is None
    assert empty["properties"]["accounts"] == 0


def test_metrics_strict_json_with_empty_territory(service: Service, small_plan: SolvedPlan) -> None:
    response = service.client.get(f"/plans/{small_plan.plan_id}/metrics", headers=service.headers())
    assert response.status_code == 200
    assert "NaN" not in response.text
    metrics = json.loads(response.text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert metrics["empty_territories"] == ["AE-99"]
    idle = next(row for row in metrics["reps"] if row["rep_id"] == "AE-99")
    assert idle["mean_distance_km"] is None


def test_map_html(service: Service, small_plan: SolvedPlan) -> None:
    response = service.client.get(f"/plans/{small_plan.plan_id}/map", headers=service.headers())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<svg" in response.text


def test_plan_not_found(service: Service) -> None:
    response = service.client.get("/plans/2147483647", headers=service.headers())
    assert response.status_code == 404
    assert response.json()["detail"] == "plan 2147483647 not found"


def test_plans_listed_by_scenario(service: Service, small_plan: SolvedPlan) -> None:
    plans = service.client.get("/plans", params={"scenario_id": small_plan.scenario["id"]},
                               headers=service.headers()).json()
    assert [plan["id"] for plan in plans] == [small_plan.plan_id]
