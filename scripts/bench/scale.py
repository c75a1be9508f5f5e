"""How whence's costs grow with the index: build time, index bytes, peak RSS and search p50/p99 at
10,000, 100,000 and 1,000,000 documents (``--sizes``), on SQLite or on a search-engine node.

The documents are real code (``whence_dev.corpus``: the standard libraries, packages, headers, the JDK's
sources found on this machine; about 119,000 files here).  Past the real files, the index is topped up
with **mutated copies**: copy ``k`` of a real file renames about half of its words of four or more
characters (chosen by a hash of the word and ``k``) by appending ``_v<k>``, so its exact fingerprints are
its own while its shape is the original's -- the way a fork that renamed things would be.  The report
says how many documents are copies.

One index grows stage by stage: each stage adds the documents up to the next size in a fresh process
(its peak RSS is the build's alone, and a flat RSS across stages is what the streaming build promises),
then the search latency is measured on that index: ``--queries`` snippets of 10-40 lines, four fifths
cut from indexed real files and one fifth from held-back files (found nowhere), after a warm-up, in the
search's own process as the CLI and the service call it.

    python scripts/bench/scale.py [--sizes 10000,100000,1000000] [--index PATH_OR_URL] [--queries 300]
                                  [--out docs/scale] [--workers 2]

``--rss-every N`` also records each stage's resident memory every N files it has given (the stage's
``rss`` in OUT.json: ``[files, MB now, MB at most so far]``, the last one after the stage's closing
merge), to tell memory that grows with what a stage writes from a peak it reaches once.

Writes ``OUT.json`` (every figure; after every stage, so that ``--resume-from SIZE`` can go on from a run
stopped later) and ``OUT.png`` (the curve), and prints the table the README shows.  ``--merge A.json
B.json ...`` only merges runs: rows of one store into one curve, and runs of SQLite and of an engine into
one file (``{"stores": {store: {meta, rows}}}``) and one figure with a curve per store::

    python scripts/bench/scale.py --merge docs/scale.json /work/scale/engine.json --out docs/scale
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whence.index import ingest, lexer, search
from whence.index.model import Occurrence
from whence.index.stores import open_store
from whence_dev import corpus
from whence_dev.bench import HELD_BACK, pct, peak_rss_mb, snippets

#: Targets at 1,000,000 documents (issue 17): SQLite p50 and p99, the engine's p50.
TARGETS = {"sqlite": {"p50": 10.0, "p99": 50.0}, "elastic": {"p50": 30.0}}
_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{3,}")


def mutated(data: bytes, k: int) -> bytes:
    """Copy ``k`` of a file: about half of its 4+-character words renamed ``word_v<k>``."""
    salt = k.to_bytes(4, "little")

    def rename(m: re.Match[bytes]) -> bytes:
        word = m.group(0)
        return word + b"_v%d" % k if zlib.crc32(word + salt) & 1 else word

    return _WORD.sub(rename, data)


def _read(path: str, k: int) -> bytes:
    data = corpus.read_bytes(path)
    return data if k == 0 else mutated(data, k)


def documents(files: list[corpus.CorpusFile], start: int, stop: int) -> Iterator[ingest.SourceFile]:
    """Documents ``start`` .. ``stop`` of the sequence: the real files, then copy 1 of each, copy 2, ..."""
    for i in range(start, stop):
        k, f = divmod(i, len(files))
        real = files[f]
        path = real.relpath if k == 0 else f"v{k}/{real.relpath}"
        repo = real.repo if k == 0 else f"{real.repo}-copy{k}"
        occ = Occurrence(repo, path, real.licenses, "", "")
        yield ingest.SourceFile(
            functools.partial(_read, real.path, k), occ, ingest.language_of(real.relpath), label=real.path
        )


#: The corpus of one run, pinned in a file when the run starts: installing a package between stages
#: (or between a run and its --resume-from) must not change which files the documents are.
_PINNED: list[Path] = []


def _corpus(seed: int) -> tuple[list[corpus.CorpusFile], list[corpus.CorpusFile]]:
    if _PINNED:
        every = [
            corpus.CorpusFile(p, r, rel, tuple(lic)) for p, r, rel, lic in json.loads(_PINNED[0].read_text())
        ]
    else:
        every = corpus.gather(seed=seed)
    return every[:-HELD_BACK], every[-HELD_BACK:]


def pin(seed: int, where: Path) -> None:
    """Gather the corpus once and pin it in ``where`` (kept when it exists: a resumed run reuses it)."""
    if not where.exists():
        where.write_text(json.dumps([list(f) for f in corpus.gather(seed=seed)]))
    _PINNED[:] = [where]


def rss_now_mb() -> float:
    """This process's resident set size now (Linux)."""
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) / 1024 for x in fh if x.startswith("VmRSS:"))


def build_stage(
    index: str, start: int, stop: int, seed: int, workers: int, rss_every: int = 0
) -> dict[str, Any]:
    """Add documents ``start`` .. ``stop`` to ``index`` (run in a fresh process: see :func:`main`); with
    ``rss_every``, its RSS every ``rss_every`` files (``rss``: files, MB now, peak MB so far)."""
    indexed, _ = _corpus(seed)
    rss: list[list[float]] = []

    def sample(report: ingest.BuildReport) -> None:  # after every batch; the last sample follows the merge
        if report.merging is None and report.files >= (len(rss) + 1) * rss_every:
            rss.append([report.files, rss_now_mb(), peak_rss_mb()])

    t0 = time.perf_counter()
    with open_store(index, create=True) as store:
        report = ingest.build(store, documents(indexed, start, stop), workers=workers,
                              progress=sample if rss_every else None)  # fmt: skip
    seconds = time.perf_counter() - t0
    if rss_every:
        rss.append([report.files, rss_now_mb(), peak_rss_mb()])
    return {
        "added": stop - start,
        "seconds": seconds,
        "documents_per_s": (stop - start) / seconds,
        "mb": report.bytes / 1e6,
        "new_documents": report.documents,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "skipped": dict(report.skipped),
        "load_build": os.getloadavg()[0],  # the machine's 1-minute load average as the stage ended
        **({"rss": rss} if rss_every else {}),
    }


def measure_search(index: str, size: int, queries: int, seed: int) -> dict[str, Any]:
    """Search p50/p99 (ms) over ``queries`` snippets, in this process."""
    indexed, held = _corpus(seed)
    real = indexed[: min(size, len(indexed))]
    rng = random.Random(seed + size)
    want_out = max(1, queries // 5)
    picks = snippets(rng, [(held, want_out, False), (real, queries - want_out + 20, True)])
    with open_store(index, readonly=True) as store:
        stats = store.stats()
        for _, text in picks[:20]:
            search.search(store, text, top=5)
        times: list[float] = []
        found = 0
        for inside, text in picks[20:]:
            t0 = time.perf_counter()
            res = search.search(store, text, top=5)
            times.append(1000 * (time.perf_counter() - t0))
            found += inside and res.verdict == "verbatim"
    inside_n = sum(p[0] for p in picks[20:])
    return {
        "documents": int(stats["documents"]),
        "index_bytes": int(stats["index_bytes"]),
        "fingerprints": int(stats["fingerprints"]),
        "p50_ms": pct(times, 50),
        "p99_ms": pct(times, 99),
        "max_ms": max(times),
        "queries": len(times),
        "found_verbatim": found / max(1, inside_n),
        "load_search": os.getloadavg()[0],
    }


def _child(args: list[str]) -> dict[str, Any]:
    import subprocess

    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"stage failed (exit {out.returncode}): {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(line)
    return result


def plot(curves: dict[str, list[dict[str, Any]]], png: Path) -> None:
    """One figure: latency, index size and build for every store's rows (``{store: rows}``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, (store, rows) in enumerate(curves.items()):
        c = f"C{i}"  # one colour per store; solid: p50, RSS, size; dashed: p99, files/s
        sizes = [r["documents"] for r in rows]
        axes[0].plot(sizes, [r["p50_ms"] for r in rows], "o-", color=c, label=f"{store} p50")
        axes[0].plot(sizes, [r["p99_ms"] for r in rows], "s--", color=c, label=f"{store} p99")
        for name, value in TARGETS.get(store, {}).items():
            axes[0].axhline(value, linestyle=":", color="grey")
            axes[0].annotate(f"target {store} {name}", (sizes[0], value), fontsize=8, color="grey")
        axes[1].plot(sizes, [r["index_bytes"] / 1e9 for r in rows], "o-", color=c, label=store)
        axes[2].plot(sizes, [r["peak_rss_mb"] for r in rows], "o-", color=c, label=f"{store} peak RSS (MB)")
        axes[2].plot(sizes, [r["documents_per_s"] for r in rows], "s--", color=c, label=f"{store} files/s")
    axes[0].set_title("search latency")
    axes[0].set_ylabel("ms")
    axes[0].legend(fontsize=8)
    axes[1].set_title("index size")
    axes[1].set_ylabel("GB")
    axes[1].legend(fontsize=8)
    axes[2].set_title("build (each stage)")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("documents")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def curves_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{store: {"meta", "rows"}}`` of an OUT.json: one run's (``meta``, ``rows``) or a merge of
    several stores' (``stores``)."""
    if "stores" in data:
        return dict(data["stores"])
    return {data["meta"]["store"]: {"meta": data["meta"], "rows": data["rows"]}}


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| documents | files given (copies) | build (s, this stage) | files/s | index | bytes/source byte"
        " | peak RSS | search p50 | search p99 | load (build, search) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        load = f"{r['load_build']:.1f}, {r['load_search']:.1f}" if "load_build" in r else "not recorded"
        out.append(
            f"| {r['documents']:,} | {r['size']:,} ({r['copies']:,}) | {r['seconds']:.0f} |"
            f" {r['documents_per_s']:.0f} |"
            f" {r['index_bytes'] / 1e9:.2f} GB | {r['bytes_per_source_byte']:.2f} |"
            f" {r['peak_rss_mb']:.0f} MB |"
            f" {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {load} |"
        )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--index", help="a SQLite file or an engine URL to grow (default: a temporary file)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="docs/scale", help="writes OUT.json and OUT.png")
    ap.add_argument(
        "--resume-from",
        type=int,
        default=0,
        metavar="SIZE",
        help="the index already holds the first SIZE files (its rows are in OUT.json): go on from there",
    )
    ap.add_argument(
        "--rss-every",
        type=int,
        default=0,
        metavar="N",
        help="record each stage's RSS every N files it has given",
    )
    ap.add_argument("--corpus-list", help=argparse.SUPPRESS)
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="only merge the rows of these runs into OUT")
    ap.add_argument("--stage", nargs=3, type=int, metavar=("START", "STOP", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--search-only", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.corpus_list:
        _PINNED[:] = [Path(args.corpus_list)]
    if args.stage:
        stage = build_stage(args.index, args.stage[0], args.stage[1], args.seed, args.workers, args.rss_every)
        print(json.dumps(stage))
        return 0
    if args.search_only is not None:
        print(json.dumps(measure_search(args.index, args.search_only, args.queries, args.seed)))
        return 0
    if args.merge:
        # Rows of the same store are merged into one curve; several stores give one curve each.
        stores: dict[str, dict[str, Any]] = {}
        for m in args.merge:
            for store, run in curves_of(json.loads(Path(m).read_text())).items():
                # A run's other entries (the engine's ``served``: searches of the merged index) are kept.
                got = stores.setdefault(store, {**run, "meta": {**run["meta"], "merged": []}, "rows": []})
                got["meta"]["merged"].append(m)
                got["rows"] = sorted([*got["rows"], *run["rows"]], key=lambda r: r["documents"])
        out = Path(args.out)
        data = next(iter(stores.values())) if len(stores) == 1 else {"stores": stores}
        out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
        plot({k: v["rows"] for k, v in stores.items()}, out.with_suffix(".png"))
        for store, run in stores.items():
            print(f"\n{store}:\n{table(run['rows'])}")
        return 0
    tmp = tempfile.TemporaryDirectory(prefix="whence-scale-")
    index = args.index or str(Path(tmp.name) / "scale.sqlite")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pinned = out.with_suffix(".corpus.json")
    pin(args.seed, pinned)
    common = ["--index", index, "--seed", str(args.seed), "--corpus-list", str(pinned)]
    store = "elastic" if "://" in index else "sqlite"
    indexed, _ = _corpus(args.seed)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"whence scale: {store} {index}; {len(indexed):,} real corpus files; sizes {sizes};"
          f" cpus {os.cpu_count()}")  # fmt: skip
    meta = {
        "store": store,
        "cpus": os.cpu_count(),
        "real_files": len(indexed),
        "queries": args.queries,
        "lexer": lexer.LEXER_VERSION,  # an index of another lexer version is refused: rows are of this one
    }
    rows: list[dict[str, Any]] = []
    done = 0
    source_bytes = 0.0
    if args.resume_from:
        before = curves_of(json.loads(out.with_suffix(".json").read_text())).get(store, {"rows": []})
        rows = [r for r in before["rows"] if r["size"] <= args.resume_from]
        done = args.resume_from
        source_bytes = rows[-1]["index_bytes"] / rows[-1]["bytes_per_source_byte"] if rows else 0.0
        sizes = [s for s in sizes if s > done]
    for size in sizes:
        every = ["--rss-every", str(args.rss_every)] if args.rss_every else []
        stage = _child(
            [*common, "--workers", str(args.workers), *every, "--stage", str(done), str(size), str(size)]
        )
        source_bytes += stage["mb"] * 1e6
        found = _child([*common, "--queries", str(args.queries), "--search-only", str(size)])
        row = {"size": size, "copies": max(0, size - len(indexed)), **stage, **found}
        row["bytes_per_source_byte"] = found["index_bytes"] / max(1.0, source_bytes)
        rows.append(row)
        done = size
        print(
            f"{size:>9,} files ({row['copies']:,} copies), {found['documents']:,} documents:"
            f" stage {stage['seconds']:.0f}s"
            f" ({stage['documents_per_s']:.0f}/s, peak RSS {stage['peak_rss_mb']:.0f} MB), index"
            f" {found['index_bytes'] / 1e9:.2f} GB; search p50 {found['p50_ms']:.1f} ms"
            f" p99 {found['p99_ms']:.1f} ms max {found['max_ms']:.1f} ms"
            f" ({found['found_verbatim']:.0%} of indexed snippets found verbatim);"
            f" load average {stage['load_build']:.1f} building, {found['load_search']:.1f} searching",
            flush=True,
        )
        # Written after every stage: a run stopped in a later stage resumes from this one (--resume-from).
        out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    plot({store: rows}, out.with_suffix(".png"))
    print("\n" + table(rows))
    last = rows[-1]
    for name, target in TARGETS[store].items():
        got = last[f"{name}_ms"]
        print(f"{name} at {last['documents']:,} documents: {got:.1f} ms (target {target:.0f} ms):"
              f" {'met' if got <= target else 'NOT met'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
