"""Index-build throughput of two versions of whence in the same run: this checkout against an earlier commit.

Issue 14's bar asks that ``scripts/bench/fingerprint.py``'s build throughput stays within 10 % of the
code before the issue, measured in the same run.  Builds minutes apart on a shared machine differ by
more than that, so this script alternates the two versions build by build:

1. The corpus's first ``--files`` files (``whence_dev.corpus.gather``, this checkout's) are listed once
   and read once (the page cache warmed), so both versions build from the same files.
2. ``--before REV`` is checked out into a temporary git worktree with its own compiled kernel
   (``search_compare.worktree``).  Each build runs in a fresh process that imports ``whence`` from its
   own tree (``search_compare.LOADER``) and runs ``ingest.build`` into a new SQLite index with
   ``--workers`` threads, as ``fingerprint.py`` times it (read -> fingerprint -> committed, merged
   index).
3. ``--pairs`` pairs of builds, before then after; the medians of each side's MB/s are compared.

Prints every build's MB/s, the medians and their ratio after/before.  Exit 0; with ``--check``, 1 when
the after median is more than ``--budget`` (10 %) below the before one.

    python scripts/bench/build_compare.py --before a76ba67 [--files 20000] [--pairs 5] [--workers 2]
        [--check] [--budget 0.10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from search_compare import LOADER, ROOT, remove_worktree, short_rev, worktree

from whence_dev import corpus

# The child: builds the listed files into a new index under its work folder and prints the build's
# seconds, bytes and files as one JSON line (the parent removes the index).
CHILD = (
    LOADER
    + r"""
work, workers = Path(sys.argv[2]), int(sys.argv[3])
from whence.index import ingest
from whence.index.stores import open_store
import whence_dev.corpus as corpus
for m in (ingest, corpus):
    assert Path(m.__file__).resolve().is_relative_to(root.resolve()), m.__file__
listed = json.loads((work / "files.json").read_text())
files = [corpus.CorpusFile(f[0], f[1], f[2], tuple(f[3])) for f in listed]
index = work / "index.sqlite"
t0 = time.perf_counter()
with open_store(index, create=True) as store:
    report = ingest.build(store, corpus.source_files(files), workers=workers)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "bytes": report.bytes, "files": report.files}), flush=True)
"""
)


def build(root: Path, work: Path, workers: int) -> dict[str, float]:
    """One build by the version at ``root``, in a process of its own (its index removed after)."""
    cmd = [sys.executable, "-c", CHILD, str(root), str(work), str(workers)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    for leftover in work.glob("index.sqlite*"):
        leftover.unlink()
    if out.returncode != 0:
        raise SystemExit(
            f"build_compare: the build by {root} failed ({out.returncode}):\n{out.stderr[-3000:]}"
        )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--files", type=int, default=20_000, help="corpus files to build from")
    ap.add_argument("--pairs", type=int, default=5, help="builds of each version, alternated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=0.10, help="allowed slowdown of the median (0.10: 10 %%)")
    ap.add_argument("--check", action="store_true", help="exit 1 when over the budget")
    args = ap.parse_args()
    if args.pairs < 1 or args.files < 1 or args.workers < 1:
        ap.error("--pairs, --files and --workers must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="whence-build-compare-"))
    tree: Path | None = None
    try:
        files = corpus.gather(seed=args.seed)[: args.files]
        if len(files) < args.files:
            print(f"WARNING: only {len(files)} corpus files here (add files: scripts/corpus/survey.py)")
        work = tmp / "work"
        work.mkdir()
        (work / "files.json").write_text(json.dumps([list(f) for f in files]))
        size = sum(len(corpus.read_bytes(f.path)) for f in files)  # and the page cache is warm
        rev = short_rev(args.before)
        print(f"whence build_compare: before {rev}, after this checkout; {len(files)} files, "
              f"{size / 1e6:.1f} MB, {args.workers} workers, {args.pairs} pairs alternated; "
              f"cpus {os.cpu_count()}", flush=True)  # fmt: skip
        tree = worktree(args.before, tmp / "before")
        rates: dict[str, list[float]] = {"before": [], "after": []}
        for i in range(args.pairs):
            for name, root in (("before", tree), ("after", ROOT)):
                got = build(root, work, args.workers)
                rates[name].append(got["bytes"] / got["seconds"] / 1e6)
            print(f"  pair {i + 1}: before {rates['before'][-1]:6.1f} MB/s, after {rates['after'][-1]:6.1f} "
                  f"MB/s (load average {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
        before, after = statistics.median(rates["before"]), statistics.median(rates["after"])
        ratio = after / before
        print(f"median: before {before:.1f} MB/s, after {after:.1f} MB/s, after/before {ratio:.2f}")
        good = ratio >= 1 - args.budget
        print(
            f"{'PASS' if good else 'FAIL'} build MB/s after/before {ratio:.2f} (budget {1 - args.budget:.2f})"
        )
        return 0 if good or not args.check else 1
    finally:
        remove_worktree(tree)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
