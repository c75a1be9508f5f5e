"""``docker-compose.yml``, checked without a Docker engine: ``scripts/compose-check`` loads it with
compose-go, the library Docker Compose v2 loads files with (schema, interpolation, references between
services), and prints the resolved project, whose wiring the tests then check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .engine import engine_version

ROOT = Path(__file__).resolve().parent.parent
GO = shutil.which("go")
pytestmark = pytest.mark.skipif(GO is None, reason="needs Go to build scripts/compose-check")


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compose-check") / "compose-check"
    assert GO is not None
    subprocess.run([GO, "build", "-o", str(out), "."], cwd=ROOT / "scripts" / "compose-check", check=True,
                   timeout=900)  # fmt: skip
    return out


def _load(checker: Path, path: Path) -> subprocess.CompletedProcess[str]:
    # Defaults only: no ES_VERSION, WHENCE_TAG ... from the environment running the tests.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    return subprocess.run([str(checker), str(path)], cwd=path.parent, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_compose_file_is_valid_and_wired(checker: Path) -> None:
    res = _load(checker, ROOT / "docker-compose.yml")
    assert res.returncode == 0, res.stderr
    services: dict[str, Any] = json.loads(res.stdout)["services"]
    assert set(services) == {"elasticsearch", "api", "opensearch", "api-opensearch", "whence"}
    # The engines: loopback-only ports, a health check the APIs wait for, pinned images of the versions
    # the tests run against (scripts/engine/: pom.xml and elasticsearch.version).
    assert services["opensearch"]["image"] == f"opensearchproject/opensearch:{engine_version('opensearch')}"
    es_image = f"docker.elastic.co/elasticsearch/elasticsearch:{engine_version('elasticsearch')}"
    assert services["elasticsearch"]["image"] == es_image
    for engine, api, port in (("elasticsearch", "api", "8000"), ("opensearch", "api-opensearch", "8001")):
        assert [p["host_ip"] for p in services[engine]["ports"]] == ["127.0.0.1"]
        assert services[engine]["healthcheck"]["test"]
        a = services[api]
        cmd = a["command"]
        assert cmd[0] == "serve" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
        assert cmd[cmd.index("--index") + 1] == f"http://{engine}:9200/whence"
        assert a["depends_on"][engine]["condition"] == "service_healthy"
        assert [(p["host_ip"], p["published"], p["target"]) for p in a["ports"]] == [
            ("127.0.0.1", port, 8000)
        ]
        assert "/healthz" in " ".join(a["healthcheck"]["test"])
        assert a["environment"]["WHENCE_STATE"].startswith("/data/")
        assert any(v["target"] == "/data" for v in a["volumes"])
        assert a["image"] == services["whence"]["image"] == "whence:latest"
    # The CLI service shares the data volume (keys created with it are the APIs' keys).
    assert services["whence"]["environment"]["WHENCE_STATE"] == services["api"]["environment"]["WHENCE_STATE"]


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("    mem_limit: ${ES_MEM_LIMIT:-2g}", "    mem_limt: 2g", "mem_limt"),
        ("condition: service_healthy", "condition: service_happy", "condition"),
        ("    depends_on:\n      elasticsearch:", "    depends_on:\n      elastic:", "undefined service"),
    ],
)
def test_compose_check_rejects_a_broken_file(
    checker: Path, tmp_path: Path, old: str, new: str, why: str
) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert old in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    res = _load(checker, broken)
    assert res.returncode == 1 and why in res.stderr, res.stderr
