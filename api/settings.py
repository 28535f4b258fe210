"""The service's settings: one object, read from environment variables (and a `.env` file if present).

DATABASE_URL selects the database; every other setting has the prefix TERRITORY_, for example
TERRITORY_MAX_UPLOAD_BYTES=20000000.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of the territory service."""

    model_config = SettingsConfigDict(env_prefix="TERRITORY_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./territory.db",
        validation_alias=AliasChoices("DATABASE_URL", "TERRITORY_DATABASE_URL"),
        description="SQLAlchemy URL; postgresql://USER@HOST/DB uses PostgreSQL through psycopg 3",
    )
    max_upload_bytes: int = Field(20_000_000, gt=0, description="largest accepted size of one uploaded file, bytes")
    max_rows: int = Field(100_000, gt=0, description="most data rows accepted in one uploaded file")
    workers: int = Field(1, ge=1, le=64, description="solves that run at the same time, one process each")
    max_time_limit_s: float = Field(3_600.0, gt=0, description="maximum solver time limit of a scenario or run, seconds")
    run_grace_s: float = Field(
        120.0, ge=0,
        description="seconds a worker may run past its solver time limit (reading input, territories, map) "
                    "before it is killed and its run marked failed",
    )
    poll_interval_s: float = Field(0.5, gt=0, description="how often the job manager checks its workers, seconds")
    load_demo: bool = Field(True, description="load the embedded demo data set into an empty database at start-up")

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        # A plain postgresql:// URL would make SQLAlchemy look for psycopg2, which is not a dependency.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value
