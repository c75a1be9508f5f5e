"""The embedded default store: one SQLite file, no server.

Layout (format version in ``meta``)::

    documents(id, content_hash UNIQUE, blob_id, language, length_bytes, lines, tokens, signature)
    occurrences(id, doc, repo, path, revision, licenses JSON, url, UNIQUE(doc, repo, path, revision))
    texts(doc PRIMARY KEY, z)                       -- zstd-compressed content, for line alignment
    segments(id, pairs, first, last, filters)       -- posting segments, their block directories and
                                                       each block's Bloom filter (NULL: written before)
    blocks(id = segment << 32 | block, data)        -- sorted (hash, doc) pairs, see segments.py
    bands(key, doc) PRIMARY KEY WITHOUT ROWID       -- MinHash LSH band keys -> documents
    optouts(repo PRIMARY KEY NOCASE, added)         -- repositories kept out of the index
    removed(doc PRIMARY KEY)                        -- documents deleted while postings still name them

Why this shape: the inverted index holds only (hash, document) pairs -- no line numbers -- because
search re-tokenises the few candidate documents it aligns (the compiled lexer does a 10 kB file in
tens of microseconds), which also gives token-exact spans rather than fingerprint-granular ones.  The
pairs live in immutable sorted segments (:mod:`.segments`) rather than one row each: that is what makes
a build fast.

Durability: :meth:`SQLiteStore.add` writes into an open transaction; :meth:`SQLiteStore.flush` (called
automatically every ``FLUSH_PAIRS`` postings and at the end of a build) writes the buffered postings
as a segment and commits, so documents and their postings become visible together.  Documents are
keyed by their content hash, so a build killed at any point and run again converges to exactly the
index of a clean build.

Opt-out: :meth:`SQLiteStore.add_optout` deletes a repository's occurrences, and every document left
without one (its text and band keys with it), in one transaction.  Posting segments are immutable, so
the deleted ids go into ``removed``: :meth:`postings` drops them, the next merge of a segment drops
their pairs, and a full merge empties ``removed``.  Document ids are assigned explicitly, above every
id still named in ``removed``, so a later document can never inherit a deleted one's postings.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import xxhash
import zstandard

from whence.errors import IndexCorrupt, IndexFormatError, IndexNotFound, StoreUnavailable

from .. import failpoints
from .. import fingerprint as fp
from ..model import OWNER_WILDCARD, IndexedDoc, Occurrence, StoredDoc
from . import codec
from . import segments as seg
from .base import Fetched, OwnerRepo, OwnerRepos, Postings, RepoFile, RepoFiles, Store, WriteResult

SCHEMA_VERSION = 3
#: Buffered postings that trigger a segment write and a commit during a build.
FLUSH_PAIRS = 2_000_000
#: More segments than this are merged into one at the end of a build.
MAX_SEGMENTS = 8
#: The page size of a new index file.  A posting block (:data:`.segments.BLOCK` pairs of 12 bytes: 3,072
#: bytes) is one row, and SQLite fits only one such row on a 4 KiB page, a quarter of it left empty; a
#: 16 KiB page holds five.  On ``build_compare``'s 20,000 files the blocks take 91.5 MB of pages instead
#: of 114.6 MB, the file 272 MB instead of 316 MB, and the build is about a fifth faster (the kernel's
#: time grows with the bytes written: ext4 zeroing new blocks, the closing merge reading them back).
#: An index written with another page size keeps it: SQLite fixes it when the file is created.
PAGE_BYTES = 16384

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    id INTEGER PRIMARY KEY,
    content_hash BLOB NOT NULL UNIQUE,
    blob_id TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    length_bytes INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    signature BLOB
);
CREATE TABLE IF NOT EXISTS occurrences(
    id INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES documents(id),
    repo TEXT NOT NULL,
    path TEXT NOT NULL,
    revision TEXT NOT NULL DEFAULT '',
    licenses TEXT NOT NULL DEFAULT '[]',
    url TEXT NOT NULL DEFAULT '',
    dataset TEXT,
    UNIQUE(doc, repo, path, revision)
);
CREATE INDEX IF NOT EXISTS occurrences_repo ON occurrences(repo);
CREATE TABLE IF NOT EXISTS texts(doc INTEGER PRIMARY KEY, z BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS segments(id INTEGER PRIMARY KEY, pairs INTEGER NOT NULL,
    first BLOB NOT NULL, last BLOB NOT NULL, filters BLOB);
CREATE TABLE IF NOT EXISTS blocks(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bands(key INTEGER NOT NULL, doc INTEGER NOT NULL,
    PRIMARY KEY(key, doc)) WITHOUT ROWID;
"""
# Tables a format-3 index may lack (the format allows them to be absent): created on open by writers, so
# such an index gains them; a reader of one without them sees no opt-outs.
_OPTOUT_SCHEMA = """
CREATE TABLE IF NOT EXISTS optouts(repo TEXT PRIMARY KEY COLLATE NOCASE, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS removed(doc INTEGER PRIMARY KEY);
CREATE INDEX IF NOT EXISTS documents_blob ON documents(blob_id) WHERE blob_id != '';
CREATE TABLE IF NOT EXISTS sources(location TEXT PRIMARY KEY, dataset TEXT NOT NULL, record TEXT NOT NULL);
"""

# Parameters an index was built with: searching it with others would silently miss matches.
_PARAMS = {"schema": str(SCHEMA_VERSION), **codec.FINGERPRINT_PARAMS}
_CHUNK = 900  # host parameters per IN (...) list, below SQLite's default limit
#: Address space SQLite may map for reading (SQLite caps it at its compile-time maximum).
MMAP_BYTES = 1 << 34
#: A build that wrote at least this share of the postings merges all segments at its end (optimize()).
OPTIMIZE_SHARE = 0.1
#: ... and has left at least this many segments (two cost a search little; five cost it 40%).
OPTIMIZE_SEGMENTS = 3
#: Pairs merged at a time when segments are merged (bounds the merge's memory: ~50 bytes per pair).
MERGE_WINDOW = 1 << 20
#: Problems :meth:`SQLiteStore.check` lists at most (the count of the rest is given).
CHECK_LIMIT = 50

_F = TypeVar("_F", bound=Callable[..., Any])


#: Free bytes below which an I/O error of SQLite's is taken for a full disk (it reports the ENOSPC of
#: growing its ``-shm`` or ``-wal`` as SQLITE_IOERR_..., "disk I/O error", without the errno).
NEARLY_FULL = 1 << 20


def _is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """Whether a write failed for want of space: SQLite's SQLITE_FULL, ENOSPC from the OS, or an I/O
    error of SQLite's while the disk holding ``folder`` has (almost) no space left."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or "database or disk is full" in str(exc):
        return True
    if folder is not None and name.startswith("SQLITE_IOERR"):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free < NEARLY_FULL
    return False


def _is_readonly_place(exc: sqlite3.Error) -> bool:
    """Whether SQLite could not open or write the file because its place is read-only."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY"))


def _is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether a SQLite error means a damaged file (not a lock, a full disk or a missing permission)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc) or "decode" in str(exc)


def _reads(method: _F) -> _F:
    """Translate what a damaged file raises in a read (SQLite's "database disk image is malformed", a
    text that zstd cannot decompress, a posting block or a license list that does not decode) into
    :class:`IndexCorrupt` naming the file and what to do; another SQLite failure (a lock, an I/O error)
    into :class:`StoreUnavailable`."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if _is_corrupt(exc):
                raise self._corrupt(exc) from exc
            raise self._write_failed(exc, f"could not read {self.path}") from exc
        except (zstandard.ZstdError, ValueError, IndexError) as exc:
            raise self._corrupt(exc) from exc

    return cast(_F, wrapper)


def tiered_choice(pairs: Sequence[int]) -> int:
    """How many of the smallest segments (their ``pairs``, ascending) a tiered merge takes: at least two
    and enough to leave at most :data:`MAX_SEGMENTS`, then one more for as long as the next segment is no
    larger than those taken together.  A segment is rewritten only once what merges into it has grown to
    its size, so a posting is rewritten about log2(index / :data:`FLUSH_PAIRS`) times over a build.
    (Merging down to a fixed count instead rewrote a quarter of the index every few commits: at 400
    commits each posting had been written 11 times, and the build's rate fell as the index grew.)"""
    k = min(len(pairs), max(2, len(pairs) - MAX_SEGMENTS + 1))
    while k < len(pairs) and pairs[k] <= sum(pairs[:k]):
        k += 1
    return k


class _SegmentWriter:
    """Appends sorted pairs to a new segment, block by block (inside the caller's transaction).

    The segment's directory is written into its row as its blocks are (SQLite's incremental blob I/O
    into a row sized for ``max_pairs`` up front), never gathered in memory: a merge of the whole index
    holds one window of it, where gathering, joining, converting and copying it to bytes held five to
    six copies of 16 bytes per block (18 MB at a million documents) when the segment closed."""

    def __init__(self, db: sqlite3.Connection, max_pairs: int) -> None:
        self.db = db
        self.capacity = -(-max_pairs // seg.BLOCK)  # blocks the directory has room for
        room = 8 * self.capacity
        self.segment = int(
            db.execute(
                "INSERT INTO segments(pairs, first, last, filters)"
                " VALUES (0, zeroblob(?), zeroblob(?), zeroblob(?))",
                (room, room, seg.FILTER_BYTES * self.capacity),
            ).lastrowid
            or 0
        )
        self.pairs = 0
        self.blocks = 0
        self.rest_h = np.zeros(0, dtype=np.int64)
        self.rest_d = np.zeros(0, dtype=np.uint32)

    def write(self, hashes: npt.NDArray[np.int64], docs: npt.NDArray[np.uint32], final: bool = False) -> None:
        """Append pairs that sort after everything written so far."""
        h = np.concatenate([self.rest_h, hashes])
        d = np.concatenate([self.rest_d, docs.astype(np.uint32)])
        full = len(h) if final else len(h) // seg.BLOCK * seg.BLOCK
        if full:
            blobs, first, last = seg.encode_blocks(h[:full], d[:full])
            if self.blocks + len(blobs) > self.capacity:
                raise ValueError(
                    f"segment {self.segment}: more pairs than the {self.capacity} blocks it was sized for"
                )
            base = self.segment << 32
            self.db.executemany(
                "INSERT INTO blocks(id, data) VALUES (?, ?)",
                ((base | (self.blocks + i), b) for i, b in enumerate(blobs)),
            )
            for column, data, width in (
                ("first", first.astype("<i8", copy=False).tobytes(), 8),
                ("last", last.astype("<i8", copy=False).tobytes(), 8),
                ("filters", seg.encode_filters(h[:full]), seg.FILTER_BYTES),
            ):
                with self.db.blobopen("segments", column, self.segment) as blob:
                    blob.seek(width * self.blocks)
                    blob.write(data)
            self.blocks += len(blobs)
            self.pairs += full
        self.rest_h, self.rest_d = h[full:], d[full:]

    def close(self) -> None:
        """Write the last, short block and the segment's pair count (or drop an empty segment)."""
        self.write(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32), final=True)
        if not self.pairs:
            self.db.execute("DELETE FROM segments WHERE id = ?", (self.segment,))
            return
        if self.blocks < self.capacity:  # a merge that dropped pairs (removed documents): cut the room left
            room = 8 * self.blocks
            self.db.execute(
                "UPDATE segments SET first = substr(first, 1, ?), last = substr(last, 1, ?),"
                " filters = substr(filters, 1, ?) WHERE id = ?",
                (room, room, seg.FILTER_BYTES * self.blocks, self.segment),
            )
        self.db.execute("UPDATE segments SET pairs = ? WHERE id = ?", (self.pairs, self.segment))


def _directory(sid: int, first: bytes, last: bytes, filters: bytes | None) -> seg.Directory:
    """A segment's in-memory directory; its block filters only when there is one per block (a segment
    written before filters has none, and a damaged one is not trusted: every block it names is read, and
    ``whence index check`` reports it)."""
    f = np.frombuffer(first, dtype="<i8")
    blocks = None
    if filters is not None and len(filters) == seg.FILTER_BYTES * len(f):
        blocks = np.frombuffer(filters, dtype=np.uint8).reshape(len(f), seg.FILTER_BYTES)
    return seg.Directory(sid, f, np.frombuffer(last, dtype="<i8"), blocks)


class SQLiteStore(Store):
    """A whence index in one SQLite file.

    Args:
        path: the index file.
        create: create it if missing (for building); otherwise a missing file raises
            :class:`IndexNotFound`.
        readonly: open without write access (search).
    """

    lookups_see_own_writes = True  # one connection: lookups read the open write transaction

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False, readonly: bool = False) -> None:
        self.path = Path(path)
        self._readonly = readonly
        new = not self.path.exists()
        if new:
            if not create:
                raise IndexNotFound(
                    f"no index at {self.path}: build one with `whence index build SOURCE --index {self.path}`"
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the folder {self.path.parent} for the index {self.path}:"
                    f" {exc.strerror or exc} (choose a folder you can write to with --index)"
                ) from exc
        if self.path.is_dir():
            raise IndexFormatError(f"{self.path} is a directory, not a whence index file")
        self._lock = None if readonly else self._take_write_lock()
        try:
            self._open(create)
        except BaseException as exc:
            self._release_write_lock()
            if (
                new
                and isinstance(exc, StoreUnavailable)
                and _is_disk_full(exc.__cause__ or exc, self.path.parent)
            ):
                # The disk filled while the schema was being written: a file with no committed schema
                # would only say "not a whence index" later, so the half-made file goes.
                for leftover in ("", "-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.unlink(f"{self.path}{leftover}")
            raise

    def _take_write_lock(self) -> int:
        """Lock ``<index>-lock`` (``flock``, exclusive, held until :meth:`close`) and write this process's
        pid in it: one writer at a time.  A second writer (a build, an opt-out) fails at once naming the
        holder rather than wait on SQLite's lock mid-build (``database is locked``, whatever the busy
        timeout: a writer that already read cannot wait for another's commit).  Readers take no lock.
        The file stays: unlinking it could let two writers lock two different files."""
        lock = self.path.with_name(self.path.name + "-lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise StoreUnavailable(
                    f"cannot write to {self.path}: its folder {lock.parent} is not writable"
                    f" ({exc.strerror}; the writer's lock file {lock.name} could not be created)"
                ) from exc
            raise self._write_failed(exc, f"could not create the writer's lock file {lock}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                raise StoreUnavailable(
                    f"another whence process (pid {holder}) is writing to {self.path} (it holds {lock}):"
                    " wait for it to finish, or stop it, then run this again"
                ) from exc
            raise StoreUnavailable(f"could not lock {lock}: {exc}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _release_write_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def _open(self, create: bool) -> None:
        readonly = self._readonly
        try:
            if readonly:
                uri = f"file:{quote(str(self.path))}?mode=ro" + ("&immutable=1" if self._immutable() else "")
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.isolation_level = None  # transactions are explicit: see add() and flush()
            self._db.execute("PRAGMA busy_timeout=30000")
            if readonly:
                # Searches read through a memory map: posting blocks come straight from the OS page cache
                # instead of a read() and a copy per page (block fetches 3x faster on a 100,000-file
                # index).  Builds do not: the mapped pages a merge touches would count as the build's
                # memory (RSS), though the OS can drop them at will.
                self._db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._buf_hashes: list[npt.NDArray[np.int64]] = []
            self._buf_docs: list[npt.NDArray[np.uint32]] = []
            self._buf_pairs = 0
            self._buf_bands: list[
                tuple[int, int]
            ] = []  # written sorted with each segment (see _write_segment)
            self._dirs: list[seg.Directory] | None = None
            self._count: int | None = None
            self._removed: npt.NDArray[np.int64] | None = None
            self._next_id: int | None = None
            self._pairs_written = 0  # postings this handle wrote (see optimize)
            self._version = -1
            self.flush_pairs = FLUSH_PAIRS
            self._check_or_init(create and not readonly)
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self._db.close()
            if _is_disk_full(exc, self.path.parent):
                raise self._write_failed(exc) from exc
            if _is_readonly_place(exc) and os.path.exists(self.path):
                raise self._readonly_place(exc) from exc
            if _is_corrupt(exc) and getattr(exc, "sqlite_errorname", "") != "SQLITE_NOTADB":
                raise self._corrupt(exc) from exc
            raise IndexFormatError(f"{self.path} is not a whence index ({exc})") from exc

    def _immutable(self) -> bool:
        """Whether to open read-only with SQLite's ``immutable=1``: when the folder is not writable and
        there is no write-ahead log to read.  SQLite opens a WAL-mode file, even with ``mode=ro``, by
        creating its ``-shm`` (and ``-wal``) beside it, which a read-only place refuses ("unable to open
        database file").  ``immutable=1`` reads the file alone, without locks or change detection: safe
        because nobody can write in that folder (a writer would need the ``-wal`` there too), at the cost
        that a file changed behind the reader's back (by root, or after a remount) is not noticed."""
        wal = Path(f"{self.path}-wal")
        has_log = wal.exists() and wal.stat().st_size > 0
        return not has_log and not os.access(self.path.parent, os.W_OK)

    def _readonly_place(self, exc: sqlite3.Error) -> StoreUnavailable:
        folder = self.path.parent
        if not os.access(folder, os.W_OK):
            if self._readonly:
                return StoreUnavailable(
                    f"cannot read {self.path} ({exc}): its folder {folder} is not writable and it has an"
                    f" unfinished write-ahead log ({self.path.name}-wal) that SQLite must open beside it;"
                    " open it once where its folder is writable (the log is then folded into the file),"
                    " or copy the index with its -wal file to a writable folder"
                )
            return StoreUnavailable(
                f"cannot write to {self.path}: its folder {folder} is not writable ({exc})"
            )
        if not os.access(self.path, os.W_OK) and not self._readonly:
            return StoreUnavailable(f"cannot write to {self.path}: the file is read-only ({exc})")
        return StoreUnavailable(f"cannot open {self.path}: {exc}")

    def _write_failed(self, exc: BaseException, what: str = "") -> StoreUnavailable:
        """A write that failed, as :class:`StoreUnavailable` naming the cause: a full disk, a read-only
        place, or what SQLite said."""
        what = what or f"could not write to {self.path}"
        if _is_disk_full(exc, self.path.parent):
            return StoreUnavailable(
                f"the disk is full: {what} ({exc}); free space on the disk holding {self.path.parent}"
                " and run the command again (what was committed before is kept, and a build resumes)"
            )
        if isinstance(exc, sqlite3.Error) and _is_readonly_place(exc):
            return self._readonly_place(exc)
        return StoreUnavailable(f"{what}: {exc}")

    def _corrupt(self, exc: BaseException) -> IndexCorrupt:
        what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, sqlite3.Error) else str(exc)
        return IndexCorrupt(
            f"the index {self.path} is damaged ({what}): run `whence index check --index {self.path}`"
            " to see what is wrong, then restore the file from a copy or build the index again into a new"
            " file (`whence index build SOURCE... --index NEW_FILE`)"
        )

    def _check_or_init(self, create: bool) -> None:
        db = self._db
        has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            nonempty = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if not create or nonempty:
                raise IndexFormatError(f"{self.path} is not a whence index (no meta table)")
            db.execute(f"PRAGMA page_size={PAGE_BYTES}")  # before WAL: fixed from the first write
            db.execute("PRAGMA journal_mode=WAL")
            # One write transaction, the check for a schema repeated inside it: a new index is created
            # whole or not at all, once, even by two processes at once (one that takes no writer's lock).
            db.execute("BEGIN IMMEDIATE")
            try:
                if not db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
                ).fetchone():
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.executemany("INSERT INTO meta VALUES (?, ?)", _PARAMS.items())
                db.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk): a second ROLLBACK would
                # raise "no transaction is active" and hide the real cause.
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        codec.check_params(meta, _PARAMS, str(self.path), "rebuild the index")
        if not self._readonly:
            db.executescript(_OPTOUT_SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(occurrences)")}
            if "dataset" not in columns:  # an index written before datasets were recorded
                db.execute("ALTER TABLE occurrences ADD COLUMN dataset TEXT")
            if not self._has_filters():  # written before blocks had filters: new segments get them
                with contextlib.suppress(sqlite3.OperationalError):  # another writer added it first
                    db.execute("ALTER TABLE segments ADD COLUMN filters BLOB")
        if create:
            db.execute("PRAGMA synchronous=NORMAL")
            # A 64 MiB page cache: builds write append-mostly, and a bigger cache only raised the peak RSS
            # (256 MiB cost 225 MB more at 100k files for no measurable speed).
            db.execute("PRAGMA cache_size=-65536")

    # -- writing -----------------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._next_id = None  # another writer may have added documents since our last transaction

    def _new_id(self) -> int:
        """The next document id: above every stored id and every removed one still in postings."""
        if self._next_id is None:
            row = self._db.execute(
                "SELECT max(coalesce((SELECT max(id) FROM documents), 0),"
                " coalesce((SELECT max(doc) FROM removed), 0))"
            ).fetchone()
            self._next_id = int(row[0]) + 1
        return self._next_id

    def add(self, docs: Sequence[IndexedDoc]) -> WriteResult:
        new_docs = 0
        new_occ = 0
        db = self._db
        self._count = None
        try:
            self._begin()
            band_rows: list[tuple[int, int]] = []
            text_rows: list[tuple[int, bytes]] = []
            occ_rows: list[tuple[int, Occurrence]] = []
            # All documents in one statement, with ids assigned in order; a content another writer
            # stored meanwhile is skipped by ON CONFLICT, and only then are ids looked up one by one.
            first = self._new_id()
            ids = list(range(first, first + len(docs)))
            cur = db.executemany(
                "INSERT INTO documents(id, content_hash, blob_id, language, length_bytes, lines, tokens,"
                " signature) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(content_hash) DO NOTHING",
                [(i, d.content_hash, d.blob_id, d.language, d.length_bytes, d.lines, d.tokens, d.signature)
                 for i, d in zip(ids, docs, strict=True)],
            )  # fmt: skip
            if docs:
                self._next_id = ids[-1] + 1
            inserted = set(ids) if cur.rowcount == len(docs) else {
                r[0] for r in self._select_in("SELECT id FROM documents WHERE id IN ({marks})", ids)
            }  # fmt: skip
            for doc_id, d in zip(ids, docs, strict=True):
                if doc_id in inserted:
                    new_docs += 1
                    text_rows.append((doc_id, d.text_z))
                    if len(d.hashes):
                        self._buf_hashes.append(d.hashes)
                        self._buf_docs.append(np.full(len(d.hashes), doc_id, dtype=np.uint32))
                        self._buf_pairs += len(d.hashes)
                    band_rows.extend((k, doc_id) for k in d.bands)
                else:
                    row = db.execute(
                        "SELECT id FROM documents WHERE content_hash=?", (d.content_hash,)
                    ).fetchone()
                    doc_id = row[0]
                occ_rows.extend((doc_id, o) for o in d.occurrences)
            # One statement per table, not per row: sqlite3's per-call overhead was a quarter of the
            # writer thread's time.
            db.executemany("INSERT INTO texts(doc, z) VALUES (?, ?)", text_rows)
            new_occ = self._insert_occurrences(occ_rows)
            self._buf_bands.extend(band_rows)
            if self._buf_pairs >= self.flush_pairs:
                self._commit()
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc
        return WriteResult(new_docs, new_occ)

    def _insert_occurrences(self, rows: Iterable[tuple[int, Occurrence]]) -> int:
        """Insert (document id, occurrence) rows; returns how many were new."""
        cur = self._db.executemany(
            "INSERT OR IGNORE INTO occurrences(doc, repo, path, revision, licenses, url, dataset)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                (d, o.repo, o.path, o.revision, json.dumps(list(o.licenses)), o.url, o.dataset)
                for d, o in rows
            ),
        )
        return max(cur.rowcount, 0)

    def add_occurrences(self, pairs: Sequence[tuple[bytes, Occurrence]]) -> int:
        try:
            self._begin()
            rows: list[tuple[int, Occurrence]] = []
            for content_hash, occ in pairs:
                row = self._db.execute(
                    "SELECT id FROM documents WHERE content_hash=?", (content_hash,)
                ).fetchone()
                if row is None:
                    raise StoreUnavailable("occurrence for a content that is not stored")
                rows.append((row[0], occ))
            n = self._insert_occurrences(rows)
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc
        return n

    def _write_segment(self) -> None:
        """Write the buffered postings as one segment, and the buffered band keys (inside the open
        transaction).  Band keys go in sorted: in key order the B-tree is filled page after page,
        where the same rows in document order would touch a random page each once it outgrows the cache."""
        if self._buf_bands:
            self._buf_bands.sort()
            self._db.executemany("INSERT OR IGNORE INTO bands(key, doc) VALUES (?, ?)", self._buf_bands)
            self._buf_bands = []
        if not self._buf_pairs:
            return
        hashes, docs = seg.sort_pairs(np.concatenate(self._buf_hashes), np.concatenate(self._buf_docs))
        self._store_segment(hashes, docs)
        self._buf_hashes, self._buf_docs, self._buf_pairs = [], [], 0

    def _store_segment(self, hashes: npt.NDArray[np.int64], docs: npt.NDArray[np.uint32]) -> None:
        writer = _SegmentWriter(self._db, len(hashes))
        writer.write(hashes, docs)
        writer.close()
        self._pairs_written += len(hashes)
        self._dirs = None
        self._count = None

    def flush(self) -> None:
        """Make everything added so far durable and searchable; merge segments if there are too many."""
        try:
            self._begin()
            self._commit()
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc

    def _commit(self) -> None:
        """Write the buffered postings as a segment, commit, and merge segments if there are too many."""
        self._write_segment()
        failpoints.reached("before-commit")  # crash tests stop a build at these two (WHENCE_FAILPOINT)
        self._db.execute("COMMIT")
        if self._db.execute("SELECT count(*) FROM segments").fetchone()[0] > MAX_SEGMENTS:
            self.compact(tiered=True)
        failpoints.reached("after-commit")

    def optimize(
        self,
        *,
        force: bool = False,
        added: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> bool:
        """After a build that wrote at least :data:`OPTIMIZE_SHARE` of the postings and left at least
        :data:`OPTIMIZE_SEGMENTS` segments (or with ``force``, whenever there are two or more): merge
        every segment into one, so that a lookup reads one block per hash instead of one per segment
        (p50 search latency 11.4 -> 8 ms on a 100,000-file index of 5 segments).  Smaller, incremental
        builds keep the tiered segments (rewriting a big index for a few files would cost more than it
        saves).  ``force`` also rewrites a lone segment written before blocks had filters (see
        :mod:`.segments`), which gives it them.  ``added`` is not needed: every write of a build goes
        through this handle."""
        total, count = self._db.execute("SELECT coalesce(sum(pairs), 0), count(*) FROM segments").fetchone()
        due = count >= OPTIMIZE_SEGMENTS and self._pairs_written >= OPTIMIZE_SHARE * total
        self._pairs_written = 0
        if not (due or (force and (count > 1 or self._unfiltered()))):
            return False
        if progress is not None:
            progress(count)
        try:
            self.compact()
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc
        return True

    def compact(self, *, tiered: bool = False) -> None:
        """Merge posting segments (one transaction), streaming: memory stays bounded however big they are.

        Args:
            tiered: merge only the smallest segments (:func:`tiered_choice`): a big segment is rewritten
                only when the small ones have grown comparable to it, so incremental builds do not
                rewrite the whole index each time.  Otherwise merge all.

        The merge walks the hash space in windows of about :data:`MERGE_WINDOW` pairs (window bounds
        from the block directories): each window reads only the blocks that overlap it, from every
        segment, merges them and appends the result to the new segment's blocks.
        """
        db = self._db
        self._begin()
        rows = db.execute("SELECT id, pairs FROM segments ORDER BY pairs, id").fetchall()
        chosen = rows[: tiered_choice([pairs for _, pairs in rows])] if tiered else rows
        removed = self._removed_ids()
        alone = len(chosen) == 1 and not tiered  # rewritten to drop removed documents or to add filters
        if len(chosen) < 2 and not (alone and (len(removed) or self._unfiltered())):
            db.execute("COMMIT")
            return
        dirs = [  # the directories of the merged segments only
            seg.Directory(sid, np.frombuffer(f, dtype="<i8"), np.frombuffer(la, dtype="<i8"))
            for sid, _ in chosen
            for f, la in db.execute("SELECT first, last FROM segments WHERE id = ?", (sid,))
        ]
        # Window bounds: every segment's first hash every ``every`` blocks, so that a window overlaps at
        # most ``every + 1`` blocks of each segment (about MERGE_WINDOW pairs in all), sampled without
        # sorting a copy of every directory.
        every = max(1, MERGE_WINDOW // seg.BLOCK // len(dirs))
        samples = np.concatenate([d.first[every::every] for d in dirs])
        bounds: list[int | None] = [int(b) for b in seg.sorted_unique(samples)]
        writer = _SegmentWriter(db, sum(pairs for _, pairs in chosen))
        for lo, hi in zip([None, *bounds], [*bounds, None], strict=True):
            runs = []
            for d in dirs:
                start = 0 if lo is None else int(np.searchsorted(d.last, lo, side="left"))
                end = len(d.first) if hi is None else int(np.searchsorted(d.first, hi, side="left"))
                if start >= end:
                    continue
                base = d.segment << 32
                span = (base | start, base | (end - 1))
                blobs = [b for (b,) in db.execute("SELECT data FROM blocks WHERE id BETWEEN ? AND ?", span)]
                h, dd = seg.decode_blocks(blobs)
                inside = np.ones(len(h), dtype=bool)
                if lo is not None:
                    inside &= h >= lo
                if hi is not None:
                    inside &= h < hi
                runs.append((h[inside], dd[inside]))
            hashes, docs = seg.merge_runs(runs)
            if len(removed):  # the pairs of documents deleted by an opt-out go for good
                live = ~np.isin(docs.astype(np.int64), removed)
                hashes, docs = hashes[live], docs[live]
            writer.write(hashes, docs)
        for d in dirs:
            db.execute(
                "DELETE FROM blocks WHERE id BETWEEN ? AND ?",
                (d.segment << 32, (d.segment << 32) | 0xFFFFFFFF),
            )
            db.execute("DELETE FROM segments WHERE id = ?", (d.segment,))
        writer.close()
        if len(chosen) == len(rows):  # no segment names a removed document any more
            db.execute("DELETE FROM removed")
        db.execute("COMMIT")
        self._dirs = None
        self._removed = None
        self._count = None

    def _rollback(self) -> None:
        self._buf_hashes, self._buf_docs, self._buf_pairs = [], [], 0
        self._buf_bands = []
        self._next_id = None
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    @_reads
    def known(self, content_hashes: Iterable[bytes]) -> set[bytes]:
        sql = "SELECT content_hash FROM documents WHERE content_hash IN ({marks})"
        return {bytes(r[0]) for r in self._select_in(sql, list(content_hashes))}

    @_reads
    def known_blobs(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        sql = "SELECT blob_id, content_hash FROM documents WHERE blob_id IN ({marks}) AND blob_id != ''"
        return {str(b): bytes(h) for b, h in self._select_in(sql, list(blob_ids))}

    # -- reading -----------------------------------------------------------------------------------

    def _directories(self) -> list[seg.Directory]:
        self._check_version()
        if self._dirs is None:
            filters = "filters" if self._has_filters() else "NULL"
            self._dirs = [
                _directory(sid, first, last, f)
                for sid, first, last, f in self._db.execute(
                    f"SELECT id, first, last, {filters} FROM segments ORDER BY id"
                )
            ]
        return self._dirs

    def _unfiltered(self) -> int:
        """Segments without a filter per block (written before filters existed)."""
        if not self._has_filters():
            return int(self._db.execute("SELECT count(*) FROM segments").fetchone()[0])
        sql = "SELECT count(*) FROM segments WHERE coalesce(length(filters), -1) != length(first) / 8 * ?"
        return int(self._db.execute(sql, (seg.FILTER_BYTES,)).fetchone()[0])

    def _has_filters(self) -> bool:
        """Whether the segments table has the column of block filters (an index written before them,
        opened read-only, has not)."""
        return any(r[1] == "filters" for r in self._db.execute("PRAGMA table_info(segments)"))

    @_reads
    def postings(
        self,
        hashes: npt.NDArray[np.int64],
        cap: int,
        band_keys: Sequence[int] = (),
        *,
        budget: int | None = None,
    ) -> Postings:
        # ``budget`` is applied by the caller: document frequencies are known only once blocks are read,
        # and what is read is bounded per hash (below) whatever the index's size.
        empty = np.zeros(0, dtype=np.int64)
        bands = np.array(sorted(self.band_docs(band_keys)), dtype=np.int64) if band_keys else empty
        q = seg.sorted_unique(np.asarray(hashes, dtype=np.int64))
        found_h: list[npt.NDArray[np.int64]] = []
        found_d: list[npt.NDArray[np.uint32]] = []
        certain: list[npt.NDArray[np.int64]] = []  # common for sure: their blocks are not read
        for directory in self._directories():
            many = directory.certainly_over(q, cap)
            if len(many):
                certain.append(many)
                q = q[~seg.in_sorted(many, q)]
            blocks = directory.blocks_for(q)
            if not len(blocks):
                continue
            ids = ((directory.segment << 32) | blocks).tolist()
            blobs = [b for (b,) in self._select_in("SELECT data FROM blocks WHERE id IN ({marks})", ids)]
            h, d = seg.decode_blocks(blobs)
            m = seg.in_sorted(q, h)  # ``q`` is sorted and unique
            found_h.append(h[m])
            found_d.append(d[m])
        sure = seg.sorted_unique(np.concatenate(certain)) if certain else empty
        if not found_h:
            return Postings(empty, empty, sure, bands)
        allh = np.concatenate(found_h)
        alld = np.concatenate(found_d).astype(np.int64)
        removed = self._removed_ids()
        if len(removed):
            live = ~np.isin(alld, removed)
            allh, alld = allh[live], alld[live]
        uniq, counts = np.unique(allh, return_counts=True)
        common = uniq[counts > cap]
        keep = ~seg.in_sorted(common, allh)  # ``common`` is sorted (np.unique's order)
        return Postings(allh[keep], alld[keep], np.union1d(common, sure), bands)

    def _select_in(self, sql: str, values: Sequence[object]) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (whose ``{marks}`` is an ``IN`` list) for all ``values``, in chunks.  A list, not
        a generator: a read that fails half-way (a damaged page) leaves no cursor open on the file."""
        values = list(values)
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(values), _CHUNK):
            chunk = values[i : i + _CHUNK]
            rows.extend(self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk))
        return rows

    @_reads
    def _execute_in(self, sql: str, values: Sequence[object]) -> int:
        """Run the write ``sql`` (whose ``{marks}`` is an ``IN`` list) for all ``values``, in chunks, as
        :meth:`_select_in` reads; returns the rows it changed."""
        changed = 0
        for i in range(0, len(values), _CHUNK):
            chunk = values[i : i + _CHUNK]
            changed += self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).rowcount
        return changed

    def band_docs(self, keys: Sequence[int]) -> set[int]:
        return {r[0] for r in self._select_in("SELECT doc FROM bands WHERE key IN ({marks})", keys)}

    @_reads
    def order_keys(self, ids: Sequence[int]) -> dict[int, int]:
        sql = "SELECT id, content_hash FROM documents WHERE id IN ({marks})"
        return {r[0]: int.from_bytes(bytes(r[1])[:8], "big") >> 1 for r in self._select_in(sql, ids)}

    @_reads
    def documents(self, ids: Sequence[int]) -> dict[int, StoredDoc]:
        sql = "SELECT id, blob_id, language, lines, tokens, length_bytes FROM documents WHERE id IN ({marks})"
        return {r[0]: StoredDoc(*r) for r in self._select_in(sql, ids)}

    @_reads
    def signatures(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.uint32]]:
        sql = "SELECT id, signature FROM documents WHERE id IN ({marks})"
        rows = ((r[0], fp.unpack_signature(r[1])) for r in self._select_in(sql, ids))
        return {i: sig for i, sig in rows if sig is not None}

    @_reads
    def text(self, doc_id: int) -> bytes:
        row = self._db.execute(
            "SELECT t.z, d.content_hash FROM texts t JOIN documents d ON d.id = t.doc WHERE t.doc = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return self._verified(doc_id, codec.decompressor().decompress(row[0]), row[1])

    def _verified(self, doc_id: int, raw: bytes, content_hash: bytes) -> bytes:
        """``raw``, once it matches the content hash it was stored under (zstd frames carry no checksum:
        a flipped byte inside one can decompress to a different text, which search would align)."""
        if xxhash.xxh3_128_digest(raw) != bytes(content_hash):
            raise ValueError(f"the stored text of document {doc_id} does not match its content hash")
        return raw

    @_reads
    def fetch(self, ids: Sequence[int]) -> dict[int, Fetched]:
        sql = (
            "SELECT d.id, d.blob_id, d.language, d.lines, d.tokens, d.length_bytes, t.z, d.content_hash"
            " FROM documents d JOIN texts t ON t.doc = d.id WHERE d.id IN ({marks})"
        )
        unz = codec.decompressor()
        return {
            r[0]: Fetched(StoredDoc(*r[:6]), self._verified(r[0], unz.decompress(r[6]), r[7]))
            for r in self._select_in(sql, ids)
        }

    @_reads
    def occurrences(self, ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        out: dict[int, list[Occurrence]] = {i: [] for i in ids}
        sql = (
            "SELECT doc, repo, path, licenses, revision, url FROM occurrences"
            " WHERE doc IN ({marks}) ORDER BY id"
        )
        for doc, repo, path, lic, rev, url in self._select_in(sql, ids):
            out[doc].append(Occurrence(repo, path, tuple(json.loads(lic)), rev, url))
        return out

    @_reads
    def stats(self) -> dict[str, int | float | str]:
        db = self._db
        docs = db.execute("SELECT count(*), coalesce(sum(length_bytes), 0) FROM documents").fetchone()
        occ = db.execute("SELECT count(*), count(DISTINCT repo) FROM occurrences").fetchone()
        post = db.execute("SELECT coalesce(sum(pairs), 0), count(*) FROM segments").fetchone()
        size = self.path.stat().st_size
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists():
            size += wal.stat().st_size
        return {
            "index": str(self.path),
            "store": "sqlite",
            "documents": int(docs[0]),
            "occurrences": int(occ[0]),
            "repositories": int(occ[1]),
            "source_bytes": int(docs[1]),
            "fingerprints": int(post[0]),
            "segments": int(post[1]),
            # written before posting blocks had filters: every block they name is read
            "segments_without_filters": self._unfiltered(),
            "index_bytes": size,
            "index_bytes_per_source_byte": round(size / docs[1], 3) if docs[1] else 0.0,
        }

    def set_commit_every(self, postings: int) -> None:
        if postings < 1:
            raise ValueError(f"commit_every must be at least 1, got {postings}")
        self.flush_pairs = postings

    @_reads
    def count_documents(self) -> int:
        self._check_version()
        if self._count is None:
            self._count = int(self._db.execute("SELECT count(*) FROM documents").fetchone()[0])
        return self._count

    def _check_version(self) -> None:
        """Drop cached reads when another connection has committed (a reader beside a running build)."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._version = version
            self._dirs = None
            self._count = None
            self._removed = None

    def _has_table(self, name: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return row.fetchone() is not None

    def _removed_ids(self) -> npt.NDArray[np.int64]:
        """Sorted ids of deleted documents that posting segments may still name."""
        self._check_version()
        if self._removed is None:
            rows = (
                self._db.execute("SELECT doc FROM removed").fetchall() if self._has_table("removed") else []
            )
            self._removed = np.array(sorted(r[0] for r in rows), dtype=np.int64)
        return self._removed

    @_reads
    def repository(self, repo: str, limit: int = 100, offset: int = 0) -> RepoFiles:
        db = self._db
        # The exact name uses the index; another capitalisation falls back to a scan.
        name = repo
        if db.execute("SELECT 1 FROM occurrences WHERE repo = ? LIMIT 1", (repo,)).fetchone() is None:
            row = db.execute(
                "SELECT repo FROM occurrences WHERE repo = ? COLLATE NOCASE LIMIT 1", (repo,)
            ).fetchone()
            if row is None:
                return RepoFiles(repo, 0, [], [])
            name = row[0]
        total = db.execute("SELECT count(*) FROM occurrences WHERE repo = ?", (name,)).fetchone()[0]
        licenses = sorted(
            {
                x
                for (lic,) in db.execute("SELECT DISTINCT licenses FROM occurrences WHERE repo = ?", (name,))
                for x in json.loads(lic)
            }
        )
        rows = db.execute(
            "SELECT o.path, o.licenses, o.revision, o.url, d.blob_id, d.language FROM occurrences o"
            " JOIN documents d ON d.id = o.doc WHERE o.repo = ? ORDER BY o.path, o.revision LIMIT ? OFFSET ?",
            (name, limit, offset),
        )
        files = [
            RepoFile(Occurrence(name, path, tuple(json.loads(lic)), rev, url), blob_id, language)
            for path, lic, rev, url, blob_id, language in rows
        ]
        return RepoFiles(name, int(total), files, licenses)

    @_reads
    def owner(self, owner: str, limit: int = 100, offset: int = 0) -> OwnerRepos:
        db = self._db
        like = _owner_like(owner)
        total = db.execute(
            "SELECT count(DISTINCT repo) FROM occurrences WHERE repo LIKE ? ESCAPE '\\'", (like,)
        ).fetchone()[0]
        rows = db.execute(
            "SELECT repo, count(*) FROM occurrences WHERE repo LIKE ? ESCAPE '\\'"
            " GROUP BY repo ORDER BY repo LIMIT ? OFFSET ?",
            (like, limit, offset),
        ).fetchall()
        repos = []
        for name, files in rows:
            lics = db.execute("SELECT DISTINCT licenses FROM occurrences WHERE repo = ?", (name,))
            repos.append(OwnerRepo(name, int(files), sorted({x for (lic,) in lics for x in json.loads(lic)})))
        return OwnerRepos(owner, int(total), repos)

    # -- integrity ---------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """Verify the whole file (``whence index check``): SQLite's ``PRAGMA integrity_check`` (every page,
        and every index against its table: a changed repository name or path shows up there), every
        stored text decompressed and compared with its content hash and length, every posting block
        decoded and checked against its segment's directory (sorted, inside its first and last hash,
        the segment's pair count, only known documents).

        Returns counts (``documents``, ``texts``, ``segments``, ``blocks``) and ``problems``: at most
        :data:`CHECK_LIMIT` lines, then how many more; empty when the index is sound.
        """
        problems: list[str] = []
        more = 0

        def problem(text: str) -> None:
            nonlocal more
            if len(problems) < CHECK_LIMIT:
                problems.append(text)
            else:
                more += 1

        db = self._db
        counts = {"documents": 0, "texts": 0, "segments": 0, "blocks": 0}
        try:
            rows = [r[0] for r in db.execute(f"PRAGMA integrity_check({CHECK_LIMIT})")]
        except sqlite3.Error as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            for r in rows:
                problem(f"database: {r}")
        known: set[int] = set()
        try:
            unz = codec.decompressor()
            sql = (
                "SELECT d.id, d.content_hash, d.length_bytes, t.z FROM documents d"
                " LEFT JOIN texts t ON t.doc = d.id ORDER BY d.id"
            )
            for doc, content_hash, length, z in db.execute(sql):
                counts["documents"] += 1
                known.add(doc)
                if z is None:
                    problem(f"document {doc}: no stored text")
                    continue
                try:
                    raw = unz.decompress(z)
                except zstandard.ZstdError as exc:
                    problem(f"document {doc}: the stored text does not decompress ({exc})")
                    continue
                counts["texts"] += 1
                if len(raw) != length or xxhash.xxh3_128_digest(raw) != bytes(content_hash):
                    problem(f"document {doc}: the stored text does not match its content hash")
            if self._has_table("removed"):  # deleted documents that segments may still name
                known.update(r[0] for r in db.execute("SELECT doc FROM removed"))
        except sqlite3.Error as exc:
            problem(f"documents and texts: reading stopped ({exc})")
        try:
            self._check_segments(known, counts, problem)
        except sqlite3.Error as exc:
            problem(f"postings: reading stopped ({exc})")
        if more:
            problems.append(f"... and {more} more")
        return {"index": str(self.path), **counts, "problems": problems}

    def _check_segments(
        self, known: set[int], counts: dict[str, int], problem: Callable[[str], None]
    ) -> None:
        db = self._db
        known_ids = np.array(sorted(known), dtype=np.int64)
        column = "filters" if self._has_filters() else "NULL"
        segments = db.execute(f"SELECT id, pairs, first, last, {column} FROM segments ORDER BY id").fetchall()
        for sid, pairs, first_b, last_b, filters_b in segments:
            counts["segments"] += 1
            name = f"segment {sid}"
            if len(first_b) != len(last_b) or len(first_b) % 8:
                problem(f"{name}: its block directory does not decode")
                continue
            first = np.frombuffer(first_b, dtype="<i8")
            last = np.frombuffer(last_b, dtype="<i8")
            filters = _directory(sid, first_b, last_b, filters_b).filters
            if filters_b is not None and filters is None:
                problem(
                    f"{name}: its block filters are {len(filters_b)} bytes, not {seg.FILTER_BYTES} for each"
                    f" of its {len(first)} blocks (searches read every block it names)"
                )
            base = sid << 32
            blocks = db.execute(
                "SELECT id, data FROM blocks WHERE id BETWEEN ? AND ? ORDER BY id", (base, base | 0xFFFFFFFF)
            ).fetchall()
            counts["blocks"] += len(blocks)
            if [b for b, _ in blocks] != [base | i for i in range(len(first))]:
                problem(f"{name}: {len(blocks)} blocks stored, its directory names {len(first)}")
                continue
            total = 0
            prev: tuple[int, int] | None = None
            for i, (_, data) in enumerate(blocks):
                short = len(data) != 12 * seg.BLOCK
                if len(data) % 12 or not data or (short and i != len(blocks) - 1):
                    problem(f"{name} block {i}: {len(data)} bytes, not a block of (hash, document) pairs")
                    continue
                h, d = seg.decode_block(bytes(data))
                total += len(h)
                key_h, key_d = h.astype(np.int64), d.astype(np.int64)
                ordered = (key_h[1:] > key_h[:-1]) | ((key_h[1:] == key_h[:-1]) & (key_d[1:] > key_d[:-1]))
                if not ordered.all() or (prev is not None and (int(h[0]), int(d[0])) <= prev):
                    problem(f"{name} block {i}: pairs out of order")
                elif h[0] != first[i] or h[-1] != last[i]:
                    problem(f"{name} block {i}: does not match its directory entry")
                elif filters is not None and not seg.may_hold(filters, np.full(len(h), i), h).all():
                    problem(
                        f"{name} block {i}: its filter does not pass every hash it holds (searches miss them)"
                    )
                stray = ~np.isin(key_d, known_ids)
                if stray.any():
                    problem(f"{name} block {i}: names {int(stray.sum())} unknown document(s)")
                prev = (int(h[-1]), int(d[-1]))
            if total != pairs:
                problem(f"{name}: {total} pairs stored, its directory says {pairs}")

    # -- opt-out -----------------------------------------------------------------------------------

    @_reads
    def optouts(self) -> dict[str, str]:
        if not self._has_table("optouts"):  # an index written before opt-outs, opened read-only
            return {}
        return dict(self._db.execute("SELECT repo, added FROM optouts ORDER BY repo").fetchall())

    def add_optout(self, repo: str, when: str) -> tuple[int, int]:
        db = self._db
        try:
            self._begin()
            db.execute("INSERT OR IGNORE INTO optouts(repo, added) VALUES (?, ?)", (repo, when))
            where, arg = _optout_filter(repo)
            docs = [r[0] for r in db.execute(f"SELECT DISTINCT doc FROM occurrences WHERE {where}", (arg,))]
            occ = db.execute(f"DELETE FROM occurrences WHERE {where}", (arg,)).rowcount
            orphans = self._drop_orphans(docs)
            self._commit()
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc
        self._removed = None
        self._count = None
        return occ, len(orphans)

    def _drop_orphans(self, docs: Sequence[int]) -> list[int]:
        """Delete the documents of ``docs`` left without an occurrence (inside the open transaction)."""
        db = self._db
        held = "SELECT 1 FROM occurrences WHERE doc=? LIMIT 1"
        orphans = [d for d in docs if db.execute(held, (d,)).fetchone() is None]
        deletes = (
            "DELETE FROM documents WHERE id IN ({marks})",
            "DELETE FROM texts WHERE doc IN ({marks})",
            "DELETE FROM bands WHERE doc IN ({marks})",
        )
        for sql in deletes:
            self._execute_in(sql, orphans)
        db.executemany("INSERT OR IGNORE INTO removed(doc) VALUES (?)", [(d,) for d in orphans])
        return orphans

    # -- datasets and sources ----------------------------------------------------------------------

    def dataset_occurrences(self, dataset: str) -> Iterator[tuple[str, Occurrence]]:
        """Every occurrence recorded under ``dataset``: (its key for :meth:`remove_occurrences`, it)."""
        last = 0
        while True:
            page = self._db.execute(
                "SELECT id, repo, path, revision FROM occurrences WHERE dataset = ? AND id > ?"
                " ORDER BY id LIMIT 10000",
                (dataset, last),
            ).fetchall()
            for oid, repo, path, rev in page:
                yield str(oid), Occurrence(repo, path, (), rev, dataset=dataset)
            if len(page) < 10000:
                return
            last = page[-1][0]

    def remove_occurrences(self, keys: Sequence[str]) -> tuple[int, int]:
        """Remove occurrences by key (:meth:`dataset_occurrences`), and the documents left without one."""
        ids = [int(k) for k in keys]
        try:
            self._begin()
            found = self._select_in("SELECT doc FROM occurrences WHERE id IN ({marks})", ids)
            docs = sorted({r[0] for r in found})
            removed = self._execute_in("DELETE FROM occurrences WHERE id IN ({marks})", ids)
            orphans = self._drop_orphans(docs)
            self._commit()
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc
        self._removed = None
        self._count = None
        return removed, len(orphans)

    def record_sources(
        self, records: Sequence[dict[str, Any]], *, replace_dataset: str | None = None
    ) -> None:
        """Record what the index was built from: one record per source (``location`` and ``dataset``
        keys at least), replacing an earlier record of the same location -- and, with
        ``replace_dataset``, every earlier record of that dataset (a sync to a newer revision)."""
        db = self._db
        try:
            self._begin()
            if replace_dataset is not None:
                db.execute("DELETE FROM sources WHERE dataset = ?", (replace_dataset,))
            db.executemany(
                "INSERT OR REPLACE INTO sources(location, dataset, record) VALUES (?, ?, ?)",
                [(r["location"], r.get("dataset") or "", json.dumps(r, sort_keys=True)) for r in records],
            )
            self._commit()
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc

    @_reads
    def sources(self) -> list[dict[str, Any]]:
        if not self._has_table("sources"):  # an index written before sources were recorded
            return []
        rows = self._db.execute("SELECT record FROM sources ORDER BY dataset, location").fetchall()
        return [json.loads(r[0]) for r in rows]

    def remove_optout(self, repo: str) -> bool:
        try:
            self._begin()
            n = self._db.execute("DELETE FROM optouts WHERE repo = ?", (repo,)).rowcount
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._write_failed(exc) from exc
        return n > 0

    def close(self) -> None:
        """Close the file.  Postings not yet flushed are discarded (their documents with them)."""
        if self._db.in_transaction:
            self._rollback()
        if not self._readonly:
            # Fold the write-ahead log back into the file: the index is one self-contained file again.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        self._release_write_lock()


def _owner_like(owner: str) -> str:
    """A LIKE pattern (escape ``\\``) for every repository name of ``owner``: ``owner/%``, its ``%`` and
    ``_`` taken literally (SQLite's LIKE ignores ASCII case, as GitHub's names do)."""
    escaped = owner.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


def _optout_filter(entry: str) -> tuple[str, str]:
    """The occurrences an opt-out entry covers, as a WHERE clause and its one parameter: one repository
    (any capitalisation), or every repository of an owner (``owner/*``)."""
    if entry.endswith(OWNER_WILDCARD):
        return "repo LIKE ? ESCAPE '\\'", _owner_like(entry[: -len(OWNER_WILDCARD)])
    return "repo = ? COLLATE NOCASE", entry
