"""Searches run in a pool of processes, beside the server's event loop.

A search is CPU work in Python and numpy (tokenising, aligning candidates).  Run on the server's own
threads, concurrent searches share one interpreter lock and slow each other down, and with several
uvicorn workers the kernel hands every connection of a burst to whichever worker wakes first, so one
process may hold all the clients while the others idle.  Here every search goes to a shared queue
that ``search_processes`` processes take from as soon as each is free: the CPUs stay busy however the
connections landed, and the event loop only parses requests and writes answers.

Each process opens the index once (read-only) and keeps it.  A process that dies (killed, out of
memory) fails only the searches it held: they get 503, and the next search starts a new pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from whence.index.stores import Store

from .http_errors import ApiError

_EXCERPT_CONTEXT = 2  # lines shown around the matched source lines
_EXCERPT_MAX = 400

PARENT_CHECK_SECONDS = 1.0

# What a pool process holds, set by _init: its pool's index, the handle on it, and a barrier of the
# pool's processes for the warm-up.
_target = ""
_store: Store | None = None
_started: Any = None


def _init(server: int, target: str, started: Any) -> None:
    # Ctrl-C reaches the whole process group: the server stops its pool itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _target, _started
    _target, _started = target, started
    # A server killed outright (SIGKILL, out of memory) cannot stop its pool: each process then sees
    # itself adopted by another parent and exits, rather than idling on with the index open.  The
    # server's pid comes from the server: a process still starting when it was killed is already
    # adopted here, and must not take its new parent for the server.
    if os.getppid() != server:
        os._exit(0)

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="whence-parent-watch", daemon=True).start()


def _open() -> Store:
    """This process's handle on the index, opened on first use (an unreachable index is then a
    request's error, not a broken pool)."""
    global _store
    if _store is None:
        from whence.index.stores import open_store

        _store = open_store(_target, readonly=True)
    return _store


def _warm() -> int:
    """Open the index and load what the first search would (one per process, when the pool starts)."""
    from whence.index.errors import WhenceError

    try:
        return _open().count_documents()
    except WhenceError:
        return -1  # reported by the searches themselves
    finally:
        # Each warm-up waits for the others: otherwise a process that started first could take them
        # all while another is still starting, and the server would answer before its pool is ready.
        with contextlib.suppress(threading.BrokenBarrierError):
            _started.wait(timeout=60)


def search_json(code: str, top: int, min_tokens: int, with_text: bool) -> dict[str, Any]:
    """One search in a pool process (see :func:`answer`).  Raises the library's errors (they pickle)."""
    return answer(_open(), code, top, min_tokens, with_text)


def answer(store: Store, code: str, top: int, min_tokens: int, with_text: bool) -> dict[str, Any]:
    """One search, as the route answers it: ``SearchResult.as_dict()``, plus each match's
    ``source_excerpt`` with ``with_text``."""
    from whence.index import search as search_mod

    result = search_mod.search(store, code, top=top, min_tokens=min_tokens, with_text=with_text)
    out = result.as_dict()
    if with_text:
        for m, d in zip(result.matches, out["matches"], strict=True):
            d["source_excerpt"] = excerpt(m)
    return out


def excerpt(m: Any) -> dict[str, Any] | None:
    """The matched source lines of a match and two lines around them, for side-by-side display."""
    if not m.source_text or not m.spans:
        return None
    lines = m.source_text.splitlines()
    first = max(1, min(s.source_lines[0] for s in m.spans) - _EXCERPT_CONTEXT)
    last = min(
        len(lines), max(s.source_lines[1] for s in m.spans) + _EXCERPT_CONTEXT, first + _EXCERPT_MAX - 1
    )
    return {"first_line": first, "lines": lines[first - 1 : last]}


class SearchPool:
    """``processes`` search processes shared by the requests of one server process.

    ``processes=0`` searches in the server process itself, on its thread pool with ``local_store``
    (each thread's own handle), for tools and tests that want no child processes."""

    def __init__(self, target: str, processes: int, local_store: Callable[[], Store]) -> None:
        self.target = target
        self.processes = processes
        self._local_store = local_store
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn, not fork: the server has threads (a fork would copy their held locks).
                ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=ctx,
                    initializer=_init,
                    initargs=(os.getpid(), self.target, ctx.Barrier(self.processes)),
                )
            return self._pool

    def start(self) -> None:
        """Start every process now and open the index in each, so that the first searches do not pay
        for it."""
        if self.processes <= 0:
            return
        pool = self._executor()
        futures = [pool.submit(_warm) for _ in range(self.processes)]
        for f in futures:
            try:
                f.result(timeout=120)
            except (BrokenProcessPool, TimeoutError):
                self._drop(pool)
                return

    async def search(self, code: str, top: int, min_tokens: int, with_text: bool) -> dict[str, Any]:
        if self.processes <= 0:
            return await asyncio.get_running_loop().run_in_executor(
                None, lambda: answer(self._local_store(), code, top, min_tokens, with_text)
            )
        call = functools.partial(search_json, code, top, min_tokens, with_text)
        pool = self._executor()
        try:
            future = pool.submit(call)
        except (BrokenProcessPool, RuntimeError):
            # The pool broke (or was shut down) before this search: it has not run, so run it on a
            # new pool.
            self._drop(pool)
            pool = self._executor()
            future = pool.submit(call)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._drop(pool)
            raise ApiError(503, "a search process stopped while answering; retry the request") from exc

    def pids(self) -> list[int]:
        """The search processes running now (none before the first search or :meth:`start`)."""
        with self._lock:
            procs = getattr(self._pool, "_processes", None) or {}
            return sorted(procs)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
