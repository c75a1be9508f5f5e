"""The whence HTTP service: ``create_app()`` builds the FastAPI app (served by ``whence serve``)."""

from __future__ import annotations

import asyncio
import time
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
from .routes import completions, misc, models, repos, search
from .security import SecurityHeaders, page_csp
from .settings import Settings

DESCRIPTION = """Where did this code come from, and under which license?

Every route but `/healthz` needs an API key: `Authorization: Bearer <key>` (`whence keys create --name N`).
Errors share one envelope: `{"error": {"status", "type", "message", "field"?}}`; the OpenAI-compatible
routes (`/v1/completions`, `/v1/models`) answer OpenAI's, `{"error": {"message", "type", "param", "code",
"status", "field"?}}`, with 400 for bad input."""

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
    for module in (search, completions, models, repos, misc):
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
    app.add_middleware(SecurityHeaders)  # outermost: on BodyLimit's 413 too
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
