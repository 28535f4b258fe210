"""Fixtures of the API tests: the service against SQLite and against PostgreSQL, keys of every role,
and helpers to upload data, start runs and wait for them.

PostgreSQL is the server on 127.0.0.1:5432 (database `test`, trust authentication) that .ci/run starts.
Each test session works in a schema of its own, dropped at the end, so runs one after another (or at
once) never see each other's tables. Without that server the PostgreSQL tests are skipped, except in
CI (CI=true), where they fail.
"""

from __future__ import annotations

import csv
import io
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import create_key
from api.models import Role
from api.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
# The shared data folder sits beside the checkout; this file is two folders below the checkout's root.
INC5000 = Path(__file__).resolve().parents[3] / "shared" / "data" / "scenarios" / "inc5000-2014"
POSTGRESQL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
POSTGRESQL_DATABASE = "test"
AE_REP = "AE-01"
RUN_WAIT_S = 120.0


def postgresql_schema_url() -> Iterator[str]:
    """Yield the URL of a new schema in the test database, dropped afterwards."""
    admin = sqlalchemy.create_engine(f"{POSTGRESQL_SERVER}/{POSTGRESQL_DATABASE}", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            schema = f"api_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL at {POSTGRESQL_SERVER}/{POSTGRESQL_DATABASE} is not reachable: {error.orig}"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run should have started it")
        pytest.skip(message)
    try:
        yield f"{POSTGRESQL_SERVER}/{POSTGRESQL_DATABASE}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'territory.db'}"
    else:
        yield from postgresql_schema_url()


def test_settings(database_url: str, **changes: object) -> Settings:
    values: dict[str, object] = {"database_url": database_url, "load_demo": False, "poll_interval_s": 0.2,
                                 "run_grace_s": 60.0, "max_time_limit_s": 120.0}
    return Settings(**{**values, **changes})


test_settings.__test__ = False  # a helper, not a test


@dataclass
class Service:
    """A running app with its client and one key per role."""

    app: FastAPI
    client: TestClient
    keys: dict[str, str]

    def headers(self, role: str = "sales_ops") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def add_keys(app: FastAPI) -> dict[str, str]:
    with app.state.sessions.begin() as session:
        return {
            "sales_ops": create_key(session, Role.sales_ops, "test sales ops").token,
            "leadership": create_key(session, Role.leadership, "test leadership").token,
            "ae": create_key(session, Role.ae, "test ae", rep_id=AE_REP).token,
        }


@pytest.fixture(scope="session")
def service(database_url: str) -> Iterator[Service]:
    """The service on one database for the whole session: tests add their own datasets and runs."""
    app = create_app(test_settings(database_url))
    with TestClient(app) as client:
        yield Service(app, client, add_keys(app))


def demo_files() -> dict[str, tuple[str, bytes]]:
    return {"accounts": ("accounts.csv", (DEMO / "accounts.csv").read_bytes()),
            "reps": ("reps.csv", (DEMO / "reps.csv").read_bytes())}


def small_files(accounts: int = 60, reps: int = 3) -> dict[str, tuple[str, bytes]]:
    """The first demo accounts and reps: owners outside the kept reps are cleared, so the files are valid."""
    with (DEMO / "reps.csv").open(newline="", encoding="utf-8") as stream:
        rep_rows = list(csv.DictReader(stream))[:reps]
    rep_ids = {row["rep_id"] for row in rep_rows}
    with (DEMO / "accounts.csv").open(newline="", encoding="utf-8") as stream:
        account_rows = list(csv.DictReader(stream))[:accounts]
    for row in account_rows:
        for column in ("current_owner", "locked_owner"):
            if row[column] not in rep_ids:
                row[column] = ""
    return {"accounts": ("accounts.csv", csv_bytes(account_rows)), "reps": ("reps.csv", csv_bytes(rep_rows))}


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def upload(service: Service, files: dict[str, tuple[str, bytes]], **form: object) -> dict:
    response = service.client.post("/datasets", headers=service.headers(), files=files, data=form)
    assert response.status_code == 201, response.text
    return response.json()


def create_scenario(service: Service, dataset_id: int, rules: dict | None = None, name: str = "test") -> dict:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": name, "dataset_id": dataset_id, "rules": rules or {}})
    assert response.status_code == 201, response.text
    return response.json()


def start_run(service: Service, scenario_id: int, time_limit_s: float = 10.0) -> dict:
    response = service.client.post("/runs", headers=service.headers(),
                                   json={"scenario_id": scenario_id, "time_limit_s": time_limit_s})
    assert response.status_code == 202, response.text
    return response.json()


def wait_for_run(client: TestClient, headers: dict[str, str], url: str, until: tuple[str, ...] | None = None,
                 timeout_s: float = RUN_WAIT_S) -> dict:
    """Poll a run until it has ended (or reached a status in `until`) and return its last state."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.get(url, headers=headers).json()
        if (until and run["status"] in until) or (not until and run["status"] not in ("queued", "running")):
            return run
        assert time.monotonic() < deadline, f"run {url} still {run['status']} after {timeout_s:g} s: {run}"
        time.sleep(0.2)


@dataclass
class SolvedPlan:
    dataset: dict
    scenario: dict
    run: dict
    plan_id: int


@pytest.fixture(scope="session")
def small_plan(service: Service) -> SolvedPlan:
    """A solved plan over 60 accounts and 4 reps, where rep AE-99 covers an industry no account has, so
    its territory is empty and its metrics hold missing values."""
    files = small_files(accounts=60, reps=3)
    specialist = b"AE-99,Sam Idle,35.470750,-97.518533,Oklahoma City,OK,1600,120,Nothing Sold Here\n"
    files["reps"] = ("reps.csv", files["reps"][1] + specialist)

    dataset = upload(service, files, name="small")
    scenario = create_scenario(service, dataset["id"], {"balance": {"potential": None}}, name="small")
    run = wait_for_run(service.client, service.headers(), start_run(service, scenario["id"], 10.0)["url"])
    assert run["status"] == "succeeded", run
    return SolvedPlan(dataset, scenario, run, run["plan_id"])
