"""Engine bulk ingest against SQLite, in the same run, alternated round by round (issue 17: >= 1,000
documents/s on this machine).

Builds the same ``--files`` real-code corpus files (``whence_dev.corpus``) into a fresh SQLite file and
into a fresh index on one live engine node, ``--rounds`` times, alternating the stores so that both see
the same load; for every build it prints documents/s, the build's own CPU per document (this process,
all threads) and the engine's (the node's process CPU from ``_nodes/_local/stats``; measure against a
node that serves nothing else).  ``--compare`` adds a third build per round: the engine with the
settings of a served index kept during the build (``ElasticStore``'s ``BUILD_SETTINGS`` replaced by
``SERVE_SETTINGS``), to measure what the build-time settings give.  One untimed engine build of
``--warmup`` files comes first: the engine compiles its hot paths during the first builds after a start.

    python scripts/bench/engine_ingest.py --engine http://127.0.0.1:9200 [--files 6000] [--rounds 3]
        [--compare]

Documents/s are those of the bulk ingest, up to the merge for search every build ends with (a
force-merge on the engine, SQLite's segment merge when due), which is timed and printed apart, with
the rate it leaves.  The ratio printed last is the engine's median documents/s over the target, and
over SQLite's median in the same run.  Run it on a quiet machine: on 2 cores a build's wall time
follows whatever else runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from whence.index import ingest
from whence.index.stores import elastic, open_store
from whence_dev import corpus
from whence_dev.bench import rest, split_corpus

TARGET_DOCS_PER_S = 1000.0
SERVING = "engine, serving settings"


def engine_cpu_s(base: str) -> float:
    """CPU seconds the node's process has used (all its threads)."""
    st = rest("GET", f"{base}/_nodes/_local/stats/process")
    (node,) = st["nodes"].values()
    return float(node["process"]["cpu"]["total_in_millis"]) / 1000


def own_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def build(target: str, files: list[corpus.CorpusFile], workers: int, base: str | None) -> dict[str, float]:
    """One fresh build of ``files`` into ``target``: the bulk ingest (wall time, documents, CPU) and,
    apart, the merge for search the build ends with (``Store.optimize``: a force-merge on the engine)."""
    with open_store(target, create=True) as store:
        at: dict[str, float] = {}
        optimize = store.optimize

        def timed_optimize(**kw: Any) -> bool:
            at["cpu"], at["engine"] = own_cpu_s(), engine_cpu_s(base) if base else 0.0
            at["start"] = time.perf_counter()
            return optimize(**kw)

        store.optimize = timed_optimize  # type: ignore[method-assign]
        e0 = engine_cpu_s(base) if base else 0.0
        c0, t0 = own_cpu_s(), time.perf_counter()
        ingest.build(store, corpus.source_files(files), workers=workers)  # type: ignore[arg-type]
        end = time.perf_counter()
        docs = store.count_documents()
    return {
        "wall": at["start"] - t0,
        "merge": end - at["start"],
        "docs": docs,
        "cpu": at["cpu"] - c0,
        "engine": at["engine"] - e0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, help="the node's base URL, e.g. http://127.0.0.1:9200")
    ap.add_argument("--files", type=int, default=6000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=3000, help="files of the untimed first engine build")
    ap.add_argument("--compare", action="store_true", help="also build keeping the serving settings")
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR")
    args = ap.parse_args()
    base = args.engine.rstrip("/")
    files, _held = split_corpus(args.files, args.seed, args.extra_root)
    print(f"engine ingest: {len(files)} corpus files, {args.rounds} rounds, engine {base}, "
          f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")  # fmt: skip
    kinds = ["sqlite", "engine"] + ([SERVING] if args.compare else [])
    # The engine compiles its hot paths during the first builds after a start: one untimed build first.
    warm = f"{base}/bench-ingest-warmup"
    build(warm, files[: args.warmup], args.workers, base)
    for row in rest("GET", f"{base}/_cat/indices/bench-ingest-warmup-v*?format=json"):
        rest("DELETE", f"{base}/{row['index']}")
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    merged: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="whence-bench-ingest-") as tmp:
        for r in range(args.rounds):
            for kind in kinds:
                if kind == "sqlite":
                    path = Path(tmp) / f"r{r}.sqlite"
                    res = build(str(path), files, args.workers, None)
                    path.unlink()
                else:
                    name = f"bench-ingest-{r}-{'serving' if kind == SERVING else 'build'}"
                    for row in rest("GET", f"{base}/_cat/indices/{name}-v*?format=json"):
                        rest("DELETE", f"{base}/{row['index']}")
                    building = elastic.BUILD_SETTINGS
                    if kind == SERVING:
                        elastic.BUILD_SETTINGS = elastic.SERVE_SETTINGS
                    try:
                        res = build(f"{base}/{name}", files, args.workers, base)
                    finally:
                        elastic.BUILD_SETTINGS = building
                    for row in rest("GET", f"{base}/_cat/indices/{name}-v*?format=json"):
                        rest("DELETE", f"{base}/{row['index']}")
                rate = res["docs"] / res["wall"]
                rates[kind].append(rate)
                merged[kind].append(res["docs"] / (res["wall"] + res["merge"]))
                eng = (
                    f", engine CPU {1000 * res['engine'] / res['docs']:.2f} ms/doc"
                    if kind != "sqlite"
                    else ""
                )
                print(f"  round {r + 1} {kind:>24}: {res['docs']} documents in {res['wall']:.1f} s = "
                      f"{rate:,.0f} docs/s, then {res['merge']:.1f} s merging for search; build CPU "
                      f"{1000 * res['cpu'] / res['docs']:.2f} ms/doc{eng}; load {os.getloadavg()[0]:.1f}",
                      flush=True)  # fmt: skip
    sq = statistics.median(rates["sqlite"])
    print(f"\nmedian docs/s over {args.rounds} rounds (min-max), bulk ingest; with the merge after it:")
    for kind in kinds:
        med = statistics.median(rates[kind])
        extra = "" if kind == "sqlite" else (
            f"; {med / TARGET_DOCS_PER_S:.2f}x the target of {TARGET_DOCS_PER_S:,.0f}, {med / sq:.2f}x SQLite"
        )  # fmt: skip
        print(f"  {kind:>24}: {med:,.0f} ({min(rates[kind]):,.0f}-{max(rates[kind]):,.0f}){extra}; "
              f"with the merge {statistics.median(merged[kind]):,.0f}")  # fmt: skip
    if statistics.median(rates["engine"]) < TARGET_DOCS_PER_S:
        sys.exit(1)


if __name__ == "__main__":
    main()
