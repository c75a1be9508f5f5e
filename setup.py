"""Builds the compiled fingerprint kernel when it can, and names the project's address; everything else is
configured in pyproject.toml.

The kernel (``index/_fastfp.c``) is optional: without a C compiler, or with ``WHENCE_NO_EXTENSION=1``,
the build goes on without it and whence runs its pure-Python lexer and fingerprints (same results,
slower; ``whence.index.fingerprint.has_native()`` says which is in use).

The project's address (``[project.urls]``: the SARIF tool's ``informationUri``, the package index's
links) is where the source was built from: ``$WHENCE_PROJECT_URL`` when set, else the ``origin`` remote
of the git work tree being built -- its own, not one it sits in (``git@host:o/n`` becomes
``https://host/o/n``; credentials dropped) --, else, in an sdist, the address its own metadata
recorded.  None when none of them is an http(s) URL.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from email.parser import Parser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing when the kernel cannot be compiled."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all (DistutilsPlatformError and kin)
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # the compiler failed or is missing (CompileError, DistutilsExecError)
            self._skip(exc)

    @staticmethod
    def _skip(exc: Exception) -> None:
        print(
            f"WARNING: the compiled fingerprint kernel was not built ({exc}); whence will use its "
            "pure-Python lexer and fingerprints (same results, slower)",
            file=sys.stderr,
        )


def project_url() -> str | None:
    """The project's web address, as the module docstring says."""
    candidates = [os.environ.get("WHENCE_PROJECT_URL", "")]
    # Only this folder's own repository: an sdist unpacked inside another one must not take its remote.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        if (HERE / ".git").exists():
            candidates.append(
                subprocess.run(
                    ["git", "-C", str(HERE), "remote", "get-url", "origin"],
                    capture_output=True, text=True, timeout=10, check=False,
                ).stdout.strip()
            )  # fmt: skip
    for url in filter(None, candidates):
        if m := re.fullmatch(r"[\w.-]+@([\w.-]+):([\w./-]+)", url):  # scp-like ssh: git@host:o/n
            url = f"https://{m[1]}/{m[2]}"
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ssh", "git+https") and parts.hostname:
            path = parts.path.removesuffix("/").removesuffix(".git")
            port = f":{parts.port}" if parts.port and parts.scheme in ("http", "https") else ""
            scheme = "http" if parts.scheme == "http" else "https"
            return urlunsplit((scheme, parts.hostname + port, path, "", ""))
    pkg_info = HERE / "PKG-INFO"  # an sdist: what the build that made it found
    if pkg_info.is_file():
        meta = Parser().parsestr(pkg_info.read_text(encoding="utf-8"))
        for entry in meta.get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "homepage" and url.strip().startswith(("https://", "http://")):
                return url.strip()
    return None


url = project_url()
setup(
    ext_modules=[]
    if os.environ.get("WHENCE_NO_EXTENSION") == "1"
    else [
        Extension(
            "whence.index._fastfp",
            sources=["index/_fastfp.c"],
            extra_compile_args=["-O3", "-std=c99"],
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
    project_urls={"Homepage": url, "Repository": url} if url else {},
)
