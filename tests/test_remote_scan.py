"""``whence scan --remote URL``: a scan against a whence service's index that sends fingerprints, never
code, and reports what a local scan of the same index reports.

The service is the real ``whence serve`` (its own process) or the real app on uvicorn; between it and the
client sits a recording reverse proxy (:class:`Recorder`), so the test sees every byte the client sent.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import mutations
from tests.servers import serve_in_thread, whence_serve
from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State
from whence.index import remote

OWN_CODE = '''"""Inventory helpers written for this project."""


def restock(levels, threshold=5, batch=12):
    """Units to order per item whose level fell under the threshold."""
    return {item: batch - level for item, level in levels.items() if level < threshold}


def describe(levels):
    width = max((len(name) for name in levels), default=0)
    return "\\n".join(f"{name:<{width}}  {count:>4}" for name, count in sorted(levels.items()))
'''


class Recorder:
    """A reverse proxy that forwards every request to ``upstream`` and keeps each request body."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.bodies: list[bytes] = []
        self.statuses: list[int] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if body is not None:
                    recorder.bodies.append(body)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                req = urllib.request.Request(
                    recorder.upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(req, timeout=120) as res:
                        status, data, got = res.status, res.read(), res.headers
                except urllib.error.HTTPError as exc:
                    status, data, got = exc.code, exc.read(), exc.headers
                recorder.statuses.append(status)
                self.send_response(status)
                for name in ("Content-Type", "Content-Encoding", "Retry-After"):
                    if got.get(name):
                        self.send_header(name, got[name])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[Recorder]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=30)


def _lines(corpus: Path, name: str, start: int, end: int) -> str:
    return "".join((corpus / name).read_text().splitlines(keepends=True)[start - 1 : end])


@pytest.fixture()
def copied(tmp_path: Path, corpus: Path) -> Path:
    """A folder of code of every kind a scan tells apart: its own code, a pasted fragment, a whole copied
    file, a renamed copy, a file with several origins, and a tiny file."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "inventory.py").write_text(OWN_CODE)
    (root / "src" / "wrapping.py").write_text(OWN_CODE + "\n\n" + _lines(corpus, "textwrap.py", 247, 300))
    (root / "src" / "queue.py").write_text((corpus / "heapq.py").read_text())
    (root / "src" / "renamed.py").write_text(mutations.rename(_lines(corpus, "heapq.py", 258, 300)))
    mixed = (
        _lines(corpus, "shlex.py", 20, 70)
        + "\n\n"
        + OWN_CODE
        + "\n\n"
        + _lines(corpus, "fractions.py", 60, 110)
    )
    (root / "src" / "mixed.py").write_text(mixed)
    (root / "src" / "tiny.py").write_text("x = 1\n")
    for i in range(6):
        start = 120 + 61 * i
        (root / "src" / f"part{i}.py").write_text(OWN_CODE + _lines(corpus, "argparse.py", start, start + 45))
    return root


def _key(state: Path) -> str:
    s = State(str(state))
    try:
        return s.create_key("remote-scan")[1]
    finally:
        s.close()


def _scan(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "whence", "scan", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    data = json.loads(out.stdout) if out.stdout.strip().startswith("{") else {}
    data.pop("seconds", None)
    return out, data


def _no_code_in(bodies: list[bytes], folder: Path) -> None:
    """No line of any file under ``folder`` is in a request body, as it is or JSON-escaped."""
    assert bodies
    sent = b"\n".join(bodies).decode("utf-8")
    checked = 0
    for path in folder.rglob("*.py"):
        for line in path.read_text().splitlines():
            text = line.strip()
            if len(text) < 6:
                continue
            checked += 1
            assert text not in sent and json.dumps(text)[1:-1] not in sent, (path.name, text)
    assert checked > 100
    for body in bodies:
        data = json.loads(body)
        assert set(data) == {"files"}
        for f in data["files"]:
            assert set(f) == {"tokens", "hashes", "bands"}  # a count and hashes: no text, path or line


def test_remote_scan_finds_what_a_local_scan_finds_and_sends_no_code(
    built_index: Path, copied: Path, tmp_path: Path
) -> None:
    key = _key(tmp_path / "state.sqlite")
    local, want = _scan(str(copied), "--index", str(built_index))
    assert local.returncode == 1, local.stderr
    assert len(want["findings"]) >= 9 and not want["errors"]
    assert {f["verdict"] for f in want["findings"]} == {"verbatim", "near-duplicate"}

    args = ["--index", str(built_index), "--state", str(tmp_path / "state.sqlite"), "--search-processes", "1"]
    with whence_serve(args) as (_, base), Recorder(base).running() as proxy:
        got_out, got = _scan(str(copied), "--remote", proxy.url, "--api-key", key)
        notice_local = subprocess.run(
            [sys.executable, "-m", "whence", "scan", str(copied), "--index", str(built_index), "--format",
             "notice"], capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        notice_remote = subprocess.run(
            [sys.executable, "-m", "whence", "scan", str(copied), "--remote", proxy.url,
             "--format", "notice"],
            capture_output=True, text=True, check=False, timeout=600,
            env={**os.environ, "WHENCE_API_KEY": key},
        )  # fmt: skip
        bad_key = subprocess.run(
            [sys.executable, "-m", "whence", "scan", str(copied), "--remote", proxy.url,
             "--api-key", "whk_x_y"],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    assert got_out.returncode == 1, got_out.stderr
    assert got == want  # the same findings, spans, origins, verdicts and summary
    assert notice_remote.returncode == 0 and notice_remote.stdout == notice_local.stdout
    assert "python/cpython" in notice_remote.stdout
    assert bad_key.returncode == 2 and "answered 401" in bad_key.stderr and "--api-key" in bad_key.stderr
    _no_code_in(proxy.bodies, copied)


def test_a_body_over_the_services_limit_is_split_and_a_file_too_large_is_an_error(
    built_index: Path, copied: Path, corpus: Path, tmp_path: Path
) -> None:
    """Batches the service refuses (413) are sent again in halves; a single file whose fingerprints are
    more than the service takes is an error for that file, and the scan is incomplete (exit 2)."""
    state = tmp_path / "state.sqlite"
    key = _key(state)
    (copied / "src" / "huge.py").write_text((corpus / "argparse.py").read_text())
    s = Settings(index=str(built_index), state=str(state), max_body_bytes=16 * 1024, search_processes=0)
    with serve_in_thread(create_app(s)) as base, Recorder(base).running() as proxy:
        out, data = _scan(str(copied), "--remote", proxy.url, "--api-key", key)
    assert out.returncode == 2, out.stderr
    assert [Path(e["path"]).name for e in data["errors"]] == ["huge.py"]
    assert "refuses its fingerprints" in data["errors"][0]["message"]
    assert data["status"] == "error" and len(data["findings"]) >= 9  # every other file was scanned
    assert max(len(b) for b in proxy.bodies) > 16 * 1024  # some were refused, then split
    _no_code_in(proxy.bodies, copied)


def test_answers_over_the_text_budget_are_refused_and_the_batch_split(
    built_index: Path, copied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several files whose candidates' texts add up to more than one answer holds get 413; the client
    sends them again in halves, down to single files (always answered), and finds the same."""
    _, want = _scan(str(copied), "--index", str(built_index))
    state = tmp_path / "state.sqlite"
    key = _key(state)
    monkeypatch.setattr(remote, "MAX_ANSWER_TEXT_BYTES", 100_000)  # a few corpus files' worth
    s = Settings(index=str(built_index), state=str(state), search_processes=0)
    with serve_in_thread(create_app(s)) as base, Recorder(base).running() as proxy:
        out, got = _scan(str(copied), "--remote", proxy.url, "--api-key", key)
    assert out.returncode == 1, out.stderr
    assert got == want
    assert 413 in proxy.statuses and proxy.statuses[-1] == 200


def test_remote_scan_on_the_engine_finds_what_a_local_scan_of_it_finds(
    engine_index: str, corpus: Path, copied: Path, tmp_path: Path
) -> None:
    from whence.index import ingest
    from whence.index.stores import open_store

    with open_store(engine_index, create=True) as store:
        ingest.build(store, ingest.sources([corpus], repo="python/cpython", licenses=["PSF-2.0"]), workers=2)
    key = _key(tmp_path / "state.sqlite")
    _, want = _scan(str(copied), "--index", engine_index)
    assert len(want["findings"]) >= 9
    args = ["--index", engine_index, "--state", str(tmp_path / "state.sqlite"), "--search-processes", "0"]
    with whence_serve(args) as (_, base), Recorder(base).running() as proxy:
        out, got = _scan(str(copied), "--remote", proxy.url, "--api-key", key)
    assert out.returncode == 1, out.stderr
    assert got == want
    _no_code_in(proxy.bodies, copied)


def test_bad_fingerprint_requests_are_clear_422s(built_index: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    state = tmp_path / "state.sqlite"
    key = _key(state)
    s = Settings(index=str(built_index), state=str(state), search_processes=0)
    auth = {"Authorization": f"Bearer {key}"}
    cases = [
        ({"files": [{"tokens": 50, "hashes": "not base64!"}]}, "files.0.hashes", "not base64"),
        ({"files": [{"tokens": 50, "hashes": "AAAA"}]}, "files.0.hashes", "64-bit"),
        (
            {"files": [{"tokens": 20, "hashes": remote.encode(list(range(11)))}]},
            "files.0.hashes",
            "more than",
        ),
        (
            {"files": [{"tokens": 50, "bands": remote.encode([1, 2, 3, 4, 5, 6, 7, 8])}]},
            "files.0.bands",
            "140",
        ),
        ({"files": []}, "files", ""),
        ({"files": [{"tokens": -1}]}, "files.0.tokens", ""),
    ]
    with TestClient(create_app(s)) as client:
        for body, field, words in cases:
            res = client.post("/v1/search/fingerprints", json=body, headers=auth)
            assert res.status_code == 422, (body, res.text)
            err = res.json()["error"]
            assert err["field"] == field and words in err["message"], err
        assert client.post("/v1/search/fingerprints", json={"files": [{"tokens": 3}]}).status_code == 401
        ok = client.post("/v1/search/fingerprints", json={"files": [{"tokens": 3}]}, headers=auth)
        assert ok.status_code == 200 and ok.json()["files"] == [
            {"candidates": [], "hashes": "", "docs": "", "common": ""}
        ]


def test_a_service_that_cannot_be_reached_is_exit_2(copied: Path) -> None:
    out, _ = _scan(str(copied), "--remote", "http://127.0.0.1:9/")
    assert out.returncode == 2 and "cannot reach the service at http://127.0.0.1:9" in out.stderr
    out, _ = _scan(str(copied), "--remote", "ftp://example.org/")
    assert out.returncode == 2 and "http:// or https://" in out.stderr


def test_remote_diff_scan_counts_the_same_added_lines(
    built_index: Path, copied: Path, corpus: Path, tmp_path: Path
) -> None:
    """With --diff REV only lines added since REV count, remote as local."""

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(copied), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    wrapping = copied / "src" / "wrapping.py"
    wrapping.write_text(wrapping.read_text() + "\n\n" + _lines(corpus, "bisect.py", 1, 60))
    git("add", "-A")
    git("commit", "-q", "-m", "more")
    state = tmp_path / "state.sqlite"
    key = _key(state)
    _, want = _scan(str(copied), "--diff", "HEAD~1", "--index", str(built_index))
    assert [f["path"] for f in want["findings"]] == ["src/wrapping.py"]
    s = Settings(index=str(built_index), state=str(state), search_processes=0)
    with serve_in_thread(create_app(s)) as base:
        out, got = _scan(str(copied), "--diff", "HEAD~1", "--remote", base, "--api-key", key)
    assert out.returncode == 1, out.stderr
    assert got == want


def test_many_files_are_aligned_in_worker_processes_remote_as_local(
    built_index: Path, copied: Path, corpus: Path, tmp_path: Path
) -> None:
    """Past POOL_MIN_FILES files with candidates, a remote scan aligns in worker processes, each chunk
    sent with its candidates' texts; the findings are still the local scan's."""
    text = (corpus / "argparse.py").read_text().splitlines(keepends=True)
    for i in range(60):
        start = 100 + 37 * i
        (copied / "src" / f"many{i:02d}.py").write_text(OWN_CODE + "".join(text[start : start + 45]))
    state = tmp_path / "state.sqlite"
    key = _key(state)
    _, want = _scan(str(copied), "--index", str(built_index), "--jobs", "2")
    assert len({f["path"] for f in want["findings"]}) >= 60
    s = Settings(index=str(built_index), state=str(state), search_processes=0)
    with serve_in_thread(create_app(s)) as base:
        out, got = _scan(str(copied), "--remote", base, "--api-key", key, "--jobs", "2")
    assert out.returncode == 1, out.stderr
    assert got == want


def test_answers_that_are_not_a_services_are_clear_errors(
    copied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that is not a whence service (an HTML page, another JSON, a gzip bomb) ends the scan with
    an error that says so, never a clean report."""
    import gzip

    from whence.errors import StoreUnavailable
    from whence.scan import client, engine

    answers: list[tuple[bytes, dict[str, str]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body, headers = answers[0]
            self.send_response(200)
            for k, v in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    files = sorted(p.resolve() for p in (copied / "src").iterdir())
    monkeypatch.setattr(client, "MAX_ANSWER_BYTES", 1 << 20)
    cases = [
        (b"<html>proxy error</html>", {"Content-Type": "text/html"}, "not JSON"),
        (b'{"files": []}', {}, "not a fingerprint search's answer"),
        (b'{"files": "x"}', {}, "not a fingerprint search's answer"),
        (gzip.compress(b" " * (2 << 20)), {"Content-Encoding": "gzip"}, "once decompressed"),
        (b"not gzip", {"Content-Encoding": "gzip"}, "not valid gzip"),
    ]
    try:
        for body, headers, words in cases:
            answers[:] = [(body, headers)]
            service = client.Service(f"http://127.0.0.1:{server.server_address[1]}", "k")
            with pytest.raises(StoreUnavailable, match=words):
                engine.run_remote(files, service, min_tokens=40, jobs=1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def test_an_index_given_beside_remote_is_an_error_but_the_environments_is_not_read(
    copied: Path, tmp_path: Path
) -> None:
    out, _ = _scan(str(copied), "--remote", "http://127.0.0.1:9/", "--index", str(tmp_path / "x.sqlite"))
    assert out.returncode == 2 and "--index and --remote" in out.stderr
    env = {**os.environ, "WHENCE_INDEX": str(tmp_path / "missing.sqlite")}
    res = subprocess.run(
        [sys.executable, "-m", "whence", "scan", str(copied), "--remote", "http://127.0.0.1:9/"],
        capture_output=True, text=True, check=False, timeout=600, env=env,
    )  # fmt: skip
    assert res.returncode == 2 and "cannot reach the service at http://127.0.0.1:9" in res.stderr
