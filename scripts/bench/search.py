"""Search latency on an index of >= 100,000 real files, and the CLI's cold start.

Builds an index of ``--files`` corpus files (``whence_dev.corpus``; 200 more are held back as queries that
are not indexed), or reuses ``--index PATH`` when it exists, then times in-process ``search.search``
(called as the CLI calls it) on 10-40-line snippets cut from indexed files and from held-back files:
p50/p95/p99/max after a warm-up.  Then times the real ``whence search`` command on a small snippet
(median of 5 cold runs) and checks that a search never imports torch/transformers.

    python scripts/bench/search.py [--files 100000] [--index PATH] [--queries 500] [--extra-root DIR]
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
import time
from pathlib import Path
from typing import Any

from whence.index import fingerprint, search
from whence.index.stores import open_store
from whence_dev import corpus
from whence_dev.bench import pct, snippets, split_corpus

P50_MS, P99_MS, COLD_S = 10.0, 50.0, 0.5
SPY = """
import json, sys
heavy = ("torch", "transformers")
tried = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in heavy:
            tried.append(name)
        return None
sys.meta_path.insert(0, Spy())
from whence import cli
try:
    cli.main(args=sys.argv[1:], prog_name="whence")
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
info = {"exit": code, "loaded": loaded, "tried": tried, "modules": len(sys.modules)}
print(json.dumps(info), file=sys.stderr)
"""


def cli_command() -> tuple[list[str], str]:
    exe = shutil.which("whence")
    if exe:
        return [exe], exe
    return [
        sys.executable,
        "-c",
        "from whence.cli import main; main()",
    ], "python -c 'whence.cli.main()'"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--index", help="index to build or, when it exists, reuse (default: a temporary one)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cli-runs", type=int, default=5)
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR")
    args = ap.parse_args()
    print(f"whence bench_search: native kernel={fingerprint.has_native()} python={sys.version.split()[0]} "
          f"cpus={os.cpu_count()}")  # fmt: skip
    indexed, held_back = split_corpus(args.files, args.seed, args.extra_root)

    tmp = tempfile.TemporaryDirectory(prefix="whence-bench-search-")
    index = Path(args.index or Path(tmp.name) / "index.sqlite")
    if index.exists():
        print(f"reusing {index} (snippets are cut from the corpus files it should hold; see the sanity line)")
    else:
        t0 = time.perf_counter()
        built: Any = corpus.build_index(index, indexed, args.workers)
        dt = time.perf_counter() - t0
        print(f"built {index}: {built.files} files, {built.bytes / 1e6:.0f} MB in {dt:.0f}s "
              f"({built.bytes / 1e6 / dt:.1f} MB/s); skipped {dict(built.skipped)}")  # fmt: skip
    store = open_store(index, readonly=True)
    stats = store.stats()
    print(f"index: {stats['documents']} documents, {stats['occurrences']} occurrences, "
          f"{stats['fingerprints']} fingerprints, {int(stats['index_bytes']) / 1e6:.0f} MB")  # fmt: skip

    rng = random.Random(args.seed + 1)
    n_outside = max(1, (args.queries + args.warmup) // 5)
    queries = snippets(
        rng, [(held_back, n_outside, False), (indexed, args.queries + args.warmup - n_outside, True)]
    )
    for _, text in queries[: args.warmup]:
        search.search(store, text, top=5)
    times: dict[bool, list[float]] = {True: [], False: []}
    found: dict[bool, list[str]] = {True: [], False: []}
    cli_snippet: str | None = None  # a small snippet that is found: the CLI then does all its work
    for inside, text in queries[args.warmup :]:
        t0 = time.perf_counter()
        res = search.search(store, text, top=5)  # as the CLI calls it (the index size is counted per query)
        times[inside].append(1000 * (time.perf_counter() - t0))
        found[inside].append(res.verdict)
        if res.verdict == "verbatim" and cli_snippet is None and text.count("\n") <= 20:
            cli_snippet = text
    t0 = time.perf_counter()
    store.count_documents() if hasattr(store, "count_documents") else store.stats()
    count_ms = 1000 * (time.perf_counter() - t0)
    store.close()

    every = times[True] + times[False]
    print(f"\nsearch latency over {len(every)} queries ({len(times[True])} from indexed files, "
          f"{len(times[False])} from files not indexed), after {args.warmup} warm-up queries:")  # fmt: skip
    print(f"{'':>14} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'mean':>8}  (ms)")
    for label, xs in (("all", every), ("indexed", times[True]), ("not indexed", times[False])):
        if xs:
            cells = [pct(xs, 50), pct(xs, 95), pct(xs, 99), max(xs), statistics.fmean(xs)]
            print(f"{label:>14} " + " ".join(f"{x:8.2f}" for x in cells))
    print(f"(of which counting the documents, once per query: {count_ms:.2f} ms)")
    verb = sum(v == "verbatim" for v in found[True]) / max(1, len(found[True]))
    outside = sum(v != "none" for v in found[False]) / max(1, len(found[False]))
    print(f"sanity: {verb:.1%} of snippets from indexed files found verbatim; {outside:.1%} of snippets from "
          f"files not indexed attributed (shared code across the corpus is real)")  # fmt: skip
    ok = True
    for name, val, target in (("p50", pct(every, 50), P50_MS), ("p99", pct(every, 99), P99_MS)):
        ok &= val <= target
        print(f"{'PASS' if val <= target else 'FAIL'} search {name} {val:.2f} ms (target <= {target:.0f} ms)")

    # -- the CLI, cold ------------------------------------------------------------------------------
    snip = Path(tmp.name) / "snippet.txt"
    snip.write_text(cli_snippet or queries[0][1])
    cmd, label = cli_command()
    argv = ["search", str(snip), "--index", str(index)]  # the default, rendered text output
    runs = []
    for _ in range(args.cli_runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd + argv, capture_output=True, text=True, check=False)
        runs.append(time.perf_counter() - t0)
        if out.returncode != 0:
            print(f"FAIL `whence search` exited {out.returncode}: {out.stderr.strip()[-400:]}")
            return 1
    out = subprocess.run([*cmd, *argv, "--format", "json"], capture_output=True, text=True, check=False)
    verdict = json.loads(out.stdout)["verdict"] if out.returncode == 0 else f"(exit {out.returncode})"
    cold = statistics.median(runs)
    ok &= cold <= COLD_S
    nlines = snip.read_text().count("\n")
    print(f"\n`whence search` ({label}) on a {nlines}-line snippet: verdict {verdict}; "
          f"runs {', '.join(f'{r:.3f}' for r in runs)} s")  # fmt: skip
    print(f"{'PASS' if cold <= COLD_S else 'FAIL'} CLI cold start median {cold:.3f} s (target <= {COLD_S} s)")
    if cold > COLD_S:
        imp = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", SPY, *argv], capture_output=True, text=True
        )
        rows = [x.split("|") for x in imp.stderr.splitlines() if x.startswith("import time:") and "|" in x]
        top = sorted(((int(r[1]), r[2].strip()) for r in rows[1:] if r[1].strip().isdigit()), reverse=True)[
            :8
        ]
        print("  slowest imports (cumulative us): " + ", ".join(f"{name} {us}" for us, name in top))
    spy = subprocess.run([sys.executable, "-c", SPY, *argv], capture_output=True, text=True, check=False)
    info = json.loads(spy.stderr.strip().splitlines()[-1])
    clean = not info["loaded"] and not info["tried"]
    ok &= clean
    print(f"{'PASS' if clean else 'FAIL'} a search imports no torch/transformers (loaded: {info['loaded']}, "
          f"import attempts: {info['tried']}; {info['modules']} modules in all)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
