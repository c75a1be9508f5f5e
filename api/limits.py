"""Request limits: a body-size cap checked before any work, and per-key rate limits."""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
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
    """Token buckets per key, shared by every server process that uses the same state database.

    ``burst`` requests at once, refilled at ``per_minute`` a minute.  The buckets live in a small file
    beside the state database (``<state>-ratelimit``), mapped into memory and updated under an exclusive
    ``flock``: ``whence serve --workers N`` gives a key its limit once, not once per process.  The file is
    never synced; it holds only the last moments of traffic.  A missing or outdated bucket counts as full,
    so a new file, a reboot (the monotonic clock restarts) or an evicted slot can only be lenient.

    ``clock`` gives the time, in seconds, that buckets refill by: by default ``time.monotonic``, whose
    readings every process of one boot shares.  Tests pass a clock they set themselves; every limiter on
    one file must use the same clock.
    """

    SLOTS = 16384  # 512 KiB; keys hash to a slot and probe the next PROBE
    PROBE = 64
    _SLOT = struct.Struct("<16sdd")  # blake2b-128 of the key, tokens, monotonic time of the last update

    def __init__(
        self, per_minute: int, burst: int, path: str | Path, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()  # flock is per open file: threads of one process need their own lock
        size = self.SLOTS * self._SLOT.size
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                if os.fstat(self._fd).st_size != size:  # new, or made with another layout: start afresh
                    os.ftruncate(self._fd, 0)
                    os.ftruncate(self._fd, size)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(self._fd, size)
        except BaseException:
            os.close(self._fd)
            raise

    def take(self, key: str) -> float:
        """Take one token; returns 0 when allowed, else the seconds until a token is available."""
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        first = int.from_bytes(digest[:8], "little") % self.SLOTS
        refill = self.burst / self.rate  # an untouched bucket is full again after this long
        slot_size = self._SLOT.size
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                now = self.clock()
                mine = free = oldest = -1
                tokens = last = oldest_t = math.inf
                for i in range(self.PROBE):
                    at = (first + i) % self.SLOTS * slot_size
                    d, tokens, last = self._SLOT.unpack_from(self._map, at)
                    if d == digest:
                        mine = at
                        break
                    stale = not any(d) or not last <= now < last + refill
                    if stale and free < 0:
                        free = at
                    if last < oldest_t:
                        oldest, oldest_t = at, last
                if mine >= 0 and last <= now:
                    tokens = min(self.burst, tokens + (now - last) * self.rate)
                else:  # a new key, or a bucket from before a reboot: full
                    mine = mine if mine >= 0 else free if free >= 0 else oldest
                    tokens = self.burst
                if tokens >= 1:
                    self._SLOT.pack_into(self._map, mine, digest, tokens - 1, now)
                    return 0.0
                self._SLOT.pack_into(self._map, mine, digest, tokens, now)
                return (1 - tokens) / self.rate
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if not self._map.closed:
                self._map.close()
                os.close(self._fd)


def retry_after(seconds: float) -> dict[str, Any]:
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}
