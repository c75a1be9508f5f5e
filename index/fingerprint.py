"""Fingerprints: winnowed token k-grams (both views) and a MinHash signature with LSH band keys.

The pipeline for one text is::

    bytes --tokenize--> token hashes (exact, abstract) + lines
          --kgrams-->   one 64-bit hash per run of K consecutive tokens (rolling polynomial, mixed)
          --winnow-->   the rightmost minimum of every window of W k-grams (Schleimer et al. 2003)
          --minhash-->  datasketch "affine32" MinHash over the distinct exact k-grams, cut into bands

Winnowing guarantee: any run of at least ``T = K + W - 1`` tokens shared by two texts contains a window
of W k-grams that both texts see, so both select the same k-gram there and the run is found.  Runs
shorter than K tokens are never found (noise threshold).  See ``docs/fingerprints.md`` for how K, W and
the MinHash parameters were chosen from measurements.

Every function here has a pure-Python/numpy reference implementation; when the compiled
``whence.index._fastfp`` module is available (it is built by ``pip install``), the hot paths run there,
release the GIL (so threads use every core) and give bit-identical results.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from . import lexer
from .lexer import Tokens

try:  # pragma: no cover - exercised by whichever path is installed
    from . import _fastfp  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _fastfp = None

#: What this code calls in the compiled kernel.
KERNEL_FUNCTIONS = (
    "tokenize",
    "kgrams",
    "winnow",
    "minhash",
    "index_fingerprint",
    "seed_runs",
    "tile",
    "sort_pairs",
    "xxh64",
)


#: The version of the kernel's arguments and results this code calls it with (its ``INTERFACE``; a
#: kernel without one is 1).  2: ``index_fingerprint`` takes ``code_syntax`` and ``tiny``; 3: ``dense``
#: and ``salt``; 4: ``lines``; 5: ``shape_salt``; 6: the shape keys of a mid-size text's lines; 7:
#: ``sparse`` (a large text's line keys on sparse lines).
KERNEL_INTERFACE = 7


def _stale(kernel: object) -> str | None:
    """Why a compiled kernel cannot serve this code (built from older sources: a checkout pulled without
    rebuilding it), or None.  Its lexer must be this code's lexer, or it would fingerprint files as an
    older version did under this version's name; its functions must take what this code passes."""
    version = getattr(kernel, "LEXER_VERSION", None)
    if version != lexer.LEXER_VERSION:
        return f"it implements lexer {version or '1-3'}, this code lexer {lexer.LEXER_VERSION}"
    interface = getattr(kernel, "INTERFACE", 1)
    if interface != KERNEL_INTERFACE:
        return f"it has interface {interface}, this code calls interface {KERNEL_INTERFACE}"
    missing = [f for f in KERNEL_FUNCTIONS if not hasattr(kernel, f)]
    return f"it lacks {', '.join(missing)}" if missing else None


if _fastfp is not None and (_why := _stale(_fastfp)) is not None:
    warnings.warn(
        f"whence: the compiled kernel {getattr(_fastfp, '__file__', '_fastfp')} is older than this code "
        f"({_why}); using the pure-Python lexer and fingerprints (the same results, slower). Rebuild it: "
        "pip install -e . (or python setup.py build_ext --inplace)",
        RuntimeWarning,
        stacklevel=1,
    )
    _fastfp = None

#: Tokens per k-gram (noise threshold).
K = 16
#: k-grams per winnowing window.
W = 20
#: Guarantee threshold: shared runs of at least this many tokens are always found.
T = K + W - 1
#: A text of fewer tokens than this keeps every k-gram in the index, not only the winnowed ones: below
#: the guarantee T a query finds a text only through a k-gram the text's winnowing happened to select,
#: and a tiny file (a stub, a test case, a URL table) has few to select.  Such files are about 7 % of
#: real files and cost about 1 % more postings (docs/fingerprints.md).
TINY_TOKENS = 64
#: A text of at least :data:`TINY_TOKENS` and fewer than this many tokens also keeps its other exact
#: k-grams, under :func:`dense_keys`: a query of 16-34 tokens (eight lines of names, entries or
#: decorators) is below the winnowing guarantee and finds its file only through a k-gram the file's
#: winnowing selected; in a small file, often none.  A short query that no document holds any exact
#: k-gram of looks them up (``search._unselected``; a longer one is found through the guarantee).  About
#: 30 % of Python files, 3-5 % more postings (docs/fingerprints.md).
DENSE_TOKENS = 256
#: A text of at least :data:`DENSE_TOKENS` and fewer than this many tokens keeps, under
#: :func:`dense_keys`, the exact k-grams that begin a line (whose first token is on a line after the
#: previous token's last) and that none of its other hashes is.  A fragment or snippet of whole lines
#: starts at a line's first token, so a query of 16-34 tokens (below the guarantee ``T``) cut from such a
#: file holds at least one of them, its first k-gram: an 8-line piece of a mid-size file whose k-grams
#: its winnowing did not select is found (``search._unselected``).  A line's first k-gram is one in
#: eight, about 13 % more postings for files under 2,048 tokens (docs/fingerprints.md).  Its abstract
#: k-grams that begin a line are kept the same way under :func:`shape_keys`: a renamed copy of such a
#: piece shares no exact k-gram with it (about 9 % more postings on 20,000 files of the corpus).
LINE_TOKENS = 2048
#: A text of :data:`LINE_TOKENS` tokens and more keeps a line's first k-gram (under
#: :func:`dense_keys`, its abstract one under :func:`shape_keys`) only when the line and the
#: ``SPARSE_LINES - 1`` after it hold fewer than ``T`` tokens and no k-gram its winnowing selected
#: (:func:`sparse_starts`): an 8-line piece of sparse code (constants, imports, short calls) that
#: only such a key finds.  About 6 % more postings (docs/fingerprints.md).
SPARSE_LINES = 8
_DENSE_SALT = np.uint64(0x9F3B5A1CD2E47B61)
#: A small text (:data:`DENSE_TOKENS`) also keeps its abstract k-grams that none of its other hashes is,
#: under :func:`shape_keys` (a mid-size one those that begin a line, :data:`LINE_TOKENS`).  Read by a
#: whole program's second look (``search._program_candidates``), which wants any document sharing a
#: piece of the query's shape and judges it by order-insensitive evidence alone, and by a short query
#: of two lines or more none of whose abstract k-grams any document selected (``search.look_up``).
#: Counted for that query's rarity, a common shape can pass for a rare one among small and mid-size
#: files alone, so its renamed run must hold nearly all of it (``verdict.SHAPE_COUNTED_SHARE``).
_SHAPE_SALT = np.uint64(0x5C2E8D71A4B3F096)
#: MinHash permutations and LSH banding (bands * rows == NUM_PERM).
NUM_PERM = 64
BANDS = 8
ROWS = 8
MINHASH_SEED = 1

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_BASE = 0x100000001B3  # FNV-1 64-bit prime: odd, so the polynomial never loses the last token's bits

FORMAT_VERSION = 1


def has_native() -> bool:
    """Whether the compiled fingerprint kernel is in use."""
    return _fastfp is not None


def tokenize(data: bytes, language: str | None = None, *, code_only: bool = False) -> Tokens:
    """Tokenise ``data`` with the syntax of ``language`` (a language name or alias; None or one without a
    profile: the default rules) -- see :mod:`whence.index.lexer` for the rules; ``code_only``: block
    comments dropped whole (:func:`whence.index.lexer.tokenize`)."""
    if _fastfp is not None:
        e, a, ls, le = _fastfp.tokenize(data, lexer.syntax_bytes(language, code_only))
        return Tokens(
            np.frombuffer(e, dtype=np.uint64),
            np.frombuffer(a, dtype=np.uint64),
            np.frombuffer(ls, dtype=np.uint32),
            np.frombuffer(le, dtype=np.uint32),
        )
    return lexer.tokenize(data, language, code_only=code_only)


def code_tokens(data: bytes, language: str | None, tokens: Tokens) -> Tokens | None:
    """The tokens of ``data``'s code alone (block comments dropped whole), when they differ from its
    ``tokens`` (lexed with ``language``): a document aligned with a copy whose comments were removed.
    None when the text has no block comment (the same tokens)."""
    sx = lexer.syntax_for(language)
    if not any(opener in data for opener, _, _ in sx.block):
        return None
    code = tokenize(data, language, code_only=True)
    return code if len(code) < len(tokens) else None


def _mix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: spreads the polynomial's bits so minima are uniform."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def kgrams(tokens: npt.NDArray[np.uint64], k: int = K) -> npt.NDArray[np.uint64]:
    """Hash of every run of ``k`` consecutive tokens: ``mix(sum t[i+j] * BASE**(k-1-j) mod 2**64)``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = len(tokens) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    if _fastfp is not None:
        return np.frombuffer(
            _fastfp.kgrams(np.ascontiguousarray(tokens, dtype=np.uint64), k), dtype=np.uint64
        )
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            acc = acc * _U64(_BASE) + tokens[j : j + n]
        return _mix64(acc)


def winnow(hashes: npt.NDArray[np.uint64], w: int = W) -> npt.NDArray[np.uint32]:
    """Positions selected by robust winnowing: the rightmost minimum of each window of ``w`` hashes.

    A position is reported once even if it is the minimum of several consecutive windows.  Fewer than
    ``w`` hashes form a single window.
    """
    if w < 1:
        raise ValueError(f"w must be >= 1, got {w}")
    m = len(hashes)
    if m == 0:
        return np.zeros(0, dtype=np.uint32)
    if _fastfp is not None:
        return np.frombuffer(
            _fastfp.winnow(np.ascontiguousarray(hashes, dtype=np.uint64), w), dtype=np.uint32
        )
    if m <= w:
        rev = hashes[::-1]
        return np.array([m - 1 - int(np.argmin(rev))], dtype=np.uint32)
    win = np.lib.stride_tricks.sliding_window_view(hashes, w)
    # rightmost minimum of each window: argmin over the reversed window
    pos = (w - 1 - np.argmin(win[:, ::-1], axis=1)) + np.arange(len(win))
    keep = np.ones(len(pos), dtype=bool)
    keep[1:] = pos[1:] != pos[:-1]
    out: npt.NDArray[np.uint32] = pos[keep].astype(np.uint32)
    return out


def seed_runs(
    sorted_kgrams: npt.NDArray[np.uint64],
    order: npt.NDArray[np.intp],
    dk: npt.NDArray[np.uint64],
    qt: npt.NDArray[np.uint64],
    dt: npt.NDArray[np.uint64],
    k: int,
    max_repeats: int,
    need: int,
) -> tuple[int, npt.NDArray[np.int64]] | None:
    """The seeding step of :func:`whence.index.align.seed_runs` in the compiled kernel, or None without it.

    Returns how many document k-grams (``dk``) the query's k-grams (``sorted_kgrams``, sorted; ``order``
    their query positions) share, and, when that is at least ``need``, one ``(query start, document
    start, length)`` row per maximal token-exact common run of ``qt`` and ``dt`` seeded by a shared
    k-gram found at most ``max_repeats`` times in the query."""
    if _fastfp is None:
        return None
    hits, runs = _fastfp.seed_runs(sorted_kgrams, order, dk, qt, dt, k, max_repeats, need)
    return int(hits), np.frombuffer(runs, dtype=np.int64).reshape(-1, 3)


def tile(runs: npt.NDArray[np.int64], nq: int, k: int) -> npt.NDArray[np.int64] | None:
    """:func:`whence.index.align.tile` in the compiled kernel, or None without it: the tiles of ``runs``
    (rows of query start, document start, length) over an ``nq``-token query, as rows of the same kind
    ordered by query start, then document start."""
    if _fastfp is None:
        return None
    return np.frombuffer(_fastfp.tile(runs, nq, k), dtype=np.int64).reshape(-1, 3)


def sort_pairs(
    hashes: npt.NDArray[np.int64], docs: npt.NDArray[np.integer[Any]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]] | None:
    """:func:`whence.index.stores.segments.sort_pairs` in the compiled kernel (a radix sort), or None
    without it: the postings ``(hashes[i], docs[i])`` ordered by hash, then document."""
    if _fastfp is None:
        return None
    h, d = _fastfp.sort_pairs(
        np.ascontiguousarray(hashes, dtype=np.int64), np.ascontiguousarray(docs, dtype=np.uint32)
    )
    return np.frombuffer(h, dtype=np.int64), np.frombuffer(d, dtype=np.uint32)


def _minhash_permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The ``a`` and ``b`` of datasketch's ``affine32`` scheme for ``(num_perm, seed)``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERM_A, _PERM_B = _minhash_permutations(NUM_PERM, MINHASH_SEED)


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash(shingles: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint32]:
    """MinHash signature of a set of k-gram hashes.

    Identical to ``datasketch.MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED)`` (scheme ``affine32``) fed
    the low 32 bits of each hash through an identity ``hashfunc``; :func:`to_datasketch` gives that
    object.  An empty set gives all ``0xFFFFFFFF``.
    """
    values = np.ascontiguousarray(shingles, dtype=np.uint64)
    if _fastfp is not None:
        return np.frombuffer(_fastfp.minhash(values, _PERM_A, _PERM_B), dtype=np.uint32)
    out = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    if len(values) == 0:
        return out
    hv = _fmix32((values & _U64(0xFFFFFFFF)).astype(np.uint32))
    with np.errstate(over="ignore"):
        phv = hv[:, None] * _PERM_A[None, :] + _PERM_B[None, :]
    sig: npt.NDArray[np.uint32] = np.minimum(out, phv.min(axis=0))
    return sig


def band_keys(signature: npt.NDArray[np.uint32]) -> list[int]:
    """One signed 64-bit key per LSH band: equal keys mean equal rows in that band."""
    keys = []
    for band in range(BANDS):
        chunk = signature[band * ROWS : (band + 1) * ROWS].tobytes()
        keys.append(_signed(xxhash.xxh64_intdigest(chunk, band)))
    return keys


def to_datasketch(signature: npt.NDArray[np.uint32]) -> object:
    """The signature as a ``datasketch.LeanMinHash`` (imports datasketch lazily: it is slow to import)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=MINHASH_SEED, hashvalues=signature.astype(np.uint32), scheme="affine32")


def _signed(h: int) -> int:
    return h - (1 << 64) if h >= 1 << 63 else h


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything whence derives from one text.

    Attributes:
        tokens: the token stream (both views, with lines).
        exact_kgrams / abstract_kgrams: hash of every k-gram (position i covers tokens i..i+K-1).
        exact_selected / abstract_selected: positions chosen by winnowing.
        signature: MinHash of the distinct selected exact k-grams.
    """

    tokens: Tokens
    exact_kgrams: npt.NDArray[np.uint64]
    abstract_kgrams: npt.NDArray[np.uint64]
    exact_selected: npt.NDArray[np.uint32]
    abstract_selected: npt.NDArray[np.uint32]
    signature: npt.NDArray[np.uint32]

    def index_hashes(self) -> npt.NDArray[np.int64]:
        """Distinct winnowed hashes of both views (every one for a text under :data:`TINY_TOKENS`
        tokens), as signed 64-bit integers (what the store keeps)."""
        return _index_hashes(
            len(self.tokens),
            self.exact_kgrams,
            self.exact_selected,
            self.abstract_kgrams,
            self.abstract_selected,
        )

    def bands(self) -> list[int]:
        """LSH band keys of :attr:`signature` (empty for a text with no k-grams)."""
        if len(self.exact_kgrams) == 0:
            return []
        return band_keys(self.signature)


def fingerprint(data: bytes, k: int = K, w: int = W, language: str | None = None) -> Fingerprint:
    """Fingerprint one text, lexed with the syntax of ``language`` (see :func:`tokenize`)."""
    toks = tokenize(data, language)
    ek = kgrams(toks.exact, k)
    ak = kgrams(toks.abstract, k)
    es = winnow(ek, w)
    as_ = winnow(ak, w)
    sig = minhash(np.unique(ek[es]))
    return Fingerprint(toks, ek, ak, es, as_, sig)


@dataclass(frozen=True, slots=True)
class IndexFingerprint:
    """What ingestion keeps of a text: :meth:`Fingerprint.index_hashes`, the signature, the token count."""

    hashes: npt.NDArray[np.int64]
    signature: npt.NDArray[np.uint32]
    tokens: int

    def bands(self) -> list[int]:
        """LSH band keys (empty for a text too short to have k-grams)."""
        return band_keys(self.signature) if len(self.hashes) else []


def _index_hashes(
    ntokens: int,
    exact: npt.NDArray[np.uint64],
    exact_selected: npt.NDArray[np.uint32],
    abstract: npt.NDArray[np.uint64],
    abstract_selected: npt.NDArray[np.uint32],
) -> npt.NDArray[np.int64]:
    """:meth:`Fingerprint.index_hashes` of a text of ``ntokens`` tokens from its views' k-grams and
    their winnowed positions."""
    if ntokens < TINY_TOKENS:
        sel = np.concatenate((exact, abstract))
    else:
        sel = np.concatenate((exact[exact_selected], abstract[abstract_selected]))
    return np.unique(sel).view(np.int64)


def code_hashes(data: bytes, language: str | None, tokens: Tokens) -> npt.NDArray[np.int64] | None:
    """The winnowed hashes of ``data``'s code alone (:func:`code_tokens`: block comments dropped whole),
    for a text lexed as ``tokens`` that has block comments; None for one without, or whose code is
    shorter than a k-gram.  Indexed beside the text's own, so that a copy stripped of the comments is
    found: its k-grams across a removed comment are in neither view of the text as it is."""
    code = code_tokens(data, language, tokens)
    if code is None or len(code) < K:
        return None
    ek, ak = kgrams(code.exact), kgrams(code.abstract)
    return _index_hashes(len(code), ek, winnow(ek), ak, winnow(ak))


def dense_keys(exact: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The keys under which a small text's exact k-grams ``exact`` that winnowing did not select are
    indexed (:data:`DENSE_TOKENS`; a mid-size text's that begin a line, :data:`LINE_TOKENS`): apart from
    the selected ones, so that the document frequencies of those, which the verdicts' rarity counts, stay
    what they are."""
    return exact ^ _DENSE_SALT


def sparse_starts(
    line_start: npt.NDArray[np.uint32], starts: npt.NDArray[np.intp], selected: npt.NDArray[np.uint32]
) -> npt.NDArray[np.intp]:
    """Of the k-gram positions ``starts`` that begin a line, those whose piece of :data:`SPARSE_LINES`
    lines (from that line on; ``line_start``: each token's line) holds fewer than ``T`` tokens and none
    of the k-grams at the winnowed positions ``selected``: a query of those lines is below the
    winnowing guarantee and holds no k-gram its text's winnowing kept, but holds the one it begins
    with (a large text's line keys, :data:`LINE_TOKENS`)."""
    if len(starts) == 0:
        return starts
    first = line_start[starts].astype(np.int64)
    ends = np.searchsorted(line_start, first + SPARSE_LINES)  # the piece's tokens: [start, end)
    last = np.maximum(ends - K, starts)  # its last k-gram, or its first if it holds fewer than K tokens
    sel = np.sort(selected)
    held = np.searchsorted(sel, last, "right") - np.searchsorted(sel, starts)
    out: npt.NDArray[np.intp] = starts[(ends - starts < T) & (held == 0)]
    return out


def shape_keys(abstract: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The keys under which a small text's abstract k-grams ``abstract`` that winnowing did not select
    are indexed (a mid-size text's that begin a line; :data:`_SHAPE_SALT`)."""
    return abstract ^ _SHAPE_SALT


def index_fingerprint(data: bytes, language: str | None = None) -> IndexFingerprint:
    """The parts of :func:`fingerprint` that go into the index, in one native call when available; a
    text with block comments also gives the hashes of its code alone (:func:`code_hashes`), a small one
    (:data:`DENSE_TOKENS`) the :func:`dense_keys` of its exact k-grams that none of those is and the
    :func:`shape_keys` of its abstract ones, a mid-size one (:data:`LINE_TOKENS`) those of them that begin
    a line, a larger one those of them on sparse lines (:func:`sparse_starts`)."""
    if _fastfp is not None:
        h, sig, ntok = _fastfp.index_fingerprint(
            data,
            K,
            W,
            _PERM_A,
            _PERM_B,
            lexer.syntax_bytes(language),
            lexer.syntax_bytes(language, True),
            TINY_TOKENS,
            DENSE_TOKENS,
            int(_DENSE_SALT),
            LINE_TOKENS,
            int(_SHAPE_SALT),
            SPARSE_LINES,
        )
        hashes = np.frombuffer(h, dtype=np.uint64).view(np.int64)
        return IndexFingerprint(hashes, np.frombuffer(sig, dtype=np.uint32), ntok)
    f = fingerprint(data, language=language)
    hashes = f.index_hashes()
    code = code_hashes(data, language, f.tokens)
    if code is not None:
        hashes = np.union1d(hashes.view(np.uint64), code.view(np.uint64)).view(np.int64)
    n = len(f.tokens)
    if n >= TINY_TOKENS and (n < DENSE_TOKENS or n < LINE_TOKENS or SPARSE_LINES > 0):
        selected = hashes.view(np.uint64)
        kgrams = f.exact_kgrams
        shape = f.abstract_kgrams
        if n >= DENSE_TOKENS:  # those that begin a line
            t, m = f.tokens, len(kgrams)
            starts = np.flatnonzero(np.r_[True, t.line_start[1:m] > t.line_end[: m - 1]])
            if n >= LINE_TOKENS:  # a large text: those on sparse lines that no winnowed k-gram finds
                kgrams = kgrams[sparse_starts(t.line_start, starts, f.exact_selected)]
                shape = shape[sparse_starts(t.line_start, starts, f.abstract_selected)]
            else:
                kgrams, shape = kgrams[starts], shape[starts]
        keys = [dense_keys(np.setdiff1d(kgrams, selected)), shape_keys(np.setdiff1d(shape, selected))]
        hashes = np.union1d(selected, np.concatenate(keys)).view(np.int64)
    return IndexFingerprint(hashes, f.signature, len(f.tokens))


def pack_signature(signature: npt.NDArray[np.uint32]) -> bytes:
    """Versioned little-endian byte form of a signature."""
    return struct.pack("<BH", FORMAT_VERSION, len(signature)) + signature.astype("<u4").tobytes()


_SIGNATURE_HEAD = struct.calcsize("<BH")


def unpack_signature(data: bytes | None) -> npt.NDArray[np.uint32] | None:
    """A signature from :func:`pack_signature`'s form; None for bytes that are not one of this version
    (a NULL, a truncated blob, another format or number of permutations: compared with nothing)."""
    if data is None or len(data) != _SIGNATURE_HEAD + 4 * NUM_PERM:
        return None
    version, n = struct.unpack_from("<BH", data)
    if version != FORMAT_VERSION or n != NUM_PERM:
        return None
    return np.frombuffer(data, dtype="<u4", offset=_SIGNATURE_HEAD).astype(np.uint32)
