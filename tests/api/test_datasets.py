"""Dataset uploads: the validation report, skipped rows, formats, limits and case-sensitive ids."""

from __future__ import annotations

import io
import json

import pandas as pd
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import (Service, add_keys, create_scenario, csv_bytes, small_files, start_run, test_settings,
                                upload, wait_for_run)

BAD_ACCOUNTS = [
    {"account_id": "A-1", "name": "One", "lat": "32.8", "lon": "-96.8", "potential": "1000"},
    {"account_id": "A-2", "name": "Two", "lat": "32.8", "lon": "-96.8", "potential": "lots"},
    {"account_id": "A-3", "name": "Three", "lat": "32.8", "lon": "-96.8", "potential": "-5"},
]


def _dataset_count(service: Service) -> int:
    return len(service.client.get("/datasets", headers=service.headers()).json())


def test_upload_reports_counts(service: Service) -> None:
    dataset = upload(service, small_files(accounts=20, reps=2), name="twenty")
    assert dataset["name"] == "twenty"
    assert dataset["account_count"] == 20
    assert dataset["rep_count"] == 2
    assert dataset["skipped_issues"] == []
    fetched = service.client.get(f"/datasets/{dataset['id']}", headers=service.headers()).json()
    assert fetched == dataset


def test_invalid_rows_rejected_and_not_stored(service: Service) -> None:
    before = _dataset_count(service)
    files = {"accounts": ("accounts.csv", csv_bytes(BAD_ACCOUNTS)), "reps": small_files(reps=2)["reps"]}
    response = service.client.post("/datasets", headers=service.headers(), files=files)
    assert response.status_code == 422
    issues = response.json()["issues"]
    assert [(issue["row"], issue["column"]) for issue in issues] == [(3, "potential"), (4, "potential")]
    assert issues[0]["value"] == "lots"
    assert _dataset_count(service) == before


def test_skip_bad_rows_stores_the_rest(service: Service) -> None:
    files = {"accounts": ("accounts.csv", csv_bytes(BAD_ACCOUNTS)), "reps": small_files(reps=2)["reps"]}
    dataset = upload(service, files, skip_bad_rows="true")
    assert dataset["account_count"] == 1
    assert [issue["row"] for issue in dataset["skipped_issues"]] == [3, 4]


def test_column_map_and_parquet(service: Service) -> None:
    frame = pd.DataFrame({"Customer ID": ["P-1", "P-2"], "lat": ["32.8", "29.7"], "lon": ["-96.8", "-95.4"],
                          "potential": ["100", "200"]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    files = {"accounts": ("accounts.parquet", buffer.getvalue()), "reps": small_files(reps=2)["reps"]}
    dataset = upload(service, files, account_column="account_id=Customer ID")
    assert dataset["account_count"] == 2
    assert dataset["account_columns"] == {"account_id": "Customer ID"}


def test_geojson_accounts(service: Service) -> None:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-96.8, 32.8]},
                 "properties": {"account_id": "G-1", "potential": 500}}]
    document = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    files = {"accounts": ("accounts.geojson", document), "reps": small_files(reps=2)["reps"]}
    assert upload(service, files)["account_count"] == 1


def test_unsupported_format_is_422(service: Service) -> None:
    files = {"accounts": ("accounts.docx", b"PK\x03\x04"), "reps": small_files(reps=2)["reps"]}
    response = service.client.post("/datasets", headers=service.headers(), files=files)
    assert response.status_code == 422
    assert "unsupported format .docx" in response.json()["issues"][0]["message"]


def test_account_ids_case_sensitive(service: Service) -> None:
    rows = [{"account_id": "x-1", "lat": "32.8", "lon": "-96.8", "potential": "100"},
            {"account_id": "X-1", "lat": "32.9", "lon": "-96.7", "potential": "100"}]
    files = {"accounts": ("accounts.csv", csv_bytes(rows)), "reps": small_files(reps=2)["reps"]}
    dataset = upload(service, files)
    assert dataset["account_count"] == 2

    scenario = create_scenario(service, dataset["id"], {"balance": {"potential": None}})
    run = wait_for_run(service.client, service.headers(), start_run(service, scenario["id"], 5.0)["url"])
    assert run["status"] == "succeeded", run
    page = service.client.get(f"/plans/{run['plan_id']}/assignments", headers=service.headers()).json()
    assert [item["account_id"] for item in page["items"]] == ["x-1", "X-1"]


def test_bad_column_map_is_422(service: Service) -> None:
    response = service.client.post("/datasets", headers=service.headers(), files=small_files(reps=2),
                                   data={"account_column": "no equals sign"})
    assert response.status_code == 422
    assert "NAME=HEADER" in response.json()["detail"]


def test_missing_column_names_api_field(service: Service) -> None:
    """The library's advice names the command-line option; over HTTP it names the form field instead."""
    rows = [{"Customer ID": "A-1", "lat": "32.8", "lon": "-96.8", "potential": "100"}]
    files = {"accounts": ("accounts.csv", csv_bytes(rows)), "reps": small_files(reps=2)["reps"]}
    response = service.client.post("/datasets", headers=service.headers(), files=files)
    assert response.status_code == 422
    message = response.json()["issues"][0]["message"]
    assert message.endswith("map it with account_column account_id=HEADER")
    assert "--" not in response.json()["detail"]


def test_unknown_column_name_is_422(service: Service) -> None:
    response = service.client.post("/datasets", headers=service.headers(), files=small_files(reps=2),
                                   data={"rep_column": "capacity=Hours"})
    assert response.status_code == 422
    assert response.json()["issues"][0]["file"] == "rep_column capacity=Hours"
    assert "did you mean 'capacity_hours'?" in response.json()["issues"][0]["message"]


def test_upload_and_row_limits(database_url: str) -> None:
    app = create_app(test_settings(database_url, max_upload_bytes=2_000, max_rows=10))
    with TestClient(app) as client:
        headers = {"X-API-Key": add_keys(app)["sales_ops"]}
        too_large = client.post("/datasets", headers=headers, files=small_files(accounts=60, reps=2))
        assert too_large.status_code == 413
        assert "2,000 bytes" in too_large.json()["detail"]
        too_many = client.post("/datasets", headers=headers, files=small_files(accounts=11, reps=2))
        assert too_many.status_code == 422
        assert "the limit is 10 rows" in too_many.json()["detail"]


def test_request_body_limit(database_url: str) -> None:
    app = create_app(test_settings(database_url, max_upload_bytes=1_000))
    with TestClient(app) as client:
        headers = {"X-API-Key": add_keys(app)["sales_ops"]}
        body = b"x" * 1_100_000
        response = client.post("/datasets", headers={**headers, "Content-Type": "multipart/form-data; boundary=b"},
                               content=body)
        assert response.status_code == 413
        assert "larger than" in response.json()["detail"]


def test_chunked_body_limit(database_url: str) -> None:
    # A body sent without Content-Length is counted as it arrives.
    app = create_app(test_settings(database_url, max_upload_bytes=1_000))
    with TestClient(app) as client:
        headers = {"X-API-Key": add_keys(app)["sales_ops"], "Content-Type": "application/json"}
        chunks = (b"x" * 100_000 for _ in range(20))
        response = client.post("/scenarios", headers=headers, content=chunks)
        assert response.status_code == 413
        assert "larger than" in response.json()["detail"]


def test_accounts_without_rows_is_422(service: Service) -> None:
    files = small_files(accounts=1, reps=2)
    header = files["accounts"][1].split(b"\n")[0] + b"\n"
    response = service.client.post("/datasets", headers=service.headers(),
                                    files={**files, "accounts": ("accounts.csv", header)})
    assert response.status_code == 422
    assert "has no accounts to plan (the file has no data rows)" in json.dumps(response.json())


def test_delete_dataset_in_use_is_409(service: Service) -> None:
    dataset = upload(service, small_files(accounts=5, reps=2))
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "uses it", "dataset_id": dataset["id"]})
    assert response.status_code == 201
    assert service.client.delete(f"/datasets/{dataset['id']}", headers=service.headers()).status_code == 409
    assert service.client.delete(f"/scenarios/{response.json()['id']}", headers=service.headers()).status_code == 204
    assert service.client.delete(f"/datasets/{dataset['id']}", headers=service.headers()).status_code == 204
    assert service.client.get(f"/datasets/{dataset['id']}", headers=service.headers()).status_code == 404
