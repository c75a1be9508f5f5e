"""Why fragments were missed: every positive of an ``attribution.py --json`` run that was not flagged
correctly, classified by cause, with counts per language, length and mutation.

Reads the JSON and the index the run built (``attribution.py --index FILE --json OUT``: the index must be
the one the run searched), re-runs the search's steps for each missed query against the fragment's own
file (read from the corpus) and names the first cause that applies:

* ``e-empty``: the query has fewer tokens than ``K`` (16) and so no k-gram at all: blank lines and line
  comments (they never become tokens; a block comment's words do), a fragment emptied by the
  ``comments`` mutation;
* ``a-no-shared``: the query has k-grams, but none of either view is in the file: below the winnowing
  guarantee is impossible for a short query (every k-gram is looked up), so this is a fragment that does
  not lex as in its file (cut inside a block comment or a multi-line string: ``cut-inside``) or whose
  k-grams the file does not hold (``other``);
* ``d-boilerplate``: shared k-grams, but the shared run's tokens are covered by boilerplate
  fingerprints (the index's document counts or the shipped model) so that fewer than the short-run
  minimum (24) stay informative (each set's summary also gives its recall over the fragments with
  code with these aside: license headers and generated code, which no search should attribute);
* ``b-threshold``: found, informative, and rejected by a rule, named: ``unindexed`` (a query of fewer
  than 24 tokens, searched only for a unique run of all of it, none of whose k-grams its file holds in
  the index: the file's winnowing kept none of them; also said of a longer short query whose file
  holds none of its k-grams), ``not-unique`` (such a query whose run has a
  k-gram held by more than ``align.UNIQUE_DF`` documents), ``run<24`` (the longest
  unbroken shared run carries fewer than 24 informative tokens), ``query-too-short`` (a query of fewer
  tokens than search looks up), ``not-candidate`` (the file is not among the candidates aligned),
  ``not-rare`` (a 24-39 token run with a k-gram held by more than ``align.RARE_DF`` documents),
  ``distinct`` (a rare run whose informative tokens, counted at most twice its distinct tokens, fall
  under 24), ``long-query`` (a query of more than 96 k-grams, where only runs of 40 attribute),
  ``renamed-test`` (an abstract-view run of 40 that fails the renamed-copy test), ``renamed-short`` (an
  abstract run of 24-39 tokens that is not rare or fails the test), ``other``;
* ``c-elsewhere``: the top match attributes another file; ``same-code`` when that file holds the
  matched lines token for token (another version or a vendored copy: the eval should count it right),
  ``other-code`` when it does not.

    python scripts/eval/attribution.py --index /tmp/frag.db --json /tmp/frag.json
    python scripts/eval/misses.py /tmp/frag.json --index /tmp/frag.db [--json misses.json] [--show 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from attribution import has_code
from mutate import RENAMING

from whence.index import fingerprint as fp
from whence.index import lexer, search
from whence.index.align import RARE_DF, UNIQUE_DF, Aligned, Query, view_spans
from whence.index.stores import open_store
from whence.index.verdict import MIN_MATCH_TOKENS, renamed_copy, short_run, unique_min
from whence_dev import corpus

SHORT = short_run(MIN_MATCH_TOKENS)
#: The fewest tokens of a query search looks up (see ``search._match``).
LOOKED_UP = min(unique_min(MIN_MATCH_TOKENS), max(fp.K, min(MIN_MATCH_TOKENS, fp.T)))


class Prepared:
    """A query prepared as :func:`whence.index.search.search` prepares it, with its candidates; one whose
    methods rename ``self`` as its second look prepares it (``search.renamed_self``: the first look
    attributed nothing, or it would not be a miss, and the second is the last that search judged)."""

    def __init__(self, store: Any, documents: int, raw: bytes) -> None:
        restore = search.renamed_self(raw)
        language, toks, others = search.lookup_lexings(raw, None, restore)
        self.tokens = toks
        self.query: Query | None = None
        self.ranked: list[int] = []
        if len(toks) < fp.K:
            return
        looked = search.look_up(store, raw, language, toks, others, documents, restore)
        self.looked_up = looked.looked_up
        self.query = looked.query
        self.lexings = looked.lexings
        _, self.ranked = search.ranked_candidates(store, looked)


def _best(spans: list[Aligned]) -> Aligned | None:
    return max(spans, key=lambda a: (a.run, a.rare_run, a.informative), default=None)


def _max_df(p: Prepared, a: Aligned, view: str) -> int:
    df = p.query.df(view) if p.query is not None else None
    if df is None:
        return -1
    q0, q1 = a.span.query_tokens
    inside = df[q0 : max(q0 + 1, q1 - fp.K + 1)]
    return int(inside.max()) if len(inside) else -1


def classify(
    store: Any, documents: int, rec: dict[str, Any], files: dict[tuple[str, str], str]
) -> tuple[str, str, dict[str, Any]]:
    """(cause, detail, figures) of one missed positive."""
    raw = rec["query"].encode("utf-8")
    p = Prepared(store, documents, raw)
    info: dict[str, Any] = {"query_tokens": len(p.tokens)}
    m = rec.get("match")
    if m and m["verdict"] in search.ATTRIBUTING:  # attributed, but not (only) to the right place
        where = files.get((m["repo"], m["path"]))
        original = files.get((rec["repo"], rec["path"]))
        if where and original:
            same = holds_same(Path(where), Path(original), rec["lines"], m["spans"])
            return "c-elsewhere", "same-code" if same else "other-code", info
        return "c-elsewhere", "unknown", info
    if p.query is None:
        return "e-empty", f"{len(p.tokens)} tokens", info
    path = files.get((rec["repo"], rec["path"]))
    if path is None:
        return "unknown", "file not in corpus", info
    text = corpus.read_bytes(path)
    language = lexer.language_for_path(rec["path"])
    q = p.lexings.get(language)
    dtok = fp.tokenize(text, language)
    renamed = rec["mutation"] in RENAMING
    view = "abstract" if renamed else "exact"
    # The same alignment without boilerplate masks: what the query shares with its file at all.
    bare = Query.of(q.tokens, q.exact.kgrams, q.abstract.kgrams, np.zeros(0, np.uint64), q.frequencies)
    shared = view_spans(bare, dtok, view, fp.K)
    alike = lexes_alike(text, language, rec["lines"])
    if not shared:
        return "a-no-shared", "other" if alike else "cut-inside", info
    if not alike:  # shares some k-grams, but the fragment lexes otherwise than in its file
        return "a-no-shared", "cut-inside", info
    raw_run = max(x.run for x in shared)
    a = _best(view_spans(q, dtok, view, 1, rare_below=MIN_MATCH_TOKENS))
    info |= {"raw_run": raw_run, "run": a.run if a else 0}
    if a is None or (a.run < SHORT and raw_run >= SHORT):
        return "d-boilerplate", f"{raw_run} tokens, {info['run']} informative", info
    info |= {"rare_run": a.rare_run, "max_df": _max_df(p, a, view)}
    occ = store.occurrences(p.ranked) if p.ranked else {}
    ours = [d for d, os_ in occ.items() if any((o.repo, o.path) == (rec["repo"], rec["path"]) for o in os_)]
    if a.run < SHORT and len(p.tokens) < SHORT and len(p.tokens) >= LOOKED_UP:  # searched whole only
        if not indexed(p, text, language):
            return "b-threshold", "unindexed", info
        if not ours:
            return "b-threshold", "not-candidate", info
        if info["max_df"] > UNIQUE_DF:
            return "b-threshold", "not-unique", info
    if a.run < SHORT:
        return "b-threshold", "run<24", info
    if len(p.tokens) < LOOKED_UP:
        return "b-threshold", "query-too-short", info  # search does not look such a query up
    if not ours:
        return "b-threshold", "not-candidate" if indexed(p, text, language) else "unindexed", info
    if not q.short and a.run < MIN_MATCH_TOKENS:
        return "b-threshold", "long-query", info
    if renamed:
        if not renamed_copy(a.span, q.tokens, dtok):
            return "b-threshold", "renamed-test" if a.run >= MIN_MATCH_TOKENS else "renamed-short", info
        if a.run < MIN_MATCH_TOKENS:
            return "b-threshold", "renamed-short", info
    if a.run < MIN_MATCH_TOKENS:
        if info["max_df"] > RARE_DF:
            return "b-threshold", "not-rare", info
        return "b-threshold", "distinct", info
    return "b-threshold", "other", info


def indexed(p: Prepared, text: bytes, language: str | None) -> bool:
    """Whether the fragment's file (its ``text``, lexed with ``language``) has in the index any hash the
    query looked up: the hashes ingestion keeps of it (:func:`whence.index.fingerprint.index_fingerprint`).
    If none, no rule could find it (a common hash still counts as held: the file is then missed as
    boilerplate or by the ranking)."""
    held = fp.index_fingerprint(text, language).hashes.view(np.uint64)
    return bool(np.isin(p.looked_up, held).any())


def lexes_alike(text: bytes, language: str | None, lines: list[int]) -> bool:
    """Whether the fragment's lines (1-based, inclusive) lex as a run of their file's tokens (not so when
    the cut falls inside a block comment or a multi-line string)."""
    whole = fp.tokenize(text, language).exact.tobytes()
    part = b"\n".join(text.split(b"\n")[lines[0] - 1 : lines[1]])
    piece = fp.tokenize(part, language).exact.tobytes()
    i = whole.find(piece)
    while i >= 0 and i % 8:
        i = whole.find(piece, i + 1)
    return i >= 0


def holds_same(where: Path, original: Path, lines: list[int], spans: list[dict[str, Any]]) -> bool:
    """Whether the lines the match's spans name in ``where`` are, token for token, a run of the
    fragment's lines (``lines``, 1-based inclusive) of ``original``."""
    lang_w = lexer.language_for_path(str(where))
    lang_o = lexer.language_for_path(str(original))
    src = corpus.read_bytes(str(where)).decode("utf-8", "replace").split("\n")
    orig = corpus.read_bytes(str(original)).decode("utf-8", "replace").split("\n")
    frag = fp.tokenize("\n".join(orig[lines[0] - 1 : lines[1]]).encode(), lang_o).exact.tobytes()
    for s in spans:
        lo, hi = s["source_lines"]
        piece = fp.tokenize("\n".join(src[lo - 1 : hi]).encode(), lang_w).exact.tobytes()
        i = frag.find(piece)
        while i >= 0 and i % 8:
            i = frag.find(piece, i + 1)
        if not piece or i < 0:
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, help="the --json output of attribution.py")
    ap.add_argument("--index", required=True, help="the index that run searched (its --index)")
    ap.add_argument("--json", help="write every miss with its cause here")
    ap.add_argument("--show", type=int, default=0, help="print this many examples per cause")
    args = ap.parse_args()
    data = json.loads(args.results.read_text())
    settings = data["settings"]
    found = corpus.gather(
        seed=settings["seed"], extra=settings.get("extra_roots", ()), base=not settings.get("only_extra")
    )
    files = {(f.repo, f.relpath): f.path for f in found}
    store = open_store(args.index, readonly=True)
    documents = int(store.stats()["documents"])
    pos = [r for r in data["records"] if r["kind"] == "positive"]
    missed = [r for r in pos if not r["right5"]]
    rows: list[dict[str, Any]] = []
    for r in missed:
        cause, detail, info = classify(store, documents, r, files)
        rows.append({k: r[k] for k in ("language", "mutation", "length", "repo", "path", "lines", "verdict")}
                    | {"cause": cause, "detail": detail, **info})  # fmt: skip
    store.close()
    print(f"{len(missed)} of {len(pos)} positives missed ({args.results})")

    def group(mutation: str) -> str:
        return mutation if mutation in RENAMING else "verbatim kinds"

    names = sorted({group(r["mutation"]) for r in pos}, key=lambda g: (g != "verbatim kinds", g))
    groups = {name: [x for x in rows if group(x["mutation"]) == name] for name in names}
    for name, rs in groups.items():
        total = sum(1 for r in pos if group(r["mutation"]) == name)
        print(f"\n{name}: {len(rs)} missed of {total}")
        # The bar's denominator (queries holding code), and the same with boilerplate windows aside:
        # pieces of license headers and generated code that no search should attribute.
        code = sum(1 for r in pos if group(r["mutation"]) == name and has_code(r))
        right = code - sum(1 for x in rs if x["cause"] != "e-empty")
        plate = sum(1 for x in rs if x["cause"] == "d-boilerplate")
        if code:
            print(f"  with code: {right} of {code} right ({100 * right / code:.1f} %); boilerplate aside: "
                  f"{right} of {code - plate} ({100 * right / max(1, code - plate):.1f} %)")  # fmt: skip
        causes = Counter((x["cause"], x["detail"] if not x["detail"][0].isdigit() else "") for x in rs)
        for (cause, detail), n in sorted(causes.items(), key=lambda kv: (kv[0][0], -kv[1])):
            print(f"  {cause:<14}{detail:<16}{n:6}")
        for key in ("language", "length", "mutation"):
            table: dict[str, Counter[str]] = defaultdict(Counter)
            for x in rs:
                table[str(x[key])][x["cause"]] += 1
            names = sorted({x["cause"] for x in rs})
            print(f"  by {key:<10}" + "".join(f"{c:>15}" for c in names))
            for k in sorted(table, key=lambda s: (len(s), s)):
                print(f"    {k:<11}" + "".join(f"{table[k][c]:>15}" for c in names))
    if args.show:
        by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for x in rows:
            by[(x["cause"], x["detail"])].append(x)
        print()
        for (cause, detail), xs in sorted(by.items()):
            for x in xs[: args.show]:
                extra = {k: x[k] for k in ("query_tokens", "run", "raw_run", "rare_run", "max_df") if k in x}
                print(f"{cause}/{detail}: {x['mutation']} {x['repo']}:{x['path']} L{x['lines'][0]}-"
                      f"{x['lines'][1]} {extra}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
