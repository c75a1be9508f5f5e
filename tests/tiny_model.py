"""Fixtures for the generator tests: a tiny StarCoder2 that memorised real, licensed code, and a real
index holding that code.

The corpus is copied from this machine at test time: one module of this Python's standard library
(PSF-2.0) and one module of the pinned ``hypothesis`` dev dependency (MPL-2.0, weak copyleft, its
license header in the file).  ``scripts/build_tiny_model.py`` trains the model into a cache folder
(``$WHENCE_TEST_CACHE``, else ``~/.cache/whence/tests``) and retrains only when the script or the
corpus changed: a few minutes once per machine, a second afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from whence.index import ingest
from whence.index.stores import open_store

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])
CPYTHON_FILES = ["colorsys.py"]
HYPOTHESIS_FILE = "internal/conjecture/shrinking/integer.py"


def cache_root() -> Path:
    env = os.environ.get("WHENCE_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "whence" / "tests"


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cpython/`` (PSF-2.0) and ``hypothesis/`` (MPL-2.0) folders of real code."""
    import hypothesis

    root = tmp_path_factory.mktemp("tiny-corpus")
    (root / "cpython").mkdir()
    for name in CPYTHON_FILES:
        shutil.copy(STDLIB / name, root / "cpython" / name)
    (root / "hypothesis").mkdir()
    src = Path(hypothesis.__file__).parent / HYPOTHESIS_FILE
    assert "Mozilla Public License" in src.read_text()
    shutil.copy(src, root / "hypothesis" / Path(HYPOTHESIS_FILE).name)
    return root


@pytest.fixture(scope="session")
def tiny_model(tiny_corpus: Path) -> Path:
    """The trained model folder (built by the real script, cached across runs)."""
    out = cache_root() / "tiny-starcoder2"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_tiny_model.py"),
            "--corpus",
            str(tiny_corpus),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "build.json").read_text())["files"]
    return out


@pytest.fixture(scope="session")
def tiny_index(tiny_corpus: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SQLite index: the tiny corpus, each folder under its repository and license, next to the
    bigger standard-library corpus of the search tests."""
    path = tmp_path_factory.mktemp("tiny-index") / "index.sqlite"
    with open_store(path, create=True) as store:
        ingest.build(store, ingest.sources([corpus], repo="python/cpython", licenses=["PSF-2.0"]), workers=2)
        ingest.build(
            store,
            ingest.sources([tiny_corpus / "cpython"], repo="python/cpython", licenses=["PSF-2.0"]),
            workers=2,
        )
        ingest.build(
            store,
            ingest.sources(
                [tiny_corpus / "hypothesis"], repo="HypothesisWorks/hypothesis", licenses=["MPL-2.0"]
            ),
            workers=2,
        )
    return path
