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
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from whence.errors import InvalidInput

from . import datasets, shardfs, stackv2
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


@dataclass(frozen=True, slots=True)
class PlannedShard:
    """A shard a build reads: the checked shard and the dataset (and revision) its rows are recorded
    under (``""`` when unknown)."""

    shard: stackv2.Shard
    dataset: str
    revision: str


def sources(
    paths: Sequence[str | os.PathLike[str]],
    repo: str | None = None,
    licenses: Sequence[str] = (),
    license_type: str | Collection[str] = "permissive",
    *,
    blobs: BlobStore | None = None,
    include_vendor: bool = False,
    include_generated: bool = False,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    languages: Collection[str] | None = None,
    dataset: str | None = None,
    revision: str | None = None,
    subset: str | None = None,
) -> Sources:
    """Files of every source path, in order: folders, ``.jsonl`` files and Stack v2 ``.parquet`` shards
    of either layout (paths, glob patterns, a dataset's folder, or URLs: :mod:`.shardfs`).

    Every path is checked now, before the first file is yielded -- each shard's footer, layout, columns
    and types included -- so a bad source raises :class:`InvalidInput` while nothing has been written.
    The shards are listed in :attr:`Sources.shards`.

    Args:
        paths: folders, JSONL files, parquet shards, dataset folders, URLs or glob patterns of them.
        repo, licenses: describe a plain folder (and JSONL records without those fields).
        license_type: keep only JSONL records and shard rows with this ``license_type``, or one of these
            (``all``: every one; JSONL records without the field are kept).
        blobs: where shard rows without a ``content`` column get their contents.
        include_vendor, include_generated: also index rows The Stack marks ``is_vendor``/``is_generated``.
        max_bytes: shard rows longer than this (by ``length_bytes``) are skipped without being fetched,
            folder files larger than this (by their size) without being read, JSONL lines longer than
            its JSON-escaped size without being held.
        languages: keep only shard rows of these languages (The Stack's names, any case); shards in a
            per-language folder of another language (``data/<Language>/``) are not even opened.
        dataset, revision: the dataset and revision the shards' rows are recorded under (default: what
            each shard's location says, :func:`whence.index.datasets.identify`).
        subset: a named selection (:data:`whence.index.datasets.SUBSETS`): its license types, and every
            shard must be of its dataset (a shard whose dataset is unknown is taken to be).
    """
    types = [license_type] if isinstance(license_type, str) else list(license_type)
    if subset is not None:
        chosen = datasets.subset(subset)
        if dataset and dataset != chosen.dataset:
            raise InvalidInput(f"--subset {subset} is {chosen.dataset}, not --dataset {dataset}")
        types = sorted(chosen.license_types)
        dataset = chosen.dataset
    selection = stackv2.Selection(
        stackv2.license_selection(types),
        frozenset(map(stackv2.language_key, languages)) if languages else None,
        include_vendor,
        include_generated,
        max_bytes,
    )
    plan: list[Callable[[], Iterator[SourceFile]]] = []
    shards: list[PlannedShard] = []
    total, all_counted, plain = 0, True, 0

    def plan_shard(location: str) -> None:
        nonlocal total, all_counted
        if not selection.wants_folder(location):
            return
        found, rev = datasets.identify(location)
        if dataset and found and found != dataset:
            what = f"--subset {subset}" if subset else f"--dataset {dataset}"
            raise InvalidInput(f"{location}: a shard of {found}, but {what} reads {dataset}")
        shard = stackv2.check_shard(location)
        stackv2.require_contents(shard, blobs)
        name = dataset or found
        shards.append(PlannedShard(shard, name, revision or rev))
        if shard.files is None:
            all_counted = False
        else:
            total += shard.files
        plan.append(functools.partial(stackv2.shard_files, [shard], blobs, selection=selection, dataset=name))

    locations: list[str | os.PathLike[str]] = []
    for given in paths:
        text = str(given)
        locations.extend(shardfs.expand_url(text) if shardfs.is_url(text) else stackv2.expand([text]))
    for loc in locations:
        if isinstance(loc, str):  # a shard URL
            plan_shard(loc)
            continue
        p = Path(loc)
        if p.is_dir():
            plan.append(functools.partial(folder_files, p, repo, licenses, max_bytes=max_bytes))
            all_counted, plain = False, plain + 1
        elif p.is_file() and p.suffix in (".jsonl", ".ndjson"):
            keep = "all" if selection.license_types is None else selection.license_types
            plan.append(functools.partial(jsonl_files, p, repo, licenses, keep, max_bytes=max_bytes))
            all_counted, plain = False, plain + 1
        elif p.is_file() and p.suffix == ".parquet":
            plan_shard(str(p))
        elif p.exists():
            raise InvalidInput(f"{p}: not a folder, a .jsonl file or a .parquet shard")
        else:
            raise InvalidInput(f"{p}: no such file or folder")
    out = Sources(itertools.chain.from_iterable(make() for make in plan), total if all_counted else None)
    out.shards = shards
    out.selection = selection
    out.plain = plain
    return out
