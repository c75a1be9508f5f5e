"""Attribution quality on real code: does search find where a (mutated) fragment came from?

Indexes a sample of real files (``whence_dev.corpus``) of the languages asked for (``--languages``:
Python, Java, C, Go, JavaScript by default; ``all`` for every file of the corpus), about as many of each,
and the originals of the task programs (``scripts/eval/programs/``).  Cuts fragments of ``--lengths``
lines (8, 15, 30 by default) from the indexed files at seeded random positions, mutates them
(:mod:`mutate`: exact, reindent, comments, crlf, renamed; ``partial`` on request) and searches for each.

* A fragment is *flagged correctly* when a match (verdict not ``none``) among the top 5 names its file
  (or holds identical code) with source lines overlapping the fragment's: per cell (language x mutation x
  length), recall = share of fragments flagged correctly, precision = share of flagged fragments whose
  top match is right.
* Negatives, where any verdict but ``none`` is a false alarm: fragments of files of held-out families
  (whole families are not indexed: about 30% of each language's files; the JDK and the Go standard
  library, one family each, are held out by module / package; a held-out file sharing more than 20% of its
  long lines with the index is left out), the independent solutions of the task programs (whole files and
  fragments: only their task's original is indexed), and clean files (:mod:`cleanfiles`: licenses,
  READMEs, configs, generated tables, scanned whole; a README, config or table sharing more than 20% of
  its long lines with the index is left out as a copy, a license never).
* Boilerplate: line windows found in more indexed documents than the search's boilerplate cap.

``--files 300`` is the small-index setting: a few hundred files, where boilerplate cannot be learned
from document counts.  Prints the per-cell table, the overall rows ("verbatim kinds" = exact, reindent,
comments, crlf; "renamed") and the false-alarm rates, then the earlier summary (% correct by mutation and
length, attributable fragments: they lex as in their file and keep >= 40 tokens not covered by
boilerplate fingerprints).  Exit 0; with ``--check``, 1 when a target is missed (verbatim kinds >= 95%,
renamed >= 85%, both over the fragments whose query holds code -- at least ``K`` tokens, one k-gram: a
window of blank lines and line comments holds nothing to find --, negatives <= 2%, no clean file flagged).
``misses.py`` tells why each missed fragment was missed.  ``--index`` must name a new file (an existing one
is refused): negatives are only negative if the index holds nothing but the held-in files.

    python scripts/eval/attribution.py [--files 4000] [--fragments-per-cell 60] [--seed 1]
        [--languages python,java,c,go,javascript] [--lengths 8,15,30] [--clean 200] [--json OUT] [--check]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cleanfiles
import numpy as np
import xxhash
from mutate import LANGUAGES, MUTATIONS, RENAMING, VERBATIM_KINDS, FileInfo, language_of, mutate
from programs import load_tasks

from whence.index import boilerplate as model
from whence.index import fingerprint, ingest, lexer, search
from whence.index.stores import open_store
from whence.index.stores.segments import in_sorted
from whence_dev import corpus
from whence_dev.corpus import CorpusFile

LENGTHS = (8, 15, 30)
DEFAULT_MUTATIONS = ("exact", "reindent", "comments", "crlf", "renamed")
OVERALL = {
    "verbatim kinds": ("exact", "reindent", "comments", "crlf"),
    "renamed": ("renamed",),
    # no bar: reported when asked for (--mutations)
    "renamed, members too": ("renamed-all",),
    "renamed, self too": ("renamed-self",),
}
BAR = {"verbatim kinds": 0.95, "renamed": 0.85, "negatives": 0.02, "clean": 0.0}
MIN = search.MIN_MATCH_TOKENS
ATTRIBUTING = search.ATTRIBUTING  # verdicts that flag (`weak` evidence is for a person to judge)


def _long(line: str) -> bool:
    return len(line.strip()) >= 20


def _line_hash(line: str) -> int:
    return xxhash.xxh3_64_intdigest(line.strip().encode("utf-8", "surrogatepass"))


def copies_index(lines: list[str], indexed_lines: np.ndarray) -> bool:
    """Whether more than 20 % of the distinct long lines (>= 20 characters) of a file occur in the index
    (``indexed_lines``: the sorted hashes of the indexed files' long lines): a fork, a vendored copy or a
    text that quotes indexed code, which no negative or clean file may be."""
    mine = np.unique(np.array([_line_hash(x) for x in lines if _long(x)], dtype=np.uint64))
    if not len(mine):
        return False
    return bool(in_sorted(indexed_lines, mine).mean() > 0.2)


#: A clean file that shares a run of this many words with the indexed files quotes them (a package's
#: README holding a passage of its module's docstring, rewrapped: no line of it is an indexed line).
QUOTED_WORDS = 20
_WORD = re.compile(r"[A-Za-z0-9_]+")  # words as BigCode's near-dedup splits text: on non-alphanumerics


def word_runs(text: str, n: int = QUOTED_WORDS) -> np.ndarray:
    """The distinct hashes of every run of ``n`` consecutive words of ``text`` (sorted)."""
    words = _WORD.findall(text)
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    h = np.array([xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass")) for w in words], np.uint64)
    return np.unique(fingerprint.kgrams(h, n))


def quotes_index(text: str, indexed_runs: np.ndarray) -> bool:
    """Whether ``text`` shares a run of :data:`QUOTED_WORDS` words with the indexed files
    (``indexed_runs``: :func:`word_runs` of all of them, sorted)."""
    return bool(in_sorted(indexed_runs, word_runs(text)).any())


def split_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


# -- judging -----------------------------------------------------------------------------------------


def judge(
    res: search.SearchResult, f: CorpusFile, lo: int, hi: int, original: str, accept: tuple[str, ...]
) -> dict[str, Any]:
    """Is a match among the results the right one (right verdict, file -- or identical code -- and lines)?

    ``top5`` / ``top1`` / ``file_top5`` ask for a verdict in ``accept``; ``right5`` / ``right1`` (flagged
    correctly) for any verdict that attributes (``weak`` evidence is shown, it is not a flag)."""
    out: dict[str, Any] = {"verdict": res.verdict, "flagged": res.verdict in ATTRIBUTING, "top1": False,
                           "top5": False, "file_top5": False, "right5": False, "right1": False}  # fmt: skip
    for rank, m in enumerate(res.matches):
        same_file = any((o.repo, o.path) == (f.repo, f.relpath) for o in m.occurrences)
        same_code = same_file or (
            m.source_text is not None and original in m.source_text.replace("\r\n", "\n")
        )
        overlap = any(s.source_lines[0] <= hi and s.source_lines[1] >= lo for s in m.spans)
        right = same_code and (overlap or not same_file)
        if m.verdict in ATTRIBUTING and right:
            out["right5"] = True
            out["right1"] = out["right1"] or rank == 0
        if m.verdict in accept and same_file:
            out["file_top5"] = True
        if m.verdict in accept and same_code and (overlap or not same_file):
            out["top5"] = True
            out["top1"] = out["top1"] or rank == 0
    top = res.first()
    if top is not None:
        out["match"] = {"repo": top.primary.repo, "path": top.primary.path, "verdict": top.verdict,
                        "evidence": top.evidence,
                        "spans": [s.as_dict() for s in top.spans[:3]]}  # fmt: skip
    return out


# -- boilerplate -------------------------------------------------------------------------------------


def boilerplate(texts: list[list[str]], cap: int, want: int) -> list[tuple[str, int]]:
    """Line windows (3-20 non-blank lines, compared stripped) found in more than ``cap`` documents."""
    norm = [[(i, x.strip()) for i, x in enumerate(t) if x.strip()] for t in texts]
    c3: Counter[int] = Counter()
    for nl in norm:
        c3.update({hash(tuple(s for _, s in nl[i : i + 3])) for i in range(len(nl) - 2)})
    common3 = {h for h, c in c3.items() if c > cap}
    counts: Counter[tuple[str, ...]] = Counter()
    first: dict[tuple[str, ...], str] = {}
    for t, nl in zip(texts, norm, strict=True):
        ok = [hash(tuple(s for _, s in nl[i : i + 3])) in common3 for i in range(len(nl) - 2)]
        seen: set[tuple[str, ...]] = set()
        for i in range(len(ok)):
            for size in (3, 4, 5, 6, 8, 10, 12, 16, 20):
                if i + size > len(nl) or not all(ok[i : i + size - 2]):
                    break
                key = tuple(s for _, s in nl[i : i + size])
                seen.add(key)
                first.setdefault(key, "\n".join(t[nl[i][0] : nl[i + size - 1][0] + 1]) + "\n")
        counts.update(seen)
    cands = [(first[k], c) for k, c in counts.items() if c > cap]
    cands.sort(key=lambda kc: (-len(fingerprint.tokenize(kc[0].encode())), -kc[1], kc[0]))
    picked: list[tuple[str, int]] = []
    for text, c in cands:
        if len(picked) < want and not any(text.strip() in p for p, _ in picked):
            picked.append((text, c))
    return picked


def informative(store: Any, text: str, cap: int, views: str) -> int:
    """Tokens of a query not covered by a boilerplate fingerprint, as search counts them: for a verbatim
    match only exact fingerprints mask (``views="exact"``), for a near-duplicate those of both views."""
    toks = fingerprint.tokenize(text.encode(), lexer.guess_language(text.encode()))
    qe, qa = fingerprint.kgrams(toks.exact), fingerprint.kgrams(toks.abstract)
    if len(qe) == 0:
        return len(toks)
    both = np.concatenate((qe, qa))
    common = np.union1d(  # the index's boilerplate and the shipped model's
        store.postings(both.view(np.int64), cap).common, both[model.common(both)].view(np.int64)
    )
    mask = np.zeros(len(toks), dtype=bool)
    arr = np.array(sorted(common), dtype=np.int64).view(np.uint64)
    for kg in (qe, qa) if views == "both" else (qe,):
        for i in np.flatnonzero(np.isin(kg, arr)).tolist():
            mask[i : i + fingerprint.K] = True
    return int((~mask).sum())


# -- reports -----------------------------------------------------------------------------------------


def has_code(r: dict[str, Any]) -> bool:
    """Whether a query holds any code: at least ``K`` tokens, so one k-gram.  A fragment of only blank
    lines and line comments (or one emptied by the ``comments`` mutation) has none; line comments never
    become tokens, so there is nothing for any search to find, and ``none`` is the right answer.  (A
    block comment's words are tokens, like code's: a fragment of Javadoc prose holds "code" here.)  Such
    fragments are counted apart and left out of the bar's denominator (``--check``)."""
    return int(r["tokens"]) >= fingerprint.K


def _rate(rs: list[dict[str, Any]], key: str) -> float:
    return sum(bool(r[key]) for r in rs) / len(rs) if rs else math.nan


def _length_key(r: dict[str, Any]) -> str:
    return "whole" if r.get("whole") else str(r["length"])


def cell_stats(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """n, recall (flagged correctly, top 5), precision (flagged with the right top match), flagged."""
    flagged = [r for r in rs if r["flagged"]]
    return {
        "n": len(rs),
        "recall": round(_rate(rs, "right5"), 6) if rs else None,
        "precision": round(_rate(flagged, "right1"), 6) if flagged else None,
        "flagged": round(_rate(rs, "flagged"), 6) if rs else None,
    }


def summarise(
    records: list[dict[str, Any]], langs: list[str], muts: list[str], lengths: list[int]
) -> dict[str, Any]:
    pos = [r for r in records if r["kind"] == "positive"]
    cells = {}
    for lang in langs:
        for mut in muts:
            for length in lengths:
                rs = [r for r in pos if (r["language"], r["mutation"], r["length"]) == (lang, mut, length)]
                cells[f"{lang}/{mut}/{length}"] = cell_stats(rs)
    overall: dict[str, Any] = {}
    for name, kinds in OVERALL.items():
        rs = [r for r in pos if r["mutation"] in kinds]
        if not rs:  # a group no mutation asked for
            continue
        overall[name] = cell_stats(rs) | {"attributable": cell_stats([r for r in rs if r["attributable"]])}
        # The bar's denominator: fragments whose query holds code (see has_code).
        overall[name]["with_code"] = cell_stats([r for r in rs if has_code(r)])
        overall[name]["with_code_by_length"] = {
            str(n): cell_stats([r for r in rs if r["length"] == n and has_code(r)]) for n in lengths
        }
        overall[name]["by_language"] = {x: cell_stats([r for r in rs if r["language"] == x]) for x in langs}
        overall[name]["by_length"] = {
            str(n): cell_stats([r for r in rs if r["length"] == n]) for n in lengths
        }
    negatives: dict[str, Any] = {}
    for kind in ("negative", "independent"):
        rs = [r for r in records if r["kind"] == kind]
        negatives[kind] = {"n": len(rs), "false_alarms": round(_rate(rs, "flagged"), 6) if rs else None,
                           "by_language": {}, "by_length": {}}  # fmt: skip
        for x in sorted({r["language"] for r in rs}):
            sub = [r for r in rs if r["language"] == x]
            negatives[kind]["by_language"][x] = {
                "n": len(sub),
                "false_alarms": round(_rate(sub, "flagged"), 6),
            }
        for n in sorted({_length_key(r) for r in rs}, key=lambda k: (not k.isdigit(), k.zfill(6))):
            sub = [r for r in rs if _length_key(r) == n]
            negatives[kind]["by_length"][n] = {"n": len(sub), "false_alarms": round(_rate(sub, "flagged"), 6)}
    allneg = [r for r in records if r["kind"] in ("negative", "independent")]
    negatives["all"] = {
        "n": len(allneg),
        "false_alarms": round(_rate(allneg, "flagged"), 6) if allneg else None,
    }
    clean_rs = [r for r in records if r["kind"] == "clean"]
    clean: dict[str, Any] = {"n": len(clean_rs), "false_alarms": sum(r["flagged"] for r in clean_rs),
                             "by_category": {}}  # fmt: skip
    for cat in sorted({r["mutation"] for r in clean_rs}):
        sub = [r for r in clean_rs if r["mutation"] == cat]
        clean["by_category"][cat] = {"n": len(sub), "false_alarms": sum(r["flagged"] for r in sub)}
    bps = [r for r in records if r["kind"] == "boilerplate"]
    bp = {"n": len(bps), "false_alarms": round(_rate(bps, "flagged"), 6) if bps else None}
    return {
        "cells": cells,
        "overall": overall,
        "negatives": negatives,
        "clean": clean,
        "boilerplate": bp,
        "evidence": evidence_precision(records),
    }


def evidence_precision(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind of evidence (``Match.evidence``) of the top match, over every query with a top match: how
    many, and the share that named the right file and lines (``partial``, weak evidence: the right
    file; a negative's, a clean file's or a boilerplate window's is never right).  What
    ``Match.confidence`` reports."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        m = r.get("match")
        if not m or m["verdict"] == "none":
            continue
        if m["verdict"] in ATTRIBUTING:
            right = bool(r.get("right1")) if r["kind"] == "positive" else False
        else:  # weak evidence: right when it names the fragment's file
            right = r["kind"] == "positive" and (m["repo"], m["path"]) == (r.get("repo"), r.get("path"))
        cell = out.setdefault(m.get("evidence") or "-", {"n": 0, "right": 0})
        cell["n"] += 1
        cell["right"] += right
    for cell in out.values():
        cell["precision"] = round(cell["right"] / cell["n"], 6)
    return dict(sorted(out.items()))


def _pr(c: dict[str, Any]) -> str:
    if not c["n"]:
        return "-"
    p = "  -  " if c["precision"] is None else f"{100 * c['precision']:5.1f}"
    return f"{100 * c['recall']:5.1f} {p} ({c['n']})"


def print_tables(summary: dict[str, Any], langs: list[str], muts: list[str], lengths: list[int]) -> None:
    print("\nflagged correctly: a match (verbatim or near-duplicate) among the top 5 names the fragment's")
    print("file (or identical code) with overlapping lines.  Each cell: recall %, precision % (flagged")
    print("fragments whose top match is right), (fragments)")
    for lang in langs:
        print(f"\n{lang:<11}" + "".join(f"{f'{n} lines':>20}" for n in lengths))
        for mut in muts:
            cs = [summary["cells"][f"{lang}/{mut}/{n}"] for n in lengths]
            print(f"  {mut:<11}" + "".join(f"{_pr(c):>20}" for c in cs))
    print(f"\n{'overall':<24}{'recall':>8}{'precision':>10}{'n':>7}   with code: recall (n)"
          "   attributable only: recall (n)")  # fmt: skip
    for name, o in summary["overall"].items():
        prec = "-" if o["precision"] is None else f"{100 * o['precision']:.1f}"
        a, w = o["attributable"], o["with_code"]
        ar = "-" if not a["n"] else f"{100 * a['recall']:.1f} ({a['n']})"
        wr = "-" if not w["n"] else f"{100 * w['recall']:.1f} ({w['n']})"
        print(f"{name:<24}{100 * o['recall']:>7.1f}%{prec:>9}%{o['n']:>7}   {wr:<24}{ar}")
        for key in ("by_language", "by_length", "with_code_by_length"):
            parts = [f"{k} {100 * v['recall']:.1f}" for k, v in o[key].items() if v["n"]]
            print(f"  {key.replace('_', ' ')}: " + ", ".join(parts))
    print("\nprecision by the top match's evidence (queries with a top match; partial: weak evidence)")
    for name, cell in summary["evidence"].items():
        print(f"  {name:<20}{100 * cell['precision']:6.1f}% of {cell['n']}")
    print("\nfalse alarms (a verdict that attributes: verbatim or near-duplicate)")
    for kind, label in (("negative", "held-out families"), ("independent", "independent solutions")):
        neg = summary["negatives"][kind]
        if not neg["n"]:
            continue
        by = ", ".join(
            f"{k} {100 * v['false_alarms']:.1f}% of {v['n']}" for k, v in neg["by_language"].items()
        )
        byl = ", ".join(f"{k} {100 * v['false_alarms']:.1f}%" for k, v in neg["by_length"].items())
        print(f"  {label:<22} {100 * neg['false_alarms']:5.1f}% of {neg['n']}  ({by}; by length: {byl})")
    allneg = summary["negatives"]["all"]
    if allneg["n"]:
        print(f"  {'all negatives':<22} {100 * allneg['false_alarms']:5.1f}% of {allneg['n']}")
    cl = summary["clean"]
    by = ", ".join(f"{k} {v['false_alarms']} of {v['n']}" for k, v in cl["by_category"].items())
    print(f"  {'clean files':<22} {cl['false_alarms']} of {cl['n']} flagged ({by})")
    bp = summary["boilerplate"]
    if bp["n"]:
        print(f"  {'boilerplate windows':<22} {100 * bp['false_alarms']:5.1f}% of {bp['n']}")


def check(summary: dict[str, Any]) -> bool:
    ok = True
    print()
    for name in OVERALL:
        if name not in BAR:
            continue
        if name not in summary["overall"]:
            print(f"SKIP {name}: none of its mutations was asked for (--mutations)")
            continue
        o = summary["overall"][name]
        val, bar = o["with_code"]["recall"], BAR[name]
        ok &= val >= bar
        n, nocode = o["with_code"]["n"], o["n"] - o["with_code"]["n"]
        verdict = "PASS" if val >= bar else "FAIL"
        print(f"{verdict} {name}: recall {val:.1%} of {n} fragments with code (target >= {bar:.0%}; "
              f"all {o['n']}: {o['recall']:.1%}, {nocode} hold no code)")  # fmt: skip
    val = summary["negatives"]["all"]["false_alarms"]
    if val is not None:
        ok &= val <= BAR["negatives"]
        print(f"{'PASS' if val <= BAR['negatives'] else 'FAIL'} negatives: {val:.1%} flagged (target <= 2%)")
    n = summary["clean"]["false_alarms"]
    ok &= n == 0
    print(f"{'PASS' if n == 0 else 'FAIL'} clean files: {n} flagged (target 0)")
    return ok


def report(records: list[dict[str, Any]], cap: int, gate: str, lengths: list[int], muts: list[str]) -> bool:
    """The earlier summary: % correct by mutation and length, targets (a)-(d); whether all passed."""
    rows = [*muts, "negative"]
    print("\nattributable: the unmutated fragment lexes as in its file (it is not cut inside a block comment")
    print("or a multi-line string), and both it and the query have >= 40 tokens not covered by boilerplate")
    print("fingerprints (exact ones; for renamed queries those of either view)")

    def cell(rs: list[dict[str, Any]], col: str) -> str:
        return f"{100 * sum(r[col] for r in rs) / len(rs):5.1f}% ({len(rs)})" if rs else "-"

    for col in ("top5", "top1"):
        where = "any of the top 5" if col == "top5" else "the top match"
        print(f"\n% correct, verbatim kinds as verbatim ({where}); negatives: % not attributed")
        print(
            f"{'mutation':<10}" + "".join(f"{L:>13}" for L in lengths) + f"{'>=8 all':>13}{'>=8 attrib.':>13}"
        )
        for row in rows:
            mine = [r for r in records if r["mutation"] == row]
            cells = [cell([r for r in mine if r["length"] == L], col) for L in lengths]
            cells.append(cell([r for r in mine if r["length"] >= 8], col))
            cells.append(cell([r for r in mine if r["length"] >= 8 and r["attributable"]], col))
            print(f"{row:<10}" + "".join(f"{c:>13}" for c in cells))

    def rate(kinds: tuple[str, ...], col: str, only_attributable: bool) -> tuple[float, int]:
        rs = [r for r in records if r["kind"] == "positive" and r["mutation"] in kinds and r["length"] >= 8]
        rs = [r for r in rs if r["attributable"] or not only_attributable]
        return (sum(r[col] for r in rs) / len(rs) if rs else float("nan")), len(rs)

    strict = gate == "attributable"
    other = "all" if strict else "attributable only"
    a, a2 = rate(VERBATIM_KINDS, "top5", strict), rate(VERBATIM_KINDS, "top5", not strict)
    b, b2 = rate(("renamed",), "file_top5", strict), rate(("renamed",), "file_top5", not strict)
    b_lines = rate(("renamed",), "top5", strict)
    negs = [r for r in records if r["kind"] == "negative"]
    bps = [r for r in records if r["kind"] == "boilerplate"]
    c = (sum(r["top5"] for r in negs) / len(negs) if negs else float("nan"), len(negs))
    d = (sum(r["top5"] for r in bps) / len(bps) if bps else float("nan"), len(bps))
    neg_verdicts = dict(Counter(r["verdict"] for r in negs if r["verdict"] != "none"))
    bp40 = sum(1 for r in bps if r["tokens"] >= search.MIN_MATCH_TOKENS)
    scope = "attributable, " if strict else ""
    print()
    ok = True
    for name, (val, n), target, note in (
        (f"(a) verbatim kinds, {scope}>=8 lines: verbatim, right file + lines", a, 0.99,
         f"({other}: {a2[0]:.1%} of {a2[1]})"),
        (f"(b) renamed, {scope}>=8 lines: near-duplicate/verbatim, right file", b, 0.90,
         f"({other}: {b2[0]:.1%} of {b2[1]}; with the right lines too: {b_lines[0]:.1%})"),
        ("(c) negatives not attributed", c, 0.99, f"(attributed: {neg_verdicts})"),
        ("(d) boilerplate not attributed", d, 0.99, f"({bp40} of {d[1]} windows have >= 40 tokens)"),
    ):  # fmt: skip
        if n == 0:
            why = f" (no line window is in more than {cap} documents)" if "(d)" in name else ""
            print(f"SKIP {name}: no queries{why}")
            continue
        ok &= val >= target
        print(
            f"{'PASS' if val >= target else 'FAIL'} {name}: {val:.1%} of {n} (target >= {target:.0%}) {note}"
        )

    print("\nfailures of >= 8 lines (first 3 per language and set; positives: attributable ones only):")
    for lang in sorted({r["language"] for r in records}):
        for row in [*rows, "independent", "boilerplate"]:
            bad = [r for r in records if r["language"] == lang and r["mutation"] == row]
            bad = [r for r in bad if not r["top5"] and r["length"] >= 8]
            if row in muts:  # a positive the search could not have found is no news
                bad = [r for r in bad if r["attributable"]]
            for r in bad[:3]:
                m = r.get("match")
                top = f"{m['repo']}:{m['path']} {[s['source_lines'] for s in m['spans']]}" if m else "-"
                tag = (
                    "attributable"
                    if r["attributable"]
                    else "not lexable/short"
                    if not r["alike"]
                    else "masked"
                )
                where = f"{r['repo']}:{r['path']} L{r['lines'][0]}-{r['lines'][1]}"
                toks = f"{r['tokens']} tok, {r['informative']} informative, {tag}"
                print(f"  {lang:<10} {row:<11} {where} ({toks}) -> {r['verdict']}; top: {top}")
    clean_hits = [r for r in records if r["kind"] == "clean" and r["flagged"]]
    if clean_hits:
        print("\nclean files flagged:")
        for r in clean_hits[:10]:
            m = r.get("match", {})
            print(f"  {r['mutation']:<8} {r['path']} -> {r['verdict']}: {m.get('repo')}:{m.get('path')} "
                  f"{[s['source_lines'] for s in m.get('spans', [])]}")  # fmt: skip
    return ok


# -- main --------------------------------------------------------------------------------------------


def held_out_unit(f: CorpusFile) -> str:
    """What is held out whole: the family; the JDK by module, Go's standard library by package."""
    fam = f.family
    if fam == "openjdk":
        return f.repo
    if fam == "golang":
        return "golang/" + "/".join(f.relpath.split("/")[:2])
    return fam


def split_corpus(
    allfiles: list[CorpusFile], langs: list[str] | None, files: int, seed: int
) -> tuple[list[CorpusFile], list[CorpusFile], int]:
    """(held-in files to index, held-out files, held-out units): per language about 30% of the files
    held out by whole units, then about ``files / languages`` of each language's held-in files."""
    by_lang: dict[str, list[CorpusFile]] = defaultdict(list)
    for f in allfiles:
        lang = language_of(f.relpath)
        if langs is None or lang in langs:
            by_lang["all" if langs is None else lang].append(f)
    held_in: list[CorpusFile] = []
    held_out: list[CorpusFile] = []
    units_out = 0
    per = math.ceil(files / max(1, len(by_lang)))
    for _, fs in sorted(by_lang.items()):
        sizes = Counter(held_out_unit(f) for f in fs)
        units = sorted(sizes)
        random.Random(seed + 1).shuffle(units)
        out: set[str] = set()
        for u in units:  # hold out whole units, about 30% of the files
            if sum(sizes[x] for x in out) + sizes[u] <= 0.3 * len(fs) and len(out) + 1 < len(units):
                out.add(u)
        units_out += len(out)
        held_in += [f for f in fs if held_out_unit(f) not in out][:per]
        held_out += [f for f in fs if held_out_unit(f) in out]
    return held_in, held_out, units_out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000, help="files to index (held in); 300: small index")
    ap.add_argument("--fragments-per-cell", type=int, default=60, help="fragments per language and length")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--languages", default=",".join(LANGUAGES), help=f"of {', '.join(LANGUAGES)}; or all")
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="fragment lengths, in lines")
    ap.add_argument("--mutations", default=",".join(DEFAULT_MUTATIONS), help=f"of {', '.join(MUTATIONS)}")
    ap.add_argument("--clean", type=int, default=200, help="clean (non-code) files to scan")
    ap.add_argument("--index", help="index file to create (default: a temporary one; kept for misses.py)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="write the summary and per-fragment results here")
    ap.add_argument(
        "--queries",
        action="store_true",
        help="keep every query's text in --json's records (by default only missed and attributed negatives)",
    )
    ap.add_argument(
        "--gate",
        choices=["attributable", "all"],
        default="attributable",
        help="which fragments of >= 8 lines the earlier targets (a) and (b) count (default: attributable)",
    )
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR", help="more code to draw on")
    ap.add_argument(
        "--only-extra",
        action="store_true",
        help="sample from the --extra-root folders alone: code the project was never tuned on",
    )
    args = ap.parse_args()
    if args.only_extra and not args.extra_root:
        ap.error("--only-extra needs at least one --extra-root")
    langs = None if args.languages == "all" else [x for x in args.languages.split(",") if x]
    lengths = [int(x) for x in args.lengths.split(",")]
    muts = [x for x in args.mutations.split(",") if x]
    for x in [*(langs or []), *muts]:
        if x not in LANGUAGES and x not in MUTATIONS:
            ap.error(f"unknown language or mutation {x!r}")
    # A build adds to an existing index: its documents would be counted with this run's, and a negative
    # the old index holds would not be one.
    if args.index and Path(args.index).exists():
        ap.error(f"--index {args.index} exists: the evaluation needs a fresh index (remove it or name one)")
    print(f"whence eval_attribution: native kernel={fingerprint.has_native()} seed={args.seed} "
          f"files={args.files} fragments/cell={args.fragments_per_cell} languages={args.languages} "
          f"lengths={lengths} mutations={muts}")  # fmt: skip
    t_start = time.perf_counter()
    rng = random.Random(args.seed)
    allfiles = corpus.gather(seed=args.seed, extra=args.extra_root, base=not args.only_extra)
    held_in, held_out, units_out = split_corpus(allfiles, langs, args.files, args.seed)
    tasks = load_tasks() if langs is None or "java" in langs else {}
    originals = [
        CorpusFile(str(s[0]), f"tasks/{t}", f"{t}/{s[0].name}", ("NOASSERTION",)) for t, s in tasks.items()
    ]
    print(f"corpus: {len(allfiles)} files; {len(held_out)} in {units_out} held-out units; indexing "
          f"{len(held_in)} (+ {len(originals)} task programs): "
          f"{dict(Counter(language_of(f.relpath) for f in held_in))}", file=sys.stderr)  # fmt: skip

    tmp = tempfile.TemporaryDirectory(prefix="whence-eval-")
    index = args.index or str(Path(tmp.name) / "index.sqlite")
    built: Any = corpus.build_index(index, [*held_in, *originals], args.workers)
    print(f"index: {built.files} files, {built.bytes / 1e6:.1f} MB in {built.seconds:.1f}s; "
          f"skipped {dict(built.skipped)}", file=sys.stderr)  # fmt: skip
    store = open_store(index, readonly=True)
    documents = int(store.stats()["documents"])
    cap = search.common_cap(documents)

    infos: dict[str, list[FileInfo]] = defaultdict(list)
    hashes: set[int] = set()
    texts_by_hash: dict[int, list[str]] = {}
    for f in held_in:
        raw = corpus.read_bytes(f.path)
        if ingest.check_text(raw):
            continue
        info = FileInfo(f, split_lines(raw))
        infos[info.lang if langs is not None else "all"].append(info)
        texts_by_hash.setdefault(hash(raw), info.lines)
        hashes.add(hash(raw))

    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def query(kind: str, mutation: str, length: int, text: str, f: CorpusFile | None, lo: int, orig: str,
              alike: bool = True, lang: str = "") -> None:  # fmt: skip
        res = search.search(store, text, top=5, with_text=True, documents=documents)
        hi = lo + length - 1
        rec: dict[str, Any] = {"kind": kind, "mutation": mutation, "length": length, "tokens": res.tokens}
        lang = lang or ("all" if langs is None else language_of(f.relpath) if f else "")
        rec |= {"language": lang, "flagged": res.verdict in ATTRIBUTING}
        rec |= {"repo": f.repo if f else "", "path": f.relpath if f else "", "lines": [lo, hi]}
        rec["informative"] = informative(store, text, cap, "both" if mutation in RENAMING else "exact")
        rec["alike"] = alike
        rec["attributable"] = alike and rec["informative"] >= MIN
        if (
            f is None or kind != "positive"
        ):  # negatives, clean files, boilerplate: right when nothing is attributed
            clean = res.verdict not in ATTRIBUTING
            rec |= {"verdict": res.verdict, "top1": clean, "top5": clean}
            if res.matches:
                m = res.matches[0]
                rec["match"] = {"repo": m.primary.repo, "path": m.primary.path, "verdict": m.verdict,
                                "evidence": m.evidence,
                                "spans": [s.as_dict() for s in m.spans[:3]]}  # fmt: skip
                rec["query"] = text[:4000]
        else:
            accept = ("verbatim",) if mutation in VERBATIM_KINDS else ("verbatim", "near-duplicate")
            rec |= judge(res, f, lo, hi, orig, accept)
            if not rec["right5"] or args.queries:
                rec["query"] = text
        records.append(rec)
        if len(records) % 500 == 0:
            print(f"  {len(records)} queries ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)

    for _lang, pool_all in sorted(infos.items()):
        for length in lengths:
            pool = [i for i in pool_all if len(i.lines) >= length]
            for _ in range(args.fragments_per_cell if pool else 0):
                info = rng.choice(pool)
                start = rng.randrange(len(info.lines) - length + 1)
                orig = "\n".join(info.lines[start : start + length])
                # attributable base: lexes as in its file, and enough informative tokens before any mutation
                alike = info.lexes_alike(start, length) and informative(store, orig, cap, "exact") >= MIN
                for mutation in muts:
                    text = mutate(info, start, length, mutation, rng)
                    query("positive", mutation, length, text, info.file, start + 1, orig, alike)
    # Negatives: held-out files that are not copies of indexed ones (forks and vendored copies cross
    # family lines): at most 20% of their distinct long lines (>= 20 characters) may occur in the index.
    indexed_lines = np.unique(
        np.array([_line_hash(x) for t in texts_by_hash.values() for x in t if _long(x)], dtype=np.uint64)
    )
    negatives: dict[str, list[tuple[CorpusFile, list[str]]]] = defaultdict(list)
    copies = 0
    per_lang_out: dict[str, list[CorpusFile]] = defaultdict(list)
    for f in held_out:
        per_lang_out[language_of(f.relpath) if langs is not None else "all"].append(f)
    for lang, fs in sorted(per_lang_out.items()):
        for f in fs[: 20 * args.fragments_per_cell]:
            raw = corpus.read_bytes(f.path)
            if ingest.check_text(raw) or hash(raw) in hashes:
                continue
            lines = split_lines(raw)
            if copies_index(lines, indexed_lines):
                copies += 1
                continue
            negatives[lang].append((f, lines))
    print(f"negatives from {sum(map(len, negatives.values()))} held-out files ({copies} more left out: they "
          "copy indexed code)", file=sys.stderr)  # fmt: skip
    for _lang, negs in sorted(negatives.items()):
        for length in lengths:
            npool = [x for x in negs if len(x[1]) >= length]
            for _ in range(args.fragments_per_cell if npool else 0):
                f, lines = rng.choice(npool)
                start = rng.randrange(len(lines) - length + 1)
                text = "\n".join(lines[start : start + length]) + "\n"
                query("negative", "negative", length, text, f, start + 1, "")
    for task, sols in tasks.items():  # independent solutions: whole, and fragments of each length
        for sol in sols[1:]:
            f = CorpusFile(str(sol), f"tasks/{task}", f"{task}/{sol.name}", ("NOASSERTION",))
            lines = split_lines(sol.read_bytes())
            query("independent", "independent", len(lines), "\n".join(lines), f, 1, "", lang="java")
            records[-1]["whole"] = True
            for length in lengths:
                if len(lines) > length:
                    start = rng.randrange(len(lines) - length + 1)
                    text = "\n".join(lines[start : start + length]) + "\n"
                    query("independent", "independent", length, text, f, start + 1, "", lang="java")
    # Clean files by the negatives' rule, licenses aside: a README that copies indexed text (a package's
    # METADATA holding its module's docstring, or quoting a passage of it rewrapped: a run of 20 words)
    # is rightly attributed, so it is no test of false alarms; a license is the one text meant to be
    # copied everywhere, and must never be attributed.  (Tables and configs share runs of names with
    # indexed ones, locale files their code point lists: they are what must stay clean.)
    sampled = cleanfiles.sample(args.clean, args.seed)
    indexed_runs = np.unique(np.concatenate([word_runs("\n".join(t)) for t in texts_by_hash.values()]))
    clean = [
        c
        for c in sampled
        if c[0] == "license"
        or not (
            copies_index(split_lines(c[2]), indexed_lines)
            or (c[0] == "readme" and quotes_index(c[2].decode("utf-8", "replace"), indexed_runs))
        )
    ]
    print(f"clean files: {len(clean)} ({dict(Counter(c for c, _, _ in clean))}; {len(sampled) - len(clean)} "
          "more left out: they copy indexed text)", file=sys.stderr)  # fmt: skip
    for cat, path, raw in clean:
        f = CorpusFile(str(path), "clean", str(path), ())
        query("clean", cat, raw.count(b"\n") + 1, raw.decode("utf-8"), f, 1, "", lang="text")
    bp = boilerplate(list(texts_by_hash.values()), cap, args.fragments_per_cell)
    for text, count in bp:
        query("boilerplate", "boilerplate", text.count("\n"), text, None, 0, "", lang="any")
        records[-1]["documents_with_window"] = count
    elapsed = time.perf_counter() - t0
    ms = 1000 * elapsed / max(1, len(records))
    print(f"{len(records)} queries in {elapsed:.1f}s ({ms:.1f} ms/query, with diagnostics); "
          f"{documents} documents, boilerplate cap {cap}")  # fmt: skip

    shown = sorted(infos) if langs is not None else ["all"]
    summary = summarise(records, shown, muts, lengths)
    print_tables(summary, shown, muts, lengths)
    report(records, cap, args.gate, lengths, muts)
    ok = check(summary)
    print(f"\ntotal {time.perf_counter() - t_start:.1f}s")
    if args.json:
        settings = {"seed": args.seed, "files": args.files, "indexed": built.files, "documents": documents,
                    "fragments_per_cell": args.fragments_per_cell, "languages": shown, "lengths": lengths,
                    "mutations": muts, "clean": len(clean), "boilerplate_cap": cap,
                    "extra_roots": args.extra_root, "only_extra": args.only_extra}  # fmt: skip
        out = {"settings": settings, **summary, "records": records}
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"results: {args.json}")
    store.close()
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
