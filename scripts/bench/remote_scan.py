"""What ``whence scan --remote`` sends, and how long it takes, against searching each file on ``/v1/search``.

Starts ``whence serve`` (a subprocess on 127.0.0.1, one search process) over an index, creates an API key in
a throwaway state database, and scans one folder of real code three ways, in this process:

* ``local``: ``scan.engine.run`` on the index file (no HTTP; the reference findings);
* ``remote``: ``scan.engine.run_remote`` through ``scan.client.Service``, what ``whence scan --remote``
  runs: fingerprints out, candidates back, alignment here;
* ``per-file search``: one ``POST /v1/search`` per file with its code, the way to ask a service without
  fingerprint search.

It prints, for each, the seconds, the request bytes sent per KB of scanned code and the answer bytes, and
the ratios (remote / per-file search) in the same run, and checks that the remote scan found exactly the
local scan's regions.

By default the index is built here from the first half (by name) of this Python's standard library
modules (``Lib/*.py``), and the folder scanned is a copy of all of them: half of it indexed, half not.

    python scripts/bench/remote_scan.py [--index PATH --folder DIR] [--modules 240] [--jobs 1]

``--jobs 1`` by default: on a machine of two shared cores, worker processes cost both scans more than
they save at this size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

from whence.api.state import State
from whence.index import ingest
from whence.index.stores import open_store
from whence.scan import engine
from whence.scan.client import Service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"whence serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # not listening yet: poll again
    raise SystemExit("whence serve did not answer /healthz in time")


def search_each(base: str, key: str, files: list[Path]) -> tuple[float, int, int]:
    """One ``POST /v1/search`` per file: (seconds, request bytes, answer bytes)."""
    sent = received = 0
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    t0 = time.perf_counter()
    for p in files:
        code = p.read_text(encoding="utf-8", errors="replace")
        body = json.dumps({"code": code}).encode()
        sent += len(body)
        req = urllib.request.Request(f"{base}/v1/search", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                received += len(res.read())
        except urllib.error.HTTPError as exc:  # an empty or binary file: 422, counted like any answer
            received += len(exc.read())
    return time.perf_counter() - t0, sent, received


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--index", type=Path, help="An existing index (with --folder); default: built here.")
    ap.add_argument("--folder", type=Path, help="The folder to scan (with --index).")
    ap.add_argument("--modules", type=int, default=240, help="Standard library modules (default index).")
    ap.add_argument("--jobs", type=int, default=1, help="Scan threads and processes, both scans (default 1).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="whence-remote-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if args.index is None:
            stdlib = Path(sysconfig.get_paths()["stdlib"])
            modules = sorted(p for p in stdlib.glob("*.py") if p.stat().st_size > 0)[: args.modules]
            folder = tmp / "scanned"
            indexed = tmp / "indexed"
            folder.mkdir()
            indexed.mkdir()
            for i, p in enumerate(modules):
                shutil.copy(p, folder / p.name)
                if i < len(modules) // 2:
                    shutil.copy(p, indexed / p.name)
            index = tmp / "index.sqlite"
            with open_store(index, create=True) as st:
                ingest.build(st, ingest.sources([indexed], repo="python/cpython", licenses=["PSF-2.0"]))
        else:
            if args.folder is None:
                ap.error("--index needs --folder")
            index, folder = args.index, args.folder
        files = sorted(p.resolve() for p in folder.rglob("*") if p.is_file())
        code_kb = sum(p.stat().st_size for p in files) / 1024
        state = tmp / "state.sqlite"
        st8 = State(str(state))
        key = st8.create_key("bench")[1]
        st8.close()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "whence", "serve", "--index", str(index), "--state", str(state),
               "--port", str(port), "--search-processes", "1"]  # fmt: skip
        env = {**os.environ, "WHENCE_RATE_LIMIT_PER_MINUTE": "1000000", "WHENCE_RATE_LIMIT_BURST": "100000"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(base, proc)
            t0 = time.perf_counter()
            local = engine.run(files, str(index), min_tokens=40, jobs=args.jobs)
            t_local = time.perf_counter() - t0
            service = Service(base, key)
            t0 = time.perf_counter()
            rem = engine.run_remote(files, service, min_tokens=40, jobs=args.jobs)
            t_remote = time.perf_counter() - t0
            t_each, each_sent, each_received = search_each(base, key, files)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

        def regions(s: engine.Scanned) -> list[tuple[object, ...]]:
            return sorted(
                (str(r.path), r.lines, r.verdict, r.tokens, r.source_lines, r.blob_id) for r in s.regions
            )

        same = regions(local) == regions(rem) and not rem.errors
        print(
            f"{len(files)} files, {code_kb:.0f} KB of code; {len(local.regions)} copied regions found locally"
        )
        print(f"{'':<18}{'seconds':>9}{'sent B/KB':>11}{'answers KB':>12}{'requests':>10}")
        print(f"{'local scan':<18}{t_local:>9.2f}{'-':>11}{'-':>12}{'-':>10}")
        print(f"{'remote scan':<18}{t_remote:>9.2f}{service.sent / code_kb:>11.0f}"
              f"{service.received / 1024:>12.0f}{service.requests:>10}")  # fmt: skip
        print(f"{'per-file search':<18}{t_each:>9.2f}{each_sent / code_kb:>11.0f}"
              f"{each_received / 1024:>12.0f}{len(files):>10}")  # fmt: skip
        answers = service.received / max(each_received, 1)
        print(f"ratio remote / per-file search: time {t_remote / t_each:.2f}, sent bytes "
              f"{service.sent / each_sent:.2f}, answer bytes {answers:.2f}")  # fmt: skip
        print(f"remote findings == local findings: {same}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
