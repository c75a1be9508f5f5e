"""Full license texts for ``whence scan --format notice``, from the SPDX License List.

The texts ship with whence in ``data/spdx-licenses.json.xz``: the ``licenses`` of the npm package
``spdx-license-list`` (maintained by Sindre Sorhus, CC0-1.0; its ``spdx-full.json`` carries every
license of a release of the SPDX License List with its text), reduced to id, name, URL and text, and
the package's name, version and registry integrity hash under ``source``.  Nothing in it is typed by
hand: ``scripts/scan/license_texts.py`` runs ``npm pack`` and :func:`from_package`, and a test checks
that the shipped file is what the pinned package gives.

License *exceptions* (``WITH Classpath-exception-2.0``) are not in that package, nor are ScanCode's
own license keys (``LicenseRef-scancode-...``): the notice names where their texts are instead.
"""

from __future__ import annotations

import json
import lzma
import re
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "spdx-licenses.json.xz"
#: The package the texts come from (``scripts/scan/license_texts.py`` fetches this one).
PACKAGE = "spdx-license-list"
VERSION = "6.12.0"
_MEMBER = "package/spdx-full.json"
_LIST_VERSION = re.compile(r"SPDX License List version ([\w.]+(?: \([\d-]+\))?)")
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True, slots=True)
class License:
    """One license of the SPDX License List."""

    id: str
    name: str
    url: str
    text: str


class LicenseTexts:
    """The license texts whence ships, looked up by SPDX id (case-insensitively, as SPDX matches ids)."""

    def __init__(self, source: dict[str, str], licenses: dict[str, License]) -> None:
        self.source = source
        self.licenses = licenses
        self._lower = {k.lower(): v for k, v in licenses.items()}

    def get(self, spdx_id: str) -> License | None:
        """The license ``spdx_id`` (``GPL-2.0+`` falls back to ``GPL-2.0`` when the list lacks it)."""
        found = self._lower.get(spdx_id.lower())
        if found is None and spdx_id.endswith("+"):
            found = self._lower.get(spdx_id[:-1].lower())
        return found

    @property
    def origin(self) -> str:
        """Where the texts come from, in words (for the notice)."""
        s = self.source
        return (
            f"SPDX License List {s.get('spdx_license_list') or '(version not stated)'}, from the npm "
            f"package {s.get('package', '?')}@{s.get('version', '?')}"
        )


def license_ids(expression: str) -> tuple[list[str], list[str]]:
    """The license ids and the exception ids (after ``WITH``) of an SPDX expression, in order."""
    ids: list[str] = []
    exceptions: list[str] = []
    tokens = _TOKEN.findall(expression)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        upper = tok.upper()
        if upper == "WITH" and i + 1 < len(tokens):
            if tokens[i + 1] not in exceptions:
                exceptions.append(tokens[i + 1])
            i += 2
            continue
        if tok not in ("(", ")") and upper not in ("AND", "OR") and tok not in ids:
            ids.append(tok)
        i += 1
    return ids, exceptions


def parse(data: dict[str, Any]) -> LicenseTexts:
    """The texts from the decoded data file."""
    lic = {
        k: License(k, str(v.get("name", k)), str(v.get("url", "")), str(v["text"]))
        for k, v in data["licenses"].items()
    }
    return LicenseTexts({k: str(v) for k, v in data["source"].items()}, lic)


@lru_cache(maxsize=1)
def load() -> LicenseTexts:
    """The shipped texts (read once)."""
    return parse(json.loads(lzma.decompress(DATA.read_bytes())))


def from_package(tgz: Path, integrity: str) -> dict[str, Any]:
    """The data file's content, made from the ``npm pack`` tarball of ``spdx-license-list``.

    Args:
        tgz: the tarball.
        integrity: its integrity hash as the registry gives it (``npm pack --json`` prints it).
    """
    with tarfile.open(tgz) as tar:

        def member(name: str) -> bytes:
            f = tar.extractfile(name)
            if f is None:
                raise ValueError(f"{tgz.name} has no {name}")
            return f.read()

        meta = json.loads(member("package/package.json"))
        full = json.loads(member(_MEMBER))
        readme = member("package/readme.md").decode("utf-8")
    if meta.get("name") != PACKAGE:
        raise ValueError(f"{tgz.name} is {meta.get('name')!r}, not {PACKAGE}")
    listed = _LIST_VERSION.search(readme)
    licenses = {
        k: {"name": v.get("name", k), "url": v.get("url", ""), "text": v["licenseText"]}
        for k, v in sorted(full.items())
        if v.get("licenseText")
    }
    return {
        "source": {
            "package": PACKAGE,
            "version": str(meta["version"]),
            "integrity": integrity,
            "license": str(meta.get("license", "")),
            "spdx_license_list": listed.group(1) if listed else "",
        },
        "licenses": licenses,
    }


def encode(data: dict[str, Any]) -> bytes:
    """The data file's bytes: sorted JSON, xz-compressed."""
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False, indent=0).encode("utf-8")
    return lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)
