"""Alembic environment of the service.

The service runs migrations itself at start-up (api.db.upgrade_database) and hands Alembic an open
connection in ``config.attributes["connection"]``. Without one (the `alembic` command line), the URL
comes from the service settings, that is from DATABASE_URL.
"""

from __future__ import annotations

from alembic import context

from api.models import Base

config = context.config


def _run(connection) -> None:  # noqa: ANN001 - a SQLAlchemy Connection
    # render_as_batch lets ALTER TABLE migrations work on SQLite, which rebuilds the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    from api.db import make_engine
    from api.settings import Settings

    engine = make_engine(Settings().database_url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations()
