"""The HTTP API: every route, auth and error path, in process (TestClient) and over the wire (uvicorn)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.servers import serve_in_thread
from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State
from whence.cli import main


def _fragment(corpus: Path) -> str:
    return "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])


@pytest.fixture()
def settings(built_index: Path, tmp_path: Path) -> Settings:
    state = str(tmp_path / "state.sqlite")
    return Settings(index=str(built_index), state=state, max_body_bytes=64 * 1024, search_processes=1)


@pytest.fixture()
def key(settings: Settings) -> str:
    state = State(settings.state)
    _, text = state.create_key("tests")
    state.close()
    return text


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _envelope(res: httpx.Response, status: int) -> dict[str, object]:
    assert res.status_code == status, res.text
    err = res.json()["error"]
    assert err["status"] == status and isinstance(err["message"], str) and err["message"]
    return err  # type: ignore[no-any-return]


PROTECTED = [
    ("POST", "/v1/search", {"code": "x = 1"}),
    ("POST", "/v1/search/fingerprints", {"files": [{"tokens": 3}]}),
    ("GET", "/v1/repos/python/cpython", None),
    ("GET", "/v1/owners/python", None),
    ("GET", "/v1/usage", None),
    ("GET", "/metrics", None),
]


def test_health_needs_no_key(client: TestClient) -> None:
    res = client.get("/healthz")
    assert res.status_code == 200 and res.json()["status"] == "ok" and res.json()["documents"] > 10


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_other_route_needs_a_valid_key(
    client: TestClient, settings: Settings, key: str, method: str, path: str, body: object
) -> None:
    res = client.request(method, path, json=body)
    assert _envelope(res, 401)["type"] == "unauthorized" and res.headers["www-authenticate"].startswith(
        "Bearer"
    )
    assert "whence keys create" in str(_envelope(res, 401)["message"])
    for bad in ("whk_nothere_secret", "not-a-key", key[:-3] + "abc"):
        _envelope(client.request(method, path, json=body, headers=_auth(bad)), 401)
    assert client.request(method, path, json=body, headers=_auth(key)).status_code == 200
    state = State(settings.state)
    assert state.revoke(key.split("_")[1])
    state.close()
    assert "revoked" in str(
        _envelope(client.request(method, path, json=body, headers=_auth(key)), 403)["message"]
    )


def test_search_route(client: TestClient, key: str, corpus: Path) -> None:
    res = client.post("/v1/search", json={"code": _fragment(corpus)}, headers=_auth(key))
    assert res.status_code == 200
    out = res.json()
    assert out["verdict"] == "verbatim" and out["matches"][0]["path"] == "difflib.py"
    assert "source_excerpt" not in out["matches"][0] or out["matches"][0]["source_excerpt"] is None
    res = client.post(
        "/v1/search", json={"code": _fragment(corpus), "with_text": True, "top": 1}, headers=_auth(key)
    )
    m = res.json()["matches"][0]
    first = m["spans"][0]["source_lines"][0]
    ex = m["source_excerpt"]
    source = (corpus / "difflib.py").read_text().splitlines()
    assert ex["first_line"] <= first and ex["lines"][first - ex["first_line"]] == source[first - 1]
    assert len(res.json()["matches"]) == 1
    none = client.post(
        "/v1/search", json={"code": "def nothing_like_it(q):\n    return q * 3\n"}, headers=_auth(key)
    )
    assert none.json() == {
        "query": {"lines": 2, "tokens": none.json()["query"]["tokens"]},
        "verdict": "none",
        "matches": [],
    }


def test_search_route_takes_the_snippets_language(client: TestClient, key: str, corpus: Path) -> None:
    from whence.index import fingerprint as fp

    code = "".join((corpus / "textwrap.py").read_text().splitlines(keepends=True)[50:110])
    as_c, as_python = len(fp.tokenize(code.encode(), "C")), len(fp.tokenize(code.encode(), "Python"))
    assert as_c != as_python  # `#` comments are code in C
    for language, tokens in (("C", as_c), ("python", as_python), (None, as_python)):  # None: guessed
        body = {"code": code} if language is None else {"code": code, "language": language}
        out = client.post("/v1/search", json=body, headers=_auth(key)).json()
        assert out["query"]["tokens"] == tokens, language
        assert out["verdict"] == "verbatim" and out["matches"][0]["path"] == "textwrap.py"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "code"), ({"code": "x", "language": "x" * 65}, "language"),
     ({"code": "x", "language": 3}, "language"), ({"code": ""}, "code"), ({"code": 3}, "code"),
     ({"code": "x", "top": 0}, "top"),
     ({"code": "x", "top": 101}, "top"), ({"code": "x", "min_tokens": -1}, "min_tokens")],
)  # fmt: skip
def test_invalid_search_bodies_name_the_field(client: TestClient, key: str, body: object, field: str) -> None:
    err = _envelope(client.post("/v1/search", json=body, headers=_auth(key)), 422)
    assert err["field"] == field and field in str(err["message"])


def test_binary_query_is_a_clear_422(client: TestClient, key: str) -> None:
    err = _envelope(client.post("/v1/search", json={"code": "abc\u0000def"}, headers=_auth(key)), 422)
    assert "binary" in str(err["message"])


def test_oversized_body_is_413_before_any_work(client: TestClient, key: str) -> None:
    big = json.dumps({"code": "x = 1\n" * 20_000})
    err = _envelope(
        client.post("/v1/search", content=big, headers=_auth(key) | {"content-type": "application/json"}), 413
    )
    assert "larger than" in str(err["message"])

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096].encode()

    res = client.post(
        "/v1/search", content=chunks(), headers=_auth(key) | {"content-type": "application/json"}
    )
    _envelope(res, 413)


def test_rate_limit_answers_429_with_retry_after(built_index: Path, tmp_path: Path) -> None:
    s = Settings(
        index=str(built_index), state=str(tmp_path / "s.sqlite"), rate_limit_per_minute=6, rate_limit_burst=2
    )
    state = State(s.state)
    _, key = state.create_key("burst")
    with TestClient(create_app(s)) as c:
        codes = [c.get("/v1/usage", headers=_auth(key)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        res = c.get("/v1/usage", headers=_auth(key))
        assert _envelope(res, 429)["type"] == "rate_limited" and int(res.headers["retry-after"]) >= 1
        _, other = state.create_key("another")
        assert c.get("/v1/usage", headers=_auth(other)).status_code == 200  # limits are per key


def test_repos_route(client: TestClient, key: str, settings: Settings) -> None:
    out = client.get("/v1/repos/python/cpython", params={"limit": 3}, headers=_auth(key)).json()
    assert (
        out["in_index"]
        and out["files_total"] > 10
        and len(out["files"]) == 3
        and out["licenses"] == ["PSF-2.0"]
    )
    assert [f["path"] for f in out["files"]] == sorted(f["path"] for f in out["files"])
    page2 = client.get(
        "/v1/repos/PYTHON/CPython", params={"limit": 3, "offset": 3}, headers=_auth(key)
    ).json()
    assert page2["repo"] == "python/cpython" and page2["files"][0]["path"] > out["files"][-1]["path"]
    absent = client.get("/v1/repos/nobody/nothing", headers=_auth(key)).json()
    assert absent["in_index"] is False and absent["files"] == [] and absent["opted_out"] is False
    err = _envelope(client.get("/v1/repos/bad%20owner/x", headers=_auth(key)), 422)
    assert err["field"] == "owner"
    _envelope(client.get("/v1/repos/python/cpython", params={"limit": 0}, headers=_auth(key)), 422)


def test_usage_and_metrics(client: TestClient, key: str, corpus: Path) -> None:
    client.post("/v1/search", json={"code": _fragment(corpus)}, headers=_auth(key))
    usage = client.get("/v1/usage", headers=_auth(key)).json()
    assert (
        usage["requests"] == 2
        and usage["key"]["name"] == "tests"
        and usage["price_per_million_tokens"] == 0.4
    )
    assert usage["by_day"][0]["requests"] == 2
    text = client.get("/metrics", headers=_auth(key)).text
    assert 'whence_http_requests_total{method="POST",route="/v1/search",status="200"} 1.0' in text
    assert 'whence_search_verdicts_total{verdict="verbatim"} 1.0' in text
    assert "whence_index_documents" in text
    assert "whence_search_processes 1.0" in text  # the fixture's one search process, running


def test_unknown_route_and_method_use_the_envelope(client: TestClient) -> None:
    assert _envelope(client.get("/v1/nothing"), 404)["type"] == "not_found"
    assert _envelope(client.get("/v1/search"), 405)["type"] == "method_not_allowed"


def test_missing_index_is_503_not_an_empty_answer(tmp_path: Path) -> None:
    s = Settings(index=str(tmp_path / "gone.sqlite"), state=str(tmp_path / "s.sqlite"))
    state = State(s.state)
    _, key = state.create_key("k")
    with TestClient(create_app(s)) as c:
        assert "index unavailable" in str(_envelope(c.get("/healthz"), 503)["message"])
        _envelope(c.post("/v1/search", json={"code": "x = 1"}, headers=_auth(key)), 503)


def test_docs_and_page(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/search", "/v1/repos/{owner}/{name}", "/v1/usage", "/healthz", "/metrics"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and 'id="search-btn"' in page.text


def test_over_the_wire(built_index: Path, tmp_path: Path, corpus: Path) -> None:
    """Every route and error path through a real uvicorn server and its search processes."""
    s = Settings(index=str(built_index), state=str(tmp_path / "state.sqlite"), max_body_bytes=64 * 1024,
                 rate_limit_per_minute=60, rate_limit_burst=20, search_processes=1)  # fmt: skip
    state = State(s.state)
    _, key = state.create_key("wire")
    _, hammer = state.create_key("hammer")
    revoked, revoked_key = state.create_key("revoked")
    state.revoke(revoked.id)
    state.close()
    auth = _auth(key)
    with serve_in_thread(create_app(s)) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert (
            http.get("/docs").status_code == 200 and "/v1/search" in http.get("/openapi.json").json()["paths"]
        )
        assert 'id="search-btn"' in http.get("/").text
        res = http.post("/v1/search", json={"code": _fragment(corpus), "with_text": True}, headers=auth)
        assert res.status_code == 200 and res.json()["verdict"] == "verbatim"
        assert res.json()["matches"][0]["source_excerpt"]["lines"]
        repo = http.get("/v1/repos/python/cpython", params={"limit": 2}, headers=auth).json()
        assert repo["in_index"] and len(repo["files"]) == 2
        assert _envelope(http.get("/v1/repos/bad%20owner/x", headers=auth), 422)["field"] == "owner"
        assert http.get("/v1/usage", headers=auth).json()["requests"] >= 3
        assert "whence_http_requests_total" in http.get("/metrics", headers=auth).text
        # auth
        _envelope(http.post("/v1/search", json={"code": "x"}), 401)
        _envelope(http.get("/v1/usage", headers=_auth("whk_nothere_secret")), 401)
        assert "revoked" in str(_envelope(http.get("/v1/usage", headers=_auth(revoked_key)), 403)["message"])
        # errors
        _envelope(http.get("/v1/nothing", headers=auth), 404)
        _envelope(http.get("/v1/search", headers=auth), 405)
        assert (
            _envelope(http.post("/v1/search", json={"code": "x", "top": 0}, headers=auth), 422)["field"]
            == "top"
        )
        assert "binary" in str(
            _envelope(http.post("/v1/search", json={"code": "a\u0000b"}, headers=auth), 422)["message"]
        )
        big = b'{"code": "' + b"y" * 100_000 + b'"}'
        _envelope(http.post("/v1/search", content=big, headers=auth), 413)
        _envelope(http.post("/v1/search", content=iter([big[:50_000], big[50_000:]]), headers=auth), 413)
        for route in ("/v1/completions", "/v1/inference/bigcode/starcoder2-15b"):
            body = {"prompt": "def f():"} if route == "/v1/completions" else {"input": "def f():"}
            assert "no model configured" in str(
                _envelope(http.post(route, json=body, headers=auth), 503)["message"]
            )
        codes = [http.get("/v1/usage", headers=_auth(hammer)).status_code for _ in range(21)]
        assert codes[:20] == [200] * 20 and codes[20] == 429
        res = http.get("/v1/usage", headers=_auth(hammer))
        assert _envelope(res, 429)["type"] == "rate_limited" and int(res.headers["retry-after"]) >= 1
        assert http.get("/v1/usage", headers=auth).status_code == 200  # the limit is the hammer's alone


def test_keys_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "state.sqlite")
    res = runner.invoke(main, ["keys", "create", "--name", "ci", "--state", state])
    assert res.exit_code == 0
    key = res.stdout.strip().splitlines()[-1]
    assert key.startswith("whk_")
    listed = json.loads(runner.invoke(main, ["keys", "list", "--state", state, "--format", "json"]).stdout)
    assert listed[0]["name"] == "ci" and listed[0]["revoked"] is None and key not in json.dumps(listed)
    raw = Path(state).read_bytes()
    assert key.split("_", 2)[2].encode() not in raw  # only a hash of the secret is stored
    assert runner.invoke(main, ["keys", "revoke", key.split("_")[1], "--state", state]).exit_code == 0
    assert runner.invoke(main, ["keys", "revoke", key.split("_")[1], "--state", state]).exit_code == 2
    assert runner.invoke(main, ["keys", "create", "--name", " ", "--state", state]).exit_code == 2


def test_a_state_database_that_cannot_be_used_is_exit_2_with_the_reason(
    built_index: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "state.sqlite"
    garbage.write_bytes(b"not a database at all, but a file someone put here" * 100)
    blocked = tmp_path / "a-file" / "state.sqlite"  # its folder would have to be a file
    (tmp_path / "a-file").write_text("x")
    runner = CliRunner()
    for state, why in ((garbage, "cannot be used: file is not a database"), (blocked, "cannot be opened")):
        for args in (["keys", "list"], ["keys", "create", "--name", "n"], ["keys", "revoke", "abc"],
                     ["serve", "--index", str(built_index), "--port", "1"]):  # fmt: skip
            res = runner.invoke(main, [*args, "--state", str(state)])
            assert res.exit_code == 2 and f"state database {state} {why}" in res.output, (args, res.output)
    assert garbage.read_bytes().startswith(b"not a database")  # left as it was


@pytest.mark.timeout(120)
def test_serve_on_a_port_in_use_is_exit_2(built_index: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = [sys.executable, "-m", "whence", "serve", "--index", str(built_index), "--port", str(port),
               "--state", str(tmp_path / "s.sqlite"), "--search-processes", "0"]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=100)
    assert res.returncode == 2, res.stderr
    assert "address already in use" in res.stderr and f"could not start on 127.0.0.1:{port}" in res.stderr


def test_serve_refuses_a_missing_index(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["serve", "--index", str(tmp_path / "none.sqlite"), "--state", str(tmp_path / "s")]
    )
    assert res.exit_code == 2 and "no index" in res.output
