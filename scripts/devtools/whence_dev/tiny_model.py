"""The tiny StarCoder2 the tests load: where its fixture lives, its corpus, and the checksums that say
whether the fixture is stale.

``scripts/model/build_tiny_model.py`` trains the model (``--fixture`` rebuilds the committed one) and
records, in ``build.json``, :func:`script_sha256` (that script's bytes: the training code and every
option's default) and :func:`corpus_sha256` (the files it memorised, as :func:`corpus_files` lists
them).  The tests recompute both and fail when either changed.  What is here shapes the model only
through the corpus, which the corpus checksum covers; so this module can change without the fixture
going stale, and the training script cannot.
"""

from __future__ import annotations

import hashlib
import shutil
import sysconfig
from pathlib import Path

#: The checkout this package is installed from (editable, by ``scripts/setup``).
ROOT = Path(__file__).resolve().parents[3]
#: The script that trains the model; its sha256 is recorded in the fixture's ``build.json``.
SCRIPT = ROOT / "scripts" / "model" / "build_tiny_model.py"
#: The command that rebuilds the committed fixture on purpose.
REBUILD = "python scripts/model/build_tiny_model.py --fixture"
#: Where the test suite's model lives (committed), and the files of its corpus: real, licensed code found
#: on every machine that runs the tests (this Python's standard library, the pinned ``hypothesis``).
FIXTURE = ROOT / "tests" / "fixtures" / "tiny-starcoder2"
FIXTURE_CPYTHON_FILES = ["colorsys.py"]
FIXTURE_HYPOTHESIS_FILE = "internal/conjecture/shrinking/integer.py"


def fixture_corpus(dest: Path) -> Path:
    """Write the test suite's corpus into ``dest``: ``cpython/`` (PSF-2.0) and ``hypothesis/``
    (MPL-2.0, its license header in the file)."""
    import hypothesis

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    (dest / "cpython").mkdir(parents=True, exist_ok=True)
    (dest / "hypothesis").mkdir(parents=True, exist_ok=True)
    for name in FIXTURE_CPYTHON_FILES:
        shutil.copy(stdlib / name, dest / "cpython" / name)
    src = Path(hypothesis.__file__).parent / FIXTURE_HYPOTHESIS_FILE
    shutil.copy(src, dest / "hypothesis" / Path(FIXTURE_HYPOTHESIS_FILE).name)
    return dest


def script_sha256() -> str:
    """A checksum of the training script's bytes."""
    return hashlib.sha256(SCRIPT.read_bytes()).hexdigest()


def corpus_sha256(corpus: Path) -> str:
    """A checksum of the corpus: each file's path relative to ``corpus`` and its bytes, in order."""
    h = hashlib.sha256()
    for p in corpus_files(corpus):
        h.update(p.relative_to(corpus).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def corpus_files(corpus: Path) -> list[Path]:
    """Every text file under ``corpus``, in a stable order."""
    files = []
    for p in sorted(corpus.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and b"\x00" not in p.read_bytes()[:8192]:
            files.append(p)
    return files
