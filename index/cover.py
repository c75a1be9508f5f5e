"""Coverage search: which regions of a whole file were copied, and from where.

:func:`whence.index.search.search` answers "where did this snippet come from?" with the best few origins
of the whole query.  A repository scan asks something else of every file: *which of its lines* came
from indexed code, one origin per region being enough.  Two things make that much cheaper than one
:func:`search` per file:

* **Shared postings.**  Fingerprints of many files are looked up in a few :meth:`Store.postings`
  calls (``whence.scan.engine``), and each file takes its slice (:meth:`BatchPostings.slice`).  A store keeps
  postings in hash-sorted blocks; one file's few hundred hashes touch a few hundred blocks in every
  segment, and thousands of files touch the same blocks again and again.  Looked up together, every
  block is read once per batch.
* **Greedy cover.**  Candidates are those :func:`search` aligns, in its order (:func:`.candidates.rank`;
  a scan also drops documents of fewer than :data:`MIN_VOTES` votes), but a candidate
  whose shared fingerprints all lie in query regions that an earlier candidate already explained is not
  aligned at all: it could only name another origin for the same lines (the same module in eight
  Python versions, say).  Files with no candidate at all cost only their fingerprinting.

Verdicts, spans, boilerplate and the minimum match size are exactly those of :func:`search`: the
alignment and its verdict are :func:`.verdict.judge`'s.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import candidates
from . import fingerprint as fp
from .align import Query
from .lexer import Tokens
from .search import (
    CODE_CANDIDATES,
    Lexed,
    QueryLexings,
    as_self,
    attach_origins,
    decode_query,
    lookup_lexing,
    methods_self,
)
from .stores.base import Postings, StoreReader
from .stores.segments import sorted_unique
from .verdict import ATTRIBUTING, MIN_MATCH_TOKENS, VERDICTS, Match, SearchResult, judge

#: Most origins reported for one file (each explains a region no earlier one did).
MAX_ORIGINS = 16
#: Tokenised documents a :class:`DocCache` keeps (about 80 kB each for a 10 kB file: its text and tokens;
#: the best-voted ones with block comments also the tokens of their code alone).
DOC_CACHE = 1024
#: Fewest shared fingerprints (LSH band hits count two) that make a document a candidate.
MIN_VOTES = 2


@dataclass(slots=True)
class Prepared:
    """A file fingerprinted for coverage search.

    Attributes:
        raw: the file's bytes (validated UTF-8).
        tokens: its token stream.
        lookup: the k-gram hashes to look up (winnowed for long files, every one for short ones).
        positions: the query token position at which each ``lookup`` k-gram starts.
    """

    raw: bytes
    tokens: Tokens
    exact: npt.NDArray[np.uint64]
    abstract: npt.NDArray[np.uint64]
    lookup: npt.NDArray[np.uint64]
    positions: npt.NDArray[np.intp]
    language: str | None = None  # what it was lexed with (None: the default rules)

    @property
    def lines(self) -> int:
        raw = self.raw
        return raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)


def prepare(code: bytes | str, min_tokens: int = MIN_MATCH_TOKENS, language: str | None = None) -> Prepared:
    """Fingerprint a file for :func:`cover`, lexed with ``language`` (a scan gives the one its path
    tells: :func:`whence.index.lexer.language_for_path`), else with the guessed one.

    Raises:
        InvalidInput: binary, non-UTF-8 or oversized input.
    """
    raw = decode_query(code)
    language, toks = lookup_lexing(raw, language)
    empty_h = np.zeros(0, dtype=np.uint64)
    if len(toks) < max(fp.K, min(min_tokens, fp.T)):
        return Prepared(raw, toks, empty_h, empty_h, empty_h, np.zeros(0, dtype=np.intp), language)
    qe = fp.kgrams(toks.exact)
    qa = fp.kgrams(toks.abstract)
    lookup, positions = candidates.lookup(qe, qa)  # the lookup rule of search()
    return Prepared(raw, toks, qe, qa, lookup, positions, language)


class DocCache:
    """Recently aligned documents, tokenised: in a scan, popular documents (a common header, a module
    vendored everywhere) are candidates for many files, and reading and lexing them again each time
    costs a third of an alignment."""

    def __init__(self, size: int = DOC_CACHE) -> None:
        self.size = size
        self._docs: OrderedDict[int, Lexed] = OrderedDict()

    def tokens(self, store: StoreReader, doc_id: int) -> Lexed | None:
        """A document lexed with its language (:func:`lexed_document`); None if it is gone."""
        got = self._docs.get(doc_id)
        if got is not None:
            self._docs.move_to_end(doc_id)
            return got
        got = lexed_document(store, doc_id)
        if got is None:
            return None
        self._docs[doc_id] = got
        if len(self._docs) > self.size:
            self._docs.popitem(last=False)
        return got


def lexed_document(store: StoreReader, doc_id: int) -> Lexed | None:
    """A document lexed with its stored language; None if it is no longer indexed."""
    f = store.fetch([doc_id]).get(doc_id)
    if f is None:
        return None
    return Lexed.of(f)


@dataclass(frozen=True, slots=True)
class BatchPostings:
    """Postings of many files' hashes, sorted by hash so that each file can take its slice."""

    hashes: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int64]
    common: npt.NDArray[np.int64]

    def slice(self, lookup: npt.NDArray[np.uint64]) -> Postings:
        """The postings of one file's hashes (what ``store.postings(lookup, cap)`` would return)."""
        q = sorted_unique(lookup.view(np.int64))
        lo = np.searchsorted(self.hashes, q, side="left")
        hi = np.searchsorted(self.hashes, q, side="right")
        n = hi - lo
        total = int(n.sum())
        idx = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(total)
        common = self.common[np.isin(self.common, q)] if len(self.common) else self.common
        return Postings(self.hashes[idx], self.docs[idx], common)


def cover(
    store: StoreReader,
    prep: Prepared,
    post: Postings,
    *,
    documents: int,
    min_tokens: int = MIN_MATCH_TOKENS,
    max_origins: int = MAX_ORIGINS,
    band_docs: set[int] | None = None,
    cache: DocCache | None = None,
    ranked: Sequence[int] | None = None,
) -> SearchResult:
    """The regions of a prepared file that came from indexed documents, one origin per region.

    Args:
        store: the index (texts, LSH bands and occurrences are read from it).
        prep: the file, from :func:`prepare`.
        post: the postings of ``prep.lookup`` (``store.postings`` or :meth:`BatchPostings.slice`).
        documents: the index size (sets the boilerplate cap the postings were fetched with).
        min_tokens: smallest informative span that attributes.
        max_origins: most matches returned.
        band_docs: documents sharing a MinHash LSH band with the file, when the caller looked them
            up already (otherwise they are looked up here, for files long enough).
        cache: tokenised documents kept across calls (a scan passes one for all its files).
        ranked: the candidates, already chosen and ordered by :func:`rank_candidates` (a fingerprint
            search's answer, :mod:`.remote`); ``post`` then holds their postings and the common hashes.

    Returns:
        A :class:`SearchResult` whose matches are ordered by first query line; each match's spans are
        the regions it explains.  A file that nothing attributes and whose methods call their object by
        another name than ``self`` is looked at again with that name taken for ``self``, as search does
        (:func:`.search.methods_self`; not for ``ranked`` candidates, which a fingerprint search chose).
    """
    result = _cover(store, prep, post, documents, min_tokens, max_origins, band_docs, cache, ranked)
    if result.matches or ranked is not None or prep.language not in (None, "Python"):
        return result  # (a scan's file of another language, its path says, costs no second look)
    if (name := methods_self(prep.raw)) is None:
        return result
    # As search does: a file whose methods call their object by another name than `self` (a renamer that
    # knows only the keywords renames it too) is looked at again with that name taken for `self`.
    again = with_self(prep, name)
    more = store.postings(again.lookup.view(np.int64), candidates.common_cap(documents))
    return _cover(store, again, more, documents, min_tokens, max_origins, band_docs, cache, None, name)


def _cover(
    store: StoreReader,
    prep: Prepared,
    post: Postings,
    documents: int,
    min_tokens: int,
    max_origins: int,
    band_docs: set[int] | None,
    cache: DocCache | None,
    ranked: Sequence[int] | None,
    restore: bytes | None = None,
) -> SearchResult:
    """:func:`cover`'s one look at ``prep`` (``restore``: the name taken for ``self`` in it)."""
    toks = prep.tokens
    result = SearchResult(prep.lines, len(toks), [])
    if not len(prep.lookup):
        return result
    if ranked is None:
        if band_docs is None:
            # Whole files: MinHash LSH finds near-duplicates with few shared grams.
            keys = candidates.band_keys(len(toks), prep.exact)
            band_docs = store.band_docs(keys) if keys else set()
        post, ranked = rank_candidates(store, prep.lookup, post, band_docs)
    if not ranked:
        return result

    # Query positions of each candidate's shared hashes: the k-grams at those positions are what the
    # candidate could explain.
    uniq_lookup, inverse = np.unique(prep.lookup.view(np.int64), return_inverse=True)
    order = np.argsort(post.docs, kind="stable")
    sdocs, shashes = post.docs[order], post.hashes[order]
    bounds = np.flatnonzero(np.diff(sdocs)) + 1
    starts = np.concatenate(([0], bounds)).tolist()
    ends = np.concatenate((bounds, [len(sdocs)])).tolist()
    by_doc = {int(sdocs[s]): (s, e) for s, e in zip(starts, ends, strict=True)} if len(sdocs) else {}

    query = Query.of(toks, prep.exact, prep.abstract, post.common.view(np.uint64))
    lexings = QueryLexings(prep.raw, prep.language, query, post.common.view(np.uint64), restore)
    covered = np.zeros(len(toks) + 1, dtype=bool)
    matches: list[Match] = []
    judged = 0
    for d in ranked:
        if len(matches) >= max_origins:
            break
        se = by_doc.get(d)
        if se is not None:
            s, e = se
            held = np.isin(uniq_lookup, shashes[s:e])[inverse]
            pos = prep.positions[held]
            # The candidate can add something only where one of its k-grams is not yet explained.
            prefix = np.concatenate(([0], np.cumsum(covered[:-1], dtype=np.int64)))
            ends_k = np.minimum(pos + fp.K, len(toks))
            if not np.any(prefix[ends_k] - prefix[pos] < ends_k - pos):
                continue
        elif covered[: len(toks)].mean() > 0.9:  # a band-only candidate, and the file is explained
            continue
        got = cache.tokens(store, d) if cache is not None else lexed_document(store, d)
        if got is None:  # removed (an opt-out) since its postings were read
            continue
        # The document lexed with its own language, the file with the same one.
        q = lexings.get(got.language)
        # The best-voted candidates are also aligned with their code alone (as search does).
        found = judge(q, got.tokens, min_tokens, code=got.code if judged < CODE_CANDIDATES else None)
        judged += 1
        if found.verdict not in ATTRIBUTING:  # a scan reports findings; weak evidence is for search
            continue
        fresh = False
        for sp in found.spans:
            q0, q1 = sp.query_tokens if q is query else _token_range(toks, sp.query_lines)
            fresh |= not covered[q0:q1].all()
            covered[q0:q1] = True
        if fresh:
            matches.append(Match.of(d, found, len(toks)))
    attach_origins(store, matches)
    matches.sort(key=lambda m: (m.spans[0].query_lines[0], -VERDICTS.index(m.verdict)))
    result.matches = matches
    return result


def with_self(prep: Prepared, name: bytes) -> Prepared:
    """``prep`` with ``name`` taken for ``self`` in its abstract view (:func:`.search.as_self`), its
    lookup made again: its exact k-grams are the same, its abstract ones those of the restored view."""
    toks = as_self(prep.tokens, name)
    abstract = fp.kgrams(toks.abstract)
    lookup, positions = candidates.lookup(prep.exact, abstract)
    return Prepared(prep.raw, toks, prep.exact, abstract, lookup, positions, prep.language)


def rank_candidates(
    store: StoreReader, lookup: npt.NDArray[np.uint64], post: Postings, band_docs: Iterable[int]
) -> tuple[Postings, list[int]]:
    """The documents :func:`cover` aligns for a file, best first, and its postings as they count.

    Args:
        store: the index (order keys of tied candidates are read from it).
        lookup: the file's looked-up hashes (``Prepared.lookup``).
        post: their postings.
        band_docs: documents sharing a MinHash LSH band with the file.

    Returns:
        (postings within the query budget, the boilerplate model's hashes made common; the candidates):
        the documents :func:`search` would align, in its order (:func:`.candidates.rank`), so a scan finds
        what a search of the file finds (the greedy cover only skips some of them).
    """
    post = candidates.with_model(candidates.within_budget(post), lookup)
    bands = set(band_docs)  # read twice below
    votes = candidates.votes(post, bands)
    # A copy of at least T tokens shares at least one selected fingerprint with its origin in each view
    # (the winnowing guarantee), so a real copy has two votes; a document sharing a single fingerprint
    # is a coincidence of one k-gram far more often than a copy at the very edge of the minimum size.
    votes = {d: v for d, v in votes.items() if v >= MIN_VOTES}
    if not votes:
        return post, []
    return post, candidates.rank(votes, store.order_keys, candidates.band_only_docs(post, bands))


def _token_range(toks: Tokens, lines: tuple[int, int]) -> tuple[int, int]:
    """The tokens of ``toks`` within query lines ``lines`` (first, last): where a span found with the
    file re-lexed in another language lies in the file's own token stream."""
    q0 = int(np.searchsorted(toks.line_start, lines[0], side="left"))
    q1 = int(np.searchsorted(toks.line_end, lines[1], side="right"))
    return q0, max(q0, q1)


def cap_for(store: StoreReader) -> tuple[int, int]:
    """(documents, boilerplate cap) of an index."""
    documents = store.count_documents()
    return documents, candidates.common_cap(documents)
