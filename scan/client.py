"""The client side of ``whence scan --remote URL``: one ``POST /v1/search/fingerprints`` per batch.

Standard library only (``urllib``), so a CI image needs nothing beyond whence.  What goes out is built by
:func:`whence.index.remote.request_body` (fingerprints, never code); :class:`Service` only carries it,
counts the bytes, and turns what can go wrong on the wire into :class:`~whence.errors.WhenceError`
messages that say what to do.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from typing import Any

from whence.errors import StoreUnavailable

ROUTE = "/v1/search/fingerprints"
#: Times a request refused with 429 or 503 is sent again (after the service's Retry-After).
RETRIES = 4
#: Longest wait for one Retry-After, in seconds.
MAX_RETRY_AFTER = 30.0
#: Largest answer read, decompressed (the service's texts for one request stay far below it).
MAX_ANSWER_BYTES = 1 << 30


class RequestTooLarge(StoreUnavailable):
    """The service refused a request body as too large (413): send fewer files at once."""


class Service:
    """A whence service that answers fingerprint searches.

    Args:
        url: its base URL (``https://whence.example.com``); the route is appended.
        api_key: the key sent as ``Authorization: Bearer KEY``.
        timeout: seconds to wait for one answer.

    Raises:
        StoreUnavailable: the URL is not an http(s) URL.
    """

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 300.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StoreUnavailable(f"--remote {url!r}: expected the service's http:// or https:// URL")
        self.url = url.rstrip("/")
        self.endpoint = self.url + ROUTE
        self.timeout = timeout
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
        }
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        #: Request bodies sent and answers received, in bytes (what ``scripts/bench/remote_scan.py`` reports).
        self.sent = 0
        self.received = 0
        self.requests = 0

    def __call__(self, body: dict[str, Any]) -> Any:
        """Send one request body; the answer's JSON.

        Raises:
            RequestTooLarge: 413.
            StoreUnavailable: the service cannot be reached, refuses the key, or answers something else.
        """
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        for attempt in range(RETRIES + 1):
            req = urllib.request.Request(self.endpoint, data=data, headers=self.headers, method="POST")
            self.requests += 1
            self.sent += len(data)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as res:
                    raw = res.read()
                    encoding = (res.headers.get("Content-Encoding") or "").lower()
                self.received += len(raw)
                if encoding == "gzip":
                    raw = _gunzip(raw, self.endpoint)
                try:
                    return json.loads(raw)
                except ValueError as exc:
                    raise StoreUnavailable(f"{self.endpoint}: the answer is not JSON ({exc})") from exc
            except urllib.error.HTTPError as exc:
                message = _message(exc)
                if exc.code in (429, 503) and attempt < RETRIES:
                    time.sleep(_retry_after(exc.headers.get("Retry-After")))
                    continue
                if exc.code == 413:
                    raise RequestTooLarge(f"{self.endpoint} answered 413: {message}") from exc
                hint = ""
                if exc.code in (401, 403):
                    hint = " (give a valid key with --api-key KEY or $WHENCE_API_KEY)"
                elif exc.code == 404:
                    hint = " (is it a whence service with fingerprint search?)"
                raise StoreUnavailable(f"{self.endpoint} answered {exc.code}: {message}{hint}") from exc
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise StoreUnavailable(f"cannot reach the service at {self.url}: {reason}") from exc
        raise AssertionError("unreachable")  # the last attempt returns or raises


def _gunzip(raw: bytes, where: str) -> bytes:
    """A gzip answer decompressed, refusing more than :data:`MAX_ANSWER_BYTES` (a hostile or broken
    server's answer cannot exhaust memory)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, MAX_ANSWER_BYTES + 1)
    except zlib.error as exc:
        raise StoreUnavailable(f"{where}: the answer is not valid gzip ({exc})") from exc
    if len(out) > MAX_ANSWER_BYTES or d.unconsumed_tail:
        raise StoreUnavailable(f"{where}: the answer is over {MAX_ANSWER_BYTES} bytes once decompressed")
    return out


def _message(exc: urllib.error.HTTPError) -> str:
    """The message of whence's error envelope, else the status's reason."""
    try:
        body = json.loads(exc.read(65536))
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)


def _retry_after(value: str | None) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.1, float(value or 1)))
    except ValueError:
        return 1.0
