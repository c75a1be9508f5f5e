"""The whence HTTP service: ``create_app()`` builds the FastAPI app (served by ``whence serve``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from whence import __version__

from . import http_errors
from .deps import Service
from .limits import BodyLimit
from .routes import completions, misc, repos, search
from .settings import Settings

DESCRIPTION = """Where did this code come from, and under which license?

Every route but `/healthz` needs an API key: `Authorization: Bearer <key>` (`whence keys create --name N`).
Errors share one envelope: `{"error": {"status", "type", "message", "field"?}}`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app, with its settings (default: from ``WHENCE_*`` environment variables)."""
    settings = settings or Settings()
    svc = Service(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    app = FastAPI(title="whence", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.service = svc
    http_errors.install(app)
    for module in (search, completions, repos, misc):
        app.include_router(module.router)

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        svc.metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        svc.metrics.latency.labels(route).observe(time.perf_counter() - t0)
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
