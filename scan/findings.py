"""Judging copied regions against a policy: rules, attributions, and the report of a scan.

Rules (the SARIF rule ids):

* ``verbatim-copy`` -- the same tokens as indexed code; fails with ``fail-on`` ``verbatim`` or
  ``near-duplicate``, when the origin's license asks for attribution.
* ``near-duplicate`` -- the same code with identifiers or literals changed; fails with ``fail-on``
  ``near-duplicate``, when the license asks for attribution.
* ``license-copyleft``, ``license-weak-copyleft`` -- code from a license category the policy does not
  allow; fail with ``fail-on`` ``copyleft``.
* ``license-unknown`` (no license, or one the license database does not know); fails with ``fail-on``
  ``unknown-license``.  ``license-public-domain``/``license-permissive`` when a policy disallows them.

A region is *attributed* -- reported, but failing nothing -- when its origin repository is named by a
``whence: attributed <url>`` comment in the same file, in a notice file of the policy, or in the
policy's ``attributed`` list.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from whence.index.licenses import Category, classify
from whence.index.model import Occurrence

from .engine import Region, Scanned
from .policy import Policy

RULES: dict[str, tuple[str, str]] = {
    "verbatim-copy": ("Verbatim copy of indexed code", "Lines copied verbatim from indexed code."),
    "near-duplicate": (
        "Near-duplicate of indexed code",
        "Lines copied from indexed code with identifiers or literals changed.",
    ),
    "license-copyleft": ("Copyleft origin", "Copied code comes from a copyleft-licensed file."),
    "license-weak-copyleft": (
        "Weak-copyleft origin",
        "Copied code comes from a weak-copyleft-licensed file.",
    ),
    "license-unknown": ("Unknown license", "Copied code comes from a file without a known license."),
    "license-permissive": ("Permissive origin not allowed", "The policy does not allow permissive origins."),
    "license-public-domain": (
        "Public-domain origin not allowed",
        "The policy does not allow public-domain origins.",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One copied region, judged."""

    path: str  # relative to the scan root, '/'-separated
    lines: tuple[int, int]
    verdict: str
    tokens: int
    origin: Occurrence
    source_lines: tuple[int, int]
    occurrences: tuple[Occurrence, ...]
    license_category: Category
    attribution_required: bool
    rules: tuple[str, ...]
    failing: tuple[str, ...]  # the rules of ``rules`` that fail the scan
    attributed: str  # how the region is credited ("" when it is not)
    doc_id: int = -1  # the origin document in the index

    @property
    def url(self) -> str:
        return self.origin.url_for_lines(*self.source_lines)

    def as_dict(self) -> dict[str, Any]:
        first, last = self.source_lines
        return {
            "path": display(self.path),
            "uri": uri(self.path),
            "lines": list(self.lines),
            "verdict": self.verdict,
            "tokens": self.tokens,
            "rules": list(self.rules),
            "failing": bool(self.failing),
            "failing_rules": list(self.failing),
            "attributed": self.attributed or None,
            "origin": {
                "repo": self.origin.repo,
                "path": self.origin.path,
                "url": self.url,
                "source_lines": [first, last],
                "licenses": list(self.origin.licenses),
                "license_category": self.license_category,
                "attribution_required": self.attribution_required,
            },
            "occurrences": [o.as_dict(first, last) for o in self.occurrences],
        }


@dataclass
class ScanReport:
    """A finished scan: what was scanned, what was found, what failed."""

    root: Path
    policy: Policy
    diff: str | None
    files: int
    skipped: dict[str, int]
    findings: list[Finding]
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    #: Every file or folder left out: (path relative to ``root``, reason).
    exempted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.failing]

    @property
    def status(self) -> str:
        """``error`` (the scan did not complete), ``violated`` or ``clean``."""
        if self.errors:
            return "error"
        return "violated" if self.failing else "clean"

    @property
    def exit_code(self) -> int:
        return {"clean": 0, "violated": 1, "error": 2}[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "status": self.status,
            "root": display(str(self.root)),
            "diff": self.diff,
            "policy": self.policy.as_dict(),
            "files": {"scanned": self.files, "skipped": dict(sorted(self.skipped.items()))},
            "summary": {
                "findings": len(self.findings),
                "failing": len(self.failing),
                "attributed": sum(bool(f.attributed) for f in self.findings),
                "by_rule": dict(sorted(Counter(r for f in self.findings for r in f.rules).items())),
            },
            "findings": [f.as_dict() for f in self.findings],
            "exempted": [{"path": display(p), "uri": uri(p), "reason": why} for p, why in self.exempted],
            "errors": [{"path": display(p), "message": m} for p, m in self.errors],
            "seconds": round(self.seconds, 3),
        }


def display(path: str) -> str:
    """A file name for JSON and text: its bytes (``os.fsencode``) read as UTF-8, with each byte that is
    not UTF-8 written as ``\\xNN`` (Python's ``backslashreplace``).  A name from the file system may
    hold such bytes (decoded as lone surrogates, which strict JSON parsers reject); this form never does.
    ``uri`` is the exact, unambiguous form."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def printable(path: str) -> str:
    """A file name for a line of text: :func:`display`, with characters that are not printable (a
    newline, a tab, other control characters) written as backslash escapes, so a name cannot break a
    line or the terminal."""
    from whence.terminal import printable as safe

    return safe(display(path))


def uri(path: str) -> str:
    """A relative path as an RFC 3986 URI reference: its bytes percent-encoded, all but the unreserved
    characters and ``/`` (SARIF ``artifactLocation.uri``)."""
    return quote(os.fsencode(path), safe="/")


def _repo_pattern(repo: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(repo.lower())}(?![\w-])")


def _names(text: str, occ: Occurrence) -> bool:
    """Whether ``text`` names the repository of ``occ`` (``owner/name``, e.g. inside its URL)."""
    return bool(occ.repo) and _repo_pattern(occ.repo).search(text.lower()) is not None


def read_notices(policy: Policy) -> dict[str, str]:
    """The policy's notice files that exist: name -> text."""
    out: dict[str, str] = {}
    for name in policy.notice_files:
        p = policy.root / name
        if p.is_file():
            out[name] = p.read_text(encoding="utf-8", errors="replace")
    return out


def judge(scanned: Scanned, policy: Policy, root: Path, diff: str | None, seconds: float) -> ScanReport:
    """Turn the engine's regions into findings under ``policy``."""
    notices = read_notices(policy)
    ignore_repos = {r.lower() for r in policy.ignore_repos}
    accepted = {r.lower() for r in policy.attributed}
    findings: list[Finding] = []
    for reg in scanned.regions:
        occs = tuple(o for o in reg.occurrences if o.repo.lower() not in ignore_repos)
        if not occs:
            continue  # only found in this project itself
        origin = occs[0]
        info = classify(origin.licenses)
        rules = ["verbatim-copy" if reg.verdict == "verbatim" else "near-duplicate"]
        if info.category not in policy.allowed_licenses:
            rules.append(f"license-{info.category}")
        credit = _credit(reg, occs, scanned.markers.get(reg.path, []), notices, accepted)
        failing: list[str] = []
        if not credit:
            fo = policy.fail_on
            for rule in rules:
                if (
                    (
                        rule == "verbatim-copy"
                        and fo & {"verbatim", "near-duplicate"}
                        and info.attribution_required
                    )
                    or (rule == "near-duplicate" and "near-duplicate" in fo and info.attribution_required)
                    or (rule in ("license-copyleft", "license-weak-copyleft") and "copyleft" in fo)
                    or (rule == "license-unknown" and "unknown-license" in fo)
                    or (rule in ("license-permissive", "license-public-domain") and fo)
                ):
                    failing.append(rule)
        findings.append(
            Finding(
                path=_rel(reg.path, root),
                lines=reg.lines,
                verdict=reg.verdict,
                tokens=reg.tokens,
                origin=origin,
                source_lines=reg.source_lines,
                occurrences=occs,
                license_category=info.category,
                attribution_required=info.attribution_required,
                rules=tuple(rules),
                failing=tuple(failing),
                attributed=credit,
                doc_id=reg.doc_id,
            )
        )
    findings.sort(key=lambda f: (f.path, f.lines, f.origin.repo))
    exempted = sorted((_rel(p, root), why) for p, why in scanned.exempted)
    return ScanReport(
        root, policy, diff, scanned.files, scanned.skipped, findings, scanned.errors, seconds, exempted
    )


def _credit(
    reg: Region,
    occs: tuple[Occurrence, ...],
    markers: list[tuple[int, str]],
    notices: dict[str, str],
    accepted: set[str],
) -> str:
    for line, url in markers:
        if any(_names(url, o) for o in occs):
            return f"inline comment on line {line}: {url}"
    for name, text in notices.items():
        for o in occs:
            if _names(text, o):
                return f"{name} names {o.repo}"
    for o in occs:
        if o.repo.lower() in accepted:
            return f"policy accepts {o.repo}"
    return ""


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()
