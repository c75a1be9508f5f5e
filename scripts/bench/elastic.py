"""The search-engine store on OpenSearch and on Elasticsearch against SQLite, on the same corpus, in the
same run: bulk indexing and search.

Takes ``--files`` files of the real-code corpus (``whence_dev.corpus``; 200 more are held back as queries
that are not indexed), builds them into a SQLite file and into an index on each live engine (``--engine
URL``, once per engine; default: the local OpenSearch and Elasticsearch nodes of ``scripts/search-engine
start --engine opensearch|elasticsearch``), then times the same 10-40-line snippets on every store,
alternating store by store query by query: p50/p95/p99 after a warm-up, and checks that each engine
gives the verdicts SQLite gives.  Then force-merges each engine index and reports what the sizing page
needs: bytes per document and per source byte, fingerprints per document.

    python scripts/bench/elastic.py [--files 100000] [--engine URL ...] [--jobs N] [--extra-root DIR]

``--jobs N`` builds the engine index with N concurrent ``whence index build --worker i/N`` processes
(the scale-out path) instead of in-process.  At >= 100,000 files the corpus needs
``pip install --no-deps --target /tmp/extra-corpus ansible-core ansible`` and
``--extra-root /tmp/extra-corpus``.  Run it with ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from whence.index import fingerprint, ingest, search
from whence.index.stores import open_store
from whence.index.stores.elastic_driver import parse_target, probe
from whence_dev import corpus
from whence_dev.bench import (  # the SQLite benchmark's corpus and queries
    load_lines,
    pct,
    rest,
    snippet,
    split_corpus,
)

ENGINE_P50_MS = 20.0
REPO = Path(__file__).resolve().parents[2]


def engine_urls(given: list[str]) -> list[str]:
    """The engines' base URLs: those given, else the local OpenSearch and Elasticsearch nodes (started
    when not running)."""
    if given:
        return [u.rstrip("/") for u in given]
    urls = []
    for kind in ("opensearch", "elasticsearch"):
        cmd = [str(REPO / "scripts" / "search-engine"), "start", "--engine", kind]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"could not start the local {kind} node:\n{out.stderr}")
        urls.append(out.stdout.strip().splitlines()[-1])
    return urls


def build_jobs(files: list[corpus.CorpusFile], target: str, jobs: int, tmp: Path) -> tuple[int, int]:
    """The engine build as ``jobs`` concurrent ``--worker i/jobs`` processes over one JSONL source;
    (files, bytes) indexed."""
    src = tmp / "corpus.jsonl"
    nbytes = 0
    with src.open("w") as fh:
        for f in files:
            raw = corpus.read_bytes(f.path)
            if ingest.check_text(raw):
                continue
            nbytes += len(raw)
            rec = {
                "content": raw.decode("utf-8"),
                "repo": f.repo,
                "path": f.relpath,
                "licenses": list(f.licenses),
            }
            fh.write(json.dumps(rec) + "\n")
    cmd = [
        sys.executable,
        "-m",
        "whence",
        "index",
        "build",
        str(src),
        "--index",
        target,
        "--format",
        "json",
    ]
    procs = [
        subprocess.Popen(
            [*cmd, "--worker", f"{i}/{jobs}", "--workers", "1"], stdout=subprocess.PIPE, text=True
        )
        for i in range(jobs)
    ]
    total = 0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            sys.exit(f"a worker failed (exit {p.returncode})")
        total += int(json.loads(out)["files"])
    return total, nbytes


#: Lucene file extensions by what they hold.
FILE_KINDS = {
    "stored fields (texts, metadata)": ("fdt", "fdx", "fdm"),
    "terms and postings (fingerprints, bands, ids)": ("tim", "tip", "tmd", "doc", "pos", "pay"),
    "doc values": ("dvd", "dvm"),
    "points (numbers)": ("kdd", "kdi", "kdm", "dim", "dii"),
    "norms": ("nvd", "nvm"),
    # A segment small enough is one compound file holding all of the above (Elasticsearch 8 packs a
    # force-merged segment of a small index so; OpenSearch did not at the sizes measured).
    "compound files (all kinds)": ("cfs", "cfe"),
}


def file_breakdown(base: str, index: str) -> dict[str, int]:
    """Bytes of the index by kind of Lucene file (segment file sizes, as the engine reports them)."""
    st = rest("GET", f"{base}/{index}/_stats/segments?include_segment_file_sizes=true")
    files = st["_all"]["primaries"]["segments"].get("file_sizes", {})
    out = {
        kind: sum(int(files.get(e, {}).get("size_in_bytes", 0)) for e in exts)
        for kind, exts in FILE_KINDS.items()
    }
    known = {e for exts in FILE_KINDS.values() for e in exts}
    out["other"] = sum(int(v.get("size_in_bytes", 0)) for e, v in files.items() if e not in known)
    return out


def settle(base: str, index: str, timeout: float = 300.0) -> None:
    """Wait until the merged-away segments' files are gone: the force-merge returns before the engine
    deletes them, and until then the index's size counts both (seen: 371 MB a few seconds after the
    merge, 184 MB once settled).  Settled = one segment per shard, and the store no larger than the
    live segments."""
    rest("POST", f"{base}/{index}/_flush")  # a commit lets the engine drop files no reader holds
    rest("POST", f"{base}/{index}/_refresh")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        segs = rest("GET", f"{base}/_cat/segments/{index}?format=json&bytes=b")
        live = sum(int(row["size"]) for row in segs)
        store = int(
            rest("GET", f"{base}/{index}/_stats/store")["_all"]["primaries"]["store"]["size_in_bytes"]
        )
        if len(segs) == len({row["shard"] for row in segs}) and store <= live * 1.02 + (1 << 20):
            return
        time.sleep(2)
    print(f"  (the index size had not settled after {timeout:.0f}s: sizes below may count merged-away files)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="URL",
        help="an engine base URL, once per engine (default: start the local OpenSearch and Elasticsearch)",
    )
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=300, help="untimed searches first (the engine warms up)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=0, help="build the engine index with N --worker processes")
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR")
    ap.add_argument(
        "--texts", choices=["small", "fast"], default="small", help="the engine index's text codec"
    )
    ap.add_argument("--keep", action="store_true", help="keep the engine index (named bench-<files>)")
    args = ap.parse_args()
    # Each engine by what it is ("opensearch", "elasticsearch"; the store's own detection), with its URL.
    bases: dict[str, str] = {}
    names: dict[str, str] = {}
    for base in engine_urls(args.engine):
        info = probe(parse_target(base))
        kind, engine_name = info.distribution, f"{info.distribution} {info.version}"
        if kind in bases:
            kind = f"{kind}@{base.rsplit(':', 1)[-1]}"
        bases[kind], names[kind] = base, engine_name
    engines = list(bases)
    listed = ", ".join(f"{names[k]} at {bases[k]}" for k in engines)
    print(f"whence bench_elastic: engines {listed}; native kernel={fingerprint.has_native()} "
          f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")  # fmt: skip
    indexed, held_back = split_corpus(args.files, args.seed, args.extra_root)
    n_index = len(indexed)

    tmp = tempfile.TemporaryDirectory(prefix="whence-bench-elastic-")
    name = f"bench-{n_index}"
    for base in bases.values():
        for row in rest("GET", f"{base}/_cat/indices/{name}-v*?format=json"):
            rest("DELETE", f"{base}/{row['index']}")
    targets = {"sqlite": str(Path(tmp.name) / "index.sqlite")}
    targets.update({k: f"{bases[k]}/{name}?texts={args.texts}" for k in engines})
    width = max(len(k) for k in targets)
    print(f"\nbulk indexing {n_index} files:")
    docs_per_s: dict[str, float] = {}
    for kind, target in targets.items():
        t0 = time.perf_counter()
        if kind != "sqlite" and args.jobs:
            nfiles, nbytes = build_jobs(indexed, target, args.jobs, Path(tmp.name))
        else:
            with open_store(target, create=True) as store:
                rep = ingest.build(store, corpus.source_files(indexed), workers=args.workers)  # type: ignore[arg-type]
            nfiles, nbytes = rep.files, rep.bytes
        dt = time.perf_counter() - t0
        with open_store(target, readonly=True) as store:
            ndocs = store.count_documents()
        docs_per_s[kind] = ndocs / dt
        how = f" ({args.jobs} --worker jobs)" if kind != "sqlite" and args.jobs else ""
        print(f"  {kind:>{width}}{how}: {nfiles} files, {nbytes / 1e6:.0f} MB, {ndocs} documents in "
              f"{dt:.0f}s: {ndocs / dt:.0f} docs/s, {nbytes / 1e6 / dt:.2f} MB/s")  # fmt: skip

    # A built index is served merged: force-merge before timing searches (and before measuring size).
    physical: dict[str, str] = {}
    for kind in engines:
        physical[kind] = next(iter(rest("GET", f"{bases[kind]}/_alias/{name}")))
        t0 = time.perf_counter()
        rest("POST", f"{bases[kind]}/{physical[kind]}/_forcemerge?max_num_segments=1")
        print(f"  force-merged the {kind} index to one segment in {time.perf_counter() - t0:.0f}s")

    rng = random.Random(args.seed + 1)
    queries: list[str] = []
    while len(queries) < args.queries + args.warmup:
        pool = held_back if rng.random() < 0.2 else indexed
        lines = load_lines(rng.choice(pool))
        if lines:
            queries.append(snippet(lines, rng))
    stores = {kind: open_store(t, readonly=True) for kind, t in targets.items()}
    # An engine answers its first few hundred searches after a build (or a node start) slower, while
    # its JVM compiles the hot paths and the merged segment's files are read into the page cache: the
    # warm-up runs them, and the timings below are the steady state a served index sees.
    warm: dict[str, list[float]] = {k: [] for k in engines}
    for q in queries[: args.warmup]:
        for kind, s in stores.items():
            t0 = time.perf_counter()
            search.search(s, q, top=5)
            if kind != "sqlite":
                warm[kind].append(1000 * (time.perf_counter() - t0))
    for kind, ws in warm.items():
        for i in range(0, len(ws), 100):
            part = ws[i : i + 100]
            print(f"  warm-up, {kind}, queries {i + 1}-{i + len(part)}: p50 {pct(part, 50):.1f} ms")
    times: dict[str, list[float]] = {k: [] for k in stores}
    agree = dict.fromkeys(engines, 0)
    for q in queries[args.warmup :]:
        verdicts = {}
        for kind, s in stores.items():
            t0 = time.perf_counter()
            res = search.search(s, q, top=5)
            times[kind].append(1000 * (time.perf_counter() - t0))
            verdicts[kind] = (res.verdict, [(m.primary.repo, m.primary.path) for m in res.matches[:1]])
        for kind in engines:
            agree[kind] += verdicts[kind] == verdicts["sqlite"]
    print(f"\nsearch latency over {args.queries} queries after {args.warmup} warm-up (ms; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")  # fmt: skip
    print(f"{'':>{width}} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for kind, xs in times.items():
        print(
            f"{kind:>{width}} "
            + " ".join(f"{x:8.2f}" for x in (pct(xs, 50), pct(xs, 95), pct(xs, 99), max(xs)))
        )
    for kind in engines:
        ratio = pct(times[kind], 50) / pct(times["sqlite"], 50)
        print(f"{kind}/sqlite p50 ratio: {ratio:.1f}x; same verdict and top source as SQLite: "
              f"{agree[kind]}/{args.queries}")  # fmt: skip
    sq = stores["sqlite"].stats()
    for s in stores.values():
        s.close()

    ndocs = int(sq["documents"])
    src_bytes = int(sq["source_bytes"])
    fps = int(sq["fingerprints"])
    passed = True
    for kind in engines:
        base, index = bases[kind], physical[kind]
        settle(base, index)
        parts = file_breakdown(base, index)
        print(
            f"\n{kind} index by Lucene file kind (MB): "
            + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in parts.items())
        )
        st = rest("GET", f"{base}/{index}/_stats/store,docs")["_all"]["primaries"]
        size = int(st["store"]["size_in_bytes"])
        sizing = {
            "engine": names[kind], "files": n_index, "documents": ndocs,
            "occurrences": int(sq["occurrences"]),
            "source_bytes": src_bytes, "fingerprints": fps, "fingerprints_per_doc": round(fps / ndocs, 1),
            "engine_bytes": size, "engine_bytes_per_doc": round(size / ndocs), "engine_bytes_per_source_byte":
            round(size / src_bytes, 3), "sqlite_bytes": int(sq["index_bytes"]),
            "sqlite_bytes_per_doc": round(int(sq["index_bytes"]) / ndocs),
            "engine_bytes_by_kind": parts,
            "engine_docs_per_s": round(docs_per_s[kind]), "sqlite_docs_per_s": round(docs_per_s["sqlite"]),
            **{f"{label}_p{p}_ms": round(pct(times[k], p), 2)
               for label, k in (("engine", kind), ("sqlite", "sqlite")) for p in (50, 99)},
        }  # fmt: skip
        print(f"{kind} index after force-merge: {size / 1e6:.0f} MB = {size / ndocs:.0f} bytes/document, "
              f"{size / src_bytes:.2f} bytes/source byte ({fps / ndocs:.0f} fingerprints/document); "
              f"SQLite: {int(sq['index_bytes']) / 1e6:.0f} MB")  # fmt: skip
        print("sizing: " + json.dumps(sizing))
        if not args.keep:
            rest("DELETE", f"{base}/{index}")
        p50 = pct(times[kind], 50)
        ok = p50 <= ENGINE_P50_MS
        passed = passed and ok
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict} {names[kind]} search p50 {p50:.2f} ms (target <= {ENGINE_P50_MS:.0f} ms)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
