"""The scan engine: files -> copied regions with their origins.

Three phases, sized for repositories of tens of thousands of files:

1. **Read** (threads; the lexer and SQLite release the GIL): read and validate each file, fingerprint
   it, look its MinHash band keys up, note its ``whence: attributed`` markers.
2. **Look up** (threads, one store connection each): the fingerprints of *all* files in a few
   :meth:`Store.postings` calls over disjoint hash ranges (see :mod:`whence.index.cover`).
3. **Align** (processes when there are many files, since alignment is Python code holding the GIL):
   only files with at least one candidate document; each is read again (checked against the digest
   of phase 1), covered, and cut down to the lines ``--diff`` counts.

Any file that cannot be read, or a store that fails, ends in :attr:`ScanReport.errors`: a scan that
did not complete is never reported clean.

:func:`run_remote` is the same scan against a whence service's index (``whence scan --remote``): phase 2
becomes one fingerprint search per batch of files (:mod:`whence.index.remote`), which answers the ranked
candidates with their texts, and phase 3 aligns with those texts; no code leaves the machine.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import xxhash

from whence.errors import WhenceError
from whence.index import cover as cov
from whence.index import fingerprint as fp
from whence.index import remote
from whence.index.ingest import DEFAULT_MAX_BYTES, check_text
from whence.index.lexer import language_for_path
from whence.index.model import Occurrence
from whence.index.stores import Fetched, Postings, Store, StoreReader, open_store

from .client import RequestTooLarge
from .files import is_generated

#: ``whence: attributed <url>`` in any comment credits the origin that URL names.
MARKER = re.compile(rb"whence:\s*attributed\s+(\S+)", re.I)
#: Below this many files needing alignment, processes cost more to start than they save.
POOL_MIN_FILES = 48
_SKIP_REASONS = {"empty": "empty", "too_large": "too large", "binary": "binary", "not_utf8": "not UTF-8"}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Region:
    """Lines of a scanned file that came from an indexed document."""

    path: Path
    lines: tuple[int, int]
    verdict: str
    tokens: int
    source_lines: tuple[int, int]
    occurrences: tuple[Occurrence, ...]
    blob_id: str
    doc_id: int  # the origin document in the index (its text: the notice's copyright lines)


@dataclass(slots=True)
class _Read:
    path: Path
    digest: bytes = b""
    lookup: npt.NDArray[np.uint64] | None = None
    bands: set[int] = field(default_factory=set)
    band_keys: tuple[int, ...] = ()  # a remote scan sends them instead of looking them up
    tokens: int = 0
    markers: list[tuple[int, str]] = field(default_factory=list)
    skipped: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class _Task:
    path: Path
    digest: bytes
    hashes: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int64]
    common: npt.NDArray[np.int64]
    bands: frozenset[int]
    added: frozenset[int] | None  # lines that count (None: all)
    ranked: tuple[int, ...] | None = None  # a remote scan's candidates, ranked by the service


@dataclass
class Scanned:
    """What the engine found: regions, markers, and what it could not do."""

    files: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    #: Every file left out, with the reason (the keys of ``skipped``).
    exempted: list[tuple[Path, str]] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    markers: dict[Path, list[tuple[int, str]]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    #: A remote scan's origin documents (those of ``regions``) as the service sent them, by id.
    sources: dict[int, Fetched] = field(default_factory=dict)


class _Stores:
    """One read-only store per thread (a SQLite connection must not be shared by concurrent queries)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._local = threading.local()
        self._all: list[Store] = []
        self._lock = threading.Lock()

    def get(self) -> Store:
        s: Store | None = getattr(self._local, "store", None)
        if s is None:
            s = self._local.store = open_store(self.target, readonly=True)
            with self._lock:
                self._all.append(s)
        return s

    def close(self) -> None:
        for s in self._all:
            s.close()


class _Skip(Exception):
    """A file not to read: not a regular file (a FIFO, a socket, a device), or too large."""


def read_limited(path: Path, limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (so that "too large" is known without reading more).

    The file is opened without blocking and checked with ``fstat`` on the open descriptor, so a FIFO
    (whose ``open`` would wait for a writer forever), a socket or a device is refused at once, and a
    regular file larger than ``limit`` (a 2 GB sparse file, say) is never read: its size says enough.

    Raises:
        _Skip: not a regular file, or larger than ``limit`` (the reason is its message).
        OSError: it cannot be opened or read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO (on some systems) without a writer
            raise _Skip("not a regular file") from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Skip("not a regular file")
        if st.st_size > limit:
            raise _Skip("too large")  # its size is enough: nothing is read
        chunks, left = [], limit + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read(path: Path, stores: _Stores | None, min_tokens: int, skip_generated: bool) -> _Read:
    """Read, check and fingerprint one file; its LSH bands are looked up in ``stores``, or only noted
    (``band_keys``) for a remote scan (``stores`` None)."""
    r = _Read(path)
    try:
        raw = read_limited(path)
    except _Skip as skip:
        r.skipped = str(skip)
        return r
    except OSError as exc:
        r.error = f"cannot read: {exc.strerror or exc}"
        return r
    if len(raw) > DEFAULT_MAX_BYTES:
        r.skipped = "too large"
        return r
    why = check_text(raw)
    if why:
        r.skipped = _SKIP_REASONS.get(why, why)
        return r
    if skip_generated and is_generated(path.name, raw):
        r.skipped = "generated"
        return r
    r.digest = xxhash.xxh3_128_digest(raw)
    for m in MARKER.finditer(raw):
        r.markers.append((raw.count(b"\n", 0, m.start()) + 1, m.group(1).decode("utf-8", "replace")))
    prep = cov.prepare(raw, min_tokens, language_for_path(str(path)))
    r.lookup = prep.lookup
    r.tokens = len(prep.tokens)
    if len(prep.tokens) >= 4 * fp.T:
        sig = fp.minhash(np.unique(prep.exact[fp.winnow(prep.exact)]))
        if stores is None:
            r.band_keys = tuple(fp.band_keys(sig))
        else:
            r.bands = stores.get().band_docs(fp.band_keys(sig))
    return r


def _lookup(stores: _Stores, reads: list[_Read], cap: int, jobs: int) -> cov.BatchPostings:
    """Postings of every file's hashes: the sorted union cut into ``jobs`` hash ranges, one thread each."""
    parts = [r.lookup for r in reads if r.lookup is not None and len(r.lookup)]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return cov.BatchPostings(empty, empty, empty)
    # Sorted, then equal neighbours dropped: np.unique (hash-based since numpy 2.3) takes seconds on the
    # million-element union of a many-file scan, a sort a fraction of that.
    every = np.sort(np.concatenate(parts).view(np.int64))
    union = every[np.concatenate(([True], every[1:] != every[:-1]))]
    chunks = [c for c in np.array_split(union, max(1, jobs)) if len(c)]

    def one(chunk: npt.NDArray[np.int64]) -> Postings:
        return stores.get().postings(chunk, cap)

    with ThreadPoolExecutor(len(chunks)) as ex:
        posts = list(ex.map(one, chunks))
    # Chunks are disjoint hash ranges in order, and each store answer is in block order: sort once.
    h = np.concatenate([p.hashes for p in posts])
    d = np.concatenate([p.docs for p in posts])
    order = np.argsort(h, kind="stable")
    return cov.BatchPostings(h[order], d[order], np.sort(np.concatenate([p.common for p in posts])))


def _dense(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Document ids renumbered 0..n-1 (for bincount)."""
    return np.unique(ids, return_inverse=True)[1].reshape(-1)


# -- phase 3: alignment (in this process or in worker processes) --------------------------------------

_worker: dict[str, object] = {}


def _init_worker(target: str, documents: int, min_tokens: int) -> None:
    _worker.update(store=open_store(target, readonly=True), documents=documents, min_tokens=min_tokens)
    _worker["cache"] = cov.DocCache()


def _align_many(tasks: list[_Task]) -> list[tuple[list[Region], str]]:
    store = _worker["store"]
    assert isinstance(store, Store)
    documents, min_tokens = _worker["documents"], _worker["min_tokens"]
    cache = _worker["cache"]
    assert isinstance(documents, int) and isinstance(min_tokens, int) and isinstance(cache, cov.DocCache)
    return [_align(store, t, documents, min_tokens, cache) for t in tasks]


def _align(
    store: StoreReader, t: _Task, documents: int, min_tokens: int, cache: cov.DocCache
) -> tuple[list[Region], str]:
    """Regions of one file (and an error message, empty when all went well)."""
    try:
        raw = read_limited(t.path)
    except _Skip:
        return [], "the file changed while it was being scanned"
    except OSError as exc:
        return [], f"cannot read: {exc.strerror or exc}"
    if xxhash.xxh3_128_digest(raw) != t.digest:
        return [], "the file changed while it was being scanned"
    try:
        prep = cov.prepare(raw, min_tokens, language_for_path(str(t.path)))
        result = cov.cover(
            store,
            prep,
            Postings(t.hashes, t.docs, t.common),
            documents=documents,
            min_tokens=min_tokens,
            band_docs=set(t.bands),
            cache=cache,
            ranked=t.ranked,
        )
    except WhenceError as exc:
        return [], str(exc)
    out: list[Region] = []
    starts = prep.tokens.line_start
    for m in result.matches:
        for sp in m.spans:
            lines, tokens = sp.query_lines, sp.tokens
            if t.added is not None:
                q0, q1 = sp.query_tokens
                on = np.isin(starts[q0:q1], np.fromiter(t.added, dtype=np.uint32, count=len(t.added)))
                tokens = int(on.sum())
                if tokens < min_tokens:
                    continue  # the copy is old: only lines added since --diff REV count
                counted = starts[q0:q1][on]
                lines = (int(counted.min()), int(counted.max()))
            out.append(
                Region(t.path, lines, m.verdict, tokens, sp.source_lines, tuple(m.occurrences),
                       m.blob_id, m.doc_id)
            )  # fmt: skip
    return out, ""


def _chunks(xs: Sequence[_Task], n: int) -> Iterator[list[_Task]]:
    for i in range(0, len(xs), n):
        yield list(xs[i : i + n])


def run(
    files: list[Path],
    target: str,
    *,
    min_tokens: int,
    added: dict[Path, set[int] | None] | None = None,
    skip_generated: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> Scanned:
    """Scan ``files`` against the index at ``target``.

    Args:
        files: absolute paths.
        target: the index.
        min_tokens: smallest match that counts.
        added: with ``--diff``, the lines that count per file (None: the whole file).
        skip_generated: skip files whose name or first lines say they are generated.
        jobs: threads and processes (default: one per core).
        progress: called with (phase, done, total).

    Many files are aligned in worker processes (``forkserver``), which import the main module again:
    a script calling this must guard its entry point with ``if __name__ == "__main__":``.

    Raises:
        WhenceError: the index cannot be opened or read.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    report = Scanned()
    note = progress or (lambda phase, done, total: None)
    stores = _Stores(target)
    try:
        documents, cap = cov.cap_for(stores.get())
        reads: list[_Read] = []
        with ThreadPoolExecutor(jobs) as ex:
            for i, r in enumerate(ex.map(lambda p: _read(p, stores, min_tokens, skip_generated), files)):
                reads.append(r)
                if i % 64 == 0 or i + 1 == len(files):
                    note("read", i + 1, len(files))
        _account(report, reads)
        note("look up", 0, 1)
        batch = _lookup(stores, reads, cap, jobs)
        note("look up", 1, 1)
        tasks: list[_Task] = []
        for r in reads:
            if r.lookup is None:
                continue
            post = batch.slice(r.lookup)
            if not r.bands and (not len(post.docs) or np.bincount(_dense(post.docs)).max() < cov.MIN_VOTES):
                continue  # no candidate (see cover.MIN_VOTES): nothing was copied from the index
            lines = None if added is None else added.get(r.path.resolve())
            tasks.append(
                _Task(r.path, r.digest, post.hashes, post.docs, post.common, frozenset(r.bands),
                      None if lines is None else frozenset(lines))
            )  # fmt: skip
        for regions, error, path in _align_all(tasks, target, documents, min_tokens, jobs, note, stores):
            if error:
                report.errors.append((str(path), error))
            report.regions.extend(regions)
    finally:
        stores.close()
    return report


def _align_all(
    tasks: list[_Task],
    target: str,
    documents: int,
    min_tokens: int,
    jobs: int,
    note: Progress,
    stores: _Stores,
) -> Iterator[tuple[list[Region], str, Path]]:
    total = len(tasks)
    note("align", 0, total)
    if jobs == 1 or total < POOL_MIN_FILES:
        cache = cov.DocCache()
        for i, t in enumerate(tasks):
            regions, error = _align(stores.get(), t, documents, min_tokens, cache)
            note("align", i + 1, total)
            yield regions, error, t.path
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    size = max(4, min(64, total // (jobs * 8) or 1))
    done = 0
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(target, documents, min_tokens)) as ex:  # fmt: skip
        pending: dict[Future[list[tuple[list[Region], str]]], list[_Task]] = {
            ex.submit(_align_many, chunk): chunk for chunk in _chunks(tasks, size)
        }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                chunk = pending.pop(fut)
                for t, (regions, error) in zip(chunk, fut.result(), strict=True):
                    yield regions, error, t.path
                done += len(chunk)
                note("align", done, total)


def _account(report: Scanned, reads: list[_Read]) -> None:
    """Count what phase 1 read, skipped and could not read."""
    for r in reads:
        if r.error:
            report.errors.append((str(r.path), r.error))
        elif r.skipped:
            report.skipped[r.skipped] = report.skipped.get(r.skipped, 0) + 1
            report.exempted.append((r.path, r.skipped))
        else:
            report.files += 1
            if r.markers:
                report.markers[r.path] = r.markers


# -- a remote scan: fingerprints to a service, candidates back, alignment here -------------------------

#: A remote scan's request bodies are kept under about this many bytes (the service refuses bodies over
#: its WHENCE_MAX_BODY_BYTES, 2 MiB by default, with 413; a refused batch is split and sent again).
REMOTE_BATCH_BYTES = 1 << 20
#: Bytes a looked-up hash takes in a request body (base64 of 8 bytes).
_HASH_BYTES = 11


def _remote_batches(reads: list[_Read], budget: int) -> Iterator[list[_Read]]:
    batch: list[_Read] = []
    size = 0
    for r in reads:
        n = 64 + _HASH_BYTES * (len(r.lookup) if r.lookup is not None else 0)
        if batch and (size + n > budget or len(batch) >= remote.MAX_FILES):
            yield batch
            batch, size = [], 0
        batch.append(r)
        size += n
    if batch:
        yield batch


def run_remote(
    files: list[Path],
    ask: Callable[[dict[str, object]], object],
    *,
    min_tokens: int,
    added: dict[Path, set[int] | None] | None = None,
    skip_generated: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    batch_bytes: int = REMOTE_BATCH_BYTES,
) -> Scanned:
    """Scan ``files`` against a hosted index without sending their code (``whence scan --remote``).

    Each file is read and fingerprinted here as in :func:`run`; only its token count, looked-up k-gram
    hashes and LSH band keys go to the service (:mod:`whence.index.remote`), in batches of about
    ``batch_bytes``.  The service answers each file's ranked candidates and their texts, and the
    alignment runs here: the findings are those :func:`run` finds on the service's index.

    Args:
        files: absolute paths.
        ask: sends one request body to ``POST /v1/search/fingerprints`` and returns the answer's JSON
            (:class:`whence.scan.client.Service`); raises :class:`~whence.scan.client.RequestTooLarge`
            when the service refuses a body as too large (the batch is then split).
        min_tokens, added, skip_generated, jobs, progress: as for :func:`run`.

    Raises:
        WhenceError: the service could not be reached or refused the scan.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    report = Scanned()
    note = progress or (lambda phase, done, total: None)
    reads: list[_Read] = []
    with ThreadPoolExecutor(jobs) as ex:
        for i, r in enumerate(ex.map(lambda p: _read(p, None, min_tokens, skip_generated), files)):
            reads.append(r)
            if i % 64 == 0 or i + 1 == len(files):
                note("read", i + 1, len(files))
    _account(report, reads)
    todo = [r for r in reads if r.lookup is not None and len(r.lookup)]
    queue = list(_remote_batches(todo, batch_bytes))
    aligner = _RemoteAligner(report, min_tokens, jobs)
    done = 0
    note("search", 0, len(todo))
    try:
        while queue:
            batch = queue.pop(0)
            queries = [
                remote.FileQuery(r.tokens, r.lookup, r.band_keys) for r in batch if r.lookup is not None
            ]
            try:
                answers, sources = remote.read_answer(ask(remote.request_body(queries)), len(batch))
            except RequestTooLarge as exc:
                if len(batch) > 1:
                    half = len(batch) // 2
                    queue[:0] = [batch[:half], batch[half:]]
                    continue
                report.errors.append((str(batch[0].path), f"the service refuses its fingerprints: {exc}"))
                done += 1
                continue
            for r, a in zip(batch, answers, strict=True):
                done += 1
                if not a.ranked:
                    continue  # no candidate: nothing was copied from the index
                lines = None if added is None else added.get(r.path.resolve())
                task = _Task(r.path, r.digest, a.post.hashes, a.post.docs, a.post.common, frozenset(),
                             None if lines is None else frozenset(lines), tuple(a.ranked))  # fmt: skip
                aligner.add(task, {d: sources[d] for d in a.ranked if d in sources})
            note("search", done, len(todo))
        aligner.finish(note)
    finally:
        aligner.close()
    return report


def _init_remote_worker(min_tokens: int) -> None:
    _worker.update(min_tokens=min_tokens, cache=cov.DocCache())


def _align_received(tasks: list[_Task], docs: dict[int, Fetched]) -> list[tuple[list[Region], str]]:
    """Align tasks with the candidates a service sent (in a worker process of a remote scan)."""
    min_tokens, cache = _worker["min_tokens"], _worker["cache"]
    assert isinstance(min_tokens, int) and isinstance(cache, cov.DocCache)
    got = remote.Received(docs)
    return [_align(got, t, 0, min_tokens, cache) for t in tasks]


class _RemoteAligner:
    """Aligns a remote scan's files as the service's answers come: in this process, or -- once there are
    :data:`POOL_MIN_FILES` files with candidates and ``jobs`` > 1 -- in worker processes, each chunk sent
    with the candidates' texts it needs, while the next request is on its way."""

    CHUNK = 16

    def __init__(self, report: Scanned, min_tokens: int, jobs: int) -> None:
        self.report = report
        self.min_tokens = min_tokens
        self.jobs = jobs
        self.held: list[tuple[_Task, dict[int, Fetched]]] = []
        self.seen = 0
        self.aligned = 0
        self.cache = cov.DocCache()
        self.pool: ProcessPoolExecutor | None = None
        self.pending: dict[
            Future[list[tuple[list[Region], str]]], tuple[list[_Task], dict[int, Fetched]]
        ] = {}

    def add(self, task: _Task, docs: dict[int, Fetched]) -> None:
        self.seen += 1
        if self.jobs == 1:  # aligned now: nothing is held
            self._here(task, docs)
            return
        self.held.append((task, docs))
        if self.pool is None and self.jobs > 1 and self.seen >= POOL_MIN_FILES:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            self.pool = ProcessPoolExecutor(
                self.jobs, mp_context=ctx, initializer=_init_remote_worker, initargs=(self.min_tokens,)
            )
        if self.pool is not None:
            self._submit(self.pool, final=False)
            for fut in [f for f in self.pending if f.done()]:
                self._collect(fut)

    def _submit(self, pool: ProcessPoolExecutor, final: bool) -> None:
        while len(self.held) >= self.CHUNK or (final and self.held):
            chunk, self.held = self.held[: self.CHUNK], self.held[self.CHUNK :]
            docs: dict[int, Fetched] = {}
            for _, d in chunk:
                docs.update(d)
            tasks = [t for t, _ in chunk]
            self.pending[pool.submit(_align_received, tasks, docs)] = (tasks, docs)

    def _collect(self, fut: Future[list[tuple[list[Region], str]]]) -> None:
        tasks, docs = self.pending.pop(fut)
        for t, (regions, error) in zip(tasks, fut.result(), strict=True):
            self._record(t, regions, error, docs)

    def _record(self, t: _Task, regions: list[Region], error: str, docs: dict[int, Fetched]) -> None:
        self.aligned += 1
        if error:
            self.report.errors.append((str(t.path), error))
        for region in regions:
            self.report.sources.setdefault(region.doc_id, docs[region.doc_id])
        self.report.regions.extend(regions)

    def finish(self, note: Progress) -> None:
        """Align what is left and wait for the workers."""
        note("align", self.aligned, self.seen)
        if self.pool is None:  # fewer files with candidates than make a pool worth starting
            for t, docs in self.held:
                self._here(t, docs)
                note("align", self.aligned, self.seen)
            self.held.clear()
            return
        self._submit(self.pool, final=True)
        while self.pending:
            finished, _ = wait(self.pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                self._collect(fut)
            note("align", self.aligned, self.seen)

    def _here(self, t: _Task, docs: dict[int, Fetched]) -> None:
        regions, error = _align(remote.Received(docs), t, 0, self.min_tokens, self.cache)
        self._record(t, regions, error, docs)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
