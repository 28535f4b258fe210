"""Scenarios: rules checked by the library's scenario model; malformed JSON and NaN give 422."""

from __future__ import annotations

import pytest

from tests.api.conftest import Service, small_files, upload


@pytest.fixture(scope="module")
def dataset_id(service: Service) -> int:
    return upload(service, small_files(accounts=10, reps=2))["id"]


def test_defaults_filled_in(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "tight", "dataset_id": dataset_id, "rules": {"balance": {"potential": 0.02}}})
    assert response.status_code == 201
    assert response.headers["location"] == f"/scenarios/{response.json()['id']}"
    rules = response.json()["rules"]
    assert rules["balance"]["potential"] == 0.02
    assert rules["tiers"]["tier_1_share"] == 0.10
    assert rules["name"] == "tight"


def test_invalid_rule_names_key(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "bad", "dataset_id": dataset_id, "rules": {"balance": {"potentail": 1}}})
    assert response.status_code == 422
    assert "balance.potentail" in response.json()["detail"]


def test_band_percentage_stored_as_fraction(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "pct", "dataset_id": dataset_id, "rules": {"balance": {"potential": "4%"}}})
    assert response.status_code == 201
    assert response.json()["rules"]["balance"]["potential"] == 0.04


def test_wide_band_stored_as_percentage(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "wide", "dataset_id": dataset_id, "rules": {"balance": {"potential": "150%"}}})
    assert response.status_code == 201
    assert response.json()["rules"]["balance"]["potential"] == "150%"


def test_bare_band_of_five_is_422(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "five", "dataset_id": dataset_id, "rules": {"balance": {"potential": 5}}})
    assert response.status_code == 422
    assert "balance.potential: 5 would mean +-500 %" in response.json()["detail"]


def test_nan_in_rules_is_422(service: Service, dataset_id: int) -> None:
    body = '{"name": "nan", "dataset_id": %d, "rules": {"balance": {"potential": NaN}}}' % dataset_id
    response = service.client.post("/scenarios", headers={**service.headers(), "Content-Type": "application/json"},
                                   content=body)
    assert response.status_code == 422


def test_nan_in_number_field_is_422(service: Service) -> None:
    response = service.client.post("/runs", headers={**service.headers(), "Content-Type": "application/json"},
                                   content='{"scenario_id": 1, "time_limit_s": NaN}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "nan"


def test_malformed_json_is_422(service: Service) -> None:
    response = service.client.post("/scenarios", headers={**service.headers(), "Content-Type": "application/json"},
                                   content='{"name": "x", "dataset_id": ')
    assert response.status_code == 422


def test_unknown_dataset_is_422(service: Service) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "orphan", "dataset_id": 2147483647})
    assert response.status_code == 422
    assert "dataset_id 2147483647 does not exist" in response.json()["detail"]


def test_time_limit_above_server_maximum(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "long", "dataset_id": dataset_id, "rules": {"solver": {"time_limit_s": 500}}})
    assert response.status_code == 422
    assert "TERRITORY_MAX_TIME_LIMIT_S" in response.json()["detail"]


def test_nul_character_is_422(service: Service, dataset_id: int) -> None:
    response = service.client.post("/scenarios", headers=service.headers(),
                                   json={"name": "a\u0000b", "dataset_id": dataset_id})
    assert response.status_code == 422
