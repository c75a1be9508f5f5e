"""``whence scan``: fail CI when copied code lands without the attribution its license asks for.

The command reads options, the policy and the files to scan, and renders the report; the scan itself
(walking, policy, engine, judging, SARIF and notices) is :mod:`whence.scan`.

Exit codes: 0 clean, 1 policy violated, 2 error (a scan that could not complete is never clean);
``--format notice``, ``cyclonedx`` and ``spdx`` exit 1 only with ``--fail-on`` (writing a notice or an
SBOM is no policy check).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from .options import default_index, exit_2_on_error, fail, index_option, open_index


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--diff", "rev", default=None, metavar="REV", help="Count only lines added since REV (git).")
@index_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "notice", "cyclonedx", "spdx"]),
    default="text",
    show_default=True,
    help="Report format (notice: a THIRD_PARTY_NOTICES text; cyclonedx, spdx: an SBOM of the copied code, "
    "CycloneDX 1.6 or SPDX 2.3 JSON, with the 'sbom' extra).",
)
@click.option(
    "--fail-on",
    multiple=True,
    metavar="RULE[,RULE]",
    help="verbatim, near-duplicate, copyleft, unknown-license or none (repeatable; overrides the policy).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Policy file (whence.toml or pyproject.toml). Default: the nearest one above PATH.",
)
@click.option(
    "--min-tokens", type=click.IntRange(1), default=None, help="Smallest match (overrides the policy)."
)
@click.option(
    "--include-vendored", is_flag=True, help="Also scan vendored, build-output and generated files."
)
@click.option(
    "--jobs", type=click.IntRange(1, 256), default=None, help="Threads and processes. Default: cores."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--remote",
    default=None,
    metavar="URL",
    help="Scan against the index of the whence service at URL, sending only fingerprints (no code); "
    "$WHENCE_INDEX is then not read (an --index beside it is an error).",
)
@click.option(
    "--api-key",
    envvar="WHENCE_API_KEY",
    default=None,
    metavar="KEY",
    help="The service's API key, with --remote. Default: $WHENCE_API_KEY.",
)
@click.option(
    "--sbom-timestamp",
    default=None,
    metavar="WHEN",
    help="The SBOM's creation time (ISO 8601, or seconds since the epoch). Default: $SOURCE_DATE_EPOCH, "
    "else now.",
)
def scan_cmd(
    paths: tuple[Path, ...],
    rev: str | None,
    target: str | None,
    fmt: str,
    fail_on: tuple[str, ...],
    policy_file: Path | None,
    min_tokens: int | None,
    include_vendored: bool,
    jobs: int | None,
    output: Path | None,
    remote: str | None,
    api_key: str | None,
    sbom_timestamp: str | None,
) -> None:
    """Scan files and folders (PATH..., default: .) for code copied from indexed repositories.

    Folders are walked respecting .gitignore; binaries, vendored folders and generated files are
    skipped.  With --diff REV only lines added since REV count, so a pull request is judged on what it
    adds.  The policy (whence.toml, or [tool.whence] in pyproject.toml) says what fails.  With --remote
    URL the index is a whence service's: only the files' fingerprints are sent, never their code.

    Exit codes: 0 clean, 1 policy violated, 2 error (the scan did not complete).  --format notice,
    cyclonedx and spdx write a notice or an SBOM and exit 0 (2 on error) unless --fail-on is given.
    """
    from dataclasses import replace

    import pathspec

    from whence.scan import engine, findings, policy
    from whence.scan import files as scanfiles

    source = click.get_current_context().get_parameter_source("target")
    if remote is not None and source is click.core.ParameterSource.COMMANDLINE:
        fail("--index and --remote: the scan uses one index, a local one or the service's; give one")
    started = time.perf_counter()
    when = None
    if fmt in SBOM:
        from whence.scan import sbom

        try:
            sbom.need(fmt)
            when = sbom.timestamp(sbom_timestamp)
        except sbom.MissingLibrary as exc:
            fail(str(exc))
        except (ValueError, OverflowError, OSError) as exc:
            fail(f"--sbom-timestamp / SOURCE_DATE_EPOCH: {exc}")
    targets = [p.resolve() for p in (paths or (Path("."),))]
    for p in targets:
        if not p.exists():
            fail(f"{p}: no such file or folder")
    root = scanfiles.git_root(targets[0])
    with exit_2_on_error():
        added = None
        if rev is not None:
            if root is None:
                fail(f"--diff {rev}: {targets[0]} is not inside a git repository")
            added = scanfiles.added_lines(root, rev)
        if policy_file:
            pol = policy.read_file(policy_file)
        elif rev is not None and root is not None:
            # The base's policy: the change under review cannot loosen the rules it is judged by.
            pol = policy.discover_at(scanfiles.base_of(rev), targets[0], root)
        else:
            pol = policy.discover(targets[0], root)
        if policy_file and pol.source == "defaults":
            fail(f"{policy_file}: no [tool.whence] table in it")
        if fail_on:
            pol = pol.with_fail_on(fail_on)
        if min_tokens:
            pol = replace(pol, min_tokens=min_tokens)
        if include_vendored:
            pol = replace(pol, include_vendored=True)
        ignore = pathspec.GitIgnoreSpec.from_lines(pol.ignore)
        files = scanfiles.collect(
            targets, root=root, ignore=ignore, ignore_base=pol.root, include_vendored=pol.include_vendored
        )
    todo = files.files
    skipped = dict(files.skipped)
    if added is not None and rev is not None:
        changed = [p for p in todo if p.resolve() in added]
        if len(changed) < len(todo):
            skipped["unchanged since " + rev] = len(todo) - len(changed)
        todo = changed
    index = target or default_index()
    try:
        with exit_2_on_error(lambda exc: f"{exc} (the scan did not complete)"), _Progress() as progress:
            if remote is not None:
                from whence.scan.client import Service

                scanned = engine.run_remote(
                    todo,
                    Service(remote, api_key),
                    min_tokens=pol.min_tokens,
                    added=added,
                    skip_generated=not pol.include_vendored,
                    jobs=jobs,
                    progress=progress,
                )
            else:
                scanned = engine.run(
                    todo,
                    index,
                    min_tokens=pol.min_tokens,
                    added=added,
                    skip_generated=not pol.include_vendored,
                    jobs=jobs,
                    progress=progress,
                )
    except (OSError, RuntimeError) as exc:  # a worker process that died, a full disk, ...
        fail(f"the scan did not complete: {exc}")
    for why, n in skipped.items():
        scanned.skipped[why] = scanned.skipped.get(why, 0) + n
    scanned.exempted[:0] = files.exempted
    shown_root = root or pol.root
    report = findings.judge(scanned, pol, shown_root, rev, time.perf_counter() - started)
    # The origins' texts (their copyright lines): in the index, or as the service sent them.
    origins = index if remote is None else scanned.sources
    if fmt == "notice":
        text = _notice(report, origins)
    elif fmt in SBOM:
        text = _sbom(report, origins, fmt, when)
    else:
        text = _render(report, fmt)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"{output}: {exc.strerror or exc}")
        if fmt != "text":
            click.echo(_summary(report), err=True)
    else:
        click.echo(text, nl=False)
    for path, message in report.errors:
        click.echo(f"error: {findings.printable(path)}: {message}", err=True)
    if report.errors:
        click.echo(
            f"error: {len(report.errors)} file(s) could not be scanned: the scan is incomplete", err=True
        )
    code = report.exit_code
    if fmt in ("notice", *SBOM) and not fail_on and code == 1:
        code = 0  # writing a notice or an SBOM is no policy check, unless --fail-on asks for one
    sys.exit(code)


#: The SBOM formats (:mod:`whence.scan.sbom`).
SBOM = ("cyclonedx", "spdx")


def _render(report: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.as_dict(), indent=2) + "\n"
    if fmt == "sarif":
        from whence.scan.sarif import to_sarif

        return json.dumps(to_sarif(report), indent=2) + "\n"
    return _text(report)


def _copyrights(origins: str | dict[int, Any], ids: set[int]) -> dict[int, list[str]]:
    """The copyright lines of the origin documents ``ids``: read from their texts in the index at
    ``origins``, or in the texts a service sent (``whence scan --remote``)."""
    from whence.index.remote import Received
    from whence.scan import copyrights

    if not ids:
        return {}
    if not isinstance(origins, str):
        return copyrights.of_documents(Received(origins), ids)
    why = "reading the origins' copyright lines"
    with open_index(origins, readonly=True, message=lambda exc: f"{exc} ({why})") as store:
        return copyrights.of_documents(store, ids)


def _notice(report: Any, origins: str | dict[int, Any]) -> str:
    """The notice, with the copyright lines of the origins read from their texts."""
    from whence.scan.notice import to_notice

    ids = {f.doc_id for f in report.findings if f.attribution_required and f.doc_id >= 0}
    return to_notice(report, _copyrights(origins, ids))


def _sbom(report: Any, origins: str | dict[int, Any], fmt: str, when: Any) -> str:
    """The SBOM, with the copyright lines of every origin read from its text."""
    from whence.scan import sbom

    ids = {f.doc_id for f in report.findings if f.doc_id >= 0}
    found = _copyrights(origins, ids)
    write = sbom.to_cyclonedx if fmt == "cyclonedx" else sbom.to_spdx
    try:
        return write(report, found, when)
    except OSError as exc:  # a scanned file gone or unreadable since it was scanned (SPDX checksums it)
        fail(f"writing the {fmt} SBOM: {exc.filename or ''}: {exc.strerror or exc}")
    except RuntimeError as exc:  # the library's validator rejected the document: a bug in whence
        fail(f"writing the {fmt} SBOM: {exc}")


def _text(report: Any) -> str:
    from whence.scan.findings import printable
    from whence.terminal import printable as safe  # index data (repository, path, license, URL) too

    out: list[str] = []
    for f in report.findings:
        tag = "FAIL" if f.failing else ("ok  " if f.attributed else "note")
        lic = ", ".join(f.origin.licenses) or "no license"
        out.append(
            f"{tag} {printable(f.path)}:{f.lines[0]}-{f.lines[1]} {f.verdict} ({f.tokens} tokens) from "
            f"{safe(f.origin.repo)} {safe(f.origin.path)}:{f.source_lines[0]}-{f.source_lines[1]} "
            f"[{safe(lic)}, {f.license_category}]"
        )
        if f.url:
            out.append(f"     {safe(f.url)}")
        if f.failing:
            out.append(f"     fails: {safe(', '.join(f.failing))}")
        if f.attributed:
            out.append(f"     attributed: {safe(str(f.attributed))}")
    for path, why in report.exempted:
        out.append(f"skip {printable(path)} ({why})")
    out.append(_summary(report))
    return "\n".join(out) + "\n"


def _summary(report: Any) -> str:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items())) or "none"
    verdict = {"clean": "clean", "violated": "policy violated", "error": "INCOMPLETE (errors)"}[report.status]
    return (
        f"scanned {report.files} files in {report.seconds:.1f}s (skipped: {skipped}); "
        f"{len(report.findings)} findings, {len(report.failing)} failing, "
        f"{sum(bool(f.attributed) for f in report.findings)} attributed: {verdict}"
    )


class _Progress:
    """A rich progress bar on stderr (only on a terminal): one task per phase."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.__enter__()

        def update(phase: str, done: int, total: int) -> None:
            if phase not in self._tasks:
                self._tasks[phase] = self._bar.add_task(phase, total=max(total, 1))
            self._bar.update(self._tasks[phase], completed=done, total=max(total, 1))

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
