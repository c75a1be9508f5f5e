"""Route classes of the routes that take a strict JSON body (the hosted StarCoder2 API's and TGI's).

A request whose body is not JSON gets 415 before anything else is read; a body with fields the route
does not support gets one 422 naming all of them (the request models forbid unknown fields), so that
nothing a client sends is accepted and then ignored.  :class:`TGIRoute` also answers every error in
TGI's own shape, ``{"error": "…", "error_type": "validation"}``, which Hugging Face's clients parse.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from whence.errors import IndexCorrupt, WhenceError

from ..http_errors import (
    ApiError,
    error_body,
    require_json,
    status_of,
    strict_validation_error,
    tgi_error_body,
)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class StrictJSONRoute(APIRoute):
    """415 for a body that is not JSON; one 422 naming every unsupported or invalid field."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH"):
                require_json(request.headers.get("content-type"))
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise strict_validation_error(exc) from None

        return strict


class _OwnErrorsRoute(StrictJSONRoute):
    """A strict route that answers its errors itself, in :meth:`envelope` (whence's, unless a subclass
    writes its API's shape), rather than through the service's exception handlers; an index found
    damaged is still noted for ``/healthz``."""

    def envelope(self, request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
        return error_body(status, message, field)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def own_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                status, message, field, headers = exc.status, exc.message, exc.field, exc.headers
            except WhenceError as exc:
                _note_damage(request, exc)
                status, message, field, headers = status_of(exc), str(exc), getattr(exc, "param", None), {}
            body = self.envelope(request, status, message, field)
            return JSONResponse(body, status_code=status, headers=headers)

        return own_errors


class HostedRoute(_OwnErrorsRoute):
    """A strict route whose error envelopes also carry the request's ``request_id`` (the hosted API
    answers every request with one, errors included)."""

    def envelope(self, request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
        rid = getattr(request.state, "request_id", None)
        return super().envelope(request, status, message, field) | {"request_id": rid}


def _note_damage(request: Request, exc: WhenceError) -> None:
    if isinstance(exc, IndexCorrupt):  # /healthz reports it from now on (see misc.py)
        request.app.state.index_damaged = str(exc)


class TGIRoute(_OwnErrorsRoute):
    """A strict route whose errors read as Text Generation Inference's."""

    def envelope(self, request: Request, status: int, message: str, field: str | None) -> dict[str, Any]:
        return tgi_error_body(status, message, field)
