"""Posting segments: the inverted index as immutable sorted runs of (hash, document) pairs.

Why not one SQLite row per posting: from Python each row costs ~2.5 µs to bind and insert, which alone
caps a build far below the fingerprinting speed (a 100,000-file corpus has ~25 million postings).  A
segment instead is a sorted numpy array cut into blocks of ``BLOCK`` pairs, each block one BLOB row, and
a directory (first and last hash of every block) kept in memory for search.  Writing is a numpy sort
plus a few thousand row inserts; looking a hash up is a binary search in the directory and one small
BLOB read.  Segments are merged (a numpy merge of sorted runs) when there are too many, like an LSM tree.

Block layout, little-endian, format version 1: ``n`` int64 hashes (sorted) followed by ``n`` uint32 docs.

Most hashes a query looks up are in no document (two thirds of them in the search benchmark: the index
keeps only the winnowed k-grams, the query looks up many more), yet the directory still names a block
that could hold each.  So each block also has a small Bloom filter of its hashes, kept in memory beside
the directory: :data:`FILTER_BYTES` (128) bytes a block, :data:`FILTER_PROBES` (3) bits set per distinct
hash, at the positions its low 30 bits give in slices of 10 (the hashes are xxh64 values: their low
bits are as good as independent draws, while the high bits are what sorts them into blocks).  With
256 distinct hashes in a block, about one hash in seven that is not in it passes its filter (fewer
with fewer); a hash that is passes always.  A lookup reads only the blocks whose filter passes one of
its hashes: on the 100,000-file benchmark index, 59 % of the blocks it read before, for half a byte of
memory per posting (twice the bytes spared the reads of 1.4 % of a search's time more: not worth the
memory of every search process).  A segment written before filters existed has none, and every block
it names is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import fingerprint as fp

BLOCK = 256
SEGMENT_FORMAT = 1
#: Bytes of each block's Bloom filter (1,024 bits: 4 per pair of a full block).
FILTER_BYTES = 128
#: Bits set per hash in a block's filter.
FILTER_PROBES = 3
_FILTER_BITS = 8 * FILTER_BYTES
_PROBE_SHIFT = 10  # log2(_FILTER_BITS): each probe takes the next 10 low bits of the hash
_FILTER_CHUNK = 1024  # blocks whose filters are computed at a time


@dataclass(frozen=True, slots=True)
class Directory:
    """In-memory directory of one segment: first and last hash of each block."""

    segment: int
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    #: Each block's Bloom filter, one row of FILTER_BYTES per block; None for a segment without filters.
    filters: npt.NDArray[np.uint8] | None = None

    def blocks_for(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Indices of the blocks that may hold any of the (sorted, unique) ``hashes``: those whose range
        of hashes includes one of them and whose filter (if the segment has filters) passes it."""
        lo = np.searchsorted(self.last, hashes, side="left")
        hi = np.searchsorted(self.first, hashes, side="right")
        spans = hi - lo
        if not spans.any():
            return np.zeros(0, dtype=np.int64)
        # Expand every [lo, hi) range; almost always a single block per hash.
        total = int(spans.sum())
        idx = np.repeat(lo - np.cumsum(spans) + spans, spans) + np.arange(total)
        if self.filters is not None:
            idx = idx[may_hold(self.filters, idx, np.repeat(hashes, spans))]
        return sorted_unique(idx)

    def certainly_over(self, hashes: npt.NDArray[np.int64], cap: int) -> npt.NDArray[np.int64]:
        """The (sorted, unique) ``hashes`` this segment alone holds in more than ``cap`` pairs, known from
        the directory without reading a block: a hash whose pairs span ``n`` blocks fills at least the
        ``n - 2`` between its first and its last (:data:`BLOCK` pairs each), so its posting list -- of
        any length -- costs a lookup a binary search, not a read."""
        lo = np.searchsorted(self.last, hashes, side="left")
        hi = np.searchsorted(self.first, hashes, side="right")
        over: npt.NDArray[np.int64] = hashes[(hi - lo - 2) * BLOCK > cap]
        return over


def sorted_unique(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``np.unique(x)`` by a sort and a neighbour test: numpy's hash-based unique (numpy >= 2.3) takes
    seconds on the million-element arrays of a many-file lookup (``whence scan``)."""
    s = np.sort(x)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    out: npt.NDArray[np.int64] = s[keep]
    return out


def in_sorted(sorted_values: npt.NDArray[Any], x: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Per element of ``x``: whether the sorted array ``sorted_values`` holds it, by binary search (np.isin
    would first np.unique ``x``, whose hash-based path, numpy >= 2.3, takes seconds on the millions of
    elements of a many-file lookup)."""
    if not len(sorted_values):
        return np.zeros(len(x), dtype=bool)
    at = np.searchsorted(sorted_values, x)
    at[at == len(sorted_values)] = 0
    found: npt.NDArray[np.bool_] = sorted_values[at] == x
    return found


def sort_pairs(hashes: npt.NDArray[np.int64], docs: npt.NDArray[np.integer[Any]]) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.uint32]
]:  # fmt: skip
    """Pairs sorted by (hash, doc): the compiled kernel's radix sort (a build's commits and merges
    spent a tenth of their time in ``np.lexsort``), or that."""
    fast = fp.sort_pairs(hashes, docs)
    if fast is not None:
        return fast
    order = np.lexsort((docs, hashes))
    return hashes[order], docs[order].astype(np.uint32)


def encode_blocks(
    hashes: npt.NDArray[np.int64], docs: npt.NDArray[np.uint32]
) -> tuple[list[bytes], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Cut sorted pairs into blocks; returns (block blobs, first hashes, last hashes)."""
    blobs: list[bytes] = []
    n = len(hashes)
    starts = np.arange(0, n, BLOCK)
    for s in starts.tolist():
        e = min(s + BLOCK, n)
        blobs.append(hashes[s:e].astype("<i8").tobytes() + docs[s:e].astype("<u4").tobytes())
    first = hashes[starts].astype(np.int64)
    last = hashes[np.minimum(starts + BLOCK, n) - 1].astype(np.int64)
    return blobs, first, last


def _probes(hashes: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
    """Each hash's :data:`FILTER_PROBES` bit positions in a block's filter."""
    u = hashes.view(np.uint64)
    mask = np.uint64(_FILTER_BITS - 1)
    return [((u >> np.uint64(_PROBE_SHIFT * j)) & mask).astype(np.int64) for j in range(FILTER_PROBES)]


def encode_filters(hashes: npt.NDArray[np.int64]) -> bytes:
    """The Bloom filters of the blocks :func:`encode_blocks` cuts ``hashes`` (sorted) into: FILTER_BYTES
    per block, in block order."""
    parts = []
    step = _FILTER_CHUNK * BLOCK  # a chunk at a time: a few MB of scratch whatever the segment's size
    for start in range(0, len(hashes), step):
        chunk = hashes[start : start + step]
        bits = np.zeros(-(-len(chunk) // BLOCK) * _FILTER_BITS, dtype=bool)
        base = (np.arange(len(chunk), dtype=np.int64) // BLOCK) * _FILTER_BITS
        for p in _probes(chunk):
            bits[base + p] = True
        parts.append(np.packbits(bits, bitorder="little").tobytes())
    return b"".join(parts)


def may_hold(
    filters: npt.NDArray[np.uint8], blocks: npt.NDArray[np.int64], hashes: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Per (block, hash) pair: whether the block's filter passes the hash (it always does when the block
    holds it; about one time in seven when it does not)."""
    ok = np.ones(len(blocks), dtype=bool)
    for p in _probes(hashes):
        ok &= (filters[blocks, p >> 3] >> (p & 7).astype(np.uint8)) & 1 == 1
    return ok


def decode_block(blob: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """Inverse of one block of :func:`encode_blocks`."""
    n = len(blob) // 12
    return np.frombuffer(blob, dtype="<i8", count=n), np.frombuffer(blob, dtype="<u4", offset=8 * n)


def decode_blocks(blobs: list[bytes]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """All pairs of several blocks, decoded at once (full blocks in one reshape, short ones apart)."""
    full = [b for b in blobs if len(b) == 12 * BLOCK]
    parts_h: list[npt.NDArray[np.int64]] = []
    parts_d: list[npt.NDArray[np.uint32]] = []
    if full:
        raw = np.frombuffer(b"".join(full), dtype=np.uint8).reshape(len(full), 12 * BLOCK)
        parts_h.append(np.ascontiguousarray(raw[:, : 8 * BLOCK]).view("<i8").reshape(-1))
        parts_d.append(np.ascontiguousarray(raw[:, 8 * BLOCK :]).view("<u4").reshape(-1))
    for b in blobs:
        if len(b) != 12 * BLOCK:
            h, d = decode_block(b)
            parts_h.append(h)
            parts_d.append(d)
    if not parts_h:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32)
    return np.concatenate(parts_h), np.concatenate(parts_d)


def merge_runs(
    runs: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """Merge sorted runs into one sorted run (duplicate pairs removed)."""
    if not runs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32)
    h, d = sort_pairs(np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs]))
    if len(h) > 1:
        keep = np.ones(len(h), dtype=bool)
        keep[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
        h, d = h[keep], d[keep]
    return h, d
