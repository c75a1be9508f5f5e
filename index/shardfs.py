"""Where shards are read from: a local path today; URLs through fsspec (``s3://``, ``gs://``,
``hf://datasets/...``, ``file://``) plug in here.

:mod:`.stackv2` opens every shard through :func:`arrow_source` and sizes it with :func:`size_of`, and
:func:`whence.index.ingest.sources` hands URL patterns to :func:`expand_url`; nothing else in the index
knows where a shard's bytes live.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from whence.errors import InvalidInput


def is_url(text: str) -> bool:
    """Whether ``text`` names a shard by URL (``scheme://...``) rather than by local path."""
    return "://" in text


def expand_url(pattern: str) -> list[str]:
    """The shard URLs a URL or URL glob names."""
    raise InvalidInput(f"{pattern}: shards are read from local paths only")


def arrow_source(location: str) -> tuple[str, Any]:
    """``(path, filesystem)`` for :class:`pyarrow.parquet.ParquetFile`: the path of the shard within a
    pyarrow filesystem, and that filesystem (``None``: the local one).  pyarrow opens the file through
    the filesystem and closes it with the :class:`~pyarrow.parquet.ParquetFile`."""
    return location, None


def size_of(location: str) -> int:
    """The shard's size in bytes."""
    return os.stat(location).st_size


@dataclass(frozen=True, slots=True)
class ShardSource:
    """What a shard is, for the index's record of its sources."""

    location: str
    size: int
    checksum: str  # "<kind>:<value>": "sha256:..." (the bytes), "etag:..." (an object store's)
    dataset: str
    revision: str


def describe(location: str) -> ShardSource:
    """Size and checksum of the shard at ``location`` (a local file: the sha256 of its bytes, read
    through once in 1 MiB pieces), and the dataset and revision its location names."""
    import hashlib

    from .datasets import identify

    digest = hashlib.sha256()
    with open(location, "rb") as fh:
        for piece in iter(lambda: fh.read(1 << 20), b""):
            digest.update(piece)
    dataset, revision = identify(location)
    return ShardSource(location, size_of(location), f"sha256:{digest.hexdigest()}", dataset, revision)
