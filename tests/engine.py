"""The real search-engine nodes for the tests, OpenSearch and Elasticsearch: started by
``scripts/search-engine --engine KIND`` on first use (a running one is reused and left running), one
fresh index per test, deleted afterwards.

``engine_url`` and ``engine_index`` are parametrised over both engines, so a test that takes either runs
once on each node; ``engine_kind`` names the engine of the current run."""

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
ENGINES = ("opensearch", "elasticsearch")


def engine_version(kind: str) -> str:
    """The version of ``kind`` that scripts/search-engine runs (pinned in scripts/engine/)."""
    if kind == "elasticsearch":
        return (REPO / "scripts" / "engine" / "elasticsearch.version").read_text().strip()
    pom = (REPO / "scripts" / "engine" / "pom.xml").read_text()
    return pom.split("<opensearch.version>", 1)[1].split("<", 1)[0]


def engine(
    *args: str, home: Path | None = None, kind: str = "opensearch", timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/search-engine ARGS --engine KIND`` (for the node whose state is under ``home``, when
    given)."""
    env = dict(os.environ)
    if home is not None:
        env["WHENCE_ENGINE_HOME"] = str(home)
        env["WHENCE_ENGINE_HEAP"] = "512m"
    cmd = [str(SCRIPT), *args, "--engine", kind]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def start_engine(home: Path | None = None, kind: str = "opensearch") -> str:
    """Start (or reuse) a node; its URL.  Fails the test, never skips it, when the node cannot start."""
    out = engine("start", home=home, kind=kind)
    if out.returncode != 0:
        pytest.fail(f"scripts/search-engine start --engine {kind} failed:\n{out.stderr[-3000:]}")
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


class Nodes:
    """The session's local nodes by engine, each started when a test first needs it."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.started: list[str] = []

    def url(self, kind: str) -> str:
        if kind not in self.urls:
            was_running = engine("url", kind=kind).returncode == 0
            self.urls[kind] = start_engine(kind=kind)
            if not was_running:
                self.started.append(kind)
        return self.urls[kind]


@pytest.fixture(scope="session")
def engine_nodes() -> Iterator[Nodes]:
    """The local nodes; those this session started are stopped at its end."""
    nodes = Nodes()
    yield nodes
    for kind in nodes.started:
        engine("stop", kind=kind)


@pytest.fixture(scope="session", params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """``opensearch`` or ``elasticsearch``: the engine a test taking it runs on."""
    kind: str = request.param
    return kind


@pytest.fixture(scope="session")
def engine_url(engine_kind: str, engine_nodes: Nodes) -> str:
    """The URL of the local node of ``engine_kind``, started for this session unless already running."""
    return engine_nodes.url(engine_kind)


@pytest.fixture()
def engine_index(engine_url: str) -> Iterator[str]:
    """A fresh index name on the node (as a target URL), deleted after the test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield f"{engine_url}/{name}"
    drop_indices(engine_url, name)
