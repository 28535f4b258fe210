"""Service settings read from the environment."""

from __future__ import annotations

import pytest

from api.settings import Settings


def test_defaults_to_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite:///./territory.db"


@pytest.mark.parametrize("url", ["postgresql://planner@db:5432/territory", "postgres://planner@db:5432/territory"])
def test_postgresql_url_uses_psycopg3(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert Settings(_env_file=None).database_url == "postgresql+psycopg://planner@db:5432/territory"


def test_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRITORY_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("TERRITORY_MAX_ROWS", "10")
    settings = Settings(_env_file=None)
    assert settings.max_upload_bytes == 1234
    assert settings.max_rows == 10
