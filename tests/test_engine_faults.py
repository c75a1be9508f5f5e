"""Faults against a real node of its own (a second OpenSearch, then a second Elasticsearch, started for
this module, so that stopping it disturbs no other test): the engine killed in the middle of a build,
and gone at search time."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import serve_in_thread
from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State
from whence.errors import StoreUnavailable
from whence.index import failpoints, ingest, search
from whence.index.stores import open_store

from .engine import ENGINES, engine, start_engine

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# A node of its own takes 10-20 s to start, and the build test about 30 s more, on each engine.
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """A second local node whose state lives under ``home``; stopped at the end of the module."""

    def __init__(self, home: Path, kind: str) -> None:
        self.home = home
        self.kind = kind
        self.port = _free_port()

    def start(self) -> str:
        os.environ["WHENCE_ENGINE_PORT"] = str(self.port)
        try:
            return start_engine(self.home, kind=self.kind)
        finally:
            del os.environ["WHENCE_ENGINE_PORT"]

    def stop(self) -> None:
        out = engine("stop", home=self.home, kind=self.kind)
        assert out.returncode == 0, out.stderr

    def kill(self) -> None:
        """SIGKILL, as the out-of-memory killer or a lost machine would: no clean shutdown, no flush."""
        pid = int((self.home / "node.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
            assert time.monotonic() < deadline, "the killed node did not go away"
            time.sleep(0.05)


@pytest.fixture(scope="module", params=ENGINES)
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = Node(tmp_path_factory.mktemp("node"), request.param)
    n.start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Several hundred real files (this Python's standard library, top level and a few packages): many
    batches, so that the node can be stopped with some written and more to come."""
    root = tmp_path_factory.mktemp("stdlib") / "stdlib"
    root.mkdir()
    for p in sorted(STDLIB.glob("*.py")):
        shutil.copy(p, root / p.name)
    for pkg in ("email", "json", "asyncio", "concurrent", "importlib", "xml", "unittest"):
        shutil.copytree(STDLIB / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__", "test*"))
    return root


def _build(source: Path, target: str) -> list[str]:
    cmd = [sys.executable, "-m", "whence", "index", "build", str(source), "--index", target]
    return [*cmd, "--repo", "python/cpython", "--license", "PSF-2.0", "--workers", "2", "--format", "json"]


def _state(pid: int) -> str:
    """The process's state letter in /proc (T: stopped, Z: exited, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def _stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP)."""
    return _state(pid) == "T"


def test_engine_killed_mid_build_then_rerun_finishes_without_loss_or_duplicates(
    node: Node, big_corpus: Path, tmp_path: Path
) -> None:
    url = node.start()
    target = f"{url}/fault"
    # The build stops itself (SIGSTOP) once its second batch is in; the node is killed (SIGKILL) under
    # it, and then it goes on: exactly in the middle, however fast or slow the machine.
    env = os.environ | {failpoints.ENV: "after-commit=2:SIGSTOP"}
    proc = subprocess.Popen(
        _build(big_corpus, target), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 120
    while not _stopped(proc.pid):
        assert proc.poll() is None, "the build ended before its second batch: corpus too small"
        assert time.monotonic() < deadline, "the build never reached its second batch"
        time.sleep(0.05)
    node.stop()
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (out, err)
    assert "stopped answering" in err and "run the same command again" in err

    url = node.start()
    assert url.endswith(f":{node.port}")
    rerun = subprocess.run(_build(big_corpus, target), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr

    lite = tmp_path / "clean.sqlite"
    with open_store(lite, create=True) as s:
        ingest.build(s, ingest.sources([big_corpus], repo="python/cpython", licenses=["PSF-2.0"]), workers=2)
    with open_store(lite, readonly=True) as clean, open_store(target, readonly=True) as eng:
        want, got = clean.stats(), eng.stats()
        assert want["documents"] > 250
        for key in ("documents", "occurrences", "source_bytes"):
            assert got[key] == want[key], key
        code = (big_corpus / "email" / "message.py").read_text()
        assert search.search(eng, code).as_dict() == search.search(clean, code).as_dict()


def test_engine_unreachable_at_search_is_exit_2_not_no_match(node: Node, tmp_path: Path) -> None:
    url = node.start()
    target = f"{url}/gone"
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(STDLIB / "heapq.py", folder / "heapq.py")
    assert subprocess.run(_build(folder, target), capture_output=True, timeout=300).returncode == 0
    code = (STDLIB / "heapq.py").read_text()
    store = open_store(target, readonly=True)
    assert search.search(store, code).verdict == "verbatim"
    settings = Settings(index=target, state=str(tmp_path / "state.sqlite"))
    state = State(settings.state)
    key = state.create_key("tests")[1]
    state.close()
    auth = {"Authorization": f"Bearer {key}"}
    lines = code.splitlines(keepends=True)
    with serve_in_thread(create_app(settings)) as base:
        res = httpx.post(
            f"{base}/v1/search", json={"code": "".join(lines[100:140])}, headers=auth, timeout=60
        )
        assert res.status_code == 200 and res.json()["verdict"] == "verbatim", res.text
        node.stop()
        try:
            # A long-lived reader gets an error, never "no match": the service answers 503.
            with pytest.raises(StoreUnavailable, match="stopped answering"):
                search.search(store, code)
        finally:
            store.close()
        res = httpx.post(
            f"{base}/v1/search", json={"code": "".join(lines[150:190])}, headers=auth, timeout=60
        )
        assert res.status_code == 503, res.text
        assert res.json()["error"]["status"] == 503
    for args in (["search", "--index", target], ["index", "stats", "--index", target]):
        out = subprocess.run([sys.executable, "-m", "whence", *args], input=code, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert out.returncode == 2, out
        assert "no search engine answers" in out.stderr
        assert out.stdout == ""
