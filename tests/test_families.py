"""Rarity counts near-duplicates once (``search.Families``): the documents holding a short query's k-gram
that are versions of one file (MinHash signatures agreeing on at least ``FAMILY_SIMILARITY``) are one
source, so a short fragment of a module kept in several versions is as rare as a fragment of a module
kept once (the same fragment pasted into unrelated files is not: tests/test_verdicts.py).  Real SQLite
indexes of real standard library code."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest

from whence.index import fingerprint as fp
from whence.index import ingest, search
from whence.index.stores import open_store

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _fragment() -> tuple[str, str]:
    """heapq.py and an 8-line piece of it: fewer tokens than the minimum match, enough for a rare run."""
    text = (STDLIB / "heapq.py").read_text()
    frag = "".join(text.splitlines(keepends=True)[303:309])
    assert frag.strip() and frag in text
    return text, frag


def _versions(text: str, n: int) -> list[str]:
    """``n`` versions of one module: each changes a line and adds a function of its own."""
    return [
        text.replace("__about__ =", f"__version_{i}__ = {i}\n__about__ =", 1)
        + f"\n\ndef _extra_{i}(x):\n    return x * {i + 2}\n"
        for i in range(n)
    ]


def _build(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    index = tmp_path / "i.sqlite"
    with open_store(index, create=True) as st:
        ingest.build(st, ingest.sources([src], repo="example/versions", licenses=["MIT"]), workers=1)
    return index


def test_versions_of_one_module_are_one_source(tmp_path: Path) -> None:
    text, frag = _fragment()
    versions = _versions(text, 5)
    sigs = [fp.index_fingerprint(v.encode(), "Python").signature for v in versions]
    assert min(float((sigs[0] == s).mean()) for s in sigs[1:]) >= search.FAMILY_SIMILARITY
    index = _build(tmp_path, {f"heapq_{i}.py": v for i, v in enumerate(versions)})
    with open_store(index, readonly=True) as st:
        res = search.search(st, frag)
        assert res.tokens < search.MIN_MATCH_TOKENS
        assert res.verdict == "verbatim", [(m.primary.path, m.verdict) for m in res.matches]
        assert res.matches[0].evidence == "short-rare-run"
        assert res.matches[0].primary.path.startswith("heapq_")
        assert res.matches[0].spans[0].source_lines[0] >= 300


def test_without_signatures_the_versions_are_five_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same index, read by a store that keeps no signatures (the base class's default): every holder
    # counts, five documents are more than a rare run may have, and the fragment is not attributed.
    text, frag = _fragment()
    index = _build(tmp_path, {f"heapq_{i}.py": v for i, v in enumerate(_versions(text, 5))})
    with open_store(index, readonly=True) as st:
        monkeypatch.setattr(type(st), "signatures", lambda self, ids: {})
        res = search.search(st, frag)
        assert res.verdict not in search.ATTRIBUTING, [(m.primary.path, m.verdict) for m in res.matches]


def test_a_kgrams_holders_are_counted_by_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two versions of heapq and two of bisect: a k-gram both heapq versions hold counts once, so does
    # one both bisect versions hold; a k-gram one file holds is left as it is; a holder whose signature
    # the store does not have counts on its own.
    text, _ = _fragment()
    bis = (STDLIB / "bisect.py").read_text()
    heaps = _versions(text, 2)
    index = _build(tmp_path, {"h0.py": heaps[0], "h1.py": heaps[1], "b0.py": bis, "b1.py": bis + "\n# b1\n"})
    keys = np.concatenate([fp.index_fingerprint(t.encode(), "Python").hashes for t in (heaps[0], bis)])
    keys = np.unique(keys)
    with open_store(index, readonly=True) as st:
        post = st.postings(keys, 64)
        held, counts = np.unique(post.hashes, return_counts=True)
        df = np.zeros(len(keys), dtype=np.int64)
        df[np.searchsorted(keys, held)] = counts
        assert set(df.tolist()) == {1, 2}  # each hash is in one version (winnowing) or in both
        grouped = search.Families(st, post).grouped(keys, df)
        assert (grouped == 1).all()
        assert (df == 2).any()
        one = int(post.docs.min())
        real = type(st).signatures
        monkeypatch.setattr(
            type(st), "signatures", lambda self, ids: {d: s for d, s in real(self, ids).items() if d != one}
        )
        alone = search.Families(st, post).grouped(keys, df)
        of_one = np.isin(keys, post.hashes[post.docs == one])
        assert (alone[of_one & (df == 2)] == 2).all() and (alone[~of_one] == 1).all()
