"""Scan policy: what a ``whence scan`` fails on, read from ``whence.toml`` or ``[tool.whence]``.

A policy file is looked up from the scanned folder upwards to the repository root (the folder holding
``.git``): the first ``whence.toml``, or ``pyproject.toml`` with a ``[tool.whence]`` table, wins.
``whence.toml`` holds the same keys at its top level (or under ``[tool.whence]``)::

    fail-on = ["verbatim", "near-duplicate", "copyleft", "unknown-license"]   # or ["none"]
    allowed-licenses = ["public-domain", "permissive"]     # license categories reuse may come from
    min-tokens = 40                                        # smallest match that counts
    ignore = ["tests/fixtures/**", "*.generated.ts"]       # gitignore-style, relative to the policy
    notice-files = ["NOTICE", "THIRD_PARTY_NOTICES"]       # credits: a repository named there is attributed
    attributed = ["python/cpython"]                        # repositories accepted as attributed
    ignore-repos = ["acme/this-project"]                   # origins that are this project itself
    include-vendored = false                               # also scan vendor/, node_modules/, ...

Unknown keys and bad values are errors (a typo must not silently loosen the policy).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whence.errors import InvalidInput
from whence.index.licenses import CATEGORIES, Category
from whence.index.search import MIN_MATCH_TOKENS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FAIL_ON = ("verbatim", "near-duplicate", "copyleft", "unknown-license", "none")
DEFAULT_FAIL_ON = frozenset({"verbatim", "near-duplicate", "copyleft", "unknown-license"})
DEFAULT_ALLOWED: frozenset[Category] = frozenset({"public-domain", "permissive"})
DEFAULT_NOTICE_FILES = (
    "NOTICE", "NOTICE.txt", "NOTICE.md", "THIRD_PARTY_NOTICES", "THIRD_PARTY_NOTICES.txt",
    "THIRD_PARTY_NOTICES.md", "THIRD-PARTY-NOTICES", "THIRD-PARTY-NOTICES.txt",
)  # fmt: skip
_KEYS = {
    "fail-on", "allowed-licenses", "min-tokens", "ignore", "notice-files", "attributed", "ignore-repos",
    "include-vendored",
}  # fmt: skip


class PolicyError(InvalidInput):
    """A policy file or option that cannot be used (names the file and the key)."""


@dataclass(frozen=True)
class Policy:
    """What a scan reports and what fails it.

    Attributes:
        root: the folder the policy applies to (its ``ignore`` patterns and notice files are relative
            to it): the policy file's folder, else the repository root, else the scanned folder.
        source: where the policy came from (a file, or ``"defaults"``).
    """

    root: Path
    source: str = "defaults"
    fail_on: frozenset[str] = DEFAULT_FAIL_ON
    allowed_licenses: frozenset[str] = DEFAULT_ALLOWED
    min_tokens: int = MIN_MATCH_TOKENS
    ignore: tuple[str, ...] = ()
    notice_files: tuple[str, ...] = DEFAULT_NOTICE_FILES
    attributed: tuple[str, ...] = ()
    ignore_repos: tuple[str, ...] = ()
    include_vendored: bool = False

    def with_fail_on(self, values: tuple[str, ...]) -> Policy:
        """This policy with ``fail-on`` replaced (the CLI's ``--fail-on``)."""
        return replace(self, fail_on=parse_fail_on(values, "--fail-on"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fail-on": sorted(self.fail_on) or ["none"],
            "allowed-licenses": sorted(self.allowed_licenses, key=CATEGORIES.index),
            "min-tokens": self.min_tokens,
            "ignore": list(self.ignore),
            "notice-files": list(self.notice_files),
            "attributed": list(self.attributed),
            "ignore-repos": list(self.ignore_repos),
            "include-vendored": self.include_vendored,
        }


def parse_fail_on(values: Any, where: str) -> frozenset[str]:
    """``fail-on`` values (a list, or comma-separated strings); ``none`` alone means nothing fails."""
    items: list[str] = []
    for v in [values] if isinstance(values, str) else list(values):
        if not isinstance(v, str):
            raise PolicyError(f"{where}: fail-on values are strings, got {v!r}")
        items.extend(x.strip() for x in v.split(",") if x.strip())
    bad = [x for x in items if x not in FAIL_ON]
    if bad:
        raise PolicyError(f"{where}: unknown fail-on value {bad[0]!r}; choose from {', '.join(FAIL_ON)}")
    if "none" in items:
        if len(set(items)) > 1:
            raise PolicyError(f"{where}: fail-on 'none' cannot be combined with other values")
        return frozenset()
    if not items:
        raise PolicyError(f"{where}: fail-on is empty; use 'none' to never fail")
    return frozenset(items)


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise PolicyError(f"{where}: {key} must be a list of strings, got {value!r}")
    return tuple(value)


def from_table(table: dict[str, Any], root: Path, source: str) -> Policy:
    """Build a policy from a parsed TOML table (``[tool.whence]`` or a ``whence.toml``)."""
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise PolicyError(f"{source}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(_KEYS))}")
    pol = Policy(root=root, source=source)
    if "fail-on" in table:
        pol = replace(pol, fail_on=parse_fail_on(table["fail-on"], source))
    if "allowed-licenses" in table:
        cats = _strings(table["allowed-licenses"], "allowed-licenses", source)
        bad = [c for c in cats if c not in CATEGORIES]
        if bad:
            raise PolicyError(
                f"{source}: unknown license category {bad[0]!r}; choose from {', '.join(CATEGORIES)}"
            )
        pol = replace(pol, allowed_licenses=frozenset(cats))
    if "min-tokens" in table:
        n = table["min-tokens"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise PolicyError(f"{source}: min-tokens must be a positive integer, got {n!r}")
        pol = replace(pol, min_tokens=n)
    if "ignore" in table:
        pol = replace(pol, ignore=_strings(table["ignore"], "ignore", source))
    if "notice-files" in table:
        pol = replace(pol, notice_files=_strings(table["notice-files"], "notice-files", source))
    if "attributed" in table:
        pol = replace(pol, attributed=_strings(table["attributed"], "attributed", source))
    if "ignore-repos" in table:
        pol = replace(pol, ignore_repos=_strings(table["ignore-repos"], "ignore-repos", source))
    if "include-vendored" in table:
        if not isinstance(table["include-vendored"], bool):
            raise PolicyError(f"{source}: include-vendored must be true or false")
        pol = replace(pol, include_vendored=table["include-vendored"])
    return pol


def read_file(path: Path) -> Policy:
    """A policy from ``whence.toml`` or ``pyproject.toml`` (``[tool.whence]``; absent: defaults)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy ({exc.strerror or exc})") from exc
    return parse(raw, path, str(path))


def parse(raw: bytes, path: Path, source: str) -> Policy:
    """A policy from the bytes of the file ``path`` (``source`` names where they came from)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{source}: not valid TOML ({exc})") from exc
    tool = data.get("tool", {}).get("whence") if isinstance(data.get("tool"), dict) else None
    if path.name == "pyproject.toml":
        if tool is None:
            return Policy(root=path.parent)
        table = tool
    else:
        table = tool if tool is not None else data
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: [tool.whence] must be a table")
    return from_table(table, path.parent, source)


def discover(start: Path, stop: Path | None) -> Policy:
    """The policy that applies to ``start``: the nearest ``whence.toml`` or ``pyproject.toml`` with a
    ``[tool.whence]`` table, looking upwards no further than ``stop`` (the repository root)."""
    here = start if start.is_dir() else start.parent
    here = here.resolve()
    for folder in (here, *here.parents):
        w = folder / "whence.toml"
        if w.is_file():
            return read_file(w)
        pp = folder / "pyproject.toml"
        if pp.is_file():
            pol = read_file(pp)
            if pol.source != "defaults":
                return pol
        if stop is not None and folder == stop:
            break
    return Policy(root=stop or here)


def discover_at(rev: str, start: Path, root: Path) -> Policy:
    """The policy that applied to ``start`` at revision ``rev`` of the repository at ``root``.

    ``whence scan --diff REV`` judges a change with the policy of its base, not with one the change
    itself brings: a pull request cannot loosen the policy it is checked against.  Read with
    ``git show``; the lookup is :func:`discover`'s (nearest ``whence.toml`` or ``pyproject.toml`` with
    ``[tool.whence]`` above ``start``, up to ``root``).
    """
    from .files import show_at

    here = start if start.is_dir() else start.parent
    here = here.resolve()
    folders = [f for f in (here, *here.parents) if f == root or root in f.parents]
    for folder in folders:
        for name in ("whence.toml", "pyproject.toml"):
            rel = (folder / name).relative_to(root).as_posix()
            raw = show_at(root, rev, rel)
            if raw is None:
                continue
            pol = parse(raw, folder / name, f"{rev}:{rel}")
            if name == "whence.toml" or pol.source != "defaults":
                return pol
    return Policy(root=root)
