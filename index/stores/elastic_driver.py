"""One small REST door to Elasticsearch 8/9 or OpenSearch 2/3, whichever the node says it is.

:func:`probe` asks the node what it is (``GET /``, else ``_nodes``, else ``_cluster/health``, with the
``X-Elastic-Product`` header that Elasticsearch sends on every answer), and :class:`Driver` picks the
official client for that engine (``elasticsearch`` for Elasticsearch, ``opensearch-py`` for OpenSearch:
the Elasticsearch client refuses to talk to OpenSearch), imports it lazily with an install hint, and turns
every driver exception into ours at this boundary: an unreachable node is :class:`StoreUnavailable`, an
HTTP error is :class:`EngineHTTPError` with its status.

One installed ``elasticsearch`` package (8.13 or later, or 9.x) serves both Elasticsearch majors: the
store sends its requests through the client's transport (connections, TLS, authentication) as plain
``application/json``, which Elasticsearch 8 and 9 both accept.  The client's API methods are not used:
they ask for ``compatible-with=<the client's own major>``, and an Elasticsearch 8 server refuses the 9.x
client's ``compatible-with=9`` ("Accept version must be either version 8 or 7").  ``opensearch-py`` 2.4
or later serves OpenSearch 2 and 3 alike.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from whence.errors import StoreUnavailable, WhenceError

INSTALL_HINT = "pip install 'whence[elastic]'"
DEFAULT_INDEX = "whence"
#: Pauses (seconds) between tries of a request that met a busy (429/502/503/504) or unreachable node.
WRITE_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)
READ_BACKOFF = (0.2,)


class EngineHTTPError(Exception):
    """The engine answered with an HTTP error status (internal: the store decides what it means)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {_reason(body)}")
        self.status = status
        self.body = body


def _reason(body: Any) -> str:
    """The engine's own reason for an error body, else the body."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("type") or err)
        if err:
            return str(err)
    return str(body)[:300]


@dataclass(frozen=True)
class Target:
    """A parsed ``http(s)://[user:password@]host:port[/index][?shards=N&replicas=M&texts=small|fast]``
    target."""

    base: str
    index: str
    user: str | None
    password: str | None
    shards: int
    replicas: int | None
    texts: str = "small"  # stored-field codec of a new index: "small" (DEFLATE) or "fast" (LZ4)

    @property
    def display(self) -> str:
        """The target without credentials, for messages."""
        return f"{self.base}/{self.index}"


def parse_target(url: str) -> Target:
    """Parse an engine target; raises :class:`WhenceError` naming what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WhenceError(f"{url}: an engine target is http(s)://host:port[/index]")
    name = parts.path.strip("/") or DEFAULT_INDEX
    if "/" in name or name != name.lower() or name.startswith(("_", "-", "+")) or not name.isascii():
        raise WhenceError(f"{url}: index name {name!r} must be one lowercase path segment")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"shards", "replicas", "texts"}
    if unknown:
        raise WhenceError(
            f"{url}: unknown parameter(s) {', '.join(sorted(unknown))} (known: shards, replicas, texts)"
        )
    texts = query.get("texts", "small")
    if texts not in ("small", "fast"):
        raise WhenceError(f"{url}: texts must be small (DEFLATE, the default) or fast (LZ4), not {texts!r}")
    try:
        shards = int(query.get("shards", "1"))
        replicas = int(query["replicas"]) if "replicas" in query else None
    except ValueError as exc:
        raise WhenceError(f"{url}: shards and replicas must be whole numbers") from exc
    if shards < 1 or (replicas is not None and replicas < 0):
        raise WhenceError(f"{url}: shards must be at least 1 and replicas at least 0")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port else ""
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return Target(f"{parts.scheme}://{host}{port}", name, user, password, shards, replicas, texts)


@dataclass(frozen=True)
class EngineInfo:
    """What the node says it is: ``distribution`` (``elasticsearch`` or ``opensearch``) and ``version``
    (``8.19.21``; ``?`` when no route the credentials may read tells it)."""

    distribution: str
    version: str

    @property
    def major(self) -> int | None:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else None


def _get(target: Target, path: str, timeout: float) -> tuple[int, dict[str, str], Any]:
    """``GET path`` with the standard library: (status, lower-cased headers, JSON body or None).

    Raises:
        StoreUnavailable: nothing answers at the target's host and port.
    """
    req = urllib.request.Request(target.base + path, headers={"Accept": "application/json"})
    if target.user is not None:
        token = base64.b64encode(f"{target.user}:{target.password or ''}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, exc.headers, exc.read()
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise StoreUnavailable(f"no search engine answers at {target.base} ({reason})") from exc
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return status, {k.lower(): v for k, v in (headers or {}).items()}, body


def _lowest(versions: list[str]) -> str:
    """The lowest of dotted version numbers (a cluster speaks the REST API of its oldest node)."""

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("-", 1)[0].split("."))

    return min(versions, key=key)


def probe(target: Target, timeout: float = 10.0) -> EngineInfo:
    """Which engine answers at the target, and which version, with the standard library (no driver yet:
    the answer picks it).

    ``GET /`` names both, but not every node serves it (Elasticsearch's integration-test distribution
    has no root route and answers 405; a user may lack the privilege to read it).  Then ``_nodes`` gives
    the version of every node (the lowest counts), and ``_cluster/health`` at least shows that an engine
    answers.  Elasticsearch 7.14 and later sends ``X-Elastic-Product: Elasticsearch`` with every answer,
    OpenSearch never does; the ``distribution`` field of ``GET /`` names OpenSearch.
    """
    tried: list[str] = []
    status, headers, body = _get(target, "/", timeout)
    elastic = headers.get("x-elastic-product") == "Elasticsearch"
    version = body.get("version") if isinstance(body, dict) else None
    if status == 200 and isinstance(version, dict) and version.get("number"):
        dist = "elasticsearch" if elastic else str(version.get("distribution") or "elasticsearch")
        return EngineInfo(dist, str(version["number"]))
    tried.append(f"GET / answered HTTP {status}")
    status, headers, body = _get(target, "/_nodes?filter_path=nodes.*.version", timeout)
    elastic = elastic or headers.get("x-elastic-product") == "Elasticsearch"
    nodes = body.get("nodes") if isinstance(body, dict) else None
    if status == 200 and isinstance(nodes, dict) and nodes:
        versions = [str(n.get("version")) for n in nodes.values() if isinstance(n, dict) and n.get("version")]
        if versions:
            return EngineInfo("elasticsearch" if elastic else "opensearch", _lowest(versions))
    tried.append(f"GET /_nodes answered HTTP {status}")
    status, headers, body = _get(target, "/_cluster/health", timeout)
    elastic = elastic or headers.get("x-elastic-product") == "Elasticsearch"
    if status == 200 and isinstance(body, dict) and "cluster_name" in body:
        # An engine, whose version these credentials may not read: its product still picks the client.
        return EngineInfo("elasticsearch" if elastic else "opensearch", "?")
    tried.append(f"GET /_cluster/health answered HTTP {status}")
    if status in (401, 403):
        raise StoreUnavailable(
            f"search engine at {target.base} refused these credentials ({'; '.join(tried)})"
        )
    raise StoreUnavailable(f"{target.base} is not an Elasticsearch or OpenSearch node ({'; '.join(tried)})")


_orjson: Any
try:  # the elastic extra's encoder: several times faster than json on the bulks' long texts
    import orjson as _orjson
except ImportError:  # pragma: no cover - without it, the standard library does the same, slower
    _orjson = None


def _line(obj: Any) -> bytes:
    """One NDJSON line.  orjson refuses a lone surrogate (a path read from undecodable bytes); json
    writes it as an escape, as before, so such a line goes through json."""
    if _orjson is not None:
        try:
            return bytes(_orjson.dumps(obj)) + b"\n"
        except TypeError:
            pass
    return json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n"


def ndjson_body(lines: Any) -> bytes:
    """The body of a ``_bulk`` or ``_msearch``: one compact JSON object per line."""
    return b"".join(_line(line) for line in lines)


class Driver:
    """Raw REST calls through the engine's official client, with retries for busy/unreachable nodes."""

    def __init__(self, target: Target, info: EngineInfo) -> None:
        self.target = target
        self.distribution = info.distribution
        self.version = info.version
        major = info.major
        auth = (target.user, target.password or "") if target.user is not None else None
        supported = {"opensearch": (2, 3), "elasticsearch": (8, 9)}.get(self.distribution, ())
        # An unknown version (no route these credentials may read names it) is given the benefit of the
        # doubt: the requests below are the same for both supported majors of each engine.
        if major is not None and major not in supported:
            raise WhenceError(
                f"{target.base}: {self.distribution} {self.version} is not supported "
                "(Elasticsearch 8.x or 9.x, OpenSearch 2.x or 3.x)"
            )
        # The client follows the engine; WHENCE_ENGINE_CLIENT overrides it (both speak the same REST
        # dialect for everything the store sends, e.g. behind a proxy that rewrites the version answer).
        choice = os.environ.get("WHENCE_ENGINE_CLIENT", "auto")
        if choice not in ("auto", "elasticsearch", "opensearch"):
            raise WhenceError(f"WHENCE_ENGINE_CLIENT={choice!r}: expected auto, elasticsearch or opensearch")
        self.client = self.distribution if choice == "auto" else choice
        if self.client == "opensearch":
            self._client = _opensearch_client(target.base, auth)
        else:
            self._client = _elasticsearch_client(target.base, auth)

    @property
    def engine(self) -> str:
        """``opensearch 2.19.6`` or ``elasticsearch 9.1.0``."""
        return f"{self.distribution} {self.version}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        ndjson: bool = False,
        backoff: tuple[float, ...] = READ_BACKOFF,
    ) -> Any:
        """One REST call; retries after each pause of ``backoff`` when the node is busy or unreachable.

        Raises:
            EngineHTTPError: an HTTP error other than busy (the caller knows what a 404 or 409 means).
            StoreUnavailable: still busy or unreachable after the last try.
        """
        if ndjson:
            body = ndjson_body(body)
        for attempt in range(len(backoff) + 1):
            try:
                return self._call(method, path, body, params, ndjson)
            except EngineHTTPError as exc:
                if exc.status not in (429, 502, 503, 504) or attempt == len(backoff):
                    if exc.status in (429, 502, 503, 504):
                        raise StoreUnavailable(
                            f"search engine at {self.target.base} is overloaded or unavailable ({exc})"
                        ) from exc
                    raise
            except _Unreachable as exc:
                if attempt == len(backoff):
                    raise StoreUnavailable(
                        f"search engine at {self.target.base} stopped answering ({exc.__cause__})"
                    ) from exc
            time.sleep(backoff[attempt])
        raise AssertionError("unreachable: the loop returns or raises")

    def _call(self, method: str, path: str, body: Any, params: dict[str, str] | None, ndjson: bool) -> Any:
        headers = {"content-type": "application/x-ndjson" if ndjson else "application/json"}
        headers["accept"] = "application/json"
        # The query string goes into the path: opensearch-py would take a `timeout` parameter (the
        # engine's own, e.g. of _cluster/health) for its client-side timeout.
        target = f"{path}?{urlencode(params)}" if params else path
        if self.client == "opensearch":
            from opensearchpy import exceptions as oe

            try:
                return self._client.transport.perform_request(method, target, body=body, headers=headers)
            except oe.ConnectionError as exc:  # also ConnectionTimeout
                raise _Unreachable() from exc
            except oe.TransportError as exc:
                if not isinstance(exc.status_code, int):
                    raise _Unreachable() from exc
                raise EngineHTTPError(exc.status_code, exc.info) from exc
        import elastic_transport

        # The raw transport, not Elasticsearch.perform_request: the client rewrites the media types to
        # "compatible-with=<its own major>", which a server of the other major refuses, and the same
        # plain-JSON requests are accepted by Elasticsearch 8 and 9 alike.
        try:
            meta, data = self._client.transport.perform_request(
                method, target, headers=headers, body=body, request_timeout=60
            )
        except elastic_transport.TransportError as exc:  # connection refused, timeout, TLS
            raise _Unreachable() from exc
        if not 200 <= meta.status < 300:
            raise EngineHTTPError(meta.status, data)
        return data

    def close(self) -> None:
        """Release the client's connections."""
        self._client.close()


class _Unreachable(Exception):
    """The node did not answer (internal; the driver retries, then raises StoreUnavailable)."""


def _opensearch_client(base: str, auth: tuple[str, str] | None) -> Any:
    try:
        from opensearchpy import OpenSearch
    except ImportError as exc:
        raise WhenceError(f"the OpenSearch store needs the opensearch-py client: {INSTALL_HINT}") from exc
    # The driver's own retries are off: Driver.request retries with backoff and a clear final error.
    return OpenSearch(hosts=[base], http_auth=auth, timeout=60, max_retries=0, retry_on_timeout=False)


def _elasticsearch_client(base: str, auth: tuple[str, str] | None) -> Any:
    try:
        from elasticsearch import Elasticsearch
    except ImportError as exc:
        raise WhenceError(f"the Elasticsearch store needs the elasticsearch client: {INSTALL_HINT}") from exc
    return Elasticsearch(
        hosts=[base], basic_auth=auth, request_timeout=60, max_retries=0, retry_on_timeout=False
    )
