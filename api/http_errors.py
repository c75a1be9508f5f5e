"""One JSON envelope for every HTTP error.

Every error body reads ``{"error": {"status": 422, "type": "invalid_request", "message": "…",
"field": "max_tokens"}}`` (``field`` only where one input is to blame).  Library exceptions become
statuses here, at the boundary: bad input 422, a missing or damaged index or an engine that is down
503.

The OpenAI-compatible routes (``/v1/completions``, ``/v1/models``) answer in OpenAI's shape instead, so
that OpenAI's client libraries raise their own error classes: ``{"error": {"message", "type", "param",
"code", "status", "field"}}`` (whence's ``status`` and ``field`` kept beside OpenAI's ``type``, ``param``
and ``code``), and bad input is 400 there, not 422 (see :func:`openai_error_body`).
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
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.code = code  # OpenAI's error code, on the OpenAI routes (default: the status's)


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


# -- OpenAI's error shape, on the OpenAI-compatible routes ------------------------------------------

#: OpenAI's error ``type`` and default ``code`` per status (what its API answers; its client libraries
#: choose their exception class by the status: 400 ``BadRequestError``, 401 ``AuthenticationError``,
#: 403 ``PermissionDeniedError``, 404 ``NotFoundError``, 429 ``RateLimitError``, 5xx
#: ``InternalServerError``).
_OPENAI_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"), 404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"), 413: ("invalid_request_error", "payload_too_large"),
    429: ("requests", "rate_limit_exceeded"), 500: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}  # fmt: skip


def is_openai_route(path: str) -> bool:
    """Whether ``path`` is one of the OpenAI-compatible routes, which answer errors in OpenAI's shape."""
    return path in ("/v1/completions", "/v1/models") or path.startswith("/v1/models/")


def openai_status(status: int) -> int:
    """The status an OpenAI route answers for ``status``: bad input is 400 there (OpenAI's clients raise
    ``BadRequestError`` for 400 only), everything else keeps its status."""
    return 400 if status == 422 else status


def openai_error_body(
    status: int, message: str, field: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error body, with whence's ``status`` and ``field`` kept: ``{"error": {"message", "type",
    "param", "code", "status", "field"?}}``.  ``status`` is the one answered (see :func:`openai_status`);
    ``code`` defaults to the status's (``invalid_value`` for a named bad parameter)."""
    status = openai_status(status)
    kind, default_code = _OPENAI_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    if code is None:
        code = "invalid_value" if status == 400 and field else default_code
    err: dict[str, Any] = {"message": message, "type": kind, "param": field, "code": code, "status": status}
    if field:
        err["field"] = field
    return {"error": err}


def _answer(
    request: Request,
    status: int,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """The error answer for ``request``'s route: OpenAI's shape and status on the OpenAI routes, whence's
    envelope elsewhere."""
    if is_openai_route(request.url.path):
        body = openai_error_body(status, message, field, code)
        return JSONResponse(body, status_code=body["error"]["status"], headers=headers)
    return error_response(status, message, field, headers)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the envelope."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return _answer(request, exc.status, exc.message, exc.field, exc.headers, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        field = ".".join(loc) or None
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return _answer(request, 422, message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _answer(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(WhenceError)
    async def _whence(request: Request, exc: WhenceError) -> JSONResponse:
        if isinstance(exc, IndexCorrupt):  # /healthz reports it from now on (see routes/misc.py)
            request.app.state.index_damaged = str(exc)
        field = getattr(exc, "param", None)
        return _answer(request, status_of(exc), str(exc), field)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        message = f"internal error ({type(exc).__name__}); the server log has the details"
        return _answer(request, 500, message)


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
