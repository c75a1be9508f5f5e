"""`whence lsp` in a real LSP session: pygls's LanguageClient starts `python -m whence lsp` as a
subprocess and speaks LSP with it over stdio, as an editor does.

The index is real (modules of this Python's standard library as ``python/cpython`` under PSF-2.0, one
under GPL-3.0-only); the documents copy blocks of them.  Nothing sleeps: every wait is for a
notification, with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

pytest.importorskip("pygls")

from click.testing import CliRunner
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from whence.cli import main
from whence.index import ingest
from whence.index.stores import open_store

from .conftest import STDLIB

T = TypeVar("T")
DEADLINE = 60.0  # seconds for any one notification (a loaded machine; it normally takes well under one)

OWN_HEAD = '''"""Report formatting for the warehouse service."""

from dataclasses import dataclass


@dataclass
class Line:
    sku: str
    count: int


'''
OWN_TAIL = """

def total(lines: list[Line]) -> int:
    return sum(line.count for line in lines)
"""


def _block(name: str, start: str, end: str) -> tuple[str, int, int]:
    """The lines of a standard library module from the line starting with ``start`` to the line
    before the one starting with ``end``: (text, first line, last line) in the module."""
    lines = (STDLIB / name).read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    last = next(i for i in range(first + 1, len(lines)) if lines[i].startswith(end))
    return "".join(lines[first:last]).rstrip("\n") + "\n", first + 1, last


@pytest.fixture(scope="module")
def lsp_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("lsp-index")
    psf, gpl = base / "psf", base / "gpl"
    psf.mkdir()
    gpl.mkdir()
    for name in ("textwrap.py", "heapq.py"):
        shutil.copy(STDLIB / name, psf / name)
    shutil.copy(STDLIB / "sched.py", gpl / "sched.py")
    path = base / "index.sqlite"
    with open_store(path, create=True) as store:
        src = [
            *ingest.sources([psf], repo="python/cpython", licenses=["PSF-2.0"]),
            *ingest.sources([gpl], repo="example/gpl-lib", licenses=["GPL-3.0-only"]),
        ]
        ingest.build(store, iter(src), workers=1)
    return path


class Session:
    """A client and what the server sent it: diagnostics per document, messages."""

    def __init__(self) -> None:
        self.client = LanguageClient("whence-tests", "1")
        self.published: list[lsp.PublishDiagnosticsParams] = []
        self.messages: list[lsp.ShowMessageParams] = []
        self.news = asyncio.Event()

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.published.append(params)
            self.news.set()

        @self.client.feature(lsp.WINDOW_SHOW_MESSAGE)
        def show(params: lsp.ShowMessageParams) -> None:
            self.messages.append(params)
            self.news.set()

        @self.client.feature(lsp.WINDOW_LOG_MESSAGE)
        def log(params: lsp.LogMessageParams) -> None:
            pass

    async def start(self, *args: str) -> lsp.InitializeResult:
        """Start ``whence lsp ARGS`` on stdio and initialize it."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        await self.client.start_io(sys.executable, "-m", "whence", "lsp", *args, env=env)
        return await self.initialize()

    async def initialize(self) -> lsp.InitializeResult:
        result = await asyncio.wait_for(
            self.client.initialize_async(
                lsp.InitializeParams(
                    process_id=os.getpid(),
                    capabilities=lsp.ClientCapabilities(
                        text_document=lsp.TextDocumentClientCapabilities(
                            publish_diagnostics=lsp.PublishDiagnosticsClientCapabilities(
                                version_support=True
                            ),
                        )
                    ),
                )
            ),
            DEADLINE,
        )
        self.client.initialized(lsp.InitializedParams())
        return result

    async def until(self, found: Callable[[], T | None], what: str) -> T:
        """Wait for a notification that makes ``found()`` return something, at most DEADLINE seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while True:
            self.news.clear()
            got = found()
            if got is not None:
                return got
            left = deadline - loop.time()
            if left <= 0 or self.client.stopped:
                raise AssertionError(f"no {what} within {DEADLINE} s (messages: {self.messages})")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.news.wait(), left)

    async def diagnostics(self, uri: str, version: int) -> list[lsp.Diagnostic]:
        def find() -> list[lsp.Diagnostic] | None:
            for p in reversed(self.published):
                if p.uri == uri and p.version == version:
                    return list(p.diagnostics)
            return None

        return await self.until(find, f"diagnostics for {uri} version {version}")

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
            )
        )

    async def close(self) -> int:
        """shutdown, exit, and the server's exit status."""
        await asyncio.wait_for(self.client.shutdown_async(None), DEADLINE)
        self.client.exit(None)
        server = self.client._server
        assert server is not None
        code = await asyncio.wait_for(server.wait(), DEADLINE)
        await asyncio.wait_for(self.client.stop(), DEADLINE)
        return code


def _run(test: Callable[[Session], Awaitable[None]]) -> None:
    async def main() -> None:
        session = Session()
        try:
            await test(session)
        finally:
            server = session.client._server
            if server is not None and server.returncode is None:
                server.kill()
                await server.wait()

    asyncio.run(main())


def test_a_copied_block_is_a_diagnostic_with_its_origin_and_a_quick_fix(
    lsp_index: Path, tmp_path: Path
) -> None:
    copied, first, last = _block("textwrap.py", "class TextWrapper", "# -- Convenience interface")
    text = OWN_HEAD + copied + OWN_TAIL
    start = OWN_HEAD.count("\n") + 1  # the copied block's first line in the document
    end = start + copied.count("\n") - 1
    doc = tmp_path / "report.py"
    uri = doc.as_uri()

    async def session(s: Session) -> None:
        result = await s.start("--index", str(lsp_index), "--debounce", "0.05")
        caps = result.capabilities
        assert result.server_info is not None and result.server_info.name == "whence"
        assert caps.code_action_provider is not None
        assert isinstance(caps.code_action_provider, lsp.CodeActionOptions)
        assert lsp.CodeActionKind.QuickFix in (caps.code_action_provider.code_action_kinds or [])
        assert caps.text_document_sync is not None

        s.open(uri, text)
        found = await s.diagnostics(uri, 1)
        assert len(found) >= 1, found
        d = found[0]
        assert d.source == "whence"
        assert d.severity == lsp.DiagnosticSeverity.Warning  # PSF-2.0: permissive, attribution required
        # The region is the copied block (its alignment may reach a token or two past its edges) ...
        assert start - 1 <= d.range.start.line <= start + 1, (d.range, start, end)
        assert end - 3 <= d.range.end.line <= end + 3, (d.range, start, end)
        assert d.range.start.character == 0
        # ... and exactly the lines `whence scan` reports for the same text saved to the file.
        doc.write_text(text)
        scanned = CliRunner().invoke(main, ["scan", str(doc), "--index", str(lsp_index), "--format", "json"])
        assert scanned.exit_code == 1, scanned.output  # the policy fails the unattributed copy
        (finding,) = json.loads(scanned.stdout)["findings"]
        assert (d.range.start.line + 1, d.range.end.line + 1) == tuple(finding["lines"])
        assert d.data["source_lines"] == finding["origin"]["source_lines"]
        assert d.code_description is not None and d.code_description.href == finding["origin"]["url"]
        assert "python/cpython" in d.message and "textwrap.py" in d.message and "PSF-2.0" in d.message
        assert "verbatim" in d.message
        assert d.code_description is not None
        assert "python/cpython" in d.code_description.href and "textwrap.py#L" in d.code_description.href
        assert isinstance(d.data, dict) and d.data["repo"] == "python/cpython"
        src_first, src_last = d.data["source_lines"]
        assert first <= src_first <= first + 1 and last - 3 <= src_last <= last + 4

        actions = await asyncio.wait_for(
            s.client.text_document_code_action_async(
                lsp.CodeActionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    range=d.range,
                    context=lsp.CodeActionContext(diagnostics=[d]),
                )
            ),
            DEADLINE,
        )
        assert actions is not None and len(actions) == 1
        action = actions[0]
        assert isinstance(action, lsp.CodeAction)
        assert action.kind == lsp.CodeActionKind.QuickFix
        assert action.edit is not None and action.edit.changes is not None
        (edit,) = action.edit.changes[uri]
        at = d.range.start.line
        assert edit.range.start == edit.range.end == lsp.Position(line=at, character=0)
        assert edit.new_text == (
            f"# Adapted from {d.code_description.href} (PSF-2.0); whence: attributed python/cpython\n"
        )

        hover = await asyncio.wait_for(
            s.client.text_document_hover_async(
                lsp.HoverParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    position=lsp.Position(line=d.range.start.line + 5, character=4),
                )
            ),
            DEADLINE,
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert "python/cpython" in hover.contents.value and d.code_description.href in hover.contents.value

        # The editor applies the fix: the region is now attributed (the comment is whence's marker).
        lines = text.split("\n")
        fixed = "\n".join([*lines[:at], edit.new_text.rstrip("\n"), *lines[at:]])
        s.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=fixed)],
            )
        )
        after = await s.diagnostics(uri, 2)
        assert after and all(x.severity == lsp.DiagnosticSeverity.Information for x in after), after
        assert "attributed" in after[0].message
        assert after[0].range.start.line == d.range.start.line + 1  # moved down by the comment
        assert isinstance(after[0].data, dict) and after[0].data["attributed"] is True

        assert await s.close() == 0

    _run(session)


def test_clean_copyleft_skipped_and_closed_documents(lsp_index: Path, tmp_path: Path) -> None:
    copied, _, _ = _block("sched.py", "class scheduler", "    @property")
    gpl_uri = (tmp_path / "jobs.py").as_uri()
    clean_uri = (tmp_path / "clean.py").as_uri()
    binary_uri = (tmp_path / "blob.py").as_uri()

    async def session(s: Session) -> None:
        await s.start("--index", str(lsp_index))
        s.open(clean_uri, OWN_HEAD + OWN_TAIL)
        assert await s.diagnostics(clean_uri, 1) == []

        s.open(gpl_uri, OWN_HEAD + copied + OWN_TAIL)
        (d,) = await s.diagnostics(gpl_uri, 1)
        assert d.severity == lsp.DiagnosticSeverity.Error  # copyleft: the default policy fails it
        assert d.code == "license-copyleft"
        assert "example/gpl-lib" in d.message and "GPL-3.0-only" in d.message and "copyleft" in d.message

        s.open(binary_uri, "x = 1\x00\n" * 10)
        assert await s.diagnostics(binary_uri, 1) == []
        note = await s.until(
            lambda: next((m for m in s.messages if "blob.py" in m.message), None), "a skip message"
        )
        assert note.type == lsp.MessageType.Info and "binary" in note.message

        big_uri = (tmp_path / "big.py").as_uri()
        s.open(big_uri, "x = 1\n" * 200_000)  # 1.2 MB, past the scan's 1 MiB limit
        assert await s.diagnostics(big_uri, 1) == []
        note = await s.until(
            lambda: next((m for m in s.messages if "big.py" in m.message), None), "a skip message"
        )
        assert "too large" in note.message

        # Closing a document clears its diagnostics.
        s.client.text_document_did_close(
            lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=gpl_uri))
        )
        await s.until(
            lambda: True if s.published[-1].uri == gpl_uri and not s.published[-1].diagnostics else None,
            "cleared diagnostics",
        )
        assert await s.close() == 0

    _run(session)


def test_a_missing_index_is_a_message_not_a_crash(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "index.sqlite"
    uri = (tmp_path / "a.py").as_uri()

    async def session(s: Session) -> None:
        result = await s.start("--index", str(missing))
        assert result.capabilities.code_action_provider is not None
        error = await s.until(
            lambda: next((m for m in s.messages if m.type == lsp.MessageType.Error), None), "an error message"
        )
        assert "index" in error.message and "nowhere" in error.message
        s.open(uri, OWN_HEAD + OWN_TAIL)
        # The server still answers requests after a scan failed on the missing index.
        actions = await asyncio.wait_for(
            s.client.text_document_code_action_async(
                lsp.CodeActionParams(
                    text_document=lsp.TextDocumentIdentifier(uri=uri),
                    range=lsp.Range(
                        start=lsp.Position(line=0, character=0), end=lsp.Position(line=1, character=0)
                    ),
                    context=lsp.CodeActionContext(diagnostics=[]),
                )
            ),
            DEADLINE,
        )
        assert not actions
        assert not missing.exists()  # opened read-only: nothing was created
        assert await s.close() == 0

    _run(session)


def test_edits_in_quick_succession_are_scanned_once(lsp_index: Path, tmp_path: Path) -> None:
    """Changes within the debounce interval replace each other: only the last version is scanned and
    published."""
    copied, _, _ = _block("heapq.py", "def heappush", "def heapreplace")
    uri = (tmp_path / "queue.py").as_uri()

    async def session(s: Session) -> None:
        await s.start("--index", str(lsp_index), "--debounce", "2")
        s.open(uri, OWN_HEAD + OWN_TAIL)
        assert await s.diagnostics(uri, 1) == []
        for version, text in ((2, OWN_HEAD), (3, OWN_HEAD + copied), (4, OWN_HEAD + copied + OWN_TAIL)):
            s.client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )
        found = await s.diagnostics(uri, 4)
        assert found and "heapq.py" in found[0].message
        assert [p.version for p in s.published if p.uri == uri] == [1, 4]
        assert await s.close() == 0

    _run(session)


def test_over_tcp(lsp_index: Path, tmp_path: Path) -> None:
    """``--tcp HOST:PORT``: the same server on a socket."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    copied, _, _ = _block("textwrap.py", "def dedent", "def indent")
    uri = (tmp_path / "tcp.py").as_uri()

    async def session(s: Session) -> None:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whence", "lsp", "--index", str(lsp_index), "--tcp", f"127.0.0.1:{port}",
            stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE
            while True:  # connect until the server listens (a retry interval, not a wait for a result)
                try:
                    await s.client.start_tcp("127.0.0.1", port)
                    break
                except OSError:
                    if loop.time() > deadline or server.returncode is not None:
                        raise
                    await asyncio.sleep(0.05)
            result = await s.initialize()
            assert result.server_info is not None and result.server_info.name == "whence"
            s.open(uri, OWN_HEAD + copied + OWN_TAIL)
            (d,) = await s.diagnostics(uri, 1)
            assert "textwrap.py" in d.message
            await asyncio.wait_for(s.client.shutdown_async(None), DEADLINE)
            s.client.exit(None)
            assert await asyncio.wait_for(server.wait(), DEADLINE) == 0
            await asyncio.wait_for(s.client.stop(), DEADLINE)
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()

    _run(session)
