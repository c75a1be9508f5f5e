"""Each posting block's Bloom filter (``index/stores/segments.py``): a lookup reads only the blocks that may
hold one of its hashes, and gets the same postings as when it read every block the directory names; an
index written before filters is searched as before, and ``whence index optimize`` gives it them;
``whence index check`` finds a filter that would hide a hash."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from whence.index import search
from whence.index.stores import open_store
from whence.index.stores import segments as seg
from whence.index.stores.sqlite import SQLiteStore


def _pairs(path: Path) -> np.ndarray:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    h, _ = seg.decode_blocks([bytes(b) for (b,) in db.execute("SELECT data FROM blocks ORDER BY id")])
    db.close()
    return h


def test_every_hash_passes_its_blocks_filter_and_few_others_do() -> None:
    rng = np.random.default_rng(7)
    hashes = np.sort(rng.integers(-(2**63), 2**63 - 1, size=40 * seg.BLOCK + 17, dtype=np.int64))
    filters = np.frombuffer(seg.encode_filters(hashes), dtype=np.uint8).reshape(-1, seg.FILTER_BYTES)
    assert filters.shape == (41, seg.FILTER_BYTES)
    blocks = np.arange(len(hashes)) // seg.BLOCK
    assert seg.may_hold(filters, blocks, hashes).all()
    others = rng.integers(-(2**63), 2**63 - 1, size=200_000, dtype=np.int64)
    passed = seg.may_hold(filters[:40], rng.integers(0, 40, size=len(others)), others).mean()
    assert 0.08 < passed < 0.22  # (1 - e^(-3 * 256 / 1024)) ** 3 = 14.7 % for a full block


def test_a_lookup_reads_fewer_blocks_and_finds_the_same_postings(
    store: SQLiteStore, built_index: Path
) -> None:
    held = np.unique(_pairs(built_index))
    rng = np.random.default_rng(3)
    absent = rng.integers(-(2**63), 2**63 - 1, size=200, dtype=np.int64)
    query = np.concatenate((rng.choice(held, 10, replace=False), absent))
    dirs = store._directories()
    assert all(d.filters is not None and d.filters.shape == (len(d.first), seg.FILTER_BYTES) for d in dirs)
    q = seg.sorted_unique(query)

    def reads() -> int:
        """Blocks read for the hashes one at a time (this small index has few blocks, and together the
        absent hashes would touch every one of them)."""
        return sum(len(d.blocks_for(q[i : i + 1])) for d in dirs for i in range(len(q)))

    filtered = reads()
    post = store.postings(query, 64)
    for d in dirs:
        object.__setattr__(d, "filters", None)  # the directory as a segment without filters has it
    unfiltered = reads()
    plain = store.postings(query, 64)
    # the 200 hashes in no block pass about 1 filter in 7; the 10 held ones always
    assert len(post.hashes) >= 10 and 10 <= filtered < 0.35 * unfiltered
    assert np.array_equal(post.hashes, plain.hashes) and np.array_equal(post.docs, plain.docs)
    assert np.array_equal(post.common, plain.common)


def _whence(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whence", *args], capture_output=True, text=True, timeout=120
    )


def _answers(path: Path, snippets: list[str]) -> list[tuple[str, int, list[list[int]]]]:
    with open_store(path, readonly=True) as s:
        out = []
        for text in snippets:
            m = search.search(s, text).matches[0]
            out.append((m.verdict, m.matched_tokens, [list(sp.source_lines) for sp in m.spans]))
        return out


def test_an_index_without_filters_is_searched_alike_and_optimize_gives_it_them(
    built_index: Path, corpus: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.sqlite"
    shutil.copy(built_index, old)
    db = sqlite3.connect(old)
    db.execute("ALTER TABLE segments DROP COLUMN filters")  # as an index written before filters
    db.commit()
    db.close()
    text = (corpus / "textwrap.py").read_text()
    snippets = [text[2000:2600], (corpus / "heapq.py").read_text()[5000:5700]]
    want = _answers(built_index, snippets)
    assert _answers(old, snippets) == want
    with open_store(old, readonly=True) as s:
        assert all(d.filters is None for d in s._directories())  # type: ignore[attr-defined]
    stats = _whence("index", "stats", "--index", str(old), "--format", "json")
    assert json.loads(stats.stdout)["segments_without_filters"] == 1, stats.stderr
    text = _whence("index", "stats", "--index", str(old))
    assert "`whence index optimize` gives them filters" in text.stdout, text.stdout
    res = _whence("index", "optimize", "--index", str(old))
    assert res.returncode == 0, res.stderr
    assert "nothing to merge" not in res.stdout, res.stdout
    with open_store(old, readonly=True) as s:
        assert all(d.filters is not None for d in s._directories())  # type: ignore[attr-defined]
        assert s.check()["problems"] == []  # type: ignore[attr-defined]
    assert _answers(old, snippets) == want
    assert (
        json.loads(_whence("index", "stats", "--index", str(old), "--format", "json").stdout)[
            "segments_without_filters"
        ]
        == 0
    )
    assert "gives them filters" not in _whence("index", "stats", "--index", str(old)).stdout
    again = _whence("index", "optimize", "--index", str(old))
    assert again.returncode == 0 and "nothing to merge" in again.stdout, again.stdout


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("zeroblob(length(filters))", "its filter does not pass every hash it holds"),
        ("substr(filters, 1, length(filters) - 1)", "its block filters are"),
    ],
)
def test_check_finds_a_filter_that_would_hide_hashes(
    built_index: Path, tmp_path: Path, damage: str, expected: str
) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(built_index, copy)
    db = sqlite3.connect(copy)
    db.execute(f"UPDATE segments SET filters = {damage}")
    db.commit()
    db.close()
    res = _whence("index", "check", "--index", str(copy))
    assert res.returncode == 2 and expected in res.stdout, res.stdout
    if "length(filters) - 1" in damage:  # not trusted: every block is read, and search finds as before
        with open_store(copy, readonly=True) as s:
            assert all(d.filters is None for d in s._directories())  # type: ignore[attr-defined]
