"""SARIF 2.1.0 output of a scan, for code-scanning dashboards (GitHub code scanning and others).

One result per (finding, rule): a copied region from a copyleft file gives a ``verbatim-copy`` and a
``license-copyleft`` result.  Locations are relative to the scan root (``%SRCROOT%``), as code scanning
expects paths relative to the repository.  Results that fail the scan are ``error``; the others
``note``.  Attributed regions carry a ``suppressions`` entry saying how they are credited, so that
dashboards show them as dismissed rather than open.
"""

from __future__ import annotations

from typing import Any

from whence import __version__

from .findings import RULES, Finding, ScanReport, display, uri

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


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
    used = sorted({r for f in report.findings for r in f.rules}, key=list(RULES).index)
    rules = [
        {
            "id": rid,
            "name": "".join(w.capitalize() for w in rid.split("-")),
            "shortDescription": {"text": RULES[rid][0]},
            "fullDescription": {"text": RULES[rid][1]},
            "defaultConfiguration": {"level": "error"},
        }
        for rid in used
    ]
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
                            "region": {"startLine": f.lines[0], "endLine": f.lines[1]},
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
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "whence",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
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
