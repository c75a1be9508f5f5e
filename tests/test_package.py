"""The package as users install it: a wheel and an sdist built with ``python -m build`` from a clean
``git clone``, the wheel installed into a fresh venv (no system site-packages) with its base
dependencies only, and ``whence index build`` and ``whence search`` run from there -- with the compiled
kernel, then with a wheel built where no C compiler works (the pure-Python fallback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOME = "https://git.example.org/team/whence"  # the clone's origin remote (setup.py reads it)
PACKAGE_DATA = (
    "whence/index/data/boilerplate.npz",
    "whence/scan/data/spdx-licenses.json.xz",
    "whence/api/web/index.html",
    "whence/api/web/favicon.svg",
    "whence/api/web/favicon.ico",
    "whence/py.typed",
)


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> str:
    """``cmd``'s standard output, its standard error appended; fails the test on another exit status."""
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode in ok, f"{cmd} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


def _json(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Any:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode in ok, f"{cmd} exited {out.returncode}:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout)


@pytest.mark.slow
def test_wheel_and_sdist_install_and_run_in_a_clean_venv(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git work tree: nothing to clone")  # an unpacked sdist runs the other tests
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WHENCE_", "PYTHON", "VIRTUAL_ENV"))}
    src = tmp_path / "clone"
    _run(["git", "clone", "--quiet", str(ROOT), str(src)], tmp_path)
    _run(["git", "remote", "set-url", "origin", "git@git.example.org:team/whence.git"], src)

    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(src)], tmp_path, clean)
    (sdist,) = dist.glob("whence-*.tar.gz")
    (wheel,) = dist.glob("whence-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert set(PACKAGE_DATA) <= names
    assert any(n.startswith("whence/index/_fastfp.") and n.endswith(".so") for n in names)
    assert not any(n.startswith(("tests/", "scripts/")) for n in names)
    assert f"Project-URL: Homepage, {HOME}" in meta and f"Project-URL: Repository, {HOME}" in meta
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
    assert {
        "setup.py",
        "pyproject.toml",
        "index/_fastfp.c",
        "README.md",
        "index/data/boilerplate.npz",
        "scan/data/spdx-licenses.json.xz",
        "api/web/index.html",
        "api/web/favicon.ico",
    } <= members

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, clean)
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg
    py, whence = str(venv / "bin" / "python"), str(venv / "bin" / "whence")
    _run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)], tmp_path, clean)
    installed = {
        p["name"].lower() for p in _json([py, "-m", "pip", "list", "--format", "json"], tmp_path, clean)
    }
    assert "whence" in installed and not installed & {"torch", "transformers", "tokenizers"}

    # A tiny folder of real code, and a snippet copied from it.
    code = tmp_path / "corpus" / "demo"
    code.mkdir(parents=True)
    (code / "difflib_copy.py").write_text(_stdlib("difflib.py"))
    query = tmp_path / "snippet.py"
    query.write_text("".join(_stdlib("difflib.py").splitlines(keepends=True)[409:445]))

    def build_and_search(index: Path) -> dict[str, Any]:
        build = [whence, "index", "build", str(code), "--index", str(index), "--repo", "o/demo"]
        _run([*build, "--license", "MIT"], tmp_path, clean)
        result: dict[str, Any] = _json(
            [whence, "search", str(query), "--index", str(index), "--format", "json"], tmp_path, clean
        )
        return result

    def native() -> str:
        check = "from whence.index.fingerprint import has_native; print(has_native())"
        return _run([py, "-c", check], tmp_path, clean).strip()

    assert native() == "True"
    compiled = build_and_search(tmp_path / "compiled.sqlite")
    assert compiled["verdict"] == "verbatim"
    assert compiled["matches"][0]["repo"] == "o/demo"
    # The SARIF tool's informationUri is the project's address, from the package's metadata.
    scan = [whence, "scan", str(query), "--index", str(tmp_path / "compiled.sqlite"), "--format", "sarif"]
    sarif = _json(scan, tmp_path, clean, ok=(0, 1))  # 1: the copy lacks the attribution MIT asks for
    assert sarif["runs"][0]["tool"]["driver"]["informationUri"] == HOME

    # No working C compiler: the build warns and goes on, and the wheel runs the pure-Python fallback.
    nocc = tmp_path / "nocc"
    log = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(nocc), str(src)], tmp_path,
               clean | {"CC": "false"})  # fmt: skip
    assert "the compiled fingerprint kernel was not built" in log
    (pure,) = nocc.glob("whence-*.whl")
    with zipfile.ZipFile(pure) as z:
        assert not any("_fastfp" in n for n in z.namelist()) and set(PACKAGE_DATA) <= set(z.namelist())
    _run(
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(pure)], tmp_path, clean
    )
    assert native() == "False"
    fallback = build_and_search(tmp_path / "pure.sqlite")
    assert fallback == compiled  # the same fingerprints, the same answer


def _stdlib(name: str) -> str:
    import sysconfig

    return (Path(sysconfig.get_paths()["stdlib"]) / name).read_text()
