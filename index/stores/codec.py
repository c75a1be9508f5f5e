"""What every store encodes the same way: document contents (zstd) and the fingerprint parameters an
index was built with (checked on open: searching an index with other parameters would silently miss
matches)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import zstandard

from whence.errors import IndexFormatError

from .. import fingerprint as fp
from .. import lexer

#: Fingerprint parameters an index is built with; each store adds its own layout version beside them.
FINGERPRINT_PARAMS: dict[str, str] = {
    "k": str(fp.K),
    "w": str(fp.W),
    "num_perm": str(fp.NUM_PERM),
    "bands": str(fp.BANDS),
    "minhash_seed": str(fp.MINHASH_SEED),
    # The tokenisation rules: documents lexed with others would not match the queries lexed now.
    "lexer": str(lexer.LEXER_VERSION),
}

_local = threading.local()


def compressor() -> zstandard.ZstdCompressor:
    """A zstd compressor for this thread (they are not thread-safe).  Level 1: 3x faster than zlib's
    fastest level here, with a better ratio."""
    c: zstandard.ZstdCompressor | None = getattr(_local, "zstd_c", None)
    if c is None:
        c = _local.zstd_c = zstandard.ZstdCompressor(level=1)
    return c


def decompressor() -> zstandard.ZstdDecompressor:
    """A zstd decompressor for this thread (they are not thread-safe)."""
    d: zstandard.ZstdDecompressor | None = getattr(_local, "zstd_d", None)
    if d is None:
        d = _local.zstd_d = zstandard.ZstdDecompressor()
    return d


def check_params(found: Mapping[str, object], want: Mapping[str, str], where: str, remedy: str) -> None:
    """Raise :class:`IndexFormatError` unless the parameters ``found`` in an index (at ``where``) are
    the ``want``-ed ones; the message ends with ``remedy`` (how to rebuild it)."""
    for key, value in want.items():
        if key not in found:
            raise IndexFormatError(
                f"{where} was built by an earlier whence (it records no {key}; this whence uses "
                f"{key}={value!r}, so it would miss matches): {remedy}"
            )
        if found.get(key) != value:
            raise IndexFormatError(
                f"{where} was built with {key}={found.get(key)!r}, this whence uses {value!r}: {remedy}"
            )
