"""Stack v2 shards: parquet + blob store (a folder, and S3 over HTTP), filters, skips, bad shards,
crash safety and opt-out -- on real shards written in the test from real code."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.s3server import S3Folder
from tests.test_ingest import _snapshot, interrupted_build
from whence.cli import main
from whence.errors import InvalidInput
from whence.index import ingest, search
from whence.index.model import Occurrence
from whence.index.stackv2_writer import FileRow, ShardWriter, blob_id_of
from whence.index.stores import open_store
from whence.index.stores.sqlite import SQLiteStore

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# A real module (not in the test corpus) as a repository might store it in Latin-1.
LATIN1 = "# Données du café: «copie» de sched.py\n" + (STDLIB / "sched.py").read_text().replace(
    '"""', '"""Ordonnanceur (élément naïf). ', 1
)


@dataclass
class Shards:
    out: Path
    shards: list[Path]
    blobs: Path
    missing_blob: str


def _write(out: Path, corpus: Path, shard_rows: int = 8) -> Shards:
    """Real code as Stack v2 shards, plus one row for every way a row can be left out."""
    with ShardWriter(out, shard_rows=shard_rows) as w:
        for p in sorted(corpus.rglob("*.py")):
            rel = p.relative_to(corpus).as_posix()
            w.add(FileRow(p.read_bytes(), "python/cpython", f"Lib/{rel}", ["PSF-2.0"], language="Python"))
        textwrap = (corpus / "textwrap.py").read_bytes()
        w.add(FileRow(textwrap, "someone/textfork", "textwrap.py", ["MIT"], language="Python"))
        w.add(FileRow((corpus / "shlex.py").read_bytes(), "someone/nolicense", "shlex2.py", [],
                      license_type="no_license", language="Python"))  # fmt: skip
        w.add(
            FileRow(
                b"def vendored():\n    return 1\n" * 30,
                "someone/app",
                "vendor/lib.py",
                ["MIT"],
                is_vendor=True,
            )
        )
        w.add(FileRow(b"# @generated\nX = 1\n" * 30, "someone/app", "gen/pb2.py", ["MIT"], is_generated=True))
        w.add(FileRow(b"x = 1\n" * 200_000, "someone/app", "big.py", ["MIT"]))
        w.add(FileRow(b"\x41\x00\x42", "someone/app", "odd.py", ["MIT"], encoding="UTF-16-LE"))
        w.add(
            FileRow(
                LATIN1.encode("latin-1"), "someone/latin", "cafe.py", ["BSD-3-Clause"], encoding="ISO-8859-1"
            )
        )
        gone = w.add(FileRow(b"def gone():\n    return 2\n" * 20, "someone/app", "gone.py", ["MIT"]))
    (out / "blobs" / "content" / gone).unlink()
    return Shards(out, w.shards, out / "blobs", gone)


@pytest.fixture(scope="module")
def shards(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Shards:
    return _write(tmp_path_factory.mktemp("stack"), corpus)


def _build(db: Path, *args: str, expect: int = 0) -> dict[str, object]:
    res = CliRunner().invoke(main, ["index", "build", *args, "--index", str(db), "--format", "json"])
    assert res.exit_code == expect, res.output
    return json.loads(res.output) if expect == 0 else {"output": res.output}


def test_shards_with_a_blob_folder(tmp_path: Path, shards: Shards, corpus: Path) -> None:
    db = tmp_path / "i.sqlite"
    summary = _build(db, str(shards.out / "shards" / "*.parquet"), "--blobs", str(shards.blobs))
    reasons = ("filtered_license", "vendor", "generated", "too_large", "undecodable", "missing_blob")
    assert summary["skipped"] == dict.fromkeys(reasons, 1)
    py_files = len(list(corpus.rglob("*.py")))
    assert summary["files"] == py_files + 8
    with SQLiteStore(db, readonly=True) as st:
        assert st.stats()["documents"] == py_files + 1  # the fork's textwrap.py is the same content
        textwrap = (corpus / "textwrap.py").read_text()
        res = search.search(st, "".join(textwrap.splitlines(keepends=True)[400:460]))
        assert res.verdict == "verbatim"
        m = res.matches[0]
        assert {(o.repo, o.path) for o in m.occurrences} == {
            ("python/cpython", "Lib/textwrap.py"), ("someone/textfork", "textwrap.py"),
        }  # fmt: skip
        d = m.as_dict()
        assert d["blob_id"] == blob_id_of(textwrap.encode())
        revision = hashlib.sha1(b"revision:python/cpython").hexdigest()
        first, last = d["spans"][0]["source_lines"]
        assert (
            d["url"] == f"https://github.com/python/cpython/blob/{revision}/Lib/textwrap.py#L{first}-L{last}"
        )
        # A file stored in Latin-1 is decoded from its src_encoding, indexed as text and found.
        res = search.search(st, LATIN1)
        assert res.verdict == "verbatim" and res.matches[0].occurrences[0].repo == "someone/latin"
        assert res.matches[0].as_dict()["license_category"] == "permissive"


def test_reingesting_a_shard_adds_nothing(tmp_path: Path, shards: Shards) -> None:
    db = tmp_path / "i.sqlite"
    args = [*map(str, shards.shards), "--blobs", str(shards.blobs)]
    first = _build(db, *args)
    before = _snapshot(db)
    again = _build(db, *args)
    assert first["documents_added"] and again["documents_added"] == 0 and again["occurrences_added"] == 0
    assert _snapshot(db) == before


def test_license_type_all_keeps_no_license_rows_as_unknown(
    tmp_path: Path, shards: Shards, corpus: Path
) -> None:
    db = tmp_path / "i.sqlite"
    summary = _build(db, *map(str, shards.shards), "--blobs", str(shards.blobs), "--license-type", "all")
    assert "filtered_license" not in summary["skipped"]  # type: ignore[operator]
    shlex = "".join((corpus / "shlex.py").read_text().splitlines(keepends=True)[20:80])
    with SQLiteStore(db, readonly=True) as st:
        res = search.search(st, shlex)
    homes = {o.repo: o for m in res.matches for o in m.occurrences}
    assert homes["someone/nolicense"].licenses == ()
    # The same content is also under PSF-2.0 in cpython; the no-license home alone would be unknown.
    from whence.index.licenses import classify

    assert classify(homes["someone/nolicense"].licenses).category == "unknown"


def test_include_vendor_and_generated(tmp_path: Path, shards: Shards) -> None:
    db = tmp_path / "i.sqlite"
    summary = _build(db, *map(str, shards.shards), "--blobs", str(shards.blobs), "--include-vendor",
                     "--include-generated")  # fmt: skip
    assert "vendor" not in summary["skipped"] and "generated" not in summary["skipped"]  # type: ignore[operator]


def test_inline_content_column_needs_no_blob_store(tmp_path: Path, shards: Shards) -> None:
    table = pq.read_table(shards.shards[0])
    contents = [
        gzip.decompress((shards.blobs / "content" / b).read_bytes()).decode()
        for b in table["blob_id"].to_pylist()
    ]
    inline = tmp_path / "inline.parquet"
    pq.write_table(table.append_column("content", pa.array(contents, pa.string())), inline)
    db = tmp_path / "i.sqlite"
    summary = _build(db, str(inline))
    assert summary["documents_added"] == len(contents)
    out = _build(tmp_path / "j.sqlite", str(shards.shards[0]), expect=2)["output"]
    assert "no 'content' column" in str(out) and "--blobs" in str(out)
    assert not (tmp_path / "j.sqlite").exists()


def _truncated(good: Path, bad: Path) -> str:
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    return "parquet"


def _missing_column(good: Path, bad: Path) -> str:
    pq.write_table(pq.read_table(good).drop_columns(["license_type"]), bad)
    return "'license_type'"


def _wrong_type(good: Path, bad: Path) -> str:
    t = pq.read_table(good)
    i = t.schema.get_field_index("length_bytes")
    pq.write_table(
        t.set_column(i, "length_bytes", pa.array([str(x) for x in t["length_bytes"].to_pylist()])), bad
    )
    return "'length_bytes'"


@pytest.mark.parametrize(
    "damage", [_truncated, _missing_column, _wrong_type], ids=["truncated", "missing", "type"]
)
def test_a_bad_shard_is_named_and_leaves_the_index_unchanged(
    tmp_path: Path, shards: Shards, damage: object
) -> None:
    db = tmp_path / "i.sqlite"
    _build(db, str(shards.shards[0]), "--blobs", str(shards.blobs))
    before = db.read_bytes()
    bad = tmp_path / "bad-shard.parquet"
    column = damage(shards.shards[0], bad)  # type: ignore[operator]
    # A good shard first, then the bad one: the good one must not be half-ingested either.
    out = _build(db, str(shards.shards[1]), str(bad), "--blobs", str(shards.blobs), expect=2)["output"]
    assert str(bad) in str(out) and column in str(out), out
    assert db.read_bytes() == before


def test_no_shard_matches_the_pattern(tmp_path: Path) -> None:
    out = _build(tmp_path / "i.sqlite", str(tmp_path / "nothing-*.parquet"), expect=2)["output"]
    assert "no file matches" in str(out)


@pytest.fixture()
def s3(shards: Shards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Folder]:
    root = tmp_path / "s3"
    root.mkdir()
    (root / "softwareheritage").symlink_to(shards.blobs)
    server = S3Folder(root)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    yield server
    server.stop()


def test_s3_blob_store_over_http_equals_the_folder(tmp_path: Path, shards: Shards, s3: S3Folder) -> None:
    local, remote = tmp_path / "local.sqlite", tmp_path / "s3.sqlite"
    _build(local, *map(str, shards.shards), "--blobs", str(shards.blobs))
    summary = _build(remote, *map(str, shards.shards), "--blobs", "s3://softwareheritage")
    assert summary["skipped"]["missing_blob"] == 1  # type: ignore[index]
    assert _snapshot(remote) == _snapshot(local)
    assert f"GET /softwareheritage/content/{shards.missing_blob}" in s3.requests  # it went over the wire


def test_s3_outage_stops_the_build_and_a_rerun_finishes_it(
    tmp_path: Path, shards: Shards, s3: S3Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = tmp_path / "clean.sqlite"
    _build(clean, *map(str, shards.shards), "--blobs", str(shards.blobs))
    s3.stop()
    db = tmp_path / "i.sqlite"
    out = str(_build(db, *map(str, shards.shards), "--blobs", "s3://softwareheritage", expect=2)["output"])
    assert "s3://softwareheritage/content/" in out and "connect" in out.lower()
    back = S3Folder(s3.root)  # the store is back (on another port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", back.url)
    try:
        summary = _build(db, *map(str, shards.shards), "--blobs", "s3://softwareheritage")
    finally:
        back.stop()
    assert summary["skipped"] == _build(tmp_path / "x.sqlite", *map(str, shards.shards), "--blobs",
                                        str(shards.blobs))["skipped"]  # fmt: skip
    assert _snapshot(db) == _snapshot(clean)


def test_blob_ids_cannot_leave_the_store(tmp_path: Path, shards: Shards) -> None:
    from whence.index.blobs import LocalBlobs, MissingBlob

    with pytest.raises(MissingBlob):
        LocalBlobs(shards.blobs).get("../../shards/shard-00000.parquet")
    with pytest.raises(InvalidInput):
        LocalBlobs(tmp_path)


# -- crash safety --------------------------------------------------------------------------------


def _build_cmd(shard_glob: str, blobs: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "whence", "index", "build", shard_glob, "--blobs", str(blobs),
            "--index", str(db), "--workers", "2", "--commit-every", "20000", "--format", "json"]  # fmt: skip


def test_killed_shard_build_then_rerun_equals_clean_build(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("email", "json", "http", "logging", "unittest", "asyncio", "idlelib", "xml"):
        shutil.copytree(STDLIB / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("textwrap.py", "shlex.py"):
        shutil.copy(STDLIB / name, src / name)
    stack = _write(tmp_path / "stack", src, shard_rows=200)
    pattern = str(stack.out / "shards" / "*.parquet")
    clean = tmp_path / "clean.sqlite"
    subprocess.run(_build_cmd(pattern, stack.blobs, clean), check=True, capture_output=True)
    crashed = tmp_path / "crashed.sqlite"
    # Killed outright with its third transaction written but not committed: two batches are kept.
    partial = interrupted_build(
        _build_cmd(pattern, stack.blobs, crashed), crashed, signal.SIGKILL, "before-commit=3"
    )
    assert 0 < partial < len(_snapshot(clean)[0])
    subprocess.run(_build_cmd(pattern, stack.blobs, crashed), check=True, capture_output=True)
    assert _snapshot(crashed) == _snapshot(clean)


# -- opt-out -------------------------------------------------------------------------------------


def _cli(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_opt_out_removes_a_repository_and_keeps_it_out(tmp_path: Path, shards: Shards, corpus: Path) -> None:
    db = tmp_path / "i.sqlite"
    args = [*map(str, shards.shards), "--blobs", str(shards.blobs)]
    _build(db, *args)
    textwrap = "".join((corpus / "textwrap.py").read_text().splitlines(keepends=True)[400:460])
    with SQLiteStore(db, readonly=True) as st:
        latin_doc = search.search(st, LATIN1).matches[0].doc_id
        docs_before = st.count_documents()

    out = _cli("index", "optout", "add", "someone/latin", "SOMEONE/TEXTFORK", "--index", str(db))
    assert "removed 1 occurrences and 1 documents" in out  # latin: its only home
    assert "removed 1 occurrences and 0 documents" in out  # textfork: cpython still has that content
    listed = json.loads(_cli("index", "optout", "list", "--index", str(db), "--format", "json"))
    assert [r["repo"] for r in listed] == ["someone/latin", "SOMEONE/TEXTFORK"]
    with SQLiteStore(db, readonly=True) as st:
        assert search.search(st, LATIN1).verdict == "none"
        res = search.search(st, textwrap)
        assert [o.repo for o in res.matches[0].occurrences] == ["python/cpython"]
        assert st.count_documents() == docs_before - 1

    again = _build(db, *args)  # a later build of the same shards keeps them out
    assert again["skipped"]["opted_out"] == 2 and again["documents_added"] == 0  # type: ignore[index]

    # A new content never inherits the deleted document's id (its postings are still in a segment).
    with open_store(db) as st:
        new = ingest.SourceFile(lambda: b"def fresh(a, b):\n    return a - b\n" * 30,
                                Occurrence("someone/new", "fresh.py", ("MIT",)))  # fmt: skip
        ingest.build(st, iter([new]))
        ids = sorted(st.documents(range(1, latin_doc + 10)))
        assert latin_doc not in ids and max(ids) > latin_doc
        assert search.search(st, LATIN1).verdict == "none"
        fingerprints = st.stats()["fingerprints"]
        assert isinstance(st, SQLiteStore)
        st.compact()  # a full merge drops the deleted document's postings for good
        assert st.stats()["fingerprints"] < fingerprints  # type: ignore[operator]
        assert len(st._removed_ids()) == 0

    _cli("index", "optout", "remove", "someone/latin", "--index", str(db))
    back = _build(db, *args)
    assert back["documents_added"] == 1 and back["skipped"]["opted_out"] == 1  # type: ignore[index]
    with SQLiteStore(db, readonly=True) as st:
        assert search.search(st, LATIN1).matches[0].occurrences[0].repo == "someone/latin"


def test_opt_out_refuses_a_bad_name(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["index", "optout", "add", "not-a-repo", "--index", str(tmp_path / "i.sqlite")]
    )
    assert res.exit_code == 2 and "owner/name" in res.output
    assert not os.path.exists(tmp_path / "i.sqlite")
