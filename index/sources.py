"""Sources: what yields the files to index, each as a :class:`SourceFile` (how to load its bytes, where
it was seen).

Folders (every text file under them, ``path`` relative to the folder) and JSONL files (one object per
line with ``content`` and optional ``repo``/``repo_name``, ``path``, ``licenses``/``detected_licenses``,
``revision``/``revision_id``, ``blob_id``, ``language``, ``url``) are read here; The Stack v2's parquet
shards by :mod:`.stackv2`.  :func:`whence.index.ingest.sources` picks the reader for each path, and
:mod:`.pipeline` indexes what they yield.  This module imports neither.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from whence.errors import InvalidInput

from . import lexer
from .model import Occurrence, github_url

#: Files larger than this are skipped (generated code, data dumps, minified bundles).
DEFAULT_MAX_BYTES = 1 << 20

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"})

#: Language by file extension (the lexer's table: the names its syntax profiles go by).
LANGUAGES = lexer.EXTENSIONS


def language_of(path: str) -> str:
    """Language name from a file name (empty when unknown): :func:`whence.index.lexer.language_for_path`."""
    return lexer.language_for_path(path) or ""


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
    fetched: bool = False  # ``load`` fetches the bytes from a blob store (by ``blob_id``)
    dataset: str | None = None  # a shard row: the dataset the index records it under ("": unnamed)


class Sources(Iterator[SourceFile]):
    """The files of :func:`whence.index.ingest.sources`, with :attr:`total` -- how many there will be,
    when known (shard footers give their row counts; folders and JSONL files are not counted ahead)."""

    def __init__(self, files: Iterator[SourceFile], total: int | None) -> None:
        self._files = files
        self.total = total
        self.shards: list[Any] = []  # the parquet shards among the sources (ingest.PlannedShard)
        self.selection: Any = None  # which of the shards' rows are indexed (stackv2.Selection)
        self.plain = 0  # folders and JSONL files among the sources

    def __next__(self) -> SourceFile:
        return next(self._files)


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


class SkipFile(Exception):
    """Raised by a :attr:`SourceFile.load` that refuses a file without reading it: ``reason`` is the
    skip counter it goes to (``too_large``, ``not_regular``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_limited(path: str | os.PathLike[str], max_bytes: int, *, regular_only: bool = True) -> bytes:
    """The bytes of ``path``, reading at most ``max_bytes + 1`` of them (so a caller sees "too large"
    without holding more): a regular file larger than ``max_bytes`` by its size is refused before any
    read (:class:`SkipFile` ``too_large``; a sparse file's holes are never read).  The file is opened
    non-blocking, so a FIFO or device never blocks the open; unless ``regular_only`` is false, anything
    but a regular file is refused (:class:`SkipFile` ``not_regular``) without reading from it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        regular = stat.S_ISREG(st.st_mode)
        if not regular and regular_only:
            raise SkipFile("not_regular")
        if regular and st.st_size > max_bytes:
            raise SkipFile("too_large")
        if not regular:
            os.set_blocking(fd, True)  # a pipe the caller asked for: wait for its writer
        want = min(max_bytes, st.st_size) + 1 if regular else max_bytes + 1  # (a buffer this large)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(want)
            if regular and len(data) == want and want <= max_bytes:  # grown since the stat: read on
                data += fh.read(max_bytes + 1 - want)
            return data
    finally:
        os.close(fd)


def _reader(path: Path, max_bytes: int) -> Callable[[], bytes]:
    return lambda: read_limited(path, max_bytes)


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def path_text(rel: str) -> str:
    """A file name as the index stores it: any name POSIX allows, as text that is valid UTF-8.

    Names that are UTF-8 are kept as they are (spaces, newlines and all); each byte of a name that is
    not UTF-8 (``os.walk`` hands it over as a lone surrogate) is written ``\\xNN`` -- Python's
    ``backslashreplace``, e.g. ``b"caf\\xe9.py"`` is stored as ``caf\\xe9.py``.
    """
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")
    return rel


def folder_files(
    folder: Path,
    repo: str | None = None,
    licenses: Sequence[str] = (),
    revision: str | None = None,
    max_bytes: int | None = None,
) -> Iterator[SourceFile]:
    """Every file under ``folder`` (VCS and cache folders and symbolic links skipped), sorted for
    reproducibility.  Files that are not regular (FIFOs, sockets, devices) are yielded with
    ``skip="not_regular"``, never opened; files larger than ``max_bytes`` (by their size) are yielded
    with ``skip="too_large"``, never read.  Paths are :func:`path_text`."""
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    repo = repo or folder.resolve().name
    rev = revision if revision is not None else _git_revision(folder)
    lic = tuple(licenses)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            p = Path(root) / name
            try:
                st = p.lstat()
            except OSError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                continue
            rel = path_text(p.relative_to(folder).as_posix())
            occ = Occurrence(repo, rel, lic, rev, github_url(repo, rev, rel))
            skip = ""
            if st is not None and not stat.S_ISREG(st.st_mode):
                skip = "not_regular"
            elif st is not None and st.st_size > limit:
                skip = "too_large"
            yield SourceFile(_reader(p, limit), occ, language_of(rel), label=path_text(str(p)), skip=skip)


def _utf8(value: object) -> str:
    """A JSONL field as text that encodes: a lone surrogate (``"\\udcff"`` in the JSON) is written
    ``\\udcff``."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _bounded_lines(fh: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """The lines of ``fh``, each read with at most ``limit`` + 1 bytes held; ``None`` for a longer line
    (read past in 1 MiB pieces, never held whole)."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = fh.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
        else:
            yield line


def jsonl_files(
    path: Path,
    repo: str | None = None,
    licenses: Sequence[str] = (),
    license_type: str | Collection[str] = "all",
    max_bytes: int | None = None,
) -> Iterator[SourceFile]:
    """Records of a JSONL file (see the module docstring for the fields).

    With ``license_type`` other than ``all``, records whose ``license_type`` field differs are left out
    (records without the field are kept).  A line longer than JSON's worst escaping of a ``max_bytes``
    content allows (6 bytes a character, and 64 KiB for the other fields) is yielded with
    ``skip="too_large"``, never held in memory whole.
    """
    limit = 6 * (DEFAULT_MAX_BYTES if max_bytes is None else max_bytes) + (64 << 10)
    with path.open("rb") as fh:
        for lineno, line in enumerate(_bounded_lines(fh, limit), 1):
            label = f"{path}:{lineno}"
            if line is None:
                r = repo or path.stem
                occ = Occurrence(r, f"record-{lineno}", tuple(licenses), "", "")
                yield SourceFile(_constant(b""), occ, label=label, skip="too_large")
                continue
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{label}: not a JSON object ({exc.msg})") from exc
            if not isinstance(rec, dict) or not isinstance(rec.get("content"), str):
                raise InvalidInput(f"{label}: each line needs a string field 'content'")
            if license_type != "all" and "license_type" in rec:
                keep = {license_type} if isinstance(license_type, str) else license_type
                if rec["license_type"] not in keep:
                    continue
            content = rec["content"].encode("utf-8", "surrogatepass")
            r = _utf8(rec.get("repo") or rec.get("repo_name") or repo or path.stem)
            p = _utf8(rec.get("path") or f"record-{lineno}")
            lic = rec.get("licenses") or rec.get("detected_licenses") or list(licenses)
            if isinstance(lic, str):
                lic = [lic]
            rev = _utf8(rec.get("revision") or rec.get("revision_id") or "")
            url = _utf8(rec.get("url") or github_url(r, rev, p))
            occ = Occurrence(r, p, tuple(_utf8(x) for x in lic), rev, url)
            yield SourceFile(
                _constant(content), occ, str(rec.get("language") or language_of(p)),
                str(rec.get("blob_id") or ""), label,
            )  # fmt: skip
