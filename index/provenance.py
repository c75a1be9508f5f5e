"""What an index was built from, and bringing it to a newer revision of its dataset.

Every build records each shard it read (:func:`shard_record`: location, layout, size, rows, checksum,
dataset and revision, the build's options), which ``whence index stats`` lists.  The Stack v2 publishes
opt-out removals as new revisions of its datasets; :func:`sync` brings an index to one:

1. it builds the new revision's shards like any build -- rows the index holds only gain nothing, new
   rows are added (a known blob is not even fetched) -- while writing the key (repository, path,
   revision) of every row the selection keeps into a temporary SQLite file (memory stays flat);
2. only when that build has finished does it remove the occurrences recorded under the dataset whose
   key the new revision no longer has, and the documents left without any;
3. it replaces the dataset's source records with the new ones.

A sync killed at any point removed nothing it should not have: run again, it finishes.  Run twice, the
second adds and removes nothing.  Occurrences from folders and JSONL files, and from other datasets, are
never touched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xxhash

from whence.errors import InvalidInput

from . import datasets, pipeline, shardfs
from .ingest import PlannedShard
from .model import Occurrence
from .sources import SourceFile, Sources
from .stores.base import Store

#: Stale occurrences removed per store call.
REMOVE_CHUNK = 2000


def shard_record(planned: PlannedShard, options: dict[str, Any]) -> dict[str, Any]:
    """The record of one shard a build read."""
    loc = planned.shard.path
    if not shardfs.is_url(loc):
        loc = str(Path(loc).resolve())
    described = shardfs.describe(loc)
    revision = planned.revision
    if described.revision and (not revision or revision == datasets.identify(loc)[1]):
        revision = described.revision  # the commit a branch named in the URL (hf://...@main) resolved to
    return {
        "location": loc,
        "layout": planned.shard.layout,
        "size": described.size,
        "rows": planned.shard.rows,
        "files": planned.shard.files,
        "checksum": described.checksum,
        "dataset": planned.dataset,
        "revision": revision,
        "options": options,
        "indexed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def record(
    store: Store, files: Sources, options: dict[str, Any], *, replace_dataset: str | None = None
) -> int:
    """Record the shards of ``files`` in ``store``; returns how many."""
    records = [shard_record(p, options) for p in files.shards]
    if records or replace_dataset is not None:
        store.record_sources(records, replace_dataset=replace_dataset)
    return len(records)


def _key(o: Occurrence) -> bytes:
    return xxhash.xxh3_128_digest("\x00".join((o.repo, o.path, o.revision)).encode("utf-8", "surrogatepass"))


class _Keys(contextlib.AbstractContextManager["_Keys"]):
    """A set of occurrence keys in a temporary SQLite file (deleted on exit)."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="whence-sync-", suffix=".sqlite")
        os.close(fd)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE keys(k BLOB PRIMARY KEY) WITHOUT ROWID")
        self._buf: list[tuple[bytes]] = []

    def add(self, o: Occurrence) -> None:
        self._buf.append((_key(o),))
        if len(self._buf) >= 10_000:
            self.flush()

    def flush(self) -> None:
        self._db.executemany("INSERT OR IGNORE INTO keys VALUES (?)", self._buf)
        self._db.commit()
        self._buf = []

    def missing(self, occurrences: Sequence[Occurrence]) -> list[int]:
        """Indexes of the occurrences whose key is not in the set."""
        keys = [_key(o) for o in occurrences]
        marks = ",".join("?" * len(keys))
        held = {r[0] for r in self._db.execute(f"SELECT k FROM keys WHERE k IN ({marks})", keys)}
        return [i for i, k in enumerate(keys) if k not in held]

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


@dataclass
class SyncReport:
    """What a sync did: the build of the new revision, and what it removed."""

    dataset: str
    revisions: list[str]
    build: pipeline.BuildReport
    occurrences_removed: int = 0
    documents_removed: int = 0
    sources: int = 0
    removed_repositories: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "revisions": self.revisions,
            "added": self.build.as_dict(),
            "occurrences_removed": self.occurrences_removed,
            "documents_removed": self.documents_removed,
            "repositories_gone": self.removed_repositories,
            "sources": self.sources,
        }


def sync_dataset(files: Sources, given: str | None) -> str:
    """The dataset a sync brings up to date: ``given``, else the one every shard's location names."""
    names: set[str] = {p.dataset for p in files.shards}
    if not files.shards:
        raise InvalidInput("whence index sync reads Stack v2 shards: no .parquet shard among the sources")
    if given:
        return given
    if len(names) != 1 or "" in names:
        found = ", ".join(sorted(n or "(unnamed)" for n in names))
        raise InvalidInput(
            f"cannot tell which dataset these shards are ({found}): name it with --dataset (for example"
            " bigcode/the-stack-v2-train-full-ids)"
        )
    return names.pop()


def sync(
    store: Store,
    files: Sources,
    dataset: str,
    options: dict[str, Any],
    *,
    build: Callable[[Iterator[SourceFile]], pipeline.BuildReport],
) -> SyncReport:
    """Bring the occurrences recorded under ``dataset`` to the rows of ``files`` (see the module
    docstring); ``build`` indexes files (:func:`whence.index.pipeline.build` with the caller's options)."""
    revisions = sorted({p.revision for p in files.shards if p.revision})
    with _Keys() as keys:

        def tap(stream: Iterator[SourceFile]) -> Iterator[SourceFile]:
            for f in stream:
                if f.occurrence.dataset is not None and not f.skip:
                    keys.add(f.occurrence)
                yield f

        report = SyncReport(dataset, revisions, build(tap(files)))
        keys.flush()
        stale: list[str] = []
        gone_repos: set[str] = set()
        kept_repos: set[str] = set()
        page: list[tuple[str, Occurrence]] = []

        def check(page: list[tuple[str, Occurrence]]) -> None:
            missing = set(keys.missing([o for _, o in page]))
            for i, (key, o) in enumerate(page):
                if i in missing:
                    stale.append(key)
                    gone_repos.add(o.repo)
                else:
                    kept_repos.add(o.repo)

        for item in store.dataset_occurrences(dataset):
            page.append(item)
            if len(page) >= 500:
                check(page)
                page = []
        check(page)
        for i in range(0, len(stale), REMOVE_CHUNK):
            occ, docs = store.remove_occurrences(stale[i : i + REMOVE_CHUNK])
            report.occurrences_removed += occ
            report.documents_removed += docs
    # Repositories that left entirely (an opt-out, say): none of their occurrences is kept.
    report.removed_repositories = sorted(gone_repos - kept_repos)
    report.sources = record(store, files, options, replace_dataset=dataset)
    return report
