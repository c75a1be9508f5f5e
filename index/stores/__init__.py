"""Index stores: one narrow interface (:class:`Store`) and a factory that picks one from a target.

A target is a SQLite file path (the embedded default) or an ``http(s)://`` URL of an
Elasticsearch/OpenSearch node.
"""

from __future__ import annotations

import os

from ..errors import WhenceError
from .base import Postings, RepoFile, RepoFiles, Store, WriteResult

__all__ = ["Postings", "RepoFile", "RepoFiles", "Store", "WriteResult", "is_remote", "open_store"]


def is_remote(target: str | os.PathLike[str]) -> bool:
    """Whether a target names a search-engine node rather than a file."""
    return str(target).startswith(("http://", "https://"))


def open_store(target: str | os.PathLike[str], *, create: bool = False, readonly: bool = False) -> Store:
    """Open the store named by ``target``.

    Raises:
        IndexNotFound: no index there and ``create`` is false.
        IndexFormatError: the file is not a whence index of this version.
        WhenceError: the target names a store this installation cannot open.
    """
    if is_remote(target):
        raise WhenceError(
            f"{target}: the Elasticsearch/OpenSearch store is not part of this version of whence; "
            "use a SQLite index file path"
        )
    from .sqlite import SQLiteStore

    return SQLiteStore(target, create=create, readonly=readonly)
