"""Writing Stack-v2-schema shards and a blob store (for local corpora, tests and benchmarks).

:class:`ShardWriter` writes parquet shards in either of The Stack v2's layouts, plus the contents into a
folder laid out like Software Heritage's bucket: ``content/{blob_id}``, gzip-compressed, in the file's
own encoding.

* ``flat`` -- one row per file with every column of ``bigcode/the-stack-v2`` and ``-dedup``;
* ``nested`` -- one row per repository (``-train-full-ids``, ``-train-smol-ids``): the repository's
  columns, and its files as a ``files`` list of structs.

Neither carries a ``content`` column unless asked (``inline_content=True``), like the released datasets.

The two ids are those of Software Heritage's archive (see docs/ingestion.md):

* ``blob_id`` is the key of the content in the ``softwareheritage`` S3 bucket, which Software Heritage's
  object storage keys by the SHA-1 of the bytes: ``s3://softwareheritage/content/{blob_id}``, the
  address BigCode's download code reads;
* ``content_id`` is the content's *intrinsic* identifier, its ``sha1_git`` -- git's blob hash,
  ``sha1(b"blob <size>\\0" + bytes)`` -- the hash in its SWHID ``swh:1:cnt:{content_id}``.
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


def nested_schema(inline_content: bool = False) -> Any:
    """The repository-nested layout of ``-train-full-ids``/``-train-smol-ids``: one row per repository,
    its files a list of structs (``content`` added to each file when ``inline_content``)."""
    import pyarrow as pa

    ts = pa.timestamp("ns")
    file_fields = [
        ("blob_id", pa.string()), ("path", pa.string()), ("content_id", pa.string()),
        ("language", pa.string()), ("length_bytes", pa.int64()),
        ("detected_licenses", pa.list_(pa.string())), ("license_type", pa.string()),
        ("src_encoding", pa.string()), ("is_vendor", pa.bool_()), ("is_generated", pa.bool_()),
        ("alphanum_fraction", pa.float32()), ("alpha_fraction", pa.float32()),
        ("num_lines", pa.int32()), ("avg_line_length", pa.float32()), ("max_line_length", pa.int32()),
    ]  # fmt: skip
    if inline_content:
        file_fields.append(("content", pa.string()))
    return pa.schema([
        ("repo_name", pa.string()), ("repo_url", pa.string()), ("snapshot_id", pa.string()),
        ("revision_id", pa.string()), ("directory_id", pa.string()), ("branch_name", pa.string()),
        ("visit_date", ts), ("revision_date", ts), ("committer_date", ts), ("github_id", pa.int64()),
        ("star_events_count", pa.int64()), ("fork_events_count", pa.int64()),
        ("gha_license_id", pa.string()), ("gha_created_at", ts), ("gha_event_created_at", ts),
        ("gha_updated_at", ts), ("gha_pushed_at", ts), ("gha_language", pa.string()),
        ("files", pa.list_(pa.struct(file_fields))), ("num_files", pa.int64()),
    ])  # fmt: skip


LAYOUTS = ("flat", "nested")


def blob_id_of(data: bytes) -> str:
    """The content's ``blob_id``: the SHA-1 of its bytes, its key in Software Heritage's bucket."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def content_id_of(data: bytes) -> str:
    """The content's ``content_id``: its ``sha1_git`` (git's blob hash), as in ``swh:1:cnt:<id>``."""
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
        shard_rows: files per shard (the nested layout keeps a repository's files in one row, so its
            shards end at the first repository boundary past this many files).
        compresslevel: gzip level of the blobs (Software Heritage uses gzip; 1 is plenty here).
        layout: ``flat`` (a row per file) or ``nested`` (a row per repository and revision).
        inline_content: also write each file's text in a ``content`` column (UTF-8 text; the blob
            store gets the original bytes all the same).
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        shard_rows: int = SHARD_ROWS,
        compresslevel: int = 1,
        *,
        layout: str = "flat",
        inline_content: bool = False,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.layout = layout
        self.inline_content = inline_content
        self._repos: dict[tuple[str, str], dict[str, Any]] = {}
        self._files_pending = 0
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
        self.rows += 1
        self.bytes += len(f.data)
        if self.layout == "nested":
            self._add_nested(f, bid, revision)
        else:
            self._add_flat(f, bid, revision)
        return bid

    def _text(self, f: FileRow) -> str | None:
        if not self.inline_content:
            return None
        return f.data.decode(f.encoding or "utf-8", "replace")

    def _add_flat(self, f: FileRow, bid: str, revision: str) -> None:
        directory = os.path.dirname(f.path)
        ext = os.path.splitext(f.path)[1].lstrip(".")
        row = {
            "blob_id": bid,
            "directory_id": _sha1(f"directory:{f.repo}:{revision}:{directory}"),
            "path": "/" + f.path.lstrip("/"),
            "content_id": content_id_of(f.data),
            "detected_licenses": list(f.licenses),
            "license_type": f.license_type,
            **self._repository(f, revision),
            "src_encoding": f.encoding,
            "language": f.language,
            "is_vendor": f.is_vendor,
            "is_generated": f.is_generated,
            "length_bytes": len(f.data),
            "extension": ext,
        } | f.extra
        if self.inline_content:
            row["content"] = self._text(f)
        self._pending.append(row)
        if len(self._pending) >= self.shard_rows:
            self._flush()

    def _repository(self, f: FileRow, revision: str) -> dict[str, Any]:
        """The repository's columns both layouts carry (a file's row, or the repository's own)."""
        return {
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
        }

    def _add_nested(self, f: FileRow, bid: str, revision: str) -> None:
        key = (f.repo, revision)
        repo = self._repos.get(key)
        if repo is None:
            if self._files_pending >= self.shard_rows:
                self._flush()
            repo = self._repos[key] = {
                **self._repository(f, revision),
                "repo_url": f"https://github.com/{f.repo}",
                "directory_id": _sha1(f"directory:{f.repo}:{revision}:"),
                "gha_updated_at": None,
                "gha_pushed_at": None,
                "files": [],
                "num_files": 0,
            }
        text = f.data.decode(f.encoding or "utf-8", "replace")
        lines = text.splitlines() or [""]
        item: dict[str, Any] = {
            "blob_id": bid,
            "path": "/" + f.path.lstrip("/"),
            "content_id": content_id_of(f.data),
            "language": f.language,
            "length_bytes": len(f.data),
            "detected_licenses": list(f.licenses),
            "license_type": f.license_type,
            "src_encoding": f.encoding,
            "is_vendor": f.is_vendor,
            "is_generated": f.is_generated,
            "alphanum_fraction": sum(c.isalnum() for c in text) / max(len(text), 1),
            "alpha_fraction": sum(c.isalpha() for c in text) / max(len(text), 1),
            "num_lines": len(lines),
            "avg_line_length": sum(map(len, lines)) / len(lines),
            "max_line_length": max(map(len, lines)),
        } | f.extra
        if self.inline_content:
            item["content"] = self._text(f)
        repo["files"].append(item)
        repo["num_files"] += 1
        self._files_pending += 1

    def _flush(self) -> None:
        if not self._pending and not self._repos:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.shards_dir / f"shard-{len(self.shards):05d}.parquet"
        if self.layout == "nested":
            schema = nested_schema(self.inline_content)
            table = pa.Table.from_pylist(list(self._repos.values()), schema=schema)
            self._repos, self._files_pending = {}, 0
        else:
            schema = arrow_schema()
            if self.inline_content:
                schema = schema.append(pa.field("content", pa.string()))
            table = pa.Table.from_pylist(self._pending, schema=schema)
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
