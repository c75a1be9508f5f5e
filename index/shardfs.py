"""Where shards are read from: a local path today; URLs through fsspec (``s3://``, ``gs://``,
``hf://datasets/...``, ``file://``) plug in here.

:mod:`.stackv2` opens every shard through :func:`arrow_source` and sizes it with :func:`size_of`, and
:func:`whence.index.ingest.sources` hands URL patterns to :func:`expand_url`; nothing else in the index
knows where a shard's bytes live.
"""

from __future__ import annotations

import os
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
