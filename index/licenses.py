"""License classification from ScanCode's license database (shipped by ``license-expression``).

Categories: ``public-domain``, ``permissive``, ``weak-copyleft``, ``copyleft``, ``unknown``.  A list of
licenses (The Stack's ``detected_licenses``) means all of them apply, so the most restrictive wins; in
an expression, ``AND`` takes the most restrictive side and ``OR`` the least (the user may choose).
Anything the database does not know, or files without a license, are ``unknown`` -- never permissive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

#: A license category.  The one list of them, most open first: the scan policy's
#: ``allowed-licenses``, the attribution policies and the CLI's colours name categories from it.
Category = Literal["public-domain", "permissive", "weak-copyleft", "copyleft", "unknown"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
_RANK = {c: i for i, c in enumerate(CATEGORIES)}
_SCANCODE: dict[str, Category] = {
    "Public Domain": "public-domain",
    "Permissive": "permissive",
    "Copyleft Limited": "weak-copyleft",
    "Copyleft": "copyleft",
}
# Permissive licenses whose text asks for no notice to be kept (read from the licenses themselves);
# ScanCode files them under "Permissive" without saying so.
_NO_ATTRIBUTION = frozenset({"0bsd", "mit-0", "bsd-zero", "unlicense", "wtfpl", "cc0-1.0", "bsd-0"})
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """How a set of licenses is classified."""

    category: Category
    attribution_required: bool


@lru_cache(maxsize=1)
def _database() -> dict[str, Category]:
    """Lower-cased SPDX and ScanCode keys -> category."""
    from license_expression import get_license_index

    out: dict[str, Category] = {}
    for entry in get_license_index():
        cat = _SCANCODE.get(entry.get("category") or "", "unknown")
        keys = [
            entry.get("license_key"),
            entry.get("spdx_license_key"),
            *(entry.get("other_spdx_license_keys") or []),
        ]
        for key in keys:
            if key:
                out.setdefault(str(key).lower(), cat)
    return out


def _key_category(key: str) -> Category:
    key = key.lower()
    if key.startswith("licenseref-"):
        key = key[len("licenseref-") :]
        if key.startswith("scancode-"):
            key = key[len("scancode-") :]
    return _database().get(key, "unknown")


def _worst(cats: Sequence[Category]) -> Category:
    return max(cats, key=_RANK.__getitem__) if cats else "unknown"


def _best(cats: Sequence[Category]) -> Category:
    return min(cats, key=_RANK.__getitem__) if cats else "unknown"


def expression_category(expr: str) -> Category:
    """Category of one SPDX expression, e.g. ``"MIT OR Apache-2.0"``."""
    tokens = _TOKEN.findall(expr)
    pos = 0

    def parse_or() -> Category:
        nonlocal pos
        cats = [parse_and()]
        while pos < len(tokens) and tokens[pos].upper() == "OR":
            pos += 1
            cats.append(parse_and())
        return _best(cats)

    def parse_and() -> Category:
        nonlocal pos
        cats = [parse_atom()]
        while pos < len(tokens) and tokens[pos].upper() == "AND":
            pos += 1
            cats.append(parse_atom())
        return _worst(cats)

    def parse_atom() -> Category:
        nonlocal pos
        if pos >= len(tokens):
            return "unknown"
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            cat = parse_or()
            if pos < len(tokens) and tokens[pos] == ")":
                pos += 1
            return cat
        cat = _key_category(tok.rstrip("+"))
        if pos < len(tokens) and tokens[pos].upper() == "WITH":  # an exception only loosens terms
            pos += 2
        return cat

    return parse_or() if tokens else "unknown"


def _needs_attribution(expr: str, category: str) -> bool:
    if category == "public-domain":
        return False
    keys = {t.lower() for t in _TOKEN.findall(expr) if t not in ("(", ")") and t.upper() not in ("AND", "OR")}
    return not (keys and keys <= _NO_ATTRIBUTION)


@lru_cache(maxsize=4096)
def _classify(licenses: tuple[str, ...]) -> LicenseInfo:
    real = [x for x in licenses if x and x.lower() not in ("no_license", "noassertion", "none")]
    if not real:
        return LicenseInfo("unknown", True)
    cats = [expression_category(x) for x in real]
    category = _worst(cats)
    attribution = any(_needs_attribution(x, c) for x, c in zip(real, cats, strict=True))
    return LicenseInfo(category, attribution)


def classify(licenses: Sequence[str]) -> LicenseInfo:
    """Classify the licenses a file is under (all apply).  An empty list is ``unknown``."""
    return _classify(tuple(licenses))
