"""The `whence` command: in-process with CliRunner, and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from whence.cli import main


def _fragment(corpus: Path) -> str:
    return "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])


def test_build_stats_search_roundtrip(tmp_path: Path, corpus: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "cli.sqlite"
    res = runner.invoke(main, ["index", "build", str(corpus), "--index", str(db), "--repo", "python/cpython",
                               "--license", "PSF-2.0", "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["documents_added"] > 10 and summary["skipped"] == {}

    res = runner.invoke(main, ["index", "stats", "--index", str(db), "--format", "json"])
    stats = json.loads(res.output)
    assert stats["documents"] == summary["documents_added"]
    assert stats["occurrences"] == summary["occurrences_added"]

    res = runner.invoke(main, ["search", "--index", str(db), "--format", "json"], input=_fragment(corpus))
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["verdict"] == "verbatim"
    assert out["matches"][0]["path"] == "difflib.py"

    res = runner.invoke(main, ["search", "--index", str(db)], input=_fragment(corpus))
    assert res.exit_code == 0
    assert "verbatim" in res.output and "python/cpython/difflib.py" in res.output
    assert "PSF-2.0" in res.output and res.output.count("isbjunk") >= 4  # both sides, side by side


def test_search_language_option_and_file_extension(tmp_path: Path, built_index: Path, corpus: Path) -> None:
    from whence.index import fingerprint as fp

    code = "".join((corpus / "textwrap.py").read_text().splitlines(keepends=True)[50:110])
    as_c, as_python = len(fp.tokenize(code.encode(), "C")), len(fp.tokenize(code.encode(), "Python"))
    assert as_c != as_python
    runner = CliRunner()
    snippet = tmp_path / "snippet.py"
    snippet.write_text(code)
    for args, tokens in (
        (["--language", "C"], as_c),
        (["--language", "py"], as_python),
        ([str(snippet)], as_python),  # the extension says Python
        ([str(snippet), "--language", "C"], as_c),  # the option wins
    ):
        stdin = None if str(snippet) in args else code
        res = runner.invoke(
            main, ["search", *args, "--index", str(built_index), "--format", "json"], input=stdin
        )
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["query"]["tokens"] == tokens, args
        assert out["verdict"] == "verbatim" and out["matches"][0]["path"] == "textwrap.py"


def test_env_var_names_the_index(tmp_path: Path, corpus: Path, monkeypatch: object) -> None:
    db = tmp_path / "env.sqlite"
    runner = CliRunner(env={"WHENCE_INDEX": str(db)})
    assert runner.invoke(main, ["index", "build", str(corpus / "json")]).exit_code == 0
    res = runner.invoke(main, ["index", "stats", "--format", "json"])
    assert json.loads(res.output)["index"] == str(db)


def test_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / "missing.sqlite"
    res = runner.invoke(main, ["search", "--index", str(missing)], input="def f(): pass\n")
    assert res.exit_code == 2 and "no index at" in res.output and "whence index build" in res.output
    assert not missing.exists()
    res = runner.invoke(main, ["index", "stats", "--index", str(missing)])
    assert res.exit_code == 2
    res = runner.invoke(main, ["index", "build", str(tmp_path / "nope"), "--index", str(missing)])
    assert res.exit_code == 2 and "no such file or folder" in res.output
    res = runner.invoke(main, ["search", "--index", str(missing)], input="  \n")
    assert res.exit_code == 2 and "nothing to search" in res.output


def test_binary_query_exits_2(tmp_path: Path, built_index: Path) -> None:
    blob = tmp_path / "a.bin"
    blob.write_bytes(b"\x7fELF\x00\x00\x01")
    res = CliRunner().invoke(main, ["search", str(blob), "--index", str(built_index)])
    assert res.exit_code == 2 and "binary" in res.output
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"x = '\xff\xfe'\n")
    res = CliRunner().invoke(main, ["search", str(bad), "--index", str(built_index)])
    assert res.exit_code == 2 and "UTF-8" in res.output


def test_real_subprocess_search_does_not_import_torch(built_index: Path, corpus: Path) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['whence', 'search', '--index', sys.argv[1], '--format', 'json']\n"
        "try:\n    runpy.run_module('whence', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(built_index)], input=_fragment(corpus),
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(out.stdout)["verdict"] == "verbatim"


def test_side_by_side_rows_pair_matched_lines_and_fill_gaps() -> None:
    from whence.cli.render import _row_pairs

    # query lines 1-5 matched source 10, 11, (gap: 12-13 dropped comments), 14; query line 3 blank
    rows = _row_pairs(((1, 10), (2, 11), (4, 14), (5, 15)), (1, 5), (10, 15))
    assert rows == [(1, 10), (2, 11), (3, 12), (0, 13), (4, 14), (5, 15)]


def test_folder_revision_only_from_its_own_git_repository(tmp_path: Path) -> None:
    from whence.index import ingest

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "a.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    top = next(ingest.folder_files(repo, repo="o/r"))
    assert top.occurrence.revision == head
    assert top.occurrence.url == f"https://github.com/o/r/blob/{head}/sub/a.py"
    inner = next(ingest.folder_files(repo / "sub", repo="o/r"))
    assert inner.occurrence.revision == "" and inner.occurrence.url == "https://github.com/o/r/blob/HEAD/a.py"


@pytest.mark.parametrize(
    "module", ["__init__", "options", "render", "index", "search", "scan", "generate", "serve", "keys"]
)
def test_each_command_module_imports_on_its_own(module: str) -> None:
    """Imported first, in a fresh interpreter: the command modules import each other's pieces only
    through whence.cli.options, so no order of imports is circular."""
    name = "whence.cli" if module == "__init__" else f"whence.cli.{module}"
    res = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
