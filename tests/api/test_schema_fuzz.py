"""Property-based requests generated from the OpenAPI schema by schemathesis: no input may cause a 5xx.

Each operation gets up to POSITIVE_CASES requests that fit the schema and NEGATIVE_CASES that break it
(wrong types, values out of range, a mangled key header), derandomised so that CI runs the same cases
every time. Hypothesis stops earlier when an operation has fewer distinct inputs, and an operation
without parameters has no negative cases. Requests carry a sales_ops key, so that they reach the code
behind the role checks, and the database contains a solved plan with id 1, so that generated ids
sometimes find it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.python.asgi import shutdown_lifespans

from api.app import create_app
from tests.api.conftest import (Service, add_keys, create_scenario, small_files, start_run, test_settings, upload,
                                wait_for_run)

logger = logging.getLogger(__name__)

POSITIVE_CASES = 30
NEGATIVE_CASES = 15
MIN_TOTAL_CASES = 500


def test_no_server_errors(tmp_path: Path) -> None:
    # A database of its own: generated requests start runs, which must not queue behind other tests' runs.
    settings = test_settings(f"sqlite:///{tmp_path / 'fuzz.db'}", max_time_limit_s=2.0, max_upload_bytes=200_000)
    setup = create_app(settings)
    with TestClient(setup) as client:
        service = Service(setup, client, add_keys(setup))
        dataset = upload(service, small_files(accounts=20, reps=2))
        scenario = create_scenario(service, dataset["id"], {"solver": {"time_limit_s": 2}})
        run = wait_for_run(client, service.headers(), start_run(service, scenario["id"], 2.0)["url"])
        assert run["plan_id"] == 1, run
        openapi = client.get("/openapi.json").json()

    # Schemathesis runs the app's start-up itself, once, and keeps it running until shutdown_lifespans.
    app = create_app(settings)
    schema = schemathesis.openapi.from_dict(openapi)
    schema.app = app
    total = 0
    failures: list[str] = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            total += _exercise(operation, schemathesis.GenerationMode.POSITIVE, POSITIVE_CASES, service.headers(),
                               failures)
            total += _exercise(operation, schemathesis.GenerationMode.NEGATIVE, NEGATIVE_CASES, service.headers(),
                               failures)
    finally:
        shutdown_lifespans()
    assert not failures, "\n".join(failures[:20])
    assert total >= MIN_TOTAL_CASES, f"only {total} cases were generated"
    logger.info("schemathesis sent %d generated requests; none gave a 5xx", total)


def _exercise(operation, mode: schemathesis.GenerationMode, cases: int, headers: dict[str, str],  # noqa: ANN001
              failures: list[str]) -> int:
    """Send generated requests for one operation; return how many were sent."""
    count = 0

    @settings(max_examples=cases, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:  # noqa: ANN001 - schemathesis Case
        nonlocal count
        count += 1
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{operation.label} ({mode.value}): {response.status_code} {response.text[:300]}\n"
                            f"  {case.as_curl_command()}")

    try:
        check()
    except Unsatisfiable:
        assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        assert not list(operation.iter_parameters()), operation.label
    return count
