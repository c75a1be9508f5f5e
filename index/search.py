"""Search: where did this code come from?

    query bytes --fingerprint--> every k-gram of both views (not only the winnowed ones: any k-gram a
                                 document selected inside a shared run is then among them)
                --candidates-->  documents ranked by distinct shared fingerprints; hashes found in more
                                 than ``common_cap`` documents are boilerplate and only mask the query,
                                 they never nominate a candidate (:mod:`.candidates`)
                --align-->       per candidate, re-tokenise it and grow token-exact tiles from shared
                                 k-grams (greedy string tiling), in the exact and the abstract view;
                                 chain tiles into spans (query lines <-> source lines) (:mod:`.align`)
                --verdict-->     verbatim: an exact span of >= MIN_MATCH_TOKENS informative tokens;
                                 near-duplicate: such a span only in the abstract view (renamed copy)
                                 (:mod:`.verdict`)

This module is the pipeline that joins those steps for one query (:func:`search`), and what every
caller of the pipeline shares: query validation (:func:`decode_query`) and attaching each match's
occurrences (:func:`attach_origins`).  :mod:`.cover` joins the same steps for a scanned file.

The names other modules import from here -- the result types, verdicts and the minimum match size --
are re-exported from the modules that define them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

from whence.errors import InvalidInput

from . import boilerplate, candidates, lexer, structure
from . import fingerprint as fp
from .align import COMMON, RARE_DF, UNIQUE_DF, Query, Span
from .candidates import COMMON_MIN_CAP, common_cap
from .lexer import Tokens
from .stores.base import Fetched, Postings, StoreReader
from .stores.segments import in_sorted
from .verdict import (
    ATTRIBUTING,
    EVIDENCE,
    MIN_MATCH_TOKENS,
    VERDICTS,
    Match,
    SearchResult,
    can_attribute,
    judge,
    judge_restructured,
    unique_min,
)

__all__ = [
    "ATTRIBUTING",
    "COMMON_MIN_CAP",
    "EVIDENCE",
    "MAX_QUERY_BYTES",
    "MIN_MATCH_TOKENS",
    "VERDICTS",
    "Match",
    "SearchResult",
    "Span",
    "attach_origins",
    "common_cap",
    "decode_query",
    "search",
]

MAX_QUERY_BYTES = 1 << 20
#: Candidates (the best-voted) searched for weak evidence when none attributes.
WEAK_CANDIDATES = 8
#: Candidates (the best-voted) also aligned with their code alone, block comments dropped whole
#: (:func:`.verdict.judge`'s ``code``).
CODE_CANDIDATES = 3
#: A whole program's query (:data:`.structure.MIN_QUERY_TOKENS` to this many tokens) that no candidate
#: attributes also looks up every abstract k-gram its winnowing did not select, and aligns up to
#: :data:`PROGRAM_CANDIDATES` more documents that hold them (:func:`_program_candidates`).
PROGRAM_TOKENS = 2048
PROGRAM_CANDIDATES = 3


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


class QueryLexings:
    """The query prepared for alignment once per syntax profile: first as it was looked up, then, when a
    candidate's language lexes differently, re-lexed with that language (so that a wrong guess or a
    wrong ``--language`` still aligns each document token for token with its own lexing).  Boilerplate
    masks come from the hashes the lookup found common."""

    def __init__(
        self,
        raw: bytes,
        language: str | None,
        first: Query,
        common: npt.NDArray[np.uint64],
        restore: bytes | None = None,
    ) -> None:
        self.raw = raw
        self.common = common
        self.first = first
        self.restore = restore  # a renamed ``self`` restored in the abstract view (see renamed_self)
        # keyed by the profile's rules (C and C++ lex alike: one lexing serves both)
        self._by_syntax: dict[bytes, Query] = {lexer.syntax_bytes(language): first}

    def get(self, language: str | None) -> Query:
        """The query lexed with ``language``'s profile (cached)."""
        key = lexer.syntax_bytes(language)
        q = self._by_syntax.get(key)
        if q is None:
            toks = fp.tokenize(self.raw, language)
            if self.restore is not None:
                toks = as_self(toks, self.restore)
            # Most code lexes alike in several profiles: keep what the lookup knows of a lexing it read
            # (document frequencies included; the first lexing is tried first).
            for known in self._by_syntax.values():
                if _same_tokens(toks, known.tokens):
                    self._by_syntax[key] = known
                    return known
            q = self.add(language, toks, fp.kgrams(toks.exact), fp.kgrams(toks.abstract))
        return q

    def add(
        self,
        language: str | None,
        toks: Tokens,
        qe: npt.NDArray[np.uint64],
        qa: npt.NDArray[np.uint64],
        frequencies: Callable[[], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] | None = None,
        by_shape: bool = False,
    ) -> Query:
        """Prepare the query lexed with ``language``'s profile (``toks``, k-grams ``qe`` and ``qa``), with
        its document frequencies when the lookup read every one of its k-grams (``by_shape``: the lookup
        read the query's shape keys, :attr:`.align.Query.by_shape`)."""
        # The lookup's common hashes, and those of this lexing that the boilerplate model lists.
        both = np.concatenate((qe, qa))
        common = np.union1d(self.common, both[boilerplate.common(both)])
        q = Query.of(toks, qe, qa, common, frequencies, by_shape)
        self._by_syntax[lexer.syntax_bytes(language)] = q
        return q


@dataclass(slots=True)
class Lexed:
    """A document's stored language, its text and its tokens lexed with that language; the tokens of its
    code alone (:func:`.fingerprint.code_tokens`) are lexed when first asked for."""

    language: str
    text: bytes
    tokens: Tokens
    _code: Tokens | bool | None = False  # False: not lexed yet

    @classmethod
    def of(cls, fetched: Fetched) -> Lexed:
        """A fetched document lexed with its stored language."""
        return cls(fetched.doc.language, fetched.text, fp.tokenize(fetched.text, fetched.doc.language))

    def code(self) -> Tokens | None:
        """The tokens of the document's code alone, None when it has no block comment."""
        if self._code is False:
            self._code = fp.code_tokens(self.text, self.language, self.tokens)
        return self._code if isinstance(self._code, Tokens) else None


def _same_tokens(a: Tokens, b: Tokens) -> bool:
    return (
        np.array_equal(a.exact, b.exact)
        and np.array_equal(a.abstract, b.abstract)
        and np.array_equal(a.line_start, b.line_start)
        and np.array_equal(a.line_end, b.line_end)
    )


#: The most common languages of The Stack v2, one per distinct profile (see :func:`query_language`).
_PROBES = tuple(
    {
        lexer.syntax_bytes(name): name
        for name in ("Python", "JavaScript", "Java", "C", "C++", "C#", "PHP", "Go", "Ruby", "Shell", "Rust")
    }.values()
)
#: Floor division spaced out between operands (``n // 2``): a comment under the default rules and
#: JavaScript's, an operator in Python (see :func:`_pythonic`).
_FLOOR_DIVISION = re.compile(rb"[\w)\]] // [\w(\[-]")


#: What only a Python docstring holds: a doctest prompt, a Google-style section heading (``Args:`` on
#: its own line), a NumPy-style one (``Parameters`` over dashes), a Sphinx field (``:param x:``).
_DOCSTRING = re.compile(
    rb"^[ \t]*(>>> |:(param|type|returns?|rtype|raises?)\b|"
    rb"(Args|Arguments|Returns|Raises|Yields|Examples?|Attributes|Notes?|Keyword Args|Warns):[ \t]*\r?$|"
    rb"(Parameters|Returns|Raises|Yields|Examples|See Also|Notes|Attributes|References)\r?\n"
    rb"[ \t]*-{4,}[ \t]*\r?$)",
    re.M,
)


def _pythonic(raw: bytes) -> bool:
    """Whether ``raw`` holds what the default rules get wrong in Python: triple quotes (a docstring, whose
    URL's ``//`` they take for a comment), spaced-out floor division (:data:`_FLOOR_DIVISION`), or the
    inside of a docstring (:data:`_DOCSTRING`: the default rules read its quoted ```code``` as a
    JavaScript template string and drop its bullets' ``*`` as a C comment's decoration).  A snippet that
    holds one, and that a later probe lexes like the default rules, is also looked up in its Python
    lexing (:func:`lookup_lexings`).  Substring tests first: most snippets have none."""
    if b'"""' in raw or b"'''" in raw:
        return True
    if b" // " in raw and _FLOOR_DIVISION.search(raw) is not None:
        return True
    return (b":" in raw or b">>> " in raw) and _DOCSTRING.search(raw) is not None


#: A line ending in ``;`` or ``{`` (C-family code; Python's lines rarely do), and a Python block's
#: opening line (``if x:``, ``def f(...):``; not a C or Go ``case x:`` label): see :func:`_python_shaped`.
_BRACED = re.compile(rb"[;{][ \t]*\r?$", re.M)
_COLON = re.compile(
    rb"^[ \t]*(def|class|if|elif|else|for|while|try|except|finally|with|async)\b[^\n]*:[ \t]*(#[^\n]*)?\r?$",
    re.M,
)


def _python_shaped(raw: bytes) -> bool:
    """Whether a snippet looks like Python rather than another language that Python's rules lex alike: a
    line opens a Python block (``if``, ``def``, ``for`` ... ending in ``:``) and none ends in ``;`` or
    ``{``.  Other code is also looked up in the default rules' lexing, whose abstract k-grams keep
    ``public``, ``new``, ``func`` as the keywords its files hold (see :func:`lookup_lexings`); Python
    that calls a variable ``default`` or ``new`` need not pay for that second lookup.  Python that another
    language's rules lex like the default rules is also looked up in its Python lexing.  Two searches,
    not a parse."""
    return _COLON.search(raw) is not None and _BRACED.search(raw) is None


#: With no exact probe and no guess, the closest probe is used when within this share of the tokens
#: (see :func:`query_language`).
_DIVERGENT = 0.1


def query_language(raw: bytes, language: str | None) -> str | None:
    """The language a query is lexed with for lookup: the one given (a name or alias); else the first
    common language (Python, JavaScript, Java, C, C#, PHP, Go, Ruby, Shell, Rust: one per profile) whose
    rules give as many tokens as the default rules (the default rules are the union of theirs, so Python
    with ``#`` comments lexes alike under both, and documents of that language then need no second
    lexing of the query); else -- a snippet that no common language lexes like the default rules, such
    as one beginning inside a Python docstring that quotes ``code`` in backticks, or a C comment's
    prose holding ``#`` or `` -- `` -- the guessed language (:func:`whence.index.lexer.guess_language`),
    else the closest common language within a tenth of the tokens, else the default rules (the last two
    also look up the k-grams of the probes' other lexings: :func:`lookup_lexings`).  Guessing
    tries about fifty patterns, a millisecond for a snippet; lexing with the probes costs a twentieth of
    that, and about one snippet in twelve needs the guess.  Each candidate is aligned with the query
    lexed in the candidate's own language whatever the lookup used (:class:`QueryLexings`)."""
    return lookup_lexing(raw, language)[0]


def lookup_lexing(raw: bytes, language: str | None) -> tuple[str | None, Tokens]:
    """:func:`query_language` and the query's tokens in that language (the probes' lexings are not done
    twice)."""
    language, toks, _ = lookup_lexings(raw, language)
    return language, toks


def lookup_lexings(
    raw: bytes, language: str | None, restore: bytes | None = None
) -> tuple[str | None, Tokens, list[tuple[str | None, Tokens]]]:
    """:func:`lookup_lexing`, and the other lexings a query of unsure language also looks up; with
    ``restore`` (:func:`renamed_self`'s name), each lexing takes that name for ``self``
    (:func:`as_self`).

    When no common language lexes the query like the default rules and the guess names none, the query
    is also looked up in the lexing of each probe that differs from the one chosen and whose language
    (or one of the same rules) has a clue in the text, if too weak a one for a guess (a Python docstring
    that quotes code in backticks lexes one way as Python, another under the default rules: its file
    holds only the first; its triple quotes are the clue).  A query that Python's rules lex like the
    default rules, that does not look like Python (:func:`_python_shaped`) and holds words the two
    abstract otherwise (``func``, ``new``, ``struct``: keywords elsewhere, names in Python, whose
    :data:`.lexer.PYTHON_WORDS` leave them out; ``len``, ``range``: Python's
    :data:`.lexer.PYTHON_BUILTINS`, names elsewhere), is also looked up in the default rules' lexing
    (None): Python files hold its abstract k-grams as Python lexes them, the other languages' files
    as the default rules do.  A query that Python's rules lex otherwise and a later probe like the
    default rules is also looked up in its Python lexing when it holds what the default rules get wrong
    in Python (:func:`_pythonic`) or looks like Python (:func:`_python_shaped`): a product continued on
    its own line, ``* (height - 1)``, whose ``*`` the default rules drop as a C comment's decoration.
    (language, tokens, [(other language, its tokens), ...])."""
    language, toks, others = _lexings(raw, language)
    if restore is None:
        return language, toks, others
    return language, as_self(toks, restore), [(name, as_self(t, restore)) for name, t in others]


def _lexings(raw: bytes, language: str | None) -> tuple[str | None, Tokens, list[tuple[str | None, Tokens]]]:
    """:func:`lookup_lexings` before any name is taken for ``self``."""
    if language:
        return language, fp.tokenize(raw, language), []
    plain = fp.tokenize(raw)
    best = len(plain) + 1
    closest: tuple[str | None, Tokens] = (None, plain)
    probes: list[tuple[str | None, Tokens]] = []
    for name in _PROBES:  # the commonest first: most code lexes exactly alike under the first few
        toks = fp.tokenize(raw, name)
        gap = abs(len(toks) - len(plain))
        if gap == 0:  # Python, tried first, lexed it otherwise: looked up too if it looks like Python's
            shaped = _python_shaped(raw)
            earlier = [p for p in probes if p[0] == "Python"] if shaped or _pythonic(raw) else []
            if lexer.syntax_for(name).python_words and not shaped:
                # other code lexed as Python: the words Python takes for names are its keywords
                earlier.append((None, plain))
            return name, toks, _distinct(earlier, toks)
        probes.append((name, toks))
        if gap < best:
            best, closest = gap, (name, toks)
    guessed, clues = lexer.guess_with_clues(raw)
    if guessed is not None:
        return guessed, fp.tokenize(raw, guessed), []
    chosen, toks = closest if best <= _DIVERGENT * len(plain) else (None, plain)
    # Only languages with a clue in the text: prose (a license, a README) is not looked up as code.
    hinted = {lexer.syntax_bytes(name) for name in clues}
    return chosen, toks, _distinct([p for p in probes if lexer.syntax_bytes(p[0]) in hinted], toks)


def _distinct(lexings: list[tuple[str | None, Tokens]], chosen: Tokens) -> list[tuple[str | None, Tokens]]:
    """Those of ``lexings`` that differ from ``chosen`` and from each other."""
    out: list[tuple[str | None, Tokens]] = []
    for name, t in lexings:
        if not any(_same_tokens(t, u) for u in [chosen, *(o for _, o in out)]):
            out.append((name, t))
    return out


@dataclass(slots=True)
class LookedUp:
    """What a query's lookup found: the hashes it read (``looked_up``), their postings (``post``, with
    the boilerplate ones made common), the query prepared for alignment in the lookup's lexing
    (``query``) and in the others (``lexings``)."""

    looked_up: npt.NDArray[np.uint64]
    post: Postings
    query: Query
    lexings: QueryLexings
    families: Families | None = None  # a short query's: who holds each of its k-grams
    dense: npt.NDArray[np.uint64] | None = None  # the dense keys it looked up (candidates.dense)
    shapes: npt.NDArray[np.uint64] | None = None  # the shape keys it looked up (candidates.shapes)


def look_up(
    store: StoreReader,
    raw: bytes,
    language: str | None,
    toks: Tokens,
    others: list[tuple[str | None, Tokens]],
    documents: int,
    restore: bytes | None = None,
) -> LookedUp:
    """Look up a query lexed as :func:`lookup_lexings` lexed it (``language``, ``toks``, ``others``;
    ``restore``: the name its tokens call ``self`` by, for the lexings made later)."""
    qe = fp.kgrams(toks.exact)
    qa = fp.kgrams(toks.abstract)
    lookup, _ = candidates.lookup(qe, qa)
    # A query of unsure language also looks up the k-grams its other lexings select and this one does
    # not look up.  (A long query looks up its winnowed k-grams only, and another lexing's winnowing
    # selects others where the two differ: a Java file's k-grams are selected as the default rules'
    # lexing selects them, which the Python lexing, with its names for Java's keywords, would not.)
    grams = [(name, t, fp.kgrams(t.exact), fp.kgrams(t.abstract)) for name, t in others]
    if grams:
        more = np.concatenate([candidates.lookup(e, a)[0] for _, _, e, a in grams])
        lookup = np.concatenate((lookup, np.setdiff1d(more, lookup)))
    keys = candidates.band_keys(len(toks), qe)
    post = store.postings(
        lookup.view(np.int64), common_cap(documents), keys, budget=candidates.QUERY_POSTINGS
    )
    # A short query none of whose exact k-grams any document selected also looks up their dense keys
    # (small files keep their other exact k-grams there, mid-size files those that begin a line, large
    # files those that begin their sparse lines), and
    # one none of whose abstract k-grams any document selected their shape keys (the same, of the
    # abstract view), in a second read: only such queries pay it.
    dense = shapes = np.zeros(0, dtype=np.uint64)
    if _unselected(qe, post):
        dense = np.concatenate([candidates.dense(qe), *(candidates.dense(e) for _, _, e, _ in grams)])
        dense = np.setdiff1d(dense, lookup)
    if _unselected(qa, post) and _on_lines(toks):  # one line's shape stands for no file
        shapes = np.concatenate([candidates.shapes(qa), *(candidates.shapes(a) for _, _, _, a in grams)])
        shapes = np.setdiff1d(shapes, lookup)
    keyed = np.concatenate((dense, shapes))
    if len(keyed):
        extra = store.postings(
            keyed.view(np.int64), common_cap(documents), [], budget=candidates.QUERY_POSTINGS
        )
        post = Postings(
            np.concatenate((post.hashes, extra.hashes)),
            np.concatenate((post.docs, extra.docs)),
            np.union1d(post.common, extra.common),
            post.band_docs,
        )
        lookup = np.concatenate((lookup, keyed))
    post = candidates.with_model(candidates.within_budget(post), lookup)
    # Boilerplate masks: query tokens covered by a common fingerprint.  An exact copy is judged only
    # against common *exact* fingerprints: code whose shape is common can still be a specific copy.
    # A short query looked up every k-gram: how many documents hold each is known, and a short run of
    # rare ones can attribute (see verdict.SHORT_FRACTION).
    families = Families(store, post) if len(qe) <= candidates.SHORT_QUERY_KGRAMS else None
    # Its abstract k-grams counted by their shape keys: among small and mid-size files (and large files'
    # sparse lines) alone.
    by_shape = bool(len(shapes))
    frequencies = functools.partial(_dfs, qe, qa, post, families, by_shape) if families is not None else None
    query = Query.of(toks, qe, qa, post.common.view(np.uint64), frequencies, by_shape)
    lexings = QueryLexings(raw, language, query, post.common.view(np.uint64), restore)
    for name, t, e, a in grams:  # each of their k-grams was looked up when this lexing's all were
        looked = len(e) <= candidates.SHORT_QUERY_KGRAMS
        dfs = functools.partial(_dfs, e, a, post, families, by_shape) if looked and families else None
        # Judged as strictly as the lexing that looked shape keys up: a document those found is judged
        # in each lexing, and one whose abstract k-grams some document selected counts only winnowed ones
        # (_df counts by keys only a view none of whose k-grams any document selected).
        lexings.add(name, t, e, a, dfs, by_shape)
    return LookedUp(lookup, post, query, lexings, families, dense, shapes)


def ranked_candidates(store: StoreReader, looked: LookedUp) -> tuple[dict[int, int], list[int]]:
    """A looked-up query's votes per document and the documents to align, best first: the ranking's
    (:func:`.candidates.rank`), then for a short query those that alone hold one of its k-grams
    (:meth:`Families.sole_holders`)."""
    votes = candidates.votes(looked.post, looked.post.band_docs.tolist(), looked.dense, looked.shapes)
    ranked = candidates.rank(
        votes, store.order_keys, candidates.band_only_docs(looked.post, looked.post.band_docs)
    )
    if looked.families is not None:
        ranked += looked.families.sole_holders(votes, ranked, store.order_keys)
    return votes, ranked


def _program_candidates(store: StoreReader, looked: LookedUp, seen: set[int], documents: int) -> list[int]:
    """Documents holding the abstract k-grams of a whole program's query that its lookup did not look
    up (every one but the winnowed; a small file's under their shape keys too), best-voted first
    (:func:`.candidates.rank`), those in ``seen`` (aligned already) and those too small or too large to
    compare with it aside; at most :data:`PROGRAM_CANDIDATES`."""
    shape = np.unique(looked.query.abstract.kgrams)
    # ... and a small file's other abstract k-grams, under their shape keys (fingerprint.shape_keys)
    rest = np.concatenate((np.setdiff1d(shape, looked.looked_up), fp.shape_keys(shape)))
    if not len(rest):
        return []
    post = store.postings(rest.view(np.int64), common_cap(documents), [], budget=candidates.QUERY_POSTINGS)
    post = candidates.with_model(candidates.within_budget(post), rest)
    votes = {d: v for d, v in post.votes().items() if d not in seen}
    ranked = candidates.rank(votes, store.order_keys)
    # Only a document of comparable size can be judged so (structure.compare): the others' texts are
    # not read (a k-gram of a small program's shape is also held by files fifty times its size).
    n = len(looked.query.tokens)
    sizes = store.documents(ranked)
    fits = [
        d
        for d in ranked
        if d in sizes
        and sizes[d].tokens >= structure.MIN_QUERY_TOKENS
        and max(n, sizes[d].tokens) <= structure.MAX_SIZE_RATIO * min(n, sizes[d].tokens)
    ]
    return fits[:PROGRAM_CANDIDATES]


def _on_lines(toks: Tokens) -> bool:
    """Whether a query's tokens begin on more than one line (they are in order)."""
    return len(toks) > 0 and bool(toks.line_start[-1] > toks.line_start[0])


def _unselected(qe: npt.NDArray[np.uint64], post: Postings) -> bool:
    """Whether a short query's k-grams of one view ``qe`` (every one looked up, their postings ``post``)
    are held by no document, none of them boilerplate: no winnowing selected any of them."""
    if not len(qe) or len(qe) > candidates.SHORT_QUERY_KGRAMS:
        return False
    keys = np.unique(qe.view(np.int64))
    return not (in_sorted(keys, post.hashes).any() or in_sorted(keys, post.common).any())


def _match(
    store: StoreReader,
    raw: bytes,
    min_tokens: int,
    with_text: bool,
    documents: int,
    top: int,
    language: str | None = None,
    restore: bytes | None = None,
) -> tuple[int, list[Match], dict[int, Fetched]]:
    """Candidates and alignments for one lexing of the query (with ``language``, or the guessed one):
    (query tokens, matches best first, the candidates' texts and metadata).  ``restore``: a name the
    query's abstract view takes for ``self`` (:func:`renamed_self`)."""
    language, toks, others = lookup_lexings(raw, language, restore)
    # A query shorter than a short query's unique run can decide nothing (every k-gram of a short query
    # is looked up, so no winnowing guarantee is needed below fp.T tokens).
    if len(toks) < min(unique_min(min_tokens), max(fp.K, min(min_tokens, fp.T))):
        return len(toks), [], {}
    looked = look_up(store, raw, language, toks, others, documents, restore)
    lexings = looked.lexings
    votes, ranked = ranked_candidates(store, looked)
    # Every candidate's text and metadata in one read (one round trip to a search engine): most
    # queries align every candidate, and the matches' metadata is then at hand.
    fetched = store.fetch(ranked)

    matches: list[Match] = []
    # (document, query lexing, its tokens, its code's tokens), in rank order
    aligned: list[tuple[int, Query, Tokens, Callable[[], Tokens | None] | None]] = []
    # A short query's candidates are few (each shares one of a few fingerprints): those sharing one
    # are still aligned until a verbatim match holds all of it (two lines of imports that a sibling file
    # also has must not stop the search before the file that holds the whole query).
    # Once one holds all of a longer query verbatim, those sharing two fingerprints or fewer are not
    # aligned either: another file holding all of it holds about as many of its winnowed k-grams (both
    # sides select the same ones in a shared run), so these hold a piece of it at most (a generated
    # module's siblings sharing two of its shapes, lexed whole at up to 100,000 tokens each, were most
    # of such a search's time).  Not for a short query, whose every k-gram was looked up: a file holding
    # all of it may have selected two of them (the other versions of an 8-line piece of a test module).
    short = looked.families is not None
    for d in ranked:
        whole = any(m.verdict == "verbatim" and m.score >= 1.0 for m in matches)
        answered = whole if short else any(m.verdict == "verbatim" for m in matches)
        if votes[d] < candidates.SECOND_VOTES and answered:
            break  # the rest share one fingerprint each: aligned only when nothing better attributes
        if votes[d] == candidates.SECOND_VOTES and whole and not short:
            break  # the rest share two at most: a piece of what the whole match holds
        doc = fetched.get(d)
        if doc is None:  # removed (an opt-out) since its postings were read
            continue
        # Each document is lexed with its own language, the query with the same one.
        q = lexings.get(doc.doc.language)
        if not can_attribute(q, min_tokens):  # nothing to find in it: not aligned
            continue
        lexed = Lexed.of(doc)
        dtok = lexed.tokens
        # The best-voted candidates are also aligned with their code alone (a copy stripped of the
        # comments the document has): the origin of a copy is nearly always among them.  Lexed only if
        # the document as it is does not already match the whole query (judge asks for it).
        dcode = lexed.code if len(aligned) < CODE_CANDIDATES else None
        aligned.append((d, q, dtok, dcode))
        # Once a verbatim match explains most of the query, the order-insensitive comparison of whole
        # programs (for heavily restructured copies) has nothing left to decide.
        explained = any(m.verdict == "verbatim" and 2 * m.matched_tokens >= len(toks) for m in matches)
        found = judge(q, dtok, min_tokens, orderless=not explained, code=dcode)
        if found.verdict == "none":
            continue
        matches.append(Match.of(d, found, len(q.tokens)))
        complete = [x for x in matches if x.verdict == "verbatim" and x.score >= 1.0]
        if len(complete) >= top:
            break  # the best possible answers are in: the rest cannot rank above them
    # Nothing attributes a whole program: its heavily edited copy keeps few runs of the original's
    # shape as long as a k-gram, and winnowing selected few of those on both sides, so the original may
    # hold none of the k-grams looked up.  Every abstract k-gram of the query is looked up for it then,
    # if the query is code by its clues (a license's prose shares pieces of shape with code, and three
    # quoted words with a module's strings).
    if (
        structure.MIN_QUERY_TOKENS <= len(toks) <= PROGRAM_TOKENS
        and not any(m.verdict in ATTRIBUTING for m in matches)
        and lexer.guess_language(raw) is not None
    ):
        more = _program_candidates(store, looked, {d for d, *_ in aligned}, documents)
        ranked = [*ranked, *more]
        extra = store.fetch(more) if more else {}
        for d in more:
            doc = extra.get(d)
            if doc is None:
                continue
            q = lexings.get(doc.doc.language)
            if not can_attribute(q, min_tokens):
                continue
            lexed = Lexed.of(doc)
            # Only order-insensitive evidence is news here: a run in order as long as a decision needs
            # shares a k-gram that both winnowings select (the guarantee), so its document was a
            # candidate already.
            # Of that, a copy whose strings decide: when names alone do (restructured-renamed, which
            # promises less), a second look found lists of re-exported names alike (two `__init__.py`).
            found = judge_restructured(q, lexed.tokens, lexed.code)
            if found.evidence == "restructured":
                matches.append(Match.of(d, found, len(q.tokens)))
        fetched = {**fetched, **extra}
    # Nothing attributes: the best partial evidence, for a person to judge; not for a query shorter than
    # the winnowing guarantee (looked up only for its rare runs), whose partial spans are mostly noise.
    if not matches and len(toks) >= max(fp.K, min(min_tokens, fp.T)):
        for d, q, dtok, dcode in aligned[:WEAK_CANDIDATES]:
            # The whole-program comparison ran in the first pass (nothing was explained) and found
            # nothing: it does not depend on the span sizes, so it is not run again.
            found = judge(q, dtok, min_tokens, weak=True, orderless=False, code=dcode)
            if found.verdict == "weak":
                matches.append(Match.of(d, found, len(q.tokens)))
    if with_text:
        for m in matches:
            m.source_text = fetched[m.doc_id].text.decode("utf-8", "replace")
    # Best verdict first, then most matched tokens, then most of them the same in both texts (of eight
    # codec modules of one shape, the one whose strings the copy kept); among equals, the document
    # sharing more of the query's fingerprints (the candidates' order).
    rank = {d: i for i, d in enumerate(ranked)}
    matches.sort(
        key=lambda m: (-VERDICTS.index(m.verdict), -m.matched_tokens, -m.agreed_tokens, rank[m.doc_id])
    )
    return len(toks), matches, fetched


#: Documents aligned for a short query beyond the ranked candidates, at most: those that alone hold one
#: of its k-grams (see :meth:`Families.sole_holders`).
SOLE_HOLDERS = 4


def _dfs(
    qe: npt.NDArray[np.uint64],
    qa: npt.NDArray[np.uint64],
    post: Postings,
    families: Families,
    by_shape: bool = False,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`_df` of both views (the exact one's dense keys counted where it has nothing else, and with
    ``by_shape`` the abstract one's shape keys, which the lookup read)."""
    shaped = fp.shape_keys if by_shape else None
    return _df(qe, post, families, fp.dense_keys), _df(qa, post, families, shaped)


def _df(
    qe: np.ndarray,
    post: Postings,
    families: Families,
    keyed: Callable[[npt.NDArray[np.uint64]], npt.NDArray[np.uint64]] | None = None,
) -> np.ndarray:
    """Documents holding each of a fully looked-up query's k-grams (boilerplate: :data:`.align.COMMON`),
    near-duplicates of one another counted once (:class:`Families`).

    With ``keyed``, a query none of whose k-grams any document selected (no winnowing kept them, so no
    count says anything) is counted by the keys ``keyed`` gives them instead: the small and mid-size
    files (and large files whose sparse lines begin with it) holding each
    (:func:`.fingerprint.dense_keys` of exact k-grams, :func:`.fingerprint.shape_keys` of abstract
    ones).  Only then: the rarity thresholds are those of the winnowed counts, and a run that winnowing
    found rare would count small files' k-grams beside it that no count of a larger file's ever
    included.  A k-gram so counted whose key is boilerplate (the lookup's
    common hashes, the model's included) is held by :data:`MANY`, not boilerplate: the masks, of winnowed
    hashes, leave its tokens counted."""
    keys = qe.view(np.int64)
    common = COMMON
    if keyed is not None and _unselected(qe, post):
        keys = keyed(qe).view(np.int64)
        common = MANY
    df = families.grouped(keys, families.holding(keys))
    df[in_sorted(post.common, keys)] = common  # Postings.common is sorted
    return df


#: The documents a k-gram counted by its key (``_df``'s ``keyed``) is held by when that key is common:
#: more than a rare run's.  Counted as boilerplate (``align.COMMON``), it was left out of its run's
#: rarity while its tokens, which no mask covers (the masks are of winnowed hashes), still counted: an
#: import list's one k-gram that a large file alone keeps between two whose shapes many files keep was
#: a unique run of eight lines.
MANY = RARE_DF + 1

#: Rarity counts the documents holding a k-gram by family: holders that are near-duplicates of one
#: another (versions of one module, a vendored copy with a few edits) are one source, as one document
#: holding the k-gram twice would be.  Only a k-gram held by more than ``align.UNIQUE_DF`` and at most this
#: many documents has its holders grouped: a run that more documents hold is not rare, grouped or not.
FAMILY_MAX_HOLDERS = 16
#: Two documents are of one family when their MinHash signatures agree on at least this share of their
#: values (an estimate of the Jaccard similarity of their selected k-grams, within about 0.06 at 64
#: permutations).  Versions of one standard library module agree on 0.75 at the median; two model files
#: of one code generator on about 0.1 (docs/search.md, "Rare runs count sources").
FAMILY_SIMILARITY = 0.5
#: The most holders grouped for one query (their signatures are read in one request): a query whose
#: mid-frequency k-grams have more is counted as it is.
FAMILY_MAX_DOCUMENTS = 256


class Families:
    """Who holds each of a short query's k-grams (its postings sorted by hash once, for every view and
    lexing), and their families of near-duplicates (see :data:`FAMILY_SIMILARITY`), for :func:`_df`: a
    k-gram's count becomes the number of connected groups among its holders, two holders joined when
    their signatures agree.  The grouping depends on the signatures alone (not on the order or ids of
    documents), so both stores count alike.  Signatures are read from the store on first use, once per
    query (every lexing shares them)."""

    def __init__(self, store: StoreReader, post: Postings) -> None:
        self._store = store
        order = np.argsort(post.hashes, kind="stable")
        self._hashes, self._docs = post.hashes[order], post.docs[order]
        # Each distinct hash: where its postings start in the sorted arrays, and how many there are.
        boundary = np.ones(len(self._hashes), dtype=bool)
        boundary[1:] = self._hashes[1:] != self._hashes[:-1]
        starts = np.flatnonzero(boundary)
        self._held = self._hashes[starts]
        self._first = starts
        self._held_by = np.diff(np.append(starts, len(self._hashes))).astype(np.int64)
        self._signatures: dict[int, npt.NDArray[np.uint32]] = {}
        self._read: set[int] = set()
        self._counts: dict[tuple[int, ...], int] = {}

    def holding(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Per hash of ``keys``: the documents holding it among the postings (0 for one not among them)."""
        if not len(self._held):
            return np.zeros(len(keys), dtype=np.int64)
        idx = np.searchsorted(self._held, keys)
        idx[idx == len(self._held)] = 0
        return np.where(self._held[idx] == keys, self._held_by[idx], 0).astype(np.int64)

    def sole_holders(
        self, votes: Mapping[int, int], ranked: list[int], order_keys: candidates.OrderKeys
    ) -> list[int]:
        """The documents that the ranking left out although one of the query's k-grams is in them and in
        no other document (at most :data:`SOLE_HOLDERS`, the most voted first).  Ranking counts the
        k-grams a document shares, each alike: a file sharing one k-gram that only it holds, beside others
        sharing several that many hold, falls past the cut, yet only it can hold the query's unique or
        rare run.  Every k-gram of a short query was looked up, so the postings tell who holds what."""
        sole = set(self._docs[self._first[self._held_by == 1]].tolist()) - set(ranked)
        if not sole:
            return []
        keys = order_keys(sorted(sole))
        return sorted(sole, key=lambda d: (-votes.get(d, 0), keys.get(d, d)))[:SOLE_HOLDERS]

    def grouped(self, keys: npt.NDArray[np.int64], df: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """``df`` (the documents holding each of ``keys``) with each k-gram's holders counted by family."""
        sel = np.flatnonzero((df > UNIQUE_DF) & (df <= FAMILY_MAX_HOLDERS))
        if not len(sel):
            return df
        hashes, docs = self._hashes, self._docs
        lo = np.searchsorted(hashes, keys[sel], side="left")
        hi = np.searchsorted(hashes, keys[sel], side="right")
        holders = [
            tuple(sorted(set(docs[a:b].tolist()))) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
        ]
        wanted = {d for h in holders for d in h} - self._read
        if len(self._read) + len(wanted) > FAMILY_MAX_DOCUMENTS:
            return df
        if wanted:
            self._signatures.update(self._store.signatures(sorted(wanted)))
            self._read |= wanted
        out = df.copy()
        for i, h in zip(sel.tolist(), holders, strict=True):
            out[i] = self._count(h)
        return out

    def _count(self, holders: tuple[int, ...]) -> int:
        """Connected groups among ``holders``, two joined when their signatures agree enough."""
        if holders in self._counts:
            return self._counts[holders]
        known = [d for d in holders if d in self._signatures]
        alone = len(holders) - len(known)  # no signature: like no other document
        groups = 0
        if known:
            sigs = np.stack([self._signatures[d] for d in known])
            near = (sigs[:, None, :] == sigs[None, :, :]).mean(axis=2) >= FAMILY_SIMILARITY
            seen = np.zeros(len(known), dtype=bool)
            for start in range(len(known)):
                if seen[start]:
                    continue
                groups += 1
                stack = [start]
                seen[start] = True
                while stack:
                    j = stack.pop()
                    for k in np.flatnonzero(near[j] & ~seen).tolist():
                        seen[k] = True
                        stack.append(k)
        self._counts[holders] = groups + alone
        return groups + alone


#: ``self``'s hash, exact and abstract alike (a keyword in the abstract view of every profile).
_SELF = np.uint64(xxhash.xxh64_intdigest(b"self", lexer.SEED_EXACT))
#: An indented ``def`` (a method's, in a class body) and its first parameter.
_INDENTED_DEF = re.compile(rb"^[ \t]+(?:async[ \t]+)?def[ \t]+\w+[ \t]*\([ \t]*([A-Za-z_]\w*)", re.M)


#: A name used as an object (``v1.width``).
_OBJECT_USE = re.compile(rb"(?<![\w.])([A-Za-z_]\w*)[ \t]*\.[ \t]*[A-Za-z_]")


def renamed_self(raw: bytes) -> bytes | None:
    """The name a query's methods call their object by when it is not ``self``, in a query that says
    ``self`` nowhere and whose clues name Python or no language: the first parameter of an indented
    ``def`` (a method's; a classmethod's ``cls`` and a static method's first parameter aside) that the
    query uses as an object (``v1.width``).  None for most queries: code says ``self``.  (A method's
    body cut without its ``def`` line is not looked at: the name indented code uses most as an object
    was as often a module's, ``F.lit``, or not Python at all, and every such query that nothing
    attributes would be searched twice.)"""
    if b"def" not in raw or re.search(rb"\bself\b", raw):
        return None
    uses = {m.group(1) for m in _OBJECT_USE.finditer(raw)}
    if not uses or lexer.guess_language(raw) not in (None, "Python"):
        return None
    for m in _INDENTED_DEF.finditer(raw):
        name = m.group(1)
        before = raw[: m.start()].rstrip().rsplit(b"\n", 1)[-1].strip()
        if name != b"cls" and name in uses and before != b"@staticmethod":
            return name
    return None


_CLASS = re.compile(rb"^[ \t]*class[ \t]+\w", re.M)


def methods_self(raw: bytes) -> bytes | None:
    """:func:`renamed_self`'s name for a whole file, when its methods call their object by it: the
    file has a class, and the name is the first parameter of at least two of its indented ``def``s and
    of half of them at least.  (A module of functions often has nested helpers whose first parameter it
    uses as an object, ``expr.args``: a scan of SymPy looked again at one file in twenty, for a second
    cover each, a quarter more time, and found nothing more.)"""
    if not _CLASS.search(raw) or (name := renamed_self(raw)) is None:
        return None
    firsts = [m.group(1) for m in _INDENTED_DEF.finditer(raw)]
    held = firsts.count(name)
    return name if held >= 2 and 2 * held >= len(firsts) else None


def as_self(toks: Tokens, name: bytes) -> Tokens:
    """``toks`` with every ``name`` taken for ``self`` in the abstract view (the exact view as it is)."""
    hit = toks.exact == np.uint64(xxhash.xxh64_intdigest(name, lexer.SEED_EXACT))
    if not hit.any():
        return toks
    abstract = toks.abstract.copy()
    abstract[hit] = _SELF
    return Tokens(toks.exact, abstract, toks.line_start, toks.line_end)


def search(
    store: StoreReader,
    code: bytes | str,
    *,
    top: int = 5,
    min_tokens: int = MIN_MATCH_TOKENS,
    with_text: bool = False,
    documents: int | None = None,
    language: str | None = None,
) -> SearchResult:
    """Find where ``code`` came from.

    Args:
        store: the index.
        code: the snippet (bytes must be UTF-8).
        top: most matches to return.
        min_tokens: smallest informative span that attributes.
        with_text: also return each match's source text (for side-by-side display).
        documents: index size, if the caller knows it (saves a count per query).
        language: the snippet's language (a The Stack v2 name such as ``Python`` or an alias such as
            ``py``), which decides its comment and string syntax; None: guessed from the text (see
            :func:`whence.index.lexer.guess_language`).  Each candidate is aligned with the query lexed
            in the candidate's own language.

    Raises:
        InvalidInput: binary, non-UTF-8 or oversized input.
    """
    if top < 1:
        raise InvalidInput(f"top must be at least 1, got {top}")
    raw = decode_query(code)
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
    if documents is None:
        documents = store.count_documents()
    ntokens, matches, fetched = _match(store, raw, min_tokens, with_text, documents, top, language)
    # Nothing attributes a Python query whose methods call their object otherwise than ``self``: a
    # renamer that knows only the language's keywords renamed it, and the abstract view keeps ``self``
    # as a keyword (it tells a method's body from a function's).  Looked for again with that name taken
    # for ``self`` in the abstract view; its exact tokens stay as they are (the copy is no verbatim one).
    if not any(m.verdict in ATTRIBUTING for m in matches) and (name := renamed_self(raw)) is not None:
        _, again, more = _match(store, raw, min_tokens, with_text, documents, top, language, name)
        if any(m.verdict in ATTRIBUTING for m in again):
            matches, fetched = again, more
    result = SearchResult(lines, ntokens, [])
    result.matches = attach_origins(store, matches[:top], fetched)
    return result


def attach_origins(
    store: StoreReader, matches: list[Match], fetched: Mapping[int, Fetched] | None = None
) -> list[Match]:
    """Fill each match's occurrences (every repository and path of its content) and blob id.

    Args:
        store: the index.
        matches: the matches, filled in place (and returned).
        fetched: what :meth:`Store.fetch` returned for (some of) the matches' documents, when the caller
            has it: only what it lacks is read from the store.
    """
    if not matches:
        return matches
    known = fetched or {}
    ids = [m.doc_id for m in matches]
    need_occ = [d for d in ids if d not in known or known[d].occurrences is None]
    need_doc = [d for d in ids if d not in known]
    occ = store.occurrences(need_occ) if need_occ else {}
    docs_info = store.documents(need_doc) if need_doc else {}
    for m in matches:
        f = known.get(m.doc_id)
        have = f.occurrences if f is not None else None
        m.occurrences = list(have) if have is not None else occ.get(m.doc_id, [])
        info = f.doc if f is not None else docs_info.get(m.doc_id)
        m.blob_id = info.blob_id if info else ""
    return matches
