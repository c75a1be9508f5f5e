"""Ingestion on a real SQLite file: skipped inputs, deduplication, JSONL, and crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from whence.errors import IndexFormatError, IndexNotFound, InvalidInput
from whence.index import failpoints, ingest
from whence.index.stores import open_store
from whence.index.stores.sqlite import SQLiteStore


def _snapshot(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    """Documents and occurrences by content (ids may differ between builds), and postings count."""
    import sqlite3

    db = sqlite3.connect(path)
    docs = sorted(db.execute("SELECT content_hash, length_bytes, lines, tokens, signature FROM documents"))
    occ = sorted(
        db.execute(
            "SELECT d.content_hash, o.repo, o.path, o.revision, o.licenses, o.url"
            " FROM occurrences o JOIN documents d ON d.id = o.doc"
        )
    )
    post = db.execute("SELECT sum(pairs) FROM segments").fetchone()[0]
    db.close()
    return docs, occ, post


def test_bad_files_are_skipped_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.py").write_text("def ok(a, b):\n    return a + b\n")
    (src / "empty.py").write_text("")
    (src / "blank.py").write_text("   \n\n")
    (src / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (src / "latin1.py").write_bytes(b"name = 'caf\xe9'\n")
    (src / "huge.js").write_text("x = 1;\n" * 200_000)
    unreadable = src / "secret.py"
    unreadable.write_text("x = 1\n")
    unreadable.chmod(0)
    with open_store(tmp_path / "i.sqlite", create=True) as store:
        report = ingest.build(store, ingest.sources([src]), workers=2, max_bytes=1 << 20)
        stats = store.stats()
    expected = {"empty": 2, "binary": 1, "not_utf8": 1, "too_large": 1}
    if os.geteuid() != 0:  # root reads a chmod-0 file anyway
        expected["unreadable"] = 1
    assert {k: v for k, v in report.skipped.items() if k != "unreadable" or os.geteuid() != 0} == expected
    assert stats["documents"] == report.documents == (2 if os.geteuid() == 0 else 1)


def test_identical_contents_are_stored_once_with_every_occurrence(tmp_path: Path, corpus: Path) -> None:
    code = (corpus / "heapq.py").read_bytes()
    a, b = tmp_path / "a", tmp_path / "b"
    for root, name in ((a, "lib/heap.py"), (b, "vendor/heapq.py")):
        (root / name).parent.mkdir(parents=True)
        (root / name).write_bytes(code)
    db = tmp_path / "i.sqlite"
    with open_store(db, create=True) as store:
        ingest.build(store, ingest.sources([a], repo="alice/heaps", licenses=["MIT"]), workers=1)
        r2 = ingest.build(store, ingest.sources([b], repo="bob/vendored", licenses=["Apache-2.0"]), workers=1)
        assert r2.documents == 0 and r2.duplicates == 1 and r2.occurrences == 1
        stats = store.stats()
        assert stats["documents"] == 1 and stats["occurrences"] == 2
        occ = next(iter(store.occurrences([1]).values()))
    assert [(o.repo, o.path, o.licenses) for o in occ] == [
        ("alice/heaps", "lib/heap.py", ("MIT",)),
        ("bob/vendored", "vendor/heapq.py", ("Apache-2.0",)),
    ]


def test_rebuilding_adds_nothing(tmp_path: Path, corpus: Path) -> None:
    db = tmp_path / "i.sqlite"
    with open_store(db, create=True) as store:
        first = ingest.build(store, ingest.sources([corpus], repo="python/cpython"), workers=2)
        before = _snapshot(db)
        again = ingest.build(store, ingest.sources([corpus], repo="python/cpython"), workers=2)
    assert first.documents > 10
    assert again.documents == 0 and again.occurrences == 0
    assert _snapshot(db) == before


def test_jsonl_source(tmp_path: Path, corpus: Path) -> None:
    recs = [
        {"content": (corpus / "bisect.py").read_text(), "repo_name": "py/bisect", "path": "bisect.py",
         "detected_licenses": ["PSF-2.0"], "revision_id": "abc123", "license_type": "permissive"},
        {"content": (corpus / "colorsys.py").read_text(), "repo_name": "x/colors", "path": "c.py",
         "license_type": "no_license"},
    ]  # fmt: skip
    src = tmp_path / "shard.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    with open_store(tmp_path / "i.sqlite", create=True) as store:
        report = ingest.build(store, ingest.sources([src], license_type="permissive"), workers=1)
        assert report.documents == 1
        occ = store.occurrences([1])[1][0]
    assert occ.url == "https://github.com/py/bisect/blob/abc123/bisect.py"
    assert occ.licenses == ("PSF-2.0",)


def test_bad_jsonl_names_the_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"content": "x = 1"}\nnot json\n')
    with (
        open_store(tmp_path / "i.sqlite", create=True) as store,
        pytest.raises(InvalidInput, match=r"bad\.jsonl:2"),
    ):
        ingest.build(store, ingest.sources([src]), workers=1)


def test_missing_and_foreign_index_files(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="whence index build"):
        open_store(tmp_path / "nope.sqlite")
    other = tmp_path / "other.sqlite"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(IndexFormatError, match="not a whence index"):
        open_store(other, create=True)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all" * 100)
    with pytest.raises(IndexFormatError):
        open_store(text)


def _build_cmd(src: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "whence", "index", "build", str(src), "--index", str(db),
            "--repo", "python/cpython", "--workers", "2", "--commit-every", "20000",
            "--format", "json"]  # fmt: skip


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_build(cmd: list[str], db: Path, sig: signal.Signals, at: str) -> int:
    """Run the build ``cmd`` so that it sends itself ``sig`` at the failpoint ``at`` (``POINT=N``, see
    :mod:`whence.index.failpoints`): exactly there, however fast or slow the machine.  Checks that the
    signal stopped it the way it stops a build; returns the documents it left in ``db``."""
    env = os.environ | {failpoints.ENV: f"{at}:{sig.name}"}
    # Ctrl-C reaches a build run from a terminal, where SIGINT has its default action.  A test runner
    # started in the background of a shell script (as CI may be) ignores SIGINT, and its children
    # inherit that: the build would never see the signal.  Start it as a terminal would.
    out = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=_sigint_as_in_a_terminal
    )
    if sig == signal.SIGINT:  # Ctrl-C: the build says what it kept and exits 130
        assert out.returncode == 130 and "committed batches are kept" in out.stderr, out
    else:
        assert out.returncode == -sig, out
    with SQLiteStore(db, readonly=True) as st:
        return st.count_documents()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_interrupted_build_then_rerun_equals_clean_build(tmp_path: Path, sig: signal.Signals) -> None:
    """Interrupted right after its second commit, or with its third transaction written but not
    committed (which is then rolled back): the build keeps two batches, and a rerun finishes it."""
    import shutil
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    src = tmp_path / "src"
    src.mkdir()
    for name in (
        "email",
        "json",
        "http",
        "logging",
        "unittest",
        "asyncio",
        "idlelib",
        "xml",
        "multiprocessing",
    ):
        shutil.copytree(stdlib / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    clean = tmp_path / "clean.sqlite"
    subprocess.run(_build_cmd(src, clean), check=True, capture_output=True)

    partial = {}
    for at in ("after-commit=2", "before-commit=3"):
        crashed = tmp_path / f"{at}.sqlite"
        partial[at] = interrupted_build(_build_cmd(src, crashed), crashed, sig, at)
        assert 0 < partial[at] < len(_snapshot(clean)[0])
        subprocess.run(_build_cmd(src, crashed), check=True, capture_output=True)
        assert _snapshot(crashed) == _snapshot(clean)
    assert partial["before-commit=3"] == partial["after-commit=2"]


def test_a_failpoint_is_named_exactly() -> None:
    assert failpoints.parse("after-commit=2:SIGKILL") == ("after-commit", 2, signal.SIGKILL)
    assert failpoints.parse("before-commit=1:int") == ("before-commit", 1, signal.SIGINT)
    for bad in ("after-commit", "after-commit=0:SIGKILL", "after-commit=2:SIGNOPE", "later=1:SIGKILL"):
        with pytest.raises(ValueError, match="WHENCE_FAILPOINT"):
            failpoints.parse(bad)


def test_an_open_reader_sees_what_a_later_build_commits(tmp_path: Path, corpus: Path) -> None:
    from whence.index import search

    db = tmp_path / "i.sqlite"
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "heapq.py").write_bytes((corpus / "heapq.py").read_bytes())
    (b / "bisect.py").write_bytes((corpus / "bisect.py").read_bytes())
    snippet = "".join((corpus / "bisect.py").read_text().splitlines(keepends=True)[20:60])
    with open_store(db, create=True) as writer:
        ingest.build(writer, ingest.sources([a]), workers=1)
        with open_store(db, readonly=True) as reader:
            assert reader.count_documents() == 1
            assert search.search(reader, snippet).verdict == "none"
            ingest.build(writer, ingest.sources([b]), workers=1)
            assert reader.count_documents() == 2
            assert search.search(reader, snippet).verdict == "verbatim"


def _pairs(path: Path) -> list[tuple[int, bytes]]:
    """Every posting as (hash, content hash of its document), sorted."""
    import sqlite3

    import numpy as np

    from whence.index.stores import segments

    db = sqlite3.connect(path)
    content = dict(db.execute("SELECT id, content_hash FROM documents"))
    h, d = segments.decode_blocks([b for (b,) in db.execute("SELECT data FROM blocks")])
    db.close()
    return sorted(zip(h.tolist(), (content[int(x)] for x in np.asarray(d)), strict=True))


@pytest.mark.parametrize("window", [None, 300], ids=["one-window", "many-windows"])
def test_segments_merge_without_losing_postings(
    tmp_path: Path, corpus: Path, window: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whence.index import search
    from whence.index.stores import sqlite as sq

    if window is not None:  # a merge that walks the hash space in many small windows
        monkeypatch.setattr(sq, "MERGE_WINDOW", window)
    monkeypatch.setattr(sq, "OPTIMIZE_SHARE", 2.0)  # keep the tiered segments the build made

    one, many = tmp_path / "one.sqlite", tmp_path / "many.sqlite"
    with open_store(one, create=True) as st:
        ingest.build(st, ingest.sources([corpus]), workers=2)
        ref = st.stats()
    with open_store(many, create=True) as st:
        # Commits of 300 postings: nine similar segments merge into one, and the commits after it leave
        # a small one beside it (sqlite.tiered_choice).
        ingest.build(st, ingest.sources([corpus]), workers=2, commit_every=300, batch_files=2)
        tiered = st.stats()
        assert isinstance(st, sq.SQLiteStore)
        st.compact()
        merged = st.stats()
    assert ref["segments"] == 1
    assert 1 < int(tiered["segments"]) <= sq.MAX_SEGMENTS
    assert merged["segments"] == 1
    assert ref["fingerprints"] == tiered["fingerprints"] == merged["fingerprints"]
    assert _snapshot(one) == _snapshot(many)
    assert _pairs(one) == _pairs(many)
    snippet = "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])
    with open_store(one, readonly=True) as a, open_store(many, readonly=True) as b:
        ra, rb = search.search(a, snippet).as_dict(), search.search(b, snippet).as_dict()
    assert ra == rb and ra["verdict"] == "verbatim"


def test_posting_blocks_fill_the_pages_of_a_new_index(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full posting block (3,072 bytes) is one row: on 4 KiB pages each took a page of its own, a
    quarter of it empty, and a build wrote that much more.  A new index's pages hold several blocks."""
    import sqlite3

    from whence.index.stores import segments
    from whence.index.stores import sqlite as sq

    def blocks_pages(page_bytes: int) -> tuple[int, int]:
        monkeypatch.setattr(sq, "PAGE_BYTES", page_bytes)
        path = tmp_path / f"{page_bytes}.sqlite"
        with open_store(path, create=True) as st:
            ingest.build(st, ingest.sources([corpus]), workers=1)
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA page_size").fetchone()[0] == page_bytes
            full = db.execute("SELECT count(*) FROM blocks WHERE length(data) = ?", (12 * segments.BLOCK,))
            assert full.fetchone()[0] >= 20  # enough full blocks for their pages to tell
            # The leaf pages, which hold the rows: their bytes of payload, and their size.
            stored, paged = db.execute(
                "SELECT sum(payload), sum(pgsize) FROM dbstat WHERE name = 'blocks' AND pagetype = 'leaf'"
            ).fetchone()
        finally:
            db.close()
        return int(stored), int(paged)

    default = sq.PAGE_BYTES
    stored_small, paged_small = blocks_pages(4096)
    stored, paged = blocks_pages(default)
    assert stored == stored_small  # the same postings
    assert stored_small / paged_small < 0.8  # a page a block, a quarter of it empty
    assert stored / paged > 0.85, (stored, paged)


def test_tiered_merges_take_similar_segments_and_rewrite_each_posting_a_few_times() -> None:
    from whence.index.stores import sqlite as sq

    assert sq.tiered_choice([5] * 9) == 9  # similar sizes: all at once
    assert sq.tiered_choice([1, 1, 8, 8, 8, 8, 8, 8, 100]) == 2  # the big ones wait for the small to grow
    assert sq.tiered_choice([2, 2, 2, 2, 2, 12, 12, 12, 12]) == 5
    sizes = [3**i for i in range(12)]  # more than MAX_SEGMENTS + 1 (writers beside each other): enough
    assert sq.tiered_choice(sizes) == len(sizes) - sq.MAX_SEGMENTS + 1  # to leave MAX_SEGMENTS
    # A long build: 600 commits of one size, merged as _commit does.  Each posting is rewritten a few
    # times (about log2 of the commits), not once every few commits (the old rule, which merged down to
    # four segments: 16 writes per posting here).
    segments: list[int] = []
    written = 0
    for _ in range(600):
        segments.append(1)
        written += 1
        if len(segments) > sq.MAX_SEGMENTS:
            segments.sort()
            k = sq.tiered_choice(segments)
            segments[:k] = [sum(segments[:k])]
            written += segments[0]
        assert len(segments) <= sq.MAX_SEGMENTS
    assert written / 600 < 6


def test_a_merge_that_drops_removed_documents_leaves_a_directory_of_its_blocks(
    tmp_path: Path, corpus: Path
) -> None:
    import shutil

    # The merged segment's directory is sized for every pair of the segments merged; a merge that drops
    # the pairs of opted-out documents writes fewer blocks and cuts the room it did not use.
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    shutil.copytree(corpus, kept, ignore=shutil.ignore_patterns("json"))
    shutil.copytree(corpus / "json", gone)
    with open_store(tmp_path / "i.sqlite", create=True) as st:
        assert isinstance(st, SQLiteStore)
        ingest.build(st, ingest.sources([kept, gone]), workers=2)
        before = int(st.stats()["fingerprints"])
        assert st.add_optout("gone", "2026-11-30")[1] > 0
        st.compact()
        ((pairs, first, last),) = st._db.execute("SELECT pairs, length(first), length(last) FROM segments")
        assert 0 < pairs < before
        assert first == last == 8 * -(-pairs // 256)
        assert st.check()["problems"] == []


def test_a_big_build_ends_with_one_segment_and_a_small_one_keeps_tiers(tmp_path: Path, corpus: Path) -> None:
    db = tmp_path / "i.sqlite"
    with open_store(db, create=True) as st:
        # A commit every 1,000 postings leaves seven or eight tiered segments (500 left one or two, as the
        # tiers happened to merge: no end-of-build merge to test)
        ingest.build(st, ingest.sources([corpus]), commit_every=1000, batch_files=2)
        assert st.stats()["segments"] == 1  # the whole index was written by this build: merged
        before = st.stats()["fingerprints"]
        for i in range(2):
            extra = tmp_path / f"extra{i}"
            extra.mkdir()
            (extra / "one.py").write_text(
                f"def one_more_{i}(a, b, c):\n    return (a * b) // c + len(str(a))\n" * 3
            )
            ingest.build(st, ingest.sources([extra]), commit_every=500)
        stats = st.stats()
        # builds that add a sliver of the postings leave the big segment alone
        assert stats["segments"] == 3 and stats["fingerprints"] > before  # type: ignore[operator]
