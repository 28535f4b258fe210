"""Database engine, sessions and migrations.

The same code serves SQLite (the default: one file, no server) and PostgreSQL. SQLite runs in WAL mode
with a busy timeout, because solve workers write run progress from other processes while the server
reads and writes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_FOLDER = Path(__file__).resolve().parent / "migrations"


def make_engine(database_url: str) -> Engine:
    """Create an engine for `database_url`, with SQLite set up for several writing processes."""
    if not database_url.startswith("sqlite"):
        return create_engine(database_url, pool_pre_ping=True)

    engine = create_engine(database_url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure_sqlite(connection, _record) -> None:  # noqa: ANN001 - DBAPI connection
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade_database(engine: Engine) -> None:
    """Apply every Alembic migration that the database lacks (`alembic upgrade head`).

    On SQLite, foreign keys are not enforced during the migrations: SQLite alters a column by rebuilding
    its table, and dropping the old table would fail while other tables refer to it. The keys are
    checked afterwards, and a violation raises RuntimeError.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # The pragma has no effect inside a transaction, so it is committed before the migrations begin.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    logger.info("database schema is up to date (%s)", engine.url.render_as_string(hide_password=True))


def _check_foreign_keys(connection) -> None:  # noqa: ANN001 - a SQLAlchemy Connection
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if violations:
        table, row, parent, _ = violations[0]
        raise RuntimeError(f"the migration left {len(violations)} row(s) whose foreign key finds no row, such as "
                           f"row {row} of {table} referring to {parent}; restore the database from a backup")
