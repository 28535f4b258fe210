"""Schema upgrades of a database that already contains plans, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from api.db import MIGRATIONS_FOLDER, make_engine, upgrade_database
from optimizer.scenario import scenario_from_dict
from tests.api.conftest import postgresql_schema_url

ROWS_AT_0001 = [
    "INSERT INTO datasets (id, name, created_at, accounts_filename, reps_filename, accounts_file, reps_file, "
    "account_columns, rep_columns, skip_bad_rows, account_count, rep_count, skipped_issues, rep_ids) VALUES "
    "(1, 'd', '2024-01-01', 'accounts.csv', 'reps.csv', :content, :content, '{}', '{}', false, 1, 1, '[]', '[]')",
    "INSERT INTO scenarios (id, name, dataset_id, rules, created_at) VALUES (1, 's', 1, '{}', '2024-01-01')",
    "INSERT INTO runs (id, scenario_id, status, time_limit_s, created_at, causes, relaxations) VALUES "
    "(1, 1, 'succeeded', 5, '2024-01-01', '[]', '[]')",
    "INSERT INTO plans (id, run_id, scenario_id, version, created_at, summary, metrics, territories, map_html) "
    "VALUES (1, 1, 1, 1, '2024-01-01', '{}', '{}', '{}', '')",
    "INSERT INTO plan_assignments (id, plan_id, position, account_id, rep_id, moved, tier, score, potential, "
    "workload_hours, located_by) VALUES (1, 1, 0, 'A1', 'R1', false, 1, 50, 1000, 10, 'coordinates')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield from postgresql_schema_url()


def engine_at(url: str, revision: str):
    """Return an engine on `url` whose schema is at `revision`."""
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_upgrade_keeps_runs_and_plans(empty_database):
    engine = engine_at(empty_database, "0001")
    with engine.begin() as connection:
        for statement in ROWS_AT_0001:
            connection.execute(text(statement), {"content": b"x"})

    upgrade_database(engine)

    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, scenario_id, geo_scenario_id FROM runs")).all() == [(1, 1, None)]
        # 0004 rebuilds the plans table on SQLite; the plan keeps its run and its assignments.
        assert connection.execute(text("SELECT id, run_id, based_on_plan_id FROM plans")).all() == [(1, 1, None)]
        assert connection.execute(text("SELECT plan_id, account_id FROM plan_assignments")).all() == [(1, "A1")]
        assert connection.execute(text("SELECT count(*) FROM proposals")).scalar() == 0
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_upgrade_rewrites_wide_bands_as_percentages(empty_database):
    """Rules stored before bands of 1 or more were rejected keep their meaning: 1.5 becomes "150%"."""
    engine = engine_at(empty_database, "0002")
    with engine.begin() as connection:
        connection.execute(text(ROWS_AT_0001[0]), {"content": b"x"})
        connection.execute(text("INSERT INTO scenarios (id, name, dataset_id, rules, created_at) VALUES "
                                "(1, 's', 1, :rules, '2024-01-01')"),
                           {"rules": json.dumps({"balance": {"potential": 1.5, "accounts": 0.2, "workload": 3}})})

    upgrade_database(engine)

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT rules FROM scenarios WHERE id = 1")).scalar()
    rules = json.loads(stored) if isinstance(stored, str) else stored
    assert rules["balance"] == {"potential": "150%", "accounts": 0.2, "workload": "300%"}
    assert scenario_from_dict(rules).balance.potential == 1.5
    engine.dispose()


def test_models_match_migrations(empty_database):
    """The tables that the migrations build are the tables the models describe, column for column."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from api.models import Base

    engine = make_engine(empty_database)
    upgrade_database(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
