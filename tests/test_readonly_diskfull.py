"""Read-only places and full disks (issue 15, findings 4 and 9), on real filesystems: a tmpfs mounted for
the test and remounted read-only (a read-only mount stops root too, where chmod does not), or kept
small so that a build fills it; the real `whence` run on them in a process of its own.

Needs root (to mount); skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


pytestmark = pytest.mark.skipif(not _can_mount(), reason="mounting a tmpfs needs root")


@contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    res = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30, check=False)


def _whence(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whence", *args], capture_output=True, text=True, timeout=300
    )


def _stats(index: Path) -> dict[str, object]:
    res = _whence("index", "stats", "--index", str(index), "--format", "json")
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def _assert_fails_cleanly(res: subprocess.CompletedProcess[str], *words: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("error: "), res.stderr
    for word in words:
        assert word in res.stderr, (word, res.stderr)


def _finds_textwrap(index: Path, corpus: Path) -> str:
    """``whence search`` of 40 lines of the corpus's textwrap.py names that file; returns the snippet."""
    snippet = "\n".join((corpus / "textwrap.py").read_text().splitlines()[60:100])
    found = subprocess.run(
        [sys.executable, "-m", "whence", "search", "--index", str(index), "--format", "json", "-"],
        input=snippet, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert "textwrap.py" in found.stdout
    return snippet


# -- finding 4: read-only places ---------------------------------------------------------------------


def test_an_index_on_a_read_only_mount_is_searched_stats_and_checked(
    built_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """A copy of an index (no -wal, no -shm) on a read-only mount: readers open it read-only (immutable),
    where SQLite's plain mode=ro said "unable to open database file"."""
    size = built_index.stat().st_size
    with _tmpfs(tmp_path / "ro", f"{size // 1024 + 1024}k") as mnt:
        index = mnt / "index.sqlite"
        shutil.copy(built_index, index)
        assert _mount("-o", "remount,ro", str(mnt)).returncode == 0
        assert not os.access(mnt, os.W_OK)

        stats = _stats(index)
        assert stats["documents"] == _stats(built_index)["documents"]
        check = _whence("index", "check", "--index", str(index))
        assert check.returncode == 0, check.stderr
        snippet = _finds_textwrap(index, corpus)

        # The service (its search processes open the index the same way).
        settings = Settings(index=str(index), state=str(tmp_path / "state.sqlite"), search_processes=1)
        state = State(settings.state)
        _, key = state.create_key("tests")
        state.close()
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").status_code == 200
            res = client.post(
                "/v1/search", json={"code": snippet}, headers={"Authorization": f"Bearer {key}"}
            )
            assert res.status_code == 200, res.text
            assert "textwrap.py" in res.text
        assert sorted(p.name for p in mnt.iterdir()) == ["index.sqlite"]  # nothing written there


def test_an_unfinished_write_ahead_log_on_a_read_only_mount_is_named(
    built_index: Path, tmp_path: Path
) -> None:
    """A copy taken with its -wal but no -shm: immutable would ignore the log's commits, so the index is
    not opened that way; the message names the log and what to do instead of "not a whence index"."""
    work = tmp_path / "work.sqlite"
    shutil.copy(built_index, work)
    db = sqlite3.connect(work)
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE scratch(x)")  # a commit that stays in the -wal while db is open
    db.commit()
    wal = Path(f"{work}-wal")
    assert wal.stat().st_size > 0
    size = built_index.stat().st_size + wal.stat().st_size
    with _tmpfs(tmp_path / "ro", f"{size // 1024 + 1024}k") as mnt:
        index = mnt / "index.sqlite"
        shutil.copy(work, index)
        shutil.copy(wal, f"{index}-wal")
        db.close()
        assert _mount("-o", "remount,ro", str(mnt)).returncode == 0
        res = _whence("index", "stats", "--index", str(index))
        _assert_fails_cleanly(res, f"its folder {mnt} is not writable", "unfinished write-ahead log")


def test_a_build_into_a_read_only_place_exits_2_naming_the_folder(corpus: Path, tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ro", "1m") as mnt:
        (mnt / "existing").mkdir()
        assert _mount("-o", "remount,ro", str(mnt)).returncode == 0

        # A folder it would have to create: the folder and the cause are named, no PermissionError.
        new_folder = mnt / "sub" / "deeper"
        res = _whence("index", "build", str(corpus), "--index", str(new_folder / "index.sqlite"))
        _assert_fails_cleanly(res, f"cannot create the folder {new_folder}", "Read-only file system")

        # A folder that exists but cannot be written.
        res = _whence("index", "build", str(corpus), "--index", str(mnt / "existing" / "index.sqlite"))
        _assert_fails_cleanly(res, f"its folder {mnt / 'existing'} is not writable", "Read-only file system")


# -- finding 9: a full disk ------------------------------------------------------------------------


def _big_source(root: Path, files: int, seed: int) -> Path:
    """Python files of random identifiers: every file distinct, every k-gram new (postings that fill a
    disk fast)."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    for i in range(files):
        lines = []
        for _ in range(60):
            a, b, c = ("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=8)) for _ in range(3))
            lines.append(f"def {a}({b}, {c}):\n    return {b} * {rng.randrange(10**9)} + {c}.{a}({b})\n")
        (root / f"m{i:04d}.py").write_text("".join(lines))
    return root


def test_a_first_build_on_a_full_disk_says_so_and_leaves_an_index_that_opens(tmp_path: Path) -> None:
    source = _big_source(tmp_path / "big", 600, seed=1)
    with _tmpfs(tmp_path / "small", "1m") as mnt:
        index = mnt / "index.sqlite"
        res = _whence("index", "build", str(source), "--index", str(index), "--workers", "1")
        _assert_fails_cleanly(res, "the disk is full", str(index))

        # The schema was committed first: the half-built index opens, with what was committed.
        assert index.exists()
        first = _stats(index)
        check = _whence("index", "check", "--index", str(index))
        assert check.returncode == 0, check.stderr

        # Space freed: the same build resumes and finishes.
        assert _mount("-o", "remount,size=64m", str(mnt)).returncode == 0
        done = _whence("index", "build", str(source), "--index", str(index), "--format", "json")
        assert done.returncode == 0, done.stderr
        after = _stats(index)
        assert after["documents"] == 600
        assert int(str(after["documents"])) > int(str(first["documents"]))


def test_a_full_disk_loses_nothing_already_in_an_existing_index(
    built_index: Path, corpus: Path, tmp_path: Path
) -> None:
    source = _big_source(tmp_path / "big", 300, seed=2)
    size = built_index.stat().st_size
    with _tmpfs(tmp_path / "small", f"{size // 1024 + 1024}k") as mnt:
        index = mnt / "index.sqlite"
        shutil.copy(built_index, index)
        before = _stats(index)

        res = _whence("index", "build", str(source), "--index", str(index), "--workers", "1", "--repo", "x/y")
        _assert_fails_cleanly(res, "the disk is full")

        after = _stats(index)
        assert int(str(after["documents"])) >= int(str(before["documents"]))
        check = _whence("index", "check", "--index", str(index))
        assert check.returncode == 0, check.stderr
        _finds_textwrap(index, corpus)


@pytest.mark.parametrize("size", ["8k", "16k", "48k"])  # SQLITE_FULL, SQLite's I/O error, a failed COMMIT
def test_a_new_index_whose_schema_does_not_fit_is_removed(tmp_path: Path, size: str) -> None:
    """When not even the schema fits, the half-made file goes: no "not a whence index" left behind."""
    source = _big_source(tmp_path / "src", 5, seed=3)
    with _tmpfs(tmp_path / "tiny", size) as mnt:
        index = mnt / "index.sqlite"
        res = _whence("index", "build", str(source), "--index", str(index), "--workers", "1")
        _assert_fails_cleanly(res, "the disk is full", str(index))
        assert not index.exists()
        assert not Path(f"{index}-wal").exists()
        stats = _whence("index", "stats", "--index", str(index))
        _assert_fails_cleanly(stats, f"no index at {index}")
