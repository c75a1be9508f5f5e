"""Writing Stack-v2-schema shards and a blob store (for local corpora, tests and benchmarks).

:class:`ShardWriter` writes parquet shards with every column of The Stack v2 (and no ``content``
column, like the released dataset) plus the contents into a folder laid out like Software Heritage's
bucket: ``content/{blob_id}``, gzip-compressed, in the file's own encoding.  ``blob_id`` is the file's
Software Heritage / git blob id (``sha1("blob <size>\\0" + bytes)``) and ``content_id`` its SHA-1.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

#: Rows per shard before the writer starts the next one.
SHARD_ROWS = 20_000


def arrow_schema() -> Any:
    """The Stack v2's columns and types (content excluded, as in the released dataset)."""
    import pyarrow as pa

    ts = pa.timestamp("ns")
    return pa.schema([
        ("blob_id", pa.string()), ("directory_id", pa.string()), ("path", pa.string()),
        ("content_id", pa.string()), ("detected_licenses", pa.list_(pa.string())),
        ("license_type", pa.string()), ("repo_name", pa.string()), ("snapshot_id", pa.string()),
        ("revision_id", pa.string()), ("branch_name", pa.string()), ("visit_date", ts),
        ("revision_date", ts), ("committer_date", ts), ("github_id", pa.int64()),
        ("star_events_count", pa.int64()), ("fork_events_count", pa.int64()),
        ("gha_license_id", pa.string()), ("gha_event_created_at", ts), ("gha_created_at", ts),
        ("gha_language", pa.string()), ("src_encoding", pa.string()), ("language", pa.string()),
        ("is_vendor", pa.bool_()), ("is_generated", pa.bool_()), ("length_bytes", pa.int64()),
        ("extension", pa.string()),
    ])  # fmt: skip


def blob_id_of(data: bytes) -> str:
    """Software Heritage's (and git's) blob id of a content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


@dataclass
class FileRow:
    """One file to write: its bytes and where it belongs."""

    data: bytes
    repo: str
    path: str
    licenses: Sequence[str] = ()
    license_type: str = "permissive"
    revision: str = ""
    branch: str = "refs/heads/main"
    language: str = ""
    encoding: str = "UTF-8"
    is_vendor: bool = False
    is_generated: bool = False
    stars: int = 0
    forks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ShardWriter:
    """Writes rows into ``OUT/shards/shard-NNNNN.parquet`` and contents into ``OUT/blobs/content/``.

    Args:
        out: the output folder.
        shard_rows: rows per shard.
        compresslevel: gzip level of the blobs (Software Heritage uses gzip; 1 is plenty here).
    """

    def __init__(
        self, out: str | os.PathLike[str], shard_rows: int = SHARD_ROWS, compresslevel: int = 1
    ) -> None:
        self.out = Path(out)
        self.shards_dir = self.out / "shards"
        self.blobs_dir = self.out / "blobs"
        (self.blobs_dir / "content").mkdir(parents=True, exist_ok=True)
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        self.shard_rows = shard_rows
        self.compresslevel = compresslevel
        self.rows = 0
        self.bytes = 0
        self.shards: list[Path] = []
        self._pending: list[dict[str, Any]] = []
        self._when = datetime(2023, 9, 6, tzinfo=timezone.utc)  # The Stack v2's Software Heritage snapshot

    def add(self, f: FileRow) -> str:
        """Write one file's blob and queue its row; returns its blob id."""
        bid = blob_id_of(f.data)
        blob = self.blobs_dir / "content" / bid
        if not blob.exists():
            tmp = blob.with_suffix(".tmp")
            tmp.write_bytes(gzip.compress(f.data, self.compresslevel, mtime=0))
            tmp.replace(blob)
        revision = f.revision or _sha1(f"revision:{f.repo}")
        directory = os.path.dirname(f.path)
        ext = os.path.splitext(f.path)[1].lstrip(".")
        row = {
            "blob_id": bid,
            "directory_id": _sha1(f"directory:{f.repo}:{revision}:{directory}"),
            "path": "/" + f.path.lstrip("/"),
            "content_id": hashlib.sha1(f.data, usedforsecurity=False).hexdigest(),
            "detected_licenses": list(f.licenses),
            "license_type": f.license_type,
            "repo_name": f.repo,
            "snapshot_id": _sha1(f"snapshot:{f.repo}"),
            "revision_id": revision,
            "branch_name": f.branch,
            "visit_date": self._when,
            "revision_date": self._when,
            "committer_date": self._when,
            "github_id": None,
            "star_events_count": f.stars,
            "fork_events_count": f.forks,
            "gha_license_id": None,
            "gha_event_created_at": None,
            "gha_created_at": None,
            "gha_language": None,
            "src_encoding": f.encoding,
            "language": f.language,
            "is_vendor": f.is_vendor,
            "is_generated": f.is_generated,
            "length_bytes": len(f.data),
            "extension": ext,
        } | f.extra
        self._pending.append(row)
        self.rows += 1
        self.bytes += len(f.data)
        if len(self._pending) >= self.shard_rows:
            self._flush()
        return bid

    def _flush(self) -> None:
        if not self._pending:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.shards_dir / f"shard-{len(self.shards):05d}.parquet"
        table = pa.Table.from_pylist(self._pending, schema=arrow_schema())
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, compression="zstd", row_group_size=4096)
        tmp.replace(path)  # a shard appears whole or not at all
        self.shards.append(path)
        self._pending = []

    def close(self) -> None:
        """Write the last shard."""
        self._flush()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
