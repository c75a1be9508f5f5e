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


# -- Strict JSON bodies (the hosted-API and TGI routes) ---------------------------------------------
#
# Kept apart from the handlers above: these routes refuse what they do not support instead of ignoring
# it, and TGI's routes answer TGI's own error shape, which Hugging Face's clients parse.

#: Content types read as JSON (a body sent without one is read as JSON too, as FastAPI does).
JSON_TYPES = ("application/json",)


def require_json(content_type: str | None) -> None:
    """Raise a 415 :class:`ApiError` unless ``content_type`` is JSON (``application/json``, any
    ``application/*+json``, with or without parameters) or absent."""
    if not content_type:
        return
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in JSON_TYPES or (mime.startswith("application/") and mime.endswith("+json")):
        return
    shown = mime[:80] or "(empty)"
    raise ApiError(
        415,
        f"the body must be JSON (Content-Type: application/json), got Content-Type {shown}",
        field="body",
    )


def strict_validation_error(exc: RequestValidationError) -> ApiError:
    """A request-validation error as one 422 that names every field at fault: all unsupported fields at
    once (``extra_forbidden``: "not supported"), else the first error, with a body that is not a JSON
    object or not JSON at all said in so many words."""
    errors = list(exc.errors())
    unknown = [_loc(e) for e in errors if e.get("type") == "extra_forbidden"]
    if unknown:
        names = ", ".join(unknown)
        noun = "field is" if len(unknown) == 1 else "fields are"
        return ApiError(
            422, f"{names}: not supported (the {noun} refused rather than ignored)", field=unknown[0]
        )
    if not errors:
        return ApiError(422, "invalid request")
    first = errors[0]
    field = _loc(first)
    if first.get("type") == "json_invalid":
        why = (first.get("ctx") or {}).get("error", first.get("msg"))
        return ApiError(422, f"the body is not valid JSON ({why})", field="body")
    if not field:
        return ApiError(422, "the body must be a JSON object", field="body")
    return ApiError(422, f"{field}: {first.get('msg')}", field=field)


def _loc(error: Any) -> str:
    return ".".join(str(x) for x in error.get("loc", ()) if x != "body")


#: TGI's ``error_type`` for a status (what ``huggingface_hub`` turns into its exception classes).
_TGI_TYPES = {413: "validation", 415: "validation", 422: "validation", 429: "overloaded"}


def tgi_error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    """TGI's error shape, ``{"error": "…", "error_type": "validation"}``, plus whence's ``field``."""
    kind = _TGI_TYPES.get(status, _TYPES.get(status, "error"))
    body: dict[str, Any] = {"error": message, "error_type": kind}
    if field:
        body["field"] = field
    return body
