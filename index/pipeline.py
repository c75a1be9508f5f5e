"""The ingestion pipeline: files -> fingerprinted documents -> a store, streaming, in batches, on every core.

Work is split so that both cores are busy: worker threads read, validate, hash, fingerprint (the
compiled kernel releases the GIL) and compress files; the calling thread only writes batches, each
in one transaction.  A content already in the index is not fingerprinted again: it only gains the new
occurrence.  Two checks find it, both by looking up one batch of keys in the store at a time (memory
stays bounded however large the index; nothing holds a set of everything):

* a shard row whose ``blob_id`` the index already holds is not even fetched from the blob store
  (:meth:`Store.known_blobs`) -- so a rerun after a failure fetches only what is missing;
* any other file is read and hashed (xxh3-128), and a content hash the index holds
  (:meth:`Store.known`) is not fingerprinted.

What this build wrote and the store may not show yet (an open transaction, an unrefreshed engine) is
remembered in two bounded generations (:class:`_Recent`; not needed, so not kept, for a store whose
lookups read its own open transaction: SQLite); past them, a repeated content is fingerprinted
again and the store's own deduplication keeps one copy.  So a build that was interrupted (Ctrl-C,
SIGKILL) and is run again ends with exactly the documents and occurrences of a clean build.
Repositories opted out of the index (:meth:`Store.optouts`: one repository, or ``owner/*`` for every
repository of an owner) are left out of every build.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import xxhash

from whence.errors import StoreUnavailable

from . import fingerprint as fp
from . import lexer
from .blobs import CorruptBlob, MissingBlob
from .model import IndexedDoc, Occurrence, OptOuts
from .sources import DEFAULT_MAX_BYTES, SkipFile, SourceFile
from .stores import codec
from .stores.base import Store, StoreWriter

BATCH_FILES = 64
_RESUME = "run the same command again when the index is back to finish (nothing is duplicated)"
#: Keys (content hashes, blob ids) remembered per generation of :class:`_Recent` (two are kept).
RECENT_KEYS = 1 << 17


@dataclass
class BuildReport:
    """What a build did."""

    files: int = 0
    bytes: int = 0  # of the files indexed (new or duplicate contents), not of those skipped
    documents: int = 0
    duplicates: int = 0
    occurrences: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    fetched: int = 0  # contents fetched from a blob store
    known_blobs: int = 0  # shard rows whose blob the index held: not fetched, only their occurrence added
    merging: int | None = None  # while the build's closing merge for search runs: the segments left

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "documents_added": self.documents,
            "duplicates": self.duplicates,
            "occurrences_added": self.occurrences,
            "skipped": dict(self.skipped),
            "fetched": self.fetched,
            "known_blobs": self.known_blobs,
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else 0.0,
        }


@dataclass(slots=True)
class _Prepared:
    doc: IndexedDoc | None = None  # a new content
    known: tuple[bytes, Occurrence] | None = None  # a content already stored: only its occurrence
    skipped: str = ""
    nbytes: int = 0  # the bytes indexed (0 for a file skipped: a report counts what was indexed)
    fetched: bool = False  # its bytes came from a blob store
    blob_known: bool = False  # its blob was known: never fetched
    blob_id: str = ""


class _Recent:
    """Keys this build wrote (content hashes; ``("blob", blob_id)`` -> content hash), in two generations
    of at most ``limit`` each: a search engine answers lookups only for what its last refresh made
    visible, so what the build wrote since must be remembered here.  Read by worker threads, written
    by the writer thread."""

    def __init__(self, limit: int = RECENT_KEYS) -> None:
        self.limit = limit
        self._new: dict[object, bytes] = {}
        self._old: dict[object, bytes] = {}

    def get(self, key: object) -> bytes | None:
        return self._new.get(key) or self._old.get(key)

    def add(self, key: object, value: bytes) -> None:
        if not self.limit:  # a store whose lookups see what this build wrote: nothing to remember
            return
        self._new[key] = value
        if len(self._new) >= self.limit:
            self._old, self._new = self._new, {}


def check_text(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Why ``raw`` cannot be indexed or searched (``empty``, ``too_large``, ``binary``, ``not_utf8``)."""
    if not raw.strip():
        return "empty"
    if len(raw) > max_bytes:
        return "too_large"
    if b"\x00" in raw[:8192]:
        return "binary"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    return ""


_UTF8 = frozenset({"", "utf-8", "utf8", "ascii", "us-ascii"})


def to_utf8(raw: bytes, encoding: str) -> bytes | None:
    """``raw`` re-encoded from ``encoding`` to UTF-8; ``None`` when it cannot be decoded."""
    if encoding.lower() in _UTF8:
        return raw
    try:
        return raw.decode(encoding).encode("utf-8")
    except (LookupError, UnicodeDecodeError):
        return None


def document_language(given: str, path: str) -> str:
    """The language a document is lexed with and stored under: the one its source gives (The Stack's
    ``language`` column, a JSONL record's ``language``), else the one its path's extension tells; spelled
    as the lexer's profile (:func:`whence.index.lexer.canonical_language`) when it has one.  Search lexes
    the document with the stored name again, so both always agree."""
    if given:
        return lexer.canonical_language(given) or given
    return lexer.language_for_path(path) or ""


def _read(src: SourceFile, max_bytes: int) -> tuple[_Prepared, bytes]:
    """Read, decode and validate one file: ``(skipped, b"")`` or ``(prepared with its hash, text)``."""
    if src.skip:
        return _Prepared(skipped=src.skip), b""
    fetched = src.fetched
    try:
        loaded = src.load()
    except SkipFile as exc:
        return _Prepared(skipped=exc.reason), b""
    except MissingBlob:
        return _Prepared(skipped="missing_blob", fetched=fetched), b""
    except CorruptBlob:
        return _Prepared(skipped="undecodable", fetched=fetched), b""
    except OSError:
        return _Prepared(skipped="unreadable", fetched=fetched), b""
    raw = to_utf8(loaded, src.encoding)
    if raw is None:
        return _Prepared(skipped="undecodable", fetched=fetched), b""
    reason = check_text(raw, max_bytes)
    if reason:
        return _Prepared(skipped=reason, fetched=fetched), b""
    digest = xxhash.xxh3_128_digest(raw)
    read = _Prepared(known=(digest, src.occurrence), nbytes=len(raw), fetched=fetched, blob_id=src.blob_id)
    return read, raw


def prepare(src: SourceFile, known: set[bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> _Prepared:
    """Read, validate, hash and fingerprint one file; a content ``known`` holds only gains its
    occurrence.  (:func:`build` does the same in two steps, looking the hashes of a batch up at once.)"""
    out, raw = _read(src, max_bytes)
    if out.known is None or out.known[0] in known:
        return out
    return fingerprinted(src, out, raw)


def fingerprinted(src: SourceFile, read: _Prepared, raw: bytes) -> _Prepared:
    """The document of a file read by :func:`_read` whose content is new."""
    assert read.known is not None
    digest = read.known[0]
    language = document_language(src.language, src.occurrence.path)
    f = fp.index_fingerprint(raw, language)
    doc = IndexedDoc(
        content_hash=digest,
        text_z=codec.compressor().compress(raw),
        length_bytes=len(raw),
        hashes=f.hashes,
        bands=f.bands(),
        signature=fp.pack_signature(f.signature),
        lines=raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1),
        tokens=f.tokens,
        language=language,
        blob_id=src.blob_id,
        occurrences=[src.occurrence],
    )
    return _Prepared(doc=doc, nbytes=len(raw), fetched=read.fetched, blob_id=read.blob_id)


def _batches(files: Iterator[SourceFile], size: int) -> Iterator[list[SourceFile]]:
    batch: list[SourceFile] = []
    for f in files:
        batch.append(f)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def build(
    store: Store,
    files: Iterator[SourceFile],
    *,
    workers: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    batch_files: int = BATCH_FILES,
    commit_every: int | None = None,
    progress: Callable[[BuildReport], None] | None = None,
    optimize: bool = True,
) -> BuildReport:
    """Index ``files`` into ``store``; returns what was done.

    Args:
        store: an open, writable store.
        files: the files, e.g. from :func:`sources`.
        workers: fingerprinting threads (default: one per core).
        max_bytes: larger files are skipped as ``too_large``.
        batch_files: files handed to a worker at a time.
        commit_every: postings buffered before the store commits (default: the store's own).
        progress: called with the running report after every batch (and while the closing merge runs).
        optimize: end with :meth:`Store.optimize` (the merge for search).  A build that is one of several
            writing one index at once (a Spark job's partitions, ``--worker i/N`` jobs) leaves it to
            whoever knows that every part is done.
    """
    workers = max(1, workers or os.cpu_count() or 1)
    report = BuildReport()
    start = time.perf_counter()
    # Up to 2 x RECENT_KEYS keys (about 25 MB) for a store whose lookups lag its writes; none for one
    # whose lookups see them (SQLite).
    recent = _Recent(0 if store.lookups_see_own_writes else RECENT_KEYS)
    lock = threading.Lock()  # the store's connection: the writer's writes and the workers' lookups
    # A store whose lookups may run beside a write lets the workers fingerprint while a batch is written.
    lookup: contextlib.AbstractContextManager[object] = (
        contextlib.nullcontext() if store.concurrent_lookups else lock
    )
    blocked = OptOuts(store.optouts())  # repositories, and owners (owner/*)
    stop = threading.Event()  # set when the build fails: running batches give up at their next file

    def work(batch: list[SourceFile], blobs: dict[str, bytes]) -> list[_Prepared]:
        out: list[_Prepared] = []
        texts: list[tuple[int, SourceFile, bytes]] = []
        for s in batch:
            if stop.is_set():
                return out
            if s.occurrence.repo in blocked:
                out.append(_Prepared(skipped="opted_out"))
                continue
            held = blobs.get(s.blob_id) if s.fetched and not s.skip else None
            if held is not None:  # known by its blob id: not fetched
                out.append(_Prepared(known=(held, s.occurrence), blob_known=True, blob_id=s.blob_id))
                continue
            read, raw = _read(s, max_bytes)
            out.append(read)
            if read.known is not None and recent.get(read.known[0]) is None:
                texts.append((len(out) - 1, s, raw))
        if texts:
            with lookup:
                stored = store.known([out[i].known[0] for i, _, _ in texts])  # type: ignore[index]
            for i, s, raw in texts:
                if stop.is_set():
                    break
                digest = out[i].known[0]  # type: ignore[index]
                if digest not in stored and recent.get(digest) is None:
                    out[i] = fingerprinted(s, out[i], raw)
        return out

    def blob_lookup(batch: list[SourceFile]) -> dict[str, bytes]:
        """The batch's rows whose blob the index holds (blob id -> content hash)."""
        found: dict[str, bytes] = {}
        ask = []
        for s in batch:
            if s.fetched and not s.skip and s.blob_id:
                held = recent.get(("blob", s.blob_id))
                if held is not None:
                    found[s.blob_id] = held
                else:
                    ask.append(s.blob_id)
        if ask:
            with lookup:
                found.update(store.known_blobs(ask))
        return found

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whence-fp")
    pending: deque[Future[list[_Prepared]]] = deque()
    # Writes are one session: flushed when every batch is written; a failure leaves only what the store
    # committed on its own (a run again finishes the build).
    with store.writer(commit_every) as w:
        try:
            it = _batches(files, batch_files)
            exhausted = False
            while True:
                while not exhausted and len(pending) < workers * 2:
                    nxt = next(it, None)
                    if nxt is None:
                        exhausted = True
                        break
                    pending.append(pool.submit(work, nxt, blob_lookup(nxt)))
                if not pending:
                    break
                results = pending.popleft().result()
                with lock:
                    _write(w, results, report, recent)
                report.seconds = time.perf_counter() - start
                if progress is not None:
                    progress(report)
        except BaseException as exc:
            # Stop quickly (a blob store that went away must not be retried file by file): queued batches
            # are cancelled, running ones stop at their next file.  Nothing of theirs is written.
            stop.set()
            for f in pending:
                f.cancel()
            if isinstance(exc, StoreUnavailable) and _RESUME not in str(exc):
                # A lookup failed (a write says so itself): what was committed is kept all the same.
                raise StoreUnavailable(f"{exc}; batches written before are kept: {_RESUME}") from exc
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def merging(left: int) -> None:  # the merge for search can take minutes: say so as it goes
        report.merging = left
        report.seconds = time.perf_counter() - start
        if progress is not None:
            progress(report)

    if optimize:
        store.optimize(progress=merging)
    report.merging = None
    report.seconds = time.perf_counter() - start
    return report


def _write(w: StoreWriter, results: list[_Prepared], report: BuildReport, recent: _Recent) -> None:
    docs: list[IndexedDoc] = []
    seen: dict[bytes, IndexedDoc] = {}
    occs: list[tuple[bytes, Occurrence]] = []
    for r in results:
        report.files += 1
        report.bytes += r.nbytes
        report.fetched += r.fetched
        report.known_blobs += r.blob_known
        if r.skipped:
            report.skipped[r.skipped] += 1
        elif r.doc is not None:
            first = seen.get(r.doc.content_hash)
            if first is None:
                seen[r.doc.content_hash] = r.doc
                docs.append(r.doc)
            else:  # the same content twice in one batch
                first.occurrences.extend(r.doc.occurrences)
                report.duplicates += 1
        elif r.known is not None:
            occs.append(r.known)
            report.duplicates += 1
    if docs:
        res = w.add(docs)
        report.documents += res.documents
        report.occurrences += res.occurrences
        report.duplicates += len(docs) - res.documents
        for d in docs:
            recent.add(d.content_hash, d.content_hash)
            if d.blob_id:
                recent.add(("blob", d.blob_id), d.content_hash)
    if occs:
        report.occurrences += w.add_occurrences(occs)
