"""Shard-ingestion throughput and memory on the real local corpus, against a baseline in the same process.

Input: a corpus written by ``scripts/corpus/build.py`` (parquet shards + a gzip blob folder).

whence: ``ingest.build`` of the shards into a fresh SQLite index -- parquet rows, blob fetch + gunzip,
decode, fingerprint, commit -- with ``--workers`` threads; every license type is kept (``all``) and
vendored/generated/oversized rows are skipped as a default build does.  Baseline: the core issue's
pipeline, datasketch ``MinHash(num_perm=256)`` over 5-token shingles (BigCode's near-dedup setting),
fed the same way -- the same parquet rows read with pyarrow, the same blobs fetched and gunzipped --
one process.  The page cache is warmed first; throughput is compared in MB/s of source read.

    python scripts/bench/ingest.py --corpus data/stack [--files 20000] [--baseline-files 3000]
    python scripts/bench/ingest.py --corpus data/stack --rss-at 10000,100000
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from whence.index import ingest, stackv2
from whence.index.blobs import LocalBlobs
from whence.index.stores import open_store
from whence_dev.bench import child_result, peak_rss_mb, rates

TOKEN = re.compile(r"\w+|[^\w\s]")
TARGET_RATIO = 10.0


def rss_mb() -> float:
    """Current resident set size (Linux)."""
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) / 1024 for x in fh if x.startswith("VmRSS:"))


def shards_of(corpus: Path) -> list[Path]:
    shards = sorted((corpus / "shards").glob("*.parquet"))
    if not shards:
        raise SystemExit(f"no shards in {corpus}/shards: run scripts/corpus/build.py --out {corpus} first")
    return shards


def warm(corpus: Path) -> int:
    """Read every blob once (fills the page cache); returns the bytes read."""
    return sum(len(p.read_bytes()) for p in (corpus / "blobs" / "content").iterdir())


def run_whence(corpus: Path, files: int | None, workers: int, folder: str) -> dict[str, Any]:
    index = Path(folder) / "index.sqlite"
    blobs = LocalBlobs(corpus / "blobs")
    curve: dict[int, float] = {}  # RSS every 10,000 rows: flat once the page cache and buffers are full

    def sample(report: ingest.BuildReport) -> None:
        if report.files // 10_000 > len(curve):
            curve[report.files // 10_000 * 10_000] = rss_mb()

    t0 = time.perf_counter()
    with open_store(index, create=True) as store:
        src = ingest.sources([str(p) for p in shards_of(corpus)], license_type="all", blobs=blobs)
        report = ingest.build(store, itertools.islice(src, files), workers=workers, progress=sample)
        seconds = time.perf_counter() - t0
    with open_store(index) as store:
        stats = store.stats()
    return {
        "files": report.files,
        "bytes": report.bytes,
        "seconds": seconds,
        "documents": stats["documents"],
        "skipped": dict(report.skipped),
        "index_bytes_per_source_byte": stats["index_bytes_per_source_byte"],
        "peak_rss_mb": peak_rss_mb(),
        "rss_mb_by_rows": curve,
    }


def run_baseline(corpus: Path, files: int) -> dict[str, Any]:
    """The datasketch pipeline over the first ``files`` rows a default build would fingerprint."""
    from datasketch import MinHash

    blobs = LocalBlobs(corpus / "blobs")
    proto = MinHash(num_perm=256)
    perms, scheme = proto.permutations, proto.scheme
    done = nbytes = 0
    t0 = time.perf_counter()
    for shard in map(stackv2.check_shard, shards_of(corpus)):
        for row in stackv2.rows(shard):
            if done >= files:
                break
            if row.is_vendor or row.is_generated or row.length_bytes > ingest.DEFAULT_MAX_BYTES:
                continue
            raw = blobs.get(row.blob_id)
            nbytes += len(raw)
            done += 1
            text = raw.decode(row.encoding or "utf-8", "replace")
            toks = TOKEN.findall(text)
            shingles = {" ".join(toks[i : i + 5]).encode("utf-8") for i in range(max(0, len(toks) - 4))}
            m = MinHash(num_perm=256, permutations=perms, scheme=scheme)
            m.update_batch(shingles)
    return {"files": done, "bytes": nbytes, "seconds": time.perf_counter() - t0}


def rss_at(sizes: list[int], args: argparse.Namespace) -> None:
    """One fresh subprocess per size, so that each peak RSS is that build's own."""
    print(f"{'rows':>8} {'MB':>8} {'seconds':>8} {'files/s':>8} {'MB/s':>7} {'peak RSS MB':>12}")
    for n in sizes:
        cmd = [sys.executable, __file__, "--corpus", str(args.corpus), "--files", str(n), "--whence-only",
               "--json-line", "--workers", str(args.workers)]  # fmt: skip
        r = child_result(cmd)
        if isinstance(r, str):
            print(f"{n:>8} {r}")
            continue
        note = "" if r["files"] >= n else f"  (only {r['files']} rows in the corpus)"
        mb = r["bytes"] / 1e6
        print(f"{r['files']:>8} {mb:8.1f} {r['seconds']:8.1f} {r['files'] / r['seconds']:8.0f} "
              f"{mb / r['seconds']:7.2f} {r['peak_rss_mb']:12.0f}{note}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--corpus", type=Path, default=Path("data/stack"), help="output of scripts/corpus/build.py"
    )
    ap.add_argument("--files", type=int, default=None, help="first N rows (default: all)")
    ap.add_argument("--baseline-files", type=int, default=3_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rss-at", metavar="N,N,...", help="peak RSS of builds of these sizes (subprocesses)")
    ap.add_argument("--whence-only", action="store_true")
    ap.add_argument("--json-line", action="store_true")
    args = ap.parse_args()
    shards = shards_of(args.corpus)
    rows = sum(stackv2.check_shard(p).rows for p in shards)
    print(f"whence bench_ingest: {len(shards)} shards, {rows} rows in {args.corpus}; workers={args.workers}")
    if args.rss_at:
        rss_at([int(x) for x in args.rss_at.split(",")], args)
        return 0
    t0 = time.perf_counter()
    warmed = warm(args.corpus)
    print(f"page cache warmed: {warmed / 1e6:.0f} MB of blobs in {time.perf_counter() - t0:.1f}s")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="whence-bench-") as tmp:
        w = result["whence"] = run_whence(args.corpus, args.files, args.workers, tmp)
    print(f"whence   (shards -> index, {args.workers} workers): {rates(w)}")
    ratio_ix = w["index_bytes_per_source_byte"]
    print(f"  {w['documents']} documents; skipped {w['skipped'] or 'none'}; "
          f"peak RSS {w['peak_rss_mb']:.0f} MB; index {ratio_ix} B per source B")  # fmt: skip
    if w["rss_mb_by_rows"]:
        print(
            "  RSS by rows read:",
            ", ".join(f"{n // 1000}k {mb:.0f} MB" for n, mb in w["rss_mb_by_rows"].items()),
        )
    ok = True
    if not args.whence_only:
        b = result["baseline"] = run_baseline(args.corpus, args.baseline_files)
        print(f"baseline (MinHash-256, 5-gram, 1 process):     {rates(b)}")
        mbps = lambda r: r["bytes"] / max(r["seconds"], 1e-9)  # noqa: E731
        ratio = result["ratio"] = mbps(w) / mbps(b)
        ok = ratio >= TARGET_RATIO
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict} whence / baseline MB/s = {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)")
    if args.json_line:
        print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
