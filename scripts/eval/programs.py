"""Plagiarised and obfuscated programs: does search name the program a whole Java file was copied from?

The data (``scripts/eval/programs/<task>/SolutionN.java``): small student-style tasks, each with three to
five independent solutions written for this evaluation (eight of them also with the assignment's text,
``TASK.txt``, that each solution was written from).  Solution 1 of each task is the *original* and is
indexed with ``--distractors`` real JDK files (from the JDK's ``src.zip``; Go and C files when there is
no JDK).  Queried as whole files, each against the same index:

* copies of each original at six levels of editing (seeded, cumulative, each edit at every site it
  applies to or at a high seeded rate; :mod:`javaedit` does the edits): L1 layout and comments; L2 +
  identifiers renamed; L3 + declarations moved to the top of their method or split, ``final`` added,
  literals hoisted into constants, fields written ``this.x``, the ``Scanner`` renamed, imports and
  ``java.lang`` names written out; L4 + helpers inlined, blocks extracted into methods, statements
  shuffled within their dependencies, members reordered; L5 + expressions rewritten (``a < b`` ->
  ``b > a``, ``x++`` -> ``x = x + 1``), statements and unused helpers added, messages reworded; L6 +
  control restructured (index / iterator loops, ternaries and ``switch`` as ``if``, ``for`` <->
  ``while``, ``if``/``else`` inverted) and a further extraction;
* obfuscated variants of each original: junk statements, rewritten expressions, declarations at the top,
  methods extracted, members and statements reordered, every literal hoisted, static imports, imports
  rewritten, a package line, and identifiers, classes and the package renamed (words, short or
  obfuscated names);
* the independent solutions (2 and up) of every task: they must not be attributed to their task's
  original (the shared ``Scanner input = new Scanner(System.in)`` preambles make them look alike, and
  an assignment's dictated prompts and messages make its solutions say the same things).

A query is *flagged* when the verdict attributes (``verbatim`` or ``near-duplicate``; ``weak`` evidence
is shown for a person to judge, it is no flag); *right* when the top match names the right
original, *wrong* when flagged and the top match is anything else.  The same queries go through a
baseline in the same run: MinHash (datasketch, 256 permutations) of the set of 5-token shingles, tokens
split on non-alphanumerics as in BigCode's near-deduplication (``[^A-Za-z_0-9]+``), flagged when the
estimated Jaccard similarity with an indexed file is >= 0.15 (top match: the most similar one).

    python scripts/eval/programs.py [--copies 3] [--variants 12] [--distractors 540] [--seed 1]
                                    [--json OUT] [--dump DIR] [--check]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import javaedit as je
import numpy as np
from datasketch import MinHash

from whence.index import search
from whence.index.stores import open_store
from whence_dev import corpus
from whence_dev.corpus import CorpusFile

TASKS_DIR = Path(__file__).resolve().parent / "programs"
LEVELS = ("L1", "L2", "L3", "L4", "L5", "L6")
BASELINE_THRESHOLD = 0.15
BASELINE_PERM = 256
SHINGLE = 5
# the verdicts that attribute (older versions of the search, which have no ``search.ATTRIBUTING``, have
# only these and ``none``)
ATTRIBUTING = getattr(search, "ATTRIBUTING", frozenset({"near-duplicate", "verbatim"}))
BAR = {"L1": 0.95, "L2": 0.90, "L3": 0.70, "obfuscated": 0.60}


def load_tasks(names: list[str] | None = None) -> dict[str, list[Path]]:
    """Task name -> its solutions (``Solution1.java`` first: the original)."""
    out = {}
    for d in sorted(TASKS_DIR.iterdir()):
        if d.is_dir() and (names is None or d.name in names):
            out[d.name] = sorted(d.glob("Solution*.java"))
    return out


def copy_at(text: str, level: int, rng: random.Random) -> str:
    """A copy of ``text`` edited at ``level`` (1-6, cumulative; the edits of a level at nearly every site
    they apply to).  The edits run from the highest level down: structure first, names and layout last."""
    if level >= 6:
        text = je.restructure_control(text, rng, share=0.7)
        text = je.change_control(text, rng, share=0.7)
        text = je.extract_methods(text, rng, 1)
    if level >= 5:
        text = je.modify_expressions(text, rng, share=0.5)
        text = je.add_statements(text, rng, share=0.3)
        text = je.add_helpers(text, rng, rng.randint(1, 2))
        text = je.reword_strings(text, rng)
    if level >= 4:
        text = je.inline_all(text, rng, share=0.7)
        text = je.extract_methods(text, rng, 3)
        text = je.shuffle_statements(text, rng)
        text = je.reorder_members(text, rng)
    if level >= 3:
        text = je.split_declarations(text, rng)
        text = je.declarations_to_top(text, rng, share=0.8)
        text = je.add_final(text, rng)
        text = je.hoist_literals(text, rng, share=0.9, small=rng.random() < 0.8)
        text = je.imports(text, rng)
        text = je.qualify_members(text, rng, share=0.8)
        if rng.random() < 0.7:
            text = je.qualify_names(text, rng, share=0.8)
    if level >= 2:
        text = je.rename(text, rng, "words", library=level >= 3)
    return je.layout(text, rng)


OBFUSCATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "extract": lambda t, r: je.extract_methods(t, r, r.randint(2, 4)),
    "reorder": lambda t, r: je.reorder_members(je.reorder_statements(t, r), r),
    "hoist": lambda t, r: je.hoist_literals(t, r, share=1.0, small=True),
    "imports": je.imports,
    "static": je.static_imports,
    "package": je.add_package,
}


def obfuscate(text: str, rng: random.Random) -> tuple[str, list[str]]:
    """An obfuscated variant: every edit of :data:`OBFUSCATIONS` (methods extracted, members shuffled, all
    literals hoisted, static imports, a package) and everything renamed (seeded name style)."""
    picked = list(OBFUSCATIONS)
    text = je.add_statements(text, rng, share=0.2)  # junk code
    text = je.modify_expressions(text, rng, share=0.3)
    text = je.declarations_to_top(text, rng, share=0.8)
    for k in OBFUSCATIONS:  # a fixed order: structure first, names last
        if k != "package":
            text = OBFUSCATIONS[k](text, rng)
    style = rng.choice(["short", "obfuscated", "words"])
    text = je.rename(text, rng, style, library=True)
    text = je.add_package(text, rng)
    text = je.layout(text, rng) if rng.random() < 0.5 else je.strip_comments(text) + "\n"
    return text, [*picked, f"rename:{style}"]


# -- the baseline ------------------------------------------------------------------------------------


def shingles(text: str) -> set[bytes]:
    """5-token shingles, tokens split on non-alphanumerics (BigCode's near-deduplication)."""
    toks = [t for t in re.split(r"[^A-Za-z_0-9]+", text) if t]
    return {" ".join(toks[i : i + SHINGLE]).encode() for i in range(max(1, len(toks) - SHINGLE + 1))}


class Baseline:
    """MinHash of each indexed file; a query's estimated Jaccard similarity with every one of them."""

    def __init__(self, texts: list[str]) -> None:
        self.sigs = np.stack([self.signature(t) for t in texts]) if texts else np.zeros((0, BASELINE_PERM))

    @staticmethod
    def signature(text: str) -> np.ndarray:  # type: ignore[type-arg]
        m = MinHash(num_perm=BASELINE_PERM, seed=1)
        m.update_batch(list(shingles(text)))
        return np.asarray(m.hashvalues)

    def top(self, text: str) -> tuple[int, float]:
        sims = (self.sigs == self.signature(text)).mean(axis=1)
        best = int(np.argmax(sims))
        return best, float(sims[best])


# -- running -----------------------------------------------------------------------------------------


def distractors(n: int, seed: int) -> list[CorpusFile]:
    """``n`` real JDK files (Go and C files where no JDK's sources are installed)."""
    found: list[CorpusFile] = []
    for label, gen in corpus.roots(more=True):
        if label.startswith("jdk "):
            found = [f for f in gen if f.relpath.endswith(".java")]
            break
    if not found:
        for label, gen in corpus.roots(more=False):
            if label.startswith(("go ", "/usr/include")):
                found += list(gen)
    random.Random(seed).shuffle(found)
    return found[:n]


def judge_whence(res: search.SearchResult, want: str) -> dict[str, Any]:
    # Only matches that attribute count: weak evidence is listed for a person to judge.
    repos = [{o.repo for o in m.occurrences} for m in res.matches if m.verdict in ATTRIBUTING]
    flagged = res.verdict in ATTRIBUTING and bool(repos)  # weak evidence is shown, not a flag
    top = sorted(repos[0])[0] if flagged else ""
    return {
        "verdict": res.verdict,
        "evidence": res.matches[0].evidence if flagged else "",
        "flagged": flagged,
        "right": flagged and want in repos[0],
        "right_top5": any(want in r for r in repos),
        "wrong": flagged and want not in repos[0],
        "any_original": any(x.startswith("tasks/") for r in repos for x in r),
        "top": top,
        "matched_tokens": res.matches[0].matched_tokens if flagged else 0,
        "query_tokens": res.tokens,
    }


def judge_baseline(base: Baseline, names: list[str], text: str, want: str) -> dict[str, Any]:
    best, sim = base.top(text)
    flagged = sim >= BASELINE_THRESHOLD
    top = names[best] if flagged else ""
    return {"flagged": flagged, "right": top == want, "wrong": flagged and top != want,
            "any_original": top.startswith("tasks/"), "top": top, "similarity": round(sim, 3)}  # fmt: skip


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for cell in (*LEVELS, "obfuscated", "independent"):
        rs = [r for r in records if r["set"] == cell]
        if not rs:
            continue
        out: dict[str, Any] = {"n": len(rs)}
        for who in ("whence", "baseline"):

            def share(key: str, rs: list[dict[str, Any]] = rs, who: str = who) -> float:
                return round(sum(bool(r[who][key]) for r in rs) / len(rs), 4)

            if cell == "independent":
                out[who] = {"own_original": share("own_original"), "any_original": share("any_original"),
                            "flagged": share("flagged")}  # fmt: skip
            else:
                flags = sum(r[who]["flagged"] for r in rs)
                wrong = sum(r[who]["wrong"] for r in rs)
                out[who] = {"right": share("right"), "wrong": share("wrong"), "flagged": share("flagged"),
                            "wrong_of_flags": round(wrong / flags, 4) if flags else 0.0}  # fmt: skip
                if who == "whence":
                    out[who]["right_top5"] = share("right_top5")
        cells[cell] = out
    return cells


def print_table(cells: dict[str, Any]) -> None:
    def pct(x: float) -> str:
        return f"{100 * x:6.1f}%"

    print("\ncopies and obfuscated variants (whole files): right = the top match names the original;")
    print("wrong = flagged, but the top match is another file; whence right@5 = the original among the top 5")
    print(f"{'set':<12}{'n':>5} | {'whence right':>13}{'right@5':>9}{'wrong':>8}{'flagged':>9} | "
          f"{'baseline right':>15}{'wrong':>8}{'flagged':>9}")  # fmt: skip
    for cell in (*LEVELS, "obfuscated"):
        if cell not in cells:
            continue
        c = cells[cell]
        w, b = c["whence"], c["baseline"]
        mine = f"{pct(w['right']):>13}{pct(w['right_top5']):>9}{pct(w['wrong']):>8}{pct(w['flagged']):>9}"
        theirs = f"{pct(b['right']):>15}{pct(b['wrong']):>8}{pct(b['flagged']):>9}"
        print(f"{cell:<12}{c['n']:>5} | {mine} | {theirs}")
    if "independent" in cells:
        c = cells["independent"]
        w, b = c["whence"], c["baseline"]
        print("\nindependent solutions (negatives): attributed to their task's original / to any original /"
              " flagged at all")  # fmt: skip
        print(f"{'':<12}{'n':>5} | {'own original':>13}{'any orig.':>10}{'flagged':>9} | "
              f"{'own original':>13}{'any orig.':>10}{'flagged':>9}")  # fmt: skip
        print(f"{'independent':<12}{c['n']:>5} | {pct(w['own_original']):>13}{pct(w['any_original']):>10}"
              f"{pct(w['flagged']):>9} | {pct(b['own_original']):>13}{pct(b['any_original']):>10}"
              f"{pct(b['flagged']):>9}")  # fmt: skip


def check(cells: dict[str, Any]) -> bool:
    ok = True
    print()
    for cell, bar in BAR.items():
        if cell in cells:
            val = cells[cell]["whence"]["right"]
            ok &= val >= bar
            print(f"{'PASS' if val >= bar else 'FAIL'} {cell}: right {val:.1%} (target >= {bar:.0%})")
    if "obfuscated" in cells:
        val = cells["obfuscated"]["whence"]["wrong_of_flags"]
        ok &= val <= 0.01
        print(f"{'PASS' if val <= 0.01 else 'FAIL'} obfuscated: {val:.1%} of flags name a wrong program "
              "(target <= 1%)")  # fmt: skip
    if "independent" in cells:
        val = cells["independent"]["whence"]["own_original"]
        ok &= val <= 0.25
        print(f"{'PASS' if val <= 0.25 else 'FAIL'} independent: {val:.1%} attributed to their task's "
              "original (target <= 25%)")  # fmt: skip
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=3, help="copies per original and level")
    ap.add_argument("--variants", type=int, default=12, help="obfuscated variants per original")
    ap.add_argument("--distractors", type=int, default=540, help="real JDK files indexed with the originals")
    ap.add_argument("--tasks", help="comma-separated task names (default: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--index", help="index file to create (default: a temporary one)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="write the cells and every query's result here")
    ap.add_argument("--dump", metavar="DIR", help="write every generated query file here")
    ap.add_argument("--check", action="store_true", help="exit 1 when a cell misses its target")
    args = ap.parse_args()
    t0 = time.perf_counter()
    tasks = load_tasks(args.tasks.split(",") if args.tasks else None)
    originals = [
        CorpusFile(str(sols[0]), f"tasks/{task}", f"{task}/{sols[0].name}", ("NOASSERTION",))
        for task, sols in tasks.items()
    ]
    extra = distractors(args.distractors, args.seed)
    print(f"programs: {len(tasks)} tasks, {len(extra)} distractors, seed {args.seed}", file=sys.stderr)
    tmp = tempfile.TemporaryDirectory(prefix="whence-programs-")
    index = args.index or str(Path(tmp.name) / "index.sqlite")
    if Path(index).exists():
        sys.exit(f"{index} exists: the evaluation needs a fresh index")
    built: Any = corpus.build_index(index, [*originals, *extra], args.workers)
    print(f"index: {built.files} files in {built.seconds:.1f}s", file=sys.stderr)
    store = open_store(index, readonly=True)
    documents = store.count_documents()
    indexed = [*originals, *extra]
    base = Baseline([corpus.read_bytes(f.path).decode("utf-8", "replace") for f in indexed])
    names = [f.repo if f.repo.startswith("tasks/") else f"{f.repo}:{f.relpath}" for f in indexed]

    queries: list[tuple[str, str, str, str]] = []  # (set, task, label, text)
    for ti, (task, sols) in enumerate(tasks.items()):
        text = sols[0].read_text()
        for lv in range(1, 7):
            for c in range(args.copies):
                rng = random.Random(f"{args.seed}/{task}/L{lv}/{c}")
                queries.append((f"L{lv}", task, f"copy{c}", copy_at(text, lv, rng)))
        for v in range(args.variants):
            rng = random.Random(f"{args.seed}/{task}/obf/{v}")
            variant, edits = obfuscate(text, rng)
            queries.append(("obfuscated", task, "+".join(edits), variant))
        for sol in sols[1:]:
            queries.append(("independent", task, sol.name, sol.read_text()))
        print(f"  generated {task} ({ti + 1}/{len(tasks)})", file=sys.stderr)
    records: list[dict[str, Any]] = []
    for i, (cell, task, label, text) in enumerate(queries):
        want = f"tasks/{task}"
        res = search.search(store, text, top=5, documents=documents)
        rec = {"set": cell, "task": task, "label": label, "lines": text.count("\n")}
        rec["whence"] = judge_whence(res, want)
        rec["baseline"] = judge_baseline(base, names, text, want)
        for who in ("whence", "baseline"):
            r = rec[who]
            r["own_original"] = r["flagged"] and r["top"] == want if who == "baseline" else r["right_top5"]
        records.append(rec)
        if args.dump:
            d = Path(args.dump) / cell / task
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{label.replace(':', '-')}-{i}.java").write_text(text)
        if (i + 1) % 50 == 0:
            print(f"  searched {i + 1}/{len(queries)}", file=sys.stderr)
    store.close()
    cells = summarise(records)
    print(f"whence programs: seed={args.seed}, {len(tasks)} originals + {len(extra)} distractors indexed "
          f"({documents} documents), {len(records)} queries; baseline: MinHash-{BASELINE_PERM} of "
          f"{SHINGLE}-token shingles (split on [^A-Za-z_0-9]+), Jaccard >= {BASELINE_THRESHOLD}")  # fmt: skip
    print_table(cells)
    ok = check(cells)
    print(f"\n{time.perf_counter() - t0:.1f}s")
    if args.json:
        settings = {"seed": args.seed, "copies": args.copies, "variants": args.variants,
                    "distractors": len(extra), "tasks": list(tasks), "documents": documents,
                    "baseline": {"num_perm": BASELINE_PERM, "shingle": SHINGLE,
                                 "threshold": BASELINE_THRESHOLD, "tokens": "[^A-Za-z_0-9]+"}}  # fmt: skip
        Path(args.json).write_text(
            json.dumps({"settings": settings, "cells": cells, "queries": records}, indent=1)
        )
        print(f"results: {args.json}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
