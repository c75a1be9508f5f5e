"""`whence scan` of a 10,000-file repository against a 100,000-file index, against a 60 s target.

The index holds ``--files`` real corpus files (``whence_dev.corpus``) *outside* the family the repository is
made from; it is built here (with a progress bar) unless ``--index PATH`` exists already.  The
repository is a real git repository in a temporary folder: ``--repo-files`` files of real code from one
corpus family (default ``go/stdlib``, Go's own source tree, not indexed), of which ``--copies`` carry
code taken from indexed files -- whole files, fragments pasted into a file of the repository, and
re-indented copies -- plus a gitignored file and a vendored folder that the scan must skip.

It then runs the real command, ``whence scan REPO --index INDEX --format json`` (its progress bar shows
on a terminal), times it, checks that it found the copies, and compares with the naive way -- one
``search.search()`` per file, timed on a sample in this process and scaled to the repository.

    python scripts/bench/scan.py [--index PATH] [--files 100000] [--repo-files 10000] [--extra-root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import xxhash

from whence.index import ingest, search
from whence.index.stores import open_store
from whence.scan.files import SKIP_DIRS, VENDORED_DIRS, is_generated
from whence_dev import corpus

TARGET_S = 60.0
#: Share of what per-file search() finds that the scan must find too.
PARITY = 0.98


def build_index(index: Path, files: list[corpus.CorpusFile], workers: int) -> None:
    """Index ``files`` with a progress bar (on a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    t0 = time.perf_counter()
    bar = Progress(
        TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[mb]:.0f} MB"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty(),
    )  # fmt: skip
    with bar, open_store(index, create=True) as store:
        task = bar.add_task("build", total=len(files), mb=0.0)

        def update(report: Any) -> None:
            bar.update(task, completed=report.files + sum(report.skipped.values()), mb=report.bytes / 1e6)

        rep = ingest.build(store, corpus.source_files(files), workers=workers, progress=update)  # type: ignore[arg-type]
    dt = time.perf_counter() - t0
    print(
        f"built {index}: {rep.files} files, {rep.bytes / 1e6:.0f} MB in {dt:.0f}s; "
        f"skipped {dict(rep.skipped)}"
    )


def make_repo(
    root: Path, own: list[corpus.CorpusFile], donors: list[corpus.CorpusFile], n: int, copies: int, seed: int
) -> dict[str, str]:
    """Write the repository; returns {path of each planted copy: how it was planted}."""
    rng = random.Random(seed)
    planted: dict[str, str] = {}
    written: list[corpus.CorpusFile] = []
    for f in own:
        if len(written) >= n - copies:
            break
        dst = root / f.repo / f.relpath
        if dst.exists():  # the same path reached through two roots
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(corpus.read_bytes(f.path))
        written.append(f)
    own = written
    kinds = ("whole file", "pasted fragment", "re-indented copy")
    made = 0
    tries = 0
    while made < copies and tries < copies * 20:
        tries += 1
        donor = rng.choice(donors)
        raw = corpus.read_bytes(donor.path)
        if ingest.check_text(raw) or is_generated(donor.relpath.rsplit("/", 1)[-1], raw):
            continue  # the scan skips generated files: a copy of one would not be read
        lines = raw.decode("utf-8").splitlines()
        if len(lines) < 60:
            continue
        kind = kinds[made % 3]
        ext = os.path.splitext(donor.path)[1]
        name = f"copied/{made:04d}{ext}"
        if kind == "whole file":
            body = raw.decode("utf-8")
        elif kind == "pasted fragment":
            host = corpus.read_bytes(rng.choice(own).path).decode("utf-8", "replace")
            start = rng.randrange(len(lines) - 40)
            frag = "\n".join(lines[start : start + rng.randint(25, 40)])
            body = host.rstrip("\n") + "\n\n" + frag + "\n"
        else:
            start = rng.randrange(len(lines) - 50)
            frag = lines[start : start + 50]
            body = "\n".join("\t" + x.strip() for x in frag if x.strip()) + "\n"
        dst = root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(body, encoding="utf-8")
        planted[name] = kind
        made += 1
    # What the scan must leave out: a gitignored file and a vendored folder (not counted in n).
    (root / ".gitignore").write_text("*.log\n")
    (root / "debug.log").write_bytes(corpus.read_bytes(donors[0].path))
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_bytes(corpus.read_bytes(donors[1].path))
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench repository"], check=True)
    return planted


def scannable(f: corpus.CorpusFile) -> bool:
    """Whether ``whence scan`` reads this file by default (not vendored, not generated, text)."""
    if any(part in VENDORED_DIRS or part in SKIP_DIRS for part in f.relpath.split("/")[:-1]):
        return False
    raw = corpus.read_bytes(f.path)
    return not ingest.check_text(raw) and not is_generated(f.relpath.rsplit("/", 1)[-1], raw)


def whence_cmd() -> list[str]:
    """The `whence` of this Python's environment (another one may come first on PATH)."""
    exe = Path(sys.executable).with_name("whence")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("whence")
    return [found] if found else [sys.executable, "-c", "from whence.cli import main; main()"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--index", type=Path, help="index to reuse when it exists, else to build (default: temporary)"
    )
    ap.add_argument("--files", type=int, default=100_000, help="files to index")
    ap.add_argument("--repo-files", type=int, default=10_000)
    ap.add_argument(
        "--repo-family",
        action="append",
        default=[],
        help="corpus family the repository is made from, not indexed (default: golang, perl, py/sympy)",
    )
    ap.add_argument(
        "--copies", type=int, default=300, help="repository files carrying code from indexed files"
    )
    ap.add_argument(
        "--baseline-files", type=int, default=200, help="files searched one by one, for the baseline"
    )
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR")
    ap.add_argument("--workers", type=int, default=2, help="threads for building the index")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--keep", type=Path, help="write the repository and the report here (a new folder) and keep them"
    )
    args = ap.parse_args()
    print(f"whence bench_scan: python={sys.version.split()[0]} cpus={os.cpu_count()} "
          f"load average {os.getloadavg()[0]:.1f} (other work here slows the scan down)")  # fmt: skip
    allfiles = corpus.gather(seed=args.seed, extra=args.extra_root)
    families = set(args.repo_family or ["golang", "perl", "py/sympy"])
    own_all = [f for f in allfiles if f.family in families]
    others = [f for f in allfiles if f.family not in families]
    indexed = others[: args.files]
    # The repository's files are ones the scan reads: not in vendored folders, not generated (those
    # are skipped, and a repository of 10,000 files should mean 10,000 files scanned).
    own = [f for f in own_all if scannable(f)]
    need_own = args.repo_files - args.copies
    if len(indexed) < args.files or len(own) < need_own:
        print(f"WARNING: the corpus is too small: indexing {len(indexed)} files, repository of "
              f"{len(own) + args.copies} (add files with --extra-root DIR, see corpus.py)")  # fmt: skip
    tmp = tempfile.TemporaryDirectory(prefix="whence-bench-scan-")
    index = args.index or Path(tmp.name) / "index.sqlite"
    if index.exists():
        print(
            f"reusing {index} (it should hold the first {args.files} corpus files outside "
            f"{', '.join(sorted(families))})"
        )
    else:
        build_index(index, indexed, args.workers)
    with open_store(index, readonly=True) as store:
        st = store.stats()
    print(
        f"index: {st['documents']} documents, {st['occurrences']} occurrences, "
        f"{st['fingerprints']} fingerprints"
    )

    # The corpus on this machine may have grown since a reused index was built: plant copies only of
    # files whose content the index holds, and make the repository of files it does not hold.
    rng = random.Random(args.seed + 3)
    donors = rng.sample(indexed, min(4000, len(indexed)))
    with open_store(index, readonly=True) as store:
        held_d = store.known(xxhash.xxh3_128_digest(corpus.read_bytes(f.path)) for f in donors)
        donors = [f for f in donors if xxhash.xxh3_128_digest(corpus.read_bytes(f.path)) in held_d]
        held_o = store.known(xxhash.xxh3_128_digest(corpus.read_bytes(f.path)) for f in own)
        own = [f for f in own if xxhash.xxh3_128_digest(corpus.read_bytes(f.path)) not in held_o]
    print(f"{len(donors)} of 4000 sampled corpus files are in the index (the donors of planted copies)")
    repo = args.keep or Path(tmp.name) / "repo"
    repo.mkdir(parents=True)
    t0 = time.perf_counter()
    planted = make_repo(repo, own, donors, args.repo_files, args.copies, args.seed)
    nfiles = sum(
        1 for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts and "node_modules" not in p.parts
    )
    print(f"repository: {nfiles - 2 - len(planted)} files of {', '.join(sorted(families))} + "
          f"{len(planted)} "
          f"planted copies (+ a gitignored file, node_modules/) in "
          f"{time.perf_counter() - t0:.0f}s")  # fmt: skip

    out = (args.keep or Path(tmp.name)) / ".." / "scan.json" if args.keep else Path(tmp.name) / "scan.json"
    cmd = [*whence_cmd(), "scan", str(repo), "--index", str(index), "--format", "json", "-o", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        print(f"FAIL `whence scan` exited {proc.returncode}")
        return 1
    rep = json.loads(out.read_text())
    flagged = {f["path"] for f in rep["findings"]}
    found = {p for p in planted if p in flagged}
    kinds = list(planted.values())
    by_kind = {k: (sum(1 for p, v in planted.items() if v == k and p in found), kinds.count(k))
               for k in sorted(set(planted.values()))}  # fmt: skip
    other = len(flagged - set(planted))
    print(f"\n`whence scan` of {rep['files']['scanned']} files (skipped {rep['files']['skipped']}): exit "
          f"{proc.returncode}, {rep['summary']['findings']} findings in {len(flagged)} files")  # fmt: skip
    print(f"  planted copies found: {len(found)}/{len(planted)} "
          + ", ".join(f"{k} {a}/{b}" for k, (a, b) in by_kind.items()))  # fmt: skip
    print(f"  repository files (not planted) with findings: {other} (code shared with indexed files is real)")
    print(f"  skipped the gitignored file: {'debug.log' not in flagged}; node_modules: "
          f"{not any(p.startswith('node_modules') for p in flagged)}")  # fmt: skip

    # Baseline: the naive scan, one search() per file (as `whence search` does), on a sample.
    rng = random.Random(args.seed + 7)
    files = [
        p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts and "node_modules" not in p.parts
    ]
    sample = rng.sample(files, min(args.baseline_files, len(files)))
    with open_store(index, readonly=True) as store:
        docs = store.count_documents()
        t1 = time.perf_counter()
        for p in sample:
            raw = p.read_bytes()
            if not ingest.check_text(raw):
                search.search(store, raw, documents=docs)
        per_file = (time.perf_counter() - t1) / len(sample)
    naive = per_file * len(files)
    print(f"\nbaseline, one search() per file in this process: {1000 * per_file:.1f} ms/file over "
          f"{len(sample)} "
          f"sampled files -> {naive:.0f}s for {len(files)} files; `whence scan` {wall:.1f}s: "
          f"{naive / wall:.1f}x faster")  # fmt: skip
    # What one search() per planted file finds: the scan should find the same copies.
    with open_store(index, readonly=True) as store:
        findable = {p for p in planted if search.search(store, (repo / p).read_bytes()).verdict != "none"}
    parity = len(found & findable) / max(1, len(findable))
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    ok = wall <= TARGET_S and parity >= PARITY
    print(f"{'PASS' if wall <= TARGET_S else 'FAIL'} scan of {rep['files']['scanned']} files against "
          f"{st['documents']} indexed documents: {wall:.1f}s (target <= {TARGET_S:.0f}s)")  # fmt: skip
    print(f"{'PASS' if parity >= PARITY else 'FAIL'} planted copies that search() finds one by one "
          f"({len(findable)}/{len(planted)}) found by the scan: {parity:.1%} "
          f"(target >= {PARITY:.0%})")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
