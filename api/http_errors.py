"""One JSON envelope for every HTTP error.

Every error body reads ``{"error": {"status": 422, "type": "invalid_request", "message": "…",
"field": "max_tokens"}}`` (``field`` only where one input is to blame).  Library exceptions become
statuses here, at the boundary: bad input 422, a missing or damaged index or an engine that is down
503.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from whence.errors import (
    GeneratorUnavailable,
    IndexCorrupt,
    IndexFormatError,
    IndexNotFound,
    InvalidInput,
    StoreUnavailable,
    WhenceError,
)

_TYPES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
    503: "unavailable",
}  # fmt: skip


class ApiError(Exception):
    """An error with its HTTP status (raised by routes and dependencies)."""

    def __init__(
        self, status: int, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"status": status, "type": _TYPES.get(status, "error"), "message": message}
    if field:
        err["field"] = field
    return {"error": err}


def error_response(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, field), status_code=status, headers=headers)


def status_of(exc: WhenceError) -> int:
    """The HTTP status of a library error."""
    if isinstance(exc, InvalidInput):
        return 422
    unavailable = (StoreUnavailable, IndexNotFound, IndexFormatError, IndexCorrupt, GeneratorUnavailable)
    if isinstance(exc, unavailable):
        return 503
    return 500


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the envelope."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        field = ".".join(loc) or None
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return error_response(422, message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(WhenceError)
    async def _whence(request: Request, exc: WhenceError) -> JSONResponse:
        if isinstance(exc, IndexCorrupt):  # /healthz reports it from now on (see routes/misc.py)
            request.app.state.index_damaged = str(exc)
        field = getattr(exc, "param", None)
        return error_response(status_of(exc), str(exc), field)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"internal error ({type(exc).__name__}); the server log has the details")
