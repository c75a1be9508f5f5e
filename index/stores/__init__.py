"""Index stores: one interface in three parts (:class:`StoreReader`, :class:`StoreWriter`,
:class:`StoreAdmin`, joined by :class:`Store`) and a factory that picks one from a target.

A target is a SQLite file path (the embedded default) or an ``http(s)://`` URL of an
Elasticsearch/OpenSearch node.
"""

from __future__ import annotations

import os

from whence.errors import WhenceError

from .base import (
    Fetched,
    OwnerRepo,
    OwnerRepos,
    Postings,
    RepoFile,
    RepoFiles,
    Store,
    StoreAdmin,
    StoreReader,
    StoreWriter,
    WriteResult,
)

__all__ = [
    "Fetched",
    "OwnerRepo",
    "OwnerRepos",
    "Postings",
    "RepoFile",
    "RepoFiles",
    "Store",
    "StoreAdmin",
    "StoreReader",
    "StoreWriter",
    "WriteResult",
    "is_remote",
    "open_store",
]


def is_remote(target: str | os.PathLike[str]) -> bool:
    """Whether a target names a search-engine node rather than a file."""
    return str(target).startswith(("http://", "https://"))


def open_store(
    target: str | os.PathLike[str], *, create: bool = False, readonly: bool = False, rebuild: bool = False
) -> Store:
    """Open the store named by ``target``.

    ``rebuild`` (search-engine targets only) writes into a fresh index that :meth:`Store.publish` (after
    the build) makes the live one.

    Raises:
        IndexNotFound: no index there and ``create`` is false.
        IndexFormatError: the file is not a whence index of this version.
        StoreUnavailable: no search engine answers at an ``http(s)://`` target.
        WhenceError: the target names a store this installation cannot open (the engine's client is
            not installed: ``pip install 'whence[elastic]'``).
    """
    if is_remote(target):
        from .elastic import ElasticStore

        return ElasticStore(str(target), create=create, readonly=readonly, rebuild=rebuild)
    if rebuild:
        raise WhenceError(
            f"{target}: --rebuild is for a search-engine index; build a SQLite index into a new file instead"
        )
    from .sqlite import SQLiteStore

    return SQLiteStore(target, create=create, readonly=readonly)
