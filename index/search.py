"""Search: where did this code come from?

    query bytes --fingerprint--> every k-gram of both views (not only the winnowed ones: any k-gram a
                                 document selected inside a shared run is then among them)
                --store.postings--> candidate documents, ranked by distinct shared fingerprints; hashes
                                 found in more than ``common_cap`` documents are boilerplate and only
                                 mask the query, they never nominate a candidate
                --align-->       per candidate, re-tokenise it and grow token-exact tiles from shared
                                 k-grams (greedy string tiling), in the exact and the abstract view;
                                 chain tiles into spans (query lines <-> source lines)
                --verdict-->     verbatim: an exact span of >= MIN_MATCH_TOKENS informative tokens;
                                 near-duplicate: such a span only in the abstract view (renamed copy)

Minimum match size: MIN_MATCH_TOKENS = 40 tokens (see ``docs/search.md``).  On the Python standard
library a whence token averages 4.2 non-whitespace characters and a code line 8.2 tokens, so 40 tokens
are about 170 normalised characters or five lines of code: next to Dolos's 39-token guarantee, a little
above Copilot's ~150 characters and well above SCANOSS's 93.  The winnowing guarantee
T = K + W - 1 = 35 tokens is below it, so every qualifying run is found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import fingerprint as fp
from . import lexer
from . import licenses as lic
from .errors import InvalidInput
from .lexer import Tokens
from .model import Occurrence
from .stores.base import Store

MIN_MATCH_TOKENS = 40
#: A fingerprint found in more documents than this is boilerplate (relative to the index size).
COMMON_MIN_CAP = 64
COMMON_FRACTION = 1e-4
MAX_CANDIDATES = 24
MAX_RUNS = 4096
MAX_SEED_REPEATS = 2
MIN_CANDIDATES = 8
SHORT_QUERY_KGRAMS = 96
MAX_QUERY_BYTES = 1 << 20
#: Tiles closer than this (in both texts, tokens) join one span: a changed literal or a dropped token
#: does not cut a copy in two.
SPAN_GAP = 12

VERDICTS = ("none", "near-duplicate", "verbatim")


@dataclass(frozen=True, slots=True)
class Span:
    """An aligned region: query lines ↔ source lines, and how many tokens matched in it."""

    query_lines: tuple[int, int]
    source_lines: tuple[int, int]
    tokens: int
    query_tokens: tuple[int, int]  # token index range [start, end) in the query
    source_tokens: tuple[int, int]
    line_pairs: tuple[tuple[int, int], ...] = ()  # (query line, source line) of the matched tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "query_lines": list(self.query_lines),
            "source_lines": list(self.source_lines),
            "tokens": self.tokens,
        }


@dataclass(slots=True)
class Match:
    """One source document the query (partly) came from."""

    doc_id: int
    verdict: str
    score: float
    matched_tokens: int
    longest_span_tokens: int
    spans: list[Span]
    occurrences: list[Occurrence] = field(default_factory=list)
    blob_id: str = ""
    source_text: str | None = None  # filled on request, for side-by-side display

    @property
    def primary(self) -> Occurrence:
        return self.occurrences[0] if self.occurrences else Occurrence("", "")

    def as_dict(self) -> dict[str, Any]:
        occ = self.primary
        first, last = self.spans[0].source_lines if self.spans else (1, 1)
        info = lic.classify(occ.licenses)
        return {
            "repo": occ.repo,
            "path": occ.path,
            "blob_id": self.blob_id,
            "url": occ.url_for_lines(first, last),
            "licenses": list(occ.licenses),
            "license_category": info.category,
            "attribution_required": info.attribution_required,
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "matched_tokens": self.matched_tokens,
            "longest_span_tokens": self.longest_span_tokens,
            "spans": [s.as_dict() for s in self.spans],
            "occurrences": [o.as_dict(first, last) for o in self.occurrences],
        }


@dataclass(slots=True)
class SearchResult:
    """The answer to one query (its JSON form is the contract in ARCHITECTURE.md)."""

    lines: int
    tokens: int
    matches: list[Match]

    @property
    def verdict(self) -> str:
        best = 0
        for m in self.matches:
            best = max(best, VERDICTS.index(m.verdict))
        return VERDICTS[best]

    def first(self) -> Match | None:
        return self.matches[0] if self.matches else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": {"lines": self.lines, "tokens": self.tokens},
            "verdict": self.verdict,
            "matches": [m.as_dict() for m in self.matches],
        }


# -- alignment ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tile:
    q: int  # first query token
    d: int  # first document token
    n: int  # tokens


_FILTER_BITS = 16
_FILTER_MASK = np.uint64((1 << _FILTER_BITS) - 1)


@dataclass(frozen=True, slots=True)
class _Grams:
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

    @classmethod
    def of(cls, kgrams: npt.NDArray[np.uint64]) -> _Grams:
        order = np.argsort(kgrams, kind="stable")
        table = np.zeros(1 << _FILTER_BITS, dtype=bool)
        table[(kgrams & _FILTER_MASK).astype(np.intp)] = True
        return cls(kgrams, order, kgrams[order], table)

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


def _runs(
    grams: _Grams,
    dk: npt.NDArray[np.uint64],
    qt: npt.NDArray[np.uint64],
    dt: npt.NDArray[np.uint64],
    k: int,
    need: int,
) -> tuple[int, dict[tuple[int, int], int]]:
    """Maximal token-exact common runs seeded by the k-grams query and document share:
    (shared document k-grams, {(query start, document start): length}).  Nothing is grown when
    fewer than ``need`` k-grams are shared.  The compiled kernel does this when it is built; the numpy
    code below is its reference (the tests compare them)."""
    native = fp.seed_runs(grams.sorted, grams.order, dk, qt, dt, k, MAX_SEED_REPEATS, need)
    if native is not None:
        hits, rows = native
        if len(rows) > MAX_RUNS:  # a very repetitive document: keep the longest runs
            rows = rows[np.sort(np.argsort(-rows[:, 2], kind="stable")[:MAX_RUNS])]
        return hits, {(q, d): n for q, d, n in rows.tolist()}
    hit = grams.shared(dk)
    if len(hit) < need:
        return len(hit), {}
    return len(hit), _grow(hit, grams, dk, qt, dt, k)


def _grow(
    hit: npt.NDArray[np.intp],
    grams: _Grams,
    dk: npt.NDArray[np.uint64],
    qt: npt.NDArray[np.uint64],
    dt: npt.NDArray[np.uint64],
    k: int,
) -> dict[tuple[int, int], int]:
    """:func:`_runs` in numpy and Python: every (query, document) pair of equal k-grams at ``hit``;
    consecutive pairs on one diagonal form a run, grown from its ends while the tokens agree."""
    hv = dk[hit]
    left = np.searchsorted(grams.sorted, hv, side="left")
    cnt = np.searchsorted(grams.sorted, hv, side="right") - left
    # A k-gram repeated in the query (a run of equal lines, a table of zeros) seeds nothing: it would
    # pair every copy with every copy.  Its tokens are still matched by growing neighbouring tiles.
    rare = cnt <= MAX_SEED_REPEATS
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


def _tiles(grown: dict[tuple[int, int], int], nq: int, k: int) -> list[_Tile]:
    """Greedy string tiling of the runs (longest first): non-overlapping tiles in the query, ordered by
    query position."""
    if not grown:
        return []
    taken = bytearray(nq)  # 1 where a chosen tile covers the query token (bytes ops run in C)
    out: list[_Tile] = []
    for (q0, d0), n in sorted(grown.items(), key=lambda kv: (-kv[1], kv[0])):
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
        out.append(_Tile(q0, d0, n))
    # The same lines may occur more than once in the document: report every place a chosen tile
    # matches in full, not only the first.
    chosen = {(t.q, t.n) for t in out}
    have = {(t.q, t.d, t.n) for t in out}  # a set: testing membership in ``out`` was quadratic
    out.extend(
        _Tile(q0, d0, n) for (q0, d0), n in grown.items() if (q0, n) in chosen and (q0, d0, n) not in have
    )
    return sorted(out, key=lambda t: (t.q, t.d))


def _chain(tiles: list[_Tile]) -> list[list[_Tile]]:
    """Group query-ordered tiles into spans: monotone in both texts, gaps of at most SPAN_GAP."""
    spans: list[list[_Tile]] = []
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


def _informative(tiles: list[_Tile], mask: npt.NDArray[np.bool_]) -> int:
    """Matched tokens of a span that are not covered by boilerplate fingerprints."""
    return int(sum(int((~mask[t.q : t.q + t.n]).sum()) for t in tiles))


def _make_spans(
    chains: list[list[_Tile]], qtok: Tokens, dtok: Tokens, mask: npt.NDArray[np.bool_]
) -> list[tuple[Span, int]]:
    out = []
    for c in chains:
        q0, q1 = c[0].q, c[-1].q + c[-1].n
        d0, d1 = c[0].d, c[-1].d + c[-1].n
        matched = sum(t.n for t in c)
        # (query line, document line) of every matched token, distinct and sorted: one int64 key per
        # pair (lines fit in 32 bits), which np.unique sorts far faster than rows of a 2-D array.
        ql = np.concatenate([qtok.line_start[t.q : t.q + t.n] for t in c]).astype(np.int64)
        dl = np.concatenate([dtok.line_start[t.d : t.d + t.n] for t in c]).astype(np.int64)
        keys = np.unique((ql << 32) | dl)
        pairs = np.stack((keys >> 32, keys & 0xFFFFFFFF), axis=1)
        span = Span(
            (int(qtok.line_start[q0]), int(qtok.line_end[q1 - 1])),
            (int(dtok.line_start[d0]), int(dtok.line_end[d1 - 1])),
            matched,
            (q0, q1),
            (d0, d1),
            tuple((int(a), int(b)) for a, b in pairs.tolist()),
        )
        out.append((span, _informative(c, mask)))
    return out


@dataclass(slots=True)
class _Query:
    tokens: Tokens
    exact: _Grams  # every exact k-gram
    abstract: _Grams
    exact_common: npt.NDArray[np.bool_]  # per query token: covered by a boilerplate exact fingerprint
    any_common: npt.NDArray[np.bool_]  # ... by a boilerplate fingerprint of either view


def align(
    query: _Query, text: bytes | Tokens, min_tokens: int = MIN_MATCH_TOKENS
) -> tuple[str, list[Span], int, int]:
    """Align a query with one document (its text, or its tokens when the caller keeps them):
    (verdict, spans, matched tokens, longest span tokens)."""
    dtok = text if isinstance(text, Tokens) else fp.tokenize(text)
    k = fp.K
    # A span of min_tokens tokens (gaps aside) holds at least min_tokens - k + 1 shared k-grams, so a
    # document with fewer cannot qualify in that view: skip the tiling.
    need = max(1, min(min_tokens, len(query.tokens)) - k + 1 - SPAN_GAP)

    def spans_of(
        grams: _Grams, qt: npt.NDArray[np.uint64], dt: npt.NDArray[np.uint64], mask: npt.NDArray[np.bool_]
    ) -> list[tuple[Span, int]]:
        hits, grown = _runs(grams, fp.kgrams(dt, k), qt, dt, k, need)
        if hits < need:
            return []
        # A chain of fewer matched tokens than min_tokens cannot hold min_tokens informative ones:
        # building its span (line pairs and all) would be wasted.
        tiles = _tiles(grown, len(qt), k)
        chains = [c for c in _chain(tiles) if sum(t.n for t in c) >= min_tokens]
        return _make_spans(chains, query.tokens, dtok, mask)

    exact = spans_of(query.exact, query.tokens.exact, dtok.exact, query.exact_common)
    good = [(s, inf) for s, inf in exact if inf >= min_tokens]
    if good:
        spans = [s for s, _ in good]
        return "verbatim", spans, _covered(spans), max(s.tokens for s in spans)
    abstract = spans_of(query.abstract, query.tokens.abstract, dtok.abstract, query.any_common)
    good = [(s, inf) for s, inf in abstract if inf >= min_tokens and _renamed_copy(s, query.tokens, dtok)]
    if good:
        spans = [s for s, _ in good]
        return "near-duplicate", spans, _covered(spans), max(s.tokens for s in spans)
    return "none", [], 0, 0


def _covered(spans: list[Span]) -> int:
    """Query tokens matched by the spans (a region matched at two places of the document counts once)."""
    seen: set[tuple[int, int, int]] = set()
    total = 0
    for s in spans:
        key = (s.query_tokens[0], s.query_tokens[1], s.tokens)
        if key not in seen:
            seen.add(key)
            total += s.tokens
    return total


_IDENT_HASH = np.uint64(lexer.CLASS_HASH[lexer.IDENT])
_LITERAL_HASHES = np.array([lexer.CLASS_HASH[lexer.NUMBER], lexer.CLASS_HASH[lexer.STRING]], dtype=np.uint64)


def _renamed_copy(span: Span, q: Tokens, d: Tokens) -> bool:
    """Whether an abstract-only alignment looks like a renamed copy rather than code of the same shape.

    A copy whose identifiers were renamed keeps its literals and renames consistently: every use of a
    name maps to the same new name.  Two unrelated files of one shape (stub files, generated tables)
    have neither property.  So the span needs positive evidence -- literals that agree, or repeated
    identifiers that map consistently -- and no strong counter-evidence (most literals differing).
    """
    q0, q1 = span.query_tokens
    d0 = span.source_tokens[0]
    n = min(q1 - q0, span.source_tokens[1] - d0)
    qa = q.abstract[q0 : q0 + n]
    same_shape = qa == d.abstract[d0 : d0 + n]  # tiles of the span (gaps between tiles excluded)
    qe = q.exact[q0 : q0 + n][same_shape]
    de = d.exact[d0 : d0 + n][same_shape]
    kinds = qa[same_shape]
    lit = np.isin(kinds, _LITERAL_HASHES)
    lit_total = int(lit.sum())
    lit_same = int((qe[lit] == de[lit]).sum())
    if lit_total >= 4 and lit_same * 3 < lit_total:
        return False
    if lit_same >= 2 and lit_same * 2 >= lit_total:
        return True
    ident = kinds == _IDENT_HASH
    pairs = list(zip(qe[ident].tolist(), de[ident].tolist(), strict=True))
    if not pairs:
        return False
    best: dict[int, dict[int, int]] = {}
    for a, b in pairs:
        counts = best.setdefault(a, {})
        counts[b] = counts.get(b, 0) + 1
    repeats = len(pairs) - len(best)
    consistent = sum(max(c.values()) - 1 for c in best.values())
    return repeats >= 3 and consistent * 5 >= repeats * 4


# -- search ------------------------------------------------------------------------------------------


def common_cap(documents: int) -> int:
    """Document frequency above which a fingerprint counts as boilerplate."""
    return max(COMMON_MIN_CAP, int(documents * COMMON_FRACTION))


def decode_query(code: bytes | str) -> bytes:
    """Validate a query: text, UTF-8, not binary, not huge.  Raises :class:`InvalidInput`."""
    raw = code.encode("utf-8") if isinstance(code, str) else code
    if len(raw) > MAX_QUERY_BYTES:
        raise InvalidInput(
            f"query is {len(raw)} bytes; the limit is {MAX_QUERY_BYTES} (search a smaller part)"
        )
    if b"\x00" in raw:
        raise InvalidInput("query looks binary (it contains NUL bytes)")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"query is not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"
        ) from exc
    return raw


def _cover(kgrams: npt.NDArray[np.uint64], common: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.bool_]:
    """Tokens covered by any k-gram in ``common``."""
    mask = np.zeros(n + 1, dtype=np.int32)
    if len(common):
        starts = np.flatnonzero(np.isin(kgrams, common))
        np.add.at(mask, starts, 1)
        np.add.at(mask, np.minimum(starts + fp.K, n), -1)
    return np.cumsum(mask[:n]) > 0


def _match(
    store: Store, raw: bytes, min_tokens: int, with_text: bool, documents: int, top: int
) -> tuple[int, list[Match]]:
    """Candidates and alignments for one lexing of the query: (query tokens, matches best first)."""
    toks = fp.tokenize(raw)
    if len(toks) < max(fp.K, min(min_tokens, fp.T)):
        return len(toks), []
    qe = fp.kgrams(toks.exact)
    qa = fp.kgrams(toks.abstract)
    cap = common_cap(documents)
    # Short queries look up every k-gram; longer ones only their winnowed ones, which is enough: inside
    # a shared run of >= T tokens the query and the document select the same k-grams.
    if len(qe) > SHORT_QUERY_KGRAMS:
        lookup = np.concatenate((qe[fp.winnow(qe)], qa[fp.winnow(qa)]))
    else:
        lookup = np.concatenate((qe, qa))
    post = store.postings(lookup.view(np.int64), cap)

    # Boilerplate masks: query tokens covered by a common fingerprint.  An exact copy is judged only
    # against common *exact* fingerprints: code whose shape is common can still be a specific copy.
    common = post.common.view(np.uint64)
    exact_mask = _cover(qe, common, len(toks))
    any_mask = exact_mask | _cover(qa, common, len(toks))
    query = _Query(toks, _Grams.of(qe), _Grams.of(qa), exact_mask, any_mask)

    votes = post.votes()
    if len(toks) >= 4 * fp.T:  # whole files: MinHash LSH finds near-duplicates with few shared grams
        sig = fp.minhash(np.unique(qe[fp.winnow(qe)]))
        for d in store.band_docs(fp.band_keys(sig)):
            votes[d] = votes.get(d, 0) + 2
    ranked = _rank(store, votes)
    if ranked:
        # Documents sharing a tenth of the best one's fingerprints hold at most a fragment of the
        # query; past the best few, they are not worth aligning.
        floor = max(2, votes[ranked[0]] // 10)
        ranked = [d for i, d in enumerate(ranked) if i < MIN_CANDIDATES or votes[d] >= floor]

    matches: list[Match] = []
    for d in ranked:
        text = store.text(d)
        verdict, spans, matched, longest = align(query, text, min_tokens)
        if verdict == "none":
            continue
        m = Match(d, verdict, matched / max(1, len(toks)), matched, longest, spans)
        if with_text:
            m.source_text = text.decode("utf-8", "replace")
        matches.append(m)
        complete = [x for x in matches if x.verdict == "verbatim" and x.matched_tokens >= len(toks)]
        if len(complete) >= top:
            break  # the best possible answers are in: the rest cannot rank above them
    # Best verdict first, then most matched tokens; among equals, the document sharing more of the
    # query's fingerprints (the candidates' order).
    rank = {d: i for i, d in enumerate(ranked)}
    matches.sort(key=lambda m: (-VERDICTS.index(m.verdict), -m.matched_tokens, rank[m.doc_id]))
    return len(toks), matches


#: Tied candidates at the cut whose order keys are fetched; past this many, ids break the tie.
MAX_TIED = 5000


def _rank(store: Store, votes: dict[int, int]) -> list[int]:
    """The best :data:`MAX_CANDIDATES` documents by votes.  Equal votes are ordered by the store's
    content-derived order key, not by document id (ids differ between stores): the same index in
    SQLite and in the engine then aligns the same candidates in the same order."""
    by_votes = sorted(votes, key=lambda d: (-votes[d], d))
    if not by_votes:
        return []
    cut = votes[by_votes[min(MAX_CANDIDATES, len(by_votes)) - 1]]
    contenders = [d for d in by_votes if votes[d] >= cut]
    if len(contenders) > MAX_CANDIDATES + MAX_TIED:
        contenders = contenders[: MAX_CANDIDATES + MAX_TIED]
    keys = store.order_keys(contenders)
    contenders.sort(key=lambda d: (-votes[d], keys.get(d, d)))
    return contenders[:MAX_CANDIDATES]


def search(
    store: Store,
    code: bytes | str,
    *,
    top: int = 5,
    min_tokens: int = MIN_MATCH_TOKENS,
    with_text: bool = False,
    documents: int | None = None,
) -> SearchResult:
    """Find where ``code`` came from.

    Args:
        store: the index.
        code: the snippet (bytes must be UTF-8).
        top: most matches to return.
        min_tokens: smallest informative span that attributes.
        with_text: also return each match's source text (for side-by-side display).
        documents: index size, if the caller knows it (saves a count per query).

    Raises:
        InvalidInput: binary, non-UTF-8 or oversized input.
    """
    if top < 1:
        raise InvalidInput(f"top must be at least 1, got {top}")
    raw = decode_query(code)
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
    if documents is None:
        documents = store.count_documents()
    ntokens, matches = _match(store, raw, min_tokens, with_text, documents, top)
    result = SearchResult(lines, ntokens, [])
    result.matches = attach_origins(store, matches[:top])
    return result


def attach_origins(store: Store, matches: list[Match]) -> list[Match]:
    """Fill each match's occurrences (every repository and path of its content) and blob id."""
    if matches:
        occ = store.occurrences([m.doc_id for m in matches])
        docs_info = store.documents([m.doc_id for m in matches])
        for m in matches:
            m.occurrences = occ.get(m.doc_id, [])
            info = docs_info.get(m.doc_id)
            m.blob_id = info.blob_id if info else ""
    return matches
