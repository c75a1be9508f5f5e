"""SARIF 2.1.0 output of a scan, for code-scanning dashboards (GitHub code scanning and others).

One result per (finding, rule): a copied region from a copyleft file gives a ``verbatim-copy`` and a
``license-copyleft`` result.  Locations are relative to the scan root (``%SRCROOT%``), as code scanning
expects paths relative to the repository, with the copied lines as the region's ``snippet`` and a few
lines around them as its ``contextRegion``.  Results that fail the scan are ``error``; the others
``note``.  Attributed regions carry a ``suppressions`` entry saying how they are credited, so that
dashboards show them as dismissed rather than open.

Each rule carries ``help`` (text and Markdown: what it found, how to resolve it), which GitHub code
scanning shows with an alert and requires, and ``helpUri``; the tool carries ``informationUri``; a run
over a git work tree with a remote carries ``versionControlProvenance`` (remote, commit, branch).  The
output passes Microsoft's SARIF multitool (``validate --rule-kind "Sarif;Gh"``) with no error or
warning (``tests/test_scan.py``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from whence import __version__

from .files import provenance
from .findings import RULES, Finding, ScanReport, display, uri

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
#: Lines of context shown around a region (``contextRegion``).
CONTEXT_LINES = 3
#: A region longer than this many bytes gets no snippet (a whole copied file need not be in the log).
MAX_SNIPPET = 64 * 1024

_RESOLVE = """\
**How to resolve.** Credit the origin as its license asks, in any of these ways: a comment
`whence: attributed <origin URL>` in the file; the origin repository named in a notice file of the
policy (`whence scan --format notice > THIRD_PARTY_NOTICES` writes one, with the copyright lines and
license texts); or the repository in the policy's `attributed` list (`whence.toml` or `[tool.whence]`
in `pyproject.toml`). An attributed region is still reported, as a suppressed result. Or replace the
code with your own. If the origin is this project itself, list it in the policy's `ignore-repos`."""

_HELP: dict[str, str] = {
    "verbatim-copy": (
        "These lines hold the same tokens as a file in the index (whitespace, comments and line endings "
        "aside): they were copied, by a person or by a code model. The result names the origin "
        "repository, file, lines and license. It fails the scan (`fail-on` `verbatim`) when the "
        "origin's license asks for attribution and none is given."
    ),
    "near-duplicate": (
        "These lines are the code of a file in the index with identifiers or literals renamed. The "
        "result names the origin repository, file, lines and license. It fails the scan (`fail-on` "
        "`near-duplicate`) when the origin's license asks for attribution and none is given."
    ),
    "license-copyleft": (
        "The copied code comes from a file under a copyleft license (GPL, AGPL, ...), a category the "
        "policy's `allowed-licenses` leaves out: the work that includes it may have to be distributed "
        "under the same license. It fails the scan with `fail-on` `copyleft`. Review it with whoever "
        "decides on licenses before release."
    ),
    "license-weak-copyleft": (
        "The copied code comes from a file under a weak-copyleft license (LGPL, MPL, EPL, ...), a "
        "category the policy's `allowed-licenses` leaves out: changes to the copied files must be "
        "shared under the same license. It fails the scan with `fail-on` `copyleft`."
    ),
    "license-unknown": (
        "The copied code comes from a file without a license, or with one the license database does "
        "not know: reuse may not be permitted at all. It fails the scan with `fail-on` "
        "`unknown-license`. Find the origin's license, or remove the code."
    ),
    "license-permissive": (
        "The copied code comes from a file under a permissive license, a category this policy's "
        "`allowed-licenses` leaves out. It fails the scan with any `fail-on` but `none`."
    ),
    "license-public-domain": (
        "The copied code comes from a public-domain file, a category this policy's `allowed-licenses` "
        "leaves out. It fails the scan with any `fail-on` but `none`."
    ),
}


@lru_cache(maxsize=1)
def information_uri() -> str:
    """Where to read about whence: the package's ``Documentation`` or ``Homepage`` project URL when
    its metadata has one, else its page on PyPI (which shows the README of that version)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("whence").get_all("Project-URL") or []
    except PackageNotFoundError:
        urls = []
    found: dict[str, str] = {}
    for label, _, url in (str(u).partition(",") for u in urls):
        found[label.strip().lower()] = url.strip()
    for label in ("documentation", "homepage", "source"):
        if found.get(label, "").startswith(("https://", "http://")):
            return found[label]
    return f"https://pypi.org/project/whence/{__version__}/"


def _rule(rid: str) -> dict[str, Any]:
    short, full = RULES[rid]
    help_md = f"{_HELP[rid]}\n\n{_RESOLVE}"
    return {
        "id": rid,
        "name": "".join(w.capitalize() for w in rid.split("-")),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_md.replace("`", "").replace("**", ""), "markdown": help_md},
        "helpUri": information_uri(),
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["provenance", "license" if rid.startswith("license-") else "copy"]},
    }


def _message(f: Finding, rule: str) -> str:
    o = f.origin
    lic = ", ".join(o.licenses) or "no license"
    where = f"{o.repo} {o.path} (lines {f.source_lines[0]}-{f.source_lines[1]})"
    url = f.url or "(no URL)"
    if rule.startswith("license-"):
        head = f"Code from a {f.license_category} origin ({lic})"
    elif rule == "verbatim-copy":
        head = f"Copied verbatim ({f.tokens} tokens)"
    else:
        head = f"Near-duplicate, identifiers or literals changed ({f.tokens} tokens)"
    tail = (
        f" Attributed: {f.attributed}."
        if f.attributed
        else (" Its license asks for attribution." if f.attribution_required else "")
    )
    return f"{head} from {where}, license {lic}: {url}.{tail}"


def _exempted(path: str, why: str) -> dict[str, Any]:
    """A file the scan left out, as a ``note`` notification located at the file."""
    return {
        "level": "note",
        "message": {"text": f"not scanned: {display(path)} ({why})"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": uri(path), "uriBaseId": "%SRCROOT%"}}}
        ],
        "properties": {"exempted": why},
    }


def to_sarif(report: ScanReport) -> dict[str, Any]:
    """The SARIF log (a JSON-ready dict) of a scan."""
    used = list(RULES)  # every rule, found or not: a clean run still describes what it checked
    rules = [_rule(rid) for rid in used]
    files = _Files(report.root)
    results: list[dict[str, Any]] = []
    for f in report.findings:
        for rule in f.rules:
            res: dict[str, Any] = {
                "ruleId": rule,
                "ruleIndex": used.index(rule),
                "level": "error" if rule in f.failing else "note",
                "message": {"text": _message(f, rule)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri(f.path), "uriBaseId": "%SRCROOT%"},
                            **files.regions(f.path, *f.lines),
                        }
                    }
                ],
                "partialFingerprints": {
                    "whenceOrigin/v1": f"{rule}:{f.origin.repo}:{f.origin.path}:{f.source_lines[0]}"
                },
                "properties": {
                    "verdict": f.verdict,
                    "tokens": f.tokens,
                    "originRepo": f.origin.repo,
                    "originPath": f.origin.path,
                    "originUrl": f.url,
                    "licenses": list(f.origin.licenses),
                    "licenseCategory": f.license_category,
                    "attributionRequired": f.attribution_required,
                },
            }
            if f.url:
                res["relatedLocations"] = [
                    {
                        "id": 1,
                        "physicalLocation": {"artifactLocation": {"uri": f.url}},
                        "message": {"text": "origin"},
                    }
                ]
            if f.attributed:
                kind = "inSource" if f.attributed.startswith("inline") else "external"
                res["suppressions"] = [{"kind": kind, "justification": f.attributed}]
            results.append(res)
    root_uri = report.root.resolve().as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "whence",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": information_uri(),
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
    }
    vcs = provenance(report.root)
    if vcs:
        run["versionControlProvenance"] = [{**vcs, "mappedTo": {"uriBaseId": "%SRCROOT%"}}]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                **run,
                "invocations": [
                    {
                        "executionSuccessful": report.status != "error",
                        "toolExecutionNotifications": [
                            {"level": "error", "message": {"text": f"{display(p)}: {m}"}}
                            for p, m in report.errors
                        ]
                        + [_exempted(p, why) for p, why in report.exempted],
                    }
                ],
                "results": results,
            }
        ],
    }


class _Files:
    """The scanned files' lines, read once each, for snippets (a file gone or changed since the scan
    gets none: a snippet that is not the file's text is worse than none)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[str, list[str] | None] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self._lines:
            try:
                raw = (self.root / path).read_bytes()
                self._lines[path] = raw.decode("utf-8").splitlines(keepends=True)
            except (OSError, UnicodeDecodeError):
                self._lines[path] = None
        return self._lines[path]

    def regions(self, path: str, first: int, last: int) -> dict[str, Any]:
        """``region`` (lines ``first``-``last``) and ``contextRegion``, with snippets when possible."""
        region: dict[str, Any] = {"startLine": first, "endLine": last}
        lines = self.lines(path)
        if lines is None or last > len(lines):
            return {"region": region}
        text = _text(lines, first, last)
        if len(text.encode("utf-8")) > MAX_SNIPPET:
            return {"region": region}
        lo, hi = max(1, first - CONTEXT_LINES), min(len(lines), last + CONTEXT_LINES)
        if (lo, hi) == (first, last):  # the whole file: a context must be a proper superset (SARIF1008)
            return {"region": {**region, "snippet": {"text": text}}}
        return {
            "region": {**region, "snippet": {"text": text}},
            "contextRegion": {
                "startLine": lo,
                "endLine": hi,
                "snippet": {"text": _text(lines, lo, hi)},
            },
        }


def _text(lines: list[str], first: int, last: int) -> str:
    """Lines ``first``-``last`` of a file as a region without columns covers them: up to the end of
    the last line, its line break excluded (as the SARIF multitool reads such a region)."""
    text = "".join(lines[first - 1 : last])
    for end in ("\r\n", "\n", "\r"):
        if text.endswith(end):
            return text[: -len(end)]
    return text
