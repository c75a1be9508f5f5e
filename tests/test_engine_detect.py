"""Which engine and version a node is, from whichever routes it serves: ``GET /``, else ``_nodes``,
else ``_cluster/health``, with Elasticsearch's ``X-Elastic-Product`` header.  Against a small local HTTP
server that answers as the routes of a given node would (the real nodes are in the contract suite)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whence.errors import StoreUnavailable, WhenceError
from whence.index.stores.elastic_driver import Driver, EngineInfo, parse_target, probe

Routes = dict[str, tuple[int, Any]]


@pytest.fixture()
def node() -> Iterator[tuple[str, Routes, dict[str, str]]]:
    """(base URL, routes by path: (status, JSON body), headers sent with every answer)."""
    routes: Routes = {}
    headers: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = routes.get(self.path.split("?", 1)[0], (404, {"error": "no route"}))
            raw = json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes, headers
    finally:
        server.shutdown()
        server.server_close()


def _probe(base: str) -> EngineInfo:
    return probe(parse_target(f"{base}/whence"))


def test_root_route_names_engine_and_version(node: tuple[str, Routes, dict[str, str]]) -> None:
    base, routes, headers = node
    routes["/"] = (200, {"version": {"distribution": "opensearch", "number": "3.1.0"}})
    assert _probe(base) == EngineInfo("opensearch", "3.1.0")
    routes["/"] = (200, {"version": {"number": "9.1.0", "build_flavor": "default"}})
    headers["X-Elastic-Product"] = "Elasticsearch"
    assert _probe(base) == EngineInfo("elasticsearch", "9.1.0")


def test_without_a_root_route_the_nodes_tell_and_the_oldest_counts(
    node: tuple[str, Routes, dict[str, str]],
) -> None:
    """As Elasticsearch's integration-test distribution answers: 405 on ``GET /``."""
    base, routes, headers = node
    headers["X-Elastic-Product"] = "Elasticsearch"
    routes["/"] = (405, {"error": "Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]"})
    routes["/_nodes"] = (200, {"nodes": {"a": {"version": "9.0.2"}, "b": {"version": "8.19.21"}}})
    info = _probe(base)
    assert info == EngineInfo("elasticsearch", "8.19.21") and info.major == 8
    del headers["X-Elastic-Product"]
    routes["/_nodes"] = (200, {"nodes": {"a": {"version": "2.19.6"}, "b": {"version": "2.10.0"}}})
    assert _probe(base) == EngineInfo("opensearch", "2.10.0")


def test_health_alone_still_picks_the_client(node: tuple[str, Routes, dict[str, str]]) -> None:
    """Credentials that may read neither ``/`` nor ``_nodes``: the product header picks the client, the
    version stays unknown, and the store goes ahead (both majors take the same requests)."""
    base, routes, headers = node
    routes["/"] = routes["/_nodes"] = (403, {"error": "forbidden"})
    routes["/_cluster/health"] = (200, {"cluster_name": "c", "status": "green"})
    headers["X-Elastic-Product"] = "Elasticsearch"
    info = _probe(base)
    assert info == EngineInfo("elasticsearch", "?") and info.major is None
    driver = Driver(parse_target(f"{base}/whence"), info)
    assert (driver.client, driver.engine) == ("elasticsearch", "elasticsearch ?")
    driver.close()
    del headers["X-Elastic-Product"]
    assert _probe(base) == EngineInfo("opensearch", "?")


def test_refusals_and_strangers_are_named(node: tuple[str, Routes, dict[str, str]]) -> None:
    base, routes, _ = node
    with pytest.raises(StoreUnavailable, match=r"not an Elasticsearch or OpenSearch node \(GET / answered"):
        _probe(base)
    routes["/"] = routes["/_nodes"] = routes["/_cluster/health"] = (401, {"error": "unauthorized"})
    with pytest.raises(StoreUnavailable, match="refused these credentials"):
        _probe(base)


@pytest.mark.parametrize(
    ("dist", "version", "client"),
    [("elasticsearch", "8.13.0", "elasticsearch"), ("elasticsearch", "9.2.1", "elasticsearch"),
     ("opensearch", "2.19.6", "opensearch"), ("opensearch", "3.3.0", "opensearch")],
)  # fmt: skip
def test_each_supported_major_gets_its_engines_client(dist: str, version: str, client: str) -> None:
    driver = Driver(parse_target("http://127.0.0.1:9/whence"), EngineInfo(dist, version))
    assert driver.client == client
    driver.close()


@pytest.mark.parametrize(("dist", "version"), [("elasticsearch", "7.17.29"), ("opensearch", "1.3.20")])
def test_other_majors_are_refused(dist: str, version: str) -> None:
    with pytest.raises(WhenceError, match=f"{dist} {version} is not supported"):
        Driver(parse_target("http://127.0.0.1:9/whence"), EngineInfo(dist, version))
