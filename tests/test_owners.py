"""Owners: ``GET /v1/owners/{owner}``, ``whence index owners OWNER`` and the opt-out of a whole owner
(``owner/*``, ``--owner``), on a real SQLite file and on the real OpenSearch and Elasticsearch nodes."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State
from whence.cli import main
from whence.index import ingest, search
from whence.index.stores import open_store

from .engine import ENGINES, Nodes, drop_indices

KINDS = ["sqlite", *ENGINES]
#: repository -> the corpus files it holds.  ``acme_x`` and ``acmex`` test that an owner's name is
#: matched whole (``_`` is no wildcard); ``Acme/two`` that owners compare case-insensitively;
#: ``other/keep`` shares heapq.py with ``acme/one``.
REPOS = {
    "acme/one": ["heapq.py", "bisect.py"],
    "Acme/two": ["textwrap.py"],
    "acme_x/other": ["difflib.py"],
    "acmex/three": ["calendar.py"],
    "other/keep": ["heapq.py"],
}
LICENSES = {"acme/one": "MIT", "Acme/two": "GPL-3.0-only", "acme_x/other": "MIT", "acmex/three": "MIT",
            "other/keep": "Apache-2.0"}  # fmt: skip


@pytest.fixture(params=KINDS)
def owned(request: pytest.FixtureRequest, tmp_path: Path, corpus: Path, engine_nodes: Nodes) -> Iterator[str]:
    """An index of REPOS on the parametrised store."""
    kind = request.param
    if kind == "sqlite":
        target = str(tmp_path / "owners.sqlite")
    else:
        target = f"{engine_nodes.url(kind)}/test-{uuid.uuid4().hex[:12]}"
    _build(target, tmp_path, corpus, list(REPOS))
    yield target
    if kind != "sqlite":
        drop_indices(engine_nodes.url(kind), target.rsplit("/", 1)[1])


def _build(target: str, tmp: Path, corpus: Path, repos: list[str]) -> list[dict[str, Any]]:
    reports = []
    with open_store(target, create=True) as store:
        for repo in repos:
            folder = tmp / "src" / repo.replace("/", "__")
            folder.mkdir(parents=True, exist_ok=True)
            for name in REPOS[repo]:
                shutil.copy(corpus / name, folder / name)
            src = ingest.sources([folder], repo=repo, licenses=[LICENSES[repo]])
            reports.append(ingest.build(store, src, workers=1).as_dict())
    return reports


def _cli(*args: str) -> Any:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def test_owner_listing_and_opt_out(owned: str, tmp_path: Path, corpus: Path) -> None:
    with open_store(owned, readonly=True) as s:
        page1 = s.owner("ACME", limit=1)
        page2 = s.owner("acme", limit=1, offset=1)
        assert (page1.total, page2.total) == (2, 2)
        assert [(r.repo, r.files, r.licenses) for r in page1.repos + page2.repos] == [
            ("Acme/two", 1, ["GPL-3.0-only"]),
            ("acme/one", 2, ["MIT"]),
        ]
        assert [r.repo for r in s.owner("acme_x").repos] == ["acme_x/other"]
        assert s.owner("acm").total == 0 and s.owner("nobody").repos == []
        heapq = search.search(s, (corpus / "heapq.py").read_text(), top=1)
        assert {o.repo for o in heapq.matches[0].occurrences} == {"acme/one", "other/keep"}

    listed = json.loads(_cli("index", "owners", "acme", "--index", owned, "--format", "json"))
    assert listed["repos_total"] == 2 and listed["in_index"] and not listed["opted_out"]
    assert [(r["repo"], r["files"], r["license_category"]) for r in listed["repos"]] == [
        ("Acme/two", 1, "copyleft"),
        ("acme/one", 2, "permissive"),
    ]
    text = _cli("index", "owners", "acme", "--index", owned, "--limit", "1", "--offset", "1")
    assert "acme/one  2 files  MIT [permissive]" in text and "acme: 2-2 of 2 repositories" in text

    out = _cli("index", "optout", "add", "--owner", "ACME", "--index", owned)
    # acme/one's 2 files and Acme/two's 1; bisect.py and textwrap.py were nowhere else, heapq.py is kept
    assert "opted out ACME/*: removed 3 occurrences and 2 documents" in out, out
    entries = json.loads(_cli("index", "optout", "list", "--index", owned, "--format", "json"))
    assert [e["repo"] for e in entries] == ["ACME/*"]
    gone = json.loads(_cli("index", "owners", "acme", "--index", owned, "--format", "json"))
    assert gone["repos_total"] == 0 and not gone["in_index"] and gone["opted_out"]
    assert [e["repo"] for e in gone["optouts"]] == ["ACME/*"]
    with open_store(owned, readonly=True) as s:
        assert [r.repo for r in s.owner("acme_x").repos] == ["acme_x/other"]  # another owner: untouched
        assert [r.repo for r in s.owner("acmex").repos] == ["acmex/three"]
        heapq = search.search(s, (corpus / "heapq.py").read_text(), top=1)
        assert [o.repo for o in heapq.matches[0].occurrences] == ["other/keep"]
        wrap = search.search(s, (corpus / "textwrap.py").read_text(), top=1)
        assert wrap.verdict == "none"  # its only repository was the owner's
    # Every later build keeps the owner out, whatever the capitalisation of its repositories.
    again = _build(owned, tmp_path, corpus, ["acme/one", "Acme/two"])
    assert [r["skipped"].get("opted_out") for r in again] == [2, 1]
    with open_store(owned, readonly=True) as s:
        assert s.owner("acme").total == 0

    _cli("index", "optout", "remove", "--owner", "ACME", "--index", owned)
    assert json.loads(_cli("index", "optout", "list", "--index", owned, "--format", "json")) == []
    _build(owned, tmp_path, corpus, ["acme/one", "Acme/two"])
    with open_store(owned, readonly=True) as s:
        assert s.owner("acme").total == 2


def test_owners_route(owned: str, tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite")
    st = State(state)
    key = st.create_key("owners")[1]
    st.close()
    auth = {"Authorization": f"Bearer {key}"}
    _cli("index", "optout", "add", "acme/one", "--index", owned)
    with TestClient(create_app(Settings(index=owned, state=state, search_processes=0))) as client:
        out = client.get("/v1/owners/ACME", headers=auth).json()
        assert out["owner"] == "ACME" and out["repos_total"] == 1 and out["in_index"] and not out["opted_out"]
        assert out["repos"] == [{"repo": "Acme/two", "files": 1, "licenses": ["GPL-3.0-only"],
                                 "license_category": "copyleft", "opted_out": False}]  # fmt: skip
        assert [e["repo"] for e in out["optouts"]] == ["acme/one"]
        page = client.get("/v1/owners/acmex", params={"limit": 1, "offset": 1}, headers=auth).json()
        assert page["repos_total"] == 1 and page["repos"] == [] and page["offset"] == 1
        repo = client.get("/v1/repos/acme/one", headers=auth).json()
        assert repo["opted_out"] and not repo["in_index"]
        _cli("index", "optout", "add", "--owner", "acme", "--index", owned)
        out = client.get("/v1/owners/acme", headers=auth).json()
        assert out["opted_out"] and out["repos_total"] == 0
        assert sorted(e["repo"] for e in out["optouts"]) == ["acme/*", "acme/one"]
        assert client.get("/v1/repos/Acme/two", headers=auth).json()["opted_out"]  # through acme/*
        err = client.get("/v1/owners/bad%20owner", headers=auth)
        assert err.status_code == 422 and err.json()["error"]["field"] == "owner"
        assert client.get("/v1/owners/acme", params={"limit": 0}, headers=auth).status_code == 422
        far = client.get("/v1/owners/acmex", params={"offset": 20_000}, headers=auth)
        if owned.startswith("http"):  # past a search engine's window: a clear 422, not a wrong page
            assert far.status_code == 422 and "at most 10000" in far.json()["error"]["message"]
        else:
            assert far.status_code == 200 and far.json()["repos"] == [] and far.json()["repos_total"] == 1
        assert client.get("/v1/owners/acme").status_code == 401


def test_bad_owner_and_opt_out_arguments_are_exit_2(tmp_path: Path) -> None:
    target = str(tmp_path / "x.sqlite")
    runner = CliRunner()
    for args, words in [
        (["index", "optout", "add"], "--owner OWNER"),
        (["index", "optout", "add", "--owner", "a/b"], "not a repository owner"),
        (["index", "optout", "add", "a%/*"], "not a repository name"),
        (["index", "optout", "remove", "--owner", "bad owner"], "not a repository owner"),
        (["index", "owners", "bad owner"], "not a repository owner"),
    ]:
        res = runner.invoke(main, [*args, "--index", target])
        assert res.exit_code == 2 and words in res.output, (args, res.output)
