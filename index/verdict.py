"""Verdict: what the alignment of a query with one document means, and the results that carry it.

* ``verbatim``: an exact-view span of at least :data:`MIN_MATCH_TOKENS` informative tokens (tokens no
  boilerplate fingerprint covers);
* ``near-duplicate``: no such exact span, but such a span in the abstract view that looks like a renamed
  copy rather than code of the same shape;
* ``none``: neither.

Minimum match size: MIN_MATCH_TOKENS = 40 tokens (see ``docs/search.md``).  On the Python standard
library a whence token averages 4.2 non-whitespace characters and a code line 8.2 tokens, so 40 tokens
are about 170 normalised characters or five lines of code: next to Dolos's 39-token guarantee, a little
above Copilot's ~150 characters and well above SCANOSS's 93.  The winnowing guarantee
T = K + W - 1 = 35 tokens is below it, so every qualifying run is found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from . import fingerprint as fp
from . import lexer
from . import licenses as lic
from .align import Query, Span, view_spans
from .lexer import Tokens
from .model import Occurrence

MIN_MATCH_TOKENS = 40
#: Verdicts from worst to best (a result's verdict is its best match's).
VERDICTS = ("none", "near-duplicate", "verbatim")


class Judgement(NamedTuple):
    """What :func:`judge` found in one document."""

    verdict: str
    spans: list[Span]
    matched: int  # query tokens the spans match (see covered_tokens)
    longest: int  # tokens of the longest span


def judge(query: Query, text: bytes | Tokens, min_tokens: int = MIN_MATCH_TOKENS) -> Judgement:
    """Align a query with one document (its text, or its tokens when the caller keeps them) and judge
    the alignment: the exact view first; the abstract view only if the exact one has no qualifying
    span."""
    dtok = text if isinstance(text, Tokens) else fp.tokenize(text)
    good = [s for s, inf in view_spans(query, dtok, "exact", min_tokens) if inf >= min_tokens]
    if good:
        return Judgement("verbatim", good, covered_tokens(good), max(s.tokens for s in good))
    abstract = view_spans(query, dtok, "abstract", min_tokens)
    good = [s for s, inf in abstract if inf >= min_tokens and _renamed_copy(s, query.tokens, dtok)]
    if good:
        return Judgement("near-duplicate", good, covered_tokens(good), max(s.tokens for s in good))
    return Judgement("none", [], 0, 0)


def covered_tokens(spans: list[Span]) -> int:
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

    @classmethod
    def of(cls, doc_id: int, found: Judgement, query_tokens: int) -> Match:
        """A match from what :func:`judge` found in a document, for a query of ``query_tokens``
        tokens (its score is the share of them matched)."""
        score = found.matched / max(1, query_tokens)
        return cls(doc_id, found.verdict, score, found.matched, found.longest, found.spans)

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
    """The answer to one query.  Its JSON form (:meth:`as_dict`) is the output of ``whence search
    --format json`` and of ``POST /v1/search``, documented in README.md."""

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
