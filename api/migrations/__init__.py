"""Alembic migrations of the service database; api.db.upgrade_database applies them at start-up."""
