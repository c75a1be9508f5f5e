"""Issue 15, finding 8: security headers on every answer, and caps on a request's head over the wire."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from uvicorn.server import ServerState

from tests.servers import whence_serve
from whence.api.app import create_app
from whence.api.httpcap import CappedHttpTools
from whence.api.settings import Settings
from whence.api.state import State


@pytest.fixture()
def client(built_index: Path, tmp_path: Path) -> Iterator[TestClient]:
    s = Settings(index=str(built_index), state=str(tmp_path / "state.sqlite"), max_body_bytes=1024,
                 search_processes=0)  # fmt: skip
    with TestClient(create_app(s)) as c:
        yield c


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _assert_common(res: httpx.Response) -> str:
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["referrer-policy"] == "no-referrer"
    csp = res.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    return csp


def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    answers = [
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/no-such-route"),  # 404
        client.post("/v1/search", json={"code": "x = 1"}),  # 401: no key
        client.post("/v1/search", content=b"x" * 4096, headers={"content-type": "application/json"}),  # 413
    ]
    assert [r.status_code for r in answers] == [200, 200, 404, 401, 413]
    for res in answers:
        csp = _assert_common(res)
        assert "script-src" not in csp  # the strict default: nothing inline anywhere


def test_the_page_allows_exactly_its_own_inline_script_and_style(client: TestClient) -> None:
    res = client.get("/")
    csp = _assert_common(res)
    script = re.search(r"<script>(.*?)</script>", res.text, re.S)
    style = re.search(r"<style>(.*?)</style>", res.text, re.S)
    assert script and style
    assert f"script-src 'self' {_sha256(script.group(1))};" in csp
    assert f"style-src 'self' {_sha256(style.group(1))};" in csp


def test_docs_allow_their_inline_script_by_hash(client: TestClient) -> None:
    res = client.get("/docs")
    assert res.status_code == 200
    csp = _assert_common(res)
    inline = [s for s in re.findall(r"<script[^>]*>(.*?)</script>", res.text, re.S) if s]
    assert inline and all(_sha256(s) in csp for s in inline)
    assert "https://" not in res.text and "cdn" not in csp  # Swagger UI comes from the package
    for src in re.findall(r'(?:src|href)="([^"]+)"', res.text):
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 500, src
        _assert_common(asset)
    assert client.get("/docs/assets/index.html").status_code == 404  # only the three files it needs
    assert client.get("/redoc").status_code == 404  # not served: it would load its code from a CDN


def _raw(port: int, payload: bytes, timeout: float = 10) -> bytes:
    """Send ``payload`` on a fresh connection and read until the server closes it; what came back (empty
    if the server reset the connection before its answer could be read)."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # the server refused and closed while we were still sending
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                got += chunk
    return got


@pytest.fixture(scope="module")
def served(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    state_path = tmp_path_factory.mktemp("hardening") / "state.sqlite"
    State(state_path).close()
    args = ["--index", str(built_index), "--state", str(state_path), "--search-processes", "0"]
    with whence_serve(args) as (_, base):
        yield int(base.rsplit(":", 1)[1]), base


@pytest.mark.timeout(60)
def test_a_2mb_header_is_refused_at_once_and_health_still_answers(served: tuple[int, str]) -> None:
    port, base = served
    answer: list[bytes] = []
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * 1024 * 1024) + b"\r\n\r\n"
    t0 = time.monotonic()
    sender = threading.Thread(target=lambda: answer.append(_raw(port, big)))
    sender.start()
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # meanwhile: answered promptly
    sender.join(timeout=10)
    assert not sender.is_alive() and time.monotonic() - t0 < 10
    # A 431 and a close; or, if the server closed with our bytes still unread, a reset before we read it.
    assert answer[0] == b"" or answer[0].startswith(b"HTTP/1.1 431 ")
    assert b"200 OK" not in answer[0]


@pytest.mark.timeout(60)
def test_too_many_header_fields_get_431(served: tuple[int, str]) -> None:
    port, base = served
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(150))
    got = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert got.startswith(b"HTTP/1.1 431 ") and b"more than 100 header fields" in got
    # A large but allowed head (90 fields, 40 KiB) is served as before, on the same server.
    ok = {f"X-F{i}": "v" * 450 for i in range(90)}
    assert httpx.get(f"{base}/healthz", headers=ok, timeout=5).status_code == 200


@pytest.mark.timeout(60)
def test_a_head_over_64kib_gets_431(served: tuple[int, str]) -> None:
    port, _ = served
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    got = _raw(port, head)
    assert got == b"" or (got.startswith(b"HTTP/1.1 431 ") and b"over 65536 bytes" in got)


async def _answer_to_one_read(head: bytes) -> bytes:
    """What whence's HTTP protocol answers to ``head`` when all of it arrives in the protocol's first read:
    it is written to a real socket before the protocol is attached (an asyncio transport reads up to
    256 KiB at once), so how the kernel and the event loop split it cannot vary."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:  # 200 to anything
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    config.load()
    server_side, client = socket.socketpair()
    with server_side, client:
        client.sendall(head)
        client.shutdown(socket.SHUT_WR)
        loop = asyncio.get_running_loop()
        state = ServerState()
        await loop.connect_accepted_socket(
            lambda: CappedHttpTools(config=config, server_state=state, app_state={}), server_side
        )
        client.setblocking(False)
        got = b""
        while True:
            chunk = await loop.sock_recv(client, 65536)
            if not chunk:
                return got
            got += chunk


@pytest.mark.timeout(60)
def test_a_head_over_64kib_arriving_in_one_read_gets_431() -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    got = asyncio.run(_answer_to_one_read(big))
    assert got.startswith(b"HTTP/1.1 431 ") and b"over 65536 bytes" in got
    # Just under the cap, whole in one read too: served.
    fits = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (60 * 1024) + b"\r\n\r\n"
    assert asyncio.run(_answer_to_one_read(fits)).startswith(b"HTTP/1.1 200 ")
