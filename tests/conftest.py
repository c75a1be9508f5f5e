"""Shared fixtures: a small corpus of real code (copied from this Python's standard library) and an
index built from it in a real SQLite file."""

from __future__ import annotations

import os
import shutil
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from whence.index import ingest
from whence.index.stores import open_store
from whence.index.stores.sqlite import SQLiteStore

from .engine import engine_index, engine_kind, engine_nodes, engine_url  # noqa: F401  (the engine nodes)

STDLIB = Path(sysconfig.get_paths()["stdlib"])

# Every app a test starts gets one search process unless the test asks for more: the default (one per
# CPU) would make the suite's cost depend on the machine it runs on.
os.environ.setdefault("WHENCE_SEARCH_PROCESSES", "1")
# Real modules of several shapes; together a few hundred kB.
CORPUS_MODULES = [
    "json", "csv.py", "textwrap.py", "heapq.py", "bisect.py", "fractions.py", "shlex.py", "calendar.py",
    "difflib.py", "string.py", "statistics.py", "colorsys.py", "ipaddress.py", "pprint.py", "argparse.py",
]  # fmt: skip


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "cpython"
    root.mkdir()
    for name in CORPUS_MODULES:
        src = STDLIB / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, root / name)
    return root


@pytest.fixture(scope="session")
def built_index(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("index") / "index.sqlite"
    with open_store(path, create=True) as store:
        ingest.build(store, ingest.sources([corpus], repo="python/cpython", licenses=["PSF-2.0"]), workers=2)
    return path


@pytest.fixture()
def store(built_index: Path) -> Iterator[SQLiteStore]:
    s = open_store(built_index, readonly=True)
    assert isinstance(s, SQLiteStore)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHENCE_INDEX", raising=False)


# The generator tests' fixtures (a tiny StarCoder2 and an index of the code it memorised).
from .tiny_model import tiny_corpus, tiny_index, tiny_model  # noqa: E402, F401
