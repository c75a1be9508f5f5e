"""Candidates: which indexed documents a query is aligned with, and in what order.

Every caller that turns a query's postings into documents to align goes through this module, so they
agree on which documents those are: :func:`whence.index.search.search` (a snippet's best origins) and
:func:`whence.index.cover.cover` (a scanned file's regions).

    query k-grams --lookup-->     the hashes to look up: every k-gram of both views for a short query
                                  (and in a snippet search, when no document holds any of its exact
                                  ones, their dense keys: small files' unselected k-grams,
                                  :func:`dense`), the winnowed ones for a longer one (:func:`lookup`)
                  --postings-->   documents holding each hash; a hash held by more than
                                  :func:`common_cap` documents, or listed by the shipped boilerplate
                                  model (:func:`with_model`), is boilerplate and nominates nothing; at
                                  most :data:`QUERY_POSTINGS` postings per query (:func:`within_budget`)
                  --votes-->      per document, its distinct shared hashes (its dense keys one vote in
                                  all), plus :data:`BAND_VOTES` for sharing a MinHash LSH band with a
                                  whole-file query (:func:`votes`)
                  --rank-->       the best :data:`MAX_CANDIDATES` by votes, equal votes in content order,
                                  then the cut of weak candidates (:func:`rank`)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from . import boilerplate
from . import fingerprint as fp
from .stores.base import Postings, budget_common
from .stores.segments import in_sorted

#: A fingerprint found in more documents than this is boilerplate: a share of the index, at least
#: COMMON_MIN_CAP, and never more than COMMON_MAX_CAP, so that the postings one fingerprint costs a query
#: stay bounded however large the index grows (1e-4 of 3 billion documents would be 300,000).
COMMON_MIN_CAP = 64
COMMON_FRACTION = 1e-4
COMMON_MAX_CAP = 1000
#: Most postings one query reads (see :func:`within_budget`).
QUERY_POSTINGS = 100_000
#: Queries of at most this many k-grams look up every k-gram, longer ones only their winnowed ones.
SHORT_QUERY_KGRAMS = 96
#: Queries of at least this many tokens (whole files) also look up their MinHash LSH bands.
LSH_MIN_TOKENS = 4 * fp.T
#: Votes a shared LSH band is worth (a near-duplicate file may share few k-grams with its origin).
BAND_VOTES = 2
#: Most documents aligned per query.
MAX_CANDIDATES = 24
#: The best-voted documents that are aligned however few votes they have (see :func:`rank`).
MIN_CANDIDATES = 8
#: Candidates with fewer votes (one shared fingerprint) are aligned only while no better-voted one has
#: attributed (:func:`whence.index.search.search`): most of them share nothing worth reporting, and
#: lexing and aligning them was a third of the work of a search.
SECOND_VOTES = 2
#: Tied candidates at the cut whose order keys are fetched; past this many, ids break the tie.
MAX_TIED = 5000

#: Order keys of documents, by id (``Store.order_keys``).
OrderKeys = Callable[[Sequence[int]], Mapping[int, int]]


def common_cap(documents: int) -> int:
    """Document frequency above which a fingerprint counts as boilerplate."""
    return min(COMMON_MAX_CAP, max(COMMON_MIN_CAP, int(documents * COMMON_FRACTION)))


def within_budget(post: Postings, budget: int = QUERY_POSTINGS) -> Postings:
    """``post`` with at most ``budget`` postings: the hashes held by the most documents are made common
    (:func:`budget_common`) until the rest fit.  A query's work is then bounded at any index size: its
    hashes each cost at most :func:`common_cap` postings, and all of them together at most ``budget``."""
    if len(post.hashes) <= budget:
        return post
    uniq, counts = np.unique(post.hashes, return_counts=True)
    dropped = budget_common(uniq, counts.astype(np.int64), budget)
    keep = ~in_sorted(dropped, post.hashes)
    return Postings(post.hashes[keep], post.docs[keep], np.union1d(post.common, dropped), post.band_docs)


def lookup(
    exact: npt.NDArray[np.uint64], abstract: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]]:
    """The k-gram hashes a query looks up, and the query token position at which each one starts.

    Args:
        exact, abstract: the query's k-grams in the exact and the abstract view.

    Returns:
        (hashes, positions): the exact view's, then the abstract view's.  A query of at most
        :data:`SHORT_QUERY_KGRAMS` k-grams looks up every one; a longer one only its winnowed ones, which
        is enough: inside a shared run of at least ``fp.T`` tokens the query and an indexed document
        select the same k-grams.  (A snippet search also looks up :func:`dense` keys.)
    """
    if len(exact) > SHORT_QUERY_KGRAMS:
        pe = fp.winnow(exact).astype(np.intp)
        pa = fp.winnow(abstract).astype(np.intp)
    else:
        pe = np.arange(len(exact), dtype=np.intp)
        pa = np.arange(len(abstract), dtype=np.intp)
    return np.concatenate((exact[pe], abstract[pa])), np.concatenate((pe, pa))


def dense(exact: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The dense keys a snippet search looks up after :func:`lookup`'s hashes when no document holds
    any of a query's exact k-grams ``exact`` (:func:`.fingerprint.dense_keys`: a small file's k-grams
    that its winnowing did not select, a mid-size file's that begin a line, a large file's that begin
    its sparse lines): all of a short query's, none of a longer one's.  A scan does not
    look them up: the regions it reports are at least the winnowing guarantee long."""
    if len(exact) > SHORT_QUERY_KGRAMS:
        return np.zeros(0, dtype=np.uint64)
    return fp.dense_keys(exact)


def shapes(abstract: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The shape keys a snippet search looks up beside :func:`dense`'s when no document holds any of a
    short query's abstract k-grams ``abstract`` (:func:`.fingerprint.shape_keys`: a small file's abstract
    k-grams that its winnowing did not select, a mid-size file's that begin a line, a large file's that
    begin its sparse lines): a renamed copy of a
    few lines shares no exact k-gram with its origin, only abstract ones.  None of a longer query's."""
    if len(abstract) > SHORT_QUERY_KGRAMS:
        return np.zeros(0, dtype=np.uint64)
    return fp.shape_keys(abstract)


def with_model(post: Postings, looked_up: npt.NDArray[np.uint64]) -> Postings:
    """``post`` with the looked-up hashes that the shipped boilerplate model lists (:mod:`.boilerplate`)
    made common like those the index itself holds in too many documents: they nominate no candidate and
    the query tokens they cover are not informative."""
    listed = np.unique(looked_up[boilerplate.common(looked_up)]).view(np.int64)
    if not len(listed):
        return post
    keep = ~in_sorted(listed, post.hashes)
    return Postings(post.hashes[keep], post.docs[keep], np.union1d(post.common, listed), post.band_docs)


def band_keys(tokens: int, exact: npt.NDArray[np.uint64]) -> list[int]:
    """The MinHash LSH band keys of a query of ``tokens`` tokens whose exact k-grams are ``exact``; none
    for a query shorter than :data:`LSH_MIN_TOKENS` (bands only find whole files alike)."""
    if tokens < LSH_MIN_TOKENS:
        return []
    return fp.band_keys(fp.minhash(np.unique(exact[fp.winnow(exact)])))


def votes(
    post: Postings,
    band_docs: Iterable[int] = (),
    dense_keys: npt.NDArray[np.uint64] | None = None,
    shape_keys: npt.NDArray[np.uint64] | None = None,
) -> dict[int, int]:
    """Votes per document: the distinct queried hashes it holds, plus :data:`BAND_VOTES` if it shares
    an LSH band with the query; its dense keys among them (``dense_keys``: :func:`dense`) are one vote
    in all, and its shape keys (``shape_keys``: :func:`shapes`) one more.  A small file holds every
    k-gram of its own there, a larger one the winnowed ones: counted alike, three small files sharing
    half of a query would outvote the file holding all of it.  Apart, a file holding a query's code
    (its dense keys) outvotes the files holding only its shape."""
    groups = [k for k in (dense_keys, shape_keys) if k is not None and len(k)]
    if not groups or not len(post.hashes):
        out = post.votes()
    else:
        held = [in_sorted(np.sort(k.view(np.int64)), post.hashes) for k in groups]
        rest = ~np.logical_or.reduce(held)
        out = Postings(post.hashes[rest], post.docs[rest], post.common, post.band_docs).votes()
        for h in held:
            for d in np.unique(post.docs[h]).tolist():
                out[d] = out.get(d, 0) + 1
    for d in band_docs:
        out[d] = out.get(d, 0) + BAND_VOTES
    return out


def band_only_docs(post: Postings, band_docs: Collection[int]) -> set[int]:
    """Of ``band_docs`` (documents sharing an LSH band with the query), those holding none of the hashes
    looked up (``post``): their votes are the band's alone (see :func:`rank`)."""
    if not len(band_docs):
        return set()
    bands = np.fromiter(band_docs, dtype=np.int64, count=len(band_docs))
    return set(bands[~np.isin(bands, post.docs)].tolist())


def rank(votes: Mapping[int, int], order_keys: OrderKeys, band_only: Collection[int] = ()) -> list[int]:
    """The documents to align, best first: at most :data:`MAX_CANDIDATES` by votes, then only those past
    the first :data:`MIN_CANDIDATES` that hold at least a tenth of the best one's votes (and at least
    2): a document sharing a tenth of the best one's fingerprints holds at most a fragment of the query.
    Past them too, none of ``band_only``: documents whose votes are an LSH band's alone, sharing none of
    the hashes looked up.  (A query cut from the middle of a license header that every JDK file opens
    with shares a band with dozens of small files, all of whose shared k-grams are boilerplate: 19 of
    the search benchmark's 500 queries aligned 14 candidates each on average, now 8, and no
    evaluation's answer changed.)

    Equal votes are ordered by ``order_keys`` (``Store.order_keys``: the first 63 bits of each
    document's content hash), not by document id.  Ids are store-specific -- insertion order in SQLite,
    content-derived in the engine store -- so ordering by id would let the same corpus in two stores,
    or built twice in another order, align other candidates (at the cut) or report other origins (among
    equal matches, and in a scan's greedy cover, which keeps the first candidate that explains a
    region).  The content order makes the answer a function of the indexed contents alone.  Only tied
    documents' keys are asked for, and at most :data:`MAX_TIED` beyond the cut (past them, the lowest
    ids), which bounds the cost of a query whose votes are all equal.
    """
    by_votes = sorted(votes, key=lambda d: (-votes[d], d))
    if not by_votes:
        return []
    cut = votes[by_votes[min(MAX_CANDIDATES, len(by_votes)) - 1]]
    contenders = [d for d in by_votes if votes[d] >= cut][: MAX_CANDIDATES + MAX_TIED]
    groups: dict[int, int] = {}
    for d in contenders:
        groups[votes[d]] = groups.get(votes[d], 0) + 1
    tied = [d for d in contenders if groups[votes[d]] > 1]
    keys = order_keys(tied) if tied else {}
    contenders.sort(key=lambda d: (-votes[d], keys.get(d, d)))
    ranked = contenders[:MAX_CANDIDATES]
    floor = max(2, votes[ranked[0]] // 10)
    return [
        d for i, d in enumerate(ranked) if i < MIN_CANDIDATES or (votes[d] >= floor and d not in band_only)
    ]
