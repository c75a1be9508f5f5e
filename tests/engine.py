"""The real search-engine node for the tests: started by ``scripts/search-engine`` (a running one is
reused and left running), one fresh index per test, deleted afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "search-engine"


def engine(*args: str, home: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/search-engine ARGS`` (for the node whose state is under ``home``, when given)."""
    env = dict(os.environ)
    if home is not None:
        env["WHENCE_ENGINE_HOME"] = str(home)
        env["WHENCE_ENGINE_HEAP"] = "512m"
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env)


def start_engine(home: Path | None = None) -> str:
    """Start (or reuse) a node; its URL.  Fails the test, never skips it, when the node cannot start."""
    out = engine("start", home=home)
    if out.returncode != 0:
        pytest.fail(f"scripts/search-engine start failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def http(method: str, url: str, body: Any = None) -> Any:
    """One plain REST call (test setup and checks go around the code under test)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def drop_indices(base: str, name: str) -> None:
    """Delete every physical index of a whence index ``name`` (``name-v1``, ``name-v2``, ...)."""
    for row in http("GET", f"{base}/_cat/indices/{name}-v*?format=json"):
        http("DELETE", f"{base}/{row['index']}")


@pytest.fixture(scope="session")
def engine_url() -> Iterator[str]:
    """The URL of the local node, started for this session unless one is already running."""
    was_running = engine("url").returncode == 0
    url = start_engine()
    yield url
    if not was_running:
        engine("stop")


@pytest.fixture()
def engine_index(engine_url: str) -> Iterator[str]:
    """A fresh index name on the node (as a target URL), deleted after the test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield f"{engine_url}/{name}"
    drop_indices(engine_url, name)
