"""Health, metrics, usage and the web page."""

from __future__ import annotations

import hmac
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from whence import __version__
from whence.errors import WhenceError

from ..deps import Service, api_key, service
from ..http_errors import ApiError, status_of
from ..schemas import Health, UsageResponse
from ..security import page_csp
from ..state import ApiKey

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["service"])
def healthz(request: Request, svc: Service = Depends(service)) -> dict[str, Any]:  # noqa: B008
    """Liveness and readiness (no API key): 200 when the index answers and searches can run, else 503 --
    also, until the server restarts, once a request has found the index damaged."""
    if damaged := getattr(request.app.state, "index_damaged", None):
        raise ApiError(503, f"index unavailable: {damaged}")
    try:
        documents = svc.store().count_documents()
    except WhenceError as exc:
        raise ApiError(status_of(exc), f"index unavailable: {exc}") from exc
    if why := svc.searches.failing:
        raise ApiError(503, f"no search process is running: {why}")
    return {
        "status": "ok",
        "version": __version__,
        "documents": documents,
        "search_processes": len(svc.searches.pids()),
    }


async def scraper(request: Request, svc: Service = Depends(service)) -> None:  # noqa: B008
    """Who may read /metrics: ``Authorization: Bearer <token>`` with the scrape token
    (``WHENCE_METRICS_TOKEN``) or a valid API key.  Unlike :func:`api_key`, a scrape is not counted in
    the key's usage nor against its rate limit: a Prometheus scraping every 15 s would otherwise bill
    a key 5760 requests a day."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "/metrics needs the scrape token (WHENCE_METRICS_TOKEN) or an API key: "
            "send 'Authorization: Bearer <token>' (create a key with `whence keys create --name NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = svc.settings.metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    key, why = svc.state.check(token)
    if key is None:
        raise ApiError(401, why, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if why:
        raise ApiError(403, why)


@router.get("/metrics", tags=["service"], response_class=Response, dependencies=[Depends(scraper)])
def metrics(request: Request, svc: Service = Depends(service)) -> Response:  # noqa: B008
    """Prometheus metrics (the service's, prefixed `whence_`, and the server process's `process_*`), for
    the scrape token (`WHENCE_METRICS_TOKEN`) or an API key, never counted as usage.  OpenMetrics 1.0
    when the request's `Accept` asks for `application/openmetrics-text`, else the text format 0.0.4."""
    body, media_type = svc.metrics.render(request.headers.get("accept", ""))
    return Response(body, media_type=media_type, headers={"Vary": "Accept"})


@router.get("/v1/usage", response_model=UsageResponse, tags=["service"])
def usage(svc: Service = Depends(service), key: ApiKey = Depends(api_key)) -> dict[str, Any]:  # noqa: B008
    """Requests, tokens and cost accounted to the calling key, in all and by day (UTC)."""
    price = svc.settings.price_per_million_tokens
    return {"key": key.as_dict(), "price_per_million_tokens": price} | svc.state.usage(key.id)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The web page: snippet search and the generation playground (the API key is entered in the page)."""
    html = _page()
    return HTMLResponse(html, headers={"Content-Security-Policy": page_csp(html)})


ICONS = {"favicon.ico": "image/vnd.microsoft.icon", "favicon.svg": "image/svg+xml"}


@router.get("/favicon.ico", include_in_schema=False)
@router.get("/favicon.svg", include_in_schema=False)
def favicon(request: Request) -> Response:
    """The page's icon: the SVG the page links to, and ``/favicon.ico`` for whoever asks by that name."""
    name = request.url.path.lstrip("/")
    return Response(_asset(name), media_type=ICONS[name], headers={"Cache-Control": "public, max-age=86400"})


@cache
def _page() -> str:
    return _asset("index.html").decode("utf-8")


@cache
def _asset(name: str) -> bytes:
    return resources.files("whence.api").joinpath(f"web/{name}").read_bytes()
