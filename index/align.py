"""Alignment: the regions a query shares with one document, token for token.

    shared k-grams --seed_runs-->  maximal token-exact common runs, one per diagonal stretch of shared
                                   k-grams, grown from its ends while the tokens agree
                   --tile-->       greedy string tiling: runs taken longest first, not overlapping in the
                                   query
                   --chain-->      tiles that follow each other in both texts, with gaps of at most
                                   :data:`SPAN_GAP` tokens, form one :class:`Span` (query lines <->
                                   source lines)

:func:`view_spans` does all three in one view (exact or abstract) and counts each span's informative
tokens (those no boilerplate fingerprint covers); :mod:`.verdict` decides what the spans mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import xxhash

from . import boilerplate, lexer
from . import fingerprint as fp
from .lexer import Tokens
from .stores.segments import in_sorted

#: Most common runs kept per document and view (a very repetitive document keeps its longest).
MAX_RUNS = 4096
#: Most spans one view yields with one document (a very repetitive document can match one query
#: region at hundreds of places: each span is built and judged, for nothing a verdict needs).
MAX_SPANS = 128
#: A k-gram found more often than this in the query seeds no run (see :func:`grow_runs`).  Eight, not
#: two: renamed, the entries of a table of one shape (each its own strings) are one abstract shape
#: repeated, and a copy of a few of them shares nothing else to seed from (:func:`best_placed` then keeps
#: the place where its strings agree); those found more than :data:`_PAIRED` times, within a budget of
#: :data:`SEED_PAIRS` per document.
MAX_SEED_REPEATS = 8
#: A k-gram found up to this many times in the query seeds runs in any document.
_PAIRED = 2
#: Most (query, document) pairs that the k-grams found more than :data:`_PAIRED` times in the query may
#: seed in one document; past it, they seed none there.  A renamed copy of a few entries of a table
#: pairs each entry with every entry of its file (eleven in a module of corpus readers); a codec
#: module's 256 entries of one shape, paired with each of eight, cost a search of the codec tables more
#: than the rest of it, for spans only one of which :func:`best_placed` keeps.
SEED_PAIRS = 4096
#: A span's informative tokens are at most this many times its distinct tokens: what a match carries
#: decides, not its length (a line of dashes under a heading is 40 tokens of almost nothing).
DISTINCT_FACTOR = 4
#: A k-gram held by at most this many documents is rare (see :class:`Aligned`).
RARE_DF = 3
#: A k-gram held by at most this many documents is unique (see :class:`Aligned`): a query too short
#: for a rare run is attributed only to the one document that holds it (:mod:`.verdict`).
UNIQUE_DF = 1
#: A rare run's informative tokens are at most this many times its distinct tokens (a short match must
#: say more per token than a long one).
RARE_DISTINCT_FACTOR = 2
#: ... or, in the exact view, at most this many times its distinct pairs of adjacent tokens when that is
#: more: an import block (``import java.lang.System.Logger;`` ...) has few distinct tokens and half again
#: as many pairs, all of them every Java file's; counted twice, four import lines made a rare run.
RARE_PAIR_FACTOR = 1
#: Tiles closer than this (in both texts, tokens) join one span: a changed literal or a dropped token
#: does not cut a copy in two.
SPAN_GAP = 12

View = Literal["exact", "abstract"]


@dataclass(frozen=True, slots=True)
class Span:
    """An aligned region: query lines ↔ source lines, and how many tokens matched in it."""

    query_lines: tuple[int, int]
    source_lines: tuple[int, int]
    tokens: int
    query_tokens: tuple[int, int]  # token index range [start, end) in the query
    source_tokens: tuple[int, int]
    line_pairs: tuple[tuple[int, int], ...] = ()  # (query line, source line) of the matched tokens
    tiles: tuple[tuple[int, int, int], ...] = ()  # (query token, source token, length) of each tile

    def as_dict(self) -> dict[str, Any]:
        return {
            "query_lines": list(self.query_lines),
            "source_lines": list(self.source_lines),
            "tokens": self.tokens,
        }


@dataclass(frozen=True, slots=True)
class Tile:
    """A token-exact common run chosen by :func:`tile`."""

    q: int  # first query token
    d: int  # first document token
    n: int  # tokens


_FILTER_BITS = 16
_FILTER_MASK = np.uint64((1 << _FILTER_BITS) - 1)


@dataclass(frozen=True, slots=True)
class Grams:
    """One view of the query, prepared once for aligning every candidate.

    Attributes:
        kgrams: the query's k-grams in order.
        order: ``argsort(kgrams)``; ``sorted`` is ``kgrams[order]``.
        filter: a one-hash Bloom filter of the k-grams (their low 16 bits).
    """

    kgrams: npt.NDArray[np.uint64]
    order: npt.NDArray[np.intp]
    sorted: npt.NDArray[np.uint64]
    filter: npt.NDArray[np.bool_]
    repeated: npt.NDArray[np.uint64]  # the k-grams found more than _PAIRED times, sorted
    repeats: npt.NDArray[np.intp]  # ... and how many times each

    @classmethod
    def of(cls, kgrams: npt.NDArray[np.uint64]) -> Grams:
        order = np.argsort(kgrams, kind="stable")
        table = np.zeros(1 << _FILTER_BITS, dtype=bool)
        table[(kgrams & _FILTER_MASK).astype(np.intp)] = True
        ordered = kgrams[order]
        starts = (
            np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1]))) if len(ordered) else order
        )
        counts = np.diff(np.append(starts, len(ordered)))
        many = counts > _PAIRED
        return cls(kgrams, order, ordered, table, ordered[starts[many]], counts[many])

    def shared(self, dk: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """Positions of ``dk`` whose k-gram the query has: the filter discards almost every other
        position in one vectorised pass, a binary search confirms the rest."""
        if not len(self.sorted) or not len(dk):
            return np.zeros(0, dtype=np.intp)
        maybe = np.flatnonzero(self.filter[(dk & _FILTER_MASK).astype(np.intp)])
        if not len(maybe):
            return maybe
        cand = dk[maybe]
        idx = np.searchsorted(self.sorted, cand)
        idx[idx == len(self.sorted)] = 0
        found: npt.NDArray[np.intp] = maybe[self.sorted[idx] == cand]
        return found


def common_mask(
    kgrams: npt.NDArray[np.uint64],
    common: npt.NDArray[np.uint64],
    n: int,
    positions: npt.NDArray[np.intp] | None = None,
) -> npt.NDArray[np.bool_]:
    """Per token of an ``n``-token query whose k-grams are ``kgrams`` (at ``positions``, when only some
    are given): whether a k-gram in ``common`` (boilerplate fingerprints, sorted) covers it."""
    if not len(common) or not len(kgrams):
        return np.zeros(n, dtype=bool)
    starts = np.flatnonzero(in_sorted(common, kgrams))
    if not len(starts):
        return np.zeros(n, dtype=bool)
    if positions is not None:
        starts = positions[starts]
    return kgram_cover(starts, n)


def kgram_cover(starts: npt.NDArray[np.intp], n: int) -> npt.NDArray[np.bool_]:
    """Per token of ``n``: whether a k-gram starting at one of ``starts`` covers it."""
    # +1 where a covering k-gram starts, -1 where it ends: covered where the running sum is positive.
    delta = np.bincount(starts, minlength=n + 1) - np.bincount(np.minimum(starts + fp.K, n), minlength=n + 1)
    return np.cumsum(delta[:n]) > 0


#: Query tokens that no license fingerprint covers, between two that license fingerprints do, with at most
#: this many tokens between them, are license prose too (see :func:`license_gaps`).
LICENSE_GAP = 48


#: A license fingerprint marks prose for :func:`license_gaps` only when at least this many of its ``K``
#: tokens are words (identifiers): license texts hold lines of dashes and stars too, and so does code's
#: ASCII art.
LICENSE_WORDS = 8
_IDENT = np.uint64(lexer.CLASS_HASH[lexer.IDENT])

#: Names in a run of at least this many, with nothing between them, are prose (:func:`prose`).
PROSE_RUN = 3


def prose(tokens: Tokens) -> npt.NDArray[np.bool_]:
    """Per token: whether it is a word of prose, a name in a run of at least :data:`PROSE_RUN` names
    with nothing between them (a docstring's or a comment's sentence; code puts punctuation or a
    keyword between its names)."""
    ident = tokens.abstract == _IDENT
    n = len(ident)
    if not ident.any():
        return np.zeros(n, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ident.view(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    long = ends - starts >= PROSE_RUN
    # +1 where a long run starts, -1 where it ends: in one where the running sum is positive.
    delta = np.bincount(starts[long], minlength=n + 1) - np.bincount(ends[long], minlength=n + 1)
    out: npt.NDArray[np.bool_] = np.cumsum(delta[:n]) > 0
    return out


def _exact_hashes(words: Iterable[bytes]) -> npt.NDArray[np.uint64]:
    """The exact view's hashes of ``words``, sorted for :func:`in_sorted`."""
    return np.array(sorted({xxhash.xxh64_intdigest(w, lexer.SEED_EXACT) for w in words}), dtype=np.uint64)


#: Words that make the prose around them a license notice, written in any of three cases (see
#: :func:`license_gaps`).
NOTICE_WORDS = (b"license", b"licenses", b"licensed", b"licence", b"licences", b"licensing", b"copyright")
_NOTICE = _exact_hashes(form for w in NOTICE_WORDS for form in (w, w.capitalize(), w.upper()))


def notice_words(tokens: Tokens) -> npt.NDArray[np.bool_]:
    """Per token: whether it is one of :data:`NOTICE_WORDS` in a sentence of prose (:func:`prose`), not
    a name in code (``license = info.get("license")``)."""
    found = in_sorted(_NOTICE, tokens.exact)
    return found & prose(tokens) if found.any() else found


#: A line of prose has at least this share of words (names and keywords) among its tokens (see
#: :func:`prose_lines`).
PROSE_LINE_WORDS = 2 / 3
_KEYWORDS = _exact_hashes((*lexer.KEYWORDS, *lexer.PYTHON_WORDS, *lexer.PYTHON_BUILTINS))


def prose_lines(tokens: Tokens) -> npt.NDArray[np.bool_]:
    """Per token: whether its line is a line of prose, holding a run of names (:func:`prose`) and at
    least :data:`PROSE_LINE_WORDS` words among its tokens.  Code puts punctuation between its names, or
    a keyword before them (``class Ring:``, ``return self.items[at]``): half its tokens are words."""
    n = len(tokens)
    if not n:
        return np.zeros(0, dtype=bool)
    words = (tokens.abstract == _IDENT) | in_sorted(_KEYWORDS, tokens.exact)
    lines, at = np.unique(tokens.line_start, return_inverse=True)
    total = np.bincount(at, minlength=len(lines))
    worded = np.bincount(at, weights=words, minlength=len(lines))
    run = np.bincount(at, weights=prose(tokens), minlength=len(lines)) > 0
    line: npt.NDArray[np.bool_] = (run & (worded >= PROSE_LINE_WORDS * total))[at]
    return line


def license_gaps(
    exact: npt.NDArray[np.uint64],
    abstract: npt.NDArray[np.uint64],
    common: npt.NDArray[np.uint64],
    tokens: Tokens,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per token of an ``n``-token query, in each view's mask (exact, either): whether it lies in a gap of
    at most :data:`LICENSE_GAP` tokens between tokens that the boilerplate model's license fingerprints
    among ``common`` cover -- exact ones for the exact mask, of either view for the other.  A copy of a
    license names its project (``Neither the name of Example Corp nor ...``), its year and holder, or
    words a clause its own way (``COPYRIGHT OWNER`` for ``HOLDER``): the k-grams around each such change
    are in no SPDX text, and the 30-40 tokens they span would otherwise count as informative, enough for
    a license quoted in one indexed file's header to attribute another project's LICENSE.  Code between
    two license texts is rarer than that gap.  (Covering the exact mask with the abstract view's license
    fingerprints instead cost 1 point of verbatim recall: C headers' code has license prose's shape.)"""
    n = len(tokens)
    none = np.zeros(n, dtype=bool)
    lic = common[boilerplate.licensed(common)] if len(common) else common
    notice = notice_words(tokens)
    if not len(lic) and not notice.any():
        return none, none
    words = np.concatenate(([0], np.cumsum(tokens.abstract == _IDENT)))
    k = len(exact)
    mostly = (words[fp.K : fp.K + k] - words[:k]) >= LICENSE_WORDS  # per k-gram: mostly words
    at = np.flatnonzero(mostly)
    in_exact = common_mask(exact[mostly], lic, n, at)
    in_any = in_exact | common_mask(abstract[mostly], lic, n, at)
    wordy = kgram_cover(at, n)  # tokens in a k-gram of mostly words
    # Where a line holding no token (a blank line, a comment's closer) or more separates two tokens:
    # a notice's head and tail run on line by line, the file's own comment and code come after a break.
    broken = np.zeros(n, dtype=bool)  # per token: a break right before it
    if n > 1:
        broken[1:] = tokens.line_start[1:].astype(np.int64) - tokens.line_end[:-1].astype(np.int64) > 1
    # Edges only from the exact license fingerprints: the abstract view's also cover renamed prose of
    # any kind here and there (a Javadoc's sentence has a license sentence's shape).
    edges = _edges(in_exact, wordy, broken)
    # A notice's words start edges over lines of prose only: a docstring that names a license runs on
    # into the code after it with no line between, and code is as wordy as a k-gram asks.
    if notice.any():
        edges |= _edges(notice, prose_lines(tokens), broken) | notice
    return _gaps(in_exact) | edges, _gaps(in_any) | edges


#: Prose that runs on from a license, up to this many tokens before or after the tokens its fingerprints
#: cover, is the license's too (see :func:`_edges`).
LICENSE_EDGE = 48


def _edges(
    covered: npt.NDArray[np.bool_], wordy: npt.NDArray[np.bool_], broken: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """The tokens of prose (``wordy``: in a k-gram of mostly words) that run on from either end of a
    stretch of ``covered`` tokens, line after line with no empty line between (``broken``: a line
    without tokens right before the token), at most :data:`LICENSE_EDGE` of them on each side: a
    notice's head and tail, which every project words its own way (``GAS is free software``, ``along
    with GAS; see the file COPYING``, an older address of the Free Software Foundation), so that no
    SPDX text holds their k-grams while the notice between them is covered.  The file's own comment
    after the notice (a class's Javadoc) follows a comment's closing line or a blank one."""
    if not covered.any():
        return np.zeros(len(covered), dtype=bool)
    free = wordy & ~covered
    after = np.zeros(len(covered), dtype=bool)
    after[:-1] = broken[1:]  # a break right after the token
    forward = _run_on(free & ~broken, covered)
    backward = _run_on((free & ~after)[::-1], covered[::-1])[::-1]
    return forward | backward


def _run_on(eligible: npt.NDArray[np.bool_], covered: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The ``eligible`` tokens in a run of them that starts right after a ``covered`` token, the first
    :data:`LICENSE_EDGE` of each such run."""
    idx = np.arange(len(eligible))
    before = np.maximum.accumulate(np.where(eligible, -1, idx))  # the last token not eligible, or -1
    starts = before >= 0
    starts[starts] = covered[before[starts]]
    return eligible & starts & (idx - before <= LICENSE_EDGE)


def _gaps(covered: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The runs of uncovered tokens of at most :data:`LICENSE_GAP` between two covered ones."""
    out = np.zeros(len(covered), dtype=bool)
    at = np.flatnonzero(covered)
    gaps = np.diff(at) - 1
    for i in np.flatnonzero((gaps > 0) & (gaps <= LICENSE_GAP)).tolist():
        out[at[i] + 1 : at[i + 1]] = True
    return out


@dataclass(slots=True)
class Query:
    """A query prepared for aligning every candidate with it.

    Attributes:
        tokens: its token stream.
        exact, abstract: its k-grams in each view.
        exact_common: per query token, whether a boilerplate *exact* fingerprint covers it.
        any_common: ... a boilerplate fingerprint of either view.
        filler: per query token, whether it repeats the two tokens before it (the third and later
            ``-`` of a line of dashes, ``}}}}``): such runs carry nothing and never count as
            informative.
        frequencies: for a short query (every k-gram looked up), a function giving, per k-gram of each
            view, the documents of the index holding it (a large number for a boilerplate one); called
            only when a span could need it (:meth:`df`); else None.
    """

    tokens: Tokens
    exact: Grams
    abstract: Grams
    exact_common: npt.NDArray[np.bool_]
    any_common: npt.NDArray[np.bool_]
    filler: npt.NDArray[np.bool_]
    frequencies: Callable[[], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] | None = None
    _df: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
    exact_free: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    any_free: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    #: per query token: a string literal or a member's name (``.name``) that a common abstract fingerprint
    #: masks and no common exact one (see :func:`kept_masked`)
    masked_kept: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: whether the query's lookup read its shape keys (``fingerprint.shape_keys``): no document's
    #: winnowing selected any of its abstract k-grams, and only small and mid-size files (and large
    #: files' sparse lines) keep the others,
    #: so a shape that larger files hold passes there for a rare one.  The documents found so are judged
    #: in every lexing of the query, each of which then asks more of a renamed run
    #: (``verdict.SHAPE_COUNTED_SHARE``), though only this lexing's own view may count by those keys.
    by_shape: bool = False
    # What other modules derive from the query alone, made once per query (see :meth:`memo`).
    _memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        tokens: Tokens,
        exact: npt.NDArray[np.uint64],
        abstract: npt.NDArray[np.uint64],
        common: npt.NDArray[np.uint64],
        frequencies: Callable[[], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] | None = None,
        by_shape: bool = False,
    ) -> Query:
        """Prepare ``tokens`` (k-grams ``exact`` and ``abstract``), given the boilerplate hashes among
        those it looked up (``Postings.common``) and, for a short query, how to count each k-gram's
        documents in each view (``by_shape``: see the attribute)."""
        # Sorted once for every mask's binary search (the lookup's are sorted as signed integers).
        common = np.sort(common)
        exact_mask = common_mask(exact, common, len(tokens))
        any_mask = exact_mask | common_mask(abstract, common, len(tokens))
        exact_gaps, any_gaps = license_gaps(exact, abstract, common, tokens)
        exact_mask |= exact_gaps
        any_mask |= any_gaps
        e = tokens.exact
        filler = np.zeros(len(e), dtype=bool)
        if len(e) > 2:
            filler[2:] = (e[2:] == e[1:-1]) & (e[2:] == e[:-2])
        exact_mask |= filler
        any_mask |= filler
        return cls(
            tokens,
            Grams.of(exact),
            Grams.of(abstract),
            exact_mask,
            any_mask,
            filler,
            frequencies,
            None,
            free_prefix(exact_mask),
            free_prefix(any_mask),
            masked_kept=((tokens.abstract == _STRING_HASH) | _members(tokens)) & any_mask & ~exact_mask,
            by_shape=by_shape,
        )

    @property
    def short(self) -> bool:
        """Whether the query's document frequencies are known (every k-gram was looked up)."""
        return self.frequencies is not None

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, made once per query under ``key``: what a comparison derives from the query alone
        (the structure view and its k-grams) is not made again for every candidate."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def df(self, view: View) -> npt.NDArray[np.int64] | None:
        """Per k-gram of ``view``, the documents holding it (None unless :attr:`short`); counted once."""
        if self.frequencies is None:
            return None
        if self._df is None:
            self._df = self.frequencies()
        return self._df[0] if view == "exact" else self._df[1]


def seed_runs(
    grams: Grams,
    dk: npt.NDArray[np.uint64],
    qt: npt.NDArray[np.uint64],
    dt: npt.NDArray[np.uint64],
    k: int,
    need: int,
    max_repeats: int | None = None,
) -> tuple[int, npt.NDArray[np.int64]]:
    """Maximal token-exact common runs seeded by the k-grams query and document share:
    (shared document k-grams, one ``(query start, document start, length)`` row per run, one row per
    start).  Nothing is grown when fewer than ``need`` k-grams are shared; a k-gram found more than
    ``max_repeats`` times in the query (by default :data:`MAX_SEED_REPEATS`) seeds nothing.  The compiled
    kernel does this when it is built; :func:`grow_runs` is its reference (the tests compare them)."""
    max_repeats = MAX_SEED_REPEATS if max_repeats is None else max_repeats
    if max_repeats > _PAIRED and _repeat_pairs(grams, dk, max_repeats) > SEED_PAIRS:
        max_repeats = _PAIRED
    native = fp.seed_runs(grams.sorted, grams.order, dk, qt, dt, k, max_repeats, need)
    if native is not None:
        # The kernel grows each run once: a seed inside a run grown before on its diagonal is skipped, and
        # one past its end cannot grow back over the token that ended it, so starts never repeat
        # (tests/test_fastfp.py checks it against the reference).
        hits, rows = native
        if len(rows) > MAX_RUNS:  # a very repetitive document: keep the longest runs
            rows = rows[np.sort(np.argsort(-rows[:, 2], kind="stable")[:MAX_RUNS])]
        return hits, rows
    hit = grams.shared(dk)
    if len(hit) < need:
        return len(hit), _NO_RUNS
    return len(hit), runs_of(grow_runs(hit, grams, dk, qt, dt, k, max_repeats))


_NO_RUNS = np.zeros((0, 3), dtype=np.int64)


def _repeat_pairs(grams: Grams, dk: npt.NDArray[np.uint64], max_repeats: int) -> int:
    """The pairs the query's k-grams found more than :data:`_PAIRED` and at most ``max_repeats`` times
    would seed in a document of k-grams ``dk``."""
    seeding = grams.repeats <= max_repeats
    if not seeding.any():
        return 0
    values, counts = grams.repeated[seeding], grams.repeats[seeding]
    held = dk[grams.shared(dk)]
    at = np.searchsorted(values, held)
    at[at == len(values)] = 0
    return int(counts[at[values[at] == held]].sum())


def runs_of(grown: dict[tuple[int, int], int]) -> npt.NDArray[np.int64]:
    """:func:`grow_runs`'s runs as :func:`seed_runs` gives them (rows of start, start, length)."""
    if not grown:
        return _NO_RUNS
    return np.array([(q, d, n) for (q, d), n in grown.items()], dtype=np.int64)


def grow_runs(
    hit: npt.NDArray[np.intp],
    grams: Grams,
    dk: npt.NDArray[np.uint64],
    qt: npt.NDArray[np.uint64],
    dt: npt.NDArray[np.uint64],
    k: int,
    max_repeats: int | None = None,
) -> dict[tuple[int, int], int]:
    """:func:`seed_runs` in numpy and Python: every (query, document) pair of equal k-grams at ``hit``;
    consecutive pairs on one diagonal form a run, grown from its ends while the tokens agree."""
    max_repeats = MAX_SEED_REPEATS if max_repeats is None else max_repeats
    hv = dk[hit]
    left = np.searchsorted(grams.sorted, hv, side="left")
    cnt = np.searchsorted(grams.sorted, hv, side="right") - left
    # A k-gram repeated often in the query (a run of equal lines, a table of zeros) seeds nothing: it
    # would pair every copy with every copy.  Its tokens are still matched by growing neighbouring tiles.
    rare = cnt <= max_repeats
    hit, left, cnt = hit[rare], left[rare], cnt[rare]
    total = int(cnt.sum())
    if total == 0:
        return {}
    offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    pos_d = np.repeat(hit, cnt)
    pos_q = grams.order[np.repeat(left, cnt) + offs]
    diag = pos_d - pos_q
    o = np.lexsort((pos_d, diag))
    pos_d, pos_q, diag = pos_d[o], pos_q[o], diag[o]
    first = np.ones(total, dtype=bool)
    first[1:] = (diag[1:] != diag[:-1]) | (pos_d[1:] != pos_d[:-1] + 1)
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], total) - 1
    if len(starts) > MAX_RUNS:  # a very repetitive document: keep the longest runs
        keep = np.sort(np.argsort(starts - ends, kind="stable")[:MAX_RUNS])
        starts, ends = starts[keep], ends[keep]
    qtl, dtl = qt.tolist(), dt.tolist()
    nq, nd = len(qtl), len(dtl)
    grown: dict[tuple[int, int], int] = {}
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        qs, ds = int(pos_q[s]), int(pos_d[s])
        while qs > 0 and ds > 0 and qtl[qs - 1] == dtl[ds - 1]:
            qs -= 1
            ds -= 1
        qe, de = int(pos_q[e]) + k, int(pos_d[e]) + k
        while qe < nq and de < nd and qtl[qe] == dtl[de]:
            qe += 1
            de += 1
        grown[(qs, ds)] = max(grown.get((qs, ds), 0), qe - qs)
    return grown


def tile(runs: npt.NDArray[np.int64], nq: int, k: int) -> list[Tile]:
    """Greedy string tiling of the runs (rows of query start, document start, length; longest first,
    then by position): non-overlapping tiles in the query, ordered by query position, then document
    position.  The compiled kernel does this when it is built; :func:`tile_reference` is its reference
    (the tests compare them)."""
    if not len(runs):
        return []
    native = fp.tile(np.ascontiguousarray(runs, dtype=np.int64).reshape(-1), nq, k)
    if native is not None:
        return [Tile(q, d, n) for q, d, n in native.tolist()]
    return tile_reference(runs, nq, k)


def tile_reference(runs: npt.NDArray[np.int64], nq: int, k: int) -> list[Tile]:
    """:func:`tile` in numpy and Python: each run in turn (longest first, then by query and document
    start) is taken when its query tokens are free; one overlapping earlier tiles keeps its free part
    when that is one piece of at least ``k`` tokens.  Then every run with a chosen tile's query start
    and length, at another document start, is added."""
    if not len(runs):
        return []
    taken = bytearray(nq)  # 1 where a chosen tile covers the query token (bytes ops run in C)
    out: list[Tile] = []
    free_left = nq
    rows = runs[np.lexsort((runs[:, 1], runs[:, 0], -runs[:, 2]))].tolist()
    for q0, d0, n in rows:
        if free_left < k:  # the query is covered: no tile of k or more tokens can be taken
            break
        part = taken[q0 : q0 + n]
        free = n - part.count(1)
        if free < k:
            continue
        if free != n:  # overlaps a longer tile: keep the free part if it is one piece
            s = part.find(0)
            if part.rfind(0) + 1 - s != free:
                continue
            q0, d0, n = q0 + s, d0 + s, free
        taken[q0 : q0 + n] = b"\x01" * n
        free_left -= n
        out.append(Tile(q0, d0, n))
    # The same lines may occur more than once in the document: report every place a chosen tile
    # matches in full, not only the first.
    chosen = {(t.q, t.n) for t in out}
    have = {(t.q, t.d, t.n) for t in out}  # a set, so that the check stays linear in the runs
    out.extend(Tile(q0, d0, n) for q0, d0, n in rows if (q0, n) in chosen and (q0, d0, n) not in have)
    return sorted(out, key=lambda t: (t.q, t.d))


def best_placed(spans: list[Aligned], q: Tokens, d: Tokens) -> list[Aligned]:
    """Of spans that cover the same query tokens at several places of the document, those that agree on
    the most tokens as they are.  In a text of one repeated shape (a table of entries, each its own
    strings), a renamed entry has the abstract tokens of every other, so a renamed copy of a few entries
    aligns at every shift of the table; only at its own place do its strings agree.  Places that agree
    alike (lines the document holds twice, token for token) are all kept."""
    if len(spans) < 2:
        return spans
    places: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, a in enumerate(spans):
        places[a.span.query_tokens].append(i)
    if len(places) == len(spans):
        return spans
    keep: set[int] = set()
    for at in places.values():
        agree = [agreeing(spans[i].span, q, d) for i in at]
        keep.update(i for i, n in zip(at, agree, strict=True) if n == max(agree))
    return [a for i, a in enumerate(spans) if i in keep]


def agreeing(span: Span, q: Tokens, d: Tokens) -> int:
    """A span's matched tokens that are the same in both texts (every one of a verbatim span; of a
    renamed one, the literals and names it kept)."""
    qi, di = tile_positions(span.tiles)
    return int(np.count_nonzero(q.exact[qi] == d.exact[di]))


def tile_positions(
    tiles: Iterable[tuple[int, int, int]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The query and document token positions that tiles ``(query start, document start, length)``
    cover, tile by tile (each tile's tokens face each other; gaps between tiles are left out)."""
    qs: list[npt.NDArray[np.intp]] = []
    ds: list[npt.NDArray[np.intp]] = []
    for q, d, n in tiles:
        qs.append(np.arange(q, q + n))
        ds.append(np.arange(d, d + n))
    if not qs:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return np.concatenate(qs), np.concatenate(ds)


def chain(tiles: list[Tile]) -> list[list[Tile]]:
    """Group query-ordered tiles into spans: monotone in both texts, gaps of at most SPAN_GAP."""
    spans: list[list[Tile]] = []
    for t in tiles:
        if spans:
            last = spans[-1][-1]
            qgap = t.q - (last.q + last.n)
            dgap = t.d - (last.d + last.n)
            if 0 <= qgap <= SPAN_GAP and 0 <= dgap <= SPAN_GAP:
                spans[-1].append(t)
                continue
        spans.append([t])
    return spans


class Aligned(NamedTuple):
    """A span and what it carries.

    Attributes:
        span: the region.
        informative: its matched tokens that no boilerplate fingerprint covers and that are not filler,
            at most :data:`DISTINCT_FACTOR` times its distinct tokens.
        run: the informative tokens of its best *unbroken* part: tiles that follow each other with no
            gap in either text, the same tokens in the same order (a span whose tiles are joined over
            changed tokens is an edited copy, not a verbatim one).
        rare_run: the same for the best unbroken part whose every k-gram is rare in the index (held by
            at most :data:`RARE_DF` documents), counted at most :data:`RARE_DISTINCT_FACTOR` times its
            distinct tokens, when the query's document frequencies are known; else 0.
        unique_run: the same for the best unbroken part whose every k-gram is held by at most
            :data:`UNIQUE_DF` documents (a part of ``rare_run``'s kind).
    """

    span: Span
    informative: int
    run: int
    rare_run: int = 0
    unique_run: int = 0


def _informative(
    tiles: list[Tile],
    qt: npt.NDArray[np.uint64],
    free: npt.NDArray[np.int64],
    factor: int = DISTINCT_FACTOR,
    adjacent: bool = False,
    kept: int = 0,
    pair_factor: int | None = None,
) -> int:
    """Informative tokens of tiles (see :class:`Aligned`), at most ``factor`` times their distinct ones
    (``adjacent``: or ``pair_factor`` -- by default ``factor`` -- times their distinct pairs of adjacent
    tokens, whichever is more); ``free`` is the prefix sum of the query's tokens no boilerplate mask
    covers; ``kept``: masked tokens that count all the same (:func:`kept_masked`)."""
    n = _free(tiles, free) + kept
    if n == 0:
        return 0
    tokens, pairs = _distinct(tiles, qt, adjacent)
    return min(n, max(factor * tokens, (factor if pair_factor is None else pair_factor) * pairs))


def _free(tiles: list[Tile], free: npt.NDArray[np.int64]) -> int:
    """The tokens of ``tiles`` that no boilerplate mask covers (``free``: :func:`free_prefix`)."""
    return sum(int(free[t.q + t.n] - free[t.q]) for t in tiles)


_DOT = np.uint64(xxhash.xxh64_intdigest(b".", lexer.SEED_EXACT))


def _members(tokens: Tokens) -> npt.NDArray[np.bool_]:
    """Per token: whether it is a name right after a ``.`` (a member, a module's function)."""
    out = np.zeros(len(tokens), dtype=bool)
    if len(tokens) > 1:
        out[1:] = (tokens.exact[:-1] == _DOT) & (tokens.abstract[1:] == _IDENT)
    return out


_STRING_HASH = np.uint64(lexer.CLASS_HASH[lexer.STRING])


def kept_masked(tiles: list[Tile], qtok: Tokens, dtok: Tokens, kept: npt.NDArray[np.bool_]) -> int:
    """The string literals and members' names of an abstract span that a common *abstract* fingerprint
    masks but no common exact one, kept as they were at the same places in the document (``kept``: the
    query's such tokens, :attr:`Query.masked_kept`): a common shape (``"appArn": self.arn,`` in a
    generated model, ``def f(self): self.x.set_step()`` in a delegating class) says nothing, but the
    strings it keeps and the members it calls are what the code says, and a renamed copy keeps them (a
    copier renames its own names, not the library's it calls)."""
    qi, di = tile_positions((t.q, t.d, t.n) for t in tiles)
    at = kept[qi]
    return int(np.count_nonzero(qtok.exact[qi[at]] == dtok.exact[di[at]]))


def _distinct(tiles: list[Tile], qt: npt.NDArray[np.uint64], adjacent: bool) -> tuple[int, int]:
    """Distinct tokens of tiles, and with ``adjacent`` their distinct pairs of adjacent tokens (else 0): a
    line of dashes has one of each, a table of five numbers in rows of three a score of pairs."""
    parts = [qt[t.q : t.q + t.n] for t in tiles]
    tokens = parts[0] if len(parts) == 1 else np.concatenate(parts)
    pairs = [p[:-1] * _PAIR + p[1:] for p in parts if len(p) > 1] if adjacent else []  # wraps: a hash
    return len(set(tokens.tolist())), len(set(np.concatenate(pairs).tolist())) if pairs else 0


_PAIR = np.uint64(0x9E3779B97F4A7C15)  # an odd multiplier: (a, b) -> a * _PAIR + b mixes a into b


def _unbroken(tiles: list[Tile]) -> list[list[Tile]]:
    """A chain's tiles grouped into parts with no gap in either text."""
    parts: list[list[Tile]] = []
    for t in tiles:
        if parts and parts[-1][-1].q + parts[-1][-1].n == t.q and parts[-1][-1].d + parts[-1][-1].n == t.d:
            parts[-1].append(t)
        else:
            parts.append([t])
    return parts


#: The document frequency search gives a boilerplate k-gram (``search._df``).
COMMON = int(np.iinfo(np.int64).max)


def _most(part: list[Tile], df: npt.NDArray[np.int64]) -> int:
    """The most documents holding one k-gram inside an unbroken part, boilerplate k-grams aside (-1 when
    no other is inside).  Boilerplate k-grams do not make a part common: their tokens are masked and
    count for nothing (the part's informative tokens are the rest), and the rest must be rare."""
    q0, q1 = part[0].q, part[-1].q + part[-1].n
    inside = df[q0 : max(q0 + 1, q1 - fp.K + 1)]
    inside = inside[inside != COMMON]
    return int(inside.max()) if len(inside) else -1


def _rare_stretches(part: list[Tile], df: npt.NDArray[np.int64]) -> list[list[Tile]]:
    """An unbroken part cut where a k-gram inside it is held by more than :data:`RARE_DF` sources (and is
    not boilerplate): the stretches between such k-grams, each as one tile (the part has no gap in
    either text), the whole part when none is.  A rare run is the best of these: eight lines whose
    first k-gram five siblings of a template share (their decorators) are rare from the next k-gram on,
    not common for that one."""
    q0, q1 = part[0].q, part[-1].q + part[-1].n
    inside = df[q0 : max(q0, q1 - fp.K + 1)]
    held = np.flatnonzero((inside > RARE_DF) & (inside != COMMON))
    if not len(held):
        return [part]
    d0 = part[0].d
    out = []
    # k-gram positions (relative to q0) of each stretch: between two held ones, exclusive
    for a, b in zip(np.concatenate(([-1], held)) + 1, np.concatenate((held, [len(inside)])), strict=True):
        if a < b:  # k-grams a..b-1 cover tokens a..b-2+K
            start, end = q0 + int(a), min(q1, q0 + int(b) - 1 + fp.K)
            out.append([Tile(start, d0 + (start - q0), end - start)])
    return out


def free_prefix(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Prefix sums of the tokens a boilerplate mask leaves free: tokens i..j-1 hold ``p[j] - p[i]``."""
    return np.concatenate(([0], np.cumsum(~mask, dtype=np.int64)))


def make_spans(
    chains: list[list[Tile]],
    qt: npt.NDArray[np.uint64],
    qtok: Tokens,
    dtok: Tokens,
    mask: npt.NDArray[np.bool_],
    df: Callable[[], npt.NDArray[np.int64] | None] | None = None,
    keep: int = 0,
    free: npt.NDArray[np.int64] | None = None,
    rare_below: int = 1 << 30,
    adjacent: bool = False,
    kept: npt.NDArray[np.bool_] | None = None,
    ceiling: npt.NDArray[np.int64] | None = None,
    stretches: bool = False,
) -> list[Aligned]:
    """The chains as spans, with what each carries; a chain carrying fewer than ``keep`` informative
    tokens is left out (it could decide nothing).  ``adjacent``: an exact-view span's distinct tokens are
    also counted in pairs (:func:`_distinct`); ``kept``: an abstract view's masked string literals and
    members' names, which count where the document keeps them (:func:`kept_masked`).  ``free``:
    :func:`free_prefix` of ``mask``, and ``ceiling`` its sum with ``kept``'s (the most informative tokens
    a chain can carry), when the caller has them.  ``df`` gives the query's document frequencies in this
    view when known; rare runs are only looked for in chains whose best unbroken part is below
    ``rare_below`` (a longer one decides without them).  With ``stretches`` (the exact view's), a rare
    run may be a stretch of an unbroken part between k-grams that are not rare (:func:`_rare_stretches`),
    not only a whole part: an abstract shape's stretch is not (a Java ``main``'s preamble of a
    ``Scanner`` and a list, rare from its second k-gram on, made an independent solution of one task a
    renamed copy of another's)."""
    if free is None:
        free = free_prefix(mask)

    def kept_in(tiles: list[Tile]) -> int:
        return kept_masked(tiles, qtok, dtok, kept) if kept is not None else 0

    # Informative tokens are at most the free ones and the masked ones that can be kept: a chain with too
    # few is dropped before its distinct tokens are counted (most chains of a candidate are boilerplate).
    if ceiling is None:
        ceiling = free if kept is None else free + free_prefix(~kept)
    out = []
    for c in chains:
        if _free(c, ceiling) < keep:
            continue
        informative = _informative(c, qt, free, adjacent=adjacent, kept=kept_in(c))
        if informative < keep:
            continue
        parts = _unbroken(c) if len(c) > 1 else [c]
        run = (
            informative
            if len(parts) == 1
            else max(_informative(part, qt, free, adjacent=adjacent, kept=kept_in(part)) for part in parts)
        )
        rare = unique = 0
        frequencies = df() if df is not None and run < rare_below else None
        if frequencies is not None:
            pieces = [s for part in parts for s in _rare_stretches(part, frequencies)] if stretches else parts
            for p in pieces:
                most = _most(p, frequencies)
                if 0 <= most <= RARE_DF:
                    n = _informative(
                        p, qt, free, RARE_DISTINCT_FACTOR, adjacent, pair_factor=RARE_PAIR_FACTOR
                    )
                    rare = max(rare, n)
                    if most <= UNIQUE_DF:
                        unique = max(unique, n)
        q0, q1 = c[0].q, c[-1].q + c[-1].n
        d0, d1 = c[0].d, c[-1].d + c[-1].n
        matched = sum(t.n for t in c)
        # (query line, document line) of every matched token, distinct and sorted: one int64 key per
        # pair (lines fit in 32 bits), which np.unique sorts far faster than rows of a 2-D array.
        ql = np.concatenate([qtok.line_start[t.q : t.q + t.n] for t in c]).astype(np.int64)
        dl = np.concatenate([dtok.line_start[t.d : t.d + t.n] for t in c]).astype(np.int64)
        keys = np.unique((ql << 32) | dl)
        span = Span(
            (int(qtok.line_start[q0]), int(qtok.line_end[q1 - 1])),
            (int(dtok.line_start[d0]), int(dtok.line_end[d1 - 1])),
            matched,
            (q0, q1),
            (d0, d1),
            tuple(zip((keys >> 32).tolist(), (keys & 0xFFFFFFFF).tolist(), strict=True)),
            tuple((t.q, t.d, t.n) for t in c),
        )
        out.append(Aligned(span, informative, run, rare, unique))
    return out


def view_spans(
    query: Query,
    dtok: Tokens,
    view: View,
    min_tokens: int,
    rare_below: int = 1 << 30,
    informative: int | None = None,
) -> list[Aligned]:
    """The spans of at least ``min_tokens`` matched tokens that ``query`` shares with a document (its
    tokens ``dtok``) in one view, each with what it carries (:class:`Aligned`), carrying at least
    ``informative`` informative tokens (by default ``min_tokens``); the boilerplate that does not count
    is, in the exact view, exact fingerprints; in the abstract view, those of either view."""
    k = fp.K
    if view == "exact":
        grams, qt, dt, mask, free = (
            query.exact,
            query.tokens.exact,
            dtok.exact,
            query.exact_common,
            query.exact_free,
        )
    else:
        grams, qt, dt, mask, free = (
            query.abstract,
            query.tokens.abstract,
            dtok.abstract,
            query.any_common,
            query.any_free,
        )
    # A span of min_tokens tokens (gaps aside) holds at least min_tokens - k + 1 shared k-grams, so a
    # document with fewer cannot qualify in that view: skip the tiling.
    need = max(1, min(min_tokens, len(query.tokens)) - k + 1 - SPAN_GAP)
    hits, runs = seed_runs(grams, fp.kgrams(dt, k), qt, dt, k, need)
    if hits < need:
        return []
    # A chain of fewer matched tokens than min_tokens cannot hold min_tokens informative ones:
    # building its span (line pairs and all) would be wasted.
    sized = [(c, m) for c in chain(tile(runs, len(qt), k)) if (m := sum(t.n for t in c)) >= min_tokens]
    if len(sized) > MAX_SPANS:  # a very repetitive document: keep the chains matching the most tokens
        keep = sorted(range(len(sized)), key=lambda i: -sized[i][1])[:MAX_SPANS]
        sized = [sized[i] for i in sorted(keep)]
    chains = [c for c, _ in sized]
    kept = None if view == "exact" or not query.masked_kept.any() else query.masked_kept
    return best_placed(
        make_spans(
            chains,
            query.tokens.exact,
            query.tokens,
            dtok,
            mask,
            (lambda: query.df(view)) if query.short else None,
            keep=min_tokens if informative is None else informative,
            free=free,
            rare_below=rare_below,
            adjacent=view == "exact",
            kept=kept,
            ceiling=None if kept is None else query.memo("kept-ceiling", lambda: free + free_prefix(~kept)),
            stretches=view == "exact",
        ),
        query.tokens,
        dtok,
    )
