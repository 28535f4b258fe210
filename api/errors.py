"""HTTP errors of the service, and the one place that maps library errors to HTTP codes and run states.

    optimizer.errors.InputError      -> 422, with every bad row in ``issues``
    optimizer.errors.ConfigError     -> 422
    optimizer.errors.InfeasibleError -> 422 in a request; a run ends "infeasible" with its causes
    optimizer.errors.SolverError     -> 503 in a request; a run ends "failed"
    request validation (bad JSON, NaN, out-of-range values) -> 422
    ApiError (not found, conflict, too large, ...) -> its own status
    anything else                    -> 500, logged with its traceback
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import RunStatus
from api.schemas import NO_NUL_PATTERN
from sqlalchemy.orm import Session

from optimizer.errors import ConfigError, InfeasibleError, InputError, RowIssue, SolverError, TerritoryError

logger = logging.getLogger(__name__)

HTTP_STATUS: dict[type[TerritoryError], int] = {
    InputError: 422,
    ConfigError: 422,
    InfeasibleError: 422,
    SolverError: 503,
}


class ApiError(Exception):
    """An error the service returns on purpose, with its HTTP status and a message for the caller."""

    def __init__(self, status_code: int, detail: str, **extra: Any):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra


RowT = TypeVar("RowT")


def not_found(kind: str, identifier: object) -> ApiError:
    return ApiError(404, f"{kind} {identifier} not found")


def get_or_404(session: Session, model: type[RowT], identifier: int, kind: str) -> RowT:
    """Return the row of `model` with primary key `identifier`, or raise 404 naming `kind`."""
    row = session.get(model, identifier)
    if row is None:
        raise not_found(kind, identifier)
    return row


def status_for(error: TerritoryError) -> int:
    return next((code for kind, code in HTTP_STATUS.items() if isinstance(error, kind)), 500)


def run_status_for(error: TerritoryError) -> RunStatus:
    """Return the final status of a run that ended with `error`."""
    return RunStatus.infeasible if isinstance(error, InfeasibleError) else RunStatus.failed


def issue_dict(issue: RowIssue) -> dict[str, Any]:
    return {"file": issue.file, "row": issue.row, "column": issue.column, "value": issue.value,
            "message": issue.message}


# The library's messages name command-line options; over HTTP the same settings are these fields. Only
# these names change, and only outside quotes, so a value such as '--vacant' quoted in a message stays.
_FIELD_OF_OPTION = {
    "account-column": "account_column", "rep-column": "rep_column", "skip-bad-rows": "skip_bad_rows",
    "time-limit": "time_limit_s", "unit-id": "unit_id", "unit-values": "unit_values", "band": "band",
    "metric": "metric", "lock": "lock", "connector": "connector", "barrier": "barrier", "snap-km": "snap_km",
    "current": "current", "layer": "layer", "territories": "territories", "weight": "weight",
    "priority": "priority", "move-penalty": "move_penalty", "seed": "seed", "workers": "workers",
}
_OPTION = re.compile(r"(?<![\w'\"-])--(" + "|".join(sorted(_FIELD_OF_OPTION, key=len, reverse=True)) + r")\b(?!-)")


def api_text(text: str) -> str:
    """Return `text` with each command-line option (--account-column) named as its API field (account_column)."""
    return _OPTION.sub(lambda match: _FIELD_OF_OPTION[match[1]], text)


def territory_error_body(error: TerritoryError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": api_text(str(error))}
    if isinstance(error, InputError):
        body["issues"] = [{**issue_dict(issue), "message": api_text(issue.message), "file": api_text(issue.file)}
                          for issue in error.issues]
    if isinstance(error, InfeasibleError):
        body["causes"] = [api_text(cause) for cause in error.causes]
        body["relaxations"] = [api_text(relaxation) for relaxation in error.relaxations]
    return body


def _finite(value: Any) -> Any:
    """Replace NaN and infinity, which strict JSON cannot carry, by their text, and escape lone surrogates,
    which UTF-8 cannot encode."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_finite(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


ECHO_MAX_CHARACTERS = 200


def _readable(item: dict[str, Any]) -> dict[str, Any]:
    """Return a validation error with a plain message for a NUL character and a long input cut short.

    The default error echoes the whole input, so a 10 MB note would come back in a 10 MB response.
    """
    if item.get("type") == "string_pattern_mismatch" and (item.get("ctx") or {}).get("pattern") == NO_NUL_PATTERN:
        item = {**item, "msg": "contains a NUL character (\\x00), which no text field may contain; remove it"}
    value = item.get("input")
    text = value if isinstance(value, str) else None
    if text is None and isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        if len(text) <= ECHO_MAX_CHARACTERS:
            text = None
    if text is not None and len(text) > ECHO_MAX_CHARACTERS:
        item = {**item, "input": f"{text[:ECHO_MAX_CHARACTERS]}... ({len(text):,} characters, cut short)"}
    # A long key of a JSON object is part of the location.
    item["loc"] = [_cut(part) for part in item.get("loc", [])]
    return item


def _cut(part: Any) -> Any:
    if isinstance(part, str) and len(part) > ECHO_MAX_CHARACTERS:
        return f"{part[:ECHO_MAX_CHARACTERS]}... ({len(part):,} characters, cut short)"
    return part


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into a JSON response with a ``detail`` message."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        if error.status_code >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, error.detail)
        return JSONResponse({"detail": error.detail, **error.extra}, status_code=error.status_code)

    @app.exception_handler(TerritoryError)
    async def _territory_error(request: Request, error: TerritoryError) -> JSONResponse:
        status = status_for(error)
        logger.info("%s %s rejected (%d): %s", request.method, request.url.path, status, str(error).splitlines()[0])
        return JSONResponse(territory_error_body(error), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # The default handler echoes the input, and an input of NaN would make the response itself invalid.
        errors = [_readable(item) for item in _finite(jsonable_encoder(error.errors()))]
        logger.info("%s %s rejected (422): %d validation error(s)", request.method, request.url.path, len(errors))
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s failed unexpectedly", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(error).__name__}); the server log has the details"},
                            status_code=500)
