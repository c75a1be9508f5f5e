"""Index-build throughput on real code, against a MinHash baseline run in the same process.

whence: ``ingest.build`` into a fresh SQLite index (read -> fingerprint -> committed index) with
``--workers`` threads.  Baseline: BigCode's near-dedup setting -- datasketch ``MinHash(num_perm=256)``
over the set of 5-token shingles (tokens ``\\w+|[^\\w\\s]``, shingles ``" ".join`` of 5 tokens, UTF-8),
``update_batch``, one process, permutations made once.  Both read the same files from disk (the page
cache is warmed first, so neither pays for a cold disk); the baseline may run on a prefix of the files
(``--baseline-files``) and is compared by MB/s.

    python scripts/bench/fingerprint.py [--files 20000] [--baseline-files 3000] [--workers 2]
    python scripts/bench/fingerprint.py --rss-at 10000,100000     # peak RSS of builds of those sizes
    python scripts/bench/fingerprint.py --tokenize [--kernel-before OLD.so]
    python scripts/bench/fingerprint.py --tiny          # what keeping tiny files whole costs

``--tokenize`` times the lexer alone (``fingerprint.tokenize``, one thread) on the same files with the
default syntax profile, with the Python and the C ones, and with each file's own language (from its
path); ``--kernel-before`` also times another build of the compiled kernel (e.g. one built from an
earlier commit, whose ``tokenize`` may not take a syntax profile yet) in the same run, interleaved.

``--tiny`` times ``fingerprint.index_fingerprint`` alone (one thread, each file's own language) as
ingestion runs it, keeping every k-gram of a file under ``TINY_TOKENS`` tokens, and with winnowing
alone (``TINY_TOKENS = 0``), interleaved, best of three passes each; prints both rates and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from whence.index import fingerprint, ingest, lexer
from whence.index.stores import open_store
from whence_dev import corpus
from whence_dev.bench import child_result, peak_rss_mb, rates

TOKEN = re.compile(r"\w+|[^\w\s]")
TARGET_RATIO = 10.0


def warm(files: list[corpus.CorpusFile]) -> int:
    """Read every file once (fills the page cache); returns the bytes read."""
    return sum(len(corpus.read_bytes(f.path)) for f in files)


def run_whence(files: list[corpus.CorpusFile], workers: int, folder: str) -> dict[str, Any]:
    index = Path(folder) / "index.sqlite"
    t0 = time.perf_counter()
    with open_store(index, create=True) as store:
        report = ingest.build(store, corpus.source_files(files), workers=workers)  # type: ignore[arg-type]
        seconds = time.perf_counter() - t0  # build flushes (commits) before it returns
    with open_store(index) as store:  # reopened: the write-ahead log was checkpointed at close
        stats = store.stats()
    return {
        "files": report.files,
        "bytes": report.bytes,
        "seconds": seconds,
        "documents": stats["documents"],
        "skipped": dict(report.skipped),
        "index_bytes": stats["index_bytes"],
        "index_bytes_per_source_byte": stats["index_bytes_per_source_byte"],
        "peak_rss_mb": peak_rss_mb(),
    }


def run_baseline(files: list[corpus.CorpusFile]) -> dict[str, Any]:
    from datasketch import MinHash

    proto = MinHash(num_perm=256)
    perms, scheme = proto.permutations, proto.scheme  # made once, as a dedup pipeline would
    nbytes = 0
    t0 = time.perf_counter()
    for f in files:
        raw = corpus.read_bytes(f.path)
        nbytes += len(raw)
        toks = TOKEN.findall(raw.decode("utf-8", "replace"))
        shingles = {" ".join(toks[i : i + 5]).encode("utf-8") for i in range(max(0, len(toks) - 4))}
        m = MinHash(num_perm=256, permutations=perms, scheme=scheme)
        m.update_batch(shingles)
    return {"files": len(files), "bytes": nbytes, "seconds": time.perf_counter() - t0}


def rss_at(sizes: list[int], args: argparse.Namespace) -> None:
    """One fresh subprocess per size, so that each peak RSS is that build's own."""
    print(f"{'files':>8} {'MB':>8} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12} {'index B/src B':>14}")
    for n in sizes:
        cmd = [
            sys.executable,
            __file__,
            "--files",
            str(n),
            "--whence-only",
            "--json-line",
            "--workers",
            str(args.workers),
        ]
        cmd += ["--seed", str(args.seed)] + [a for e in args.extra_root for a in ("--extra-root", e)]
        r = child_result(cmd)
        if isinstance(r, str):
            print(f"{n:>8} {r}")
            continue
        note = "" if r["files"] >= n else f"  (only {r['files']} files available)"
        mb = r["bytes"] / 1e6
        print(f"{r['files']:>8} {mb:8.1f} {r['seconds']:8.1f} {mb / r['seconds']:7.2f} "
              f"{r['peak_rss_mb']:12.0f} {r['index_bytes_per_source_byte']:14.3f}{note}")  # fmt: skip


def _load_kernel(path: str) -> Any:
    """Another build of the compiled kernel, for an A/B of two builds in one process (a kernel, not
    shared script code: its init function is PyInit__fastfp, hence the name)."""
    loader = importlib.machinery.ExtensionFileLoader("_fastfp", path)
    mod = loader.create_module(importlib.machinery.ModuleSpec("_fastfp", loader, origin=path))
    loader.exec_module(mod)
    return mod


def bench_tokenize(files: list[corpus.CorpusFile], before: str | None, reps: int = 5) -> dict[str, float]:
    """MB/s of tokenize (best of ``reps`` passes, the variants interleaved): every file with the default
    profile, and the files of each common language here with its own profile; with ``before``, the same
    with that build of the kernel (its default rules, and each language's profile when it takes one, on
    the same files)."""
    texts = [(corpus.read_bytes(f.path), lexer.language_for_path(f.relpath)) for f in files]
    groups: dict[str, list[bytes]] = {"all files": [t for t, _ in texts]}
    for lang in ("Python", "C", "Java", "Go", "JavaScript"):
        mine = [t for t, lg in texts if lg == lang]
        if mine:
            groups[lang] = mine
    native = fingerprint._fastfp
    old = _load_kernel(before) if before else None
    old_takes_syntax = True
    if old is not None:
        try:
            old.tokenize(b"", lexer.DEFAULT.encode())
        except TypeError:  # a kernel from before syntax profiles: one rule set for everything
            old_takes_syntax = False
    variants: list[tuple[str, str, Any, bytes]] = []  # (group, label, kernel, syntax)
    for group in groups:
        own = lexer.DEFAULT if group == "all files" else lexer.PROFILES[group]
        variants.append((group, f"{own.name} profile", native, own.encode()))
        if old is not None:
            old_sx = lexer.DEFAULT.encode() if old_takes_syntax else b""
            variants.append((group, "before (default)", old, old_sx))
            if old_takes_syntax and own is not lexer.DEFAULT:  # the same profile (flags it lacks: ignored)
                variants.append((group, f"before ({own.name})", old, own.encode()))
    best = [float("inf")] * len(variants)
    for _ in range(reps):
        for v, (group, _label, kernel, sx) in enumerate(variants):
            data = groups[group]
            t0 = time.perf_counter()
            if sx:
                for text in data:
                    kernel.tokenize(text, sx)
            else:
                for text in data:
                    kernel.tokenize(text)
            best[v] = min(best[v], time.perf_counter() - t0)
    print(f"tokenize, 1 thread, best of {reps}:")
    out: dict[str, float] = {}
    for v, (group, label, _kernel, _sx) in enumerate(variants):
        mb = sum(len(t) for t in groups[group]) / 1e6
        out[f"{group}: {label}"] = mbps = mb / best[v]
        print(f"  {group:<10} ({len(groups[group]):>5} files, {mb:6.1f} MB) {label:<20} {mbps:8.1f} MB/s")
    return out


def bench_tiny(files: list[corpus.CorpusFile], reps: int = 3) -> dict[str, float]:
    """MB/s of index_fingerprint with tiny files kept whole and with winnowing alone (best of ``reps``
    passes, interleaved), and the time ratio."""
    data = [(corpus.read_bytes(f.path), lexer.language_for_path(f.relpath)) for f in files]
    mb = sum(len(d) for d, _ in data) / 1e6
    kept = fingerprint.TINY_TOKENS
    best = {kept: math.inf, 0: math.inf}
    try:
        for _ in range(reps):
            for tiny in (0, kept):
                fingerprint.TINY_TOKENS = tiny
                t = time.perf_counter()
                for d, lang in data:
                    fingerprint.index_fingerprint(d, lang)
                best[tiny] = min(best[tiny], time.perf_counter() - t)
    finally:
        fingerprint.TINY_TOKENS = kept
    tiny = sum(1 for d, lang in data if fingerprint.K <= len(fingerprint.tokenize(d, lang)) < kept)
    out = {"winnowed MB/s": mb / best[0], "tiny kept MB/s": mb / best[kept]}
    out["time ratio"] = best[kept] / best[0]
    print(f"index_fingerprint, 1 thread, best of {reps}, {len(data)} files ({mb:.1f} MB, {tiny} under {kept} "
          f"tokens): winnowing alone {out['winnowed MB/s']:.1f} MB/s, tiny files kept whole "
          f"{out['tiny kept MB/s']:.1f} MB/s; time x{out['time ratio']:.3f}")  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--baseline-files", type=int, default=3_000, help="files for the baseline (a prefix)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="corpus shuffle (a mix of every root)")
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR")
    ap.add_argument("--rss-at", metavar="N,N,...", help="peak RSS of builds of these sizes (subprocesses)")
    ap.add_argument("--whence-only", action="store_true", help="skip the baseline")
    ap.add_argument("--json-line", action="store_true", help="also print the results as one JSON line")
    ap.add_argument("--tokenize", action="store_true", help="time the lexer alone, per syntax profile")
    ap.add_argument("--kernel-before", metavar="SO", help="with --tokenize: also time this kernel build")
    ap.add_argument("--tiny", action="store_true", help="what keeping tiny files' every k-gram costs")
    args = ap.parse_args()
    print(f"whence bench_fingerprint: native kernel={fingerprint.has_native()} workers={args.workers} "
          f"cpus={os.cpu_count()} python={sys.version.split()[0]}")  # fmt: skip
    if args.rss_at:
        rss_at([int(x) for x in args.rss_at.split(",")], args)
        return 0
    files = corpus.gather(seed=args.seed, extra=args.extra_root, limit=args.files)
    if len(files) < args.files:
        print(f"WARNING: only {len(files)} corpus files available (asked for {args.files})")
    if args.tokenize:
        if not fingerprint.has_native():
            print("--tokenize needs the compiled kernel")
            return 1
        rates_ = bench_tokenize(files, args.kernel_before)
        if args.json_line:
            print(json.dumps(rates_))
        return 0
    if args.tiny:
        rates_ = bench_tiny(files)
        if args.json_line:
            print(json.dumps(rates_))
        return 0
    t0 = time.perf_counter()
    warmed = warm(files)
    print(f"page cache warmed: {len(files)} files, {warmed / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s")
    result: dict[str, Any] = {"native": fingerprint.has_native()}
    with tempfile.TemporaryDirectory(prefix="whence-bench-") as tmp:
        w = result["whence"] = run_whence(files, args.workers, tmp)
    print(f"whence   (build, {args.workers} workers): {rates(w)}")
    print(f"  {w['documents']} documents (skipped: {w['skipped'] or 'none'}); "
          f"index {w['index_bytes'] / 1e6:.1f} MB = {w['index_bytes_per_source_byte']} B per source B; "
          f"peak RSS {w['peak_rss_mb']:.0f} MB")  # fmt: skip
    ok = True
    if not args.whence_only:
        subset = files[: args.baseline_files]
        b = result["baseline"] = run_baseline(subset)
        print(f"baseline (MinHash-256, 5-gram, 1 process): {rates(b)}  (the first {len(subset)} files)")
        with tempfile.TemporaryDirectory(prefix="whence-bench-") as tmp:
            ws = run_whence(subset, args.workers, tmp)
        print(f"whence on the baseline's files:            {rates(ws)}")
        mbps = lambda r: r["bytes"] / max(r["seconds"], 1e-9)  # noqa: E731
        ratio = result["ratio"] = mbps(w) / mbps(b)
        same = result["ratio_same_files"] = mbps(ws) / mbps(b)
        ok = ratio >= TARGET_RATIO
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict} whence ({len(files)} files) / baseline ({len(subset)} files) MB/s = {ratio:.1f}x "
              f"(target >= {TARGET_RATIO:.0f}x); on the same {len(subset)} files: {same:.1f}x")  # fmt: skip
    if args.json_line:
        print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
