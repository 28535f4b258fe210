"""Dependencies shared by the routers: the database session, the caller and role checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from api.auth import KEY_HEADER, Caller, find_caller
from api.jobs import JobManager
from api.models import Role
from api.settings import Settings

logger = logging.getLogger(__name__)

_key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False,
                           description="API key created with `territory keys create`")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]


def get_caller(request: Request, session: SessionDep,
               token: Annotated[str | None, Security(_key_header)]) -> Caller:
    caller = find_caller(session, token)
    if caller is None:
        reason = "missing" if not token else "invalid or revoked"
        logger.info("%s %s rejected (401): API key %s", request.method, request.url.path, reason)
        raise HTTPException(401, f"API key {reason}; send a key in the {KEY_HEADER} header",
                            headers={"WWW-Authenticate": KEY_HEADER})
    return caller


def require(*roles: Role) -> Callable[[Caller], Caller]:
    """Build a dependency that returns the caller when its role is one of `roles`, else raises 403."""
    allowed = ", ".join(role.value for role in roles)

    def check(request: Request, caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if caller.role not in roles:
            logger.info("%s %s rejected (403): key %d has role %s", request.method, request.url.path, caller.key_id,
                        caller.role.value)
            raise HTTPException(403, f"the {caller.role.value} role may not do this; it needs one of: {allowed}")
        return caller

    return check


EVERY_ROLE = (Role.sales_ops, Role.leadership, Role.ae)
PLANNERS = (Role.sales_ops, Role.leadership)

AnyCaller = Annotated[Caller, Depends(require(*EVERY_ROLE))]
Planner = Annotated[Caller, Depends(require(*PLANNERS))]
SalesOps = Annotated[Caller, Depends(require(Role.sales_ops))]
