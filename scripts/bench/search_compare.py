"""Search latency of two versions of whence in the same run: this checkout against an earlier commit.

Issue 14's bar asks that search stays within 10 % of its latency before the issue's changes, measured
in the same run.  Two runs of ``search.py`` minutes apart on a shared machine differ by more than that,
so this script measures both versions side by side:

1. The corpus split and the snippets come from this checkout (``whence_dev.bench``: ``--files`` files
   indexed, 200 held back; 10-40-line snippets, four fifths from indexed files), written once, so both
   versions index the same files and answer the same queries.
2. ``--before REV`` is checked out into a temporary git worktree and its compiled kernel built there
   (``setup.py build_ext --inplace``).  Each version then runs in its own process that imports
   ``whence`` from its own tree (the packages mapped as its ``pyproject.toml`` maps them) and builds
   its own index of the files (``--index-before`` / ``--index-after``: reused when they exist), each
   with its own lexer -- an index is part of what a version is.
3. The two processes answer every query in turn, ``--rounds`` passes each, alternated (before, after,
   before, ...), after ``--warmup`` queries each.  Per query, the fastest of its passes counts (what
   the machine's other work added is the noise a minimum removes best).  Wall and CPU time (the
   searching thread's) are both reported: CPU time is what a loaded machine disturbs least.

Prints p50/p95/p99/mean of each and the ratios after/before, and how many queries got the same verdict.
Exit 0; with ``--check``, 1 when after's p50 or p99 is more than ``--budget`` (10 %) above before's.

    python scripts/bench/search_compare.py --before a76ba67 [--files 100000] [--queries 500]
        [--rounds 3] [--index-before PATH] [--index-after PATH] [--json OUT] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from whence_dev.bench import pct, snippets, split_corpus

ROOT = Path(__file__).resolve().parents[2]

# A child's first lines: whence and whence_dev are imported from the tree named by its first argument (its
# pyproject's package-dir), not from the installed checkout (build_compare.py's children use it too).
LOADER = r"""
import importlib.machinery, importlib.util, json, sys, time, tomllib
from pathlib import Path
root = Path(sys.argv[1])
dirs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
dirs["whence_dev"] = "scripts/devtools/whence_dev"

class Finder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name in dirs:
            where = root / dirs[name]
            return importlib.util.spec_from_file_location(
                name, where / "__init__.py", submodule_search_locations=[str(where)])
        return None

sys.meta_path.insert(0, Finder)
for mod in [m for m in sys.modules if m.split(".")[0] in ("whence", "whence_dev")]:
    del sys.modules[mod]
"""

# The child: builds its index if missing, then answers "pass" commands on stdin with one JSON line of
# per-query timings and verdicts.
CHILD = (
    LOADER
    + r"""
index, work = sys.argv[2], Path(sys.argv[3])
from whence.index import search
from whence.index.stores import open_store
import whence_dev.corpus as corpus
for m in (search, corpus):
    assert Path(m.__file__).resolve().is_relative_to(root.resolve()), m.__file__
if not Path(index).exists():
    listed = json.loads((work / "files.json").read_text())
    files = [corpus.CorpusFile(f[0], f[1], f[2], tuple(f[3])) for f in listed]
    t0 = time.perf_counter()
    corpus.build_index(index, files, 2)
    print(f"built {index} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
store = open_store(index, readonly=True)
warm, queries = json.loads((work / "queries.json").read_text())
for text in warm:
    search.search(store, text, top=5)
print(json.dumps({"ready": store.count_documents()}), flush=True)
for line in sys.stdin:
    if line.strip() != "pass":
        break
    out = []
    for text in queries:
        c0, t0 = time.thread_time(), time.perf_counter()
        res = search.search(store, text, top=5)
        out.append((1000 * (time.perf_counter() - t0), 1000 * (time.thread_time() - c0), res.verdict))
    print(json.dumps(out), flush=True)
"""
)


class Side:
    """One version's searching process."""

    def __init__(self, name: str, root: Path, index: Path, work: Path) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), str(index), str(work)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.documents = self._read()["ready"]
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.verdicts: list[str] = []

    def _read(self) -> Any:
        out: IO[str] | None = self.proc.stdout
        line = out.readline() if out is not None else ""
        if not line:
            raise SystemExit(f"search_compare: the {self.name} process exited ({self.proc.wait()})")
        return json.loads(line)

    def run_pass(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("pass\n")
        self.proc.stdin.flush()
        got = self._read()
        if not self.wall:
            self.wall, self.cpu = [w for w, _, _ in got], [c for _, c, _ in got]
        else:
            self.wall = [min(a, w) for a, (w, _, _) in zip(self.wall, got, strict=True)]
            self.cpu = [min(a, c) for a, (_, c, _) in zip(self.cpu, got, strict=True)]
        self.verdicts = [v for _, _, v in got]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def worktree(rev: str, where: Path) -> Path:
    """``rev`` checked out (detached) at ``where``, with its compiled kernel built."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), rev], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=where, check=True,
                   capture_output=True)  # fmt: skip
    return where


def remove_worktree(tree: Path | None) -> None:
    """Remove a :func:`worktree` (None: none was made), whatever state it is in."""
    if tree is not None:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False,
                       capture_output=True)  # fmt: skip


def short_rev(rev: str) -> str:
    """``rev``'s abbreviated commit id (git fails here, with its message, on an unknown revision)."""
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def stats(xs: list[float]) -> list[float]:
    return [pct(xs, 50), pct(xs, 95), pct(xs, 99), statistics.fmean(xs)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index-before", help="the earlier version's index (built when missing)")
    ap.add_argument("--index-after", help="this checkout's index (built when missing)")
    ap.add_argument(
        "--budget", type=float, default=0.10, help="allowed slowdown of p50 and p99 (0.10: 10 %%)"
    )
    ap.add_argument("--check", action="store_true", help="exit 1 when over the budget")
    ap.add_argument("--json", help="write every query's times and verdicts on both sides to this file")
    args = ap.parse_args()
    if args.rounds < 1 or args.queries < 1:
        ap.error("--rounds and --queries must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="whence-search-compare-"))
    tree: Path | None = None
    sides: list[Side] = []
    try:
        indexed, held_back = split_corpus(args.files, args.seed, [])
        rng = random.Random(args.seed + 1)
        n_outside = max(1, (args.queries + args.warmup) // 5)
        wanted = [(held_back, n_outside, False), (indexed, args.queries + args.warmup - n_outside, True)]
        texts = [text for _, text in snippets(rng, wanted)]
        (tmp / "files.json").write_text(json.dumps([list(f) for f in indexed]))
        (tmp / "queries.json").write_text(json.dumps([texts[: args.warmup], texts[args.warmup :]]))
        rev = short_rev(args.before)
        print(f"whence search_compare: before {rev}, after this checkout; {len(indexed)} files indexed, "
              f"{len(texts) - args.warmup} queries, {args.rounds} rounds alternated; "
              f"cpus {os.cpu_count()}")  # fmt: skip
        tree = worktree(args.before, tmp / "before")
        before_index = Path(args.index_before or tmp / "before.sqlite")
        after_index = Path(args.index_after or tmp / "after.sqlite")
        sides = [Side("before", tree, before_index, tmp), Side("after", ROOT, after_index, tmp)]
        for s, index in zip(sides, (before_index, after_index), strict=True):
            print(f"  {s.name}: {index} ({s.documents} documents)")
        for r in range(args.rounds):
            for s in sides:
                s.run_pass()
            print(
                f"  round {r + 1} of {args.rounds} done (load average {os.getloadavg()[0]:.1f})", flush=True
            )
        before, after = sides
        head = " ".join(f"{x:>8}" for x in ("p50", "p95", "p99", "mean"))
        print(f"\n{'':>14} {head}  (ms, fastest of {args.rounds} per query)")
        for label, attr in (("wall", "wall"), ("cpu", "cpu")):
            b, a = stats(getattr(before, attr)), stats(getattr(after, attr))
            print(f"{label + ' before':>14} " + " ".join(f"{x:8.2f}" for x in b))
            print(f"{label + ' after':>14} " + " ".join(f"{x:8.2f}" for x in a))
            print(f"{label + ' ratio':>14} " + " ".join(f"{y / x:8.2f}" for x, y in zip(b, a, strict=True)))
        if args.json:
            Path(args.json).write_text(json.dumps({
                "revision": rev, "queries": texts[args.warmup :],
                **{s.name: {"wall": s.wall, "cpu": s.cpu, "verdicts": s.verdicts} for s in sides},
            }))  # fmt: skip
        same = sum(x == y for x, y in zip(before.verdicts, after.verdicts, strict=True))
        print(f"same verdict on {same} of {len(before.verdicts)} queries")
        ok = True
        for name, p in (("p50", 50), ("p99", 99)):
            ratio = pct(after.wall, p) / pct(before.wall, p)
            good = ratio <= 1 + args.budget
            ok &= good
            verdict = "PASS" if good else "FAIL"
            print(f"{verdict} wall {name} after/before {ratio:.2f} (budget {1 + args.budget:.2f})")
        return 0 if ok or not args.check else 1
    finally:
        for s in sides:
            s.close()
        remove_worktree(tree)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
