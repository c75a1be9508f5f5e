"""The shipped boilerplate model: fingerprints that a large corpus of real code holds in many places.

An index knows boilerplate from its own document counts only once it is large (see
:func:`whence.index.candidates.common_cap`); the model carries what a large corpus knows into an index
of any size, so that a team's index of a few thousand files is protected like one of The Stack.  A
fingerprint is boilerplate when the index's counts say so *or* the model lists it.  The model is a
sorted array of k-gram hashes (both views, as ingestion selects them) in ``index/data/boilerplate.npz``,
learned by ``scripts/corpus/boilerplate.py``; ``WHENCE_BOILERPLATE=off`` leaves it out (the index's
counts alone decide) and ``WHENCE_BOILERPLATE=PATH`` reads another model.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from whence.errors import IndexFormatError

from . import fingerprint as fp
from . import lexer
from .stores.segments import in_sorted

SHIPPED = Path(__file__).resolve().parent / "data" / "boilerplate.npz"
_EMPTY = np.zeros(0, dtype=np.uint64)


def fingerprint_params() -> dict[str, int]:
    """The fingerprint parameters a model is learned with and must match (it records them in its meta)."""
    return {"k": fp.K, "w": fp.W, "lexer": lexer.LEXER_VERSION}


def _where() -> str | None:
    """``WHENCE_BOILERPLATE``: a model's path, ``""`` for the shipped one, None when switched off."""
    where = os.environ.get("WHENCE_BOILERPLATE", "")
    return None if where.lower() in ("off", "0", "none") else where


@functools.cache
def load() -> tuple[npt.NDArray[np.uint64], dict[str, Any]]:
    """(sorted hashes, settings) of the model in use; empty when switched off or not shipped."""
    where = _where()
    if where is None:
        return _EMPTY, {}
    path = Path(where) if where else SHIPPED
    if not path.exists():
        if where:
            raise IndexFormatError(f"WHENCE_BOILERPLATE={where}: no such file")
        return _EMPTY, {}
    with np.load(path) as data:
        hashes = np.ascontiguousarray(data["hashes"], dtype=np.uint64)
        meta = json.loads(str(data["meta"]))
    want = fingerprint_params()
    have = {key: meta.get("fingerprint", {}).get(key) for key in want}
    if have != want:
        raise IndexFormatError(
            f"boilerplate model {path} was learned with fingerprints {have}, these are {want}: "
            "relearn it with scripts/corpus/boilerplate.py"
        )
    return hashes, meta


def common(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Per hash: whether the model lists it."""
    model, _ = load()
    return in_sorted(model, hashes)


def licensed(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Per hash: whether it is one of the model's license fingerprints (a subset of its hashes, kept apart
    as ``licenses``: the SPDX texts and their variants, ``scripts/corpus/boilerplate.py --licenses``);
    none for a model without them or with the model off."""
    where = _where()
    if where is None:
        return np.zeros(len(hashes), dtype=bool)
    return in_sorted(_licenses_at(where), hashes)


@functools.cache
def _licenses_at(where: str) -> npt.NDArray[np.uint64]:
    path = Path(where) if where else SHIPPED
    if not path.exists():
        return _EMPTY
    with np.load(path) as data:
        if "licenses" not in data.files:
            return _EMPTY
        hashes = np.asarray(data["hashes"], dtype=np.uint64)
        at = np.asarray(data["licenses"], dtype=np.int64)  # positions in ``hashes``
    return np.ascontiguousarray(hashes[at[(at >= 0) & (at < len(hashes))]])
