"""Ingestion: sources -> fingerprinted documents -> a store.

:func:`sources` picks the reader for each source path -- folders and JSONL files (:mod:`.sources`), The
Stack v2's parquet shards (:mod:`.stackv2`, contents from a blob store, :mod:`.blobs`) -- and
:func:`build` (:mod:`.pipeline`) indexes the files they yield.  Callers import both from here; nothing
under :mod:`whence.index` imports this module.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from whence.errors import InvalidInput

from . import shardfs, stackv2
from .blobs import BlobStore
from .pipeline import BATCH_FILES, BuildReport, build, check_text, prepare, to_utf8
from .sources import (
    DEFAULT_MAX_BYTES,
    LANGUAGES,
    SKIP_DIRS,
    SourceFile,
    Sources,
    folder_files,
    jsonl_files,
    language_of,
)

__all__ = [
    "BATCH_FILES",
    "DEFAULT_MAX_BYTES",
    "LANGUAGES",
    "SKIP_DIRS",
    "BuildReport",
    "SourceFile",
    "Sources",
    "build",
    "check_text",
    "folder_files",
    "jsonl_files",
    "language_of",
    "prepare",
    "sources",
    "to_utf8",
]


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
        max_bytes: shard rows longer than this (by ``length_bytes``) are skipped without being fetched,
            folder files larger than this (by their size) without being read, JSONL lines longer than
            its JSON-escaped size without being held.
    """
    if license_type not in stackv2.LICENSE_TYPES:
        raise InvalidInput(
            f"license_type must be one of {', '.join(stackv2.LICENSE_TYPES)}, got {license_type!r}"
        )
    plan: list[Callable[[], Iterator[SourceFile]]] = []
    total, all_counted = 0, True
    plan_shard = functools.partial(
        _plan_shard, plan, blobs=blobs, license_type=license_type, include_vendor=include_vendor,
        include_generated=include_generated, max_bytes=max_bytes,
    )  # fmt: skip
    locations: list[str | os.PathLike[str]] = []
    for given in paths:
        text = str(given)
        locations.extend(shardfs.expand_url(text) if shardfs.is_url(text) else stackv2.expand([text]))
    for loc in locations:
        if isinstance(loc, str):  # a shard URL
            total += plan_shard(loc)
            continue
        p = Path(loc)
        if p.is_dir():
            plan.append(functools.partial(folder_files, p, repo, licenses, max_bytes=max_bytes))
            all_counted = False
        elif p.is_file() and p.suffix in (".jsonl", ".ndjson"):
            plan.append(functools.partial(jsonl_files, p, repo, licenses, license_type, max_bytes=max_bytes))
            all_counted = False
        elif p.is_file() and p.suffix == ".parquet":
            total += plan_shard(str(p))
        elif p.exists():
            raise InvalidInput(f"{p}: not a folder, a .jsonl file or a .parquet shard")
        else:
            raise InvalidInput(f"{p}: no such file or folder")
    return Sources(itertools.chain.from_iterable(make() for make in plan), total if all_counted else None)


def _plan_shard(
    plan: list[Callable[[], Iterator[SourceFile]]],
    location: str,
    *,
    blobs: BlobStore | None,
    license_type: str,
    include_vendor: bool,
    include_generated: bool,
    max_bytes: int | None,
) -> int:
    """Check the shard at ``location`` now and plan reading its rows; returns its row count."""
    shard = stackv2.check_shard(location)
    stackv2.require_contents(shard, blobs)
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
    return shard.rows
