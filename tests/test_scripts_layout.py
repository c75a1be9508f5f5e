"""The scripts' layout holds: every ``scripts/...`` path the docs name exists, and the scripts and the
tests share code through the installed ``whence_dev`` package, never by editing ``sys.path`` or by
loading a file by its path."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_script_path_the_docs_name_exists() -> None:
    missing = []
    for doc in DOCS:
        for path in sorted(set(re.findall(r"\bscripts/[\w./-]*\w", doc.read_text()))):
            if not (ROOT / path).exists():
                missing.append(f"{doc.relative_to(ROOT)}: {path}")
    assert not missing, missing


#: Scripts that must load code by its path: another commit's tree, checked out beside this one (its
#: packages are not the installed ones), never this checkout's.
OTHER_VERSIONS = {ROOT / "scripts" / "bench" / "search_compare.py"}


def test_nothing_edits_sys_path_or_loads_a_script_by_path() -> None:
    files = [*(ROOT / "scripts").rglob("*.py"), *(ROOT / "tests").glob("*.py")]
    skip = {Path(__file__).resolve(), *OTHER_VERSIONS}
    pattern = re.compile(r"sys\.path\.(insert|append)|spec_from_file_location|runpy\.run_path")
    checked = [p for p in files if p.resolve() not in skip]
    found = [str(p.relative_to(ROOT)) for p in checked if pattern.search(p.read_text())]
    assert not found, found
