"""Attribution in the prompt's context: the completion searched together with the code around it.

A model that continues a function the prompt began copies it from the prompt's last tokens on: the
completion alone may hold less than a whole minimum span of the copy while the code around it holds the
rest.  So, as Copilot matches a suggestion with about 150 characters of the code around it, the
completion is searched with the end of the prompt before it (:func:`context_before`) and, for
Fill-in-the-Middle, the beginning of the suffix after it (:func:`context_after`), and every span of a
match is split into the parts that lie in the prompt, in the completion and in the suffix
(:func:`split_result`).

A match the model did not write -- one that lies wholly in the prompt or the suffix, or whose part in
the completion holds fewer than ``min_completion_tokens`` matched tokens -- is dropped: it is the user's
own code, not the completion's copy, and never withholds a completion.

Parts are found in the tokens of the searched text as each match was aligned (the query lexed with the
matched document's language): the first tokens that the prompt's end alone lexes to are the prompt's,
the last tokens that the suffix's beginning alone lexes to are the suffix's, the rest -- a token that
straddles a boundary included -- the completion's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from whence.index import fingerprint as fp
from whence.index.lexer import Tokens
from whence.index.search import Match, SearchResult, Span
from whence.index.stores.base import StoreReader

from .base import CONTEXT_CHARS

#: Matched tokens a match must have in the completion to be the completion's: about a line of code.
#: The context alone can hold most of a minimum span; a match the model extended by a token or two is
#: the prompt's copy, not the model's.
MIN_COMPLETION_TOKENS = 8


def context_before(prompt: str, chars: int = CONTEXT_CHARS) -> str:
    """The end of ``prompt`` searched before a completion: its last ``chars`` characters, moved back to
    the start of their first line (so that no string or comment is entered in its middle) when that
    line start is at most ``4 * chars`` characters from the end."""
    if chars <= 0 or not prompt:
        return ""
    start = max(0, len(prompt) - chars)
    if start:
        line = prompt.rfind("\n", 0, start) + 1
        if len(prompt) - line <= 4 * chars:
            start = line
    return prompt[start:]


def context_after(suffix: str | None, chars: int = CONTEXT_CHARS) -> str:
    """The beginning of a Fill-in-the-Middle ``suffix`` searched after a completion: its first ``chars``
    characters, moved on to the end of their last line when that is near (as :func:`context_before`)."""
    if chars <= 0 or not suffix:
        return ""
    end = min(len(suffix), chars)
    if end < len(suffix):
        nl = suffix.find("\n", end)
        line_end = len(suffix) if nl < 0 else nl + 1
        if line_end <= 4 * chars:
            end = line_end
    return suffix[:end]


def _clean(text: str) -> str:
    return text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class Parts:
    """Where the completion lies in the searched text ``before + completion + after``.

    ``prompt_first_line`` is the prompt's line (1-based) on which ``before`` begins; ``suffix``-side
    lines count from the suffix's first line.
    """

    before: str
    completion: str
    after: str
    prompt_first_line: int = 1

    @classmethod
    def of(
        cls, completion: str, prompt: str = "", suffix: str | None = None, chars: int = CONTEXT_CHARS
    ) -> Parts:
        """The completion with ``chars`` characters of context from ``prompt`` and ``suffix``.  The
        context is the user's text: a NUL (which makes a search refuse its query as binary) becomes a
        space and a lone surrogate (not UTF-8) a ``?``, one character for one, so that odd bytes in a
        prompt never fail the completion's attribution."""
        before = context_before(prompt, chars)
        first = prompt.count("\n", 0, len(prompt) - len(before)) + 1
        return cls(_clean(before), completion, _clean(context_after(suffix, chars)), first)

    @property
    def text(self) -> str:
        return self.before + self.completion + self.after

    @property
    def completion_line(self) -> int:
        """The searched text's line on which the completion begins."""
        return self.before.count("\n") + 1

    @property
    def after_line(self) -> int:
        """The searched text's line on which the suffix's context begins."""
        return (self.before + self.completion).count("\n") + 1


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    diff = np.nonzero(a[:n] != b[:n])[0]
    return int(diff[0]) if len(diff) else n


def token_bounds(parts: Parts, language: str | None) -> tuple[Tokens, int, int]:
    """The searched text's tokens in ``language`` and the completion's token range ``[a, b)``."""
    toks = fp.tokenize(parts.text.encode("utf-8"), language)
    a = 0
    if parts.before:
        a = _common_prefix(toks.exact, fp.tokenize(parts.before.encode("utf-8"), language).exact)
    b = len(toks)
    if parts.after:
        tail = fp.tokenize(parts.after.encode("utf-8"), language).exact
        b = len(toks) - _common_prefix(toks.exact[::-1], tail[::-1])
    return toks, a, max(a, b)


def _part(
    tiles: Sequence[tuple[int, int, int]], toks: Tokens, lo: int, hi: int
) -> tuple[int, tuple[int, int] | None]:
    """Matched tokens of the tiles within token range ``[lo, hi)`` and the lines they lie on."""
    count = 0
    first = last = 0
    for q, _d, n in tiles:
        s, e = max(q, lo), min(q + n, hi)
        if s >= e:
            continue
        count += e - s
        ls, le = int(toks.line_start[s]), int(toks.line_end[e - 1])
        first = ls if not first else min(first, ls)
        last = max(last, le)
    return count, ((first, last) if count else None)


def _shift(lines: tuple[int, int] | None, by: int) -> list[int] | None:
    return None if lines is None else [lines[0] + by, lines[1] + by]


def _source_lines(span: Span, lines: tuple[int, int] | None) -> list[int] | None:
    """The source lines paired with the searched text's ``lines`` in ``span`` (the line a part shares
    with the next counts for both)."""
    if lines is None:
        return None
    src = [d for q, d in span.line_pairs if lines[0] <= q <= lines[1]]
    return [min(src), max(src)] if src else list(span.source_lines)


def _split_span(span: Span, toks: Tokens, a: int, b: int, parts: Parts) -> tuple[Span, dict[str, Any]]:
    """The span with the source lines of its part in the completion, and its JSON with every part."""
    q0, q1 = span.query_tokens
    tiles = span.tiles or ((q0, span.source_tokens[0], q1 - q0),)
    pre, pre_lines = _part(tiles, toks, 0, a)
    mid, mid_lines = _part(tiles, toks, a, b)
    post, post_lines = _part(tiles, toks, b, len(toks))
    own = _source_lines(span, mid_lines)
    if own is not None:
        span = dataclasses.replace(span, source_lines=(own[0], own[1]))
    out = span.as_dict()
    out["query_lines"] = _shift(mid_lines, 1 - parts.completion_line)
    out["completion_tokens"] = mid
    out["prompt_lines"] = _shift(pre_lines, parts.prompt_first_line - 1)
    out["prompt_source_lines"] = _source_lines(span, pre_lines)
    out["prompt_tokens"] = pre
    out["suffix_lines"] = _shift(post_lines, 1 - parts.after_line)
    out["suffix_source_lines"] = _source_lines(span, post_lines)
    out["suffix_tokens"] = post
    return span, out


def _whole(span: Span) -> tuple[Span, dict[str, Any]]:
    out = span.as_dict()
    out |= {"completion_tokens": span.tokens, "prompt_lines": None, "prompt_source_lines": None}
    out |= {"prompt_tokens": 0, "suffix_lines": None, "suffix_source_lines": None, "suffix_tokens": 0}
    return span, out


def split_result(
    store: StoreReader,
    result: SearchResult,
    parts: Parts,
    *,
    top: int,
    min_completion_tokens: int = MIN_COMPLETION_TOKENS,
) -> dict[str, Any]:
    """The search result of ``parts.text`` as the attribution of ``parts.completion``: the JSON of
    :meth:`SearchResult.as_dict` with each span split into its parts, matches the completion does not
    hold at least ``min_completion_tokens`` matched tokens of dropped, at most ``top`` kept.

    Each span's ``query_lines`` are the completion's lines of its part in the completion (line 1: the
    completion's first) and its ``source_lines`` the document's lines of that part (the match's URL points
    at them); ``prompt_lines`` (the prompt's lines, counted in the whole prompt) with
    ``prompt_source_lines``, and ``suffix_lines`` (the suffix's) with ``suffix_source_lines``, those of
    its other parts, or null; ``tokens`` are the span's matched tokens, ``completion_tokens``,
    ``prompt_tokens``, ``suffix_tokens`` those of each part.  A match's ``completion_tokens`` are the
    matched tokens the model produced, its ``context_tokens`` the others; spans without any in the
    completion are left out of it.
    """
    languages: dict[int, str] = {}
    if result.matches and (parts.before or parts.after):
        docs = store.documents([m.doc_id for m in result.matches])
        languages = {d: info.language for d, info in docs.items()}
    lexed: dict[str | None, tuple[Tokens, int, int]] = {}
    kept: list[tuple[Match, list[dict[str, Any]]]] = []
    for m in result.matches:
        if parts.before or parts.after:
            lang = languages.get(m.doc_id) or None
            if lang not in lexed:
                lexed[lang] = token_bounds(parts, lang)
            toks, a, b = lexed[lang]
            pairs = [_split_span(s, toks, a, b, parts) for s in m.spans]
        else:  # the completion alone was searched: every span is the completion's
            pairs = [_whole(s) for s in m.spans]
        own = [(s, d) for s, d in pairs if d["completion_tokens"]]
        if sum(d["completion_tokens"] for _, d in own) < min_completion_tokens:
            continue  # the prompt's (or the suffix's) code, not the model's
        m.spans = [s for s, _ in own]
        kept.append((m, [d for _, d in own]))
        if len(kept) >= top:
            break
    out = SearchResult(result.lines, result.tokens, [m for m, _ in kept]).as_dict()
    for m_out, (_, spans) in zip(out["matches"], kept, strict=True):
        m_out["spans"] = spans
        m_out["completion_tokens"] = sum(s["completion_tokens"] for s in spans)
        m_out["context_tokens"] = sum(s["prompt_tokens"] + s["suffix_tokens"] for s in spans)
    out["context"] = {
        "prompt_chars": len(parts.before),
        "prompt_lines": (
            [parts.prompt_first_line, parts.prompt_first_line + parts.before.count("\n")]
            if parts.before
            else None
        ),
        "suffix_chars": len(parts.after),
    }
    return out
