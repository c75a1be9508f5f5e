"""The whence HTTP service: ``create_app()`` builds the FastAPI app (served by ``whence serve``)."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from whence import __version__

from . import http_errors
from .deps import Service
from .http_errors import ApiError
from .limits import BodyLimit
from .metrics import Metrics
from .routes import completions, hosted, misc, models, repos, search, tgi
from .security import SecurityHeaders, page_csp
from .settings import Settings

DESCRIPTION = """Where did this code come from, and under which license?

Every route but `/healthz` and TGI's `/info` needs an API key: `Authorization: Bearer <key>` (`whence keys
create --name N`). Errors share one envelope: `{"error": {"status", "type", "message", "field"?}}`, except on
TGI's routes, which answer TGI's `{"error", "error_type"}`, and the OpenAI-compatible routes
(`/v1/completions`, `/v1/models`), which answer OpenAI's, `{"error": {"message", "type", "param", "code",
"status", "field"?}}`, with 400 for bad input. Every answer has an `X-Request-ID` header."""

DOCS_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app, with its settings (default: from ``WHENCE_*`` environment variables)."""
    settings = settings or Settings()
    svc = Service(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await svc.searches.start()  # the search processes, with the index open
        yield
        svc.searches.detach()  # on the loop: stop reading the search processes' pipes
        await asyncio.to_thread(svc.close)

    app = FastAPI(
        title="whence",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below, with a Content-Security-Policy that allows its inline script
        redoc_url=None,
    )
    app.state.service = svc
    http_errors.install(app)
    for module in (search, completions, models, hosted, tgi, repos, misc):
        app.include_router(module.router)

    docs = bytes(
        get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="whence: API docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        ).body
    ).decode()
    docs_csp = page_csp(docs, img="'self' data:")  # Swagger UI's icons are data: URLs

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs, headers={"Content-Security-Policy": docs_csp})

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def swagger_ui_asset(name: str) -> FileResponse:
        """Swagger UI's code, style and icon, from the installed ``swagger-ui-bundle-v2``: nothing is
        fetched from a CDN."""
        if name not in DOCS_ASSETS:
            raise ApiError(404, "no such file")
        return FileResponse(str(swagger_ui_path / name), headers={"Cache-Control": "public, max-age=86400"})

    app.add_middleware(Measure, metrics=svc.metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # on BodyLimit's 413 too
    app.add_middleware(RequestId)  # outermost: every answer carries its id, a 413 too
    return app


class Measure:
    """ASGI middleware: counts every HTTP request by method, route and status, and times it.

    Plain ASGI rather than ``@app.middleware("http")``: that one wraps each request in a task and a
    streamed response, which cost more than a search's HTTP handling itself."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500  # what the client sees when the app raises before answering

        async def noted(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, noted)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - t0)


#: A client's ``X-Request-ID`` is kept when it is this sane (printable, no spaces, at most 128
#: characters); any other value is replaced by an id of the server's own.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
_log = logging.getLogger("whence.api")


def request_log() -> logging.Logger:
    """The service's request log (``whence.api``): one line per request, ``REQUEST_ID METHOD PATH STATUS
    MS``, on standard error next to uvicorn's own lines (at INFO unless configured otherwise)."""
    if _log.level == logging.NOTSET:
        _log.setLevel(logging.INFO)
    if not _log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s %(message)s"))
        _log.addHandler(handler)
        _log.propagate = False
    return _log


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is sane (:data:`SANE_REQUEST_ID`), else a new one."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if SANE_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestId:
    """ASGI middleware: every HTTP request gets an id (the client's sane ``X-Request-ID``, else a new
    one), kept in ``request.state.request_id`` for the routes, sent back in the ``X-Request-ID`` header
    of every answer, and written to the request log with the method, path, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = request_log()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        status = 500

        async def tagged(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
                headers = [(k, v) for k, v in msg.get("headers", []) if k.lower() != b"x-request-id"]
                msg = {**msg, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(msg)

        try:
            await self.app(scope, receive, tagged)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            path = repr(scope["path"][:300])[1:-1]  # a hostile path's newlines stay escaped in the log
            self.log.info("%s %s %s %d %.1fms", rid, scope["method"], path, status, ms)
