"""Request limits: a body-size cap checked before any work, and per-key rate limits."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_errors import error_body


class BodyLimit:
    """ASGI middleware: a request whose body exceeds ``max_bytes`` gets 413 before a route runs.

    ``Content-Length`` is checked first; a body sent without one (chunked) is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._reject(send)
            return
        received = 0
        too_big = False

        async def counted() -> Message:
            nonlocal received, too_big
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.max_bytes:
                    too_big = True
                    raise _TooLarge  # stops the route from reading (and working on) more of the body
            return msg

        async def guarded(msg: Message) -> None:
            # Whatever the app answers after an oversized body (the framework turns the interruption
            # into its own error) is replaced by our 413.
            if not too_big:
                await send(msg)
            elif msg["type"] == "http.response.start":
                await self._reject(send)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(error_body(413, f"request body larger than {self.max_bytes} bytes")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """Raised inside the app's receive() when the body passes the cap."""


class RateLimiter:
    """Token buckets per key: ``burst`` requests at once, refilled at ``per_minute`` a minute."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token; returns 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def retry_after(seconds: float) -> dict[str, Any]:
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}
