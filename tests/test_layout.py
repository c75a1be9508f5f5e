"""The packages' import boundaries: ``whence.scan`` (the scan engine) needs neither product, the HTTP
service (``whence.api``) never needs the CLI, the CLI (``whence.cli``) needs the service only to start it
or manage its keys, the language server (``whence.lsp``) needs neither, and none of them reaches into a
store's internals."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: package -> folder (as in pyproject.toml's [tool.setuptools.package-dir])
FOLDERS = {"whence.cli": "cli", "whence.scan": "scan", "whence.api": "api", "whence.lsp": "lsp"}
#: The only CLI modules that may import the service, and only inside their commands.
CLI_SERVICE_MODULES = {"whence.cli.serve", "whence.cli.keys"}
#: Modules of whence.index.stores other than its public face (its __init__).
STORE_INTERNALS = {p.stem for p in (ROOT / "index" / "stores").glob("*.py")} - {"__init__"}


def _imports(package: str, folder: str) -> Iterator[tuple[str, str, str]]:
    """(module, imported name, when) for every import under ``folder``; ``when`` is ``"import"`` (runs
    when the module is imported), ``"call"`` (inside a function) or ``"typing"`` (TYPE_CHECKING only).
    ``from m import a`` yields ``m`` and ``m.a`` (``a`` may be a module)."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = [*package.split("."), *path.relative_to(ROOT / folder).with_suffix("").parts]
        is_init = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_init else parts)
        pkg = module.split(".") if is_init else module.split(".")[:-1]
        for name, when in _visit(ast.parse(path.read_text(), str(path)), pkg, "import"):
            yield module, name, when


def _visit(node: ast.AST, pkg: list[str], when: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and when == "import":
        when = "call"
    if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
        when = "typing"
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, when
    elif isinstance(node, ast.ImportFrom):
        base = pkg[: len(pkg) - node.level + 1] if node.level else []
        name = ".".join([*base, *([node.module] if node.module else [])])
        yield name, when
        for alias in node.names:
            yield f"{name}.{alias.name}", when
    for child in ast.iter_child_nodes(node):
        yield from _visit(child, pkg, when)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FOLDERS))
def test_import_boundaries(package: str) -> None:
    wrong = []
    seen = 0
    for module, name, when in _imports(package, FOLDERS[package]):
        seen += 1
        if package == "whence.scan" and (_within(name, "whence.api") or _within(name, "whence.cli")):
            wrong.append(f"{module} imports {name}: the scan engine needs neither product")
        if package == "whence.lsp" and (_within(name, "whence.api") or _within(name, "whence.cli")):
            wrong.append(
                f"{module} imports {name}: the language server needs neither the CLI nor the service"
            )
        if package == "whence.api" and _within(name, "whence.cli"):
            wrong.append(f"{module} imports {name}: the service does not need the CLI")
        at_run_time = when != "typing"
        allowed = module in CLI_SERVICE_MODULES and when == "call"
        if package == "whence.cli" and _within(name, "whence.api") and at_run_time and not allowed:
            wrong.append(f"{module} imports {name}: only serve and keys may, inside their commands")
        if name.split(".")[:4] in (["whence", "index", "stores", m] for m in STORE_INTERNALS):
            wrong.append(f"{module} imports {name}: a store internal (use whence.index.stores)")
    assert seen > 10  # the walk found the package's imports
    assert not wrong, "\n".join(wrong)


def test_importing_the_cli_leaves_the_service_and_the_scan_engine_out() -> None:
    code = (
        "import sys, whence.cli\n"
        "out = ('whence.api', 'whence.scan', 'fastapi', 'whence.lsp', 'pygls')\n"
        "print(sorted(m for m in sys.modules if m.startswith(out)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_index_needs_no_product_and_the_stores_no_search() -> None:
    """``whence.index`` is the library every product stands on: it imports none of them, and its stores
    import none of search's parts (search reads through the store interface, never the other way)."""
    products = ("whence.api", "whence.cli", "whence.scan", "whence.generator")
    search_parts = [f"whence.index.{m}" for m in ("search", "candidates", "align", "verdict", "cover")]
    wrong = []
    for module, name, when in _imports("whence.index", "index"):
        if when == "typing":
            continue
        if any(_within(name, p) for p in products):
            wrong.append(f"{module} imports {name}: the index needs no product")
        if _within(module, "whence.index.stores") and any(_within(name, m) for m in search_parts):
            wrong.append(f"{module} imports {name}: a store never imports search")
    for module, name, _ in _imports("whence.generator", "generator"):
        if any(_within(name, p) for p in ("whence.api", "whence.cli", "whence.scan")):
            wrong.append(f"{module} imports {name}: the generator needs no product")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """No module of the package imports, at import time, one that imports it back (through any chain)."""
    folders = {"whence": "whence", "whence.index": "index", "whence.generator": "generator", **FOLDERS}
    found = {p: list(_imports(p, f)) for p, f in folders.items()}
    modules = {m for imports in found.values() for m, _, _ in imports}

    def module_of(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imports in found.values():
        for module, name, when in imports:
            target = module_of(name)
            if when == "import" and target and target != module:
                graph[module].add(target)

    def reaches(start: str, goal: str) -> list[str]:
        path, seen, todo = {start: [start]}, {start}, [start]
        while todo:
            here = todo.pop()
            for nxt in graph[here]:
                if nxt == goal:
                    return [*path[here], goal]
                if nxt not in seen:
                    seen.add(nxt)
                    path[nxt] = [*path[here], nxt]
                    todo.append(nxt)
        return []

    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the walk found the modules' imports
    cycles = [" -> ".join(c) for m in sorted(graph) for c in [reaches(m, m)] if c]
    assert not cycles, "\n".join(cycles)


def test_the_container_image_copies_every_package_folder() -> None:
    """The Dockerfile builds the wheel from copied folders: one left out (``lsp/`` was) breaks the image's
    ``pip wheel``, since pyproject.toml lists its package."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = {d.split("/", 1)[0] for d in config["tool"]["setuptools"]["package-dir"].values()}
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            copied.update(w.rstrip("/") for w in words[1:-1])
    assert folders - copied == set(), f"the Dockerfile does not copy {sorted(folders - copied)}"
    assert {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md"} <= copied
