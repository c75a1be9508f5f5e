"""Searches run in a pool of processes, beside the server's event loop.

A search is CPU work in Python and numpy (tokenising, aligning candidates).  Run on the server's own
threads, concurrent searches share one interpreter lock and slow each other down, and with several
uvicorn workers the kernel hands every connection of a burst to whichever worker wakes first, so one
process may hold all the clients while the others idle.  Here every search goes to a queue that
``search_processes`` processes take from as soon as each is free: the CPUs stay busy however the
connections landed, and the event loop only parses requests and writes answers.

Each process has a pipe of its own to the server and opens the index once (read-only).  The event loop
writes a search to the least busy process's pipe and reads the answer when the pipe becomes readable,
with no thread in between (``concurrent.futures.ProcessPoolExecutor`` passes every call through a
feeder thread and a manager thread: about 0.26 ms of the server's CPU per search, against 0.07 ms
here).  A process that dies (killed, out of memory) fails only the searches it held (two at most),
with 503; it is replaced and the others go on.  A process whose server dies sees its pipe close and
exits.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, cast

from whence.index.stores import Store, StoreReader

from .http_errors import ApiError

if TYPE_CHECKING:
    from whence.index.search import Match

_EXCERPT_CONTEXT = 2  # lines shown around the matched source lines
_EXCERPT_MAX = 400
_log = logging.getLogger("uvicorn.error")
START_TIMEOUT = 120.0  # seconds a new search process may take to import, open the index and warm up
# Searches handed to a process at once: the one it runs and the next, already in its pipe, so that it
# goes on without waiting for the event loop to read its answer and write the next search.
HELD_PER_PROCESS = 2

# What a pool process holds: its pool's index and the handle on it.
_target = ""
_store: Store | None = None


def _serve(conn: Connection, server: int, target: str) -> None:
    """A search process: warm up, say so, then answer the searches that come down ``conn``."""
    # Ctrl-C reaches the whole process group: the server stops its pool itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _target
    _target = target
    # The server's pid comes from the server: a process still starting when the server was killed is
    # already adopted by another, and must not serve it.
    if os.getppid() != server:
        os._exit(0)
    try:
        conn.send_bytes(pickle.dumps(("ready", _warm())))
        while True:
            args = pickle.loads(conn.recv_bytes())
            try:
                out: tuple[str, Any] = ("ok", search_json(*args))
            except Exception as exc:  # the server re-raises it for its error handler
                out = ("error", exc)
            try:
                payload = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an error that does not pickle
                payload = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
            conn.send_bytes(payload)
    except (EOFError, OSError):  # the server closed the pipe, or died: nothing left to answer
        os._exit(0)


def _open() -> Store:
    """This process's handle on the index, opened on first use (an unreachable index is then a
    request's error, not a dead process)."""
    global _store
    if _store is None:
        from whence.index.stores import open_store

        _store = open_store(_target, readonly=True)
    return _store


def _warm() -> int:
    """Open the index and load what the first search would (once per process, before it serves)."""
    from whence.errors import WhenceError

    try:
        return _open().count_documents()
    except WhenceError:
        return -1  # reported by the searches themselves


def search_json(
    code: str, top: int, min_tokens: int, with_text: bool, language: str | None = None
) -> dict[str, Any]:
    """One search in a pool process (see :func:`answer`).  Raises the library's errors (they pickle)."""
    return answer(_open(), code, top, min_tokens, with_text, language)


def answer(
    store: StoreReader, code: str, top: int, min_tokens: int, with_text: bool, language: str | None = None
) -> dict[str, Any]:
    """One search, as the route answers it: ``SearchResult.as_dict()``, plus each match's
    ``source_excerpt`` with ``with_text``.  ``language``: the snippet's (None: guessed)."""
    from whence.index import search as search_mod

    result = search_mod.search(
        store, code, top=top, min_tokens=min_tokens, with_text=with_text, language=language
    )
    out = result.as_dict()
    if with_text:
        for m, d in zip(result.matches, out["matches"], strict=True):
            d["source_excerpt"] = excerpt(m)
    return out


def excerpt(m: Match) -> dict[str, Any] | None:
    """The matched source lines of a match and two lines around them, for side-by-side display."""
    if not m.source_text or not m.spans:
        return None
    lines = m.source_text.splitlines()
    first = max(1, min(s.source_lines[0] for s in m.spans) - _EXCERPT_CONTEXT)
    last = min(
        len(lines), max(s.source_lines[1] for s in m.spans) + _EXCERPT_CONTEXT, first + _EXCERPT_MAX - 1
    )
    return {"first_line": first, "lines": lines[first - 1 : last]}


class _Worker(asyncio.Protocol):
    """A search process, seen from the event loop: the server's end of its socket pair as an asyncio
    transport (writes never block the loop, however big the search or busy the process), and the
    searches it holds, in the order it answers them.  Messages are framed as
    :class:`multiprocessing.connection.Connection` frames them (a 4-byte big-endian length, or -1 and
    an 8-byte one), which is what the process reads and writes with."""

    def __init__(self, pool: SearchPool, proc: BaseProcess) -> None:
        self.pool = pool
        self.proc = proc
        self.transport: asyncio.Transport | None = None
        self.held: collections.deque[asyncio.Future[dict[str, Any]]] = collections.deque()
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        n = len(payload)
        head = struct.pack("!i", n) if n <= 0x7FFFFFFF else struct.pack("!iQ", -1, n)
        self.transport.write(head + payload)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= 4:
            (n,) = struct.unpack_from("!i", buf)
            head = 4
            if n == -1:
                if len(buf) < 12:
                    return
                (n,) = struct.unpack_from("!Q", buf, 4)
                head = 12
            if len(buf) < head + n:
                return
            message = bytes(buf[head : head + n])
            del buf[: head + n]
            self.pool._answer(self, message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool._lost(self)


class SearchPool:
    """``processes`` search processes shared by the requests of one server process.

    Used from the server's event loop: :meth:`start` (or the first search) binds the pool to it.
    ``processes=0`` searches in the server process itself, on its thread pool with ``local_store``
    (each thread's own handle), for tools and tests that want no child processes."""

    def __init__(self, target: str, processes: int, local_store: Callable[[], Store]) -> None:
        self.target = target
        self.processes = processes
        self._local_store = local_store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[_Worker] = []
        self._queue: collections.deque[tuple[bytes, asyncio.Future[dict[str, Any]]]] = collections.deque()
        self._starting = 0  # processes being started (replacements included)
        self.starts = 0  # processes started so far, replacements included (each counted from its start)
        self._ready: asyncio.Future[None] | None = None  # done once the first processes serve
        self._closed = False
        self._start_error = ""  # why the last process that failed to start did
        self.on_exit: Callable[[], object] | None = None  # called when a serving process dies
        self._tasks: set[asyncio.Task[None]] = set()  # replacements being started (kept referenced)
        self._lock = threading.Lock()  # the list of workers, read by pids() from any thread

    async def start(self) -> None:
        """Start every process now, each with the index open and warmed up, so that the first searches
        do not pay for it; returns once all serve (or could not start)."""
        if self.processes <= 0:
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._rebind(loop)
        if self._ready is None:
            self._ready = loop.create_future()
            await asyncio.gather(*(self._start_one() for _ in range(self.processes)))
            if not self._ready.done():
                self._ready.set_result(None)
        await asyncio.shield(self._ready)

    async def search(
        self, code: str, top: int, min_tokens: int, with_text: bool, language: str | None = None
    ) -> dict[str, Any]:
        if self.processes <= 0:
            return await asyncio.get_running_loop().run_in_executor(
                None, lambda: answer(self._local_store(), code, top, min_tokens, with_text, language)
            )
        if self._closed:
            raise ApiError(503, "the server is shutting down")
        await self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._queue.append((pickle.dumps((code, top, min_tokens, with_text, language)), future))
        if not self._workers and not self._starting:  # every start failed so far: try once more
            self._start_one()
        self._dispatch()
        return await future

    @property
    def failing(self) -> str:
        """Why no search can run now ("" when searches can run): every process that should serve has
        failed to start, and none is starting."""
        if self.processes <= 0 or self._ready is None or not self._ready.done():
            return ""
        if self._workers or self._starting:
            return ""
        return self._start_error or "the search processes stopped"

    def queued(self) -> int:
        """Searches waiting for a process (not yet handed to one)."""
        return len(self._queue)

    def starting(self) -> int:
        """Processes being started now (not serving yet), replacements included."""
        return self._starting

    def pids(self) -> list[int]:
        """The search processes serving now (none before the first search or :meth:`start`)."""
        with self._lock:
            return sorted(w.proc.pid for w in self._workers if w.proc.pid is not None)

    # --- on the event loop ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Give queued searches to the least busy processes, up to HELD_PER_PROCESS each."""
        while self._queue and self._workers:
            worker = min(self._workers, key=lambda w: len(w.held))
            if len(worker.held) >= HELD_PER_PROCESS:
                return
            payload, future = self._queue.popleft()
            if future.done():  # the request went away while it waited
                continue
            worker.send(payload)
            worker.held.append(future)

    def _answer(self, worker: _Worker, message: bytes) -> None:
        if not worker.held:
            _log.error("whence: a search process answered a search it was not given")
            return
        future = worker.held.popleft()  # a process answers in order
        try:
            kind, value = pickle.loads(message)
        except Exception as exc:  # e.g. an error type that pickles but does not unpickle
            kind, value = "error", RuntimeError(f"a search process's answer could not be read: {exc!r}")
        if not future.done():  # done: the request was cancelled meanwhile
            if kind == "ok":
                future.set_result(value)
            else:
                future.set_exception(value)
        self._dispatch()

    def _lost(self, worker: _Worker) -> None:
        """A process's pipe closed: it died (or is being stopped).  Fail the searches it held, and
        replace it unless the pool is closing."""
        with self._lock:
            if worker not in self._workers:
                return
            if not self._closed:  # when closing, close() waits for it
                self._start_one()  # first: /healthz, on another thread, sees a process or a start
                self._workers.remove(worker)
        for future in worker.held:
            if not future.done():
                future.set_exception(
                    ApiError(503, "a search process stopped while answering; retry the request")
                )
        worker.held.clear()
        if not self._closed and self._loop is not None:
            if self.on_exit is not None:
                self.on_exit()
            threading.Thread(target=worker.proc.join, daemon=True).start()  # reap it

    def _start_one(self) -> asyncio.Task[None]:
        """Start a process in the background; it counts as starting from now on."""
        assert self._loop is not None
        self._starting += 1
        self.starts += 1
        task = self._loop.create_task(self._add_worker())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _add_worker(self) -> None:
        """Start a process (counted in ``_starting`` by :meth:`_start_one`) and, once it has warmed up,
        let it serve.  A process that cannot start is logged; when no process is left to answer, the
        waiting searches get 503."""
        assert self._loop is not None
        loop = self._loop
        proc: BaseProcess | None = None
        try:
            spawned, conn = await asyncio.to_thread(self._spawn)
            proc = spawned
            worker = _Worker(self, spawned)
            sock = socket.socket(fileno=os.dup(conn.fileno()))  # Connection reads no further than
            conn.close()  # the ready message, so nothing it buffered is lost
            if self._closed or self._loop is not loop:
                sock.close()
                self._starting -= 1
                await asyncio.to_thread(_stop, [spawned])
                return
            await loop.create_connection(lambda: worker, sock=sock)
        except Exception as exc:  # whatever stopped it, the requests get an answer
            _log.error("whence: a search process could not start: %s", exc)
            self._start_error = str(exc)
            self._starting -= 1
            if not self._workers and not self._starting:  # nobody left to answer the queue
                while self._queue:
                    _, future = self._queue.popleft()
                    if not future.done():
                        future.set_exception(ApiError(503, f"no search process could be started: {exc}"))
            if proc is not None:
                await asyncio.to_thread(_stop, [proc], 0.0)
            return
        with self._lock:
            self._workers.append(worker)
        # Counted as serving before it stops counting as starting: /healthz, on another thread, never
        # sees it as neither.
        self._starting -= 1
        self._start_error = ""
        self._dispatch()

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Used from another event loop than before (a test client without its lifespan makes one per
        request): the processes that served the old loop are stopped, new ones will serve this one."""
        with self._lock:
            old, self._workers = self._workers, []
        self._loop, self._ready = loop, None
        self._queue.clear()
        _stop([w.proc for w in old], grace=0.0)  # their pipes belong to the old loop: end them now

    def detach(self) -> None:
        """On the event loop, before :meth:`close`: close the pipes (each process then exits)."""
        self._closed = True
        with self._lock:
            workers = list(self._workers)
        for w in workers:
            if w.transport is not None:
                w.transport.close()

    # --- any thread -----------------------------------------------------------------------------

    def _spawn(self) -> tuple[BaseProcess, Connection]:
        """A new search process, once it says it is ready (blocking: run on a thread)."""
        # spawn, not fork: the server has threads (a fork would copy their held locks).
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()  # a socket pair
        proc = ctx.Process(
            target=_serve, args=(theirs, os.getpid(), self.target), name="whence-search", daemon=True
        )
        proc.start()
        theirs.close()  # only the child holds its end now: the child's death reads as EOF here
        try:
            if not ours.poll(START_TIMEOUT):
                raise TimeoutError(f"a search process did not start within {START_TIMEOUT:.0f} s")
            kind, _ = pickle.loads(ours.recv_bytes())
            if kind != "ready":
                raise RuntimeError(f"a search process said {kind!r} instead of 'ready'")
        except BaseException:
            ours.close()
            _stop([proc])
            raise
        return proc, ours

    def close(self) -> None:
        """Stop the processes (after :meth:`detach`, they are already on their way out)."""
        self._closed = True
        with self._lock:
            workers, self._workers = self._workers, []
        detached = all(w.transport is None or w.transport.is_closing() for w in workers)
        _stop([w.proc for w in workers], grace=5.0 if detached else 0.0)


def _stop(procs: list[BaseProcess], grace: float = 5.0) -> None:
    """Wait up to ``grace`` seconds for processes whose pipe was closed, then end the rest."""
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(10)
