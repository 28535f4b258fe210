"""Health and version: no API key needed, so that load balancers and monitors can call them."""

from __future__ import annotations

import importlib.metadata

import ortools
from fastapi import APIRouter
from sqlalchemy import text

from api.deps import SessionDep
from api.errors import ApiError
from api.schemas import ErrorPublic, HealthPublic, VersionPublic

router = APIRouter(tags=["health"])

API_VERSION = "1"


@router.get("/health", response_model=HealthPublic, summary="Check the service and its database",
            responses={503: {"model": ErrorPublic, "description": "the database does not respond"}})
def health(session: SessionDep) -> HealthPublic:
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any database failure means unhealthy
        raise ApiError(503, f"the database does not respond: {type(error).__name__}: {error}") from error
    return HealthPublic(status="ok", database=session.get_bind().dialect.name)


@router.get("/version", response_model=VersionPublic, summary="Get the service and solver versions")
def version() -> VersionPublic:
    return VersionPublic(version=importlib.metadata.version("territory-optimizer"), ortools=ortools.__version__,
                         api=API_VERSION)
