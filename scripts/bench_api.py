"""``POST /v1/search`` under load: 8 concurrent clients against a real server, loopback only, bounded.

Starts ``whence serve`` (a subprocess, ``--workers`` uvicorn processes) on 127.0.0.1 over an existing
index, creates an API key in a throwaway state database, and runs ``--clients`` client threads for
``--seconds`` seconds, each posting 10-40-line snippets cut from files the index holds (read back from
the index itself, so the queries match whatever it was built from).  Prints p50/p99 latency, requests/s
and errors; the baseline, in this process, is the same queries through ``index.search`` without HTTP,
one at a time.

    python scripts/bench_api.py --index data/bench-100k.sqlite [--clients 8] [--seconds 60]

A 100,000-file index: ``python scripts/build_corpus.py --out data/stack --extra-root DIR`` and
``whence index build 'data/stack/shards/*.parquet' --blobs data/stack/blobs --license-type all
--index data/bench-100k.sqlite``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from whence.api.state import State
from whence.index import search
from whence.index.stores import open_store

TARGET_P50_MS = 20.0


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def snippets(index: str, n: int, seed: int) -> list[str]:
    """10-40-line windows of documents the index holds."""
    rng = random.Random(seed)
    out: list[str] = []
    with open_store(index, readonly=True) as st:
        total = st.count_documents()
        tries = 0
        while len(out) < n and tries < n * 20:
            tries += 1
            doc = rng.randint(1, total)
            try:
                lines = st.text(doc).decode("utf-8").splitlines(keepends=True)
            except (KeyError, UnicodeDecodeError):
                continue
            if len(lines) < 45:
                continue
            size = rng.randint(10, 40)
            start = rng.randint(0, len(lines) - size)
            text = "".join(lines[start : start + size])
            if len(text.split()) > 30:
                out.append(text)
    return out


def baseline(index: str, queries: list[str]) -> list[float]:
    times = []
    with open_store(index, readonly=True) as st:
        docs = st.count_documents()
        for q in queries:
            t0 = time.perf_counter()
            search.search(st, q, documents=docs)
            times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn processes")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not Path(args.index).exists():
        print(f"no index at {args.index} (see the docstring for how to build one)", file=sys.stderr)
        return 2
    with open_store(args.index, readonly=True) as st:
        documents = st.count_documents()
    queries = snippets(args.index, args.queries, args.seed)
    print(f"whence bench_api: index {args.index} ({documents} documents), {len(queries)} snippets, "
          f"{args.clients} clients x {args.seconds:.0f}s, {args.workers} server workers, "
          f"cpus={os.cpu_count()}")  # fmt: skip
    base = baseline(args.index, queries)
    b50, b99 = pct(base, 50) * 1e3, pct(base, 99) * 1e3
    print(f"baseline (in process, no HTTP, 1 at a time): p50 {b50:.1f} ms  p99 {b99:.1f} ms")

    tmp = tempfile.TemporaryDirectory(prefix="whence-bench-api-")
    state_path = str(Path(tmp.name) / "state.sqlite")
    state = State(state_path)
    _, key = state.create_key("bench")
    state.close()
    port = free_port()
    env = os.environ | {"WHENCE_RATE_LIMIT_PER_MINUTE": "100000000", "WHENCE_RATE_LIMIT_BURST": "100000"}
    cmd = [sys.executable, "-m", "whence.api", "serve", "--index", args.index, "--state", state_path,
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                print("server did not start:", server.stderr.read().decode()[-2000:] if server.stderr else "")
                return 2
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client(i: int) -> None:
            rng = random.Random(args.seed + i)
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                while time.monotonic() < stop_at:
                    q = rng.choice(queries)
                    t0 = time.perf_counter()
                    try:
                        res = http.post("/v1/search", json={"code": q})
                        ok = res.status_code == 200
                        why = "" if ok else f"{res.status_code} {res.text[:200]}"
                    except httpx.HTTPError as exc:
                        ok, why = False, f"{type(exc).__name__}: {exc}"
                    dt = time.perf_counter() - t0
                    with lock:
                        (latencies.append(dt) if ok else errors.append(why))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
        tmp.cleanup()
    p50, p99 = pct(latencies, 50) * 1e3, pct(latencies, 99) * 1e3
    rps = len(latencies) / wall
    mean = statistics.mean(latencies) * 1e3 if latencies else float("nan")
    print(f"HTTP, {args.clients} clients: {len(latencies)} requests in {wall:.1f}s = {rps:.1f} req/s; "
          f"p50 {p50:.1f} ms  p99 {p99:.1f} ms  mean {mean:.1f} ms; errors {len(errors)}")  # fmt: skip
    if errors:
        print("first errors:", errors[:3])
    print(f"ratio p50 HTTP under load / in-process alone: {p50 / b50:.2f}")
    ok = p50 <= TARGET_P50_MS and not errors
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict} p50 {p50:.1f} ms (target <= {TARGET_P50_MS:.0f} ms), {len(errors)} errors (target 0)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
