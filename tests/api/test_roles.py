"""Roles: every route with a key of each role, allowed and forbidden, and with missing, bad or revoked keys.

Allowed calls use ids or bodies that fail after the role check (404 or 422), so that this file starts no
solve and deletes nothing. Their response must then be anything but 401 and 403.
"""

from __future__ import annotations

import csv
import io

import pytest

from api.auth import create_key, revoke_key
from api.models import Role
from tests.api.conftest import AE_REP, Service, SolvedPlan

MISSING = 2147483647
ALL = {"sales_ops", "leadership", "ae"}
PLANNERS = {"sales_ops", "leadership"}
SALES_OPS = {"sales_ops"}

# (method, path, request keyword arguments, roles allowed); {plan} and {run} are filled in per test.
ROUTES = [
    ("GET", "/datasets", {}, PLANNERS),
    ("POST", "/datasets", {"files": {"accounts": ("a.txt", b""), "reps": ("r.txt", b"")}}, SALES_OPS),
    ("GET", f"/datasets/{MISSING}", {}, PLANNERS),
    ("DELETE", f"/datasets/{MISSING}", {}, SALES_OPS),
    ("GET", "/scenarios", {}, PLANNERS),
    ("POST", "/scenarios", {"json": {"name": "x", "dataset_id": MISSING}}, PLANNERS),
    ("GET", f"/scenarios/{MISSING}", {}, PLANNERS),
    ("DELETE", f"/scenarios/{MISSING}", {}, SALES_OPS),
    ("GET", "/runs", {}, PLANNERS),
    ("POST", "/runs", {"json": {"scenario_id": MISSING}}, PLANNERS),
    ("GET", "/runs/{run}", {}, PLANNERS),
    ("POST", f"/runs/{MISSING}/cancel", {}, SALES_OPS),
    ("GET", "/plans", {}, ALL),
    ("GET", "/plans/{plan}", {}, ALL),
    ("GET", "/plans/{plan}/assignments", {}, ALL),
    ("GET", "/plans/{plan}/assignments.csv", {}, ALL),
    ("GET", "/plans/{plan}/territories", {}, ALL),
    ("GET", "/plans/{plan}/metrics", {}, ALL),
    ("GET", "/plans/{plan}/map", {}, PLANNERS),
    ("GET", "/plans/compare", {"params": {"plan_id": [MISSING, MISSING - 1]}}, PLANNERS),
    ("GET", "/plans/compare.png", {"params": {"plan_id": [MISSING, MISSING - 1]}}, PLANNERS),
    ("POST", "/plans/{plan}/proposals", {"json": {"moves": {"NO-SUCH": "AE-02"}}}, ALL),
    ("POST", "/plans/{plan}/proposals/preview", {"json": {"moves": {"NO-SUCH": "AE-02"}}}, ALL),
    ("POST", "/plans/{plan}/proposals/file", {"files": {"moves": ("m.csv", b"account_id,rep_id\nNO-SUCH,AE-02\n")}},
     ALL),
    ("POST", "/plans/{plan}/proposals/preview/file",
     {"files": {"moves": ("m.csv", b"account_id,rep_id\nNO-SUCH,AE-02\n")}}, ALL),
    ("GET", "/plans/{plan}/proposals", {}, ALL),
    ("GET", "/proposals", {}, ALL),
    ("GET", f"/proposals/{MISSING}", {}, ALL),
    ("POST", f"/proposals/{MISSING}/approve", {}, SALES_OPS),
    ("POST", f"/proposals/{MISSING}/reject", {}, SALES_OPS),
    ("POST", f"/proposals/{MISSING}/withdraw", {}, ALL),
    ("GET", "/geo/scenarios", {}, PLANNERS),
    ("POST", "/geo/scenarios", {"data": {"territories": "0"}}, SALES_OPS),
    ("GET", f"/geo/scenarios/{MISSING}", {}, PLANNERS),
    ("DELETE", f"/geo/scenarios/{MISSING}", {}, SALES_OPS),
    ("POST", "/geo/runs", {"json": {"geo_scenario_id": MISSING}}, PLANNERS),
    ("GET", "/geo/plans", {}, ALL),
    ("GET", f"/geo/plans/{MISSING}", {}, ALL),
    ("GET", f"/geo/plans/{MISSING}/territories", {}, ALL),
    ("GET", f"/geo/plans/{MISSING}/units.csv", {}, ALL),
    ("GET", f"/geo/plans/{MISSING}/assignments.csv", {}, ALL),
    ("GET", f"/geo/plans/{MISSING}/metrics", {}, ALL),
    ("GET", f"/geo/plans/{MISSING}/map", {}, PLANNERS),
]
OPEN_ROUTES = [("GET", "/health"), ("GET", "/version")]


def _call(service: Service, plan: SolvedPlan, method: str, path: str, kwargs: dict, headers: dict[str, str]):
    url = path.format(plan=plan.plan_id, run=plan.run["id"])
    return service.client.request(method, url, headers=headers, **kwargs)


def test_table_covers_every_route(service: Service) -> None:
    schema = service.client.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    tested = {(method, _template(path)) for method, path, _, _ in ROUTES} | set(OPEN_ROUTES)
    assert documented == tested


def _template(path: str) -> str:
    names = {"datasets": "dataset_id", "scenarios": "scenario_id", "runs": "run_id", "plans": "plan_id",
             "proposals": "proposal_id"}
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part == str(MISSING) or part in ("{plan}", "{run}"):
            name = names[parts[index - 1]]
            parts[index] = "{" + ("geo_" + name if parts[1] == "geo" and name == "scenario_id" else name) + "}"
    return "/".join(parts)


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(("method", "path", "kwargs", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_role_on_route(service: Service, small_plan: SolvedPlan, role: str, method: str, path: str, kwargs: dict,
                       allowed: set[str]) -> None:
    response = _call(service, small_plan, method, path, kwargs, service.headers(role))
    if role in allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert f"the {role} role may not do this" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "kwargs", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_missing_or_bad_key_is_401(service: Service, small_plan: SolvedPlan, method: str, path: str, kwargs: dict,
                                   allowed: set[str]) -> None:
    missing = _call(service, small_plan, method, path, kwargs, {})
    assert missing.status_code == 401
    assert "API key missing" in missing.json()["detail"]
    bad = _call(service, small_plan, method, path, kwargs, {"X-API-Key": "tk_not-a-real-key"})
    assert bad.status_code == 401
    assert "invalid or revoked" in bad.json()["detail"]


@pytest.mark.parametrize(("method", "path"), OPEN_ROUTES)
def test_open_routes_need_no_key(service: Service, method: str, path: str) -> None:
    assert service.client.request(method, path).status_code == 200


def test_revoked_key_is_401(service: Service) -> None:
    with service.app.state.sessions.begin() as session:
        key = create_key(session, Role.leadership, "soon revoked")
    headers = {"X-API-Key": key.token}
    assert service.client.get("/datasets", headers=headers).status_code == 200
    with service.app.state.sessions.begin() as session:
        revoke_key(session, key.id)
    assert service.client.get("/datasets", headers=headers).status_code == 401


def test_ae_sees_only_own_rep(service: Service, small_plan: SolvedPlan) -> None:
    headers = service.headers("ae")
    base = f"/plans/{small_plan.plan_id}"

    own = service.client.get(f"{base}/assignments", params={"limit": 1000}, headers=headers).json()
    assert own["total"] > 0
    assert {item["rep_id"] for item in own["items"]} == {AE_REP}
    other = service.client.get(f"{base}/assignments", params={"rep_id": "AE-02"}, headers=headers)
    assert other.status_code == 403

    rows = list(csv.DictReader(io.StringIO(service.client.get(f"{base}/assignments.csv", headers=headers).text)))
    assert {row["rep_id"] for row in rows} == {AE_REP}
    assert service.client.get(f"{base}/assignments.csv", params={"rep_id": "AE-02"}, headers=headers).status_code == 403

    features = service.client.get(f"{base}/territories", headers=headers).json()["features"]
    assert [feature["properties"]["rep_id"] for feature in features] == [AE_REP]
    assert service.client.get(f"{base}/territories", params={"rep_id": "AE-03"}, headers=headers).status_code == 403

    metrics = service.client.get(f"{base}/metrics", headers=headers).json()
    assert [row["rep_id"] for row in metrics["reps"]] == [AE_REP]
    assert "balance" in metrics
