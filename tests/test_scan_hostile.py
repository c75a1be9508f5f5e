"""`whence scan` against what a hostile pull request or an odd work tree brings (issue 15).

Real git repositories made here, the real command (in process, or as a subprocess with a timeout),
against the real index of ``built_index`` (see conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from click.testing import CliRunner, Result

from whence.cli import main

from . import test_scan
from .test_scan import _lines, git

repo = test_scan.repo  # the same fixture: a git repository with its own code committed


def run(index: Path, fmt: str, *args: str) -> tuple[Result, Any]:
    res = CliRunner().invoke(main, ["scan", *args, "--index", str(index), "--format", fmt])
    if fmt in ("json", "sarif"):
        return res, json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}
    return res, res.stdout


def _exemptions(data: dict[str, Any]) -> dict[str, str]:
    return {e["path"]: e["reason"] for e in data["exempted"]}


def _uris(sarif: dict[str, Any]) -> set[str]:
    return {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
    }


def _notes(sarif: dict[str, Any]) -> dict[str, str]:
    out = {}
    for n in sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]:
        if n["level"] == "note":
            loc = n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            out[loc] = n["properties"]["exempted"]
    return out


# -- finding 1: the scan cannot be switched off from inside the change ---------------------------------


def test_a_tracked_copy_is_scanned_whatever_gitignore_says(
    repo: Path, built_index: Path, corpus: Path
) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "copied.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    (repo / ".gitignore").write_text("*\n")
    git(repo, "add", "-f", "copied.py", ".gitignore")
    git(repo, "commit", "-q", "-m", "a copy, and a .gitignore that hides everything")
    assert git(repo, "check-ignore", "--no-index", "copied.py").strip() == "copied.py"
    for extra in ((), ("--diff", base), ("--diff", f"{base}...HEAD")):
        res, data = run(built_index, "json", str(repo), *extra)
        assert res.exit_code == 1, (extra, res.output)
        assert data["status"] == "violated"
        assert [f["path"] for f in data["findings"]] == ["copied.py"]
        res, sarif = run(built_index, "sarif", str(repo), *extra)
        assert res.exit_code == 1
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]
        }
        assert uris == {"copied.py"}
        res, text = run(built_index, "text", str(repo), *extra)
        assert res.exit_code == 1 and "FAIL copied.py:" in text and "clean" not in text.splitlines()[-1]
    # An untracked file that .gitignore names stays ignored (as in git), and is listed as such.
    (repo / "scratch.py").write_text(_lines(corpus, "bisect.py", 1, 60))
    res, data = run(built_index, "json", str(repo))
    assert res.exit_code == 1 and [f["path"] for f in data["findings"]] == ["copied.py"]
    assert _exemptions(data)["scratch.py"] == "gitignored"


def test_an_ignored_folder_is_entered_for_its_tracked_files(
    repo: Path, built_index: Path, corpus: Path
) -> None:
    (repo / ".gitignore").write_text("out/\n")
    (repo / "out" / "deep").mkdir(parents=True)
    (repo / "out" / "deep" / "kept.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    (repo / "out" / "loose.py").write_text(_lines(corpus, "bisect.py", 1, 60))
    (repo / "src" / "__pycache__").mkdir()
    (repo / "src" / "__pycache__" / "hid.py").write_text(_lines(corpus, "shlex.py", 130, 190))
    git(repo, "add", ".gitignore")
    git(repo, "add", "-f", "out/deep/kept.py", "src/__pycache__/hid.py")
    git(repo, "commit", "-q", "-m", "a tracked file in an ignored folder")
    res, data = run(built_index, "json", str(repo))
    assert res.exit_code == 1, res.output
    assert [f["path"] for f in data["findings"]] == ["out/deep/kept.py", "src/__pycache__/hid.py"]
    assert _exemptions(data) == {"out/loose.py": "gitignored"}


def test_exempted_copies_are_listed_in_every_format(repo: Path, built_index: Path, corpus: Path) -> None:
    frag = _lines(corpus, "textwrap.py", 247, 300)
    (repo / "src" / "gen.py").write_text("# DO NOT EDIT\n" + frag)
    (repo / "build").mkdir()
    (repo / "build" / "copy.py").write_text(frag)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "exempted copies")
    res, data = run(built_index, "json", str(repo))
    assert res.exit_code == 0, res.output  # exempted by default, but never silently:
    assert _exemptions(data) == {"src/gen.py": "generated", "build": "vendored folder"}
    res, sarif = run(built_index, "sarif", str(repo))
    assert _notes(sarif) == {"src/gen.py": "generated", "build": "vendored folder"}
    res, text = run(built_index, "text", str(repo))
    assert "skip src/gen.py (generated)" in text and "skip build (vendored folder)" in text

    # The policy can make them fail.
    (repo / "whence.toml").write_text("include-vendored = true\n")
    res, data = run(built_index, "json", str(repo))
    assert res.exit_code == 1
    assert {f["path"] for f in data["findings"]} == {"src/gen.py", "build/copy.py"}


def test_diff_is_judged_by_the_base_policy(repo: Path, built_index: Path, corpus: Path) -> None:
    (repo / "whence.toml").write_text("include-vendored = true\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "policy")
    base = git(repo, "rev-parse", "HEAD").strip()
    # The change loosens the policy and exempts its own copies.
    (repo / "whence.toml").write_text('fail-on = ["none"]\nignore = ["**"]\n')
    (repo / "src" / "gen.py").write_text("# DO NOT EDIT\n" + _lines(corpus, "textwrap.py", 247, 300))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "loosen")
    res, data = run(built_index, "json", str(repo), "--diff", base)
    assert res.exit_code == 1, res.output
    assert data["policy"]["source"] == f"{base}:whence.toml"
    assert [f["path"] for f in data["findings"]] == ["src/gen.py"]
    # Without --diff the work tree's policy applies (a maintainer's own choice).
    res, data = run(built_index, "json", str(repo))
    assert res.exit_code == 0 and data["policy"]["source"].endswith("whence.toml")


# -- finding 2: files that are not regular, and huge ones -------------------------------------------------


def test_fifo_socket_and_sparse_file_are_skipped_at_once(repo: Path, built_index: Path, corpus: Path) -> None:
    import socket

    src = repo / "src"
    os.mkfifo(src / "pipe.py")
    huge = src / "huge.py"
    with huge.open("wb") as fh:
        fh.truncate(2 << 30)  # 2 GiB, sparse: reading it would take 2 GiB of memory
    (src / "copy.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    code = (
        "import sys\n"
        "from whence.cli import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "except SystemExit as e:\n    code = e.code\n"
        "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
        "print('maxrss', hwm[0].split()[1] if hwm else 0, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "agent.sock"))
        for target in (repo, src / "pipe.py"):
            argv = ["scan", str(target), "--index", str(built_index), "--format", "json"]
            out = subprocess.run(
                [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=False
            )
            data = json.loads(out.stdout)
            if target == repo:
                assert out.returncode == 1, out.stderr
                assert [f["path"] for f in data["findings"]] == ["src/copy.py"]
                assert _exemptions(data) == {
                    "src/pipe.py": "not a regular file", "src/agent.sock": "not a regular file",
                    "src/huge.py": "too large",
                }  # fmt: skip
                # VmHWM (Linux): the peak of the scan's own process; ru_maxrss can carry the forking
                # parent's (pytest's) peak across exec.
                maxrss_kib = int(out.stderr.rsplit("maxrss", 1)[1].split()[0])
                if sys.platform == "linux":  # the bar; a read would take 2 GiB
                    assert 0 < maxrss_kib < 300 * 1024, maxrss_kib
            else:  # the FIFO named on the command line
                assert out.returncode == 0, out.stderr
                assert data["files"] == {"scanned": 0, "skipped": {"not a regular file": 1}}
    # Each is refused at once, without reading (a device too).
    from whence.scan import engine

    for path, why in (
        (src / "pipe.py", "not a regular file"),
        (huge, "too large"),
        (Path(os.devnull), "not a regular file"),
    ):
        started = time.monotonic()
        with pytest.raises(engine._Skip) as caught:
            engine.read_limited(path)
        assert time.monotonic() - started < 1.0
        assert str(caught.value) == why
    res, data = run(built_index, "json", os.devnull)
    assert res.exit_code == 0 and data["files"]["skipped"] == {"not a regular file": 1}


# -- finding 6: any file name POSIX allows, encoded as each format says -------------------------------


NAMES = [b"bad\xff name.py", b"new\nline.py", b"sp ace%20.py", "näme #?.py".encode()]


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_any_file_name_is_encoded_per_format(repo: Path, built_index: Path, corpus: Path) -> None:
    from jsonschema import Draft4Validator

    from . import sarif_schema

    src = os.fsencode(repo / "src")
    for i, name in enumerate(NAMES):
        with open(os.path.join(src, name), "w") as fh:
            fh.write(_lines(corpus, "textwrap.py", 247 + i, 300 + i))
    (repo / "src" / "gen\tfile.py").write_text("# DO NOT EDIT\n" + _lines(corpus, "bisect.py", 1, 60))
    want = {b"src/" + n for n in NAMES}

    res, sarif = run(built_index, "sarif", str(repo))
    assert res.exit_code == 1, res.output
    assert not list(Draft4Validator(sarif_schema.load()).iter_errors(sarif))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
    }
    assert {unquote_to_bytes(u) for u in uris} == want
    assert "src/bad%FF%20name.py" in uris and "src/new%0Aline.py" in uris and "src/sp%20ace%2520.py" in uris
    assert all(c.isalnum() or c in "-._~/%" for u in uris for c in u)  # RFC 3986: only unreserved, '/', '%'
    assert _notes(sarif) == {"src/gen%09file.py": "generated"}

    res, data = run(built_index, "json", str(repo))
    assert res.exit_code == 1
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # no lone surrogates anywhere
    assert {f["path"] for f in data["findings"]} == {
        "src/bad\\xff name.py", "src/new\nline.py", "src/sp ace%20.py", "src/näme #?.py",
    }  # fmt: skip
    assert {unquote_to_bytes(f["uri"]) for f in data["findings"]} == want

    res, text = run(built_index, "text", str(repo))
    fails = [ln for ln in text.splitlines() if ln.startswith("FAIL ")]
    assert len(fails) == len(NAMES)
    assert any(ln.startswith("FAIL src/new\\nline.py:") for ln in fails)
    assert "skip src/gen\\tfile.py (generated)" in text
