"""Searches in the pool of search processes (``api/searchpool.py``), over the wire.

The server answers what an in-process search answers; concurrent requests are spread over the
processes; a process killed mid-service is replaced; stopping the server stops them; and
``search_processes=0`` searches on the server's own threads."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

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
        # One replacement, serving, and none starting: no second one can come up later.
        assert pool.starts == 2 and pool.starting() == 0
        assert len(pool.pids()) == 1 and client.get("/healthz").json()["search_processes"] == 1


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


def _big_snippet(corpus: Path) -> str:
    """About 1 MB of real code (the most a search takes): long enough to be caught in the act."""
    texts = [p.read_text() for p in sorted(corpus.rglob("*.py"))[:200]]
    out, size = [], 0
    while size < 1_000_000:
        for t in texts:
            out.append(t)
            size += len(t)
    return "".join(out)[:1_000_000]


def _busy(pool: object) -> list[int]:
    """Pids of the pool's processes that hold a search now (reads the pool's own bookkeeping)."""
    return [w.proc.pid for w in list(pool._workers) if w.held]  # type: ignore[attr-defined]


@pytest.mark.timeout(180)
def test_a_process_killed_mid_search_fails_only_its_searches(
    built_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """One search process is killed while it holds a search: that search gets 503, a search on the
    other process at the same time is answered, and the pool is back to two processes.  Both processes
    are stopped (SIGSTOP) before the searches reach them, so neither can answer before the test has
    them where it wants them, however slow or fast the machine."""
    settings, key = _settings(built_index, tmp_path, processes=2)
    big, small = _big_snippet(corpus), _snippets(corpus)[0]
    headers = {"Authorization": f"Bearer {key}"}
    app = create_app(settings)
    with serve_in_thread(app) as url, ThreadPoolExecutor(4) as ex:
        pool = app.state.service.searches
        before = pool.pids()

        def post(code: str) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=120) as http:
                return http.post("/v1/search", json={"code": code}, headers=headers)

        try:
            for pid in before:
                os.kill(pid, signal.SIGSTOP)
            first = ex.submit(post, big)
            deadline = time.monotonic() + 60
            while not _busy(pool):
                assert time.monotonic() < deadline and not first.done(), "the first search went nowhere"
                time.sleep(0.01)
            (victim,) = _busy(pool)
            second = ex.submit(post, big)  # goes to the other process, the less busy one
            while len(_busy(pool)) < 2:
                assert time.monotonic() < deadline and not second.done(), "the second search went nowhere"
                time.sleep(0.01)
            (other,) = set(before) - {victim}
            os.kill(other, signal.SIGCONT)  # answers its search while the victim dies
            os.kill(victim, signal.SIGKILL)
        finally:
            for pid in before:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        res = first.result()
        assert res.status_code == 503 and "search process" in res.json()["error"]["message"]
        assert second.result().status_code == 200
        assert post(small).json()["verdict"] == "verbatim"
        deadline = time.monotonic() + 60
        while len(pool.pids()) < 2 and time.monotonic() < deadline:  # the replacement is starting
            time.sleep(0.05)
        after = pool.pids()
        assert len(after) == 2 and victim not in after and set(before) - {victim} <= set(after)
        assert pool.starts == 3 and pool.starting() == 0  # the two, and one replacement
        with httpx.Client(base_url=url, timeout=30) as http:
            metrics = http.get("/metrics", headers=headers).text
        assert "whence_search_process_exits_total 1.0" in metrics
        assert "whence_search_processes 2.0" in metrics and "whence_search_queue 0.0" in metrics


@pytest.mark.timeout(180)
def test_a_client_that_goes_away_leaves_the_pool_serving(
    built_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """Three clients send a big search each and hang up as soon as the server hands it to the pool (the
    process may still be on an earlier one): the same process answers the next search."""
    settings, key = _settings(built_index, tmp_path, processes=1)
    big, small = _big_snippet(corpus), _snippets(corpus)[0]
    app = create_app(settings)
    with serve_in_thread(app) as url:
        pool = app.state.service.searches
        before = pool.pids()
        arrived = threading.Semaphore(0)
        search = pool.search

        async def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
            arrived.release()  # the request is read and is being handed to the pool
            return await search(*args, **kwargs)

        pool.search = counted  # the route calls the pool through this instance attribute
        body = json.dumps({"code": big}).encode()
        fields = {"Host": "whence", "Authorization": f"Bearer {key}", "Content-Type": "application/json",
                  "Content-Length": str(len(body))}  # fmt: skip
        head = "POST /v1/search HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        host, port = url.removeprefix("http://").split(":")
        for _ in range(3):
            with socket.create_connection((host, int(port)), timeout=60) as conn:
                conn.sendall(head.encode() + body)
                assert arrived.acquire(timeout=60), "the server never took the search"
            # closed: the client is gone before its answer
        with httpx.Client(base_url=url, timeout=120) as http:
            res = http.post("/v1/search", json={"code": small}, headers={"Authorization": f"Bearer {key}"})
        assert res.status_code == 200 and res.json()["verdict"] == "verbatim"
        assert pool.pids() == before and pool.starts == 1  # nothing was killed or restarted


def _never_ready(conn: Connection, server: int, target: str) -> None:
    """A search process that never says it is ready (a module-level function: a spawned process finds it
    by name); it exits when the server closes its pipe."""
    with contextlib.suppress(EOFError, OSError):
        conn.recv_bytes()


@pytest.mark.timeout(180)
def test_a_pool_that_cannot_start_answers_503_then_recovers(
    built_index: Path, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search processes that do not come up in time: searches get 503 with the reason (never a hang),
    and once processes can start again the next search starts one and is answered."""
    from whence.api import searchpool

    settings, key = _settings(built_index, tmp_path, processes=1)
    headers = {"Authorization": f"Bearer {key}"}
    q = _snippets(corpus)[0]
    serve = searchpool._serve
    monkeypatch.setattr(searchpool, "_serve", _never_ready)  # what the processes started from now run
    monkeypatch.setattr(searchpool, "START_TIMEOUT", 1.0)
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.service.searches.pids() == []
        health = client.get("/healthz")  # not ready: a load balancer sends searches elsewhere
        assert health.status_code == 503 and "no search process" in health.json()["error"]["message"]
        res = client.post("/v1/search", json={"code": q}, headers=headers)
        assert res.status_code == 503 and "did not start" in res.json()["error"]["message"]
        monkeypatch.setattr(searchpool, "_serve", serve)
        monkeypatch.setattr(searchpool, "START_TIMEOUT", 120.0)
        res = client.post("/v1/search", json={"code": q}, headers=headers)
        assert res.status_code == 200 and res.json()["verdict"] == "verbatim"
        assert len(app.state.service.searches.pids()) == 1
        assert client.get("/healthz").json()["search_processes"] == 1
