"""Issue 15, finding 8: security headers on every answer, and caps on a request's head over the wire."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from whence.api.app import create_app
from whence.api.settings import Settings


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
    assert client.get("/redoc").status_code == 404  # not served: it would load its code from a CDN
