"""The language server: copied code as diagnostics, and a code action that adds the attribution.

Events and what they do:

* ``initialized`` -- the index is opened (read-only, once per server) on the scan thread; one that
  cannot be opened is a ``window/showMessage`` error, and the server keeps answering (it tries again
  at the next scan, so an index built later is picked up).
* ``textDocument/didOpen`` and ``didSave`` scan the document at once; ``didChange`` after
  ``debounce`` seconds without a newer change.  Scans run one at a time on their own thread (a
  SQLite connection serves one thread), never on the event loop, so the editor is never kept
  waiting; a result for a version of the document that has changed since is dropped.
* ``textDocument/publishDiagnostics``: one diagnostic per copied region (see :mod:`.document` for
  severity and message; ``codeDescription.href`` is the origin's URL, ``data`` what the code action
  needs).  A document too large, binary, generated or ignored by the policy gets no diagnostics and
  one ``window/showMessage`` saying why.
* ``textDocument/codeAction`` (``quickfix``): for each whence diagnostic in the request, insert the
  attribution comment above its region, in the document language's comment syntax.
* ``textDocument/hover``: the findings on the hovered line, with their origins' links.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from whence import __version__
from whence.errors import WhenceError
from whence.index.lexer import language_for_path
from whence.scan.findings import Finding
from whence.scan.policy import PolicyError

from .document import (
    DocumentScan,
    Scanner,
    attribution_comment,
    data,
    indentation,
    line_span,
    message,
    severity,
)

log = logging.getLogger(__name__)

SEVERITY = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "information": lsp.DiagnosticSeverity.Information,
}
#: Seconds without a newer change before a changed document is scanned.
DEBOUNCE = 0.4


class WhenceLanguageServer(LanguageServer):
    """pygls's server with the scanner, its thread, and what each open document last got."""

    def __init__(self, scanner: Scanner, debounce: float = DEBOUNCE) -> None:
        super().__init__("whence", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.scanner = scanner
        self.debounce = debounce
        self.scans = ThreadPoolExecutor(1, thread_name_prefix="whence-scan")
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.results: dict[str, DocumentScan] = {}
        self.told: dict[str, str] = {}  # the last skip reason shown per document
        self.index_error = ""  # the last index error shown
        self.closed = False  # after `shutdown`: nothing more is scanned

    # -- scanning ---------------------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float) -> None:
        """Scan ``uri`` after ``delay`` seconds, replacing a scan of it not yet started."""
        if self.closed:
            return
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._scan_later(uri, delay))

    async def _scan_later(self, uri: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await self._scan(uri)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]

    async def _scan(self, uri: str) -> None:
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return  # closed meanwhile
        text, version = doc.source, doc.version
        path = _path_of(uri)
        name = path.name if path is not None else uri.rsplit("/", 1)[-1]
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self.scans, self.scanner.scan, text, path, name)
        except PolicyError as exc:
            self.show(lsp.MessageType.Error, f"whence: {name} is not scanned: {exc}")
            return
        except WhenceError as exc:
            self.show_index_error(str(exc))
            return
        except Exception as exc:  # a bug must not take the server down with it
            log.exception("scanning %s", uri)
            self.show(lsp.MessageType.Error, f"whence: scanning {name} failed: {exc}")
            return
        self.index_error = ""
        now = self.workspace.text_documents.get(uri)
        if now is None or now.version != version:
            return  # closed or changed since: the newer version's scan publishes
        self.results[uri] = result
        if result.skipped and self.told.get(uri) != result.skipped:
            self.show(lsp.MessageType.Info, f"whence: {name} is not scanned ({result.skipped})")
        self.told[uri] = result.skipped
        lines = text.split("\n")
        diagnostics = [self.diagnostic(f, lines) for f in result.findings]
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def open_index(self) -> None:
        """Open the index on the scan thread (a missing one is reported, not fatal)."""

        def done(fut: Any) -> None:
            if fut.cancelled():
                return
            exc = fut.exception()
            if isinstance(exc, WhenceError):
                self.show_index_error(str(exc))
            elif exc is not None:
                self.show_index_error(f"{type(exc).__name__}: {exc}")

        future = asyncio.wrap_future(self.scans.submit(self.scanner.open))
        future.add_done_callback(done)

    def show_index_error(self, text: str) -> None:
        if text != self.index_error:
            self.index_error = text
            self.show(lsp.MessageType.Error, f"whence: cannot use the index {self.scanner.target}: {text}")

    def show(self, kind: lsp.MessageType, text: str) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=text))

    def close(self) -> None:
        """Stop scanning and close the index (on the scan thread, which owns its connection)."""
        if self.closed:
            return
        self.closed = True
        for task in self.pending.values():
            task.cancel()
        self.pending.clear()
        self.scans.submit(self.scanner.close)
        self.scans.shutdown(wait=False, cancel_futures=False)

    def diagnostic(self, f: Finding, lines: list[str]) -> lsp.Diagnostic:
        """A finding as a diagnostic over its lines (in the position encoding agreed with the client)."""
        (l0, c0), (l1, c1) = line_span(lines, *f.lines, units=self.workspace.position_codec.client_num_units)
        url = f.url
        return lsp.Diagnostic(
            range=lsp.Range(
                start=lsp.Position(line=l0, character=c0), end=lsp.Position(line=l1, character=c1)
            ),
            message=message(f),
            severity=SEVERITY[severity(f)],
            code=_code(f),
            code_description=lsp.CodeDescription(href=url) if url else None,
            source="whence",
            data=data(f),
        )

    def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        """The findings on the hovered line: what was copied from where, and the origin's link."""
        known = self.results.get(params.text_document.uri)
        line = params.position.line + 1
        here = [f for f in known.findings if f.lines[0] <= line <= f.lines[1]] if known else []
        if not here:
            return None
        text = "\n\n".join(f"whence: {message(f)}" + (f"\n{f.url}" if f.url else "") for f in here)
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.PlainText, value=text))

    # -- the code action --------------------------------------------------------------------------------

    def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return []
        lines = doc.source.split("\n")
        known = self.results.get(uri)
        path = _path_of(uri)
        language = known.language if known is not None else language_for_path(path.name if path else uri)
        mine = [d for d in params.context.diagnostics if d.source == "whence" and isinstance(d.data, dict)]
        if not mine and known is not None:  # a client that sends no diagnostics: those of the range
            first, last = params.range.start.line + 1, params.range.end.line + 1
            mine = [
                self.diagnostic(f, lines)
                for f in known.findings
                if f.lines[0] <= last and f.lines[1] >= first
            ]
        actions: list[lsp.CodeAction] = []
        done: set[tuple[int, str]] = set()
        for d in mine:
            info = d.data
            if not isinstance(info, dict) or info.get("attributed"):
                continue
            comment = attribution_comment(info, language)
            line = _first_line(info, d)
            if comment is None or (line, comment) in done:
                continue
            done.add((line, comment))
            at = lsp.Position(line=line - 1, character=0)
            edit = lsp.TextEdit(
                range=lsp.Range(start=at, end=at), new_text=f"{indentation(lines, line)}{comment}\n"
            )
            actions.append(
                lsp.CodeAction(
                    title=f"Add attribution comment for {info.get('repo')}",
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[d],
                    is_preferred=True,
                    edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
                )
            )
        return actions


def _path_of(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    fs = to_fs_path(uri)
    return Path(fs) if fs else None


def _first_line(info: dict[str, Any], d: lsp.Diagnostic) -> int:
    lines = info.get("lines")
    if isinstance(lines, list) and lines and isinstance(lines[0], int) and lines[0] >= 1:
        return lines[0]
    return d.range.start.line + 1


def _code(f: Finding) -> str:
    """The diagnostic's code: the rule that matters most (a failing license rule, another failing rule,
    else the copy's own rule, ``verbatim-copy`` or ``near-duplicate``)."""
    return next((r for r in f.failing if r.startswith("license-")), None) or (f.failing or f.rules)[0]


def build(scanner: Scanner, debounce: float = DEBOUNCE) -> WhenceLanguageServer:
    """The server, its features registered."""
    server = WhenceLanguageServer(scanner, debounce)

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: WhenceLanguageServer, params: lsp.InitializedParams) -> None:
        ls.open_index()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: WhenceLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: WhenceLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: WhenceLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: WhenceLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        ls.results.pop(uri, None)
        ls.told.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix], resolve_provider=False),
    )
    def code_action(ls: WhenceLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return ls.code_actions(params)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: WhenceLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        return ls.hover(params)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: WhenceLanguageServer, params: None) -> None:
        ls.close()

    return server


def serve(scanner: Scanner, *, tcp: tuple[str, int] | None = None, debounce: float = DEBOUNCE) -> None:
    """Run the server on standard input and output (or on a TCP port) until the client says exit."""
    server = build(scanner, debounce)
    if tcp is None:
        server.start_io()
    else:
        server.start_tcp(*tcp)
