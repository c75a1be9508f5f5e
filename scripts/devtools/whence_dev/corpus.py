"""A corpus of REAL code found on this machine, for whence's evaluation and benchmarks.

Roots (each walked for source files of at most 1 MiB, ``testdata`` folders and minified files skipped):

* default: the running Python's stdlib and site-packages, GOROOT, ``/usr/include``, npm's global
  ``node_modules``, ``~/.cargo/registry/src``;
* ``more`` (on by default, ``--no-more`` to leave out): other code that happens to be installed -- every
  pyenv Python's stdlib and site-packages, Debian's Python, the Google Cloud SDK, each JDK's ``src.zip``
  (members are addressed as ``ARCHIVE.zip!/member``; a missing or unreadable archive, such as Debian
  openjdk-17's dangling link, is skipped for another JDK's), Perl's library, GoogleTest;
* ``--extra-root DIR`` (repeatable): e.g. a ``pip install --target DIR`` of a few large packages.

Each file gets a repo (``python/stdlib-3.11``, ``pypi/numpy``, ``go/stdlib``, ``npm/<pkg>``, ...), SPDX
licenses, and a *family* (:attr:`CorpusFile.family`): files of one family may share code (versions of one
stdlib module, a vendored copy of a package), files of different families should not -- the evaluation
draws its negatives from families it did not index.

``python scripts/corpus/survey.py [--no-more] [--extra-root DIR] [--distinct]`` lists what each root
holds on this machine.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

_EXT = ".py .pyi .go .c .h .cc .cpp .cxx .hpp .hh .js .mjs .cjs .jsx .ts .tsx .rs .java .kt .scala .rb .sh"
EXTENSIONS = frozenset((_EXT + " .pl .pm .lua .cs .swift .php").split())
MAX_BYTES = 1 << 20
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "testdata", "test_data", ".mypy_cache"})
VENDOR_DIRS = frozenset(
    {"third_party", "_vendor", "vendor", "vendored", "_vendored", "extern", "site-packages", "pylib"}
)
CLASSIFIER_SPDX = {
    "MIT License": "MIT", "BSD License": "BSD-3-Clause", "Apache Software License": "Apache-2.0",
    "Python Software Foundation License": "PSF-2.0", "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0", "GNU General Public License v3 (GPLv3)": "GPL-3.0",
    "The Unlicense (Unlicense)": "Unlicense",
}  # fmt: skip
INCLUDE_LICENSES = {
    "linux": "GPL-2.0-only WITH Linux-syscall-note",
    "asm-generic": "GPL-2.0-only WITH Linux-syscall-note",
}


class CorpusFile(NamedTuple):
    """One source file: ``path`` on disk (or ``ARCHIVE.zip!/member``), where it belongs, its licenses."""

    path: str
    repo: str
    relpath: str
    licenses: tuple[str, ...]

    @property
    def family(self) -> str:
        """Files that may share code have the same family (see the module docstring)."""
        parts = self.relpath.split("/")
        whole = {
            "python/stdlib": "python-stdlib",
            "go/stdlib": "golang",
            "openjdk/": "openjdk",
            "perl/": "perl",
        }
        for prefix, fam in whole.items():  # one project: its parts copy from each other
            if self.repo.startswith(prefix):
                return fam
        for i in range(len(parts) - 2, -1, -1):  # the innermost vendored package
            if parts[i] in VENDOR_DIRS or (parts[i] == "lib" and i and parts[i - 1] == "google_appengine"):
                return "py/" + _module(parts[i + 1])
        if "bundledpython" in self.relpath and any(re.fullmatch(r"python[23]\.\d+", p) for p in parts):
            return "python-stdlib"
        if "typeshed" in parts:
            return "py/typeshed"
        if self.repo.startswith("pypi/"):
            return "py/" + _module(parts[0])
        if self.repo.startswith("include/"):
            return "c/" + (parts[1] if parts[0] == "node" and len(parts) > 2 else self.repo.split("/", 1)[1])
        return self.repo


def _module(name: str) -> str:
    return re.sub(r"\.(pyi?|so)$", "", name).lower().replace("-", "_")


# -- reading -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _zip(path: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def read_bytes(path: str) -> bytes:
    """Contents of a corpus path (a file, or ``ARCHIVE.zip!/member``)."""
    if "!/" in path:
        archive, member = path.split("!/", 1)
        return _zip(archive).read(member)
    with open(path, "rb") as fh:
        return fh.read()


def source_files(files: Sequence[CorpusFile]) -> Iterator[object]:
    """``whence.index.ingest.SourceFile`` objects for corpus files (each with its own repo and path)."""
    from whence.index import ingest
    from whence.index.model import Occurrence

    for f in files:
        occ = Occurrence(f.repo, f.relpath, f.licenses, "", "")
        yield ingest.SourceFile(
            functools.partial(read_bytes, f.path), occ, ingest.language_of(f.relpath), label=f.path
        )


def build_index(index: str | os.PathLike[str], files: Sequence[CorpusFile], workers: int = 2) -> object:
    """Index ``files`` into a (new or existing) SQLite index; returns the build report."""
    from whence.index import ingest
    from whence.index.stores import open_store

    with open_store(index, create=True) as store:
        return ingest.build(store, source_files(files), workers=workers)  # type: ignore[arg-type]


# -- walking -----------------------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[tuple[str, str]]:
    """(absolute path, path relative to root) of every source file under ``root``, sorted."""
    for cur, dirs, names in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIP_DIRS and not d.endswith((".dist-info", ".egg-info"))
        )
        for name in sorted(names):
            ext = os.path.splitext(name)[1]
            if ext not in EXTENSIONS or name.endswith((".min.js", ".min.mjs")):
                continue
            p = os.path.join(cur, name)
            try:
                if os.path.islink(p) or os.path.getsize(p) > MAX_BYTES:
                    continue
            except OSError:
                continue
            yield p, os.path.relpath(p, root).replace(os.sep, "/")


def _spdx_of_metadata(meta: dict[str, str], classifiers: list[str]) -> tuple[str, ...]:
    expr = meta.get("License-Expression", "").strip()
    if expr:
        return (expr,)
    lic = meta.get("License", "").strip()
    if lic and "\n" not in lic and len(lic) <= 40 and lic.upper() not in ("UNKNOWN", "LICENSE"):
        return (lic,)
    for c in classifiers:
        if c.startswith("License ::"):
            spdx = CLASSIFIER_SPDX.get(c.split("::")[-1].strip())
            if spdx:
                return (spdx,)
    return ("NOASSERTION",)


def _site_packages(sp: Path) -> Iterator[CorpusFile]:
    """Installed packages: repo ``pypi/<distribution>`` and the distribution's declared license."""
    from importlib.metadata import distributions

    owner: dict[str, tuple[str, tuple[str, ...]]] = {}
    for dist in sorted(distributions(path=[str(sp)]), key=lambda d: str(d.metadata["Name"] or "")):
        name = re.sub(r"[-_.]+", "-", str(dist.metadata["Name"] or "unknown")).lower()
        meta = {k: str(dist.metadata[k] or "") for k in ("License-Expression", "License")}
        lic = _spdx_of_metadata(meta, dist.metadata.get_all("Classifier") or [])
        for f in dist.files or ():
            top = f.parts[0] if f.parts else ""
            if top and not top.endswith((".dist-info", ".egg-info", ".pth")) and top != "..":
                owner.setdefault(top, (name, lic))
    for p, rel in _walk(sp):
        top = rel.split("/", 1)[0]
        name, lic = owner.get(top, (_module(top), ("NOASSERTION",)))
        yield CorpusFile(p, f"pypi/{name}", rel, lic)


def _python(lib: Path) -> Iterator[CorpusFile]:
    """A ``lib/pythonX.Y`` folder: its stdlib (PSF-2.0) and its site-packages."""
    ver = lib.name.removeprefix("python")
    for p, rel in _walk(lib):
        if rel.split("/", 1)[0] not in ("site-packages", "dist-packages"):
            yield CorpusFile(p, f"python/stdlib-{ver}", rel, ("PSF-2.0",))
    for sub in ("site-packages", "dist-packages"):
        if (lib / sub).is_dir():
            yield from _site_packages(lib / sub)


def _generic(root: Path, repo: str, licenses: tuple[str, ...]) -> Iterator[CorpusFile]:
    for p, rel in _walk(root):
        yield CorpusFile(p, repo, rel, licenses)


def _include(root: Path) -> Iterator[CorpusFile]:
    for p, rel in _walk(root):
        top = rel.split("/", 1)[0] if "/" in rel else "libc"
        top = "libc" if top in ("x86_64-linux-gnu", "sys", "bits", "netinet", "arpa", "net") else top
        lic = INCLUDE_LICENSES.get(top, "LGPL-2.1-or-later" if top == "libc" else "NOASSERTION")
        yield CorpusFile(p, f"include/{top}", rel, (lic,))


def _npm(root: Path) -> Iterator[CorpusFile]:
    """Global npm packages; a nested ``node_modules/<dep>`` belongs to ``npm/<dep>``."""
    lic_cache: dict[str, tuple[str, ...]] = {}
    for p, rel in _walk(root):
        parts = rel.split("/")
        i = max((j for j, x in enumerate(parts) if x == "node_modules"), default=-1) + 1
        n = 2 if parts[i].startswith("@") else 1
        pkg = "/".join(parts[i : i + n])
        pkg_dir = root.joinpath(*parts[: i + n])
        if str(pkg_dir) not in lic_cache:
            try:
                lic = json.loads((pkg_dir / "package.json").read_text()).get("license") or "NOASSERTION"
            except (OSError, ValueError, AttributeError):
                lic = "NOASSERTION"
            lic_cache[str(pkg_dir)] = (lic if isinstance(lic, str) else "NOASSERTION",)
        yield CorpusFile(p, f"npm/{pkg}", rel, lic_cache[str(pkg_dir)])


def _cargo(root: Path) -> Iterator[CorpusFile]:
    for crate_dir in sorted(d for reg in sorted(root.iterdir()) if reg.is_dir() for d in reg.iterdir()):
        m = re.search(r'^license\s*=\s*"([^"]+)"', _read_text(crate_dir / "Cargo.toml"), re.M)
        crate = re.sub(r"-\d+\.\d+.*$", "", crate_dir.name)
        for p, rel in _walk(crate_dir):
            yield CorpusFile(p, f"crates/{crate}", rel, (m.group(1) if m else "NOASSERTION",))


def jdk_archives(jvm: Path = Path("/usr/lib/jvm")) -> list[Path]:
    """Every JDK's ``lib/src.zip`` under ``jvm`` that can be read as a zip archive, one per real file.

    Some are not: Debian's openjdk-17 ships ``lib/src.zip`` as a link to a file of another package
    (``openjdk-17-source``) that is usually not installed, and a partial download is not a zip.  Those
    are skipped with a note on standard error, so that another JDK's sources are used instead.
    """
    out: list[Path] = []
    seen: set[str] = set()
    jdks = sorted(jvm.iterdir()) if jvm.is_dir() else []
    for z in (jdk / "lib" / "src.zip" for jdk in jdks):
        if not os.path.lexists(z):
            continue
        real = os.path.realpath(z)
        if real in seen:
            continue
        seen.add(real)
        if not os.path.isfile(real):
            print(f"corpus: skipping {z}: it links to {real}, which is missing", file=sys.stderr)
        elif not zipfile.is_zipfile(real):
            print(f"corpus: skipping {z}: not a readable zip archive", file=sys.stderr)
        else:
            out.append(z)
    return out


def _jdk_zip(archive: Path) -> Iterator[CorpusFile]:
    with zipfile.ZipFile(archive) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            ext = os.path.splitext(info.filename)[1]
            if info.is_dir() or ext not in EXTENSIONS or info.file_size > MAX_BYTES:
                continue
            module = info.filename.split("/", 1)[0]
            yield CorpusFile(
                f"{archive}!/{info.filename}", f"openjdk/{module}", info.filename,
                ("GPL-2.0-only WITH Classpath-exception-2.0",),
            )  # fmt: skip


def _read_text(p: Path) -> str:
    try:
        return p.read_text(errors="replace")
    except OSError:
        return ""


def _cmd(*args: str) -> str:
    if not shutil.which(args[0]):
        return ""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def roots(
    more: bool = True, extra: Sequence[str] = (), *, base: bool = True
) -> list[tuple[str, Iterator[CorpusFile]]]:
    """(label, lazily walked files) for every root that exists here, in a fixed order; ``base=False``:
    the ``extra`` roots alone (code none of the project's tuning has seen, for a held-out-like run)."""
    out: list[tuple[str, Iterator[CorpusFile]]] = []
    seen: set[str] = set()

    def add(label: str, path: Path | str, gen: Iterator[CorpusFile]) -> None:
        real = os.path.realpath(path)
        if os.path.exists(real) and real not in seen:
            seen.add(real)
            out.append((label, gen))

    if base:
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        add("python stdlib + site-packages", stdlib, _python(stdlib))
        purelib = Path(sysconfig.get_paths()["purelib"])
        if not purelib.is_relative_to(stdlib):
            add("python site-packages", purelib, _site_packages(purelib))
        goroot = Path(_cmd("go", "env", "GOROOT") or "/usr/local/go")
        add("go (GOROOT)", goroot, _generic(goroot, "go/stdlib", ("BSD-3-Clause",)))
        add("/usr/include", "/usr/include", _include(Path("/usr/include")))
        npm_root = _cmd("npm", "root", "-g")
        if npm_root:
            add("npm global", npm_root, _npm(Path(npm_root)))
        cargo = Path.home() / ".cargo/registry/src"
        add("cargo registry", cargo, _cargo(cargo))
    if base and more:
        pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        libs = sorted(pyenv.glob("*/lib/python[23].*")) + sorted(Path("/usr/lib").glob("python3.*"))
        for lib in libs:
            if lib.is_dir() and not lib.name.endswith("-config"):
                add(f"python {lib}", lib, _python(lib))
        add("debian python3", "/usr/lib/python3", _site_packages(Path("/usr/lib/python3/dist-packages")))
        gcloud = Path("/usr/lib/google-cloud-sdk")
        add("google cloud sdk", gcloud, _generic(gcloud, "google/cloud-sdk", ("Apache-2.0",)))
        for z in jdk_archives():
            add(f"jdk {z}", z, _jdk_zip(z))
        for perl in ("/usr/share/perl", "/usr/share/perl5"):
            add(
                f"perl {perl}",
                perl,
                _generic(Path(perl), "perl/perl5", ("Artistic-1.0-Perl OR GPL-1.0-or-later",)),
            )
        add(
            "googletest",
            "/usr/src/googletest",
            _generic(Path("/usr/src/googletest"), "google/googletest", ("BSD-3-Clause",)),
        )
    for e in extra:
        p = Path(e)
        gen = (
            _site_packages(p)
            if any(p.glob("*.dist-info"))
            else _generic(p, f"extra/{p.name}", ("NOASSERTION",))
        )
        add(f"extra {p}", p, gen)
    return out


def gather(
    *,
    limit: int | None = None,
    seed: int | None = None,
    more: bool = True,
    extra: Sequence[str] = (),
    base: bool = True,
) -> list[CorpusFile]:
    """Every corpus file, in a fixed order (shuffled deterministically with ``seed``), at most ``limit``
    (``base=False``: of the ``extra`` roots alone, see :func:`roots`)."""
    files: list[CorpusFile] = []
    seen: set[str] = set()
    for _, gen in roots(more, extra, base=base):
        for f in gen:
            key = os.path.realpath(f.path) if "!/" not in f.path else f.path
            if key not in seen:  # the same file reached twice (a symlinked folder)
                seen.add(key)
                files.append(f)
    if seed is not None:
        random.Random(seed).shuffle(files)
    return files[:limit] if limit is not None else files
