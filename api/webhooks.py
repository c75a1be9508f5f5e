"""Webhooks of the hosted StarCoder2 API: a request with ``webhook`` is answered at once (``{"status":
"queued", "request_id"}``); its generation runs later, and its result is POSTed to the URL.

- **Bounded.** Jobs wait in a queue of ``WHENCE_WEBHOOK_QUEUE``; a request that finds it full gets 503
  with ``Retry-After`` (nothing is queued).  One worker thread per server process runs them in order
  (generation is one at a time anyway).
- **Retried.** Up to ``WHENCE_WEBHOOK_ATTEMPTS`` tries, ``WHENCE_WEBHOOK_BACKOFF`` seconds before the
  second, doubled before each later one (at most :data:`MAX_BACKOFF_S`): on a connection failure, a
  timeout, 408, 425, 429 and 5xx.  Any other answer but 2xx ends it.  Every try is logged with the
  request id.
- **Not a way into the operator's network (SSRF).** The URL must be ``http(s)``, without credentials,
  and its host allowed by ``WHENCE_WEBHOOK_HOSTS`` (empty, the default: no webhooks).  A host allowed
  only by a pattern (``*``, ``*.example.com``) is resolved at each try and refused unless every address
  is public (not loopback, private, link-local, shared, reserved or multicast); the connection then goes
  to the address that was checked (``Host`` and TLS SNI keep the name), so DNS cannot answer one address
  to the check and another to the connection.  Redirects are not followed; proxies from the environment
  are not used; the receiver's answer body is never read.  A host the operator names exactly
  (``hooks.internal``, ``10.0.0.7``) is trusted whatever it resolves to.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from whence import __version__

from .http_errors import ApiError

MAX_URL_CHARS = 2048
MAX_BACKOFF_S = 60.0
#: Seconds one try may take (connecting, sending, the receiver's answer).
TIMEOUT_S = 10.0
RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
_log = logging.getLogger("whence.api")

Job = Callable[[], dict[str, Any]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """A webhook URL whose host may not be reached (its message says why)."""


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: its scheme, host (lower case), port, and the path with its query."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    exact: bool  # the host is named in the allow-list, not only matched by a pattern


def _public(addr: Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


def _ip(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class HostPolicy:
    """``WHENCE_WEBHOOK_HOSTS``: exact names and addresses, ``*.suffix`` patterns, ``*``."""

    def __init__(self, hosts: str) -> None:
        items = [h.strip().lower().rstrip(".") for h in hosts.split(",") if h.strip()]
        self.any = "*" in items
        self.suffixes = tuple(h[1:] for h in items if h.startswith("*.") and len(h) > 2)
        self.exact = frozenset(str(_ip(h.strip("[]")) or h) for h in items if not h.startswith("*"))

    @property
    def enabled(self) -> bool:
        return self.any or bool(self.suffixes) or bool(self.exact)

    def check(self, url: str) -> Target:
        """The checked :class:`Target`; :class:`ApiError` 422 (field ``webhook``) saying what is wrong."""

        def bad(why: str) -> ApiError:
            return ApiError(422, f"webhook: {why}", field="webhook")

        if not self.enabled:
            raise bad(
                "this server delivers no webhooks (its operator allows hosts with WHENCE_WEBHOOK_HOSTS)"
            )
        if len(url) > MAX_URL_CHARS:
            raise bad(f"the URL is longer than {MAX_URL_CHARS} characters")
        if any(ord(c) < 33 or ord(c) == 127 for c in url):
            raise bad("the URL holds spaces or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise bad(f"not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https"):
            raise bad("must be an http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise bad("the URL may not hold credentials (user:password@)")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise bad("the URL names no host")
        ip = _ip(host)
        key = str(ip) if ip is not None else host
        exact = key in self.exact
        if not (exact or self.any or any(key.endswith(s) for s in self.suffixes)):
            raise bad(f"host {key!r} is not one this server delivers to (WHENCE_WEBHOOK_HOSTS)")
        if not exact and ip is not None and not _public(ip):
            raise bad(f"{key} is not a public address")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(url, parts.scheme, key, port or (443 if parts.scheme == "https" else 80), path, exact)

    @staticmethod
    def address(target: Target) -> str:
        """The address to connect to: resolved now, every address public unless the host is named
        exactly.  :class:`WebhookRefused` otherwise; :class:`OSError` when the name does not resolve."""
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        addrs = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addrs:
            raise OSError(f"{target.host} has no address")
        if not target.exact:
            private = [str(a) for a in addrs if not _public(a)]
            if private:
                raise WebhookRefused(f"{target.host} resolves to {', '.join(private)}, not a public address")
        return str(addrs[0])


@dataclass
class _Item:
    request_id: str
    target: Target
    job: Job


class Webhooks:
    """The queue and its worker thread (started on the first job).

    Args:
        hosts: ``WHENCE_WEBHOOK_HOSTS``.
        size: most jobs waiting.
        attempts: tries per delivery.
        backoff: seconds before the second try (doubled before each later one).
    """

    def __init__(self, hosts: str, size: int, attempts: int, backoff: float) -> None:
        self.policy = HostPolicy(hosts)
        self.attempts = attempts
        self.backoff = backoff
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.delivered = 0
        self.failed = 0

    def check(self, url: str) -> Target:
        """Check a request's ``webhook`` URL (422 naming ``webhook``)."""
        return self.policy.check(url)

    def submit(self, request_id: str, target: Target, job: Job) -> None:
        """Queue ``job`` (it returns the result to POST); 503 when the queue is full or shutting down."""
        if self._stop.is_set():
            raise ApiError(503, "the server is shutting down; no webhook is queued")
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="whence-webhooks", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(_Item(request_id, target, job))
        except queue.Full:
            raise ApiError(
                503,
                f"the webhook queue is full ({self._queue.maxsize} waiting); retry later",
                headers={"Retry-After": "5"},
            ) from None
        _log.info("%s webhook queued for %s", request_id, target.host)

    def waiting(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; let the worker finish the one it holds (up to ``timeout``).  Jobs still
        waiting are dropped, each logged with its request id."""
        self._stop.set()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _log.error("%s webhook dropped: the server stopped before it ran", item.request_id)
        if self._thread is not None:
            with contextlib.suppress(queue.Full):  # a job that slipped in as we stopped: it is dropped
                self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)

    # -- the worker ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                body = item.job()
            except Exception as exc:  # the job reports its own errors; this is the last resort
                _log.exception("%s webhook job failed", item.request_id)
                body = {"request_id": item.request_id, "inference_status": {"status": "failed"},
                        "error": {"status": 500, "type": "internal_error",
                                  "message": f"internal error ({type(exc).__name__})"}}  # fmt: skip
            if self.deliver(item.request_id, item.target, body):
                self.delivered += 1
            else:
                self.failed += 1

    def deliver(self, request_id: str, target: Target, body: dict[str, Any]) -> bool:
        """POST ``body`` to ``target`` with retries; whether a 2xx answer came."""
        import httpx  # the generate extra's client: only a server that generates delivers webhooks

        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"whence/{__version__}",
                   "X-Request-ID": request_id}  # fmt: skip
        netloc = target.host if ":" not in target.host else f"[{target.host}]"
        default = 443 if target.scheme == "https" else 80
        headers["Host"] = netloc if target.port == default else f"{netloc}:{target.port}"
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
            for attempt in range(1, self.attempts + 1):
                why = ""
                try:
                    addr = self.policy.address(target)
                    host = addr if ":" not in addr else f"[{addr}]"
                    url = f"{target.scheme}://{host}:{target.port}{target.path}"
                    ext = {"sni_hostname": target.host} if target.scheme == "https" else {}
                    # Streamed and closed unread: a receiver's answer body is never held, however large.
                    req = client.build_request("POST", url, content=data, headers=headers, extensions=ext)
                    resp = client.send(req, stream=True)
                    resp.close()
                except WebhookRefused as exc:
                    _log.error("%s webhook refused: %s", request_id, exc)
                    return False
                except (OSError, httpx.HTTPError) as exc:
                    why = f"{type(exc).__name__}: {exc}"
                else:
                    if 200 <= resp.status_code < 300:
                        _log.info("%s webhook delivered to %s (try %d)", request_id, target.host, attempt)
                        return True
                    why = f"HTTP {resp.status_code}"
                    if resp.status_code not in RETRY_STATUSES:
                        _log.error("%s webhook to %s refused: %s; not retried", request_id, target.host, why)
                        return False
                if attempt < self.attempts:
                    delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_S)
                    _log.warning("%s webhook to %s failed (%s); try %d of %d in %.2fs", request_id,
                                 target.host, why, attempt + 1, self.attempts, delay)  # fmt: skip
                    if self._stop.wait(delay):
                        break
        _log.error("%s webhook to %s not delivered after %d tries", request_id, target.host, self.attempts)
        return False
