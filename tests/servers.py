"""A real uvicorn server in a thread, for over-the-wire tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

STARTUP_COMPLETE = "Application startup complete."  # what uvicorn logs once a server process's lifespan ran


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def whence_serve(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``whence serve ARGS`` as its own process on a free loopback port, up once ``/healthz`` answers and
    every server process (``--workers N``) has logged that its startup is complete (each has run its
    lifespan by then, and listens on the shared socket right after); yields the process and its base URL,
    and stops it (SIGTERM) afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    cmd = [sys.executable, "-m", "whence", "serve", "--port", str(port), *args]
    with tempfile.TemporaryDirectory(prefix="whence-serve-") as tmp:
        log_path = Path(tmp) / "serve.log"
        with log_path.open("ab") as log:  # appended to by the server, read here as it grows
            server = subprocess.Popen(cmd, env=os.environ | (env or {}), stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                started = log_path.read_text(errors="replace").count(STARTUP_COMPLETE)
                with contextlib.suppress(httpx.HTTPError):
                    if started >= workers and httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(
                        f"whence serve did not start ({started} of {workers} server processes did; exit "
                        f"status {server.poll()}):\n{tail}"
                    )
                time.sleep(0.2)
            yield server, base
        finally:
            if server.poll() is None:
                server.terminate()
            server.wait(timeout=30)
