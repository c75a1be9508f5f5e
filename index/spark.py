"""``whence index build SHARD... --spark MASTER``: the build of Stack v2 shards as an Apache Spark job.

The driver checks every shard (:func:`whence.index.ingest.sources`: the same checks and errors as any
build) and opens the index before Spark starts, so a bad shard stops the job with nothing written.  Then:

1. **Read.** Spark's own parquet reader reads the shards, a DataFrame per layout: per-file shards' columns
   as they are; a repository-nested shard's ``files`` exploded into one row per file (with its
   position), beside its repository's ``repo_name`` and ``revision_id``.  Partitions are ranges of row
   groups of one shard (``spark.sql.files.openCostInBytes`` is raised to the partition size, so small
   shards are not packed together), each row carrying its shard, row index and position.
2. **Fetch and fingerprint, in the executors.** Each partition turns its rows into
   :class:`~whence.index.sources.SourceFile` objects exactly as :func:`~whence.index.stackv2.shard_files`
   does (:func:`~whence.index.stackv2.file_row`, :func:`~whence.index.stackv2.source_file`: the same
   selection, occurrences tagged with their dataset) and runs the ordinary pipeline on them
   (:func:`whence.index.pipeline.build`): blobs the index already holds are looked up batch by batch and
   not fetched, the others are fetched from ``--blobs`` and fingerprinted with the compiled kernel.
3. **Write.**

   * *A search engine*: every partition opens its own writer and sends its batches as ``_bulk``
     requests.  Document ids are derived from the content and occurrence ids from (document, repository,
     path, revision), so a task that Spark runs again -- after a failure, or speculatively -- creates
     nothing twice; what the first attempt wrote is simply known to the second.  Each partition numbers
     its occurrences from a base that follows its rows' place in the sources
     (:meth:`~whence.index.stores.elastic.ElasticStore.order_from`), so a content seen in several
     partitions lists its occurrences in the order a single build would.
   * *A SQLite file* has one writer.  The executors open it read-only for the known-blob and
     known-content lookups, and write what they prepared (documents, occurrences of known contents) to a
     spool file per partition in a folder beside the index; the driver then writes the spool files
     through one writer, in the order of the sources, and deletes them.  So the executors must see the
     index's folder: local mode (``local[N]``), or a filesystem every node mounts.  A retried task
     writes a new spool file; only the successful attempt's is merged.

Each partition reports what it did (:class:`~whence.index.pipeline.BuildReport`); the driver adds the
reports of the successful tasks up into the build's summary.  Progress is Spark's (its console bar and
UI).  PySpark is imported only here, and only when a build asks for Spark (``pip install
'whence[spark]'``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from whence.errors import InvalidInput, WhenceError

from . import failpoints, pipeline, stackv2
from .blobs import open_blobs
from .model import IndexedDoc, Occurrence, StoredDoc
from .sources import DEFAULT_MAX_BYTES, Sources
from .stores import is_remote, open_store
from .stores.base import Postings, Store, WriteResult

INSTALL = "pip install 'whence[spark]'"
#: Occurrence numbers reserved per repository row of a nested shard (its files' positions).
NESTED_SHIFT = 16


def require() -> Any:
    """The ``pyspark.sql`` module, or a one-line :class:`WhenceError` saying how to install it."""
    try:
        import pyspark.sql
    except ImportError as exc:
        raise WhenceError(f"--spark needs PySpark, which is not installed: {INSTALL}") from exc
    return pyspark.sql


@dataclass(frozen=True, slots=True)
class _Shard:
    """What a task needs of one planned shard."""

    path: str  # as the build names it (recorded, used in labels)
    dataset: str
    offset: int  # rows of the shards before it
    shift: int  # occurrence numbers reserved per row, as a power of two


@dataclass(frozen=True, slots=True)
class _Job:
    """What every task gets (pickled to the executors)."""

    target: str  # an engine URL, or the SQLite file's absolute path
    spool: str | None  # SQLite: the folder of the partitions' spool files
    blobs: str | None
    selection: stackv2.Selection
    shards: tuple[_Shard, ...]
    keys: dict[str, int]  # a shard's location as Spark names it -> its index in ``shards``
    workers: int
    max_bytes: int
    commit_every: int | None
    first_seq: int  # occurrence numbers of this build start here (engines)


@dataclass(frozen=True, slots=True)
class _Done:
    """One partition's result: its first row's place, its report, its spool file (SQLite)."""

    key: tuple[int, int, int]
    report: pipeline.BuildReport
    spool: str | None


def _location_key(location: str) -> str:
    """A shard's location as compared between the driver and Spark's ``_metadata.file_path``: a local
    file's absolute path (Spark writes ``file:/abs/path``, percent-encoded), else the URL as it is."""
    if location.startswith("file:"):
        return os.path.abspath(unquote(urlparse(location).path))
    if "://" in location:
        return location
    return os.path.abspath(location)


def _frames(spark: Any, shards: Sequence[stackv2.Shard]) -> list[Any]:
    """The shards as DataFrames of one row per file: a file's fields (:data:`stackv2.FILE_FIELDS`, and
    ``content`` when the shards have it), ``repo_name``, ``revision_id``, and ``_file``/``_row``/``_pos``
    (its shard as Spark names it, its row in the shard, its position in a nested row's ``files``)."""
    from pyspark.sql import functions as F

    groups: dict[tuple[str, bool], list[str]] = {}
    for s in shards:
        groups.setdefault((s.layout, s.has_content), []).append(s.path)
    out = []
    for (layout, content), paths in groups.items():
        df = spark.read.parquet(*paths)
        where = [F.col("_metadata.file_path").alias("_file"), F.col("_metadata.row_index").alias("_row")]
        names = [*stackv2.FILE_FIELDS, *(["content"] if content else [])]
        if layout == "nested":
            files = F.posexplode("files").alias("_pos", "_f")
            df = df.select(*stackv2.REPO_FIELDS, *where, files)
            fields = [F.col(f"_f.{n}").alias(n) for n in names]
            df = df.select(*stackv2.REPO_FIELDS, "_file", "_row", "_pos", *fields)
        else:
            df = df.select(*stackv2.REPO_FIELDS, *where, F.lit(0).alias("_pos"), *names)
        out.append(df)
    return out


# -- the executors ------------------------------------------------------------------------------------


class _Spool(Store):
    """A task's store for a SQLite target: lookups go to the index (read-only), writes to a spool file
    that the driver merges.  Only what :func:`whence.index.pipeline.build` calls is used."""

    def __init__(self, index: Store, path: str) -> None:
        self._index = index
        self._out = open(path, "wb")  # noqa: SIM115 - closed by close()

    def known(self, content_hashes: Iterable[bytes]) -> set[bytes]:
        return self._index.known(content_hashes)

    def known_blobs(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        return self._index.known_blobs(blob_ids)

    def optouts(self) -> dict[str, str]:
        return self._index.optouts()

    def add(self, docs: Sequence[IndexedDoc]) -> WriteResult:
        pickle.dump(("docs", list(docs)), self._out, protocol=pickle.HIGHEST_PROTOCOL)
        return WriteResult(len(docs), sum(len(d.occurrences) for d in docs))

    def add_occurrences(self, pairs: Sequence[tuple[bytes, Occurrence]]) -> int:
        pickle.dump(("occurrences", list(pairs)), self._out, protocol=pickle.HIGHEST_PROTOCOL)
        return len(pairs)

    def set_commit_every(self, postings: int) -> None:
        """A spool has nothing to commit: the driver's writer commits as it reads the spool back."""

    def flush(self) -> None:
        self._out.flush()
        os.fsync(self._out.fileno())

    def postings(
        self, hashes: Any, cap: int, band_keys: Sequence[int] = (), *, budget: int | None = None
    ) -> Postings:
        return self._index.postings(hashes, cap, band_keys, budget=budget)

    def band_docs(self, keys: Sequence[int]) -> set[int]:
        return self._index.band_docs(keys)

    def documents(self, ids: Sequence[int]) -> dict[int, StoredDoc]:
        return self._index.documents(ids)

    def text(self, doc_id: int) -> bytes:
        return self._index.text(doc_id)

    def occurrences(self, ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        return self._index.occurrences(ids)

    def count_documents(self) -> int:
        return self._index.count_documents()

    def stats(self) -> dict[str, int | float | str]:
        return self._index.stats()

    def close(self) -> None:
        self._out.close()
        self._index.close()


def _task(job: _Job, records: Iterator[Any]) -> Iterator[_Done]:
    """Index one partition's rows (runs in an executor's Python worker)."""
    first = next(records, None)
    if first is None:
        return
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is not None and context.attemptNumber() > 0:
        # A crash test's failpoint stops a task's first attempt only, so that Spark's retry finishes it.
        os.environ.pop(failpoints.ENV, None)
    shard_of: dict[str, int] = {}

    def shard(location: str) -> int:
        i = shard_of.get(location)
        if i is None:
            i = job.keys.get(_location_key(location), -1)
            if i < 0:
                raise WhenceError(f"Spark read {location}, which is not one of the build's shards")
            shard_of[location] = i
        return i

    start = (shard(first["_file"]), int(first["_row"]), int(first["_pos"]))
    blobs = open_blobs(job.blobs) if job.blobs else None

    def files() -> Iterator[Any]:
        for row in itertools.chain((first,), records):
            f = row.asDict()
            s = job.shards[shard(f["_file"])]
            r = stackv2.file_row(f, f.get("repo_name") or "", f.get("revision_id") or "")
            yield stackv2.source_file(r, s.path, blobs, job.selection, s.dataset)

    spool: str | None = None
    store: Store
    if job.spool is not None:
        spool = os.path.join(job.spool, f"part-{start[0]:06d}-{start[1]:012d}-{uuid.uuid4().hex[:8]}.pickle")
        store = _Spool(open_store(job.target, readonly=True), spool)
    else:
        store = open_store(job.target)
        info = job.shards[start[0]]
        order_from = getattr(store, "order_from", None)
        if order_from is not None:
            order_from(job.first_seq + ((info.offset + start[1]) << info.shift) + start[2])
    try:
        report = pipeline.build(  # the driver merges for search once every partition is done
            store, files(), workers=job.workers, max_bytes=job.max_bytes, commit_every=job.commit_every,
            optimize=False,
        )  # fmt: skip
    finally:
        store.close()
        if blobs is not None:
            blobs.close()
    yield _Done(start, report, spool)


# -- the driver ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def session(master: str, conf: dict[str, str] | None = None) -> Iterator[Any]:
    """A Spark session on ``master``, stopped at the end -- or the session already active in this
    process (a notebook's, Databricks', a test's: a process has one), used as it is and left running.
    Executors in local mode run this Python."""
    sql = require()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = sql.SparkSession.builder.master(master).appName("whence index build")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        yield spark
    finally:
        spark.stop()


def _job_error(exc: BaseException) -> WhenceError:
    """A failed Spark job as one line: the whence error a task raised when there is one."""
    text = str(exc)
    found = re.findall(r"^(?:whence\.[\w.]+|[\w.]*(?:Error|Unavailable|Blob)): (.+)$", text, re.MULTILINE)
    reason = found[-1] if found else (text.strip().splitlines() or [type(exc).__name__])[0]
    return WhenceError(f"the Spark job failed: {reason}")


def build(
    store: Store,
    files: Sources,
    *,
    target: str,
    master: str,
    blobs: str | None = None,
    workers: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    commit_every: int | None = None,
    conf: dict[str, str] | None = None,
    _runner: Callable[[_Job, Sequence[stackv2.Shard]], list[_Done]] | None = None,
) -> pipeline.BuildReport:
    """Index the shards of ``files`` into ``store`` (open, writable, at ``target``) as a Spark job.

    Args:
        store: the index, opened by the caller (created if it was missing).
        files: :func:`whence.index.ingest.sources` of Stack v2 shards only (already checked).
        target: where ``store`` is (the executors open it themselves).
        master: Spark's master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ...).
        blobs: the ``--blobs`` store (a folder every executor sees, or an ``s3://`` URL).
        workers: fingerprinting threads per task (default 1: Spark runs a task per core).
        max_bytes, commit_every: as for :func:`whence.index.pipeline.build`.
        conf: Spark settings for a new session.
        _runner: runs the job's partitions instead of Spark (tests: partitions in an order Spark's
            scheduler would not promise).

    Raises:
        InvalidInput: a source is not a shard.
        WhenceError: the job failed (the error a task raised).
    """
    if files.plain:
        raise InvalidInput("--spark builds Stack v2 shards: index folders and JSONL files without --spark")
    if not files.shards:
        raise InvalidInput("--spark builds Stack v2 shards: no .parquet shard among the sources")
    began = time.perf_counter()
    remote = is_remote(target)
    planned = files.shards
    shards, keys, offset = [], {}, 0
    for i, p in enumerate(planned):
        shift = NESTED_SHIFT if p.shard.layout == "nested" else 0
        shards.append(_Shard(p.shard.path, p.dataset, offset, shift))
        keys[_location_key(p.shard.path)] = i
        offset += p.shard.rows
    if blobs is not None and "://" not in blobs:
        blobs = os.path.abspath(blobs)
    spool = None
    if not remote:
        target = os.path.abspath(target)
        folder = Path(target).parent
        spool = tempfile.mkdtemp(prefix=f"{Path(target).name}.spark-", dir=folder)
    job = _Job(
        target, spool, blobs, files.selection, tuple(shards), keys, workers or 1, max_bytes, commit_every,
        time.time_ns(),
    )  # fmt: skip
    try:
        if _runner is not None:
            done = _runner(job, [p.shard for p in planned])
        else:
            with session(master, conf) as spark:
                done = _run(spark, job, [p.shard for p in planned])
        report = pipeline.BuildReport()
        for d in done:
            report.files += d.report.files
            report.bytes += d.report.bytes
            report.duplicates += d.report.duplicates
            report.skipped.update(d.report.skipped)
            report.fetched += d.report.fetched
            report.known_blobs += d.report.known_blobs
            if spool is None:
                report.documents += d.report.documents
                report.occurrences += d.report.occurrences
        if spool is not None:
            _merge(store, sorted(done, key=lambda d: d.key), report, commit_every)
            store.optimize()
        else:
            store.flush()
            store.optimize(added=report.documents)  # the executors wrote, not this handle
    finally:
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)
    report.seconds = time.perf_counter() - began
    return report


def _run(spark: Any, job: _Job, shards: Sequence[stackv2.Shard]) -> list[_Done]:
    conf = spark.conf
    # Timestamps in nanoseconds (the datasets' dates) are read as numbers: Spark refuses them otherwise,
    # and the build does not read them.  A partition holds row groups of one shard only.
    conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    conf.set("spark.sql.files.openCostInBytes", conf.get("spark.sql.files.maxPartitionBytes", "128MB"))
    sc = spark.sparkContext
    sc.setJobDescription("whence index build")
    rdds = [df.rdd.mapPartitions(lambda rows, job=job: _task(job, rows)) for df in _frames(spark, shards)]
    try:
        return list(sc.union(rdds).collect())
    except KeyboardInterrupt:
        sc.cancelAllJobs()
        raise
    except Exception as exc:
        if isinstance(exc, WhenceError):
            raise
        raise _job_error(exc) from exc


def _merge(
    store: Store, done: Sequence[_Done], report: pipeline.BuildReport, commit_every: int | None
) -> None:
    """Write the partitions' spool files through one writer, in the order of the sources."""
    with store.writer(commit_every) as w:
        for d in done:
            assert d.spool is not None
            with open(d.spool, "rb") as fh:
                while True:
                    try:
                        kind, items = pickle.load(fh)
                    except EOFError:
                        break
                    if kind == "docs":
                        res = w.add(items)
                        report.documents += res.documents
                        report.occurrences += res.occurrences
                        report.duplicates += len(items) - res.documents
                    else:
                        report.occurrences += w.add_occurrences(items)
            os.unlink(d.spool)
