"""``POST /v1/search`` under load: 8 concurrent clients against a real server, loopback only, bounded.

Starts ``whence serve`` (a subprocess: ``--workers`` uvicorn processes, each with its pool of search
processes) on 127.0.0.1 over an existing index, creates an API key in a throwaway state database, and
keeps ``--clients`` keep-alive connections busy for ``--seconds`` seconds, each posting 10-40-line
snippets cut from files the index holds (read back from the index itself, so the queries match
whatever it was built from) and reading every answer in full.  Prints p50/p99 latency, requests/s,
errors, and the CPU the server and the load generator used per request (Linux); the baseline, in this
process, is the same queries through ``index.search`` without HTTP, one at a time.

    python scripts/bench/api.py --index data/bench-100k.sqlite [--clients 8] [--seconds 60]

A 100,000-file index: ``python scripts/corpus/build.py --out data/stack --extra-root DIR [--extra-root
DIR2]`` and ``whence index build 'data/stack/shards/*.parquet' --blobs data/stack/blobs --license-type all
--index data/bench-100k.sqlite`` (the README's figure: ansible, django, sympy, networkx, sqlalchemy,
pygments, sphinx, docutils, twisted, pandas, scipy and matplotlib wheels unpacked as extra roots; 146,820
files read, 100,621 indexed, 92,785 distinct documents).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from whence.api.state import State
from whence.index import search
from whence.index.stores import open_store

TARGET_P50_MS = 20.0
REQUEST_TIMEOUT_S = 30.0  # an answer slower than this counts as an error (and the connection is renewed)


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


def _request(port: int, key: str, code: str) -> bytes:
    body = json.dumps({"code": code}).encode()
    head = (
        f"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(
    port: int, requests: list[bytes], stop_at: float, seed: int, latencies: list[float], errors: list[str]
) -> None:
    """One keep-alive connection posting searches back to back until ``stop_at``.  Every answer is read
    in full and must be a 200 whose JSON body carries a verdict."""
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop_at:
            req = rng.choice(requests)
            t0 = time.perf_counter()
            try:
                writer.write(req)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await asyncio.wait_for(reader.readexactly(length), REQUEST_TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            dt = time.perf_counter() - t0
            if status == 200 and "verdict" in json.loads(body):
                latencies.append(dt)
            else:
                errors.append(f"{status} {body[:200]!r}")
    finally:
        writer.close()


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds used so far by ``pid`` and its descendants (Linux /proc; empty elsewhere)."""
    out: dict[int, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        # A process that ends during the walk (or no /proc at all) is left out, not the rest with it.
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def load(
    port: int, key: str, queries: list[str], clients: int, seconds: float, seed: int
) -> tuple[list[float], list[str], float, float]:
    """``clients`` concurrent connections for ``seconds``: (latencies, errors, wall seconds, CPU seconds
    the load generator itself used).

    The load generator is a bare HTTP/1.1 client on one asyncio loop (uvloop where installed): it shares
    the machine with the server, and httpx in threads used about as much CPU per request as the server
    did, which measured the client as much as the service."""
    requests = [_request(port, key, q) for q in queries]
    latencies: list[float] = []
    errors: list[str] = []

    async def run() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(_client(port, requests, stop_at, seed + i, latencies, errors) for i in range(clients))
        )

    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())
    return latencies, errors, time.perf_counter() - t0, time.process_time() - cpu0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn processes (each with its search pool)")
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not Path(args.index).exists():
        print(f"no index at {args.index} (see the docstring for how to build one)", file=sys.stderr)
        return 2
    with open_store(args.index, readonly=True) as st:
        documents = st.count_documents()
        files = st.stats()["occurrences"]  # indexed files: one occurrence each (documents are contents)
    queries = snippets(args.index, args.queries, args.seed)
    print(f"whence bench_api: index {args.index} ({files} files, {documents} documents), "
          f"{len(queries)} snippets, {args.clients} clients x {args.seconds:.0f}s, "
          f"{args.workers} server workers, cpus={os.cpu_count()}")  # fmt: skip
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
    cmd = [sys.executable, "-m", "whence", "serve", "--index", args.index, "--state", state_path,
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
        before = cpu_seconds(server.pid)
        latencies, errors, wall, client_cpu = load(port, key, queries, args.clients, args.seconds, args.seed)
        after = cpu_seconds(server.pid)
        workers = [after[p] - before.get(p, 0.0) for p in after]
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
    print(f"load generator CPU: {client_cpu * 1e3 / max(1, len(latencies) + len(errors)):.2f} ms per request "
          f"({client_cpu / wall:.0%} of one core)")  # fmt: skip
    if workers:
        print(f"server CPU: {sum(workers) * 1e3 / max(1, len(latencies)):.2f} ms per request; per process "
              + ", ".join(f"{w / wall:.0%}" for w in workers) + " of one core")  # fmt: skip
    print(f"ratio p50 HTTP under load / in-process alone: {p50 / b50:.2f}")
    ok = p50 <= TARGET_P50_MS and not errors
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict} p50 {p50:.1f} ms (target <= {TARGET_P50_MS:.0f} ms), {len(errors)} errors (target 0)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
