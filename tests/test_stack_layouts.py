"""The Stack v2 as StarCoder2 saw it: repository-nested shards beside per-file ones, dataset folders,
language and subset selections, known blobs never fetched twice, recorded sources, and sync to a newer
revision -- on SQLite and on the live search-engine node, from real code written as real shards."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.test_ingest import interrupted_build
from whence.cli import main
from whence.index import stackv2
from whence.index.stackv2_writer import FileRow, ShardWriter, blob_id_of, content_id_of

STDLIB = Path(sysconfig.get_paths()["stdlib"])
INCLUDE = Path(sysconfig.get_paths()["include"])
#: Real code in several repositories: (repository, folder under the standard library, license type).
REPOS = [
    ("python/email", "email", "permissive"),
    ("python/json", "json", "permissive"),
    ("python/http", "http", "permissive"),
    ("someone/logging-copy", "logging", "no_license"),
    ("python/xmlrpc", "xmlrpc", "permissive"),
]


def _files() -> list[FileRow]:
    rows: list[FileRow] = []
    for repo, folder, kind in REPOS:
        lic = [] if kind == "no_license" else ["PSF-2.0"]
        for p in sorted((STDLIB / folder).rglob("*.py")):
            rel = p.relative_to(STDLIB).as_posix()
            rows.append(FileRow(p.read_bytes(), repo, rel, lic, license_type=kind, language="Python"))
    for h in sorted(INCLUDE.glob("*.h"))[:25]:
        rows.append(FileRow(h.read_bytes(), "python/cpython-include", f"Include/{h.name}", ["PSF-2.0"],
                            language="C"))  # fmt: skip
    # The same content in two repositories: one document, two occurrences.
    textwrap = (STDLIB / "textwrap.py").read_bytes()
    rows.append(FileRow(textwrap, "python/json", "vendor-free/textwrap.py", ["PSF-2.0"], language="Python"))
    rows.append(FileRow(textwrap, "other/tw", "textwrap.py", ["MIT"], language="Python"))
    return rows


@dataclass
class Written:
    shards: Path
    blobs: Path


def _write(out: Path, rows: list[FileRow], layout: str, shard_rows: int = 60, **kw: Any) -> Written:
    with ShardWriter(out, shard_rows=shard_rows, layout=layout, **kw) as w:
        for r in rows:
            w.add(r)
    return Written(out / "shards", out / "blobs")


@pytest.fixture(scope="module")
def rows() -> list[FileRow]:
    return _files()


@pytest.fixture(scope="module")
def flat(rows: list[FileRow], tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(tmp_path_factory.mktemp("flat"), rows, "flat")


@pytest.fixture(scope="module")
def nested(rows: list[FileRow], tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write(tmp_path_factory.mktemp("nested") / "the-stack-v2-train-full-ids", rows, "nested")


def _cli(*args: str, expect: int = 0) -> Any:
    res = CliRunner().invoke(main, [*args, "--format", "json"])
    assert res.exit_code == expect, res.output
    return json.loads(res.output) if expect == 0 else res.output


def _build(target: str, *sources: str, blobs: Path | None = None, extra: tuple[str, ...] = ()) -> Any:
    more = ("--blobs", str(blobs)) if blobs else ()
    return _cli("index", "build", *sources, "--index", target, *more, *extra)


def _answers(target: str, rows: list[FileRow]) -> list[Any]:
    """Search answers for fragments of several files: repository, path, revision, licenses, lines."""
    out = []
    for r in rows[::5]:
        lines = r.data.decode().splitlines()
        if len(lines) < 80:
            continue
        fragment = "\n".join(lines[40:70]) + "\n"
        res = CliRunner().invoke(main, ["search", "--index", target, "--format", "json"], input=fragment)
        assert res.exit_code == 0, res.output
        got = json.loads(res.output)
        out.append(
            [
                (m["verdict"], m["repo"], m["path"], m["url"], m["licenses"], m["spans"],
                 sorted((o["repo"], o["path"], o["url"], tuple(o["licenses"])) for o in m["occurrences"]))
                for m in got["matches"]
            ]
        )  # fmt: skip
    assert sum(map(bool, out)) >= 3, "the fragments must be found"
    return out


def _counts(target: str) -> dict[str, Any]:
    stats = _cli("index", "stats", "--index", target)
    return {k: stats[k] for k in ("documents", "occurrences", "repositories", "fingerprints", "source_bytes")}


# -- the two layouts --------------------------------------------------------------------------------


def test_writer_ids_are_software_heritage_s(flat: Written) -> None:
    """blob_id: the SHA-1 of the bytes (the bucket's key); content_id: the sha1_git (the SWHID's)."""
    table = pq.read_table(next(flat.shards.glob("*.parquet")))
    data = (STDLIB / "email" / "__init__.py").read_bytes()
    assert blob_id_of(data) == __import__("hashlib").sha1(data).hexdigest()
    # git hash-object computes the sha1_git of a blob: the content_id must equal it.
    tmp = flat.shards.parent / "probe.bin"
    tmp.write_bytes(data)
    git = subprocess.run(["git", "hash-object", str(tmp)], capture_output=True, text=True, check=True)
    assert content_id_of(data) == git.stdout.strip()
    row = table.slice(0, 1).to_pylist()[0]
    assert (flat.blobs / "content" / row["blob_id"]).exists()


def test_nested_shard_has_the_train_ids_schema(nested: Written) -> None:
    first = sorted(nested.shards.glob("*.parquet"))[0]
    shard = stackv2.check_shard(first)
    assert shard.layout == "nested" and shard.files and shard.rows < shard.files
    schema = pq.read_schema(first)
    assert schema.field("files").type.value_type.get_field_index("blob_id") >= 0
    assert schema.get_field_index("blob_id") < 0  # on the file structs, not the repository row


def test_nested_and_per_file_shards_build_the_same_index(
    tmp_path: Path, rows: list[FileRow], flat: Written, nested: Written
) -> None:
    _same_index(str(tmp_path / "flat.sqlite"), str(tmp_path / "nested.sqlite"), rows, flat, nested)


def test_nested_and_per_file_shards_build_the_same_engine_index(
    rows: list[FileRow], flat: Written, nested: Written, engine_url: str
) -> None:
    import uuid

    from tests.engine import drop_indices

    names = [f"test-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    try:
        _same_index(f"{engine_url}/{names[0]}", f"{engine_url}/{names[1]}", rows, flat, nested)
    finally:
        for name in names:
            drop_indices(engine_url, name)


def _same_index(a: str, b: str, rows: list[FileRow], flat: Written, nested: Written) -> None:
    built_a = _build(a, str(flat.shards / "*.parquet"), blobs=flat.blobs, extra=("--license-type", "all"))
    # The nested set given as the dataset's folder (no glob).
    built_b = _build(b, str(nested.shards), blobs=nested.blobs, extra=("--license-type", "all"))
    for key in ("files", "documents_added", "occurrences_added", "duplicates", "fetched"):
        assert built_a[key] == built_b[key], key
    assert built_a["fetched"] == len(rows)
    assert _counts(a) == _counts(b)
    assert _answers(a, rows) == _answers(b, rows)


def test_a_per_language_dataset_folder_and_language_selection(tmp_path: Path, rows: list[FileRow]) -> None:
    """data/<Language>/train-*.parquet as the per-file datasets ship it; --language reads only C."""
    root = tmp_path / "the-stack-v2-dedup"
    for lang in ("Python", "C"):
        w = _write(tmp_path / f"w-{lang}", [r for r in rows if r.language == lang], "flat", shard_rows=40)
        dest = root / "data" / lang
        dest.mkdir(parents=True)
        for i, shard in enumerate(sorted(w.shards.glob("*.parquet"))):
            shard.rename(dest / f"train-{i:05d}-of-00099.parquet")
        shutil.copytree(w.blobs, tmp_path / "blobs", dirs_exist_ok=True)
    (root / "README.md").write_text("# a dataset card\n")
    everything = _build(str(tmp_path / "all.sqlite"), str(root / "data" / "**" / "*.parquet"),
                        blobs=tmp_path / "blobs", extra=("--license-type", "all"))  # fmt: skip
    assert everything["files"] == len(rows)
    only_c = _build(str(tmp_path / "c.sqlite"), str(root), blobs=tmp_path / "blobs",
                    extra=("--language", "c", "--license-type", "all"))  # fmt: skip
    c_rows = [r for r in rows if r.language == "C"]
    assert only_c["files"] == len(c_rows) and only_c["documents_added"] == len(c_rows)
    stats = _cli("index", "stats", "--index", str(tmp_path / "c.sqlite"))
    assert {s["dataset"] for s in stats["sources"]} == {"bigcode/the-stack-v2-dedup"}
    assert all("/data/C/" in s["location"] for s in stats["sources"])  # Python's folder never opened


def test_subset_keeps_what_starcoder2_trained_on(
    tmp_path: Path, rows: list[FileRow], nested: Written
) -> None:
    default = _build(str(tmp_path / "d.sqlite"), str(nested.shards), blobs=nested.blobs)
    subset = _build(str(tmp_path / "s.sqlite"), str(nested.shards), blobs=nested.blobs,
                    extra=("--subset", "starcoder2-15b"))  # fmt: skip
    no_license = sum(r.license_type == "no_license" for r in rows)
    assert default["skipped"]["filtered_license"] == no_license  # the default leaves them out ...
    assert "filtered_license" not in subset["skipped"]  # ... the model did not
    # A shard of another dataset is refused for the subset, naming both.
    args = ["index", "build", str(nested.shards), "--blobs", str(nested.blobs), "--subset", "starcoder2-3b"]
    res = CliRunner().invoke(main, [*args, "--index", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and "the-stack-v2-train-smol-ids" in res.output
    assert "the-stack-v2-train-full-ids" in res.output and not (tmp_path / "x.sqlite").exists()


def test_hostile_nested_shards_are_refused_by_name(tmp_path: Path, nested: Written) -> None:
    good = next(nested.shards.glob("*.parquet"))
    table = pq.read_table(good)
    files = table.column("files").combine_chunks()
    # A files struct whose length_bytes is text.
    bad_struct = pa.StructArray.from_arrays(
        [files.values.field(n) if n != "length_bytes" else pa.array(["x"] * len(files.values))
         for n in [f.name for f in files.type.value_type]],
        names=[f.name for f in files.type.value_type],
    )  # fmt: skip
    bad_files = pa.ListArray.from_arrays(files.offsets, bad_struct)
    bad = tmp_path / "bad.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("files"), "files", bad_files), bad)
    res = CliRunner().invoke(main, ["index", "build", str(bad), "--blobs", str(nested.blobs),
                                    "--index", str(tmp_path / "i.sqlite")])  # fmt: skip
    assert res.exit_code == 2 and "length_bytes" in res.output and str(bad) in res.output
    # Neither layout: no blob_id and no files list.
    neither = tmp_path / "neither.parquet"
    pq.write_table(table.drop_columns(["files"]), neither)
    res = CliRunner().invoke(main, ["index", "build", str(neither), "--blobs", str(nested.blobs),
                                    "--index", str(tmp_path / "i.sqlite")])  # fmt: skip
    assert res.exit_code == 2 and "'files'" in res.output and "'blob_id'" in res.output
    assert not (tmp_path / "i.sqlite").exists()


# -- reruns fetch only what is missing -------------------------------------------------------------


def _build_cmd(source: str, blobs: Path, target: str) -> list[str]:
    return [sys.executable, "-m", "whence", "index", "build", source, "--blobs", str(blobs),
            "--index", target, "--workers", "2", "--commit-every", "4000", "--license-type", "all",
            "--format", "json"]  # fmt: skip


def _killed_then_rerun(target: str, nested: Written, rows: list[FileRow], tmp_path: Path) -> None:
    cmd = _build_cmd(str(nested.shards), nested.blobs, target)
    env_point = "before-commit=3" if not target.startswith("http") else "after-commit=1"
    if target.startswith("http"):
        env = {**os.environ, "WHENCE_FAILPOINT": f"{env_point}:SIGKILL"}
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == -signal.SIGKILL, out
    else:
        interrupted_build(cmd, Path(target), signal.SIGKILL, env_point)
    rerun = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    distinct = len({r.data for r in rows})
    # Only what the killed build had not indexed was fetched; the rest was known by its blob id.
    assert 0 < rerun["fetched"] < len(rows)
    assert rerun["fetched"] + rerun["known_blobs"] == len(rows)
    assert rerun["documents_added"] < distinct
    clean = str(tmp_path / "clean.sqlite")
    first = json.loads(subprocess.run(_build_cmd(str(nested.shards), nested.blobs, clean), check=True,
                                      capture_output=True, text=True).stdout)  # fmt: skip
    assert first["fetched"] == len(rows)
    assert _counts(target) == _counts(clean)
    assert _answers(target, rows) == _answers(clean, rows)
    again = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    # Only blobs that give no document (empty files: skipped as such) are fetched again.
    empty = sum(1 for r in rows if not r.data.strip())
    assert again["fetched"] == again["skipped"]["empty"] == empty
    assert again["documents_added"] == 0 and again["occurrences_added"] == 0


def test_killed_nested_build_rerun_fetches_only_what_is_missing_sqlite(
    tmp_path: Path, rows: list[FileRow], nested: Written
) -> None:
    _killed_then_rerun(str(tmp_path / "crashed.sqlite"), nested, rows, tmp_path)


def test_killed_nested_build_rerun_fetches_only_what_is_missing_engine(
    tmp_path: Path, rows: list[FileRow], nested: Written, engine_index: str
) -> None:
    _killed_then_rerun(engine_index, nested, rows, tmp_path)


# -- sources and sync -------------------------------------------------------------------------------


def _revision(tmp_path: Path, rows: list[FileRow], name: str, drop: str = "") -> Written:
    """One revision of a nested dataset as a Hugging Face cache folder (dataset and revision in its path)."""
    out = tmp_path / "hub" / "datasets--bigcode--the-stack-v2-train-smol-ids" / "snapshots" / name
    w = _write(tmp_path / f"w-{name}", [r for r in rows if r.repo != drop], "nested")
    (out / "data").mkdir(parents=True)
    for i, shard in enumerate(sorted(w.shards.glob("*.parquet"))):
        shutil.copy(shard, out / "data" / f"train-{i:05d}-of-00099.parquet")
    return Written(out, w.blobs)


def _sync_case(target: str, tmp_path: Path, rows: list[FileRow]) -> None:
    old = _revision(tmp_path, rows, "1111aaaa")
    new = _revision(tmp_path, rows, "2222bbbb", drop="python/http")
    built = _build(target, str(old.shards), blobs=old.blobs, extra=("--subset", "starcoder2-7b"))
    stats = _cli("index", "stats", "--index", target)
    assert [s["revision"] for s in stats["sources"]] == ["1111aaaa"] * len(stats["sources"])
    assert {s["dataset"] for s in stats["sources"]} == {"bigcode/the-stack-v2-train-smol-ids"}
    assert all(
        s["checksum"].startswith("sha256:") and s["size"] > 0 and s["rows"] > 0 for s in stats["sources"]
    )
    assert stats["sources"][0]["options"]["subset"] == "starcoder2-7b"
    before = _counts(target)
    assert built["documents_added"] == before["documents"]

    synced = _cli("index", "sync", str(new.shards), "--index", target, "--blobs", str(new.blobs),
                  "--subset", "starcoder2-7b")  # fmt: skip
    http_files = [r for r in rows if r.repo == "python/http"]
    assert synced["repositories_gone"] == ["python/http"]
    assert synced["occurrences_removed"] == len(http_files)
    # Nothing new: every blob was known (but those of empty files, which give no document).
    assert synced["added"]["fetched"] == synced["added"]["skipped"].get("empty", 0)
    after = _counts(target)
    assert after["occurrences"] == before["occurrences"] - len(http_files)
    assert after["documents"] == before["documents"] - synced["documents_removed"] > 0
    stats = _cli("index", "stats", "--index", target)
    assert {s["revision"] for s in stats["sources"]} == {"2222bbbb"}
    # The same result as a clean build of the new revision (postings of removed documents stay in
    # SQLite's immutable segments until a merge drops them, so fingerprints are not compared).
    clean = str(tmp_path / "clean-new.sqlite")
    _build(clean, str(new.shards), blobs=new.blobs, extra=("--subset", "starcoder2-7b"))
    assert {**_counts(clean), "fingerprints": 0} == {**_counts(target), "fingerprints": 0}
    assert _answers(clean, rows) == _answers(target, rows)
    # A second run changes nothing.
    again = _cli("index", "sync", str(new.shards), "--index", target, "--blobs", str(new.blobs),
                 "--subset", "starcoder2-7b")  # fmt: skip
    assert again["occurrences_removed"] == again["documents_removed"] == 0
    assert again["added"]["documents_added"] == again["added"]["occurrences_added"] == 0
    assert again["added"]["fetched"] == again["added"]["skipped"].get("empty", 0)
    assert _counts(target) == after


def test_sync_to_a_revision_that_dropped_a_repository_sqlite(tmp_path: Path, rows: list[FileRow]) -> None:
    _sync_case(str(tmp_path / "i.sqlite"), tmp_path, rows)


def test_sync_to_a_revision_that_dropped_a_repository_engine(
    tmp_path: Path, rows: list[FileRow], engine_index: str
) -> None:
    _sync_case(engine_index, tmp_path, rows)


def test_sync_leaves_folders_and_unnamed_datasets_alone(
    tmp_path: Path, rows: list[FileRow], flat: Written
) -> None:
    target = str(tmp_path / "i.sqlite")
    src = tmp_path / "src"
    shutil.copytree(STDLIB / "json", src)
    _build(target, str(src))
    out = _cli("index", "sync", str(flat.shards), "--index", target, "--blobs", str(flat.blobs), expect=2)
    assert "--dataset" in out  # which dataset these shards are cannot be told
    synced = _cli("index", "sync", str(flat.shards), "--index", target, "--blobs", str(flat.blobs),
                  "--dataset", "example/mine", "--license-type", "all")  # fmt: skip
    assert synced["occurrences_removed"] == 0
    added = synced["added"]["occurrences_added"]
    occ = _counts(target)["occurrences"]
    # The folder's files survive a sync of the dataset to a revision without any of its rows.
    empty = tmp_path / "empty"
    _write(empty, rows[:1], "flat")
    synced = _cli("index", "sync", str(empty / "shards"), "--index", target, "--blobs", str(empty / "blobs"),
                  "--dataset", "example/mine", "--license-type", "all")  # fmt: skip
    assert synced["occurrences_removed"] == added - 1  # all but rows[0]'s
    assert _counts(target)["occurrences"] == occ - (added - 1)
    assert _answers(target, [FileRow((src / "decoder.py").read_bytes(), "", "")] * 20)
