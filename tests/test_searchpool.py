"""Searches in the pool of search processes (``api/searchpool.py``), over the wire.

The server answers what an in-process search answers; concurrent requests are spread over the
processes; a process killed mid-service is replaced; stopping the server stops them; and
``search_processes=0`` searches on the server's own threads."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.servers import serve_in_thread, whence_serve
from whence.api.app import create_app
from whence.api.settings import Settings, usable_cpus
from whence.api.state import State
from whence.index import search
from whence.index.stores import open_store


def _snippets(corpus: Path) -> list[str]:
    """Ten 30-line windows of corpus files, and one snippet found nowhere."""
    out = []
    for name in ("difflib.py", "textwrap.py", "argparse.py", "json/decoder.py", "heapq.py"):
        lines = (corpus / name).read_text().splitlines(keepends=True)
        out += ["".join(lines[100:130]), "".join(lines[200:230])]
    return [*out, "def nothing_like_it(q):\n    return q * 3\n"]


def _settings(built_index: Path, tmp_path: Path, processes: int) -> tuple[Settings, str]:
    s = Settings(index=str(built_index), state=str(tmp_path / "state.sqlite"), search_processes=processes,
                 rate_limit_per_minute=100_000, rate_limit_burst=10_000)  # fmt: skip
    state = State(s.state)
    _, key = state.create_key("pool tests")
    state.close()
    return s, key


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(120)
def test_pool_answers_like_an_in_process_search(built_index: Path, corpus: Path, tmp_path: Path) -> None:
    settings, key = _settings(built_index, tmp_path, processes=2)
    queries = _snippets(corpus)
    with open_store(built_index, readonly=True) as st:
        want = [search.search(st, q, top=settings.search_top).as_dict() for q in queries]
    assert sum(w["verdict"] == "verbatim" for w in want) >= 8
    app = create_app(settings)
    with serve_in_thread(app) as url:
        pool = app.state.service.searches
        pids = pool.pids()
        assert len(pids) == 2 and os.getpid() not in pids  # started with the server, in processes
        headers = {"Authorization": f"Bearer {key}"}

        def post(q: str) -> dict[str, object]:
            with httpx.Client(base_url=url, timeout=60) as http:
                res = http.post("/v1/search", json={"code": q}, headers=headers)
                assert res.status_code == 200, res.text
                return res.json()  # type: ignore[no-any-return]

        with ThreadPoolExecutor(8) as ex:  # concurrent requests, several per process
            got = list(ex.map(post, queries * 3))
        assert got == want * 3
        assert pool.pids() == pids  # the same processes served them all
    for pid in pids:  # stopping the server stops its search processes
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"search process {pid} outlived the server"


@pytest.mark.timeout(120)
def test_a_killed_search_process_is_replaced(built_index: Path, corpus: Path, tmp_path: Path) -> None:
    settings, key = _settings(built_index, tmp_path, processes=1)
    q = _snippets(corpus)[0]
    headers = {"Authorization": f"Bearer {key}"}
    app = create_app(settings)
    with TestClient(app) as client:
        pool = app.state.service.searches
        assert client.post("/v1/search", json={"code": q}, headers=headers).json()["verdict"] == "verbatim"
        (victim,) = pool.pids()
        os.kill(victim, signal.SIGKILL)
        statuses = []
        for _ in range(5):  # the pool may notice the death before or while it takes the next search
            res = client.post("/v1/search", json={"code": q}, headers=headers)
            statuses.append(res.status_code)
            if res.status_code == 200:
                assert res.json()["verdict"] == "verbatim"
                break
            assert res.status_code == 503 and "search process" in res.json()["error"]["message"]
        assert statuses[-1] == 200 and statuses.count(503) <= 1, statuses
        assert pool.pids() and victim not in pool.pids()


def test_searching_on_the_server_threads(built_index: Path, corpus: Path, tmp_path: Path) -> None:
    settings, key = _settings(built_index, tmp_path, processes=0)
    q = _snippets(corpus)[0]
    with open_store(built_index, readonly=True) as st:
        want = search.search(st, q, top=settings.search_top).as_dict()
    app = create_app(settings)
    with TestClient(app) as client:
        res = client.post("/v1/search", json={"code": q}, headers={"Authorization": f"Bearer {key}"})
        assert res.status_code == 200 and res.json() == want
        assert app.state.service.searches.pids() == []  # no child processes


def test_search_processes_setting_is_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WHENCE_SEARCH_PROCESSES", "-1")
    with pytest.raises(ValueError, match="search_processes"):
        Settings()
    monkeypatch.setenv("WHENCE_SEARCH_PROCESSES", "3")
    assert Settings().search_processes == 3
    monkeypatch.delenv("WHENCE_SEARCH_PROCESSES")
    assert Settings().search_processes == usable_cpus() >= 1
    quota = tmp_path / "cpu.max"  # a container limited to 1.5 CPUs (cgroup v2): two processes
    quota.write_text("150000 100000\n")
    assert usable_cpus(quota) == min(2, usable_cpus(tmp_path / "none"))
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == usable_cpus(tmp_path / "none")
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:  # follows the affinity mask
        mask = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(mask)})
        try:
            assert Settings().search_processes == 1
        finally:
            os.sched_setaffinity(0, mask)


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(c) for c in (task / "children").read_text().split()]
                out.update(kids)
                todo.extend(kids)
    return out


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
def test_search_processes_exit_when_the_server_is_killed(built_index: Path, tmp_path: Path) -> None:
    """``whence serve`` killed outright cannot stop its pool: the search processes notice and exit."""
    env = {"WHENCE_SEARCH_PROCESSES": "1"}  # the flag below overrides it
    args = ["--index", str(built_index), "--state", str(tmp_path / "state.sqlite"), "--search-processes", "2"]
    with whence_serve(args, env) as (server, _):
        pool = [p for p in _descendants(server.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(pool) == 2
        server.kill()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pool) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pool), "search processes outlived a killed server"
