"""Order-insensitive evidence: a heavily edited copy of a whole program, found by its pieces.

Token spans (:mod:`.align`) need the copied code in the same order.  A copy whose statements and
members were reordered, whose blocks were extracted into methods and whose literals were hoisted into
constants keeps no long run in order, but it keeps its *pieces*: statements and blocks of the same
shape, each somewhere in both texts, and the same string literals somewhere in both.  This module
measures exactly that, the way JPlag does (greedy string tiling with no order between the tiles), on a
*structure view* of the tokens in which every identifier, number and string is one operand class (a
hoisted literal ``3.14`` -> ``PI`` keeps the shape), with two guards against code that merely has the
same shape (independent solutions of one small task, programs opening with the same preamble):

* the tiles must cover most of the query's informative tokens (boilerplate and filler excluded, as for
  spans), or most of the document (a copy padded with added statements and helpers holds all of its
  original and much besides), and hold at least :data:`MIN_TILED` tokens;
* the texts must share *what* the code says, not only its shape: most of the distinct string literals
  of the text with fewer appear in the other (hoisting moves them, it does not change them), or, when
  there are few strings, renamed identifiers map consistently across all tiles.

It runs only when both texts have at least :data:`MIN_QUERY_TOKENS` tokens (whole programs and large
parts of them) and neither is more than :data:`MAX_SIZE_RATIO` times the other: for a short fragment, or
in a file far larger than the query, shape and a few strings are not evidence.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import xxhash

from . import fingerprint as fp
from . import lexer
from .align import _DOT, Grams, Query, Tile, seed_runs, tile, tile_positions
from .lexer import Tokens

#: Smallest query that order-insensitive evidence is looked for in.
MIN_QUERY_TOKENS = 120
#: Tokens per seed in the structure view (JPlag's default minimum match for Java is 9 of its coarser
#: tokens; ours are finer).
K = 12
#: Share of the query's informative tokens, or of the document's tokens, the tiles must cover.
MIN_COVER = 0.5
#: A unit k-gram found more often than this in the query seeds no run: a template's repeated units (a
#: stub's list of ``class X(Exception): ...``) would pair each with every other, in any order.
UNIT_SEED_REPEATS = 2
#: Fewest query tokens the tiles must hold, whatever share of the query's informative ones they are: as
#: many as an ordered match needs (``verdict.MIN_MATCH_TOKENS``).  A list of 900 names is almost all
#: boilerplate in the abstract view (a name after a name); a 13-token tile covered most of what was left.
MIN_TILED = 40
#: Share of the distinct string literals of the text with fewer that the other must hold.
MIN_STRINGS = 0.6
#: Fewest distinct string literals for the string test to apply (else the renaming test decides).
MIN_STRING_COUNT = 3
#: Neither text may be more than this many times the other's size: pieces of a program are looked for
#: in a program of comparable size, not scattered through a file fifty times larger (where any shape and
#: any few strings are found somewhere).
MAX_SIZE_RATIO = 4

_OPERANDS = np.array(
    [lexer.CLASS_HASH[lexer.IDENT], lexer.CLASS_HASH[lexer.NUMBER], lexer.CLASS_HASH[lexer.STRING]],
    dtype=np.uint64,
)
_OPERAND = np.uint64(lexer.CLASS_HASH[lexer.IDENT])
_STRING = np.uint64(lexer.CLASS_HASH[lexer.STRING])
_IDENT = np.uint64(lexer.CLASS_HASH[lexer.IDENT])
_THIS = np.uint64(xxhash.xxh64_intdigest(b"this", lexer.SEED_EXACT))


class Evidence(NamedTuple):
    """What the order-insensitive comparison found."""

    tiles: list[Tile]
    cover: float  # share of the query's informative tokens, or of the document, that the tiles cover
    # share of the distinct strings of the text with fewer that the other holds (-1: too few, or not
    # measured: the cover is too small)
    strings: float
    # renamed identifiers map consistently across the tiles (measured only when it decides: the cover
    # is large enough and there are too few strings)
    consistent: bool
    matched: int  # query tokens in the tiles

    @property
    def copied(self) -> bool:
        if self.cover < MIN_COVER or self.matched < MIN_TILED:
            return False
        if self.strings >= 0:
            return self.strings >= MIN_STRINGS
        return self.consistent


def structure_view(tokens: Tokens) -> npt.NDArray[np.uint64]:
    """The abstract tokens with identifiers, numbers and strings all one operand class."""
    view = tokens.abstract.copy()
    a, n, s = _OPERANDS
    view[(view == a) | (view == n) | (view == s)] = _OPERAND  # np.isin costs more for three values
    return view


class Units(NamedTuple):
    """A text's structure view with each dotted chain of operands one operand (``java.util.Scanner``,
    ``Main.LIMIT``, ``this.count``, ``System.out.println`` are one, as ``Scanner``, a hoisted literal's
    ``"Enter: "`` and ``count`` are): a copy that qualifies names or hoists literals into constants keeps
    the shape of every statement.  ``start[i]``/``end[i]``: the tokens unit ``i`` spans."""

    view: npt.NDArray[np.uint64]
    start: npt.NDArray[np.intp]
    end: npt.NDArray[np.intp]


def units(tokens: Tokens) -> Units:
    """:class:`Units` of ``tokens``."""
    v = structure_view(tokens)
    n = len(v)
    head = (v == _OPERAND) | (v == _THIS)
    joins = np.zeros(n, dtype=bool)  # a dot between an operand (or ``this``) and an operand
    if n >= 3:
        joins[1:-1] = (v[1:-1] == _DOT) & head[:-2] & (v[2:] == _OPERAND)
    inside = joins.copy()
    inside[1:] |= joins[:-1]  # the operand after a joining dot
    start = np.flatnonzero(~inside)
    end = np.append(start[1:], n)
    view = v[start]
    view[(end - start) > 1] = _OPERAND  # a chain (``this.x`` too) is one operand
    return Units(view, start, end)


def compare(query: Query, dtok: Tokens) -> Evidence | None:
    """Order-insensitive evidence that ``query`` is an edited copy of the document ``dtok``; None for
    texts too short or of too different sizes to judge this way, or a document sharing too little."""
    qtok = query.tokens
    nq, nd = len(qtok), len(dtok)
    if min(nq, nd) < MIN_QUERY_TOKENS or max(nq, nd) > MAX_SIZE_RATIO * min(nq, nd):
        return None
    qu, grams, informative, unit_informative = query.memo("structure", lambda: _query_view(query))
    if informative == 0:
        return None
    mask = query.any_common
    du = units(dtok)
    # Either text may be the larger: a copy padded with added statements and helpers holds all of its
    # original, an excerpt is held in full by its original.
    need = max(1, int(min(unit_informative, len(du.view)) * MIN_COVER) // K)
    _, runs = seed_runs(grams, fp.kgrams(du.view, K), qu.view, du.view, K, need, UNIT_SEED_REPEATS)
    tiles = tile(runs, len(qu.view), K)
    if not tiles:
        return None
    # Each query region once (tile() also reports every other place a chosen tile matches in full).
    first: dict[int, Tile] = {}
    for t in tiles:
        first.setdefault(t.q, t)
    taken = np.zeros(nq, dtype=bool)
    held = np.zeros(nd, dtype=bool)
    chosen = _token_tiles(sorted(first.values(), key=lambda t: t.q), qu, du, taken, held)
    if not chosen:
        return None
    cover = max(float((taken & ~mask).sum()) / informative, float(held.sum()) / nd)
    # The tests of what the code says run only when they decide (most candidates fail the cover).
    strings = _strings(qtok, dtok) if cover >= MIN_COVER else -1.0
    consistent = cover >= MIN_COVER and strings < 0 and _consistent(chosen, qtok, dtok)
    return Evidence(chosen, cover, strings, consistent, int(taken.sum()))


def _query_view(query: Query) -> tuple[Units, Grams, int, int]:
    """The query's units, their k-grams, its informative tokens and units (those whose first token no
    boilerplate covers): the same for every candidate, made once per query."""
    qu = units(query.tokens)
    informative = ~query.any_common
    return qu, Grams.of(fp.kgrams(qu.view, K)), int(informative.sum()), int(informative[qu.start].sum())


def _token_tiles(
    tiles: list[Tile], qu: Units, du: Units, taken: npt.NDArray[np.bool_], held: npt.NDArray[np.bool_]
) -> list[Tile]:
    """The tokens of tiles of units: every unit's tokens marked ``taken`` (query) and ``held``
    (document), and as tiles of tokens the stretches where each unit spans as many tokens in both texts
    (a chain of three tokens matched to a name of one is matched, but no token of one is another's)."""
    out: list[Tile] = []
    for t in tiles:
        qs, qe = qu.start[t.q : t.q + t.n], qu.end[t.q : t.q + t.n]
        ds, de = du.start[t.d : t.d + t.n], du.end[t.d : t.d + t.n]
        taken[qs[0] : qe[-1]] = True
        held[ds[0] : de[-1]] = True
        even = (qe - qs) == (de - ds)
        run = -1  # first unit of the current stretch of even units
        for u in range(t.n + 1):
            if u < t.n and even[u]:
                if run < 0:
                    run = u
                continue
            if run >= 0:
                out.append(Tile(int(qs[run]), int(ds[run]), int(qe[u - 1] - qs[run])))
                run = -1
    return out


def _strings(q: Tokens, d: Tokens) -> float:
    """Share of the distinct string literals of the text with fewer that the other text holds too (-1:
    too few to tell)."""
    qs = np.unique(q.exact[q.abstract == _STRING])
    ds = np.unique(d.exact[d.abstract == _STRING])
    fewer = min(len(qs), len(ds))
    if fewer < MIN_STRING_COUNT:
        return -1.0
    return float(len(np.intersect1d(qs, ds))) / fewer


def _consistent(tiles: list[Tile], q: Tokens, d: Tokens) -> bool:
    """Whether the identifiers of the tiles map consistently (each query name mostly to one document
    name), with enough renamed ones repeated to tell."""
    qi, di = tile_positions((t.q, t.d, t.n) for t in tiles)
    both = (q.abstract[qi] == _IDENT) & (d.abstract[di] == _IDENT)
    qn, dn = q.exact[qi][both], d.exact[di][both]
    # Only a name written otherwise somewhere can be a renamed one: fewer than three such names (a
    # copy with its names kept, a shared license header) decide without counting every pair.
    if len(np.unique(qn[qn != dn])) < 3:
        return False
    pairs = list(zip(qn.tolist(), dn.tolist(), strict=True))
    counts: dict[int, dict[int, int]] = {}
    for a, b in pairs:
        row = counts.setdefault(a, {})
        row[b] = row.get(b, 0) + 1
    renamed = [row for a, row in counts.items() if max(row, key=row.__getitem__) != a]
    uses = sum(sum(row.values()) for row in renamed)
    if len(renamed) < 3 or uses < 12:
        return False
    agree = sum(max(row.values()) for row in renamed)
    return agree * 5 >= uses * 4
