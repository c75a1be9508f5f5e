"""`whence scan` on real git repositories made here, against a real index of real code.

The index (``built_index``, see conftest) holds modules of this Python's standard library as
``python/cpython`` under PSF-2.0 (permissive, attribution required); ``mixed_index`` adds one module
under a copyleft license as another repository.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from whence.cli import main
from whence.index import ingest
from whence.index.stores import open_store
from whence.scan.files import remote_uri

from . import mutations
from .conftest import STDLIB

OWN_CODE = '''"""Inventory bookkeeping for the warehouse service."""

from dataclasses import dataclass


@dataclass
class Bin:
    aisle: str
    shelf: int
    capacity: int
    items: dict[str, int]

    def free(self) -> int:
        return self.capacity - sum(self.items.values())

    def put(self, sku: str, count: int) -> None:
        if count > self.free():
            raise ValueError(f"bin {self.aisle}-{self.shelf} holds only {self.free()} more")
        self.items[sku] = self.items.get(sku, 0) + count

    def take(self, sku: str, count: int) -> int:
        have = self.items.get(sku, 0)
        taken = min(have, count)
        if taken == have:
            self.items.pop(sku, None)
        else:
            self.items[sku] = have - taken
        return taken


def restock_plan(bins: list[Bin], wanted: dict[str, int]) -> list[tuple[str, int, int]]:
    plan = []
    for sku, count in sorted(wanted.items()):
        for b in sorted(bins, key=lambda b: (-b.free(), b.aisle, b.shelf)):
            if count <= 0:
                break
            n = min(count, b.free())
            if n:
                plan.append((sku, b.shelf, n))
                count -= n
    return plan
'''


def _lines(corpus: Path, name: str, start: int, end: int) -> str:
    return "".join((corpus / name).read_text().splitlines(keepends=True)[start - 1 : end])


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git repository with its own (unrelated) code committed."""
    r = tmp_path / "repo"
    (r / "src").mkdir(parents=True)
    (r / "src" / "inventory.py").write_text(OWN_CODE)
    git(r, "init", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "own code")
    return r


def scan(index: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    res = CliRunner().invoke(main, ["scan", *args, "--index", str(index), "--format", "json"])
    data = json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}
    return res, data


def test_own_code_passes(repo: Path, built_index: Path) -> None:
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 0, res.output
    assert data["status"] == "clean" and data["findings"] == []
    assert data["files"]["scanned"] == 1


def test_pasted_copy_fails(repo: Path, built_index: Path, corpus: Path) -> None:
    pasted = OWN_CODE + "\n\n" + _lines(corpus, "textwrap.py", 247, 300)
    (repo / "src" / "inventory.py").write_text(pasted)
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 1, res.output
    [f] = data["findings"]
    assert f["path"] == "src/inventory.py" and f["verdict"] == "verbatim"
    assert f["rules"] == ["verbatim-copy"] and f["failing_rules"] == ["verbatim-copy"]
    own_lines = OWN_CODE.count("\n") + 2
    assert own_lines < f["lines"][0] and f["lines"][1] <= own_lines + 54
    origin = f["origin"]
    assert (origin["repo"], origin["path"]) == ("python/cpython", "textwrap.py")
    assert origin["licenses"] == ["PSF-2.0"]
    assert origin["license_category"] == "permissive" and origin["attribution_required"]
    assert origin["source_lines"][0] >= 247 and origin["source_lines"][1] <= 300

    text = CliRunner().invoke(main, ["scan", str(repo), "--index", str(built_index)])
    assert text.exit_code == 1
    assert "FAIL src/inventory.py" in text.stdout and "python/cpython textwrap.py" in text.stdout


def test_reformatted_copy_fails(repo: Path, built_index: Path, corpus: Path) -> None:
    frag = _lines(corpus, "heapq.py", 260, 310)
    (repo / "src" / "queue_util.py").write_text(mutations.strip_comments(mutations.reindent(frag)))
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 1, res.output
    assert {(f["path"], f["verdict"], f["origin"]["path"]) for f in data["findings"]} == {
        ("src/queue_util.py", "verbatim", "heapq.py")
    }


def test_renamed_copy_is_a_near_duplicate(repo: Path, built_index: Path, corpus: Path) -> None:
    (repo / "src" / "merge.py").write_text(mutations.rename(_lines(corpus, "heapq.py", 258, 300)))
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 1, res.output
    assert [(f["verdict"], f["rules"]) for f in data["findings"]] == [("near-duplicate", ["near-duplicate"])]
    # Failing only on verbatim copies, the renamed one is reported but passes.
    res, data = scan(built_index, str(repo), "--fail-on", "verbatim")
    assert res.exit_code == 0 and data["findings"] and not data["findings"][0]["failing"]


def test_inline_attribution_passes(repo: Path, built_index: Path, corpus: Path) -> None:
    frag = _lines(corpus, "textwrap.py", 247, 300)
    marker = "# Adapted from Python. whence: attributed https://github.com/python/cpython/blob/main/Lib/textwrap.py\n"
    (repo / "src" / "wrap.py").write_text(marker + frag)
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 0, res.output
    [f] = data["findings"]
    assert f["attributed"].startswith("inline comment on line 1") and not f["failing"]
    # A marker naming another repository credits nothing.
    (repo / "src" / "wrap.py").write_text(marker.replace("python/cpython", "someone/else") + frag)
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 1 and data["findings"][0]["attributed"] is None


def test_notice_file_attribution_and_generated_notice(repo: Path, built_index: Path, corpus: Path) -> None:
    (repo / "src" / "wrap.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    (repo / "src" / "bis.py").write_text(_lines(corpus, "bisect.py", 1, 60))
    res = CliRunner().invoke(main, ["scan", str(repo), "--index", str(built_index), "--format", "notice"])
    assert res.exit_code == 0  # writing a notice is no policy check (see tests/test_notice.py)
    notice = res.stdout
    assert "python/cpython" in notice and "License: PSF-2.0 (permissive)" in notice
    assert "src/wrap.py lines" in notice and "src/bis.py lines" in notice
    assert "https://github.com/python/cpython/blob/" in notice
    # Kept in the repository, the generated notice credits the origins: the scan passes.
    (repo / "THIRD_PARTY_NOTICES").write_text(notice)
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 0, res.output
    assert all(f["attributed"] == "THIRD_PARTY_NOTICES names python/cpython" for f in data["findings"])
    assert len(data["findings"]) == 2


def test_diff_judges_only_added_lines(repo: Path, built_index: Path, corpus: Path) -> None:
    (repo / "src" / "old_copy.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "an old copy, already on the main branch")
    base = git(repo, "rev-parse", "HEAD").strip()

    # New own lines next to the old copy: nothing added is copied.
    with (repo / "src" / "old_copy.py").open("a") as fh:
        fh.write("\n\ndef shelf_label(aisle: str, shelf: int) -> str:\n    return f'{aisle}-{shelf:03d}'\n")
    git(repo, "commit", "-qam", "own change")
    res, data = scan(built_index, str(repo), "--diff", base)
    assert res.exit_code == 0, res.output
    assert data["findings"] == [] and data["diff"] == base
    res, _ = scan(built_index, str(repo))  # the whole tree still holds the old copy
    assert res.exit_code == 1

    # A pasted copy in the change fails, and only the added lines are reported.
    inv = repo / "src" / "inventory.py"
    before = inv.read_text().count("\n")
    inv.write_text(inv.read_text() + "\n" + _lines(corpus, "bisect.py", 1, 60))
    git(repo, "commit", "-qam", "paste")
    res, data = scan(built_index, str(repo), "--diff", base)
    assert res.exit_code == 1, res.output
    [f] = data["findings"]
    assert f["path"] == "src/inventory.py" and f["lines"][0] > before
    assert f["origin"]["path"] == "bisect.py"

    # A new file git does not track yet counts in full.
    (repo / "src" / "new.py").write_text(_lines(corpus, "shlex.py", 130, 190))
    res, data = scan(built_index, str(repo), "--diff", "HEAD")
    assert res.exit_code == 1
    assert {f["path"] for f in data["findings"]} == {"src/new.py"}

    res, _ = scan(built_index, str(repo), "--diff", "no-such-branch")
    assert res.exit_code == 2 and "no-such-branch" in res.stderr


def test_skips_gitignored_vendored_binary_generated(repo: Path, built_index: Path, corpus: Path) -> None:
    frag = _lines(corpus, "textwrap.py", 247, 300)
    (repo / ".gitignore").write_text("*.log\nbuild-output/\n!keep.log\n")
    (repo / "debug.log").write_text(frag)
    (repo / "build-output").mkdir()
    (repo / "build-output" / "x.py").write_text(frag)
    (repo / "node_modules" / "pkg").mkdir(parents=True)
    (repo / "node_modules" / "pkg" / "index.py").write_text(frag)
    (repo / "src" / "blob.bin").write_bytes(b"\x00\x01" + frag.encode())
    (repo / "src" / "api_pb2.py").write_text(frag)
    (repo / "src" / "gen.py").write_text("# Code generated by protoc. DO NOT EDIT.\n" + frag)
    (repo / "src" / "sub").mkdir()
    (repo / "src" / "sub" / ".gitignore").write_text("*.py\n")
    (repo / "src" / "sub" / "hidden.py").write_text(frag)
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 0, res.output
    assert data["files"]["scanned"] == 1
    assert data["files"]["skipped"] == {
        "binary": 1, "generated": 2, "gitignored": 2, "gitignored folder": 1, "vendored folder": 1,
    }  # fmt: skip
    # A negated pattern brings a file back; --include-vendored scans vendored and generated code.
    (repo / "keep.log").write_text(frag)
    res, data = scan(built_index, str(repo))
    assert res.exit_code == 1 and [f["path"] for f in data["findings"]] == ["keep.log"]
    res, data = scan(built_index, str(repo), "--include-vendored")
    paths = {f["path"] for f in data["findings"]}
    assert {"node_modules/pkg/index.py", "src/api_pb2.py", "src/gen.py"} <= paths
    assert "debug.log" not in paths and "build-output/x.py" not in paths


@pytest.fixture(scope="module")
def mixed_index(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus (PSF-2.0) plus one module under GPL-3.0-only and one without any license."""
    base = tmp_path_factory.mktemp("mixed")
    gpl, nolic = base / "gpl", base / "nolic"
    gpl.mkdir()
    nolic.mkdir()
    shutil.copy(STDLIB / "sched.py", gpl / "sched.py")
    shutil.copy(STDLIB / "graphlib.py", nolic / "graphlib.py")
    path = base / "index.sqlite"
    with open_store(path, create=True) as store:
        src = [
            *ingest.sources([corpus], repo="python/cpython", licenses=["PSF-2.0"]),
            *ingest.sources([gpl], repo="example/gpl-lib", licenses=["GPL-3.0-only"]),
            *ingest.sources([nolic], repo="example/nolicense"),
        ]
        ingest.build(store, iter(src), workers=2)
    return path


def _copies(repo: Path) -> None:
    (repo / "src" / "a.py").write_text(_lines(STDLIB, "textwrap.py", 247, 300))
    (repo / "src" / "b.py").write_text(_lines(STDLIB, "sched.py", 60, 130))
    (repo / "src" / "c.py").write_text(_lines(STDLIB, "graphlib.py", 90, 160))


def test_policy_in_pyproject(repo: Path, mixed_index: Path) -> None:
    _copies(repo)
    res, data = scan(mixed_index, str(repo))
    assert res.exit_code == 1
    rules = {f["path"]: f["failing_rules"] for f in data["findings"]}
    assert rules == {
        "src/a.py": ["verbatim-copy"],
        "src/b.py": ["verbatim-copy", "license-copyleft"],
        "src/c.py": ["verbatim-copy", "license-unknown"],
    }
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "inventory"\n\n[tool.whence]\nfail-on = ["copyleft"]\n'
        'allowed-licenses = ["public-domain", "permissive", "unknown"]\n'
    )
    res, data = scan(mixed_index, str(repo))
    assert res.exit_code == 1
    assert data["policy"]["source"].endswith("pyproject.toml")
    assert [f["path"] for f in data["findings"] if f["failing"]] == ["src/b.py"]
    # --fail-on overrides the policy; ignore patterns and accepted repositories come from it.
    res, _ = scan(mixed_index, str(repo), "--fail-on", "none")
    assert res.exit_code == 0
    (repo / "whence.toml").write_text('ignore = ["src/b.py"]\nattributed = ["python/cpython"]\n')
    res, data = scan(mixed_index, str(repo))
    assert data["policy"]["source"].endswith("whence.toml")
    failing = {f["path"] for f in data["findings"] if f["failing"]}
    assert res.exit_code == 1 and failing == {"src/c.py"}
    assert "src/b.py" not in {f["path"] for f in data["findings"]}


def test_bad_policy_is_an_error(repo: Path, built_index: Path) -> None:
    (repo / "whence.toml").write_text('fail-on = ["verbatim"]\nfail_on_typo = true\n')
    res, _ = scan(built_index, str(repo))
    assert res.exit_code == 2 and "fail_on_typo" in res.stderr
    (repo / "whence.toml").write_text('fail-on = ["sometimes"]\n')
    res, _ = scan(built_index, str(repo))
    assert res.exit_code == 2 and "sometimes" in res.stderr
    (repo / "whence.toml").unlink()
    res, _ = scan(built_index, str(repo), "--fail-on", "none,verbatim")
    assert res.exit_code == 2 and "cannot be combined" in res.stderr
    res, _ = scan(built_index, str(repo), "--policy", str(repo / "missing.toml"))
    assert res.exit_code == 2


def test_sarif_validates_against_the_schema(repo: Path, mixed_index: Path) -> None:
    from jsonschema import Draft4Validator

    from . import sarif_schema

    _copies(repo)
    a = repo / "src" / "a.py"
    a.write_text("# whence: attributed https://github.com/python/cpython\n" + a.read_text())
    res = CliRunner().invoke(main, ["scan", str(repo), "--index", str(mixed_index), "--format", "sarif"])
    assert res.exit_code == 1, res.output
    log = json.loads(res.stdout)
    schema = sarif_schema.load()
    Draft4Validator.check_schema(schema)
    errors = sorted(Draft4Validator(schema).iter_errors(log), key=str)
    assert not errors, errors[0]
    [run] = log["runs"]
    loc = "locations"
    results = {
        (r["ruleId"], r[loc][0]["physicalLocation"]["artifactLocation"]["uri"]): r for r in run["results"]
    }
    assert set(results) == {
        ("verbatim-copy", "src/a.py"), ("verbatim-copy", "src/b.py"), ("license-copyleft", "src/b.py"),
        ("verbatim-copy", "src/c.py"), ("license-unknown", "src/c.py"),
    }  # fmt: skip
    gpl = results[("license-copyleft", "src/b.py")]
    assert gpl["level"] == "error"
    msg = gpl["message"]["text"]
    assert "example/gpl-lib" in msg and "sched.py" in msg and "GPL-3.0-only" in msg
    region = gpl["locations"][0]["physicalLocation"]["region"]
    assert 1 <= region["startLine"] <= region["endLine"] <= 71
    attributed = results[("verbatim-copy", "src/a.py")]
    assert attributed["level"] == "note" and attributed["suppressions"][0]["kind"] == "inSource"
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {"verbatim-copy", "license-copyleft", "license-unknown"} <= set(rules)
    for r in run["results"]:
        assert rules[r["ruleIndex"]] == r["ruleId"]


def test_sarif_passes_the_multitool_with_github_rules(repo: Path, mixed_index: Path, tmp_path: Path) -> None:
    """Microsoft's SARIF multitool, with the SARIF rules and GitHub's ingestion rules, finds no error
    and no warning.  The notes it may still give are ones whence cannot or should not act on:
    SARIF2002 (messages as ``id`` + ``arguments``: GitHub requires ``text``, GH1015), SARIF2006 (a URI
    not reachable: the tests run offline), SARIF2009 (rule ids like ``WH1001``: whence's rule ids are
    its documented policy vocabulary and the alerts' identity) and SARIF2011 (no ``contextRegion``)
    for a region that is a whole file, which nothing can surround."""
    from . import sarif_multitool

    _copies(repo)
    a = repo / "src" / "a.py"
    a.write_text("# whence: attributed https://github.com/python/cpython\n" + a.read_text())
    git(repo, "remote", "add", "origin", "https://ci:s3cret@github.com/acme/inventory.git")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "copies")
    out = tmp_path / "whence.sarif"
    res = CliRunner().invoke(
        main, ["scan", str(repo), "--index", str(mixed_index), "--format", "sarif", "-o", str(out)]
    )
    assert res.exit_code == 1, res.output
    found = sarif_multitool.validate(out)
    bad = [str(r) for r in found if r.level in ("error", "warning")]
    assert not bad, "\n".join(bad)
    assert {r.rule for r in found} <= {"SARIF2002", "SARIF2006", "SARIF2009", "SARIF2011"}, [
        str(r) for r in found
    ]

    [run] = json.loads(out.read_text())["runs"]
    # SARIF2011 (no contextRegion) only where the region is the whole file: no context is larger.
    for r in found:
        if r.rule == "SARIF2011":
            i = int(re.search(r"results\[(\d+)\]", r.message).group(1))  # type: ignore[union-attr]
            loc = run["results"][i]["locations"][0]["physicalLocation"]
            lines = (repo / loc["artifactLocation"]["uri"]).read_text().splitlines()
            assert (loc["region"]["startLine"], loc["region"]["endLine"]) == (1, len(lines))
    driver = run["tool"]["driver"]
    assert driver["informationUri"].startswith("https://")
    for rule in driver["rules"]:
        assert rule["help"]["markdown"] and rule["help"]["text"] and rule["helpUri"].startswith("https://")
    [vcs] = run["versionControlProvenance"]
    assert vcs == {
        "repositoryUri": "https://github.com/acme/inventory.git",  # no credentials
        "revisionId": git(repo, "rev-parse", "HEAD").strip(),
        "branch": git(repo, "symbolic-ref", "--short", "HEAD").strip(),
        "mappedTo": {"uriBaseId": "%SRCROOT%"},
    }
    # Snippets are the lines the multitool itself reads from the files for these regions.
    rewritten = tmp_path / "rewritten.sarif"
    bare = json.loads(out.read_text())
    for r in bare["runs"][0]["results"]:
        loc = r["locations"][0]["physicalLocation"]
        loc.pop("contextRegion", None)
        loc["region"].pop("snippet")
    (tmp_path / "bare.sarif").write_text(json.dumps(bare))
    done = subprocess.run(
        [str(sarif_multitool.tool()), "rewrite", str(tmp_path / "bare.sarif"), "-o", str(rewritten),
         "--insert", "RegionSnippets", "--log", "ForceOverwrite"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    theirs = json.loads(rewritten.read_text())["runs"][0]["results"]
    for ours, their in zip(run["results"], theirs, strict=True):
        mine = ours["locations"][0]["physicalLocation"]
        assert mine["region"]["snippet"] == their["locations"][0]["physicalLocation"]["region"]["snippet"]
        ctx, reg = mine.get("contextRegion"), mine["region"]
        if ctx is not None:  # absent when the region is the whole file
            assert ctx["startLine"] <= reg["startLine"] <= reg["endLine"] <= ctx["endLine"]
            assert (ctx["startLine"], ctx["endLine"]) != (reg["startLine"], reg["endLine"])
            assert reg["snippet"]["text"] in ctx["snippet"]["text"]
    assert any("contextRegion" in r["locations"][0]["physicalLocation"] for r in run["results"])


def test_sarif_of_a_clean_or_incomplete_scan_passes_the_multitool(repo: Path, tmp_path: Path) -> None:
    """No results, files left out, files that could not be read, no remote: still no error or warning."""
    from whence.scan.findings import ScanReport
    from whence.scan.policy import Policy
    from whence.scan.sarif import to_sarif

    from . import sarif_multitool

    for errors in ([], [("src/gone.py", "cannot read: No such file or directory")]):
        report = ScanReport(repo, Policy(root=repo), None, 1, {"generated": 1}, [], errors=list(errors),
                            exempted=[("src/gen.py", "generated")])  # fmt: skip
        log = to_sarif(report)
        assert "versionControlProvenance" not in log["runs"][0]  # no remote
        assert log["runs"][0]["invocations"][0]["executionSuccessful"] is not bool(errors)
        out = tmp_path / "whence.sarif"
        out.write_text(json.dumps(log))
        found = sarif_multitool.validate(out)
        assert not [str(r) for r in found if r.level in ("error", "warning")]
        # SARIF2003: no versionControlProvenance, as this repository has no remote to name.
        assert {r.rule for r in found} <= {"SARIF2003", "SARIF2006", "SARIF2009"}, [str(r) for r in found]


@pytest.mark.parametrize(
    ("remote", "uri"),
    [
        ("https://github.com/acme/inventory.git", "https://github.com/acme/inventory.git"),
        ("https://ci:s3cret@github.com/acme/inventory", "https://github.com/acme/inventory"),
        ("https://x-access-token@git.example.org:8443/a/b", "https://git.example.org:8443/a/b"),
        ("git@github.com:acme/inventory.git", "ssh://git@github.com/acme/inventory.git"),
        ("ssh://git@host.example/acme/inventory", "ssh://git@host.example/acme/inventory"),
        ("ssh://git:pw@host.example/acme/inventory", "ssh://host.example/acme/inventory"),
        ("/srv/git/inventory.git", "file:///srv/git/inventory.git"),
        ("", ""),
    ],
)
def test_remote_uri_has_no_credentials(remote: str, uri: str) -> None:
    assert remote_uri(remote) == uri


def test_an_incomplete_scan_is_never_clean(repo: Path, built_index: Path, tmp_path: Path) -> None:
    res, _ = scan(tmp_path / "missing.sqlite", str(repo))
    assert res.exit_code == 2 and "no index" in res.stderr
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    res, _ = scan(bad, str(repo))
    assert res.exit_code == 2
    res, _ = scan(built_index, str(repo / "nope"))
    assert res.exit_code == 2 and "nope" in res.stderr

    # A socket is no file to read: skipped at once and listed (see test_scan_hostile.py), not an error.
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(repo / "src" / "agent.sock"))
        res, data = scan(built_index, str(repo))
    assert res.exit_code == 0, res.output
    assert data["exempted"] == [
        {"path": "src/agent.sock", "uri": "src/agent.sock", "reason": "not a regular file"}
    ]

    # A file that cannot be read (gone between the walk and the read): the engine reports an error.
    from whence.scan import engine

    gone = repo / "src" / "gone.py"
    scanned = engine.run([repo / "src" / "inventory.py", gone], str(built_index), min_tokens=40)
    assert scanned.errors == [(str(gone), "cannot read: No such file or directory")]


def test_worker_processes_find_what_one_process_finds(repo: Path, built_index: Path, corpus: Path) -> None:
    # Enough files with candidates for the scan to align them in worker processes (the real command).
    text = (corpus / "argparse.py").read_text().splitlines(keepends=True)
    for i in range(60):
        start = 100 + 37 * i
        (repo / "src" / f"part{i:02d}.py").write_text(OWN_CODE + "".join(text[start : start + 45]))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "many copies")
    found = []
    for jobs in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-m", "whence", "scan", str(repo), "--index", str(built_index),
             "--format", "json", "--jobs", jobs],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert out.returncode == 1, out.stderr
        data = json.loads(out.stdout)
        found.append(
            [
                (f["path"], f["lines"], f["origin"]["path"], f["origin"]["source_lines"])
                for f in data["findings"]
            ]
        )
    assert found[0] == found[1]
    assert len({p for p, *_ in found[0]}) >= 55


def test_diff_with_unusual_file_names(repo: Path, built_index: Path, corpus: Path) -> None:
    # git quotes such names in diff headers ("src/we\"ird\tnäme.py"): they must still be found.
    base = git(repo, "rev-parse", "HEAD").strip()
    odd = repo / "src" / 'we"ird\tnäme.py'
    odd.write_text(_lines(corpus, "bisect.py", 1, 60))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd name")
    res, data = scan(built_index, str(repo), "--diff", base)
    assert res.exit_code == 1, res.output
    assert [f["path"] for f in data["findings"]] == ['src/we"ird\tnäme.py']
