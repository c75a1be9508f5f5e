"""Security headers on every answer, and the Content-Security-Policy of pages with inline code.

Every answer gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and a
Content-Security-Policy that loads nothing from elsewhere and may not be framed. A page with inline
``<script>``/``<style>`` (the web page, ``/docs``) sets its own policy that allows exactly those blocks by
their SHA-256 (``page_csp``); the middleware leaves a policy the route set alone."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_CSP = (
    "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'"
)

_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", BASE_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _hashes(html: str, tag: str) -> str:
    blocks = re.findall(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", html, flags=re.S | re.I)
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in blocks if b
    )


def page_csp(html: str, *, img: str = "'self'") -> str:
    """The policy for ``html``: its inline scripts and styles (by hash), everything else from here only."""
    scripts = _hashes(html, "script") or "'none'"
    styles = _hashes(html, "style") or "'none'"
    return (
        f"default-src 'self'; script-src 'self' {scripts}; style-src 'self' {styles}; img-src {img}; "
        "base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """ASGI middleware: adds the headers above to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in _HEADERS if k not in present)
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)
