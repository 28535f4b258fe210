"""Plans side by side over HTTP: the figures of each plan's metrics, and the PNG."""

from __future__ import annotations

import pytest

from tests.api.conftest import Service, SolvedPlan, create_scenario, start_run, wait_for_run


@pytest.fixture(scope="module")
def wide_plan(service: Service, small_plan: SolvedPlan) -> int:
    """A second plan of the small dataset with a cap of 5 moves (its rep AE-99 rules out a potential band)."""
    rules = {"balance": {"potential": None}, "objective": {"max_moves": 5}}
    scenario = create_scenario(service, small_plan.dataset["id"], rules, name="wide")
    run = wait_for_run(service.client, service.headers(), start_run(service, scenario["id"], 10.0)["url"])
    assert run["status"] == "succeeded", run
    return run["plan_id"]


def test_compare_two_plans(service: Service, small_plan: SolvedPlan, wide_plan: int) -> None:
    response = service.client.get("/plans/compare", headers=service.headers("leadership"),
                                  params=[("plan_id", small_plan.plan_id), ("plan_id", wide_plan)])

    assert response.status_code == 200, response.text
    result = response.json()
    assert [plan["id"] for plan in result["plans"]] == [small_plan.plan_id, wide_plan]
    assert result["plans"][1]["name"] == f"wide v1 (plan {wide_plan})"
    values = {row["measure"]: row["values"] for row in result["measures"]}
    units = {row["measure"]: row["unit"] for row in result["measures"]}
    plans = [service.client.get(f"/plans/{plan_id}", headers=service.headers()).json()
             for plan_id in (small_plan.plan_id, wide_plan)]
    assert values["objective"] == [plan["solver"]["objective"] for plan in plans]
    assert values["accounts moved"][1] <= 5
    assert units["objective"] == plans[0]["solver"]["objective_unit"]
    assert units["gap"] == "%"
    assert values["reps"] == [4, 4]


def test_compare_png(service: Service, small_plan: SolvedPlan, wide_plan: int) -> None:
    response = service.client.get("/plans/compare.png", headers=service.headers(),
                                  params=[("plan_id", small_plan.plan_id), ("plan_id", wide_plan)])

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_needs_two_different_plans(service: Service, small_plan: SolvedPlan) -> None:
    single = service.client.get("/plans/compare", headers=service.headers(), params={"plan_id": small_plan.plan_id})
    assert single.status_code == 422
    twice = service.client.get("/plans/compare", headers=service.headers(),
                               params=[("plan_id", small_plan.plan_id), ("plan_id", small_plan.plan_id)])
    assert twice.status_code == 422
    assert twice.json()["detail"] == f"plan_id {small_plan.plan_id} is given twice; give each plan once"
    unknown = service.client.get("/plans/compare", headers=service.headers(),
                                 params=[("plan_id", small_plan.plan_id), ("plan_id", 999999)])
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "plan 999999 not found"
