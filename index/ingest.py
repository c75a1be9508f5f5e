"""Ingestion: sources -> fingerprinted documents -> a store, streaming, in batches, on every core.

Sources are folders (every text file under them, ``path`` relative to the folder), JSONL files (one
object per line with ``content`` and optional ``repo``/``repo_name``, ``path``, ``licenses``/
``detected_licenses``, ``revision``/``revision_id``, ``blob_id``, ``language``, ``url``) and The Stack
v2's parquet shards (:mod:`.stackv2`, contents from a blob store, :mod:`.blobs`).  Repositories opted
out of the index (:meth:`Store.optouts`) are left out of every build.

Work is split so that both cores are busy: worker threads read, validate, hash, fingerprint (the
compiled kernel releases the GIL) and compress files; the calling thread only writes batches, each
in one transaction.  A content already in the index (by its xxh3-128 hash) is not fingerprinted again:
it only gains the new occurrence.  So a build that was interrupted (Ctrl-C, SIGKILL) and is run again
ends with exactly the documents and occurrences of a clean build.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import xxhash
import zstandard

from whence.errors import InvalidInput

from . import fingerprint as fp
from . import stackv2
from .blobs import BlobStore, CorruptBlob, MissingBlob
from .model import IndexedDoc, Occurrence, github_url
from .stores.base import Store

#: Files larger than this are skipped (generated code, data dumps, minified bundles).
DEFAULT_MAX_BYTES = 1 << 20
BATCH_FILES = 64
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"})

LANGUAGES = {
    ".py": "Python", ".pyi": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript",
    ".jsx": "JavaScript", ".ts": "TypeScript", ".tsx": "TypeScript", ".go": "Go", ".rs": "Rust",
    ".java": "Java", ".kt": "Kotlin", ".scala": "Scala", ".c": "C", ".h": "C", ".cc": "C++",
    ".cpp": "C++", ".cxx": "C++", ".hpp": "C++", ".hh": "C++", ".cs": "C#", ".rb": "Ruby",
    ".php": "PHP", ".swift": "Swift", ".m": "Objective-C", ".sh": "Shell", ".bash": "Shell",
    ".pl": "Perl", ".pm": "Perl", ".lua": "Lua", ".r": "R", ".jl": "Julia", ".hs": "Haskell",
    ".ml": "OCaml", ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang", ".clj": "Clojure",
    ".sql": "SQL", ".html": "HTML", ".css": "CSS", ".scss": "SCSS", ".vue": "Vue", ".dart": "Dart",
    ".zig": "Zig", ".nim": "Nim", ".f90": "Fortran", ".toml": "TOML", ".yaml": "YAML", ".yml": "YAML",
    ".json": "JSON", ".md": "Markdown", ".rst": "reStructuredText", ".tex": "TeX", ".cmake": "CMake",
}  # fmt: skip


def language_of(path: str) -> str:
    """Language name from a file name (empty when unknown)."""
    return LANGUAGES.get(os.path.splitext(path)[1].lower(), "")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file to index: where its bytes come from and where it was seen."""

    load: Callable[[], bytes]
    occurrence: Occurrence
    language: str = ""
    blob_id: str = ""
    label: str = ""  # for error messages
    skip: str = ""  # left out before reading (filtered by license type, vendored, ...), and why
    encoding: str = ""  # the bytes' encoding when not UTF-8 (The Stack's ``src_encoding``)


@dataclass
class BuildReport:
    """What a build did."""

    files: int = 0
    bytes: int = 0
    documents: int = 0
    duplicates: int = 0
    occurrences: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "documents_added": self.documents,
            "duplicates": self.duplicates,
            "occurrences_added": self.occurrences,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "mb_per_s": round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else 0.0,
        }


# -- sources -----------------------------------------------------------------------------------------


def _git_revision(folder: Path) -> str:
    """The commit checked out in ``folder`` when it is the top of a git work tree, else ``""``.

    (A folder inside some other repository -- a site-packages inside a tool's checkout -- does not
    belong to that repository's history, and its paths would not be that repository's paths.)
    """
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != folder.resolve():
        return ""
    return lines[1]


def _reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def folder_files(
    folder: Path, repo: str | None = None, licenses: Sequence[str] = (), revision: str | None = None
) -> Iterator[SourceFile]:
    """Every regular file under ``folder`` (VCS and cache folders skipped), sorted for reproducibility."""
    repo = repo or folder.resolve().name
    rev = revision if revision is not None else _git_revision(folder)
    lic = tuple(licenses)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            p = Path(root) / name
            if p.is_symlink() or not p.is_file():
                continue
            rel = p.relative_to(folder).as_posix()
            occ = Occurrence(repo, rel, lic, rev, github_url(repo, rev, rel))
            yield SourceFile(_reader(p), occ, language_of(rel), label=str(p))


def jsonl_files(
    path: Path, repo: str | None = None, licenses: Sequence[str] = (), license_type: str = "all"
) -> Iterator[SourceFile]:
    """Records of a JSONL file (see the module docstring for the fields).

    With ``license_type`` other than ``all``, records whose ``license_type`` field differs are left out
    (records without the field are kept).
    """
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            label = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{label}: not a JSON object ({exc.msg})") from exc
            if not isinstance(rec, dict) or not isinstance(rec.get("content"), str):
                raise InvalidInput(f"{label}: each line needs a string field 'content'")
            if license_type != "all" and rec.get("license_type", license_type) != license_type:
                continue
            content = rec["content"].encode("utf-8", "surrogatepass")
            r = str(rec.get("repo") or rec.get("repo_name") or repo or path.stem)
            p = str(rec.get("path") or f"record-{lineno}")
            lic = rec.get("licenses") or rec.get("detected_licenses") or list(licenses)
            if isinstance(lic, str):
                lic = [lic]
            rev = str(rec.get("revision") or rec.get("revision_id") or "")
            url = str(rec.get("url") or github_url(r, rev, p))
            occ = Occurrence(r, p, tuple(str(x) for x in lic), rev, url)
            yield SourceFile(
                _constant(content), occ, str(rec.get("language") or language_of(p)),
                str(rec.get("blob_id") or ""), label,
            )  # fmt: skip


def sources(
    paths: Sequence[str | os.PathLike[str]],
    repo: str | None = None,
    licenses: Sequence[str] = (),
    license_type: str = "permissive",
    *,
    blobs: BlobStore | None = None,
    include_vendor: bool = False,
    include_generated: bool = False,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Sources:
    """Files of every source path, in order: folders, ``.jsonl`` files and Stack v2 ``.parquet`` shards
    (paths or glob patterns).

    Every path is checked now, before the first file is yielded -- each shard's footer, columns and
    types included -- so a bad source raises :class:`InvalidInput` while nothing has been written.

    Args:
        paths: folders, JSONL files, parquet shards or glob patterns of them.
        repo, licenses: describe a plain folder (and JSONL records without those fields).
        license_type: keep only JSONL records and shard rows with this ``license_type`` (``all``: every
            one; JSONL records without the field are kept).
        blobs: where shard rows without a ``content`` column get their contents.
        include_vendor, include_generated: also index rows The Stack marks ``is_vendor``/``is_generated``.
        max_bytes: shard rows longer than this (by ``length_bytes``) are skipped without being fetched.
    """
    if license_type not in stackv2.LICENSE_TYPES:
        raise InvalidInput(
            f"license_type must be one of {', '.join(stackv2.LICENSE_TYPES)}, got {license_type!r}"
        )
    plan: list[Callable[[], Iterator[SourceFile]]] = []
    total, all_counted = 0, True
    for p in stackv2.expand([str(x) for x in paths]):
        if p.is_dir():
            plan.append(functools.partial(folder_files, p, repo, licenses))
            all_counted = False
        elif p.is_file() and p.suffix in (".jsonl", ".ndjson"):
            plan.append(functools.partial(jsonl_files, p, repo, licenses, license_type))
            all_counted = False
        elif p.is_file() and p.suffix == ".parquet":
            shard = stackv2.check_shard(p)
            stackv2.require_contents(shard, blobs)
            total += shard.rows
            plan.append(
                functools.partial(
                    stackv2.shard_files,
                    [shard],
                    blobs,
                    license_type=license_type,
                    include_vendor=include_vendor,
                    include_generated=include_generated,
                    max_bytes=max_bytes,
                )
            )
        elif p.exists():
            raise InvalidInput(f"{p}: not a folder, a .jsonl file or a .parquet shard")
        else:
            raise InvalidInput(f"{p}: no such file or folder")
    return Sources(itertools.chain.from_iterable(make() for make in plan), total if all_counted else None)


class Sources(Iterator[SourceFile]):
    """The files of :func:`sources`, with :attr:`total` -- how many there will be, when known (shard
    footers give their row counts; folders and JSONL files are not counted ahead)."""

    def __init__(self, files: Iterator[SourceFile], total: int | None) -> None:
        self._files = files
        self.total = total

    def __next__(self) -> SourceFile:
        return next(self._files)


# -- the pipeline ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    doc: IndexedDoc | None = None  # a new content
    known: tuple[bytes, Occurrence] | None = None  # a content already stored: only its occurrence
    skipped: str = ""
    nbytes: int = 0


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


def prepare(src: SourceFile, known: set[bytes], max_bytes: int = DEFAULT_MAX_BYTES) -> _Prepared:
    """Read, validate, hash and fingerprint one file (runs in a worker thread)."""
    if src.skip:
        return _Prepared(skipped=src.skip)
    try:
        loaded = src.load()
    except MissingBlob:
        return _Prepared(skipped="missing_blob")
    except CorruptBlob:
        return _Prepared(skipped="undecodable")
    except OSError:
        return _Prepared(skipped="unreadable")
    raw = to_utf8(loaded, src.encoding)
    if raw is None:
        return _Prepared(skipped="undecodable", nbytes=len(loaded))
    reason = check_text(raw, max_bytes)
    if reason:
        return _Prepared(skipped=reason, nbytes=len(raw))
    digest = xxhash.xxh3_128_digest(raw)
    if digest in known:
        return _Prepared(known=(digest, src.occurrence), nbytes=len(raw))
    f = fp.index_fingerprint(raw)
    doc = IndexedDoc(
        content_hash=digest,
        text_z=_compressor().compress(raw),
        length_bytes=len(raw),
        hashes=f.hashes,
        bands=f.bands(),
        signature=fp.pack_signature(f.signature),
        lines=raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1),
        tokens=f.tokens,
        language=src.language,
        blob_id=src.blob_id,
        occurrences=[src.occurrence],
    )
    return _Prepared(doc=doc, nbytes=len(raw))


_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """A zstd compressor for this thread (they are not thread-safe).  Level 1: 3x faster than zlib's
    fastest level here, with a better ratio."""
    c: zstandard.ZstdCompressor | None = getattr(_local, "zstd", None)
    if c is None:
        c = _local.zstd = zstandard.ZstdCompressor(level=1)
    return c


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
) -> BuildReport:
    """Index ``files`` into ``store``; returns what was done.

    Args:
        store: an open, writable store.
        files: the files, e.g. from :func:`sources`.
        workers: fingerprinting threads (default: one per core).
        max_bytes: larger files are skipped as ``too_large``.
        batch_files: files handed to a worker at a time.
        commit_every: postings buffered before the store commits (default: the store's own).
        progress: called with the running report after every batch.
    """
    workers = max(1, workers or os.cpu_count() or 1)
    report = BuildReport()
    start = time.perf_counter()
    known = set(store.all_content_hashes())
    if commit_every is not None:
        store.set_commit_every(commit_every)

    blocked = {r.lower() for r in store.optouts()}
    stop = threading.Event()  # set when the build fails: running batches give up at their next file

    def work(batch: list[SourceFile]) -> list[_Prepared]:
        out = []
        for s in batch:
            if stop.is_set():
                break
            if s.occurrence.repo.lower() in blocked:
                out.append(_Prepared(skipped="opted_out"))
            else:
                out.append(prepare(s, known, max_bytes))
        return out

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whence-fp")
    pending: deque[Future[list[_Prepared]]] = deque()
    try:
        it = _batches(files, batch_files)
        exhausted = False
        while True:
            while not exhausted and len(pending) < workers * 2:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                pending.append(pool.submit(work, nxt))
            if not pending:
                break
            results = pending.popleft().result()
            _write(store, results, report, known)
            report.seconds = time.perf_counter() - start
            if progress is not None:
                progress(report)
    except BaseException:
        # Stop quickly (a blob store that went away must not be retried file by file): queued batches
        # are cancelled, running ones stop at their next file.  Nothing of theirs is written.
        stop.set()
        for f in pending:
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    store.flush()
    store.optimize()
    report.seconds = time.perf_counter() - start
    return report


def _write(store: Store, results: list[_Prepared], report: BuildReport, known: set[bytes]) -> None:
    docs: list[IndexedDoc] = []
    seen: dict[bytes, IndexedDoc] = {}
    occs: list[tuple[bytes, Occurrence]] = []
    for r in results:
        report.files += 1
        report.bytes += r.nbytes
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
        res = store.add(docs)
        report.documents += res.documents
        report.occurrences += res.occurrences
        report.duplicates += len(docs) - res.documents
        known.update(seen)
    if occs:
        report.occurrences += store.add_occurrences(occs)
