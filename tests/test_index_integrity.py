"""A damaged index (issue 15, finding 3): bytes flipped in a copy of a real index, at chosen places (the
zstd frame of a stored text, a text's contents, a posting block, a B-tree page, a repository name), and
the real `whence` run on it: exit 2 naming the file and `whence index check`, the service 503 on
/v1/search, and `whence index check` listing what is wrong."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State
from whence.index import failpoints
from whence.index.stores.codec import FINGERPRINT_PARAMS


def _whence(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whence", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def _flip(path: Path, offset: int, mask: int = 0xFF) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ mask]))


def _offset_of(path: Path, needle: bytes) -> int:
    data = path.read_bytes()
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0, "the bytes to flip are not in the file exactly once"
    return at


def _one_doc(index: Path, name: str) -> tuple[int, bytes, str]:
    """(id, stored zstd bytes, text) of the document stored for the corpus file ``name``."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    doc, z = db.execute(
        "SELECT t.doc, t.z FROM texts t JOIN occurrences o ON o.doc = t.doc WHERE o.path = ?", (name,)
    ).fetchone()
    db.close()
    import zstandard

    return doc, bytes(z), zstandard.ZstdDecompressor().decompress(z).decode()


def _small_doc(index: Path) -> tuple[str, int, bytes]:
    """A corpus file whose stored text fits in one page, its id and stored bytes."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    path, doc, z = db.execute(
        "SELECT o.path, t.doc, t.z FROM texts t JOIN occurrences o ON o.doc = t.doc"
        " WHERE length(t.z) BETWEEN 600 AND 2500 ORDER BY o.path LIMIT 1"
    ).fetchone()
    db.close()
    return path, doc, bytes(z)


@pytest.fixture()
def copy(built_index: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.sqlite"
    shutil.copy(built_index, dst)
    return dst


def _assert_corrupt_message(res: subprocess.CompletedProcess[str], index: Path) -> None:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    assert str(index) in res.stderr and "damaged" in res.stderr and "whence index check" in res.stderr


def test_check_passes_a_sound_index(built_index: Path) -> None:
    res = _whence("index", "check", "--index", str(built_index), "--format", "json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and report["problems"] == []
    assert report["documents"] == report["texts"] > 10 and report["blocks"] >= report["segments"] >= 1
    text = _whence("index", "check", "--index", str(built_index))
    assert text.returncode == 0 and text.stdout.startswith("ok: ")


def test_a_broken_text_frame_fails_search_with_exit_2_and_check_finds_it(copy: Path) -> None:
    path, doc, z = _small_doc(copy)
    _, _, text = _one_doc(copy, path)
    _flip(copy, _offset_of(copy, z))  # the zstd magic number: the frame no longer decompresses
    res = _whence("search", "--index", str(copy), stdin=text)
    _assert_corrupt_message(res, copy)
    res = _whence("index", "check", "--index", str(copy))
    assert res.returncode == 2 and f"document {doc}: the stored text does not decompress" in res.stdout
    assert "restore it from a copy or build the index again" in res.stderr


def test_a_changed_text_is_caught_by_its_content_hash(copy: Path) -> None:
    path, doc, z = _small_doc(copy)
    _, _, text = _one_doc(copy, path)
    _flip(copy, _offset_of(copy, z) + len(z) // 2, mask=0x01)
    res = _whence("search", "--index", str(copy), stdin=text)
    # Decompressed or not, the text is never aligned as if it were the stored one.
    _assert_corrupt_message(res, copy)
    res = _whence("index", "check", "--index", str(copy), "--format", "json")
    assert res.returncode == 2
    problems = json.loads(res.stdout)["problems"]
    assert any(p.startswith(f"document {doc}: the stored text") for p in problems), problems


def test_a_flipped_posting_block_is_found_by_check(copy: Path) -> None:
    db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    data = bytes(db.execute("SELECT data FROM blocks ORDER BY id LIMIT 1").fetchone()[0])
    db.close()
    n = len(data) // 12
    # The top byte of the first pair's document id: a document that does not exist.
    _flip(copy, _offset_of(copy, data) + 8 * n + 3)
    res = _whence("index", "check", "--index", str(copy))
    assert res.returncode == 2 and "block 0: names 1 unknown document(s)" in res.stdout, res.stdout


def test_a_broken_page_is_exit_2_for_stats_and_search_and_503_served(
    copy: Path, corpus: Path, tmp_path: Path
) -> None:
    db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    roots = [r for (r,) in db.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'occurrences'")]
    db.close()
    for root in roots:  # the table and its indexes (stats counts through one, search reads the table)
        _flip(copy, (root - 1) * page_size)  # the B-tree page type byte: no longer a page SQLite can read
    _assert_corrupt_message(_whence("index", "stats", "--index", str(copy)), copy)
    fragment = "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])
    _assert_corrupt_message(_whence("search", "--index", str(copy), stdin=fragment), copy)
    res = _whence("index", "check", "--index", str(copy))
    assert res.returncode == 2 and "database: " in res.stdout

    settings = Settings(index=str(copy), state=str(tmp_path / "state.sqlite"), search_processes=1)
    state = State(settings.state)
    _, key = state.create_key("tests")
    state.close()
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200  # the documents table is intact: it cannot know yet
        res = client.post("/v1/search", json={"code": fragment}, headers={"Authorization": f"Bearer {key}"})
        assert res.status_code == 503, res.text
        assert "damaged" in res.json()["error"]["message"] and "whence index check" in res.text
        health = client.get("/healthz")  # ... but from now on it reports what a search met
        assert health.status_code == 503 and str(copy) in health.text and "damaged" in health.text


def test_a_changed_repository_name_is_found_by_check(copy: Path) -> None:
    data = copy.read_bytes()
    at = data.find(b"python/cpython")  # in a table row or an index entry: they no longer agree
    assert at >= 0
    _flip(copy, at + len("python/cpytho"), mask=0x20)  # ...cpythoN
    res = _whence("index", "check", "--index", str(copy))
    assert res.returncode == 2 and "database: " in res.stdout, res.stdout


# -- two writers (issue 15, finding 5) ---------------------------------------------------------------


def _build(src: Path, db: Path, failpoint: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != failpoints.ENV}
    if failpoint:
        env[failpoints.ENV] = failpoint
    cmd = [sys.executable, "-m", "whence", "index", "build", str(src), "--index", str(db),
           "--repo", "python/cpython", "--workers", "1", "--commit-every", "5000",
           "--format", "json"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_stopped(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the first build never reached its failpoint")


@pytest.mark.parametrize("new", [True, False], ids=["new index", "existing index"])
def test_a_second_build_fails_at_once_naming_the_first_and_nothing_is_lost(
    corpus: Path, built_index: Path, tmp_path: Path, new: bool
) -> None:
    db = tmp_path / "two.sqlite"
    if not new:
        shutil.copy(built_index, db)
    src = tmp_path / "more"
    shutil.copytree(corpus, src / "cpython")
    (src / "extra.py").write_text("def extra_function(a, b):\n    return [a * i + b for i in range(a)]\n")
    # The first build stops itself (SIGSTOP) right after its first commit, holding the index for writing.
    first = _build(src, db, "after-commit=1:SIGSTOP")
    try:
        _wait_stopped(first)
        second = _build(src, db)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2, (out, err)
        assert f"another whence process (pid {first.pid}) is writing to {db}" in err
        assert "Traceback" not in err
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert json.loads(out)["skipped"] == {}
    res = _whence("index", "check", "--index", str(db))
    assert res.returncode == 0, res.stdout + res.stderr
    # Run again now that the lock is free: everything is there, nothing new to add.
    again = _build(src, db)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and json.loads(out)["documents_added"] == 0, err


def test_two_stores_creating_one_index_at_once_in_one_transaction(tmp_path: Path) -> None:
    """Two processes without the writer's lock (an older whence) creating a new index: the schema and
    its parameters are written once, in one transaction, never half."""
    db = tmp_path / "new.sqlite"
    code = (
        "import sys, sqlite3\n"
        "from whence.index.stores.sqlite import SQLiteStore\n"
        "SQLiteStore._take_write_lock = lambda self: None\n"
        "SQLiteStore(sys.argv[1], create=True).close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(db)], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    con = sqlite3.connect(db)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta == {"schema": "3", **FINGERPRINT_PARAMS}
    con.close()
