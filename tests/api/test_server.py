"""End to end against a real `territory serve` process on 127.0.0.1, as a user would run it."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import INC5000, postgresql_schema_url

START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(folder: Path, database_url: str | None, *options: str) -> Iterator[tuple[str, list[str]]]:
    """Start `territory serve` in `folder`; yield its base URL and the lines it printed before serving."""
    port = _free_port()
    environment = {name: value for name, value in os.environ.items()
                   if name != "DATABASE_URL" and not name.startswith("TERRITORY_")}
    if database_url:
        environment["DATABASE_URL"] = database_url
    log = folder / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "optimizer.cli", "serve", "--host", "127.0.0.1",
                                   "--port", str(port), *options], cwd=folder, env=environment,
                                  stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, server, log)
            yield base, log.read_text().splitlines()
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert "territory service stopped" in log.read_text()


def _wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited with code {server.returncode}:\n{log.read_text()}"
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer within {START_TIMEOUT_S:g} s:\n{log.read_text()}")


def _printed_key(lines: list[str]) -> str:
    keys = [line.strip() for line in lines if line.strip().startswith("tk_")]
    assert len(keys) == 1, lines
    return keys[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, as on a new installation."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        yield from postgresql_schema_url()


def test_inc5000_flow(empty_database_url: str, tmp_path: Path) -> None:
    with running_server(tmp_path, empty_database_url, "--no-demo") as (base, printed):
        with httpx.Client(base_url=base, headers={"X-API-Key": _printed_key(printed)}, timeout=60) as client:
            _plan_inc5000(client)


def _plan_inc5000(client: httpx.Client) -> None:
    files = {"accounts": ("accounts.csv", (INC5000 / "accounts.csv").read_bytes()),
             "reps": ("reps.csv", (INC5000 / "reps.csv").read_bytes())}
    dataset = client.post("/datasets", files=files, data={"name": "inc5000-2014"})
    assert dataset.status_code == 201, dataset.text
    assert dataset.json()["account_count"] == 5001
    assert dataset.json()["rep_count"] == 50

    scenario = client.post("/scenarios", json={"name": "national", "dataset_id": dataset.json()["id"]})
    assert scenario.status_code == 201, scenario.text
    run = client.post("/runs", json={"scenario_id": scenario.json()["id"], "time_limit_s": 20})
    assert run.status_code == 202, run.text

    deadline = time.monotonic() + 150
    while (state := client.get(run.headers["location"]).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, state
        time.sleep(1)
    assert state["status"] == "succeeded", state
    assert state["progress"]["gap"] is not None
    plan = state["plan_url"]

    territories = client.get(f"{plan}/territories")
    assert territories.headers["content-type"] == "application/geo+json"
    assert len(territories.json()["features"]) == 50
    metrics = client.get(f"{plan}/metrics")
    assert "NaN" not in metrics.text
    assert metrics.json()["summary"]["accounts"] == 5001
    assert metrics.json()["solver"]["time_limit_s"] == 20
    rows = list(csv.DictReader(io.StringIO(client.get(f"{plan}/assignments.csv").text)))
    assert len(rows) == 5001
    assert len({row["account_id"] for row in rows}) == 5001


def test_first_start_loads_demo(tmp_path: Path) -> None:
    # No DATABASE_URL: the default SQLite file in the working folder, as on a fresh clone.
    with running_server(tmp_path, None) as (base, printed):
        assert any("Loaded the demo data set" in line for line in printed), printed
        with httpx.Client(base_url=base, headers={"X-API-Key": _printed_key(printed)}, timeout=30) as client:
            datasets = client.get("/datasets").json()
            scenarios = client.get("/scenarios").json()
        assert [(dataset["name"], dataset["account_count"], dataset["rep_count"]) for dataset in datasets] == [
            ("demo", 900, 10)]
        assert [scenario["name"] for scenario in scenarios] == ["demo"]
    assert (tmp_path / "territory.db").is_file()

    with running_server(tmp_path, None) as (base, printed):
        assert not any(line.strip().startswith("tk_") for line in printed)
        assert any("API keys exist already" in line for line in printed)


def test_keys_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from optimizer.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'keys.db'}")
    assert main(["keys", "create", "--role", "ae", "--rep-id", "AE-03", "--name", "Priya"]) == 0
    created = capsys.readouterr().out
    assert "created key 1 (role ae, rep AE-03)" in created
    assert created.strip().splitlines()[-1].startswith("tk_")

    assert main(["keys", "create", "--role", "ae"]) == 2
    assert "needs the rep_id" in capsys.readouterr().err

    assert main(["keys", "revoke", "1"]) == 0
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ae" in listed
    assert "Priya, rep AE-03" in listed
    assert "revoked" in listed
    assert main(["keys", "revoke", "7"]) == 2
