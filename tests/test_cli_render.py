"""The CLI's terminal output at a forced width: a search result's header and URL stay whole at 80 and 60
columns, the build's progress keeps its bar and the time left, and shell completion works as the
README documents it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from whence.cli.index import BAR_MIN_WIDTH, build_progress
from whence.cli.render import render_result
from whence.index import ingest, search
from whence.index.stores import open_store

REPO = "an-organisation-with-a-long-name/a-repository-with-a-long-name"
PATH = "src/some/deeply/nested/package/difflib_copy.py"


@pytest.fixture(scope="module")
def long_named_index(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of one file whose repository and path make a URL longer than 80 columns."""
    root = tmp_path_factory.mktemp("long")
    (root / "src" / PATH).parent.mkdir(parents=True)
    (root / "src" / PATH).write_text((corpus / "difflib.py").read_text())
    index = root / "index.sqlite"
    with open_store(index, create=True) as store:
        ingest.build(store, ingest.sources([root / "src"], repo=REPO, licenses=["MIT"]), workers=1)
    return index


def _render(index: Path, corpus: Path, width: int) -> list[str]:
    query = "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])
    with open_store(index, readonly=True) as store:
        result = search.search(store, query.encode(), top=1, with_text=True)
    out = io.StringIO()
    render_result(result, query, Console(file=out, width=width, color_system=None, legacy_windows=False))
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 60])
def test_the_header_and_the_url_are_whole(long_named_index: Path, corpus: Path, width: int) -> None:
    lines = _render(long_named_index, corpus, width)
    url = f"https://github.com/{REPO}/blob/HEAD/{PATH}#L410-L442"
    assert len(url) > 80
    assert url in lines  # one line, nothing around it: copied whole (the terminal wraps it)
    header = f"1. verbatim  {REPO}/{PATH}"
    if len(header) <= width:
        assert header in lines
    else:  # a name wider than the terminal folds, and nothing of it is lost
        assert header in "".join(lines)
    assert any(line.strip() == "MIT   permissive · attribution required" for line in lines)
    box = [line for line in lines if line[:1] in "╭│╰"]
    assert box and all(len(line) == width for line in box)  # the box fits the terminal
    assert lines[lines.index(url) + 1].startswith("╭─") and "─╮" in lines[lines.index(url) + 1]
    assert not any(REPO in line or "https://" in line for line in box)  # nothing of them boxed
    assert all(len(line) <= width for line in lines if line != url)


def test_a_match_without_a_url_prints_no_url_line(built_index: Path, corpus: Path) -> None:
    lines = _render(built_index, corpus, 80)
    assert lines[1] == "1. verbatim  python/cpython/difflib.py"
    assert "PSF-2.0   permissive" in lines[2]


@pytest.mark.parametrize("width", [80, 60])
def test_the_progress_bar_keeps_its_width_and_the_time_left(width: int) -> None:
    clock = [0.0]
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=True, legacy_windows=False)
    progress = build_progress(console, known_total=True, get_time=lambda: clock[0])
    task = progress.add_task("build", total=1000, files=0, mb=0.0, fps=0.0, mbps=0.0, skipped=0)
    for step in range(1, 11):  # 30 files a second: 700 left after 10 s is 23 s more
        clock[0] = float(step)
        progress.update(task, completed=30 * step, files=30 * step, mb=123456.7, fps=30.0, mbps=12345.6,
                        skipped=12345)  # fmt: skip
    for renderable in progress.get_renderables():
        console.print(renderable)
    first, *rest = out.getvalue().splitlines()
    bar = first[2 : first.index(" 30%")]  # after the spinner; its unfilled part is blank without colours
    assert len(bar) >= BAR_MIN_WIDTH and bar.lstrip("━╸") == " " * (len(bar) - len(bar.rstrip()))
    assert 0.25 <= bar.count("━") / len(bar) <= 0.35
    assert " 30% left 0:00:24 elapsed 0:00:10" in first and len(first) <= width
    counts = " ".join(" ".join(rest).split())
    assert counts == "300 files · 123456.7 MB · 30 files/s · 12345.6 MB/s · 12345 skipped"


def test_the_progress_without_a_total_has_no_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None, force_terminal=True, legacy_windows=False)
    progress = build_progress(console, known_total=False)
    progress.add_task("build", total=None, files=7, mb=0.5, fps=3.0, mbps=0.2, skipped=0)
    for renderable in progress.get_renderables():
        console.print(renderable)
    first, second = out.getvalue().splitlines()
    assert "━" not in first and "elapsed 0:00:00" in first
    assert second.strip() == "7 files · 0.5 MB · 3 files/s · 0.2 MB/s · 0 skipped"


def test_shell_completion_as_the_readme_documents_it() -> None:
    whence = str(Path(sys.executable).parent / "whence")
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for shell in ("bash", "zsh", "fish"):
        assert f"_WHENCE_COMPLETE={shell}_source whence" in readme
        script = subprocess.run([whence], env=os.environ | {"_WHENCE_COMPLETE": f"{shell}_source"},
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert f"_WHENCE_COMPLETE={shell}_complete" in script
    asks = {"_WHENCE_COMPLETE": "bash_complete", "COMP_WORDS": "whence index b", "COMP_CWORD": "2"}
    env = os.environ | asks
    out = subprocess.run([whence], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["plain,build"]


def test_whence_search_follows_the_terminal_width(
    long_named_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """The command itself, run where the terminal is 60 columns wide (``COLUMNS``, as a shell sets it)."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text("".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445]))
    out = subprocess.run(
        [sys.executable, "-m", "whence", "search", str(snippet), "--index", str(long_named_index)],
        env=os.environ | {"COLUMNS": "60"}, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert f"https://github.com/{REPO}/blob/HEAD/{PATH}#L410-L442" in out
    assert any(line.strip() == "MIT   permissive · attribution required" for line in out)
    box = [line for line in out if line[:1] in "╭│╰"]
    assert box and {len(line) for line in box} == {60}
