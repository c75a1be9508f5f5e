"""The Stack v2 shards: parquet rows -> files to index, in either of the dataset's layouts.

* **Per file** (``bigcode/the-stack-v2``, ``-dedup``; ``data/<Language>/train-NNNNN-of-MMMMM.parquet``):
  one row per file, with ``blob_id``, ``directory_id``, ``path``, ``content_id``, ``detected_licenses``,
  ``license_type``, ``repo_name``, ``snapshot_id``, ``revision_id``, ``branch_name``, dates, counts,
  ``src_encoding``, ``language``, ``is_vendor``, ``is_generated``, ``length_bytes``, ``extension``.
* **Repository-nested** (``-train-full-ids``, ``-train-smol-ids``, what StarCoder2 was trained on): one
  row per repository -- ``repo_name``, ``revision_id``, ``branch_name``, dates, counts -- with its files
  in a ``files`` list of structs (``blob_id``, ``path``, ``content_id``, ``language``, ``length_bytes``,
  ``detected_licenses``, ``license_type``, ``src_encoding``, ``is_vendor``, ``is_generated``, ...).

The layout is recognised from the schema.  The released datasets carry no file contents: they are fetched
by ``blob_id`` from a blob store (:mod:`.blobs`) and decoded from ``src_encoding``.  A ``content`` column
(or ``content`` field of the file structs), where a shard has one, is used first.

Every shard is checked before a single row is read -- footer, layout, column presence and types -- so a
truncated or malformed shard stops the build with an error naming the file and the column while the
index is still unchanged.  Rows are then streamed in record batches, reading only the columns ingestion
needs, so memory stays flat however large the shards are.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whence.errors import InvalidInput, WhenceError

from . import lexer, shardfs
from .blobs import BlobStore
from .model import Occurrence, github_url
from .sources import SourceFile

#: Rows read at a time: files of a per-file shard; repositories of a nested one (each holds many files).
BATCH_ROWS = 1024
NESTED_BATCH_ROWS = 64
LICENSE_TYPES = ("permissive", "no_license", "all")
LAYOUTS = ("per-file", "nested")

_STRING = "string"
_STRINGS = "list<string>"
_BOOL = "bool"
_INT = "integer"
_TEXT = "string or binary"
#: A file's fields, with the type each must have (a column of a per-file shard, a field of a nested
#: shard's file structs); every one is required except ``content``.
FILE_FIELDS: dict[str, str] = {
    "blob_id": _STRING,
    "path": _STRING,
    "detected_licenses": _STRINGS,
    "license_type": _STRING,
    "src_encoding": _STRING,
    "language": _STRING,
    "is_vendor": _BOOL,
    "is_generated": _BOOL,
    "length_bytes": _INT,
}
#: A repository's fields: columns of either layout.
REPO_FIELDS: dict[str, str] = {"repo_name": _STRING, "revision_id": _STRING}
OPTIONAL = {"content": _TEXT}
#: The columns a per-file shard must have (kept under its old name for callers).
COLUMNS: dict[str, str] = FILE_FIELDS | REPO_FIELDS


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
    """A checked shard: where it is (a local path or a URL), its layout (``per-file`` or ``nested``),
    its row count (files, or repositories), how many files it holds when that is known without reading
    them (``num_files`` of a nested shard), and whether it carries contents."""

    path: str
    rows: int
    has_content: bool
    layout: str = "per-file"
    files: int | None = None


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


def _check_fields(path: str, where: str, fields: Any, want: dict[str, str], optional: dict[str, str]) -> bool:
    """Check ``fields`` (a schema or a struct type) has every field of ``want`` with its type; returns
    whether it has ``content``."""
    names = {f.name: f.type for f in fields}
    for name, kind in (want | optional).items():
        t = names.get(name)
        if t is None:
            if name in want:
                raise InvalidInput(f"{path}: missing {where}'{name}' (a Stack v2 shard has it)")
            continue
        if not _kind_ok(t, kind):
            raise InvalidInput(f"{path}: {where}'{name}' has type {t}, expected {kind}")
    return "content" in names


def _files_type(schema: Any) -> Any:
    """The struct type of a nested shard's ``files`` column, or None when the shard is per-file."""
    import pyarrow as pa

    idx = schema.get_field_index("files")
    if idx < 0:
        return None
    t = schema.field(idx).type
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type):
        return t.value_type
    return None


def check_shard(location: str | Path) -> Shard:
    """Open a shard's footer and check its layout, columns and their types.

    Raises:
        InvalidInput: not a readable parquet file (truncated, not parquet), neither layout, a required
            column or field missing, or one of the wrong type -- the message names the file and the column.
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
        files = _files_type(schema)
        if files is not None:
            _check_fields(path, "column ", schema, REPO_FIELDS, {})
            content = _check_fields(path, "field of 'files' ", files, FILE_FIELDS, OPTIONAL)
            return Shard(path, meta.num_rows, content, "nested", _count_files(pf, schema))
        if schema.get_field_index("blob_id") < 0 and schema.get_field_index("files") >= 0:
            raise InvalidInput(
                f"{path}: column 'files' has type {schema.field('files').type}, expected a list of structs"
            )
        if schema.get_field_index("blob_id") < 0 and schema.get_field_index("repo_name") >= 0:
            raise InvalidInput(
                f"{path}: missing column 'blob_id' (a per-file Stack v2 shard has it) and no 'files' list of"
                " structs (a repository-nested shard has it)"
            )
        content = _check_fields(path, "column ", schema, COLUMNS, OPTIONAL)
        return Shard(path, meta.num_rows, content, "per-file", meta.num_rows)


def _count_files(pf: Any, schema: Any) -> int | None:
    """A nested shard's file count from its ``num_files`` column (one small integer column), if any."""
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = schema.get_field_index("num_files")
    if idx < 0 or not pa.types.is_integer(schema.field(idx).type):
        return None
    try:
        column = pf.read(columns=["num_files"]).column(0)
    except (pa.ArrowException, OSError):
        return None
    return int(pc.sum(column).as_py() or 0)


_DATA_LANGUAGE = re.compile(r"(?:^|/)data/([^/]+)/[^/]+\.parquet$")


def folder_language(location: str) -> str:
    """The language a per-file dataset's folder names (``data/<Language>/train-....parquet``), or ``""``."""
    m = _DATA_LANGUAGE.search(location.replace(os.sep, "/"))
    return m.group(1) if m else ""


_DATASET_EXTRAS = frozenset({"readme.md", ".gitattributes", "license", "license.md", "license.txt"})


def dataset_shards(folder: Path) -> list[Path]:
    """The shards of a dataset's folder (``bigcode/the-stack-v2-train-full-ids`` as downloaded, or its
    ``data/``): every ``.parquet`` file under it, sorted -- when the folder holds nothing but shards (and
    a dataset's README, ``.gitattributes``, license and ``*.json`` files, and hidden folders such as a
    download cache).  Any other file makes it a folder of source files: ``[]``."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            lower = name.lower()
            if lower.endswith(".parquet"):
                found.append(Path(root) / name)
            elif lower in _DATASET_EXTRAS or lower.endswith(".json") or name.startswith("."):
                continue
            else:
                return []
    return sorted(found)


def expand(patterns: Sequence[str]) -> list[Path]:
    """Source paths from paths and glob patterns (``**`` matches folders recursively); a dataset's folder
    (:func:`dataset_shards`) stands for its shards.  A pattern that matches nothing is an error."""
    out: list[Path] = []
    for pat in patterns:
        if any(ch in pat for ch in "*?[") and not os.path.exists(pat):
            hits = sorted(glob.glob(pat, recursive=True))
            if not hits:
                raise InvalidInput(f"{pat}: no file matches")
            paths = [Path(h) for h in hits]
        else:
            paths = [Path(pat)]
        for p in paths:
            shards = dataset_shards(p) if p.is_dir() else []
            out.extend(shards or [p])
    return out


@dataclass(frozen=True, slots=True)
class Row:
    """The fields of one file that ingestion uses (from a row of a per-file shard, or from a file of a
    nested shard's repository row)."""

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
    content: bytes | str | None


def file_row(f: Mapping[str, Any], repo: str, revision: str) -> Row:
    """The :class:`Row` of one file: ``f`` holds its fields (a per-file shard's row, or one of a nested
    shard's ``files`` structs), ``repo`` and ``revision`` its repository's.  Every reader of shards --
    :func:`rows` here, the Spark job (:mod:`.spark`) -- goes through it, so both index the same files."""
    return Row(
        blob_id=f.get("blob_id") or "",
        repo=repo,
        path=(f.get("path") or "").lstrip("/"),
        licenses=tuple(x for x in f.get("detected_licenses") or () if x),
        license_type=f.get("license_type") or "",
        revision=revision,
        encoding=f.get("src_encoding") or "",
        language=f.get("language") or "",
        is_vendor=bool(f.get("is_vendor")),
        is_generated=bool(f.get("is_generated")),
        length_bytes=int(f.get("length_bytes") or 0),
        content=f.get("content"),
    )


def rows(shard: Shard) -> Iterator[Row]:
    """The files of a checked shard, streamed in record batches, in either layout."""
    import pyarrow as pa

    try:
        with open_parquet(shard.path) as pf:
            if shard.layout == "nested":
                cols = [*REPO_FIELDS, "files"]
                for batch in pf.iter_batches(batch_size=NESTED_BATCH_ROWS, columns=cols):
                    data = batch.to_pydict()
                    for repo, revision, files in zip(
                        data["repo_name"], data["revision_id"], data["files"], strict=True
                    ):
                        for f in files or ():
                            yield file_row(f, repo or "", revision or "")
                return
            cols = list(COLUMNS) + (["content"] if shard.has_content else [])
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
                for rec in batch.to_pylist():
                    yield file_row(rec, rec.get("repo_name") or "", rec.get("revision_id") or "")
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


def language_key(name: str) -> str:
    """How languages are compared when selecting them (``--language``): the lexer's spelling when it
    has a profile (``python`` -> ``Python``), case-folded."""
    return (lexer.canonical_language(name) or name).casefold()


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files of the shards to index.

    Attributes:
        license_types: ``license_type`` values to keep (``None``: every one).
        languages: language keys (:func:`language_key`) to keep (``None``: every one).
        include_vendor, include_generated: also keep files The Stack marks so.
        max_bytes: files longer than this (by ``length_bytes``) are left out without being fetched.
    """

    license_types: frozenset[str] | None = frozenset({"permissive"})
    languages: frozenset[str] | None = None
    include_vendor: bool = False
    include_generated: bool = False
    max_bytes: int | None = None

    def skip(self, r: Row) -> str:
        """Why ``r`` is left out (a skip counter), or ``""``."""
        if self.license_types is not None and r.license_type not in self.license_types:
            return "filtered_license"
        if self.languages is not None and language_key(r.language) not in self.languages:
            return "filtered_language"
        if r.is_vendor and not self.include_vendor:
            return "vendor"
        if r.is_generated and not self.include_generated:
            return "generated"
        if self.max_bytes is not None and r.length_bytes > self.max_bytes:
            return "too_large"
        return ""

    def wants_folder(self, location: str) -> bool:
        """Whether a shard in a per-language folder (:func:`folder_language`) can hold a selected file."""
        lang = folder_language(location)
        return self.languages is None or not lang or language_key(lang) in self.languages


def license_selection(values: Collection[str]) -> frozenset[str] | None:
    """``--license-type`` values -> the set to keep (``all`` anywhere: ``None``, every one)."""
    for v in values:
        if v not in LICENSE_TYPES:
            raise InvalidInput(f"license_type must be one of {', '.join(LICENSE_TYPES)}, got {v!r}")
    if not values or "all" in values:
        return None
    return frozenset(values)


def shard_files(
    shards: Sequence[Shard], blobs: BlobStore | None, *, selection: Selection, dataset: str = ""
) -> Iterator[SourceFile]:
    """:class:`SourceFile` objects for the files of checked shards, with files left out marked by reason.

    Reasons (:meth:`Selection.skip`): ``filtered_license``, ``filtered_language``, ``vendor``,
    ``generated``, ``too_large`` (by ``length_bytes``, so the blob is never fetched); later, while
    reading, ``missing_blob`` and ``undecodable``.  Every file is tagged with ``dataset`` (the name the
    index records its rows under; ``""``: unnamed).
    """
    for shard in shards:
        require_contents(shard, blobs)
        for r in rows(shard):
            yield source_file(r, shard.path, blobs, selection, dataset)


def source_file(
    r: Row, shard: str, blobs: BlobStore | None, selection: Selection, dataset: str
) -> SourceFile:
    """The :class:`SourceFile` of one row of the shard at ``shard``: its occurrence (tagged with
    ``dataset``), where its bytes come from (the row's content, else the blob store by ``blob_id``), and
    why it is left out, if it is (:meth:`Selection.skip`)."""
    skip = selection.skip(r)
    url = github_url(r.repo, r.revision, r.path)
    occ = Occurrence(r.repo, r.path, r.licenses, r.revision, url, dataset=dataset)
    load: Callable[[], bytes]
    fetched = False
    if isinstance(r.content, str):
        load = _constant(r.content.encode("utf-8", "surrogatepass"))
        encoding = ""  # an inline text column is already text
    elif r.content is not None:
        load = _constant(bytes(r.content))
        encoding = r.encoding  # inline bytes are the file's own
    elif blobs is not None:
        load = _fetch(blobs, r.blob_id)
        encoding = r.encoding
        fetched = True
    else:
        load = _missing
        encoding = ""
    return SourceFile(
        load, occ, r.language, r.blob_id, f"{shard}:{r.blob_id}", skip=skip, encoding=encoding,
        fetched=fetched, dataset=dataset,
    )  # fmt: skip


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _fetch(blobs: BlobStore, blob_id: str) -> Callable[[], bytes]:
    return lambda: blobs.get(blob_id)
