"""Runs: background solves with progress, cancel, infeasible requests, killed workers and restarts."""

from __future__ import annotations

import os
import signal
import time

import sqlalchemy
from fastapi.testclient import TestClient

from api.app import create_app
from api.models import Plan, PlanAssignment, Run
from tests.api.conftest import (Service, add_keys, create_scenario, demo_files, small_files, start_run,
                                test_settings, upload, wait_for_run)


def _plan_rows(service: Service, run_id: int) -> tuple[int, int]:
    """Return the plans of a run and the assignment rows of those plans, read from the database."""
    with service.app.state.sessions() as session:
        plan_ids = session.scalars(sqlalchemy.select(Plan.id).where(Plan.run_id == run_id)).all()
        rows = session.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(PlanAssignment)
                              .where(PlanAssignment.plan_id.in_(plan_ids))) if plan_ids else 0
    return len(plan_ids), rows or 0


def _demo_scenario(service: Service) -> dict:
    dataset = upload(service, demo_files(), name="demo")
    return create_scenario(service, dataset["id"], name="demo")


def test_run_returns_202_and_url(service: Service) -> None:
    scenario = create_scenario(service, upload(service, small_files(accounts=30, reps=2))["id"])
    response = service.client.post("/runs", headers=service.headers(), json={"scenario_id": scenario["id"]})
    assert response.status_code == 202
    run = response.json()
    assert response.headers["location"] == run["url"] == f"/runs/{run['id']}"
    assert run["status"] in ("queued", "running")
    assert run["time_limit_s"] == 60  # the scenario's default
    ended = wait_for_run(service.client, service.headers(), run["url"])
    assert ended["status"] == "succeeded"
    assert ended["plan_url"] == f"/plans/{ended['plan_id']}"
    assert ended["progress"]["lower_bound"] is not None
    assert ended["progress"]["gap"] is not None
    assert _plan_rows(service, run["id"]) == (1, 30)


def test_progress_reported_while_running(service: Service) -> None:
    run = start_run(service, _demo_scenario(service)["id"], time_limit_s=8)
    searching = None
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = service.client.get(run["url"], headers=service.headers()).json()
        seen.add(state["progress"]["phase"])
        if state["status"] not in ("queued", "running"):
            break
        if state["progress"]["phase"] == "search" and state["progress"]["lower_bound"] is not None:
            searching = state
        time.sleep(0.1)
    assert state["status"] == "succeeded", state
    assert searching is not None, f"no search progress seen; phases {seen}"
    assert searching["progress"]["elapsed_s"] > 0


def test_cancel_running_run(service: Service) -> None:
    run = start_run(service, _demo_scenario(service)["id"], time_limit_s=30)
    wait_for_run(service.client, service.headers(), run["url"], until=("running",))
    response = service.client.post(f"{run['url']}/cancel", headers=service.headers())
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert wait_for_run(service.client, service.headers(), run["url"])["status"] == "cancelled"
    assert _plan_rows(service, run["id"]) == (0, 0)
    again = service.client.post(f"{run['url']}/cancel", headers=service.headers())
    assert again.status_code == 409


def test_infeasible_run_explains(service: Service) -> None:
    files = small_files(accounts=30, reps=2)
    reps = files["reps"][1].decode().replace(",1600,", ",1,")
    files["reps"] = ("reps.csv", reps.encode())
    scenario = create_scenario(service, upload(service, files)["id"])
    run = wait_for_run(service.client, service.headers(), start_run(service, scenario["id"])["url"])
    assert run["status"] == "infeasible"
    assert run["causes"]
    assert "capacity" in run["causes"][0]
    assert run["plan_id"] is None


def test_killed_worker_fails_run_without_plan(service: Service) -> None:
    run = start_run(service, _demo_scenario(service)["id"], time_limit_s=20)
    deadline = time.monotonic() + 60
    while True:
        state = service.client.get(run["url"], headers=service.headers()).json()
        if state["progress"]["phase"] in ("relaxation", "search"):
            break
        assert state["status"] in ("queued", "running"), state
        assert time.monotonic() < deadline, f"the solve never started: {state}"
        time.sleep(0.1)
    pid = service.app.state.jobs.worker_pid(run["id"])
    assert pid is not None

    os.kill(pid, signal.SIGKILL)

    failed = wait_for_run(service.client, service.headers(), run["url"])
    assert failed["status"] == "failed"
    assert "killed by SIGKILL" in failed["error"]
    assert failed["plan_id"] is None
    assert _plan_rows(service, run["id"]) == (0, 0)


def test_restart_fails_interrupted_run(database_url: str, service: Service) -> None:
    scenario = create_scenario(service, upload(service, small_files(accounts=20, reps=2))["id"])
    with service.app.state.sessions.begin() as session:
        # A run as a server killed mid-solve leaves it: running, with no worker left.
        interrupted = Run(scenario_id=scenario["id"], status="running", time_limit_s=5, causes=[], relaxations=[])
        session.add(interrupted)
        session.flush()
        interrupted_id = interrupted.id

    restarted = create_app(test_settings(database_url))
    with TestClient(restarted) as client:
        headers = {"X-API-Key": add_keys(restarted)["sales_ops"]}
        run = client.get(f"/runs/{interrupted_id}", headers=headers).json()
        assert run["status"] == "failed"
        assert "server stopped" in run["error"]
