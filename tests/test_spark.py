"""The build as an Apache Spark job (``whence index build --spark MASTER``), run for real in local mode:
Spark's parquet reader over shards of both layouts, the executors fetching and fingerprinting, into
SQLite (merged by the driver) and into the live search-engine node (bulk writes from the executors).
Each must give the index the CLI's own build gives: the same counts and the same search answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.engine import drop_indices
from tests.test_stack_layouts import STDLIB, Written, _answers, _build, _cli, _counts, _files, _write
from whence.cli import main
from whence.index.stackv2_writer import FileRow

pyspark_sql = pytest.importorskip("pyspark.sql", reason="pip install 'whence[spark]'")

MASTER = "local[2]"
#: What the summaries of the two builds must agree on.  Not ``fetched``, ``known_blobs`` and ``bytes``
#: (those read): a blob that another partition already wrote is known, and not fetched, depending on
#: which task ran first -- only their sum is fixed.
SUMMARY = ("files", "documents_added", "duplicates", "occurrences_added", "skipped")


def _same_summary(got: dict[str, Any], built: dict[str, Any]) -> None:
    assert {k: got[k] for k in SUMMARY} == {k: built[k] for k in SUMMARY}
    assert got["fetched"] + got["known_blobs"] == built["fetched"] + built["known_blobs"]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One small local session for the module (the builds run in this process find it active and use
    it): two cores, a task tried up to twice (the retry test kills first attempts), no UI, splits of a
    few row groups."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        pyspark_sql.SparkSession.builder.master("local[2,2]")
        .appName("whence tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.files.maxPartitionBytes", "2k")  # a partition per row group or two
        # A fresh Python worker per task attempt: the failpoint that kills first attempts counts its passes
        # per process, and with workers reused across builds the retry test's second engine saw no
        # attempt killed (70 documents added of 70) once the first engine's run had gone before it.
        .config("spark.python.worker.reuse", "false")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def rows() -> list[FileRow]:
    """The layout tests' files, and copies of two of them in a later repository: one content seen in
    two shards (two partitions), whose first occurrence must stay the first one."""
    out = _files()
    for r in (out[5], out[10]):
        out.append(FileRow(r.data, "late/copies", f"copy/{r.path}", ["Apache-2.0"], language=r.language))
    return out


def _row_groups(written: Written, size: int) -> Written:
    """The shards rewritten with row groups of ``size`` rows: with the session's small splits, a shard
    is read as several partitions, which Spark schedules in no particular order."""
    for shard in written.shards.glob("*.parquet"):
        pq.write_table(pq.read_table(shard), shard, row_group_size=size, compression="zstd")
    return written


@pytest.fixture(scope="module")
def flat(rows: list[FileRow], tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _row_groups(_write(tmp_path_factory.mktemp("flat"), rows, "flat", shard_rows=40), 8)


@pytest.fixture(scope="module")
def nested(rows: list[FileRow], tmp_path_factory: pytest.TempPathFactory) -> Written:
    out = tmp_path_factory.mktemp("nested") / "the-stack-v2-train-full-ids"
    return _row_groups(_write(out, rows, "nested", shard_rows=20), 1)


@pytest.fixture(scope="module")
def cli_sqlite(flat: Written, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """The CLI's own build of the per-file shards, and its summary."""
    target = str(tmp_path_factory.mktemp("cli") / "cli.sqlite")
    return target, _build(target, str(flat.shards), blobs=flat.blobs, extra=("--license-type", "all"))


def _spark_build(target: str, shards: Path, blobs: Path, *more: str) -> Any:
    return _build(target, str(shards), blobs=blobs, extra=("--license-type", "all", "--spark", MASTER, *more))


def _same(a: str, b: str, rows: list[FileRow]) -> None:
    assert _counts(a) == _counts(b)
    assert _answers(a, rows) == _answers(b, rows)


@pytest.mark.slow
def test_both_layouts_on_spark_build_the_cli_s_sqlite_index(
    spark: Any,
    tmp_path: Path,
    rows: list[FileRow],
    flat: Written,
    nested: Written,
    cli_sqlite: tuple[str, Any],
) -> None:
    cli, built = cli_sqlite
    for name, written in (("flat", flat), ("nested", nested)):
        target = str(tmp_path / f"{name}.sqlite")
        got = _spark_build(target, written.shards, written.blobs)
        _same_summary(got, built)
        _same(cli, target, rows)
        assert not list(tmp_path.glob("*.spark-*")), "the spool folder is removed"
    sources = _cli("index", "stats", "--index", str(tmp_path / "flat.sqlite"))["sources"]
    assert [s["location"] for s in sources] == [
        s["location"] for s in _cli("index", "stats", "--index", cli)["sources"]
    ]
    # Run again: every blob is known, nothing is fetched but the empty one, nothing is added.
    again = _spark_build(str(tmp_path / "flat.sqlite"), flat.shards, flat.blobs)
    assert (again["documents_added"], again["occurrences_added"]) == (0, 0)
    assert again["fetched"] == built["skipped"].get("empty", 0)
    assert again["known_blobs"] == again["files"] - again["fetched"]
    _same(cli, str(tmp_path / "flat.sqlite"), rows)


@pytest.mark.slow
def test_the_command_in_its_own_process(
    tmp_path: Path, rows: list[FileRow], nested: Written, cli_sqlite: tuple[str, Any]
) -> None:
    """``whence index build ... --spark local[2]`` as a user runs it: its own Spark session, started and
    stopped by the command (no session of the tests' is active in that process)."""
    target = tmp_path / "own.sqlite"
    cmd = [sys.executable, "-m", "whence", "index", "build", str(nested.shards), "--blobs",
           str(nested.blobs), "--license-type", "all", "--index", str(target), "--spark", MASTER,
           "--format", "json"]  # fmt: skip
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    got, built = json.loads(out.stdout), cli_sqlite[1]
    _same_summary(got, built)
    _same(cli_sqlite[0], str(target), rows)


@pytest.fixture()
def engine_names(engine_url: str) -> Iterator[list[str]]:
    names = [f"test-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    yield [f"{engine_url}/{n}" for n in names]
    for n in names:
        drop_indices(engine_url, n)


def _reversed_partitions(job: Any, shards: Any) -> list[Any]:
    """Run a job's partitions without Spark, one per row group, the last of the sources first: the
    schedule in which a later copy of a content is written before its first occurrence."""
    from pyspark.sql import Row

    from whence.index import spark as job_module

    parts = []
    for shard in shards:
        pf = pq.ParquetFile(shard.path)
        start = 0
        for g in range(pf.num_row_groups):
            records = pf.read_row_group(g).to_pylist()
            where = {"_file": Path(os.path.abspath(shard.path)).as_uri(), "_pos": 0}
            parts.append([Row(**r, **where, _row=start + i) for i, r in enumerate(records)])
            start += len(records)
    return [done for part in reversed(parts) for done in job_module._task(job, iter(part))]


def test_partitions_written_last_first_keep_the_order_of_the_sources(
    tmp_path: Path, rows: list[FileRow], flat: Written, cli_sqlite: tuple[str, Any], engine_url: str
) -> None:
    """A content seen in two partitions lists its first occurrence first whichever partition wrote first:
    into SQLite (the driver merges the spool files in source order) and into the engine (each partition
    numbers its occurrences from its place in the sources)."""
    from whence.index import ingest
    from whence.index import spark as job_module
    from whence.index.blobs import open_blobs
    from whence.index.stores import open_store

    name = f"test-{uuid.uuid4().hex[:12]}"
    try:
        for target in (str(tmp_path / "reversed.sqlite"), f"{engine_url}/{name}"):
            blobs = open_blobs(flat.blobs)
            files = ingest.sources([flat.shards], license_type="all", blobs=blobs)
            with open_store(target, create=True) as store:
                got = job_module.build(store, files, target=target, master=MASTER, blobs=str(flat.blobs),
                                       _runner=_reversed_partitions)  # fmt: skip
            blobs.close()
            assert (got.files, got.documents) == (cli_sqlite[1]["files"], cli_sqlite[1]["documents_added"])
            _same(cli_sqlite[0], target, rows)
    finally:
        drop_indices(engine_url, name)


@pytest.mark.slow
def test_spark_writes_the_cli_s_index_into_the_engine_and_a_retried_task_duplicates_nothing(
    spark: Any, rows: list[FileRow], flat: Written, nested: Written, engine_names: list[str]
) -> None:
    cli, on_spark, retried = engine_names
    built = _build(cli, str(flat.shards), blobs=flat.blobs, extra=("--license-type", "all"))
    got = _spark_build(on_spark, nested.shards, nested.blobs)
    _same_summary(got, built)
    _same(cli, on_spark, rows)
    # Every task's first attempt is killed (SIGKILL) once its first bulk is acknowledged; Spark runs it
    # again, and the second attempt finds what the first wrote.
    spark.sparkContext.environment["WHENCE_FAILPOINT"] = "after-commit=1:SIGKILL"
    try:
        first = _spark_build(retried, flat.shards, flat.blobs)
    finally:
        del spark.sparkContext.environment["WHENCE_FAILPOINT"]
    _same(cli, retried, rows)
    # Attempts were killed after writing: their documents are in the index, and not in the summary of the
    # attempts that succeeded (which found them known).
    assert first["documents_added"] < built["documents_added"], first
    again = _spark_build(retried, nested.shards, nested.blobs)
    assert (again["documents_added"], again["occurrences_added"]) == (0, 0)
    _same(cli, retried, rows)


def test_a_bad_shard_stops_the_job_before_anything_is_written(
    spark: Any, tmp_path: Path, flat: Written
) -> None:
    shards = tmp_path / "shards"
    shutil.copytree(flat.shards, shards)
    last = sorted(shards.glob("*.parquet"))[-1]
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    args = ["index", "build", str(shards), "--blobs", str(flat.blobs), "--license-type", "all"]
    cli = CliRunner().invoke(main, [*args, "--index", str(tmp_path / "cli.sqlite")])
    on_spark = CliRunner().invoke(main, [*args, "--index", str(tmp_path / "spark.sqlite"), "--spark", MASTER])
    assert cli.exit_code == on_spark.exit_code == 2
    assert on_spark.output == cli.output and "not a readable parquet file" in cli.output
    assert not (tmp_path / "spark.sqlite").exists()


def test_spark_builds_shards_only(tmp_path: Path, flat: Written) -> None:
    folder = CliRunner().invoke(
        main,
        ["index", "build", str(STDLIB / "json"), "--index", str(tmp_path / "a.sqlite"), "--spark", MASTER],
    )
    assert folder.exit_code == 2 and "index folders and JSONL files without --spark" in folder.output
    args = [
        "index",
        "build",
        str(flat.shards),
        "--blobs",
        str(flat.blobs),
        "--index",
        str(tmp_path / "b.sqlite"),
    ]
    sliced = CliRunner().invoke(main, [*args, "--spark", MASTER, "--worker", "0/2"])
    assert sliced.exit_code == 2 and "leave out --worker" in sliced.output


def test_without_pyspark_the_option_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flat: Written
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # what an installation without it raises
    target = tmp_path / "a.sqlite"
    res = CliRunner().invoke(
        main, ["index", "build", str(flat.shards), "--index", str(target), "--spark", MASTER]
    )
    assert res.exit_code == 2
    assert res.output == "error: --spark needs PySpark, which is not installed: pip install 'whence[spark]'\n"
    assert not target.exists()
