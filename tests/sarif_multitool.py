"""Microsoft's SARIF multitool, for validating ``whence scan --format sarif`` in the tests.

``scripts/sarif-multitool`` installs it once from the npm registry (``@microsoft/sarif-multitool``, a
self-contained .NET executable: no .NET runtime needed) under ``$WHENCE_TEST_CACHE`` (default
``~/.cache/whence-tests``); ``scripts/test`` runs it before the suite.  :func:`validate` runs the
``validate`` command with the SARIF rules and GitHub's ingestion rules (``--rule-kind "Sarif;Gh"``:
what GitHub code scanning requires, e.g. GH2012, a rule's ``help``) at every level, and returns what it
reported.  A machine without npm or registry access cannot run it, and the test then fails with the
reason rather than passing unchecked.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "sarif-multitool"
#: ``FILE(LINE,COL): LEVEL ID: MESSAGE``, as the multitool prints each finding.
_LINE = re.compile(
    r"^(?P<file>.+)\((?P<line>\d+),(?P<col>\d+)\): (?P<level>error|warning|note) (?P<id>\w+): (?P<msg>.*)$"
)


@dataclass(frozen=True)
class Report:
    """One thing the multitool reported about a SARIF file."""

    level: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.level} {self.rule}: {self.message}"


def tool() -> Path:
    """The multitool's executable (installed on first use)."""
    out = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/sarif-multitool failed: {out.stderr.strip()[-800:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def version() -> str:
    out = subprocess.run([str(tool()), "--version"], capture_output=True, text=True, timeout=120, check=False)
    return out.stdout.strip()


def validate(sarif: Path, rule_kinds: str = "Sarif;Gh") -> list[Report]:
    """Everything ``validate`` reports about ``sarif`` (errors, warnings and notes).

    Raises:
        RuntimeError: the tool could not be installed, or did not complete its analysis.
    """
    out = subprocess.run(
        [str(tool()), "validate", str(sarif), "--rule-kind", rule_kinds, "--level", "Error;Warning;Note"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0 or "Analysis completed successfully" not in out.stdout:
        raise RuntimeError(f"the multitool failed ({out.returncode}): {(out.stdout + out.stderr)[-2000:]}")
    found = []
    for line in out.stdout.splitlines():
        m = _LINE.match(line.strip())
        if m:
            found.append(Report(m.group("level"), m.group("id"), m.group("msg")))
    return found
