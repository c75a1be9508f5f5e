"""The Stack v2 shards: parquet rows -> files to index.

A shard is a parquet file with The Stack v2's columns (``blob_id``, ``directory_id``, ``path``,
``content_id``, ``detected_licenses``, ``license_type``, ``repo_name``, ``snapshot_id``, ``revision_id``,
``branch_name``, dates, ``star_events_count``, ``fork_events_count``, ``gha_license_id``,
``gha_language``, ``src_encoding``, ``language``, ``is_vendor``, ``is_generated``, ``length_bytes``,
``extension``).  The released dataset has no content column: contents are fetched by ``blob_id`` from a
blob store (:mod:`.blobs`) and decoded from ``src_encoding``.  A ``content`` column, where a shard has
one, is used first.

Every shard is checked before a single row is read -- footer, column presence and column types -- so a
truncated or malformed shard stops the build with an error naming the file and the column while the
index is still unchanged.  Rows are then streamed in record batches of :data:`BATCH_ROWS`, reading only
the columns ingestion needs, so memory stays flat however large the shards are.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whence.errors import InvalidInput, WhenceError

from . import shardfs
from .blobs import BlobStore
from .model import Occurrence, github_url
from .sources import SourceFile

BATCH_ROWS = 1024
LICENSE_TYPES = ("permissive", "no_license", "all")

_STRING = "string"
_STRINGS = "list<string>"
_BOOL = "bool"
_INT = "integer"
_TEXT = "string or binary"
#: Columns read, with the type each must have; every one is required except ``content``.
COLUMNS: dict[str, str] = {
    "blob_id": _STRING,
    "repo_name": _STRING,
    "path": _STRING,
    "detected_licenses": _STRINGS,
    "license_type": _STRING,
    "revision_id": _STRING,
    "src_encoding": _STRING,
    "language": _STRING,
    "is_vendor": _BOOL,
    "is_generated": _BOOL,
    "length_bytes": _INT,
}
OPTIONAL = {"content": _TEXT}


def _kind_ok(t: Any, want: str) -> bool:
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(t):
        t = t.value_type
    if want == _STRING:
        return bool(types.is_string(t) or types.is_large_string(t))
    if want == _TEXT:
        return bool(
            types.is_string(t) or types.is_large_string(t) or types.is_binary(t) or types.is_large_binary(t)
        )
    if want == _STRINGS:
        return bool((types.is_list(t) or types.is_large_list(t)) and _kind_ok(t.value_type, _STRING))
    if want == _BOOL:
        return bool(types.is_boolean(t))
    return bool(types.is_integer(t))


@dataclass(frozen=True, slots=True)
class Shard:
    """A checked shard: where it is (a local path or a URL), its row count and whether it carries
    contents."""

    path: str
    rows: int
    has_content: bool


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise WhenceError("reading parquet shards needs pyarrow: pip install pyarrow") from exc
    return pq


def open_parquet(location: str) -> Any:
    """A :class:`pyarrow.parquet.ParquetFile` over the shard at ``location`` (:mod:`.shardfs`)."""
    pq = _parquet()
    path, filesystem = shardfs.arrow_source(location)
    return pq.ParquetFile(path, filesystem=filesystem)


def check_shard(location: str | Path) -> Shard:
    """Open a shard's footer and check its columns and their types.

    Raises:
        InvalidInput: not a readable parquet file (truncated, not parquet), a required column missing,
            or a column of the wrong type -- the message names the file and the column.
    """
    import pyarrow as pa

    path = str(location)
    try:
        pf = open_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"{path}: not a readable parquet file (truncated or corrupt?): {exc}") from exc
    with pf:
        schema = pf.schema_arrow
        size = shardfs.size_of(path)
        meta = pf.metadata
        # A file cut short can keep a readable footer only by accident; the column chunks would then
        # point past its end.  Checking the offsets costs nothing and catches it before any row is read.
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            for c in range(rg.num_columns):
                col = rg.column(c)
                start = col.dictionary_page_offset or col.data_page_offset
                if start + col.total_compressed_size > size:
                    raise InvalidInput(
                        f"{path}: column '{col.path_in_schema}' of row group {g} runs past the end of the "
                        "file (truncated?)"
                    )
        for name, want in (COLUMNS | OPTIONAL).items():
            idx = schema.get_field_index(name)
            if idx < 0:
                if name in COLUMNS:
                    raise InvalidInput(f"{path}: missing column '{name}' (a Stack v2 shard has it)")
                continue
            t = schema.field(idx).type
            if not _kind_ok(t, want):
                raise InvalidInput(f"{path}: column '{name}' has type {t}, expected {want}")
        return Shard(path, meta.num_rows, schema.get_field_index("content") >= 0)


def expand(patterns: Sequence[str]) -> list[Path]:
    """Shard paths from paths and glob patterns (a pattern that matches nothing is an error)."""
    out: list[Path] = []
    for pat in patterns:
        if any(ch in pat for ch in "*?[") and not os.path.exists(pat):
            hits = sorted(glob.glob(pat, recursive=True))
            if not hits:
                raise InvalidInput(f"{pat}: no file matches")
            out.extend(Path(h) for h in hits)
        else:
            out.append(Path(pat))
    return out


@dataclass(frozen=True, slots=True)
class Row:
    """The columns of one row that ingestion uses."""

    blob_id: str
    repo: str
    path: str
    licenses: tuple[str, ...]
    license_type: str
    revision: str
    encoding: str
    language: str
    is_vendor: bool
    is_generated: bool
    length_bytes: int
    content: bytes | None


def rows(shard: Shard) -> Iterator[Row]:
    """The rows of a checked shard, streamed in record batches."""
    import pyarrow as pa

    cols = list(COLUMNS) + (["content"] if shard.has_content else [])
    try:
        with open_parquet(shard.path) as pf:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
                data = {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}
                content = data.get("content") or [None] * batch.num_rows
                for i in range(batch.num_rows):
                    text = content[i]
                    if isinstance(text, str):
                        text = text.encode("utf-8", "surrogatepass")
                    yield Row(
                        blob_id=data["blob_id"][i] or "",
                        repo=data["repo_name"][i] or "",
                        path=(data["path"][i] or "").lstrip("/"),
                        licenses=tuple(x for x in data["detected_licenses"][i] or () if x),
                        license_type=data["license_type"][i] or "",
                        revision=data["revision_id"][i] or "",
                        encoding=data["src_encoding"][i] or "",
                        language=data["language"][i] or "",
                        is_vendor=bool(data["is_vendor"][i]),
                        is_generated=bool(data["is_generated"][i]),
                        length_bytes=int(data["length_bytes"][i] or 0),
                        content=text,
                    )
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"{shard.path}: cannot read rows: {exc}") from exc


def require_contents(shard: Shard, blobs: BlobStore | None) -> None:
    """Raise :class:`InvalidInput` when the shard's contents cannot be read at all."""
    if not shard.has_content and blobs is None:
        raise InvalidInput(
            f"{shard.path}: the shard has no 'content' column: pass --blobs FOLDER or s3://bucket to "
            "read contents by blob_id"
        )


def _missing() -> bytes:
    from .blobs import MissingBlob

    raise MissingBlob("the row has no content and no blob store was given")


def shard_files(
    shards: Sequence[Shard],
    blobs: BlobStore | None,
    *,
    license_type: str = "permissive",
    include_vendor: bool = False,
    include_generated: bool = False,
    max_bytes: int | None = None,
) -> Iterator[SourceFile]:
    """:class:`SourceFile` objects for the rows of checked shards, with rows left out marked by reason.

    Reasons: ``filtered_license`` (``license_type`` differs), ``vendor``, ``generated``, ``too_large``
    (by ``length_bytes``, so the blob is never fetched); later, while reading, ``missing_blob`` and
    ``undecodable``.
    """
    for shard in shards:
        require_contents(shard, blobs)
        for r in rows(shard):
            skip = ""
            if license_type != "all" and r.license_type != license_type:
                skip = "filtered_license"
            elif r.is_vendor and not include_vendor:
                skip = "vendor"
            elif r.is_generated and not include_generated:
                skip = "generated"
            elif max_bytes is not None and r.length_bytes > max_bytes:
                skip = "too_large"
            occ = Occurrence(r.repo, r.path, r.licenses, r.revision, github_url(r.repo, r.revision, r.path))
            load: Callable[[], bytes]
            if r.content is not None:
                load = _constant(r.content)
                encoding = ""  # an inline content column is already text
            elif blobs is not None:
                load = _fetch(blobs, r.blob_id)
                encoding = r.encoding
            else:
                load = _missing
                encoding = ""
            yield SourceFile(
                load, occ, r.language, r.blob_id, f"{shard.path}:{r.blob_id}", skip=skip, encoding=encoding
            )


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _fetch(blobs: BlobStore, blob_id: str) -> Callable[[], bytes]:
    return lambda: blobs.get(blob_id)
