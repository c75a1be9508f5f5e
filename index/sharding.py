"""Sharded ingestion: ``whence index build --worker i/N`` indexes one slice of the sources, so that N
jobs on N machines build one index together (into the same Elasticsearch/OpenSearch cluster).

The slices are disjoint and together cover every file, whatever order the sources are listed in: a
file belongs to slice ``xxh64(repo, path) mod N``.  With several source shards (JSONL files, folders)
one could deal out whole shards instead, but hashing files also balances one huge shard across the
jobs.  Each content is written once whichever job sees it first (the store's ids are derived from the
content), so jobs need no coordination and a failed job is simply run again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import xxhash

from whence.errors import InvalidInput

from .sources import SourceFile, Sources


@dataclass(frozen=True, slots=True)
class Worker:
    """Slice ``index`` of ``count`` (0-based)."""

    index: int
    count: int

    def owns(self, f: SourceFile) -> bool:
        """Whether this worker indexes ``f``."""
        key = f"{f.occurrence.repo}\x00{f.occurrence.path}".encode("utf-8", "surrogatepass")
        return xxhash.xxh64_intdigest(key) % self.count == self.index


def parse_worker(spec: str) -> Worker:
    """``"i/N"`` -> :class:`Worker`; raises :class:`InvalidInput` naming the bad value."""
    head, sep, tail = spec.partition("/")
    try:
        index, count = int(head), int(tail)
    except ValueError:
        index = count = -1
    if not sep or count < 1 or not 0 <= index < count:
        raise InvalidInput(f"--worker {spec!r}: expected i/N with 0 <= i < N, e.g. 0/4")
    return Worker(index, count)


def slice_files(files: Iterable[SourceFile], worker: Worker) -> Sources:
    """The files of ``worker``'s slice, in their order (how many is not known ahead)."""
    return Sources((f for f in files if worker.owns(f)), None)
