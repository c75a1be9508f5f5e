"""Fixtures for the generator tests: a tiny StarCoder2 that memorised real, licensed code, and a real
index holding that code.

The model is shipped in the repository, in ``tests/fixtures/tiny-starcoder2/`` (safetensors weights,
tokenizer, config and ``build.json``): the tests never train one, so they behave the same on every
machine (training is not reproducible across CPUs).  ``scripts/model/build_tiny_model.py --fixture`` made it;
``tests/test_tiny_model.py`` fails when that script or the corpus no longer match the checksums recorded
in ``build.json``, and checks that the model still reproduces its corpus greedily on this machine.

The corpus is copied from this machine at test time (``whence_dev.tiny_model.fixture_corpus``): one
module of this Python's standard library (PSF-2.0) and one module of the pinned ``hypothesis`` dev
dependency (MPL-2.0, weak copyleft, its license header in the file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whence.index import ingest
from whence.index.stores import open_store
from whence_dev.tiny_model import FIXTURE, REBUILD, fixture_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cpython/`` (PSF-2.0) and ``hypothesis/`` (MPL-2.0) folders of real code."""
    root = fixture_corpus(tmp_path_factory.mktemp("tiny-corpus"))
    assert "Mozilla Public License" in (root / "hypothesis" / "integer.py").read_text()
    return root


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The shipped model folder, loaded by the tests as users' ``--model FOLDER`` is."""
    stamp = FIXTURE / "build.json"
    assert stamp.is_file(), f"{stamp} is missing: rebuild the test model with `{REBUILD}`"
    assert json.loads(stamp.read_text())["files"]
    return FIXTURE


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
