"""``whence index``: build an index, show its counts, and keep repositories out of it (opt-outs)."""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import click

from whence.errors import InvalidInput
from whence.index.datasets import SUBSETS
from whence.index.model import OWNER_WILDCARD, owner_entry
from whence.terminal import printable

from .options import collect, default_index, exit_2_on_error, fail, format_option, index_option, open_index


@click.group("index")
def index_group() -> None:
    """Build and inspect an index."""


@dataclass(frozen=True)
class BuildOptions:
    """How ``whence index build`` reads its sources and writes the index (every option but ``--index``
    and ``--format``; the option of each field is its name with dashes)."""

    # Which files of the sources, and what the index records about them.
    repo: str | None
    licenses: tuple[str, ...]
    license_type: tuple[str, ...]
    languages: tuple[str, ...]
    subset: str | None
    dataset: str | None
    dataset_revision: str | None
    blobs: str | None
    include_vendor: bool
    include_generated: bool
    max_bytes: int
    worker: str | None  # "I/N": this job's slice of the files
    spark: str | None  # a Spark master: run the build as a Spark job
    # How the index is written.
    workers: int | None
    commit_every: int
    rebuild: bool


def _source_options(command: Any) -> Any:
    """The options of ``index build`` and ``index sync`` that choose the files and describe them."""
    options = [
        click.option(
            "--repo",
            default=None,
            help="Repository (owner/name) a plain folder belongs to. Default: its name.",
        ),
        click.option(
            "--license",
            "licenses",
            multiple=True,
            metavar="SPDX",
            help="License of a plain folder (repeatable).",
        ),
        click.option(
            "--license-type",
            type=click.Choice(["permissive", "no_license", "all"]),
            multiple=True,
            default=("permissive",),
            show_default=True,
            help="Keep only shard rows and JSONL records with this license_type (repeatable; JSONL records "
            "without it are kept). StarCoder2 trained on permissive and no_license: see --subset.",
        ),
        click.option(
            "--language",
            "languages",
            multiple=True,
            metavar="LANG",
            help="Keep only shard rows of this language (The Stack's names, any case; repeatable). "
            "Shards under data/<Language>/ of other languages are not opened.",
        ),
        click.option(
            "--subset",
            type=click.Choice(sorted(SUBSETS)),
            default=None,
            help="What a StarCoder2 model was trained on: its dataset (every shard must be of it) and its "
            "license types (permissive and no_license). Replaces --license-type.",
        ),
        click.option(
            "--dataset",
            default=None,
            metavar="ORG/NAME",
            help="The dataset the shards are (default: what their path or URL says, e.g. "
            "hf://datasets/ORG/NAME@REV/... or a Hugging Face cache folder).",
        ),
        click.option(
            "--dataset-revision",
            default=None,
            metavar="REV",
            help="The dataset revision the shards are (default: what their path or URL says).",
        ),
        click.option(
            "--blobs",
            metavar="PATH_OR_S3_URL",
            default=None,
            help="Where shard rows get their contents by blob_id: a folder with content/{blob_id} or "
            "s3://bucket (Software Heritage: s3://softwareheritage).",
        ),
        click.option("--include-vendor", is_flag=True, help="Also index shard rows marked is_vendor."),
        click.option("--include-generated", is_flag=True, help="Also index shard rows marked is_generated."),
        click.option(
            "--workers",
            type=click.IntRange(1, 256),
            default=None,
            help="Fingerprinting threads. Default: cores.",
        ),
        click.option(
            "--max-bytes",
            type=click.IntRange(1),
            default=1 << 20,
            show_default=True,
            help="Skip larger files.",
        ),
        click.option(
            "--commit-every",
            type=click.IntRange(1),
            default=2_000_000,
            show_default=True,
            help="Fingerprints written per commit (an interrupted build keeps what was committed).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _files(sources: tuple[str, ...], opts: BuildOptions, blob_store: Any) -> Any:
    from whence.index import ingest

    if opts.subset and opts.license_type != ("permissive",):
        raise InvalidInput(f"--subset {opts.subset} sets the license types: leave out --license-type")
    return ingest.sources(
        list(sources), repo=opts.repo, licenses=opts.licenses, license_type=opts.license_type,
        blobs=blob_store, include_vendor=opts.include_vendor, include_generated=opts.include_generated,
        max_bytes=opts.max_bytes, languages=opts.languages or None, dataset=opts.dataset,
        revision=opts.dataset_revision, subset=opts.subset,
    )  # fmt: skip


def _recorded_options(opts: BuildOptions) -> dict[str, Any]:
    """The build options a source record keeps (those that decide which rows were indexed, and how)."""
    return {
        "license_types": sorted(opts.license_type) if not opts.subset else None,
        "subset": opts.subset,
        "languages": sorted(opts.languages) or None,
        "include_vendor": opts.include_vendor,
        "include_generated": opts.include_generated,
        "max_bytes": opts.max_bytes,
        "blobs": opts.blobs,
    }


@index_group.command("build")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@index_option
@_source_options
@click.option(
    "--worker",
    default=None,
    metavar="I/N",
    help="Index only slice I of N (0-based) of the files, so that N jobs build one index together.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Search-engine index: build into a new index and swap the alias to it when done.",
)
@click.option(
    "--spark",
    default=None,
    metavar="MASTER",
    help="Run the build of Stack v2 shards as an Apache Spark job on MASTER (local[N], spark://host:7077, "
    "yarn, ...). Needs pip install 'whence[spark]'.",
)
@format_option
@collect(BuildOptions, "opts")
def index_build(sources: tuple[str, ...], target: str | None, fmt: str, opts: BuildOptions) -> None:
    """Index folders, JSONL files and Stack v2 parquet shards (SOURCE...: paths, glob patterns such as
    'data/**/*.parquet', a dataset's folder, or shard URLs).

    A folder indexes every file under it (binary, empty, non-UTF-8 and oversized files are skipped and
    counted), with paths relative to it.  A shard (per-file or repository-nested, told apart by its
    columns) has its rows filtered by --license-type (default: permissive; --subset starcoder2-15b
    selects what that model was trained on), vendored and generated files are left out, and contents
    come from the shard's content column or from --blobs.  Every source is checked before anything is
    written.  Running a build again -- also after an interrupted one -- adds only what is missing, and
    fetches no blob the index already holds.  The shards read are recorded (`whence index stats`).
    """
    from whence.index import ingest, provenance, sharding
    from whence.index.blobs import open_blobs

    target = target or default_index()
    with exit_2_on_error():
        if opts.spark is not None:
            _spark_allowed(opts)
        slice_of = sharding.parse_worker(opts.worker) if opts.worker is not None else None
        blob_store = open_blobs(opts.blobs) if opts.blobs else None
    try:
        with exit_2_on_error():
            files = _files(sources, opts, blob_store)
            shards = files.shards
            if slice_of is not None:
                files = sharding.slice_files(files, slice_of)
        with (
            open_index(target, create=True, rebuild=opts.rebuild) as store,
            _progress(fmt == "text" and opts.spark is None, files.total) as progress,
        ):
            if opts.spark is not None:
                from whence.index import spark

                report = spark.build(
                    store, files, target=str(target), master=opts.spark, blobs=opts.blobs,
                    workers=opts.workers, max_bytes=opts.max_bytes, commit_every=opts.commit_every,
                )  # fmt: skip
            else:
                report = ingest.build(
                    store,
                    files,
                    workers=opts.workers,
                    max_bytes=opts.max_bytes,
                    commit_every=opts.commit_every,
                    progress=progress,
                    optimize=slice_of is None,  # one --worker job cannot tell when the others are done
                )
            if shards:
                files.shards = shards
                options = _recorded_options(opts) | ({"worker": opts.worker} if opts.worker else {})
                provenance.record(store, files, options)
            store.publish()  # a --rebuild becomes the live index
    except KeyboardInterrupt:
        click.echo("interrupted: committed batches are kept; run the same command again to finish", err=True)
        sys.exit(130)
    finally:
        if blob_store is not None:
            blob_store.close()
    summary = report.as_dict() | {"index": str(target)}
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(_build_line(report) + f"\nindex: {target}")
    if opts.worker is not None:
        click.echo(f"when every --worker job is done: whence index optimize --index {target}")


def _spark_allowed(opts: BuildOptions) -> None:
    """Refuse the options a Spark build replaces or does not support; fail early without PySpark."""
    from whence.index import spark

    if opts.worker is not None:
        raise InvalidInput("--spark divides the work itself: leave out --worker")
    if opts.rebuild:
        raise InvalidInput("--rebuild is not supported with --spark: build into a new index name instead")
    spark.require()


def _build_line(report: Any) -> str:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items())) or "none"
    fetched = f", {report.fetched} blobs fetched ({report.known_blobs} known, not fetched)"
    return (
        f"indexed {report.files} files ({report.bytes / 1e6:.1f} MB) in {report.seconds:.1f}s "
        f"[{report.as_dict()['mb_per_s']} MB/s]: {report.documents} new documents, {report.occurrences} new "
        f"occurrences, {report.duplicates} duplicate contents{fetched}; skipped: {skipped}"
    )


@index_group.command("sync")
@click.argument("sources", nargs=-1, required=True, metavar="SHARD...")
@index_option
@_source_options
@format_option
@collect(BuildOptions, "opts", worker=None, rebuild=False, spark=None)
def index_sync(sources: tuple[str, ...], target: str | None, fmt: str, opts: BuildOptions) -> None:
    """Bring an index to a newer revision of a Stack v2 dataset (SHARD...: every shard of that revision).

    Rows that are new are added; rows the index holds are kept (their blobs are not fetched again);
    occurrences recorded under the dataset that the revision no longer has -- opt-outs, removed files --
    are removed, with the documents left without any, only once every shard has been read.  The dataset
    is what the shards' paths or URLs name, or --dataset.  Safe to run again: a second run changes
    nothing; a run that was interrupted removed nothing, and finishes when run again.
    """
    from whence.index import ingest, provenance
    from whence.index.blobs import open_blobs

    target = target or default_index()
    with exit_2_on_error():
        blob_store = open_blobs(opts.blobs) if opts.blobs else None
    try:
        with exit_2_on_error():
            files = _files(sources, opts, blob_store)
            dataset = provenance.sync_dataset(files, opts.dataset or None)
        with open_index(target) as store, _progress(fmt == "text", files.total) as progress:

            def build(stream: Any) -> Any:
                return ingest.build(
                    store, stream, workers=opts.workers, max_bytes=opts.max_bytes,
                    commit_every=opts.commit_every, progress=progress,
                )  # fmt: skip

            with exit_2_on_error():
                report = provenance.sync(store, files, dataset, _recorded_options(opts), build=build)
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was removed yet; run the same command again to finish", err=True)
        sys.exit(130)
    finally:
        if blob_store is not None:
            blob_store.close()
    if fmt == "json":
        click.echo(json.dumps(report.as_dict() | {"index": str(target)}, indent=2))
        return
    gone = ", ".join(report.removed_repositories) or "none"
    click.echo(
        f"synced {dataset} to {', '.join(report.revisions) or 'the given shards'}: "
        + _build_line(report.build)
        + f"\nremoved {report.occurrences_removed} occurrences and {report.documents_removed} documents"
        f" (repositories gone: {printable(gone)})\nindex: {target}"
    )


class _progress:
    """A rich progress display (files, MB, files/s, MB/s) on stderr, only when it is a terminal; with a
    bar and the time left when the number of files is known (shards).

    The bar, its percentage and the times keep one line of their own and the counts wrap below it: on
    one line, a narrow terminal (80 columns) squeezed the bar to 2 cells and cut the time left."""

    def __init__(self, enabled: bool, total: int | None = None) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console

        self._bar = build_progress(Console(stderr=True), known_total=bool(self.total))
        self._bar.__enter__()
        self._task = self._bar.add_task(
            "build", total=self.total, files=0, mb=0.0, fps=0.0, mbps=0.0, skipped=0, note=""
        )

        def update(report: Any) -> None:
            secs = max(report.seconds, 1e-9)
            self._bar.update(
                self._task,
                completed=report.files,
                files=report.files,
                mb=report.bytes / 1e6,
                fps=report.files / secs,
                mbps=report.bytes / 1e6 / secs,
                skipped=sum(report.skipped.values()),
                note=""
                if report.merging is None
                else f" · merging for search: {report.merging} segment(s) left",
            )

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


BAR_MIN_WIDTH = 20  # cells the bar keeps however narrow the terminal


def build_progress(console: Any, known_total: bool, get_time: Any = None) -> Any:
    """The build's rich ``Progress``: spinner, bar (at least ``BAR_MIN_WIDTH`` cells), percentage, time
    left and time elapsed on the first line when the total is known, the spinner and elapsed time alone
    when it is not; the counts and rates on the next line, wrapping between words.  ``get_time``: the
    clock the speed and the time left are measured on (default: rich's, monotonic)."""
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column
    from rich.text import Text

    def fixed() -> Column:
        return Column(no_wrap=True)

    columns: list[ProgressColumn] = [SpinnerColumn(table_column=fixed())]
    if known_total:
        columns += [
            BarColumn(bar_width=None, table_column=Column(min_width=BAR_MIN_WIDTH, ratio=1)),
            TextColumn("{task.percentage:>3.0f}%", table_column=fixed()),
            TextColumn("left", style="progress.remaining", table_column=fixed()),
            TimeRemainingColumn(table_column=fixed()),
        ]
    columns += [
        TextColumn("elapsed", style="progress.elapsed", table_column=fixed()),
        TimeElapsedColumn(table_column=fixed()),
    ]

    class BuildProgress(Progress):
        def get_renderables(self) -> Any:
            yield self.make_tasks_table(self.tasks)
            for task in self.tasks:
                f = task.fields
                yield Text(
                    f"  {f['files']} files · {f['mb']:.1f} MB · {f['fps']:.0f} files/s · "
                    f"{f['mbps']:.1f} MB/s · {f['skipped']} skipped{f.get('note', '')}"
                )

    return BuildProgress(*columns, console=console, transient=True, expand=known_total, get_time=get_time)


@index_group.command("stats")
@index_option
@format_option
def index_stats(target: str | None, fmt: str) -> None:
    """Counts of an index -- documents, occurrences, repositories, fingerprints, size -- and the shards it
    was built from (location, dataset and revision, layout, rows, size, checksum, build options)."""
    with open_index(target, readonly=True) as store:
        stats: dict[str, Any] = dict(store.stats())
        recorded = store.sources()
    if fmt == "json":
        click.echo(json.dumps(stats | {"sources": recorded}, indent=2))
    else:
        for key, value in stats.items():
            click.echo(printable(f"{key:>28}: {value}"))
        if stats.get("segments_without_filters"):
            click.echo(
                f"{'':>30}(written before posting blocks had filters: `whence index optimize` gives them"
                " filters, and searches then read fewer blocks)"
            )
        click.echo(printable(f"{'sources':>28}: {len(recorded)} shard(s) recorded"))
        for r in recorded:
            where = f"{r.get('dataset') or '(unnamed dataset)'}@{r.get('revision') or '?'}"
            click.echo(
                printable(
                    f"{'':>30}{r['location']}  [{where}, {r.get('layout')}, {r.get('rows')} rows,"
                    f" {r.get('size')} bytes, {r.get('checksum')}]"
                )
            )


@index_group.command("check")
@index_option
@format_option
def index_check(target: str | None, fmt: str) -> None:
    """Verify an index file: SQLite's integrity check, every stored text against its content hash, every
    posting block.  Exit 0 when it is sound, 2 when it is damaged (the problems are listed)."""
    with open_index(target, readonly=True) as store:
        report = store.check()
    problems: list[str] = report["problems"]
    if fmt == "json":
        click.echo(json.dumps(report | {"ok": not problems}, indent=2))
    else:
        counts = ", ".join(f"{report[k]} {k}" for k in ("documents", "texts", "segments", "blocks"))
        if not problems:
            click.echo(f"ok: {report['index']}: {counts} verified")
        for line in problems:
            click.echo(f"  {line}")
    if problems:
        fail(
            f"the index {report['index']} is damaged ({len(problems)} problem(s) above): restore it from a"
            " copy or build the index again into a new file (`whence index build SOURCE... --index NEW_FILE`)"
        )


@index_group.command("optimize")
@index_option
@format_option
def index_optimize(target: str | None, fmt: str) -> None:
    """Merge an index for search: SQLite's posting segments into one, a search engine's segments to one
    per shard (a force-merge, waited for; the segments left are shown on stderr as it runs).  A build
    that adds a tenth of the index or more does this itself; run it after smaller incremental builds
    before serving.  It rewrites the index once: minutes at a million documents."""
    seen: list[int] = []

    def progress(left: int) -> None:
        if fmt == "text" and (not seen or left != seen[-1]):
            click.echo(f"  merging: {left} segment(s) left", err=True)
        seen.append(left)

    began = time.perf_counter()
    with open_index(target) as store:
        merged = store.optimize(force=True, progress=progress)
        name = str(target or default_index())
    seconds = time.perf_counter() - began
    if fmt == "json":
        click.echo(json.dumps({"index": name, "merged": merged, "seconds": round(seconds, 3)}, indent=2))
    elif merged:
        click.echo(printable(f"merged {name} for search in {seconds:.1f} s"))
    else:
        click.echo(printable(f"{name}: nothing to merge (one segment per shard already)"))


_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_OWNER = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def _repo_name(value: str) -> str:
    """An opt-out entry: ``owner/name``, or ``owner/*`` for every repository of an owner."""
    if value.endswith(OWNER_WILDCARD) and _OWNER.fullmatch(value[: -len(OWNER_WILDCARD)]):
        return value
    if not _REPO.fullmatch(value):
        fail(f"{value!r} is not a repository name: expected owner/name (or owner/* for a whole owner)")
    return value


def _owner_name(value: str) -> str:
    if not _OWNER.fullmatch(value):
        fail(f"{value!r} is not a repository owner: expected letters, digits, '_', '.' or '-'")
    return value


def _entries(repos: tuple[str, ...], owners: tuple[str, ...]) -> list[str]:
    """Opt-out entries of ``OWNER/NAME...`` arguments and ``--owner`` options."""
    if not repos and not owners:
        fail("name at least one repository (OWNER/NAME) or --owner OWNER")
    return [_repo_name(r) for r in repos] + [owner_entry(_owner_name(o)) for o in owners]


@index_group.command("owners")
@click.argument("owner", metavar="OWNER")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="Repositories.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, help="Repositories to skip.")
@index_option
@format_option
def index_owners(owner: str, limit: int, offset: int, target: str | None, fmt: str) -> None:
    """Every repository of OWNER in the index ("Am I in The Stack?" for a user name): files, licenses
    and opt-out state, by name, a page at a time."""
    _owner_name(owner)
    with open_index(target, readonly=True) as store:
        found = store.owner(owner, limit=limit, offset=offset)
        entries = store.optouts()
    report = found.as_dict(entries, limit, offset)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    for r in report["repos"]:
        lic = ", ".join(r["licenses"]) or "no license"
        flag = "  (opted out)" if r["opted_out"] else ""
        click.echo(printable(f"{r['repo']}  {r['files']} files  {lic} [{r['license_category']}]{flag}"))
    for e in report["optouts"]:
        click.echo(printable(f"opted out: {e['repo']} since {e['added']}"))
    shown = f"{offset + 1}-{offset + len(found.repos)} of " if found.repos else ""
    click.echo(printable(f"{owner}: {shown}{found.total} repositories in the index"))


@index_group.group("optout")
def optout_group() -> None:
    """Keep repositories out of the index (The Stack v2 honours opt-out requests; so does whence)."""


_owner_option = click.option(
    "--owner",
    "owners",
    multiple=True,
    metavar="OWNER",
    help="Every repository of OWNER (the entry OWNER/*); repeatable.",
)


@optout_group.command("add")
@click.argument("repos", nargs=-1, metavar="OWNER/NAME...")
@_owner_option
@index_option
def optout_add(repos: tuple[str, ...], owners: tuple[str, ...], target: str | None) -> None:
    """Remove repositories (OWNER/NAME, or OWNER/* and --owner OWNER for all of an owner's) from the
    index now, and keep them out of future builds and results."""
    from datetime import datetime, timezone

    names = _entries(repos, owners)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with open_index(target) as store:
        for repo in names:
            occ, docs = store.add_optout(repo, when)
            click.echo(f"opted out {repo}: removed {occ} occurrences and {docs} documents seen nowhere else")


@optout_group.command("remove")
@click.argument("repos", nargs=-1, metavar="OWNER/NAME...")
@_owner_option
@index_option
def optout_remove(repos: tuple[str, ...], owners: tuple[str, ...], target: str | None) -> None:
    """Let repositories (or an owner's, --owner) back in; their files return with the next build of
    sources that hold them."""
    names = _entries(repos, owners)
    with open_index(target) as store:
        for repo in names:
            was = store.remove_optout(repo)
            click.echo(f"{repo}: {'no longer opted out' if was else 'was not opted out'}")


@optout_group.command("list")
@index_option
@format_option
def optout_list(target: str | None, fmt: str) -> None:
    """The repositories opted out, with when."""
    with open_index(target, readonly=True) as store:
        repos = store.optouts()
    if fmt == "json":
        click.echo(json.dumps([{"repo": r, "added": t} for r, t in repos.items()], indent=2))
    else:
        for repo, when in repos.items():
            click.echo(f"{printable(repo)}\t{printable(when)}")
