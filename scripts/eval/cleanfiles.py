"""Real files that are not code and must stay clean: any verdict but ``none`` for one is a false alarm.

Found on this machine, in categories (each sampled deterministically):

* ``license``: ``/usr/share/common-licenses``, Debian's ``/usr/share/doc/*/copyright``, the LICENSE /
  COPYING / NOTICE files of installed Python distributions and npm packages (not code named so:
  ``license.py``);
* ``readme``: READMEs in ``/usr/share/doc`` and npm packages, Python distributions' ``METADATA``;
* ``config``: ``package.json`` files of npm packages, json / yaml / toml / ini / cfg files of Python
  packages, ``/etc`` configuration files;
* ``table``: generated data tables -- locale definitions (``/usr/share/i18n/locales``), the time zone
  database source, ``/etc/services``, csv / tsv / txt tables shipped in Python packages.

Indexed code carries license headers, and READMEs quote code: these files test that such shared text
is not reported as copied code.
"""

from __future__ import annotations

import os
import random
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from whence.index import lexer

MAX_BYTES = 256 << 10
CONFIG_EXT = (".json", ".yaml", ".yml", ".toml", ".ini", ".cfg")
TABLE_EXT = (".csv", ".tsv", ".txt")
LICENSE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE")
#: The languages (by name) a license file is written in: a module named ``license.py`` or
#: ``license.js`` is code about licenses, and it is indexed.
LICENSE_LANGUAGES = (None, "Text", "Markdown", "reStructuredText", "HTML")


def _license(p: Path) -> bool:
    """Whether ``p`` is named as a license file is (``LICENSE``, ``COPYING.txt``, ``NOTICE.md``)."""
    return p.name.upper().startswith(LICENSE_NAMES) and lexer.language_for_path(p.name) in LICENSE_LANGUAGES


def _files(root: Path, depth: int = 8) -> Iterator[Path]:
    base = len(root.parts)
    for cur, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git", "tests", "test"))
        if len(Path(cur).parts) - base >= depth:
            dirs[:] = []
        for name in sorted(names):
            p = Path(cur) / name
            try:
                if p.is_file() and not p.is_symlink() and 0 < p.stat().st_size <= MAX_BYTES:
                    yield p
            except OSError:
                continue


def _npm_root() -> Path | None:
    try:
        out = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out and Path(out).is_dir() else None


def candidates() -> dict[str, list[Path]]:
    """Every clean-file candidate found here, by category."""
    cats: dict[str, list[Path]] = {"license": [], "readme": [], "config": [], "table": []}
    lic = Path("/usr/share/common-licenses")
    if lic.is_dir():
        cats["license"] += [p for p in _files(lic, 1)]
    doc = Path("/usr/share/doc")
    if doc.is_dir():
        for p in _files(doc, 2):
            if p.name == "copyright":
                cats["license"].append(p)
            elif p.name.upper().startswith("README") and p.suffix != ".gz":
                cats["readme"].append(p)
    roots = {Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["stdlib"]) / "site-packages"}
    for sp in sorted(r for r in roots if r.is_dir()):
        for p in _files(sp, 4):
            name, parent = p.name, p.parent.name
            if _license(p):
                cats["license"].append(p)
            elif name == "METADATA" and parent.endswith(".dist-info"):
                cats["readme"].append(p)
            elif p.suffix in CONFIG_EXT and not parent.endswith(".dist-info"):
                cats["config"].append(p)
            elif p.suffix in TABLE_EXT and not parent.endswith(".dist-info") and p.stat().st_size >= 2048:
                cats["table"].append(p)
    npm = _npm_root()
    if npm is not None:
        for p in _files(npm, 6):
            if p.name == "package.json":
                cats["config"].append(p)
            elif _license(p):
                cats["license"].append(p)
            elif p.name.upper().startswith("README"):
                cats["readme"].append(p)
    etc = Path("/etc")
    cats["config"] += [p for p in _files(etc, 2) if p.suffix in (".conf", *CONFIG_EXT)]
    locales = Path("/usr/share/i18n/locales")
    if locales.is_dir():
        cats["table"] += list(_files(locales, 1))
    cats["table"] += [
        p for p in (Path("/usr/share/zoneinfo/tzdata.zi"), Path("/etc/services")) if p.is_file()
    ]
    return cats


def sample(n: int, seed: int) -> list[tuple[str, Path, bytes]]:
    """About ``n`` clean files, as even across the categories as they allow: (category, path, contents)."""
    cats = candidates()
    rng = random.Random(seed)
    out: list[tuple[str, Path, bytes]] = []
    per = max(1, n // max(1, len(cats)))
    for cat, paths in cats.items():
        paths = sorted(set(paths))
        rng.shuffle(paths)
        taken = 0
        for p in paths:
            if taken >= per:
                break
            try:
                raw = p.read_bytes()
                raw.decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if b"\x00" in raw or not raw.strip():
                continue
            out.append((cat, p, raw))
            taken += 1
    return out
