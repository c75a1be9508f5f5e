"""One open document against the index: its findings, what its diagnostics say, its attribution comments.

An editor's document is text that may not be saved, so it is not read from disk: :meth:`Scanner.scan`
runs, for that text, the steps the scan engine (:mod:`whence.scan.engine`) runs for one file -- the
same checks (size, binary, UTF-8, generated), the same ``whence: attributed`` markers, the same
coverage (:func:`whence.index.cover.prepare` and :func:`~whence.index.cover.cover`), and the regions
judged by :func:`whence.scan.findings.judge` under the policy ``whence scan`` would use for the file.
So a diagnostic in the editor is exactly a finding of ``whence scan`` on the saved file.

Nothing here imports pygls: the server (:mod:`.server`) turns these plain values into LSP types.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pathspec

from whence.index import cover as cov
from whence.index.ingest import DEFAULT_MAX_BYTES, check_text
from whence.index.lexer import language_for_path, syntax_for
from whence.index.stores import Store, open_store
from whence.scan import policy as policies
from whence.scan.engine import MARKER, Region, Scanned
from whence.scan.files import git_root, is_generated
from whence.scan.findings import Finding, judge
from whence.scan.policy import Policy

#: Why a document was not scanned (the reasons of ``whence scan``'s "skipped").
SKIP_REASONS = {"too_large": "too large", "binary": "binary", "not_utf8": "not UTF-8"}

Severity = Literal["error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class DocumentScan:
    """What a scan of one document found.

    Attributes:
        findings: the copied regions, judged (those of ``whence scan`` on the same text).
        language: the syntax profile the document was lexed with (None: the default rules).
        skipped: why the document was not scanned ("" when it was): too large, binary, not UTF-8,
            generated, or ignored by the policy.
    """

    findings: tuple[Finding, ...] = ()
    language: str | None = None
    skipped: str = ""


@dataclass
class Scanner:
    """Scans documents against the index at ``target``, opened read-only by the first scan and kept
    open until :meth:`close`.  Not thread-safe (one SQLite connection): the server calls it from one
    thread only.

    The policy is ``policy_file`` when given, else the one ``whence scan`` discovers for the document's
    file (the nearest ``whence.toml`` or ``[tool.whence]`` up to its git root); ``fail_on`` and
    ``min_tokens`` override it, as ``whence scan``'s options do.
    """

    target: str
    policy_file: Path | None = None
    fail_on: tuple[str, ...] = ()
    min_tokens: int | None = None
    _store: Store | None = field(default=None, init=False, repr=False)
    _documents: int = field(default=0, init=False, repr=False)
    _cap: int = field(default=0, init=False, repr=False)
    _cache: cov.DocCache = field(default_factory=cov.DocCache, init=False, repr=False)
    _roots: dict[Path, Path | None] = field(default_factory=dict, init=False, repr=False)

    def open(self) -> Store:
        """The index, opened on first use.

        Raises:
            WhenceError: it cannot be opened (missing, not an index, unreachable).
        """
        if self._store is None:
            store = open_store(self.target, readonly=True)
            try:
                self._documents, self._cap = cov.cap_for(store)
            except BaseException:
                store.close()
                raise
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def policy_for(self, path: Path | None) -> Policy:
        """The policy a document at ``path`` (None: not a file) is judged by.

        Raises:
            PolicyError: the policy file is not valid.
        """
        if self.policy_file is not None:
            pol = policies.read_file(self.policy_file)
        elif path is not None:
            folder = path.parent
            if folder not in self._roots:
                self._roots[folder] = git_root(folder) if folder.is_dir() else None
            root = self._roots[folder]
            pol = policies.discover(path, root) if folder.is_dir() else Policy(root=folder)
        else:
            pol = Policy(root=Path.cwd())
        if self.fail_on:
            pol = pol.with_fail_on(self.fail_on)
        if self.min_tokens:
            pol = replace(pol, min_tokens=self.min_tokens)
        return pol

    def scan(self, text: str, path: Path | None, name: str) -> DocumentScan:
        """The findings of a document's ``text``; ``path`` is its file (None for an unsaved, untitled
        document), ``name`` its file name (it tells the language and whether it is generated).

        Raises:
            WhenceError: the index cannot be opened or read, or the policy is not valid.
        """
        started = time.perf_counter()
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: text that was not UTF-8 to begin with
            return DocumentScan(skipped="not UTF-8")
        if len(raw) > DEFAULT_MAX_BYTES:
            return DocumentScan(skipped="too large")
        why = check_text(raw)
        if why == "empty":
            return DocumentScan()
        if why:
            return DocumentScan(skipped=SKIP_REASONS.get(why, why))
        pol = self.policy_for(path)
        if not pol.include_vendored and is_generated(name, raw):
            return DocumentScan(skipped="generated")
        if path is not None and _ignored(pol, path):
            return DocumentScan(skipped="ignored by the policy")
        store = self.open()
        prep = cov.prepare(raw, pol.min_tokens, language_for_path(name))
        where = path or Path(name)
        regions: list[Region] = []
        if len(prep.lookup):
            post = store.postings(np.unique(prep.lookup.view(np.int64)), self._cap)
            result = cov.cover(
                store, prep, post, documents=self._documents, min_tokens=pol.min_tokens, cache=self._cache
            )
            for m in result.matches:
                for sp in m.spans:
                    regions.append(
                        Region(where, sp.query_lines, m.verdict, sp.tokens, sp.source_lines,
                               tuple(m.occurrences), m.blob_id, m.doc_id)
                    )  # fmt: skip
        markers = [
            (raw.count(b"\n", 0, m.start()) + 1, m.group(1).decode("utf-8", "replace"))
            for m in MARKER.finditer(raw)
        ]
        scanned = Scanned(files=1, regions=regions, markers={where: markers} if markers else {})
        report = judge(scanned, pol, pol.root, None, time.perf_counter() - started)
        return DocumentScan(tuple(report.findings), prep.language)


def _ignored(pol: Policy, path: Path) -> bool:
    if not pol.ignore:
        return False
    try:
        rel = path.resolve().relative_to(pol.root.resolve()).as_posix()
    except ValueError:
        return False
    return pathspec.GitIgnoreSpec.from_lines(pol.ignore).match_file(rel)


def severity(f: Finding) -> Severity:
    """``error`` when the policy fails the region for its license (copyleft, unknown, not allowed);
    ``warning`` when its license asks for an attribution it does not have (failing the policy or not);
    ``information`` otherwise (attributed, or a license that asks for nothing)."""
    if any(rule.startswith("license-") for rule in f.failing):
        return "error"
    if f.failing or (f.attribution_required and not f.attributed):
        return "warning"
    return "information"


def message(f: Finding) -> str:
    """A diagnostic's text: what was copied from where, under which license, and the verdict."""
    licenses = ", ".join(f.origin.licenses) or "no license"
    need = "attribution required" if f.attribution_required else "no attribution required"
    first, last = f.source_lines
    out = (
        f"{'Copied' if f.verdict == 'verbatim' else 'Adapted'} ({f.verdict}, {f.tokens} tokens) from "
        f"{f.origin.repo} {f.origin.path}:{first}-{last}; license: {licenses} ({f.license_category}, {need})"
    )
    if f.failing:
        out += f"; fails the policy: {', '.join(f.failing)}"
    elif f.attributed:
        out += f"; attributed: {f.attributed}"
    if len(f.occurrences) > 1:
        out += f"; also in {len(f.occurrences) - 1} other place(s)"
    return out


def data(f: Finding) -> dict[str, Any]:
    """What a diagnostic carries for its code action (JSON)."""
    return {
        "repo": f.origin.repo,
        "path": f.origin.path,
        "url": f.url,
        "licenses": list(f.origin.licenses),
        "lines": list(f.lines),
        "source_lines": list(f.source_lines),
        "verdict": f.verdict,
        "attributed": bool(f.attributed),
        "attribution_required": f.attribution_required,
    }


def attribution_comment(info: dict[str, Any], language: str | None) -> str | None:
    """The comment that credits a diagnostic's origin (``info`` is its :func:`data`), in the comment
    syntax of ``language`` (the lexer's profile: its first line-comment marker, else its first block
    comment); None when the language has no comments.

    It reads ``Adapted from URL (LICENSES); whence: attributed OWNER/NAME``: the ``whence: attributed``
    marker is what ``whence scan`` (and this server) take as the region's credit.
    """
    repo = str(info.get("repo") or "")
    if not repo:
        return None
    where = str(info.get("url") or "") or f"{repo} {info.get('path') or ''}".strip()
    licenses = ", ".join(str(x) for x in info.get("licenses") or []) or "no license"
    body = f"Adapted from {where} ({licenses}); whence: attributed {repo}"
    sx = syntax_for(language)
    if sx.line:
        return f"{sx.line[0][0].decode()} {body}"
    if sx.block:
        opener, closer, _ = sx.block[0]
        return f"{opener.decode()} {body} {closer.decode()}"
    return None


def utf16_length(line: str) -> int:
    """A line's length in UTF-16 code units (LSP's default position encoding)."""
    return len(line.encode("utf-16-le", "surrogatepass")) // 2


def line_span(
    lines: Sequence[str], first: int, last: int, units: Callable[[str], int] = utf16_length
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The LSP range ((line, character), (line, character)), zero-based, of the 1-based lines
    ``first``..``last``: from the start of the first to the end of the last (its line break excluded);
    ``units`` counts a line's characters in the position encoding agreed with the client."""
    end = min(last, len(lines)) - 1
    text = lines[end].rstrip("\r\n") if 0 <= end < len(lines) else ""
    return (first - 1, 0), (max(end, first - 1), units(text))


def indentation(lines: Sequence[str], line: int) -> str:
    """The leading blanks of the 1-based ``line``."""
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1]
    return text[: len(text) - len(text.lstrip(" \t"))]
