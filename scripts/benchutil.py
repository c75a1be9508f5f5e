"""Pieces the build benchmarks share: peak RSS, a rates line, and running a build in a fresh process."""

from __future__ import annotations

import json
import resource
import subprocess
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rates(r: dict[str, Any]) -> str:
    """``files, MB, seconds, MB/s, files/s`` of a result with ``files``, ``bytes`` and ``seconds``."""
    s = max(r["seconds"], 1e-9)
    mb = r["bytes"] / 1e6
    return f"{r['files']:>7} files {mb:8.1f} MB {s:8.2f} s {mb / s:8.2f} MB/s {r['files'] / s:8.0f} files/s"


def child_result(cmd: list[str]) -> dict[str, Any] | str:
    """Run a benchmark in a fresh process (so its peak RSS is its own) and return the ``whence`` part of
    the JSON line it prints, or why it failed."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
    if out.returncode != 0 or line is None:
        return f"failed (exit {out.returncode}): {out.stderr.strip()[-500:]}"
    result: dict[str, Any] = json.loads(line)["whence"]
    return result
