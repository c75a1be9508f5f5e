"""Verdicts that hold on code nobody tuned for: renamed and restructured copies, short fragments, partial
evidence, boilerplate, and ordinary files that must stay clean.

A real SQLite index holds a small Java program (``tests/fixtures/programs/GradeReport.java``) and real
standard-library modules; the queries are copies of them edited the ways people edit copies, an
independent solution of the same task, and a README.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import shutil
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
from click.testing import CliRunner

from whence.cli import main
from whence.index import align, boilerplate, candidates, ingest, lexer, search, structure, verdict
from whence.index import cover as cov
from whence.index import fingerprint as fp
from whence.index.align import Query, view_spans
from whence.index.stores import open_store
from whence.index.stores.base import Postings
from whence.index.stores.sqlite import SQLiteStore
from whence_dev import idioms

from .mutations import rename

PROGRAMS = Path(__file__).parent / "fixtures" / "programs"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ("random.py", "heapq.py", "bisect.py", "textwrap.py")
#: Standard library modules that share no code with one another (nor with heapq.py).
_UNRELATED = ("bisect.py", "textwrap.py", "fnmatch.py", "colorsys.py", "keyword.py")
README = """whence demo
===========

Install (Linux)
---------------------------------------------

    pip install whence

Usage
-----

Run it on a folder.
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("verdict-corpus")
    shutil.copy(PROGRAMS / "GradeReport.java", src)
    for name in MODULES:
        shutil.copy(STDLIB / name, src)
    path = tmp_path_factory.mktemp("verdict-index") / "index.sqlite"
    with open_store(path, create=True) as store:
        ingest.build(store, ingest.sources([src], repo="example/code", licenses=["MIT"]), workers=1)
    return path


@pytest.fixture()
def store(index: Path) -> Iterator[SQLiteStore]:
    s = open_store(index, readonly=True)
    assert isinstance(s, SQLiteStore)
    yield s
    s.close()


def _build(src: Path, path: Path, repo: str, license: str = "MIT") -> None:
    """A SQLite index at ``path`` of the files under ``src``, as one repository under one license."""
    with open_store(path, create=True) as st:
        ingest.build(st, ingest.sources([src], repo=repo, licenses=[license]), workers=1)


def _index_one(tmp_path: Path, name: str, text: str, repo: str) -> Path:
    """A SQLite index (``tmp_path / "i.sqlite"``) of one file ``name`` holding ``text`` and two standard
    library modules unrelated to it, as :func:`_build` makes it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / name).write_text(text)
    for module in ("bisect.py", "textwrap.py"):
        shutil.copy(STDLIB / module, src)
    _build(src, tmp_path / "i.sqlite", repo)
    return tmp_path / "i.sqlite"


def _no_copy_but_without(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    indexed: str,
    repo: str,
    query: str,
    rule: str,
    without: object,
) -> None:
    """With ``indexed`` as ``name`` (:func:`_index_one`), ``query`` is not attributed; with ``verdict``'s
    ``rule`` set to ``without`` (the rule taken out), it was: a near-duplicate of ``name``, first."""
    path = _index_one(tmp_path, name, indexed, repo)
    with open_store(path, readonly=True) as st:
        assert search.search(st, query).verdict not in search.ATTRIBUTING
        monkeypatch.setattr(verdict, rule, without)
        assert _found(search.search(st, query))[:1] == [(name, "near-duplicate")]


def _found(res: search.SearchResult) -> list[tuple[str, str]]:
    return [(m.primary.path, m.verdict) for m in res.matches]


def _query(code: str) -> Query:
    t = fp.tokenize(code.encode())
    return Query.of(t, fp.kgrams(t.exact), fp.kgrams(t.abstract), np.zeros(0, dtype=np.uint64))


def test_readme_with_a_line_of_dashes_is_not_a_copy(store: SQLiteStore, index: Path, tmp_path: Path) -> None:
    # random.py's docstring holds "(angles 0 to 2pi)" over a line of 45 dashes: 46 equal-looking tokens.
    res = search.search(store, README)
    assert res.verdict not in search.ATTRIBUTING, _found(res)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text(README)
    out = CliRunner().invoke(main, ["scan", str(repo), "--index", str(index), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["findings"] == []


def test_renamed_copy_joined_over_unequal_gaps_is_a_near_duplicate(store: SQLiteStore) -> None:
    # The original writes java.util.Scanner where the copy writes Scanner: tiles after that gap sit at
    # other offsets in the two texts, and must each be judged on their own tokens.
    res = search.search(store, (PROGRAMS / "RenamedCopy.java").read_bytes())
    assert res.verdict == "near-duplicate"
    assert _found(res)[0] == ("GradeReport.java", "near-duplicate")


def test_a_java_copy_that_lexes_as_python_is_also_looked_up_with_javas_keywords(store: SQLiteStore) -> None:
    # The renamed copy has no comment: Python's rules, tried first, lex it as the default rules do, and
    # take `public`, `new`, `double` for names, as in Python they are.  GradeReport.java's abstract
    # k-grams keep them as keywords: the query is also looked up in the default rules' lexing, whose
    # winnowing selects the k-grams a Java file's does.
    raw = (PROGRAMS / "RenamedCopy.java").read_bytes()
    language, toks, others = search.lookup_lexings(raw, None)
    assert language == "Python" and [name for name, _ in others] == [None]
    plain = others[0][1]
    assert np.array_equal(toks.exact, plain.exact) and not np.array_equal(toks.abstract, plain.abstract)
    held = fp.index_fingerprint((PROGRAMS / "GradeReport.java").read_bytes(), "Java").hashes.view(np.uint64)
    documents = store.stats()["documents"]
    alone = search.look_up(store, raw, language, toks, [], documents).looked_up
    both = search.look_up(store, raw, language, toks, others, documents).looked_up
    gained = np.setdiff1d(np.intersect1d(both, held), alone)  # the file's k-grams only the other finds
    assert len(gained) >= len(np.intersect1d(alone, held)) // 2 > 0
    res = search.search(store, raw)
    assert _found(res)[0] == ("GradeReport.java", "near-duplicate")
    # Python that calls a variable `new` opens a block with `if ...:` and no line ends in `;` or `{`:
    # one lexing, one lookup.  A Go switch's `case "a":` labels are no Python block.
    language, _, others = search.lookup_lexings(b"new = default + 1\nif new:\n    print(new)\n", None)
    assert language == "Python" and others == []
    language, _, others = search.lookup_lexings(
        b'\tcase "a":\n\t\treturn new(T)\n\tdefault:\n\t\treturn nil\n', None
    )
    assert language == "Python" and [name for name, _ in others] == [None]


def test_python_names_that_are_other_languages_keywords_are_renamed_as_names(tmp_path: Path) -> None:
    # functools.partial.__new__ calls its argument `func`, a keyword of Go's (lexer.KEYWORDS): a copy
    # that renames it keeps Python's abstract view (lexer.PYTHON_WORDS), not the union of the languages'.
    lines = (STDLIB / "functools.py").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("class partial:"))
    piece = "".join(lines[at + 10 : at + 18])
    assert piece.count("func") >= 6
    copy = rename(piece)
    assert "func " not in copy and "func." not in copy
    same = [fp.tokenize(t.encode(), "Python").abstract for t in (piece, copy)]
    assert np.array_equal(*same)
    union = [fp.tokenize(t.encode(), "Go").abstract for t in (piece, copy)]
    assert not np.array_equal(*union)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("functools.py", "heapq.py", "textwrap.py"):
        shutil.copy(STDLIB / name, src)
    _build(src, tmp_path / "i.sqlite", "example/functools")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, copy)
    assert _found(res)[:1] == [("functools.py", "near-duplicate")]
    assert res.matches[0].evidence == "renamed"


def test_copy_edited_throughout_is_a_near_duplicate_not_verbatim(store: SQLiteStore) -> None:
    # Names changed every few statements: the spans are joined over changed tokens, and no unbroken run
    # reaches the minimum, so the tokens are not "the same tokens".
    body = "".join((PROGRAMS / "GradeReport.java").read_text().splitlines(keepends=True)[7:])
    for old, new in (("marks", "scores"), ("names", "pupils"), ("count", "n"), ("letter", "grade"),
                     ("best", "top"), ("total", "sum")):  # fmt: skip
        body = re.sub(rf"\b{old}\b", new, body)
    res = search.search(store, body)
    assert _found(res)[:1] == [("GradeReport.java", "near-duplicate")]
    assert res.verdict == "near-duplicate"


def test_restructured_program_is_found_by_its_pieces(store: SQLiteStore) -> None:
    copy = (PROGRAMS / "RestructuredCopy.java").read_text()
    ev = structure.compare(_query(copy), fp.tokenize((PROGRAMS / "GradeReport.java").read_bytes()))
    assert ev is not None and ev.copied
    assert ev.cover >= structure.MIN_COVER and ev.strings == 1.0
    res = search.search(store, copy)
    assert _found(res)[:1] == [("GradeReport.java", "near-duplicate")]
    # The same cover and strings from tiles of fewer tokens than an ordered match needs are no copy:
    # a list of names, almost all boilerplate, is "covered" by one short tile.
    assert ev.matched >= structure.MIN_TILED
    assert not ev._replace(matched=structure.MIN_TILED - 1).copied


def test_restructured_copy_with_too_few_strings_is_decided_by_its_names(store: SQLiteStore) -> None:
    # With its strings, they decide; emptied of them, its consistently renamed names do, and that
    # evidence is kept apart: it promises less (a generated header renames into its siblings alike).
    copy = (PROGRAMS / "RestructuredCopy.java").read_text()
    top = search.search(store, copy).matches[0]
    assert (top.primary.path, top.evidence) == ("GradeReport.java", "restructured")
    bare = re.sub(r"'(?:\\.|[^'\\])*'", "''", re.sub(r'"(?:\\.|[^"\\])*"', '""', copy))  # chars too
    assert '" scored "' in copy and '" scored "' not in bare and "'A'" not in bare
    ev = structure.compare(_query(bare), fp.tokenize((PROGRAMS / "GradeReport.java").read_bytes()))
    assert ev is not None and ev.copied and ev.strings < 0 and ev.consistent
    top = search.search(store, bare).matches[0]
    assert (top.primary.path, top.verdict) == ("GradeReport.java", "near-duplicate")
    assert top.evidence == "restructured-renamed"
    assert top.confidence == verdict.EVIDENCE["restructured-renamed"][1] < verdict.EVIDENCE["restructured"][1]


def test_independent_solution_of_the_same_task_is_not_attributed(store: SQLiteStore) -> None:
    other = (PROGRAMS / "Independent.java").read_text()
    ev = structure.compare(_query(other), fp.tokenize((PROGRAMS / "GradeReport.java").read_bytes()))
    assert ev is None or not ev.copied
    res = search.search(store, other)
    assert res.verdict not in search.ATTRIBUTING, _found(res)


def test_partial_evidence_is_weak_and_never_fails_a_scan(
    store: SQLiteStore, index: Path, tmp_path: Path
) -> None:
    own = (PROGRAMS / "Independent.java").read_text()
    heapq = (STDLIB / "heapq.py").read_text().splitlines(keepends=True)
    pasted = "".join(heapq[276:282])  # six lines of _siftdown: about 30 informative tokens
    code = own + "\n" + pasted
    res = search.search(store, code)
    assert res.verdict == "weak"
    assert _found(res) == [("heapq.py", "weak")]
    s0, s1 = res.matches[0].spans[0].source_lines
    assert 277 <= s0 <= s1 <= 282
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Mixed.java").write_text(code)
    out = CliRunner().invoke(main, ["scan", str(repo), "--index", str(index), "--format", "json"])
    assert out.exit_code == 0, out.output


@pytest.mark.parametrize("first", [304, 312, 356])
def test_short_fragment_of_rare_code_is_verbatim(store: SQLiteStore, first: int) -> None:
    # Six lines of heapq's algorithms: 35-39 tokens, below the 40-token minimum, none of it boilerplate.
    lines = (STDLIB / "heapq.py").read_text().splitlines(keepends=True)
    res = search.search(store, "".join(lines[first - 1 : first + 5]))
    assert res.tokens < search.MIN_MATCH_TOKENS
    assert _found(res)[:1] == [("heapq.py", "verbatim")]
    s0, s1 = res.matches[0].spans[0].source_lines
    assert first <= s1 and s0 <= first + 5


def _lines_from(module: str, first: str, n: int) -> str:
    """``n`` lines of a standard-library module, from the first line containing ``first``."""
    lines = (STDLIB / module).read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if first in line)
    return "".join(lines[start : start + n])


def test_query_of_24_to_34_tokens_is_looked_up(store: SQLiteStore) -> None:
    # Five lines of _siftdown: 24-34 tokens, fewer than the winnowing guarantee (35), which a short query
    # (every k-gram looked up) does not need; its run is rare, so it attributes.
    frag = _lines_from("heapq.py", "while pos > startpos:", 5)
    res = search.search(store, frag)
    assert verdict.short_run() <= res.tokens < fp.T
    assert _found(res)[:1] == [("heapq.py", "verbatim")]
    assert res.matches[0].evidence == "short-rare-run"
    # Fewer tokens than a k-gram: nothing to look up.
    assert search.search(store, "heap[pos] = parent\npos = parentpos\n").matches == []


# Two lines of heapify: 20 tokens, fewer than a rare run needs (24), held by heapq.py alone.
_HEAPIFY = "    for i in reversed(range(n//2)):\n        _siftup(x, i)\n"


def test_query_under_24_tokens_held_by_one_document_is_verbatim(store: SQLiteStore) -> None:
    assert _HEAPIFY in (STDLIB / "heapq.py").read_text()
    res = search.search(store, _HEAPIFY)
    assert verdict.unique_min() <= res.tokens < verdict.short_run()
    assert _found(res)[:1] == [("heapq.py", "verbatim")]
    m = res.matches[0]
    assert m.evidence == "short-unique-run" and m.confidence == search.EVIDENCE["short-unique-run"][1]
    lines = (STDLIB / "heapq.py").read_text().splitlines()
    s0, s1 = m.spans[0].source_lines
    assert lines[s0 - 1 : s1] == _HEAPIFY.rstrip("\n").split("\n")


def test_query_under_24_tokens_held_by_two_documents_is_not_attributed(tmp_path: Path) -> None:
    # The same two lines in two unrelated files (heapq.py, and bisect.py with them pasted in): a run
    # that short must be unique.  A vendored copy of heapq.py is no second source: near-duplicates of
    # one another count once (search.Families).
    src = tmp_path / "src"
    src.mkdir()
    text = (STDLIB / "heapq.py").read_text()
    (src / "heapq.py").write_text(text)
    (src / "bisect_plus.py").write_text((STDLIB / "bisect.py").read_text() + "\n\n" + _HEAPIFY)
    _build(src, tmp_path / "i.sqlite", "example/two")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, _HEAPIFY)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
    (src / "bisect_plus.py").unlink()
    (src / "heapq_copy.py").write_text("# a vendored copy\nVENDORED = True\n" + text)
    _build(src, tmp_path / "copy.sqlite", "example/copy")
    with open_store(tmp_path / "copy.sqlite", readonly=True) as st:
        found = _found(search.search(st, _HEAPIFY))
        assert sorted(found[:2]) == [("heapq.py", "verbatim"), ("heapq_copy.py", "verbatim")], found
    # Each file alone is found: the rule, not the lookup, tells them apart.
    (src / "heapq_copy.py").unlink()
    _build(src, tmp_path / "one.sqlite", "example/one")
    with open_store(tmp_path / "one.sqlite", readonly=True) as st:
        assert _found(search.search(st, _HEAPIFY))[:1] == [("heapq.py", "verbatim")]


_CODE_POINTS = "".join(
    f"{2900 + n}\n" for n in (4, 8, 10, 11, 16, 18, 36, 46, 48, 49, 55, 58, 61, 62, 66, 69)
)


def test_query_under_24_tokens_that_no_source_holds_alone_is_not_aligned(tmp_path: Path) -> None:
    # A list of code points that two unrelated files hold (in a docstring each): both are candidates
    # (through their dense keys), but its one exact k-gram is held by two sources and its abstract one is
    # boilerplate, so no unique run can attribute it in either, and neither is aligned.
    src = tmp_path / "src"
    src.mkdir()
    (src / "first.py").write_text(
        f'"""Code points a font lacks."""\n\nMISSING = """\n{_CODE_POINTS}"""\n\n\n'
        "def missing(cp):\n    return str(cp) in MISSING.split()\n"
    )
    (src / "second.py").write_text(
        "# code points the old renderer drew wrong\n\ndef load(path):\n    with open(path) as f:\n"
        f'        return {{int(x) for x in f}}\n\n\nWRONG = """\n{_CODE_POINTS}"""\n'
    )
    _build(src, tmp_path / "i.sqlite", "example/points")
    raw = _CODE_POINTS.encode()
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        looked = search.look_up(st, raw, "Python", fp.tokenize(raw, "Python"), [], 2)
        assert len(search.ranked_candidates(st, looked)[1]) == 2
        q = looked.query
        assert q.df("exact").tolist() == [2] and q.df("abstract").tolist() == [align.COMMON]
        assert not verdict.can_attribute(q)
        aligned: list[int] = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(search, "judge", lambda *a, **k: aligned.append(1) or verdict.judge(*a, **k))
            assert search.search(st, _CODE_POINTS).matches == [] and aligned == []
        # The list held by one of them alone is found in it (and aligned).
        (src / "second.py").unlink()
    _build(src, tmp_path / "one.sqlite", "example/points")
    with open_store(tmp_path / "one.sqlite", readonly=True) as st:
        looked = search.look_up(st, raw, "Python", fp.tokenize(raw, "Python"), [], 1)
        assert verdict.can_attribute(looked.query)
        assert _found(search.search(st, _CODE_POINTS)) == [("first.py", "verbatim")]


def test_query_under_24_tokens_renamed_in_a_shape_one_document_has_is_a_near_duplicate(
    store: SQLiteStore,
) -> None:
    # heapify's two lines renamed as a copier would: four names renamed one to one, the literal kept, in
    # a shape that heapq.py alone has.
    copy = "    for j in reversed(range(size//2)):\n        sift(arr, j)\n"
    res = search.search(store, copy)
    assert verdict.unique_min() <= res.tokens < verdict.short_run()
    assert _found(res)[:1] == [("heapq.py", "near-duplicate")]
    m = res.matches[0]
    assert m.evidence == "short-unique-renamed" and m.confidence == search.EVIDENCE["short-unique-renamed"][1]
    assert m.spans[0].query_lines == (1, 2)
    for other in (
        "    for j in reversed(range(j//2)):\n        sift(arr, j)\n",  # two names made one
        "    for j in reversed(range(size//3)):\n        sift(arr, j)\n",  # a literal changed
        "    for i in reversed(range(n//2)):\n        sift(x, i)\n",  # one name renamed
    ):
        res = search.search(store, other)
        assert res.verdict not in search.ATTRIBUTING, (other, _found(res))


def test_a_list_of_renamed_names_in_a_unique_shape_is_not_a_copy(tmp_path: Path) -> None:
    # Two import lines have four distinct tokens (`import`, a name, `.`, `;`): any two such lines are
    # one another "renamed", one to one, and an index that holds only one such pair calls the shape
    # unique.
    src = tmp_path / "src"
    src.mkdir()
    (src / "Limits.java").write_text(
        "import jdk.xml.internal.XMLLimitAnalyzer;\nimport jdk.xml.internal.XMLSecurityManager;\n"
    )
    _build(src, tmp_path / "i.sqlite", "example/imports")
    query = "import java.util.stream.Collectors;\nimport java.util.stream.Stream;\n"
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query)
        assert verdict.unique_min() <= res.tokens < verdict.short_run()
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        q, d = fp.tokenize(query.encode()), fp.tokenize((src / "Limits.java").read_bytes())
        spans = view_spans(_query(query), d, "abstract", fp.K)
        assert spans and len(set(q.abstract.tolist())) < verdict.UNIQUE_SHAPE_DISTINCT
        assert not any(verdict.renamed_unique(a.span, q, d) for a in spans)
        # The shipped model lists the shape of two import lines too (it learns every k-gram of small
        # files); without it, the shape's few distinct tokens are what refuse it.
        try:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("WHENCE_BOILERPLATE", "off")
                boilerplate.load.cache_clear()
                assert search.search(st, query).verdict not in search.ATTRIBUTING
                mp.setattr(verdict, "UNIQUE_SHAPE_DISTINCT", 0)
                assert all(verdict.renamed_unique(a.span, q, d) for a in spans)
                res = search.search(st, query)
                assert _found(res)[:1] == [("Limits.java", "near-duplicate")]
                assert res.matches[0].evidence == "short-unique-renamed"
        finally:
            boilerplate.load.cache_clear()


# A tiny file (31 tokens): its winnowing selects none of the k-grams of lines 2-7 (20 tokens).
_TINY = (
    '"""Cost explorer URLs."""\nfrom .responses import CostExplorerResponse\n\n'
    'url_bases = [r"https?://ce\\.(.+)\\.amazonaws\\.com"]\n\n'
    'url_paths = {\n    "{0}/$": CostExplorerResponse.dispatch,\n'
    '    "{0}/anomalies$": CostExplorerResponse.anomalies,\n}\n'
)


_LISTENER = (
    "package org.example.ledger;\n\npublic interface LedgerListener {\n"
    + "".join(
        f"    /**\n     * Called when the ledger {what}; {why}.\n     *\n"
        "     * @param event what happened\n     */\n"
        f"    void {name}(LedgerEvent event, {extra});\n\n"
        for name, extra, what, why in [
            ("entryPosted", "Account account", "posts an entry", "the balance has changed"),
            ("entryReversed", "String reason", "reverses an entry", "a correcting entry follows"),
            ("periodClosed", "Period period", "closes a period", "no entry may be posted to it"),
            ("periodReopened", "Period period", "reopens a period", "an auditor asked for it"),
            ("accountFrozen", "Account account", "freezes an account", "its owner is under review"),
            ("accountThawed", "Account account", "thaws an account", "the review has ended"),
            ("rateRevalued", "Currency currency", "revalues a rate", "foreign balances move"),
            ("batchImported", "int entries", "imports a batch", "every entry in it is posted"),
        ]
    )
    + "}\n"
)


def test_copy_stripped_of_the_comments_between_short_declarations_is_found(tmp_path: Path) -> None:
    """Each declaration is shorter than a k-gram, so every k-gram of the copy without its comments
    spans a removed comment: none is among the file's own.  The index also keeps the winnowed hashes of
    the file's code alone (fingerprint.code_hashes), and the search aligns the copy with it."""
    stripped = re.sub(r"/\*\*.*?\*/\n", "", _LISTENER, flags=re.S)
    query = "".join(stripped.splitlines(keepends=True)[3:])  # the declarations and the closing brace
    own = fp.fingerprint(_LISTENER.encode(), language="Java").index_hashes()
    part = fp.fingerprint(query.encode(), language="Java")
    assert not set(own.tolist()) & {*part.exact_kgrams.tolist(), *part.abstract_kgrams.tolist()}
    assert len(part.tokens) >= fp.T
    src = tmp_path / "src"
    src.mkdir()
    (src / "LedgerListener.java").write_text(_LISTENER)
    shutil.copy(PROGRAMS / "GradeReport.java", src)
    _build(src, tmp_path / "i.sqlite", "example/ledger")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query, language="Java")
    assert _found(res)[:1] == [("LedgerListener.java", "verbatim")], _found(res)
    first = min(sp.source_lines[0] for sp in res.matches[0].spans)
    assert (
        _LISTENER.splitlines()[first - 1].strip() == "void entryPosted(LedgerEvent event, Account account);"
    )


def test_short_query_from_a_tiny_file_is_found(tmp_path: Path) -> None:
    # Winnowing alone would keep none of the query's k-grams; a tiny file keeps every one.
    query = "".join(_TINY.splitlines(keepends=True)[1:7])
    whole, part = fp.fingerprint(_TINY.encode()), fp.fingerprint(query.encode())
    assert len(whole.tokens) < fp.TINY_TOKENS
    assert verdict.unique_min() <= len(part.tokens) < verdict.short_run()
    winnowed = {*whole.exact_kgrams[whole.exact_selected].tolist(),
                *whole.abstract_kgrams[whole.abstract_selected].tolist()}  # fmt: skip
    assert not winnowed & {*part.exact_kgrams.tolist(), *part.abstract_kgrams.tolist()}
    src = tmp_path / "src"
    src.mkdir()
    (src / "urls.py").write_text(_TINY)
    shutil.copy(STDLIB / "heapq.py", src)
    _build(src, tmp_path / "i.sqlite", "example/tiny")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query)
    assert _found(res)[:1] == [("urls.py", "verbatim")]
    assert res.matches[0].evidence == "short-unique-run"


def test_unique_run_under_24_tokens_in_a_longer_query_is_not_attributed(store: SQLiteStore) -> None:
    # The same unique 20 tokens inside a query of 24 or more: a query that long needs a rare run of 24.
    longer = _HEAPIFY + "    total_weight = scale_factor * 17 + offset\n"
    res = search.search(store, longer)
    assert res.tokens >= verdict.short_run()
    assert res.verdict not in search.ATTRIBUTING, _found(res)


# A generated package's __init__ (the shape of transformers' lazy model packages): what is its own is the
# model's name, three times; the rest every sibling has.
_LAZY_INIT = """\
from typing import TYPE_CHECKING

from ...utils import _LazyModule
from ...utils.import_utils import define_import_structure


if TYPE_CHECKING:
    from .configuration_{0} import *
    from .modeling_{0} import *
    from .processing_{0} import *
else:
    import sys

    _file = globals()["__file__"]
    sys.modules[__name__] = _LazyModule(__name__, _file, define_import_structure(_file), module_spec=__spec__)
"""


def test_short_query_held_whole_with_few_tokens_of_its_own_is_verbatim(tmp_path: Path) -> None:
    # Seventy packages of one template: its k-grams are boilerplate, and what one package's query holds of
    # its own is fewer informative tokens than a rare run needs.  Held whole by one file and no other, the
    # query is that file's: where some k-gram of it is known to be held by one source alone.
    src = tmp_path / "src"
    src.mkdir()
    names = [f"{a}{b}net" for a in "abcdefghij" for b in "klmnopq"]
    for name in names:
        (src / name).mkdir()
        (src / name / "__init__.py").write_text(_LAZY_INIT.format(name))
    _build(src, tmp_path / "i.sqlite", "example/models")
    query = _LAZY_INIT.format("cpnet")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query)
        assert verdict.short_run() <= res.tokens and _found(res)[:1] == [("cpnet/__init__.py", "verbatim")]
        assert res.matches[0].evidence == "short-unique-run"
        looked = search.look_up(st, query.encode(), "Python", fp.tokenize(query.encode()), [], len(names))
        doc = next(iter(st.fetch([res.matches[0].doc_id]).values()))
    q, dtok = looked.query, fp.tokenize(doc.text)
    # Fewer informative tokens than a rare run's, in a span matching every token of the query.
    spans = view_spans(q, dtok, "exact", verdict.short_run(), informative=verdict.unique_min())
    assert [(a.informative < verdict.short_run(), a.span.tokens) for a in spans] == [(True, res.tokens)]
    assert verdict.judge(q, dtok).evidence == "short-unique-run"
    # The same query when no k-gram of it is known to be held by one source (each either boilerplate or
    # selected by no document, as where a query cuts a stock docstring): held whole proves nothing then.
    df_exact, df_abstract = q.df("exact"), q.df("abstract")
    assert df_exact is not None and df_abstract is not None and (df_exact == 1).any()
    unknown = np.where(df_exact == align.COMMON, align.COMMON, 0)
    blind = dataclasses.replace(q, frequencies=lambda: (unknown, df_abstract), _df=None, _memo={})
    assert verdict.judge(blind, dtok).verdict not in search.ATTRIBUTING


# A plugin package's __init__ (one template, seventy packages); one package also defines a function.
_PLUGIN_INIT = """\
\"\"\"Plugin {0}: registered on import.\"\"\"
import logging
import os

from ...utils import register_plugin
from ...utils.loader import load_settings

logger = logging.getLogger(__name__)
settings = load_settings(os.environ, prefix="{0}")
register_plugin(__name__, settings)
"""
_PLUGIN_TAIL = """

def weigh(parcel, rate):
    return parcel.weight * rate + parcel.base_fee
"""


def test_short_renamed_query_held_whole_with_few_tokens_of_its_own_is_a_near_duplicate(
    tmp_path: Path,
) -> None:
    # The template's last two lines and the one package's function, renamed: 36 tokens, a short query.
    # The template's k-grams are boilerplate, so fewer informative tokens than a rare run needs are left;
    # held whole, renamed one to one with its literals kept, in a shape one document alone has (and the
    # index says so of one k-gram at least), the query is that package's, as a verbatim copy held whole
    # is (short-unique-run).
    src = tmp_path / "src"
    src.mkdir()
    names = [f"{a}{b}plug" for a in "abcdefghij" for b in "klmnopq"]
    for name in names:
        (src / name).mkdir()
        (src / name / "__init__.py").write_text(
            _PLUGIN_INIT.format(name) + (_PLUGIN_TAIL if name == "cpplug" else "")
        )
    _build(src, tmp_path / "i.sqlite", "example/plugins")
    query = (
        'conf = load_settings(os.environ, prefix="cpplug")\n'
        "register_plugin(__name__, conf)\n\n\n"
        "def price(box, factor):\n"
        "    return box.weight * factor + box.base_fee\n"
    )
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query)
        assert verdict.short_run() <= res.tokens < verdict.MIN_MATCH_TOKENS
        assert _found(res)[:1] == [("cpplug/__init__.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "short-unique-renamed"
        looked = search.look_up(st, query.encode(), "Python", fp.tokenize(query.encode()), [], len(names))
        # a slip: two names made one
        slip = query.replace("* factor", "* box")
        assert search.search(st, slip).verdict not in search.ATTRIBUTING, _found(search.search(st, slip))
    q = looked.query
    dtok = fp.tokenize((src / "cpplug" / "__init__.py").read_bytes())
    [a] = view_spans(q, dtok, "abstract", verdict.short_run(), informative=verdict.unique_min())
    assert a.informative < verdict.short_run() <= a.span.tokens == res.tokens
    assert verdict.judge(q, dtok).evidence == "short-unique-renamed"
    # No k-gram known to be held by one source: held whole proves nothing.
    df_exact, df_abstract = q.df("exact"), q.df("abstract")
    assert df_exact is not None and df_abstract is not None and (df_abstract == 1).any()
    unknown = np.where(df_abstract == align.COMMON, align.COMMON, 0)
    blind = dataclasses.replace(q, frequencies=lambda: (df_exact, unknown), _df=None, _memo={})
    assert verdict.judge(blind, dtok).verdict not in search.ATTRIBUTING
    # A second package with the function: the shape is no longer one document's.
    (src / "dkplug" / "__init__.py").write_text(_PLUGIN_INIT.format("dkplug") + _PLUGIN_TAIL)
    _build(src, tmp_path / "two.sqlite", "example/plugins")
    with open_store(tmp_path / "two.sqlite", readonly=True) as st:
        assert search.search(st, query).verdict not in search.ATTRIBUTING


_QUEUES_JAVA = """\
package example.annotations;

import java.util.List;

final class Queues {
    private final List<Attribute> pending;
    private final List<Attribute> validated;
    private final List<Attribute> typed;
    private final List<Attribute> repeated;

    Queues(int size) {
        pending = new ArrayList<>(size);
        validated = new ArrayList<>(size);
        typed = new ArrayList<>(size);
        repeated = new ArrayList<>(size);
    }
}
"""


def test_short_renamed_query_held_whole_at_two_places_is_a_list_not_a_copy(tmp_path: Path) -> None:
    # Three fields of one shape (24 tokens): another file's four fields of that shape hold the query
    # whole, renamed one to one, at two places.  The query is a list, the file a longer one.
    src = tmp_path / "src"
    src.mkdir()
    (src / "Queues.java").write_text(_QUEUES_JAVA)
    _build(src, tmp_path / "i.sqlite", "example/queues")
    query = (
        "    // The set of keys with data ready for an operation\n"
        "    private final Set<SelectionKey> selectedKeys;\n\n"
        "    // Public views of the key sets\n"
        "    private final Set<SelectionKey> publicKeys;             // Immutable\n"
        "    private final Set<SelectionKey> publicSelectedKeys;     // Removal allowed\n"
    )
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query)
        assert verdict.short_run() == res.tokens
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        looked = search.look_up(st, query.encode(), "Java", fp.tokenize(query.encode(), "Java"), [], 1)
    dtok = fp.tokenize(_QUEUES_JAVA.encode(), "Java")
    held = [
        a.span.source_lines
        for a in view_spans(
            looked.query, dtok, "abstract", verdict.short_run(), informative=verdict.unique_min()
        )
        if a.span.tokens == res.tokens
    ]
    assert held == [(6, 8), (7, 9)]


# A generated API's resource collections (the shape of the Cloud SDK's apitools modules): every sibling
# has the same code, and what one API's collection says is in its strings.
_COLLECTION = """\
  PROJECTS_LOCATIONS_{upper} = (
      'projects.locations.{name}',
      '{{+name}}',
      {{
          '':
              'projects/{{projectsId}}/locations/{{locationsId}}/{name}/'
              '{{{name}Id}}',
      }},
      ['name'],
      True
  )
"""


def _collections(api: str, names: list[str]) -> str:
    head = f'"""Resources of the {api} API."""\n\nimport enum\n\n\nclass Collections(enum.Enum):\n\n'
    return head + "".join(_COLLECTION.format(upper=n.upper(), name=n) for n in names)


def test_short_run_in_a_boilerplate_shape_that_keeps_its_strings_is_a_near_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seventy generated modules of one shape, each with collections of its own: the shape's k-grams are
    # boilerplate, so a renamed window of one module carries fewer informative tokens than a decision
    # needs.  It keeps every literal, its collections' paths among them, which no sibling has.
    src = tmp_path / "src"
    src.mkdir()
    apis = [f"{a}{b}api" for a in "abcdefghij" for b in "klmnopq"]
    for api in apis:
        (src / f"{api}.py").write_text(_collections(api, ["operations", f"{api}Jobs", f"{api}Runs"]))
    _build(src, tmp_path / "i.sqlite", "example/apis")
    lines = _collections("cpapi", ["operations", "cpapiJobs", "cpapiRuns"]).splitlines(keepends=True)
    window = "".join(lines[25:38])  # the end of one collection and most of the next
    copy = _rename(window, {"PROJECTS_LOCATIONS_CPAPIRUNS": "RUNS"})
    assert "RUNS = (" in copy and "'projects.locations.cpapiRuns'," in copy
    # The same shape with another module's strings is that module's; with strings no module has, it is
    # nobody's.
    unknown = copy.replace("cpapiRuns", "zzapiRuns").replace("cpapiJobs", "zzapiJobs")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, copy)
        assert res.tokens < search.MIN_MATCH_TOKENS
        assert _found(res)[:1] == [("cpapi.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "shaped-strings"
        assert res.matches[0].confidence == verdict.EVIDENCE["shaped-strings"][1]
        assert [s.source_lines for s in res.matches[0].spans] == [(26, 38)], res.matches[0].spans
        # Copied as it is, where the exact k-grams every module holds leave too few tokens its own: the
        # same tokens in one run, and the strings say whose (``short-shaped-run``).
        res = search.search(st, "".join(lines[8:22]))
        assert _found(res)[:1] == [("cpapi.py", "verbatim")], _found(res)
        assert res.matches[0].evidence == "short-shaped-run"
        assert search.search(st, "".join(lines[8:22]).replace("cpapi", "zzapi")).verdict == "none"
        res = search.search(st, unknown)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        # Without the rule the shape's siblings leave the window too few informative tokens.
        monkeypatch.setattr(verdict, "SHAPED_STRINGS", 10**6)
        assert search.search(st, copy).verdict not in search.ATTRIBUTING


_COMPILED = (
    '"use strict";\nObject.defineProperty(exports, "__esModule", {{ value: true }});\n'
    "exports.default = {0};\nfunction {0}({1}) {{\n"
)


def test_renamed_preamble_of_a_compiled_module_keeps_no_strings_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every module a compiler emits opens with the same two strings; a renamed copy's `{ v1: true }`
    # breaks each k-gram around them, so no boilerplate fingerprint of the query covers them.  The
    # document's own k-grams there are the shipped model's (verdict._model_common): they count for no
    # module.
    src = tmp_path / "src"
    src.mkdir()
    bodies = (
        "  return {1}.sort(function (a, b) {{\n    return a - b;\n  }});\n}}\n",
        "  return {1}.filter(Boolean).length;\n}}\n",
        "  if (!{1}) {{\n    return null;\n  }}\n  return {1}.trim();\n}}\n",
    )
    for i, body in enumerate(bodies):
        (src / f"util{i}.js").write_text((_COMPILED + body).format(f"helper{i}", f"arg{i}"))
    _build(src, tmp_path / "i.sqlite", "example/utils")
    other = '  var v4 = "";\n  var v5 = v3.indexOf("/*");\n  var v6 = 0;\n  while (v5 >= 0) {\n'
    query = _COMPILED.format("v2", "v3").replace("value: true", "v1: true") + other
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, query)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        # Without the document's side of the test, the preamble's strings make it any module's (when a
        # shape-counted query's run may hold less than nearly all of it, as any other query's).
        monkeypatch.setattr(verdict, "_model_common", lambda d, at: np.zeros(len(at), dtype=bool))
        monkeypatch.setattr(verdict, "SHAPE_COUNTED_SHARE", verdict.SHORT_RENAMED_SHARE)
        res = search.search(st, query)
        assert res.verdict == "near-duplicate" and res.matches[0].evidence == "shaped-strings", _found(res)


@pytest.mark.parametrize(
    ("code", "language", "imports"),
    [
        ('#include "PDBSymbol.h"\n#include <vector>\nconst char *s = "PDBTypes.h";\n', "C", ["PDBSymbol.h"]),
        ("const a = require('../classes/semver');\nimport b from './range';\nconst c = 'semver';\n",
         "JavaScript", ["../classes/semver", "./range"]),
        ('const m = await import("./lazy.js");\nlog("import");\n', "JavaScript", ["./lazy.js"]),
        ('import (\n\t"fmt"\n\t"os"\n)\n\nvar name = "fmt"\n', "Go", ["fmt", "os"]),
        ("require_relative 'helper'\nputs 'helper'\n", "Ruby", ["helper"]),
    ],
)  # fmt: skip
def test_strings_that_name_imports_are_found(code: str, language: str, imports: list[str]) -> None:
    # A package's siblings import the same headers and modules: those strings are no sibling's own
    # (shaped-strings counts the others).  The same text elsewhere is a string like any other.
    toks = fp.tokenize(code.encode(), language)
    marked = verdict.import_paths(toks)
    strings = toks.abstract == lexer.CLASS_HASH[lexer.STRING]
    assert not (marked & ~strings).any()
    named = {xxhash.xxh64_intdigest(i.encode(), lexer.SEED_STRING) for i in imports}
    assert set(toks.exact[marked].tolist()) == named
    assert int(marked.sum()) == len(imports) < int(strings.sum())


_FILTER_HEAD = "@register.filter(is_safe=True, needs_autoescape=False)\n@stringfilter\ndef "
_FILTER = _FILTER_HEAD + 'truncate_middle(value, length):\n    return value[:length] + "..."\n'


def test_short_rare_run_may_begin_after_a_kgram_that_siblings_share(tmp_path: Path) -> None:
    # Six small filters open with the same two decorators: the query's first k-grams are held by seven
    # documents, not rare, and the rest of it by its own file alone.  The rare run is the stretch after
    # them, and the query is a verbatim copy; before, the whole unbroken part had to be rare.
    src = tmp_path / "src"
    src.mkdir()
    (src / "truncate.py").write_text(_FILTER)
    for i in range(6):
        body = f'f{i}(value, arg{i}):\n    return value.replace(arg{i}, "{i}" * {i}) + str(len(value) % 7)\n'
        (src / f"sibling{i}.py").write_text(_FILTER_HEAD + body)
    _build(src, tmp_path / "i.sqlite", "example/filters")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, _FILTER)
        looked = search.look_up(st, _FILTER.encode(), "Python", fp.tokenize(_FILTER.encode()), [], 7)
        df = looked.query.df("exact")
    assert df is not None and df[0] > align.RARE_DF and (df[3:] <= align.UNIQUE_DF).all()
    assert verdict.short_run() <= res.tokens < verdict.MIN_MATCH_TOKENS
    assert _found(res)[:1] == [("truncate.py", "verbatim")], _found(res)
    assert res.matches[0].evidence in {"short-rare-run", "short-unique-run"}
    # The stretches: the part cut after the k-grams the siblings share.
    whole = [align.Tile(0, 0, res.tokens)]
    cut = align._rare_stretches(whole, df)
    assert len(cut) == 1 and cut[0][0].q > 0 and cut[0][0].q + cut[0][0].n == res.tokens


# Four lines of heapq.merge renamed as a copier would: no literal, one name used three times.
_MERGE = {"it": "src", "value": "val", "h_append": "push", "key": "keyfn", "order": "idx",
          "direction": "sign"}  # fmt: skip


def _rename(code: str, names: dict[str, str]) -> str:
    return re.sub(r"\b(" + "|".join(names) + r")\b", lambda m: names[m.group(1)], code)


def _rename_own(code: str, names: dict[str, str]) -> str:
    """:func:`_rename` of the names a copier owns: not where one follows a `.` (a member it calls)."""
    return re.sub(r"(?<![.\w])(" + "|".join(names) + r")\b", lambda m: names[m.group(1)], code)


def _index_with_shapes(tmp_path: Path, name: str, text: str, shape: str, fields: int, repo: str) -> Path:
    """A SQLite index of ``text`` as ``name`` and five files of its ``shape`` (a format string of
    ``fields`` names), each filled with names of its own, each used once: the shape is not rare, and
    none of them is a renamed copy of another."""
    src = tmp_path / "src"
    src.mkdir()
    (src / name).write_text(text)
    for i in range(5):
        (src / f"shape{i}.py").write_text(shape.format(*(f"n{i}_{j}" for j in range(fields))))
    _build(src, tmp_path / "i.sqlite", repo)
    return tmp_path / "i.sqlite"


def _merge_lines() -> str:
    lines = (STDLIB / "heapq.py").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "h_append([key(value), order * direction" in line)
    return "".join(lines[at - 3 : at + 1])


def test_short_renamed_fragment_of_rare_code_is_a_near_duplicate(store: SQLiteStore) -> None:
    copy = _rename(_merge_lines(), _MERGE)
    res = search.search(store, copy)
    assert res.tokens < search.MIN_MATCH_TOKENS
    assert _found(res)[:1] == [("heapq.py", "near-duplicate")]
    m = res.matches[0]
    assert m.evidence == "short-rare-renamed"
    # Two repeated uses of renamed names, no literal: enough for a rare run only.
    q = fp.tokenize(copy.encode(), "Python")
    d = fp.tokenize((STDLIB / "heapq.py").read_bytes(), "Python")
    assert verdict.renamed_copy(m.spans[0], q, d, rare=True)
    assert not verdict.renamed_copy(m.spans[0], q, d)


# Code of the query's own around a renamed piece: none of it is in the index.
_OWN = """
def tally_scores(records, cutoff):
    passed = [r for r in records if r.score >= cutoff]
    failed = len(records) - len(passed)
    report = {"passed": len(passed), "failed": failed, "ratio": len(passed) / max(1, len(records))}
    return report
"""


def test_short_renamed_run_in_a_longer_query_needs_a_share_of_it(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The renamed piece alone is a near-duplicate (above); inside a query three times its size it is a
    # shape that a third of the query shares, which code of the same shape elsewhere also does.
    query = _rename(_merge_lines(), _MERGE) + _OWN
    res = search.search(store, query)
    assert fp.fingerprint(query.encode()).tokens.exact.size < fp.K + candidates.SHORT_QUERY_KGRAMS
    assert res.verdict not in search.ATTRIBUTING, _found(res)
    monkeypatch.setattr(verdict, "SHORT_RENAMED_SHARE", 0.0)  # without the rule, the piece decides
    res = search.search(store, query)
    assert _found(res)[:1] == [("heapq.py", "near-duplicate")]
    assert res.matches[0].evidence == "short-rare-renamed"


def test_short_rare_run_with_two_names_made_one_is_no_renamed_copy(store: SQLiteStore) -> None:
    merged = _rename(_merge_lines(), _MERGE | {"key": "val"})  # value and key both become `val`
    res = search.search(store, merged)
    assert res.verdict not in search.ATTRIBUTING, _found(res)
    q = fp.tokenize(merged.encode(), "Python")
    d = fp.tokenize((STDLIB / "heapq.py").read_bytes(), "Python")
    spans = view_spans(Query.of(q, fp.kgrams(q.exact), fp.kgrams(q.abstract), np.zeros(0, np.uint64)), d,
                       "abstract", fp.K)  # fmt: skip
    assert spans and not any(verdict.renamed_copy(a.span, q, d, rare=True) for a in spans)


def _fraction_lines() -> str:
    """The ``denominator`` property and ``__repr__`` of fractions.py: one string literal, no name used
    twice but ``a``, ``self`` and ``_denominator``."""
    lines = (STDLIB / "fractions.py").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == "def denominator(a):")
    return "".join(lines[at - 1 : at + 7])


def _abstract_spans(
    query: str, doc: str | lexer.Tokens
) -> tuple[list[align.Aligned], lexer.Tokens, lexer.Tokens]:
    """A Python query's abstract-view spans with a document (the standard library's file ``doc``, or its
    tokens), nothing counted as boilerplate; and the query's and the document's tokens."""
    q = fp.tokenize(query.encode(), "Python")
    d = fp.tokenize((STDLIB / doc).read_bytes(), "Python") if isinstance(doc, str) else doc
    spans = view_spans(Query.of(q, fp.kgrams(q.exact), fp.kgrams(q.abstract), np.zeros(0, np.uint64)), d,
                       "abstract", fp.K)  # fmt: skip
    return spans, q, d


def test_short_rare_renamed_run_with_its_string_and_three_names_renamed_is_a_near_duplicate(
    built_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No renamed name is used twice (no repeat to check for consistency), but the one string literal is
    # kept and three names are renamed, one to one: in a shape that rare, the copy.  (The session's
    # index of standard-library modules, which holds fractions.py.)
    piece = _fraction_lines()
    assert "return '%s(%s, %s)' % (self.__class__.__name__," in piece
    three = {"denominator": "den_of", "__repr__": "show", "_numerator": "_num"}
    other = _rename(piece, three).replace("'%s(%s, %s)'", "'%s(%s; %s)'")
    with open_store(built_index, readonly=True) as store:
        res = search.search(store, _rename(piece, three))
        assert _found(res)[:1] == [("fractions.py", "near-duplicate")]
        assert res.matches[0].evidence == "short-rare-renamed"
        # The literal changed: the same shape saying another thing.
        res = search.search(store, other)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
    # Two names renamed and one string kept is an idiom's worth (`if err.code !== 'ENOENT') throw err`
    # in two unrelated JavaScript files): not enough on the string's account.  (This piece also keeps
    # four names in place, `__class__`, `__name__` and more, which decide for it: KEPT_NAMES; the
    # idiom keeps one, `code`.)
    monkeypatch.setattr(verdict, "KEPT_NAMES", 10**6)
    for names in (three, {"denominator": "den_of", "_numerator": "_num"}):
        spans, q, d = _abstract_spans(_rename(piece, names), "fractions.py")
        assert spans
        tested = [verdict.renamed_copy(a.span, q, d, rare=True) for a in spans]
        assert any(tested) if names is three else not any(tested)


def test_short_rare_renamed_run_that_keeps_four_names_is_a_near_duplicate(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The end of random.Random.__init__'s docstring and its body, its code renamed as a copier would:
    # three names renamed once each (no repeat to check for consistency), no literal; the docstring's
    # words stay as they were, at the same places.  In a shape that rare, the copy.
    lines = (STDLIB / "random.py").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "Optional argument x controls seeding" in line)
    piece = "".join(lines[at - 2 : at + 6])
    assert "self.seed(x)" in piece and "self.gauss_next = None" in piece
    copy = piece.replace("self.seed(x)", "self.reset(value)").replace("self.gauss_next", "self.spare")
    res = search.search(store, copy)
    assert res.tokens < search.MIN_MATCH_TOKENS
    assert _found(res)[:1] == [("random.py", "near-duplicate")]
    assert res.matches[0].evidence == "short-rare-renamed"
    # Other words in the docstring: the same shape, saying another thing.
    other = copy.replace("Initialize an instance", "Set up a fresh generator").replace(
        "controls seeding, as for Random", "picks the start, like Generator"
    )
    assert search.search(store, other).verdict not in search.ATTRIBUTING
    # Without the rule, the shape that random.py alone has decides: three names renamed one to one and
    # every literal kept (renamed_unique); without either rule, nothing does.
    monkeypatch.setattr(verdict, "KEPT_NAMES", 10**6)
    res = search.search(store, copy)
    assert _found(res)[:1] == [("random.py", "near-duplicate")]
    assert res.matches[0].evidence == "short-unique-renamed"
    monkeypatch.setattr(verdict, "UNIQUE_SHAPE_DISTINCT", 10**6)
    assert search.search(store, copy).verdict not in search.ATTRIBUTING
    # One name renamed (twice) is no renaming evidence, however many names are kept.
    spans, q, d = _abstract_spans(_rename(piece, {"x": "value"}), "random.py")
    monkeypatch.setattr(verdict, "KEPT_NAMES", 4)
    assert spans and not any(verdict.renamed_copy(a.span, q, d, rare=True) for a in spans)


def test_renamed_sibling_whose_one_literal_differs_is_not_a_copy(tmp_path: Path) -> None:
    # The CJK codec modules are one template: cp949.py's head, renamed as the eval renames (modules and
    # names alike, members kept), has iso2022_jp_2.py's shape, members and consistent renaming.  Its
    # one literal, the codec's name, says it is another codec: a copy keeps its literals.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("encodings/iso2022_jp_2.py", "bisect.py", "textwrap.py"):
        shutil.copy(STDLIB / name, src)
    _build(src, tmp_path / "i.sqlite", "example/codecs")
    piece = "".join((STDLIB / "encodings/cp949.py").read_text().splitlines(keepends=True)[6:16])
    names = {"_codecs_kr": "v1", "codecs": "v2", "_multibytecodec": "v3", "mbc": "v4", "codec": "v5",
             "Codec": "v6", "encode": "v7", "decode": "v8", "IncrementalEncoder": "v9"}  # fmt: skip
    copy = _rename_own(piece, names)
    assert "v5 = v1.getcodec('cp949')" in copy
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        assert search.search(st, copy).verdict not in search.ATTRIBUTING
        # With iso2022_jp_2's own name it is that module renamed.
        res = search.search(st, copy.replace("'cp949'", "'iso2022_jp_2'"))
        assert _found(res) == [("iso2022_jp_2.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "renamed"


def _compiled_enum(name: str, members: list[str]) -> str:
    """A TypeScript enumeration as the compiler emits it: each member's name said twice, as strings."""
    rows = "".join(f'    {name}[{name}["{m}"] = {i}] = "{m}";\n' for i, m in enumerate(members))
    return f"var {name};\n(function ({name}) {{\n{rows}}})({name} || (exports.{name} = {name} = {{}}));\n"


def test_compiled_enumeration_with_other_strings_is_not_a_renamed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every compiled enumeration has this shape and the values 0, 1, 2, ...: another one, whose strings
    # all differ, agrees on its numbers and renames its one name consistently, but says other things.
    codes = ["Continue", "SwitchingProtocols", "Processing", "EarlyHints", "Accepted", "Created", "Found"]
    _index_one(
        tmp_path, "status.js", '"use strict";\n' + _compiled_enum("StatusCode", codes), "example/enums"
    )
    kinds = ["Unknown", "Declaration", "Reference", "Definition", "Implementation", "TypeAlias", "Module"]
    other = _compiled_enum("SymbolKind", kinds)
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        assert search.search(st, other).verdict not in search.ATTRIBUTING, _found(search.search(st, other))
        # The same enumeration, renamed, keeps its strings: a copy.
        res = search.search(st, _compiled_enum("HttpStatus", codes))
        assert _found(res)[:1] == [("status.js", "near-duplicate")], _found(res)
        # Without the rule, the numbers that agree let the other enumeration through.
        monkeypatch.setattr(verdict, "RENAMED_CHANGED_STRINGS", 10**6)
        assert _found(search.search(st, other))[:1] == [("status.js", "near-duplicate")]


def _reexports(modules: dict[str, list[str]]) -> str:
    """A compiled TypeScript module that re-exports names from its sibling modules."""
    names = [n for ns in modules.values() for n in ns]
    out = '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n'
    out += "".join(f"exports.{n} = " for n in reversed(names)) + "void 0;\n"
    for mod, ns in modules.items():
        var = mod.strip("./").replace("-", "_") + "_1"
        out += f'var {var} = require("{mod}");\n'
        getter = "{{ enumerable: true, get: function () {{ return {}.{}; }} }}"
        out += "".join(f'Object.defineProperty(exports, "{n}", {getter.format(var, n)});\n' for n in ns)
    return out


def test_strings_kept_only_where_boilerplate_covers_them_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two compiled modules that re-export their siblings' names share the preamble's "__esModule" and
    # the shape of every line; all their own strings differ.  A kept string that boilerplate covers
    # says nothing of which module a span is.  The model lists the preamble alone (the shipped one
    # also lists much of the re-exports' shape, which refuses this pair on its own).
    _index_one(
        tmp_path,
        "ip-address.js",
        _reexports({"./ipv4": ["Address4"], "./ipv6": ["Address6", "v6"]}),
        "example/modules",
    )
    other = _reexports({"./dsse": ["DSSEBundleBuilder"], "./message": ["MessageBundleBuilder", "sign"]})
    preamble = fp.fingerprint(_reexports({}).encode())  # "use strict" and "__esModule"
    model = tmp_path / "model.npz"
    meta = json.dumps({"fingerprint": {"k": fp.K, "w": fp.W, "lexer": lexer.LEXER_VERSION}})
    np.savez_compressed(model, hashes=np.unique(preamble.exact_kgrams), meta=np.array(meta))
    monkeypatch.setenv("WHENCE_BOILERPLATE", str(model))
    boilerplate.load.cache_clear()
    try:
        with open_store(tmp_path / "i.sqlite", readonly=True) as st:
            res = search.search(st, other)
            assert res.verdict not in search.ATTRIBUTING, _found(res)
            # Counting "__esModule" as kept, the other module is a renamed copy.
            test = verdict.renamed_copy
            monkeypatch.setattr(verdict, "renamed_copy", lambda *a, common=None, **k: test(*a, **k))
            assert _found(search.search(st, other))[:1] == [("ip-address.js", "near-duplicate")]
    finally:
        monkeypatch.delenv("WHENCE_BOILERPLATE")
        boilerplate.load.cache_clear()


_WORKER = (
    '"""Run a server process until a signal stops it."""\nimport asyncio\nimport multiprocessing\n'
    "import signal\n\n\nasync def run_until_stopped():\n    loop = asyncio.get_running_loop()\n"
    "    loop.add_signal_handler(signal.SIGTERM, lambda *args: stopping.set())\n\n"
    "    proc = multiprocessing.Process(target=serve)\n    proc.start()\n    finished.wait()\n"
)


def test_long_renamed_run_in_a_common_shape_that_keeps_its_members_is_a_near_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five files have the function's shape with names of their own (so no run of it is rare), none a
    # renamed copy (each name is used once).  A copy renaming every name of its own, the modules
    # included, uses two of them twice (too few repeats to show a consistent renaming) but keeps the
    # members it calls, at the same places: with 40 tokens and more, that decides (KEPT_NAMES).
    shape = (
        "async def {}():\n    {} = {}.{}()\n    {}.{}({}.{}, lambda *{}: {}.{}())\n\n"
        "    {} = {}.{}({}={})\n    {}.{}()\n    {}.{}()\n"
    )
    index = _index_with_shapes(tmp_path, "workers.py", _WORKER, shape, 20, "example/workers")
    body = _WORKER.split("\n\n\n", 1)[1]
    names = {"run_until_stopped": "watch", "loop": "ev", "asyncio": "aio", "signal": "sig", "args": "_",
             "stopping": "halt", "proc": "child", "multiprocessing": "mp", "serve": "handler",
             "finished": "done"}  # fmt: skip
    copy = _rename_own(body, names)
    assert "ev.add_signal_handler(sig.SIGTERM, lambda *_: halt.set())" in copy
    # Another API in the same shape, with three names in common (`set`, `target`, `wait`): no copy.
    other = copy
    for a, b in (("get_running_loop", "get_event_loop"), ("add_signal_handler", "call_soon"),
                 ("SIGTERM", "now"), ("Process", "Thread"), ("start", "run")):  # fmt: skip
        other = other.replace(a, b)
    with open_store(index, readonly=True) as st:
        res = search.search(st, copy)
        assert res.tokens >= search.MIN_MATCH_TOKENS
        assert _found(res) == [("workers.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "renamed"
        assert search.search(st, other).verdict not in search.ATTRIBUTING
        # Without the rule the shape's other files make the run common, and the copy is not found.
        monkeypatch.setattr(verdict, "KEPT_NAMES", 10**6)
        assert search.search(st, copy).verdict not in search.ATTRIBUTING


_FAILOVER = (
    '"""Fail over a database instance to its standby."""\nfrom cloudsdk import api_util\n\n\n'
    "def run(args):\n    ref = args.CONCEPTS.instance.Parse()\n    client = api_util.GetClient()\n"
    "    if not args.force and ref.zone in client.regions[ref.project]:\n        return\n"
)


def test_short_renamed_run_in_a_common_shape_that_keeps_eight_members_is_a_near_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four lines of a command (38 tokens: a short query, its run under the minimum) whose shape five
    # other files have with names of their own, so no run of it is rare.  Renamed, it keeps the eight
    # members it reads and calls in place: SHORT_RENAMED_NAMES.
    shape = (
        "def {}({}):\n    {} = {}.{}.{}.{}()\n    {} = {}.{}()\n"
        "    if not {}.{} and {}.{} in {}.{}[{}.{}]:\n        return\n"
    )
    index = _index_with_shapes(tmp_path, "failover.py", _FAILOVER, shape, 19, "example/sql")
    body = _FAILOVER.split("def run(args):\n", 1)[1]
    names = {"ref": "target", "args": "opts", "client": "api", "api_util": "apis"}
    copy = _rename_own(body, names)
    assert "if not opts.force and target.zone in api.regions[target.project]:" in copy
    # Six of the eight members kept: not enough.
    other = copy.replace("CONCEPTS", "ARGS").replace("GetClient", "Connect")
    with open_store(index, readonly=True) as st:
        res = search.search(st, copy)
        assert res.tokens < search.MIN_MATCH_TOKENS
        assert _found(res) == [("failover.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "short-renamed-members"
        assert res.matches[0].confidence == verdict.EVIDENCE["short-renamed-members"][1]
        assert search.search(st, other).verdict not in search.ATTRIBUTING
        monkeypatch.setattr(verdict, "SHORT_RENAMED_NAMES", 10**6)
        assert search.search(st, copy).verdict not in search.ATTRIBUTING
    # The members counted: eight kept in place; the piece unrenamed keeps every name but renames none,
    # which is no renamed copy (kept_names says 0).
    d = fp.tokenize(_FAILOVER.encode(), "Python")
    for query, kept in ((copy, 8), (body, 0)):
        spans, q, _ = _abstract_spans(query, d)
        assert [verdict.kept_names(a.span, q, d) for a in spans] == [kept]


_COMPLETION = (
    '"""Completions offered to an editor."""\n\n\nclass Completion:\n'
    "    def __eq__(self, other: object) -> bool:\n        if not isinstance(other, Completion):\n"
    "            return False\n        return (\n            self.text == other.text\n"
    "            and self.start_position == other.start_position\n"
    "            and self.display == other.display\n            and self.meta == other.meta\n"
    "            and self.style == other.style\n"
    "            and self.selected_style == other.selected_style\n        )\n\n"
    "    __hash__ = None\n"
)


def test_long_renamed_run_in_a_boilerplate_shape_that_keeps_its_members_is_a_near_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An equality over six attributes is an idiom: seventy files have the method's shape with names of
    # their own, so most abstract k-grams of the class are boilerplate and a renamed copy carries fewer
    # informative tokens than a decision needs.  The copy renames the class and the parameter (each
    # used more than once, the same way) and keeps the attributes it compares: eight names kept in
    # place decide (``renamed-members``).  ``isinstance`` and ``object`` are no names (lexer 5): any
    # code of the shape keeps them.
    owned = ("Completion", "other", "text", "start_position", "display", "meta", "style", "selected_style")
    body = _COMPLETION.split("\n\n\n", 1)[1]
    shape = body.split("\n\n")[0]
    for name in owned:
        shape = re.sub(rf"(?<!\w){name}\b", "{" + name + "}", shape)
    src = tmp_path / "src"
    src.mkdir()
    (src / "completion.py").write_text(_COMPLETION)
    for i in range(70):
        (src / f"shape{i}.py").write_text(shape.format(**{n: f"{n[:2]}{i}_x" for n in owned}))
    _build(src, tmp_path / "i.sqlite", "example/editor")
    copy = _rename_own(body, {"Completion": "Choice", "other": "rhs"})
    assert "if not isinstance(rhs, Choice):" in copy and "self.text == rhs.text" in copy
    # A class of the same shape comparing attributes of its own keeps only the idiom's names: no copy.
    point = _rename(body, dict(zip(owned, ("Point", "rhs", "x", "y", "z", "w", "u", "v"), strict=True)))
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, copy)
        assert res.tokens >= search.MIN_MATCH_TOKENS
        assert _found(res)[:1] == [("completion.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "renamed-members"
        assert res.matches[0].confidence == verdict.EVIDENCE["renamed-members"][1]
        res = search.search(st, point)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        monkeypatch.setattr(verdict, "SHORT_RENAMED_NAMES", 10**6)
        assert search.search(st, copy).verdict not in search.ATTRIBUTING
    # What decides: eight names kept (the idiom's two, __eq__ and __hash__, and the six attributes)
    # against the idiom's two.
    d = fp.tokenize(_COMPLETION.encode(), "Python")
    for query, kept in ((copy, 8), (point, 2)):
        spans, q, _ = _abstract_spans(query, d)
        assert [verdict.kept_names(a.span, q, d) for a in spans] == [kept]
    # A member renamed is no copier's doing, but for an object's own attributes: renaming
    # `start_position` renames `rhs.start_position` (counted) and `self.start_position` (not).
    for query, foreign in ((copy, 0), (_rename(copy, {"start_position": "pos"}), 1)):
        spans, q, _ = _abstract_spans(query, d)
        assert [verdict.foreign_renamed(a.span, q, d) for a in spans] == [foreign]
    # Prose is not counted: a docstring's sentence is kept by every sibling of a template (its words
    # but `for`, which Python's profile keeps as a keyword; not the code after it).
    doc = fp.tokenize(b'"""The policies command group for the Cloud DNS API."""\nx = f(y)\n', "Python")
    assert verdict.prose(doc).sum() == 8 and not verdict.prose(doc)[-6:].any()


_NAMES = ("black", "maroon", "green", "olive", "navy", "purple", "teal", "silver", "grey", "red", "lime",
          "yellow", "blue", "fuchsia", "aqua", "white", "orange", "indigo", "violet", "coral", "salmon",
          "khaki", "plum", "orchid", "sienna", "tan", "wheat", "ivory", "linen", "snow")  # fmt: skip
_COLOURS = (
    '"""Colours a terminal names."""\n\nCOLOURS = [\n'
    + "".join(f'    "{c}",\n' for c in _NAMES)
    + "]\n\n\ndef colour(index):\n    return COLOURS[index % len(COLOURS)]\n"
)


def _unselected_lines(text: str) -> tuple[int, int]:
    """Lines ``(first, last)`` of ``text`` holding 16-23 tokens none of whose exact k-grams the text's
    winnowing selected."""
    toks = fp.tokenize(text.encode(), "Python")
    selected = set(fp.winnow(fp.kgrams(toks.exact)).tolist())
    lines = toks.line_start.tolist()
    for first in range(1, max(lines) + 1):
        for last in range(first, max(lines) + 1):
            at = [i for i, line in enumerate(lines) if first <= line <= last]
            if not 16 <= len(at) < 24:
                continue
            if not selected & set(range(at[0], at[-1] - fp.K + 2)):
                return first, last
    raise AssertionError("no such lines")


def test_a_short_query_from_a_small_file_is_found_through_its_dense_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file of 64 to 255 tokens also keeps the exact k-grams its winnowing did not select, under dense
    # keys.  A few lines of its list, too short for the winnowing guarantee, whose k-grams it did not
    # select, are found through them; indexed without them, not at all.
    assert fp.TINY_TOKENS <= len(fp.tokenize(_COLOURS.encode(), "Python")) < fp.DENSE_TOKENS
    first, last = _unselected_lines(_COLOURS)
    piece = "".join(_COLOURS.splitlines(keepends=True)[first - 1 : last])
    for dense, index in ((fp.DENSE_TOKENS, "dense"), (0, "winnowed")):
        monkeypatch.setattr(fp, "DENSE_TOKENS", dense)
        monkeypatch.setattr(fp, "LINE_TOKENS", dense)  # and no line's first k-grams
        monkeypatch.setattr(fp, "SPARSE_LINES", fp.SPARSE_LINES if dense else 0)
        src = tmp_path / index
        src.mkdir()
        (src / "colours.py").write_text(_COLOURS)
        shutil.copy(STDLIB / "colorsys.py", src)
        _build(src, tmp_path / f"{index}.sqlite", "example/colours")
    with open_store(tmp_path / "dense.sqlite", readonly=True) as st:
        res = search.search(st, piece)
        assert _found(res) == [("colours.py", "verbatim")], _found(res)
        assert res.matches[0].evidence == "short-unique-run"
        assert res.matches[0].spans[0].source_lines == (first, last)
    with open_store(tmp_path / "winnowed.sqlite", readonly=True) as st:
        assert search.search(st, piece).verdict == "none"


# A mid-size file (256 to 2,047 tokens): a longer list of names, then the function.
_SHADES = (
    '"""Shades a terminal names."""\n\nSHADES = [\n'
    + "".join(f'    "{shade} {c}",\n' for c in _NAMES for shade in ("light", "dark", "pale", "deep"))
    + "]\n\n\ndef shade(index):\n    return SHADES[index % len(SHADES)]\n"
)


def test_a_short_query_from_a_mid_size_file_is_found_through_its_lines_first_kgrams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file of 256 to 2,047 tokens keeps, under dense keys, the exact k-grams that begin a line and that
    # its winnowing did not select.  A few lines of its list, too short for the winnowing guarantee,
    # whose k-grams it did not select, begin with such a k-gram: found through it; indexed without them,
    # not at all.
    assert fp.DENSE_TOKENS <= len(fp.tokenize(_SHADES.encode(), "Python")) < fp.LINE_TOKENS
    first, last = _unselected_lines(_SHADES)
    piece = "".join(_SHADES.splitlines(keepends=True)[first - 1 : last])
    for lines, index in ((fp.LINE_TOKENS, "lines"), (0, "winnowed")):
        monkeypatch.setattr(fp, "LINE_TOKENS", lines)
        monkeypatch.setattr(fp, "SPARSE_LINES", fp.SPARSE_LINES if lines else 0)
        src = tmp_path / index
        src.mkdir()
        (src / "shades.py").write_text(_SHADES)
        shutil.copy(STDLIB / "colorsys.py", src)
        _build(src, tmp_path / f"{index}.sqlite", "example/shades")
    with open_store(tmp_path / "lines.sqlite", readonly=True) as st:
        res = search.search(st, piece)
        assert _found(res) == [("shades.py", "verbatim")], _found(res)
        assert res.matches[0].evidence == "short-unique-run"
        assert res.matches[0].spans[0].source_lines == (first, last)
    with open_store(tmp_path / "winnowed.sqlite", readonly=True) as st:
        assert search.search(st, piece).verdict == "none"


def _waitpid_copy() -> tuple[str, str]:
    """``_bootsubprocess.py`` (a mid-size module: 256 to 2,047 tokens) and eight lines of it, names
    renamed, none of whose k-grams in either view the module's winnowing selected."""
    text = (STDLIB / "_bootsubprocess.py").read_text()
    toks = fp.tokenize(text.encode(), "Python")
    assert fp.DENSE_TOKENS <= len(toks) < fp.LINE_TOKENS
    piece = "".join(text.splitlines(keepends=True)[27:35])
    assert "_, status = os.waitpid(pid, 0)" in piece
    at = np.flatnonzero((toks.line_start >= 28) & (toks.line_start <= 35))
    covered = set(range(int(at[0]), int(at[-1]) - fp.K + 2))
    for view in (toks.exact, toks.abstract):
        assert not covered & set(fp.winnow(fp.kgrams(view)).tolist())
    return text, _rename(piece, {"_": "unused", "status": "code", "pid": "child"})


def _index_module(
    tmp_path: Path,
    name: str,
    text: str,
    line_tokens: int,
    monkeypatch: pytest.MonkeyPatch,
    sparse_lines: int = fp.SPARSE_LINES,
) -> Path:
    """A SQLite index of ``text`` as ``name`` beside two unrelated modules, built with ``LINE_TOKENS``
    set to ``line_tokens`` (0: no file keeps its lines' first k-grams) and ``SPARSE_LINES`` to
    ``sparse_lines`` (0 or ``line_tokens`` 0: no large file keeps its sparse lines' first k-grams)."""
    sparse_lines = sparse_lines if line_tokens else 0
    src = tmp_path / f"src-{line_tokens}-{sparse_lines}"
    src.mkdir()
    (src / name).write_text(text)
    for module in ("bisect.py", "colorsys.py"):
        shutil.copy(STDLIB / module, src)
    path = tmp_path / f"lines-{line_tokens}-{sparse_lines}.sqlite"
    with monkeypatch.context() as m:
        m.setattr(fp, "LINE_TOKENS", line_tokens)
        m.setattr(fp, "SPARSE_LINES", sparse_lines)
        _build(src, path, "example/module")
    return path


def test_a_short_renamed_query_from_a_mid_size_file_is_found_through_its_lines_shapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file of 256 to 2,047 tokens keeps, under shape keys, the abstract k-grams that begin a line and
    # that its winnowing did not select.  A renamed copy of eight of its lines shares no exact k-gram
    # with it, and its winnowing selected none of their abstract ones: found through their lines'
    # shapes; indexed without them, not at all.
    text, copy = _waitpid_copy()
    with_lines = _index_module(tmp_path, "_bootsubprocess.py", text, fp.LINE_TOKENS, monkeypatch)
    without = _index_module(tmp_path, "_bootsubprocess.py", text, 0, monkeypatch)
    with open_store(with_lines, readonly=True) as st:
        res = search.search(st, copy)
        assert _found(res)[:1] == [("_bootsubprocess.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "short-rare-renamed"
        assert res.matches[0].spans[0].source_lines[0] == 28
    with open_store(without, readonly=True) as st:
        assert search.search(st, copy).verdict == "none"


def test_a_short_query_from_a_large_files_sparse_lines_is_found_through_their_first_kgram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file of 2,048 tokens and more keeps a line's first k-gram, exact under its dense key and
    # abstract under its shape key, when the line and the seven after it hold fewer than T tokens and
    # none of the k-grams its winnowing selected.  Eight such lines of fractions.py (a constructor's
    # last lines: 29 tokens), copied and renamed, are found through them; indexed without them, not at
    # all.
    text = (STDLIB / "fractions.py").read_text()
    toks = fp.tokenize(text.encode(), "Python")
    assert len(toks) >= fp.LINE_TOKENS
    piece = "".join(text.splitlines(keepends=True)[147:155])
    assert piece.lstrip().startswith("numerator, denominator = (") and "Rational instances" in piece
    at = np.flatnonzero((toks.line_start >= 148) & (toks.line_start <= 155))
    assert len(at) < fp.T
    covered = set(range(int(at[0]), int(at[-1]) - fp.K + 2))
    for view in (toks.exact, toks.abstract):
        assert not covered & set(fp.winnow(fp.kgrams(view)).tolist())
    renamed = _rename(piece, {"numerator": "top", "denominator": "bottom"})
    with_lines = _index_module(tmp_path, "fractions.py", text, fp.LINE_TOKENS, monkeypatch)
    without = _index_module(tmp_path, "fractions.py", text, fp.LINE_TOKENS, monkeypatch, sparse_lines=0)
    with open_store(with_lines, readonly=True) as st:
        res = search.search(st, piece)
        assert _found(res)[:1] == [("fractions.py", "verbatim")], _found(res)
        assert res.matches[0].spans[0].source_lines == (148, 154)  # (155 is blank)
        res = search.search(st, renamed)
        assert _found(res)[:1] == [("fractions.py", "near-duplicate")], _found(res)
        assert res.matches[0].spans[0].source_lines[0] == 148
    with open_store(without, readonly=True) as st:
        assert search.search(st, piece).verdict == "none"
        assert search.search(st, renamed).verdict == "none"


def test_a_kgram_whose_shape_key_is_common_is_held_by_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The renamed eight lines above, found through their first line's shape key, with a model that
    # lists the shape keys of all their other abstract k-grams: counted by their keys, those k-grams are
    # held by many files, so the query's run is not rare.  Counted as boilerplate instead, they were
    # left out of its rarity while their tokens, which no mask covers (the masks are of winnowed
    # hashes), still counted: its first k-gram, held by fractions.py alone, made a unique run of it (a
    # fresh import list so was a renamed copy of bokeh's imports).
    text = (STDLIB / "fractions.py").read_text()
    piece = "".join(text.splitlines(keepends=True)[147:155])
    renamed = _rename(piece, {"numerator": "top", "denominator": "bottom"})
    path = _index_module(tmp_path, "fractions.py", text, fp.LINE_TOKENS, monkeypatch)
    shapes = fp.shape_keys(fp.kgrams(fp.tokenize(renamed.encode(), "Python").abstract))
    model = tmp_path / "model.npz"
    meta = json.dumps({"fingerprint": {"k": fp.K, "w": fp.W, "lexer": lexer.LEXER_VERSION}})
    np.savez_compressed(model, hashes=np.unique(shapes[1:]), meta=np.array(meta))
    with open_store(path, readonly=True) as st:
        assert _found(search.search(st, renamed))[:1] == [("fractions.py", "near-duplicate")]
        monkeypatch.setenv("WHENCE_BOILERPLATE", str(model))
        boilerplate.load.cache_clear()
        try:
            assert search.MANY > align.RARE_DF
            assert search.search(st, renamed).verdict not in search.ATTRIBUTING
            monkeypatch.setattr(search, "MANY", align.COMMON)  # counted as boilerplate, not masked
            res = search.search(st, renamed)
            assert _found(res)[:1] == [("fractions.py", "near-duplicate")], _found(res)
        finally:
            monkeypatch.delenv("WHENCE_BOILERPLATE")
            boilerplate.load.cache_clear()


def test_a_shape_counted_renamed_run_must_hold_nearly_all_of_the_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted by shape keys, a shape is rare among small and mid-size files alone: code of a common shape
    # (a test's preamble, a null check and a call) passes for rare there.  So the renamed run of such a
    # query must hold nearly all of it (verdict.SHAPE_COUNTED_SHARE), not the two fifths another short
    # query's must.  The eight renamed lines above, then code of the query's own: the run holds 28 of
    # its 45 tokens.
    text, copy = _waitpid_copy()
    query = copy + "\n\ndef tidy(rows):\n    return sorted(set(rows), reverse=True)[:limit]\n"
    assert verdict.SHORT_RENAMED_SHARE < 28 / len(fp.tokenize(query.encode(), "Python")) < 0.9
    path = _index_module(tmp_path, "_bootsubprocess.py", text, fp.LINE_TOKENS, monkeypatch)
    with open_store(path, readonly=True) as st:
        res = search.search(st, query)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        monkeypatch.setattr(verdict, "SHAPE_COUNTED_SHARE", verdict.SHORT_RENAMED_SHARE)
        res = search.search(st, query)
        assert _found(res)[:1] == [("_bootsubprocess.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "short-rare-renamed"


def test_one_renamed_line_is_not_looked_up_by_its_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A function's first line, its names renamed: a shape (a function of a few parameters and keywords)
    # that many files hold, yet among small and mid-size files one may hold it alone.  One line's shape
    # stands for no file: a query whose tokens are all on one line does not look shape keys up.
    handlers = "".join(
        f"def handle_{i}(compiler, {', '.join(f'p{i}_{j}' for j in range(i + 1))}, **kw):\n"
        f"    return compiler.process(p{i}_0, **kw)\n\n\n"
        for i in range(14)
    )
    path = _index_module(tmp_path, "handlers.py", handlers, fp.LINE_TOKENS, monkeypatch)
    copy = "def run_two(builder, first, second, third, **options):\n"
    assert len(fp.tokenize(copy.encode(), "Python")) == 16  # one k-gram
    with open_store(path, readonly=True) as st:
        assert search.search(st, copy).verdict == "none"
        monkeypatch.setattr(search, "_on_lines", lambda toks: True)  # as if it were on two lines
        res = search.search(st, copy)
        assert _found(res)[:1] == [("handlers.py", "near-duplicate")], _found(res)
        assert res.matches[0].evidence == "short-unique-renamed"


def test_a_small_files_dense_keys_are_one_vote() -> None:
    # Three documents: one holding two selected k-grams of a query, one holding three of its dense keys
    # (a small file holds every k-gram there), one holding one of each.
    post = Postings(
        np.array([1, 2, 11, 12, 13, 1, 12], dtype=np.int64),
        np.array([7, 7, 8, 8, 8, 9, 9], dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
    )
    dense = np.array([11, 12, 13], dtype=np.uint64)
    assert candidates.votes(post) == {7: 2, 8: 3, 9: 2}
    assert candidates.votes(post, dense_keys=dense) == {7: 2, 8: 1, 9: 2}
    # Shape keys (a file's abstract k-grams) are one vote more: a file holding a query's code and its
    # shape outvotes one holding its shape alone.
    post = Postings(
        np.array([1, 2, 11, 12, 21, 22, 21, 22, 23], dtype=np.int64),
        np.array([7, 7, 8, 8, 8, 8, 10, 10, 10], dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
    )
    shapes = np.array([21, 22, 23], dtype=np.uint64)
    assert candidates.votes(post, dense_keys=dense, shape_keys=shapes) == {7: 2, 8: 2, 10: 1}


def test_a_short_querys_sole_holder_is_aligned_past_the_ranking_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three tiny files hold the first half of a heapq.py piece pasted in (a tiny file keeps every
    # k-gram: many votes each); heapq.py's winnowing kept a few of the piece's k-grams, one of the
    # second half among them, which no other file holds.  With two candidates ranked, heapq.py falls
    # past the cut; as the sole holder of a k-gram of a short query it is aligned all the same.
    text = (STDLIB / "heapq.py").read_text()
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == "returnitem = heap[0]") - 1
    piece = "".join(lines[at : at + 8])  # the end of heappop, into heapreplace
    half = "".join(lines[at : at + 4])
    src = tmp_path / "src"
    src.mkdir()
    (src / "heapq.py").write_text(text)
    for i in range(3):
        (src / f"paste{i}.py").write_text(f"# paste {i}\n" + half)
    _build(src, tmp_path / "i.sqlite", "example/sole")
    monkeypatch.setattr(candidates, "MAX_CANDIDATES", 2)
    monkeypatch.setattr(candidates, "MIN_CANDIDATES", 2)
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, piece)
        assert res.tokens <= fp.K + candidates.SHORT_QUERY_KGRAMS
        assert _found(res)[:1] == [("heapq.py", "verbatim")]
        monkeypatch.setattr(search, "SOLE_HOLDERS", 0)
        assert "heapq.py" not in [p for p, _ in _found(search.search(st, piece))]


def test_a_candidate_sharing_two_fingerprints_waits_for_a_match_holding_the_whole_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pair.py holds three lines of heappop, eighteen tokens: one of the query's winnowed k-grams in each
    # view, two votes.  Once heapq.py holds all of the (longer) query verbatim, pair.py can only hold a
    # piece of it, and is not aligned.
    text = (STDLIB / "heapq.py").read_text()
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("def heappop(heap):"))
    piece = "".join(lines[at : at + 24])
    pair = "".join(lines[at + 4 : at + 7])
    assert pair.startswith("        returnitem = heap[0]\n")
    assert len(fp.kgrams(fp.tokenize(piece.encode()).exact)) > candidates.SHORT_QUERY_KGRAMS
    src = tmp_path / "src"
    src.mkdir()
    (src / "heapq.py").write_text(text)
    (src / "pair.py").write_text(pair)
    _build(src, tmp_path / "i.sqlite", "example/pair")
    seen: dict[str, Any] = {}
    real_ranked, real_judge = search.ranked_candidates, search.judge

    def ranked_candidates(st: Any, looked: Any) -> tuple[dict[int, int], list[int]]:
        seen["votes"], seen["ranked"] = real_ranked(st, looked)
        return seen["votes"], seen["ranked"]

    aligned: list[int] = []

    def judge(q: Any, dtok: Any, *args: Any, **kwargs: Any) -> Any:
        aligned.append(len(dtok))
        return real_judge(q, dtok, *args, **kwargs)

    monkeypatch.setattr(search, "ranked_candidates", ranked_candidates)
    monkeypatch.setattr(search, "judge", judge)
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, piece)
        sizes = {d: doc.tokens for d, doc in st.documents(seen["ranked"]).items()}
    assert _found(res) == [("heapq.py", "verbatim")]
    assert res.matches[0].score >= 1.0
    votes = [seen["votes"][d] for d in seen["ranked"]]
    assert votes[1:] == [candidates.SECOND_VOTES]  # pair.py, ranked second
    assert aligned == [sizes[seen["ranked"][0]]]  # heapq.py alone was aligned


_REPORT = """def describe(record, out):
    out.write("name: %s\\n" % record.name)
    out.write("size: %d bytes\\n" % record.size)
    out.write("owner: %s\\n" % record.owner)
"""


def test_short_renamed_run_that_keeps_three_strings_is_a_near_duplicate_though_not_rare(
    tmp_path: Path,
) -> None:
    # Five unrelated files hold the piece (each pasted it in): its k-grams are not rare, so a short run
    # of it needs other evidence than its shape.  A renamed copy that keeps its three strings has it;
    # the same shape with other strings has not.
    src = tmp_path / "src"
    src.mkdir()
    for i, module in enumerate(_UNRELATED):
        (src / f"report{i}.py").write_text((STDLIB / module).read_text() + "\n\n" + _REPORT)
    _build(src, tmp_path / "i.sqlite", "example/vendored")
    names = {"describe": "show", "record": "rec", "out": "stream"}
    copy = _rename(_REPORT, names)
    other = copy.replace("owner: %s", "group: %s").replace("size: %d bytes", "length: %d")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, copy)
        assert res.tokens < search.MIN_MATCH_TOKENS
        assert res.verdict == "near-duplicate", _found(res)
        assert res.matches[0].evidence == "short-renamed-strings"
        assert res.matches[0].confidence == verdict.EVIDENCE["short-renamed-strings"][1]
        assert res.matches[0].primary.path.startswith("report")
        res = search.search(st, other)
        assert res.verdict not in search.ATTRIBUTING, _found(res)


def test_short_fragment_is_not_verbatim_when_it_is_common(tmp_path: Path) -> None:
    # The same short fragment held by more documents than a rare one may be (here: four unrelated
    # modules, each with it pasted in) is not enough on its own.  (Four versions of one file would be
    # one source: tests/test_families.py.)
    lines = (STDLIB / "heapq.py").read_text().splitlines(keepends=True)
    frag = "".join(lines[303:309])
    src = tmp_path / "src"
    src.mkdir()
    for i, module in enumerate(_UNRELATED[:4]):
        (src / f"copy{i}.py").write_text((STDLIB / module).read_text() + "\n\n" + frag)
    _build(src, tmp_path / "i.sqlite", "example/many")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, frag)
    assert res.verdict not in search.ATTRIBUTING, _found(res)


def test_boilerplate_kgram_inside_a_short_run_leaves_the_rest_to_decide() -> None:
    # A short query whose run opens with a boilerplate k-gram: its tokens are masked and count for
    # nothing, and the rest, rare, still makes a rare run; a rest held by more than RARE_DF documents
    # does not.
    lines = (STDLIB / "heapq.py").read_text().splitlines(keepends=True)
    q = fp.tokenize("".join(lines[303:311]).encode(), "Python")
    d = fp.tokenize((STDLIB / "heapq.py").read_bytes(), "Python")
    qe, qa = fp.kgrams(q.exact), fp.kgrams(q.abstract)
    assert len(q) - fp.K >= verdict.short_run()

    def rare_run(other: int) -> int:
        df = np.full(len(qe), other, dtype=np.int64)
        df[0] = align.COMMON
        query = Query.of(q, qe, qa, qe[:1], lambda: (df, np.full(len(qa), other, dtype=np.int64)))
        (a,) = view_spans(query, d, "exact", fp.K)
        assert a.informative == len(q) - fp.K  # the boilerplate k-gram's tokens count for nothing
        return a.rare_run

    assert rare_run(1) >= verdict.short_run()
    assert rare_run(align.RARE_DF + 1) == 0


def test_boilerplate_model_masks_what_it_lists(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (STDLIB / "bisect.py").read_text().splitlines(keepends=True)
    frag = "".join(lines[19:27])
    assert search.search(store, frag).verdict == "verbatim"
    # A model listing every fingerprint of the fragment (both views, all k-grams) makes it boilerplate.
    f = fp.fingerprint(frag.encode())
    listed = np.unique(np.concatenate((f.exact_kgrams, f.abstract_kgrams)))
    model = tmp_path / "model.npz"
    meta = json.dumps({"fingerprint": {"k": fp.K, "w": fp.W, "lexer": lexer.LEXER_VERSION}})
    np.savez_compressed(model, hashes=listed, meta=np.array(meta))
    monkeypatch.setenv("WHENCE_BOILERPLATE", str(model))
    boilerplate.load.cache_clear()
    try:
        assert search.search(store, frag).verdict == "none"
    finally:
        monkeypatch.delenv("WHENCE_BOILERPLATE")
        boilerplate.load.cache_clear()


def test_shipped_boilerplate_model_loads() -> None:
    hashes, meta = boilerplate.load()
    assert len(hashes) > 1000 and np.all(hashes[1:] > hashes[:-1])
    assert meta["fingerprint"] == {"k": fp.K, "w": fp.W, "lexer": lexer.LEXER_VERSION}
    assert meta["files"] > 10_000


def test_model_of_other_fingerprints_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.npz"
    meta = np.array('{"fingerprint": {"k": 9}}')
    np.savez_compressed(model, hashes=np.zeros(1, dtype=np.uint64), meta=meta)
    monkeypatch.setenv("WHENCE_BOILERPLATE", str(model))
    boilerplate.load.cache_clear()
    try:
        with pytest.raises(Exception, match="relearn it"):
            boilerplate.load()
    finally:
        monkeypatch.delenv("WHENCE_BOILERPLATE")
        boilerplate.load.cache_clear()


# --- block comments are tokens (lexer 3) ---------------------------------------------------------------

JAVADOC = Path(__file__).parent / "fixtures" / "javadoc" / "RingBuffer.java"


@pytest.fixture(scope="module")
def javadoc_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small index: a Java class with an MIT license header and Javadoc, a Java program, and three
    standard-library modules."""
    src = tmp_path_factory.mktemp("javadoc-corpus")
    shutil.copy(JAVADOC, src)
    shutil.copy(PROGRAMS / "GradeReport.java", src)
    for name in MODULES[:3]:
        shutil.copy(STDLIB / name, src)
    path = tmp_path_factory.mktemp("javadoc-index") / "index.sqlite"
    with open_store(path, create=True) as store:
        ingest.build(store, ingest.sources([src], repo="example/buffers", licenses=["MIT"]), workers=1)
    return path


def _javadoc_lines(first: str, last: str) -> tuple[str, int, int]:
    """The lines of RingBuffer.java from the one containing ``first`` to the one containing ``last``,
    with their 1-based line numbers."""
    lines = JAVADOC.read_text().splitlines(keepends=True)
    a = next(i for i, line in enumerate(lines) if first in line)
    b = next(i for i, line in enumerate(lines) if i >= a and last in line)
    return "".join(lines[a : b + 1]), a + 1, b + 1


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("A sensor thread offers", "private int head;"),  # prose cut mid-Javadoc, its `*/`, then code
        ("Appends a reading at the tail", "can say how much the consumer missed"),  # prose only
        ("samples the trend calls this", "return size == 0 ?"),  # the end of a doc comment and a method
    ],
)
def test_javadoc_cut_mid_comment_is_found_verbatim(javadoc_index: Path, first: str, last: str) -> None:
    frag, a, b = _javadoc_lines(first, last)
    assert "/*" not in frag.splitlines()[0]  # it starts inside the comment
    with open_store(javadoc_index, readonly=True) as st:
        res = search.search(st, frag, language="Java")
        guessed = search.search(st, frag)  # no language given: the lookup lexing is guessed
    for r in (res, guessed):
        assert _found(r)[:1] == [("RingBuffer.java", "verbatim")]
        top = r.matches[0]
        s0, s1 = top.spans[0].source_lines
        assert s0 <= a + 1 and s1 >= b - 1, (s0, s1, a, b)
    # The whole fragment, prose included, matched token for token.
    assert res.matches[0].matched_tokens == len(fp.tokenize(frag.encode(), "Java"))


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("public double poll()", "return size == 0 ?"),  # two methods, a Javadoc between them
        ("} else {", "double value = slots[head];"),  # 39 tokens: a short query, each piece under 24
        ("} else {", "return value;"),  # a piece under 24 tokens, then one of over 40
    ],
)
def test_copy_stripped_of_its_comments_is_found_whole(javadoc_index: Path, first: str, last: str) -> None:
    # The file's Javadoc is tokens in the index; a copy without it is aligned with the file's code
    # alone too, so the code on both sides of a removed comment is one copy.
    frag, a, b = _javadoc_lines(first, last)
    stripped = re.sub(r"/\*.*?\*/\s*", "", frag, flags=re.S)
    assert "/*" not in stripped and stripped.count("\n") < frag.count("\n")
    with open_store(javadoc_index, readonly=True) as st:
        res = search.search(st, stripped)
    assert _found(res)[:1] == [("RingBuffer.java", "verbatim")]
    top = res.matches[0]
    assert top.matched_tokens == res.tokens  # every token of the copy
    assert min(s.source_lines[0] for s in top.spans) <= a + 1
    assert max(s.source_lines[1] for s in top.spans) >= b - 1
    if res.tokens < search.MIN_MATCH_TOKENS:
        return  # a scan attributes runs of the minimum match size only (no short rare runs)
    # A scan of a file holding the copy finds it the same way (index.cover).
    with open_store(javadoc_index, readonly=True) as st:
        documents, cap = cov.cap_for(st)
        prep = cov.prepare(stripped, language="Java")
        scanned = cov.cover(st, prep, st.postings(prep.lookup.view(np.int64), cap), documents=documents)
    assert [(m.primary.path, m.verdict) for m in scanned.matches] == [("RingBuffer.java", "verbatim")]
    assert scanned.matches[0].matched_tokens == scanned.tokens


def test_license_text_stays_clean_though_a_header_in_the_index_quotes_it(
    javadoc_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whence.scan import licensetexts

    mit = licensetexts.load().get("MIT")
    assert mit is not None
    header, _, _ = _javadoc_lines("Copyright (c) 2026", "SOFTWARE.")
    with open_store(javadoc_index, readonly=True) as st:
        # The header's prose is in the index: without the boilerplate model both would be attributed
        # (the index is far too small for its own counts to call anything common) ...
        monkeypatch.setenv("WHENCE_BOILERPLATE", "off")
        boilerplate.load.cache_clear()
        try:
            assert _found(search.search(st, mit.text))[:1] == [("RingBuffer.java", "verbatim")]
            assert _found(search.search(st, header))[:1] == [("RingBuffer.java", "verbatim")]
        finally:
            monkeypatch.delenv("WHENCE_BOILERPLATE")
            boilerplate.load.cache_clear()
        # ... the shipped model, learned with the SPDX texts under these lexing rules, knows the
        # license: neither the LICENSE text nor the header alone is anyone's copy.
        for query in (mit.text, header):
            res = search.search(st, query)
            assert res.verdict not in search.ATTRIBUTING, _found(res)


_BSD3_CONDITIONS = (
    "Redistributions of source code must retain the above copyright notice, this list of conditions and\n"
    "the following disclaimer.",
    "Redistributions in binary form must reproduce the above copyright notice, this list of conditions\n"
    "and the following disclaimer in the documentation and/or other materials provided with the\n"
    "distribution.",
    "Neither the name of the copyright holder nor the names of its contributors may be used to endorse\n"
    "or promote products derived from this software without specific prior written permission.",
)
_BSD3_DISCLAIMER = """\
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS
FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR
TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF
ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""
_BSD3_PREAMBLE = (
    "Redistribution and use in source and binary forms, with or without modification, are permitted\n"
    "provided that the following conditions are met:\n\n"
)


@pytest.mark.parametrize("owner", ["HOLDER", "OWNER"])
def test_bulleted_bsd3_license_stays_clean_though_an_indexed_header_quotes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owner: str
) -> None:
    # A Java file opens with BSD-3 in a comment, its conditions bulleted (as the JDK's dynalink
    # classes have it); a LICENSE file holds BSD-3 as GitHub's template writes it, bulleted too.  SPDX
    # numbers the conditions: the model also holds each SPDX text with its list markers written the
    # other ways (scripts/corpus/boilerplate.py), so the bullets' neighbourhood is boilerplate as well,
    # and neither the LICENSE nor SPDX's own text is anybody's copy.  Each project names itself in the
    # third condition and may write "COPYRIGHT OWNER" for SPDX's "HOLDER", as older copies do: the few
    # dozen tokens around such a change are in no SPDX text, and lie between license prose
    # (align.license_gaps).
    disclaimer = _BSD3_DISCLAIMER.replace("COPYRIGHT HOLDER OR", f"COPYRIGHT {owner} OR")
    ours = [c.replace("the copyright holder", "Example Corp") for c in _BSD3_CONDITIONS]
    theirs = [c.replace("the copyright holder", "the Other Project") for c in _BSD3_CONDITIONS]
    numbered = _BSD3_PREAMBLE + "".join(f"{i}. {c}\n\n" for i, c in enumerate(_BSD3_CONDITIONS, 1))
    bullets = _BSD3_PREAMBLE + "".join(f"* {c}\n\n" for c in ours)
    header = "/*\n * Copyright 2013 Example Corp.\n *\n" + "".join(
        f" * {line}".rstrip() + "\n" for line in (bullets + disclaimer).splitlines()
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "Meter.java").write_text(
        header + " */\npackage org.example.meter;\n\npublic final class Meter {\n"
        "    private long total;\n\n    public void add(long amount) {\n        total += amount;\n    }\n}\n"
    )
    _build(src, tmp_path / "i.sqlite", "example/meter", "BSD-3-Clause")
    bulleted = (
        "BSD 3-Clause License\n\nCopyright (c) 2021, Someone Else\nAll rights reserved.\n\n"
        + _BSD3_PREAMBLE
        + "".join(f"* {c.replace(chr(10), chr(10) + '  ')}\n\n" for c in theirs)
        + disclaimer
    )
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        monkeypatch.setenv("WHENCE_BOILERPLATE", "off")  # the index alone is too small to know it
        boilerplate.load.cache_clear()
        try:
            assert search.search(st, bulleted).verdict in search.ATTRIBUTING
        finally:
            monkeypatch.delenv("WHENCE_BOILERPLATE")
            boilerplate.load.cache_clear()
        res = search.search(st, bulleted)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        res = search.search(st, numbered + disclaimer)
        assert res.verdict not in search.ATTRIBUTING, _found(res)


def _gnu_notice(first_line: str, program: str) -> str:
    """The notice heading a file of a GNU project, as binutils words it (the program named in it, an
    older address of the Free Software Foundation): no SPDX text holds its head or tail."""
    return (
        f"/* {first_line}\n   Copyright (C) 1998-2023 Free Software Foundation, Inc.\n\n"
        f"   This file is part of {program}.\n\n"
        f"   {program} is free software; you can redistribute it and/or modify\n"
        "   it under the terms of the GNU General Public License as published by\n"
        "   the Free Software Foundation; either version 3, or (at your option)\n   any later version.\n\n"
        f"   {program} is distributed in the hope that it will be useful,\n"
        "   but WITHOUT ANY WARRANTY; without even the implied warranty of\n"
        "   MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the\n"
        "   GNU General Public License for more details.\n\n"
        "   You should have received a copy of the GNU General Public License\n"
        f"   along with {program}; see the file COPYING.  If not, write to the Free\n"
        "   Software Foundation, 51 Franklin Street - Fifth Floor, Boston, MA\n   02110-1301, USA.  */\n"
    )


def test_another_projects_gnu_notice_is_no_copy_though_the_index_is_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An index of one linker header; an assembler header of another part of the toolchain opens with
    # the same notice naming its own program.  The SPDX texts cover the notice's middle; its head and
    # tail run on from it, line by line, and are the license's too (align.LICENSE_EDGE), while the
    # header's own code, after a blank line, is not.
    src = tmp_path / "src"
    src.mkdir()
    code = (
        "\n#ifndef DEFS_H\n#define DEFS_H\n\ntypedef struct script_section {\n  char *name;\n"
        "  unsigned long flags;\n  struct script_section *next;\n} script_section;\n\n"
        "extern script_section *script_sections (void);\nextern void script_free (script_section *);\n"
        "#endif\n"
    )
    ours = _gnu_notice("defs.h - definitions of the linker script parser", "GLD") + code
    (src / "defs.h").write_text(ours)
    _build(src, tmp_path / "i.sqlite", "example/ld", "GPL-3.0-or-later")
    theirs = _gnu_notice("This file is tc-widget.h", "GAS") + (
        "\n#define TC_WIDGET\n\n#define TARGET_BYTES_BIG_ENDIAN 1\n#define TARGET_ARCH bfd_arch_widget\n"
    )
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, theirs, language="C")
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        # The file itself, and its code alone, are still its copies.
        assert _found(search.search(st, ours, language="C"))[:1] == [("defs.h", "verbatim")]
        assert _found(search.search(st, code, language="C"))[:1] == [("defs.h", "verbatim")]
        monkeypatch.setattr(align, "LICENSE_EDGE", 0)  # without the edges: the notices' tails match
        assert search.search(st, theirs, language="C").verdict in search.ATTRIBUTING


#: A project's own notice of its dual license (no SPDX text holds it), as a LICENSE file words it.
_DUAL_NOTICE = (
    "Use of this library is permitted under the terms of either one of the licenses in\n"
    "LICENSE.MPL and LICENSE.ISC, whichever suits you. Whoever contributes to this library offers the\n"
    "contribution under both of those licenses at once.\n"
)
_RING = (
    "class Ring:\n    def __init__(self, size):\n        self.items = [None] * size\n"
    "        self.start = self.count = 0\n\n    def push(self, item):\n"
    "        at = (self.start + self.count) % len(self.items)\n        self.items[at] = item\n"
    "        if self.count < len(self.items):\n            self.count += 1\n        else:\n"
    "            self.start = (self.start + 1) % len(self.items)\n"
)


def test_a_projects_own_license_notice_is_no_copy_of_a_module_that_quotes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module vendored from a dual-licensed project quotes the project's notice in its docstring.  In
    # The Stack the notice is in thousands of files, boilerplate by the index's own counts; in a small
    # index it is in one, and no SPDX text holds it.  Prose that names a license is the notice's
    # (align.notice_words): every LICENSE file quoting it, or naming other licenses in its words, stays
    # clean, while the module's code right after the docstring is still the module's.
    module = '"""Ring buffers of fixed capacity.\n\n' + _DUAL_NOTICE + '"""\n' + _RING
    path = _index_one(tmp_path, "ring.py", module, "example/vendored")
    other = _DUAL_NOTICE.replace("MPL", "APACHE").replace("ISC", "MIT").replace("library", "package")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text(_DUAL_NOTICE)
    with open_store(path, readonly=True) as st:
        for query in (_DUAL_NOTICE, other):
            res = search.search(st, query)
            assert res.verdict not in search.ATTRIBUTING, _found(res)
        assert _found(search.search(st, _RING))[:1] == [("ring.py", "verbatim")]
        assert _found(search.search(st, module))[:1] == [("ring.py", "verbatim")]
    out = CliRunner().invoke(main, ["scan", str(repo), "--index", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["findings"] == []
    # Without the notice's words, the LICENSE file is a verbatim copy of the docstring.
    monkeypatch.setattr(align, "_NOTICE", np.zeros(0, dtype=np.uint64))
    with open_store(path, readonly=True) as st:
        assert _found(search.search(st, _DUAL_NOTICE))[:1] == [("ring.py", "verbatim")]
    out = CliRunner().invoke(main, ["scan", str(repo), "--index", str(path), "--format", "json"])
    assert out.exit_code == 1, out.output


def test_a_notice_is_the_prose_that_names_a_license_and_no_code() -> None:
    # "license" as a name in code is no notice; in a sentence, in any of three cases, it is.
    code = fp.tokenize(b'license = info.get("license")\nlicense_text = load(license)\n')
    assert not align.notice_words(code).any()
    words = fp.tokenize(b"Licensed under the terms of\nthe LICENSE file, see the licence for details")
    assert np.flatnonzero(align.notice_words(words)).tolist() == [0, 6, 11]  # Licensed, LICENSE, licence
    # The mask covers the notice's paragraph, not the code after it.
    q = _query('"""Ring buffers.\n\n' + _DUAL_NOTICE + '"""\n' + _RING)  # the notice on lines 3-5
    line = q.tokens.line_start
    assert q.exact_common[(line >= 3) & (line <= 5)].all()
    assert not q.exact_common[(line < 3) | (line > 5)].any()
    # A docstring that names a license, with code right before and after it and no line between: the
    # notice stops at the first line that is not prose (align.prose_lines), not 48 tokens on.
    owner = 'def owner(x):\n    """Return the license of x."""\n    return x.meta.get("license") or x.other\n'
    q = _query(owner)
    line = q.tokens.line_start
    assert q.exact_common[line == 2].all() and not q.exact_common[line != 2].any()


def test_a_very_repetitive_document_yields_at_most_max_spans() -> None:
    """A document repeating the query's code at 300 places matches it 300 times; a view builds and
    judges only the MAX_SPANS chains matching the most tokens, and the verdict is the same."""
    from whence.index import align

    block = _lines_from("heapq.py", "def heappush(", 12)
    doc = fp.tokenize(("x = 0\n" + block).encode() * 300)
    q = _query(block)
    spans = view_spans(q, doc, "exact", verdict.MIN_MATCH_TOKENS)
    assert len(spans) == align.MAX_SPANS
    assert all(a.span.tokens == len(q.tokens) for a in spans)  # the fullest matches are the ones kept
    assert verdict.judge(q, doc).verdict == "verbatim"
    # Under the cap nothing is dropped: each of 40 places is a span.
    few = fp.tokenize(("x = 0\n" + block).encode() * 40)
    assert len(view_spans(q, few, "exact", verdict.MIN_MATCH_TOKENS)) == 40


# The 6 x 6 x 6 colour cube of a 256-colour terminal palette, one (r, g, b) row per line: six numbers
# and three marks make every row, so a piece of it has nine distinct tokens however long it is.
_CUBE = [(r, g, b) for r in (0, 95, 135, 175, 215, 255) for g in (0, 95, 135, 175, 215, 255)
         for b in (0, 95, 135, 175, 215, 255)]  # fmt: skip
_PALETTE = "CUBE = [\n" + "".join(f"    ({r}, {g}, {b}),\n" for r, g, b in _CUBE) + "]\n"


def test_a_table_copied_verbatim_is_verbatim_though_its_tokens_repeat(tmp_path: Path) -> None:
    """What a span carries is bounded by its distinct tokens or, in the exact view, its distinct pairs
    of adjacent tokens: 15 rows of a colour table are 120 tokens of nine kinds (36 by the tokens alone,
    under the minimum) but of a score of different pairs, in an order nothing else has."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "palette.py").write_text(_PALETTE)
    shutil.copy(STDLIB / "heapq.py", src)
    _build(src, tmp_path / "i.sqlite", "example/palette")
    rows = _PALETTE.splitlines(keepends=True)
    piece = "".join(rows[40:55])  # file lines 41-55
    q = _query(piece)
    tiles = [align.Tile(0, 0, len(q.tokens))]
    free = align.free_prefix(np.zeros(len(q.tokens), dtype=bool))
    assert len(q.tokens) == 120
    assert align._informative(tiles, q.tokens.exact, free) == 36 < verdict.MIN_MATCH_TOKENS
    assert align._informative(tiles, q.tokens.exact, free, adjacent=True) >= verdict.MIN_MATCH_TOKENS
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, piece)
        assert _found(res)[:1] == [("palette.py", "verbatim")]
        assert res.matches[0].spans[0].source_lines == (41, 55)
        # a line of dashes has one distinct pair as it has one distinct token: still nothing
        assert search.search(st, README).verdict not in search.ATTRIBUTING


def test_renamed_repetitive_shapes_count_their_distinct_tokens_only() -> None:
    """Pairs count only in the exact view: classes that each extend the last and are exported repeat one
    shape, and once renamed every pair of names differs; counted by pairs, such a run would pass for a
    renamed copy of any file of such declarations (an abstract span counts its distinct tokens)."""
    names = ["RepositoryError", "BadVersionError", "EqualVersionError", "ExpiredMetadataError",
             "DownloadError", "LengthMismatchError", "FetchError", "TargetNotFoundError"]  # fmt: skip
    code = "".join(
        f"class {b} extends {a} {{\n}}\nexports.{b} = {b};\n" for a, b in itertools.pairwise(names)
    )
    q = _query(code)
    chains = [[align.Tile(0, 0, len(q.tokens))]]
    doc = fp.tokenize(code.encode())
    exact = align.make_spans(chains, q.tokens.exact, q.tokens, doc, np.zeros(len(q.tokens), dtype=bool))
    paired = align.make_spans(
        chains, q.tokens.exact, q.tokens, doc, np.zeros(len(q.tokens), dtype=bool), adjacent=True
    )
    distinct = len(set(q.tokens.exact.tolist()))
    assert exact[0].informative == min(len(q.tokens), align.DISTINCT_FACTOR * distinct)
    assert paired[0].informative > exact[0].informative
    # the exact view's spans count pairs (its tokens are the same tokens); the abstract view's do not
    assert view_spans(q, doc, "exact", 1)[0].informative == paired[0].informative


# A notice of the kind projects keep atop every file (written for this test).
_NOTICE = """\
Example Widgets is free software; you can redistribute it and/or modify it under the terms of the
Example Public License as published by the Widget Foundation; either version 2, or (at your option)
any later version.  Example Widgets is distributed in the hope that it will be useful, but WITHOUT
ANY WARRANTY; see the Example Public License for more details.  You should have received a copy of
the Example Public License along with Example Widgets; see the file COPYING.
"""


def test_a_notice_kept_in_line_comments_is_learned_as_boilerplate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boilerplate model also counts what the line comments heading a file say
    (``whence_dev.headers.header_prose``): the lexer drops them, but the notice they hold is tokens
    in a LICENSE file and in another project's block comment, and is nobody's code there."""
    from whence_dev.headers import header_prose

    code = "#include <stdio.h>\n\nint widget_count(void) {\n    return 42;\n}\n"
    commented = "".join(f"// {line}\n" for line in _NOTICE.splitlines()) + "\n" + code
    learned = header_prose(commented.encode(), "C")
    as_text = fp.fingerprint(_NOTICE.encode())
    assert len(learned) and np.isin(learned, as_text.exact_kgrams).all()  # the notice's words, only
    # Line comments below the header are left alone (Go's //sys lines are code, not prose).
    assert np.array_equal(header_prose((commented + "// Widget(a int) (err error)\n").encode(), "C"), learned)
    assert len(header_prose(code.encode(), "C")) == 0

    src = tmp_path / "src"
    src.mkdir()
    block = "/*\n" + "".join(f" * {line}\n" for line in _NOTICE.splitlines()) + " */\n"
    (src / "widgets.c").write_text(block + code)
    _build(src, tmp_path / "i.sqlite", "example/widgets")
    model = tmp_path / "model.npz"
    meta = json.dumps({"fingerprint": {"k": fp.K, "w": fp.W, "lexer": lexer.LEXER_VERSION}})
    # The model alone: the notice names its license, which makes its prose boilerplate at search
    # whatever the model holds (align.notice_words).
    monkeypatch.setattr(align, "_NOTICE", np.zeros(0, dtype=np.uint64))
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        for listed in (np.zeros(0, dtype=np.uint64), np.unique(learned)):
            np.savez_compressed(model, hashes=listed, meta=np.array(meta))
            monkeypatch.setenv("WHENCE_BOILERPLATE", str(model))
            boilerplate.load.cache_clear()
            try:
                res = search.search(st, _NOTICE)
            finally:
                monkeypatch.delenv("WHENCE_BOILERPLATE")
                boilerplate.load.cache_clear()
            if len(listed):  # learned from the line comments: the LICENSE text is nobody's copy
                assert res.verdict not in search.ATTRIBUTING, _found(res)
            else:  # an empty model: the index alone is too small to know the notice
                assert _found(res)[:1] == [("widgets.c", "verbatim")]


# A generated model's accessor (written for this test): a shape every generated model has, and the
# strings that say which model it is.
_ACCESSOR = """\
    def to_dict(self) -> dict[str, object]:
        return {
            "widgetArn": self.arn,
            "assemblySchedule": self.schedule,
            "calibrationStatus": self.status,
            "creationTime": self.created,
            "driftStatus": "NotChecked",
        }
"""


def test_strings_and_members_kept_in_a_common_shape_count_in_a_renamed_span() -> None:
    """An abstract span's string literals and members' names that a common *abstract* fingerprint masks,
    but no common exact one, count as informative where the document keeps them (``align.kept_masked``):
    the shape says nothing, the strings and the members it reads say which model it is."""
    renamed = (
        _ACCESSOR.replace("to_dict", "v1").replace("self.arn", "self.v2").replace("self.schedule", "self.v3")
    )
    doc = fp.tokenize(_ACCESSOR.encode(), "Python")
    t = fp.tokenize(renamed.encode(), "Python")
    qe, qa = fp.kgrams(t.exact), fp.kgrams(t.abstract)
    strings = int((t.abstract == np.uint64(lexer.CLASS_HASH[lexer.STRING])).sum())
    assert strings == 6
    # self.v2, self.v3, self.status, self.created: four members, of which the copy kept two
    shape_common = Query.of(t, qe, qa, np.unique(qa))  # every abstract k-gram boilerplate
    assert shape_common.masked_kept.sum() == strings + 4
    (a,) = view_spans(shape_common, doc, "abstract", 1)
    assert a.informative == strings + 2  # only the kept strings and members carry anything
    other = fp.tokenize(
        _ACCESSOR.replace('"', "'").replace("Time", "Date").replace("Arn", "Id").encode(), "Python"
    )
    assert [s.informative for s in view_spans(shape_common, other, "abstract", 1)] == [strings - 2 + 2]
    # The same strings over other members: the strings alone carry.
    elsewhere = fp.tokenize(_ACCESSOR.replace("self.", "self.x_").encode(), "Python")
    assert [s.informative for s in view_spans(shape_common, elsewhere, "abstract", 1)] == [strings]
    # Boilerplate in both views: the strings and members are common too, and count for nothing.
    both_common = Query.of(t, qe, qa, np.unique(np.concatenate((qe, qa))))
    assert not both_common.masked_kept.any()
    assert view_spans(both_common, doc, "abstract", 1) == []


def test_of_equal_renamed_matches_the_one_that_kept_the_copys_literals_ranks_first(tmp_path: Path) -> None:
    """The standard library's CJK codec modules are one shape: renamed, a copy of any of them matches
    each as far; the one whose codec name and module the copy kept ranks first (``agreed_tokens``),
    whatever order the candidates came in."""
    modules = ("big5.py", "gbk.py", "johab.py", "euc_kr.py")
    src = tmp_path / "src"
    src.mkdir()
    for name in modules:
        shutil.copy(STDLIB / "encodings" / name, src)
    shutil.copy(STDLIB / "heapq.py", src)
    _build(src, tmp_path / "i.sqlite", "example/codecs", "PSF-2.0")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        for name in modules:
            copy = rename((STDLIB / "encodings" / name).read_text())
            res = search.search(st, copy, language="Python")
            assert res.matches[0].primary.path == name, _found(res)
            same = [m for m in res.matches if m.matched_tokens == res.matches[0].matched_tokens]
            assert len(same) >= 2  # the others matched as much: the literals decided
            assert same[0].agreed_tokens > max(m.agreed_tokens for m in same[1:])


def test_a_rare_run_of_import_lines_counts_its_pairs_once() -> None:
    """Four import lines held by no other document are a rare run of 24 tokens, but of eight distinct
    tokens and twelve distinct pairs, every one of them any Java file's: a rare run counts its distinct
    pairs once (``align.RARE_PAIR_FACTOR``), so they carry 16 tokens' worth, not 24, and are no copy."""
    code = (
        "import java.lang.System.Logger;\nimport java.lang.System.Logger.Level;\n"
        "import java.lang.System.Logger;\nimport java.lang.System.Logger.Level;\n"
    )
    t = fp.tokenize(code.encode(), "Java")
    tiles = [align.Tile(0, 0, 24)]
    free = align.free_prefix(np.zeros(len(t), dtype=bool))
    rare = align._informative(
        tiles, t.exact, free, align.RARE_DISTINCT_FACTOR, True, pair_factor=align.RARE_PAIR_FACTOR
    )
    assert align._distinct(tiles, t.exact, True)[0] * align.RARE_DISTINCT_FACTOR == rare < verdict.short_run()
    # Counted at the rare factor, the pairs would have made it one.
    assert align._informative(tiles, t.exact, free, align.RARE_DISTINCT_FACTOR, True) >= verdict.short_run()


def test_every_kind_of_evidence_is_named_where_users_read_it() -> None:
    # The API's schema and the README list what `evidence` can be; a kind added to verdict.EVIDENCE must
    # be named in both.
    from whence.api.schemas import MatchOut

    described = MatchOut.model_fields["evidence"].description or ""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for kind in verdict.EVIDENCE:
        assert re.search(rf"(?<![\w-]){re.escape(kind)}(?![\w-])", described), kind
        assert f"`{kind}`" in readme, kind


_FACTORIAL = """import java.util.Scanner;

public class Factorial {
    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int n = input.nextInt();
        if (n < 0) {
            System.out.println("The number must not be negative.");
            return;
        }
        long product = 1;
        for (int k = 2; k <= n; k++) {
            product = product * k;
        }
        System.out.println(n + "! = " + product);
        input.close();
    }
}
"""
# Another task's program, written apart: only the console preamble and the check of the number read
# are the same (a course's programs all open so), with the same prompt and other names.
_DIGIT_SUM = """import java.util.Scanner;

public class SumOfDigits {
    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int num = sc.nextInt();
        if (num < 0) {
            System.out.println("Please enter a number that is not negative.");
            return;
        }
        int total = 0;
        while (num > 0) {
            total += num % 10;
            num /= 10;
        }
        System.out.println("Sum of digits: " + total);
    }
}
"""


def test_console_programs_sharing_their_preamble_are_not_renamed_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In an index of a few files, a console program's preamble (main, a Scanner on System.in, a prompt,
    # a number read and checked) is held by one document and looked as specific as an algorithm: another
    # task's program was its renamed copy.  The shipped model lists those shapes (whence_dev/
    # idioms.py); a renamed copy of the whole program is still one.
    _index_one(tmp_path, "Factorial.java", _FACTORIAL, "example/course")
    shapes = idioms.shapes()
    model, meta = boilerplate.load()
    assert meta.get("idiom_fingerprints") == len(shapes) and boilerplate.common(shapes).all()
    renamed = _rename(_FACTORIAL, {"input": "reader", "n": "count", "product": "result", "k": "factor"})
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, _DIGIT_SUM)
        assert res.verdict not in search.ATTRIBUTING, _found(res)
        assert _found(search.search(st, renamed))[:1] == [("Factorial.java", "near-duplicate")]
        # Without the idioms (the shipped model less their shapes), the preamble made it a copy.
        without = tmp_path / "model.npz"
        np.savez_compressed(without, hashes=np.setdiff1d(model, shapes), meta=np.array(json.dumps(meta)))
        monkeypatch.setenv("WHENCE_BOILERPLATE", str(without))
        boilerplate.load.cache_clear()
        try:
            res = search.search(st, _DIGIT_SUM)
            assert _found(res)[:1] == [("Factorial.java", "near-duplicate")]
            assert res.matches[0].evidence == "renamed"
        finally:
            monkeypatch.delenv("WHENCE_BOILERPLATE")
            boilerplate.load.cache_clear()


_RAINFALL = """import java.util.Scanner;

public class Rainfall {
    public static double average(double[] values) {
        double sum = 0;
        for (int i = 0; i < values.length; i++) {
            sum += values[i];
        }
        return sum / values.length;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("How many days? ");
        int days = input.nextInt();
        if (days < 1) {
            System.out.println("No days, no rain.");
            return;
        }
        double[] rain = new double[days];
        for (int i = 0; i < days; i++) {
            System.out.print("Rain on day " + (i + 1) + " (mm): ");
            rain[i] = input.nextDouble();
        }
        System.out.printf("Average: %.1f mm%n", average(rain));
        System.out.println("Wettest day: " + (wettest(rain) + 1));
    }

    public static int wettest(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
"""
# An edited copy: every literal hoisted into a constant read as `Precip.X`, names written out
# (`java.util.Scanner`, `java.lang.System.out`), its own methods called as `Precip.mean`, renamed, its
# methods reordered.
_PRECIP = """public class Precip {
    private static final String ASK = "How many days? ";
    private static final String NONE = "No days, no rain.";
    private static final String DAY = "Rain on day ";
    private static final String UNIT = " (mm): ";
    private static final String AVG = "Average: %.1f mm%n";
    private static final String TOP = "Wettest day: ";
    private static final int ZERO = 0;
    private static final int ONE = 1;

    public static int top(final double[] xs) {
        int k = Precip.ZERO;
        for (int j = Precip.ONE; j < xs.length; j++) {
            if (xs[j] > xs[k]) {
                k = j;
            }
        }
        return k;
    }

    public static double mean(final double[] xs) {
        double total = Precip.ZERO;
        for (int j = Precip.ZERO; j < xs.length; j++) {
            total += xs[j];
        }
        return total / xs.length;
    }

    public static void main(final java.lang.String[] argv) {
        java.util.Scanner sc = new java.util.Scanner(System.in);
        java.lang.System.out.print(Precip.ASK);
        final int n = sc.nextInt();
        if (n < Precip.ONE) {
            java.lang.System.out.println(Precip.NONE);
            return;
        }
        double[] mm = new double[n];
        for (int j = Precip.ZERO; j < n; j++) {
            java.lang.System.out.print(Precip.DAY + (j + Precip.ONE) + Precip.UNIT);
            mm[j] = sc.nextDouble();
        }
        java.lang.System.out.printf(Precip.AVG, Precip.mean(mm));
        java.lang.System.out.println(Precip.TOP + (Precip.top(mm) + Precip.ONE));
    }
}
"""


def test_a_dotted_chain_is_one_unit_of_the_structure_view() -> None:
    t = fp.tokenize(b"this.count = java.util.Scanner(System.in); x = Main.LIMIT + 3; this(1);", "java")
    u = structure.units(t)
    # this.count | = | java.util.Scanner | ( | System | . | in | ... (`in` is a keyword of the lexer's)
    assert u.start.tolist()[:6] == [0, 3, 4, 9, 10, 11]
    assert u.view[0] == u.view[2] == u.view[4] == structure._OPERAND
    assert (u.end - u.start).tolist()[:3] == [3, 1, 5]
    assert len(u.view) == len(t) - 8  # three chains of 3, 5 and 3 tokens; `this(1)` is no chain


def test_qualified_names_and_hoisted_literals_keep_a_copys_structure(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hoisted literal is `Precip.ASK` where the original has `"How many days? "`, `System.out` is
    # `java.lang.System.out`: counted as one operand each, every statement keeps its shape.
    t = fp.tokenize(_PRECIP.encode(), "java")
    q = Query.of(t, fp.kgrams(t.exact), fp.kgrams(t.abstract), np.zeros(0, dtype=np.uint64))
    d = fp.tokenize(_RAINFALL.encode(), "java")
    ev = structure.compare(q, d)
    assert ev is not None and ev.copied and ev.cover >= 0.9 and ev.strings == 1.0

    # Token by token, the tiles break at each of those and hold little more than half.
    def flat(tokens: lexer.Tokens) -> structure.Units:
        v = structure.structure_view(tokens)
        return structure.Units(v, np.arange(len(v)), np.arange(1, len(v) + 1))

    monkeypatch.setattr(structure, "units", flat)
    q = Query.of(t, fp.kgrams(t.exact), fp.kgrams(t.abstract), np.zeros(0, dtype=np.uint64))
    ev = structure.compare(q, d)
    assert ev is not None and ev.cover < 0.6 and ev.matched * 2 < len(t)


_CYLINDER = """import java.util.Scanner;

/** Volume and surface of a cylinder. */
public class Cylinder {

    public static double volume(double radius, double height) {
        return Math.PI * radius * radius * height;
    }

    public static double surface(double radius, double height) {
        return 2 * Math.PI * radius * (radius + height);
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Radius: ");
        double radius = input.nextDouble();
        System.out.print("Height: ");
        double height = input.nextDouble();
        if (radius <= 0 || height <= 0) {
            System.out.println("Both must be positive.");
        } else {
            System.out.printf("Volume: %.3f%n", volume(radius, height));
            System.out.printf("Surface: %.3f%n", surface(radius, height));
        }
        input.close();
    }
}
"""
# An obfuscated variant of it (scripts/eval/programs.py's obfuscate, seeded): literals hoisted, a static
# import, names written out, methods reordered, everything renamed.
_PUT1 = """/* Programming lab 7
 * Author: student 199
 */
package net.done.mat70;

import static java.lang.System.out;

public class Put1 {
  private static final String amountData = "Radius: ";
  private static final String elemCheck = "Height: ";
  private static final int step8 = 0;
  private static final String resFlag = "Both must be positive.";
  private static final String showCell = "Volume: %.3f%n";
  private static final String valueRight = "Surface: %.3f%n";
  private static final int result2 = 2;


  public static void main(String[] itemNode) {
    java.util.Scanner kb;
    boolean key1;
    kb = new java.util.Scanner(System.in);
    System.out.print(amountData);
    double workerData = kb.nextDouble();
    out.print(elemCheck);
    double add6 = kb.nextDouble();
    if (workerData <= step8 || step8 >= add6) {
      out.println(resFlag);
    } else {
      key1 = false;
      out.printf(showCell, sumHelper(workerData, add6));
      out.printf(valueRight, accElem(workerData, add6));
    }
    kb.close();
  }

  public static double accElem(double workerData, double add6) {
    return Math.PI * result2 * workerData * (add6 + workerData);
  }

  public static double sumHelper(double workerData, double add6) {
    return Math.PI * workerData * workerData * add6;
  }
}
"""


def test_a_whole_programs_copy_whose_original_no_winnowed_kgram_nominates_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The variant keeps few runs of the original's shape as long as a k-gram, and winnowing selected
    # none of those on both sides: the original was no candidate.  A whole program that nothing
    # attributes also looks up every abstract k-gram, and aligns the documents holding them for
    # order-insensitive evidence.
    _index_one(tmp_path, "Cylinder.java", _CYLINDER, "example/course")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, _PUT1)
        assert _found(res)[:1] == [("Cylinder.java", "near-duplicate")]
        assert res.matches[0].evidence == "restructured"
        monkeypatch.setattr(search, "PROGRAM_CANDIDATES", 0)
        assert search.search(st, _PUT1).verdict == "none"


# Another obfuscated variant of _CYLINDER (the same obfuscator, another seed).
_BARREL = """package com.process.helper27;

import java.util.*;
import static java.lang.System.out;

public class CLlII0 {
    private static final int I0OII0 = 2;
    private static final String Il0O = "Radius: ";
    private static final String IIlOl = "Height: ";
    private static final int I0lO1 = 0;
    private static final int _l01O11 = 8;
    private static final String l0l0 = "Both must be positive.";
    private static final String l0OlI = "Volume: %.3f%n";
    private static final String OllI = "Surface: %.3f%n";


    public static double O0O01(double l11IlOI, double ll1O) {
        double _IO0I;
        _IO0I = ll1O;
        return I0OII0 * Math.PI * l11IlOI * (l11IlOI + ll1O);
    }

    public static double lOI0(double l11IlOI, double ll1O) {
        return Math.PI * l11IlOI * l11IlOI * ll1O;
    }

    public static void main(String[] _0llI1O) {
        double l11IlOI;
        Scanner stdin;
        stdin = new Scanner(System.in);
        int lll0I0;
        out.print(Il0O);
        l11IlOI = stdin.nextDouble();
        out.print(IIlOl);
        double ll1O = stdin.nextDouble();
        if (I0lO1 >= l11IlOI || ll1O <= I0lO1) {
            lll0I0 = _l01O11;
            out.println(l0l0);
        } else {
            out.printf(l0OlI, lOI0(l11IlOI, ll1O));
            out.printf(OllI, O0O01(l11IlOI, ll1O));
        }
        stdin.close();
    }
}

"""


def test_a_small_originals_shape_keys_find_a_copy_none_of_its_winnowed_kgrams_nominates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The variant holds none of the abstract k-grams the original's winnowing selected: a small file's
    # other abstract k-grams, kept under their shape keys, are what its second look finds it by.
    _index_one(tmp_path, "Cylinder.java", _CYLINDER, "example/course")
    with open_store(tmp_path / "i.sqlite", readonly=True) as st:
        res = search.search(st, _BARREL)
        assert _found(res)[:1] == [("Cylinder.java", "near-duplicate")]
        assert res.matches[0].evidence == "restructured"
        monkeypatch.setattr(fp, "shape_keys", lambda abstract: abstract[:0])
        assert search.search(st, _BARREL).verdict == "none"


# A type stub: signatures only, each parameter's name used once.  Renamed, five such lines rename ten
# names, none twice: no repeat can show that the renaming is consistent.
_STUB = """import io
from typing import Any

class ChartLayout:
    anchor: str | None
    def __init__(self, anchor: str | None = None, *, show_grid: bool = False) -> None: ...
    def resize(self, width: int, height: int, keep_ratio: bool = True) -> tuple[int, int]: ...
    @property
    def area(self) -> float: ...
    def export(self, target: bytes | str, dpi: int | None = None) -> io.BytesIO: ...
    def rotate(self, degrees: float, about: tuple[float, float] | None = None) -> None: ...
    def legend(self, entries: list[str], *, frame: bool = ..., columns: int = 1) -> Any: ...
"""
# Another stub that shares the shape of two of those lines, with names of its own: the shape is rare
# (two documents), not unique.
_SIBLING = """class Canvas:
    def resize(self, w: int, h: int, fit: bool = True) -> tuple[int, int]: ...
    @property
    def depth(self) -> float: ...
    def clear(self) -> None: ...
"""


def test_a_stub_sharing_a_renamed_stubs_shape_is_not_its_origin(tmp_path: Path) -> None:
    # Five renamed lines of a stub rename ten names, each used once: the shape is all that is left, and
    # another stub has the shape of two of them (49 tokens, both documents few: a rare shape).  No
    # repeated name can tell a renamed copy from code of the same shape, so the sibling is not named.
    # (A rule that took a rare shape with four or more names renamed one to one for a copy gained nine
    # fresh Python stubs and one Cloud SDK file, and named this sibling: see docs/evaluation.md.)
    src = tmp_path / "src"
    src.mkdir()
    (src / "layout.pyi").write_text(_STUB)
    (src / "canvas.pyi").write_text(_SIBLING)
    for module in ("bisect.py", "textwrap.py"):
        shutil.copy(STDLIB / module, src)
    _build(src, tmp_path / "i.sqlite", "charts")
    piece = "".join(_STUB.splitlines(keepends=True)[6:11])  # resize .. rotate
    names = ["resize", "width", "height", "keep_ratio", "area", "export", "target", "dpi", "io", "rotate"]
    copy = _rename_own(piece, {n: f"v{i}" for i, n in enumerate([*names, "degrees", "about"], 1)})
    assert "-> v9.BytesIO:" in copy
    with open_store(tmp_path / "i.sqlite", readonly=True) as store:
        res = search.search(store, copy)
        assert res.tokens < fp.K + candidates.SHORT_QUERY_KGRAMS
        assert "canvas.pyi" not in [path for path, v in _found(res) if v in search.ATTRIBUTING], _found(res)
    # The sibling does share the shape: an abstract span of 40 tokens and more.
    spans, _, _ = _abstract_spans(copy, fp.tokenize(_SIBLING.encode(), "Python"))
    assert max(a.span.tokens for a in spans) >= 40


_SHAPES = """class Rect:
    \"\"\"An axis-aligned rectangle.\"\"\"

    def __init__(self, left, top, width, height):
        self.left, self.top = left, top
        self.width, self.height = width, height

    def area(self):
        return self.width * self.height

    def contains(self, x, y):
        inside_x = self.left <= x < self.left + self.width
        inside_y = self.top <= y < self.top + self.height
        return inside_x and inside_y

    def scaled(self, factor):
        grown = Rect(self.left, self.top, self.width * factor, self.height * factor)
        grown.label = "scaled by %s" % factor
        return grown
"""


def test_a_copy_whose_methods_rename_self_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A renamer that knows only Python's keywords renames `self` too (a name by convention only); the
    # abstract view keeps `self` as a keyword, so each method's k-grams break at every `self.x`.  Nothing
    # attributes the query: it is looked for again with the name its methods call their object by taken
    # for `self` (renamed_self), and its exact tokens as they are.
    find = search.renamed_self  # (monkeypatched below)
    index = _index_one(tmp_path, "shapes.py", _SHAPES, "example/shapes")
    lines = _SHAPES.splitlines(keepends=True)
    piece = "".join(lines[10:19])  # contains .. scaled
    # (`scaled` is also a word of the string literal, which a copier keeps: not renamed)
    names = {"self": "me", "contains": "holds", "x": "px", "y": "py", "inside_x": "in_x", "inside_y": "in_y",
             "factor": "k", "grown": "out", "Rect": "Box"}  # fmt: skip
    copy = _rename_own(piece, names)
    assert "self" not in copy and "me.left <= px < me.left + me.width" in copy
    assert search.renamed_self(copy.encode()) == b"me"
    with open_store(index, readonly=True) as store:
        res = search.search(store, copy)
        assert _found(res)[:1] == [("shapes.py", "near-duplicate")], _found(res)
        # the same with `self` kept (the evaluation's renamer): found without a second look
        kept = _rename_own(piece, {k: v for k, v in names.items() if k != "self"})
        assert search.renamed_self(kept.encode()) is None
        assert _found(search.search(store, kept))[:1] == [("shapes.py", "near-duplicate")]
        # without the second look, the renamed `self` hides the copy
        monkeypatch.setattr(search, "renamed_self", lambda raw: None)
        assert search.search(store, copy).verdict not in search.ATTRIBUTING
    # a module's function, or a classmethod's `cls`: no method's object to restore
    assert find(b"def area(r):\n    return r.w * r.h\n") is None
    assert find(b"    @classmethod\n    def make(cls, n):\n        return cls.build(n)\n") is None
    # a method's body cut without its `def` line is not looked at (indented code's most used object is
    # as often a module's), nor a static method's first parameter
    body = "".join(copy.splitlines(keepends=True)[1:4])
    assert "def" not in body and find(body.encode()) is None
    assert find(b"    @staticmethod\n    def area(r):\n        return r.w * r.h\n") is None


def test_a_scanned_file_whose_methods_rename_self_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same second look in a scan (cover): a file that pasted the whole class with `self` renamed,
    # and code of its own after it, reports the class's region as shapes.py's.
    index = _index_one(tmp_path, "shapes.py", _SHAPES, "example/shapes")
    names = {"self": "me", "contains": "holds", "x": "px", "y": "py", "inside_x": "in_x", "inside_y": "in_y",
             "factor": "k", "grown": "out", "Rect": "Box"}  # fmt: skip
    copy = (
        _rename_own(_SHAPES, names) + "\n\ndef total_area(boxes):\n    return sum(b.area() for b in boxes)\n"
    )
    assert "self" not in copy

    def scan() -> list[tuple[str, str, tuple[int, int]]]:
        with open_store(index, readonly=True) as st:
            documents, cap = cov.cap_for(st)
            prep = cov.prepare(copy, language="Python")
            res = cov.cover(st, prep, st.postings(prep.lookup.view(np.int64), cap), documents=documents)
        return [(m.primary.path, m.verdict, m.spans[0].query_lines) for m in res.matches]

    found = scan()
    assert [(path, v) for path, v, _ in found] == [("shapes.py", "near-duplicate")], found
    assert found[0][2][0] <= 4 and found[0][2][1] >= 18  # __init__ .. scaled
    assert search.methods_self(copy.encode()) == b"me"
    monkeypatch.setattr(search, "renamed_self", lambda raw: None)  # without the second look: nothing
    assert scan() == []
    # A module of functions whose nested helper uses its parameter as an object: search would look
    # again at such a snippet, a scan does not look again at such a file (no class's methods say it).
    helpers = b"def walk(tree):\n    def visit(expr):\n        return expr.args\n\n    return visit(tree)\n"
    monkeypatch.undo()
    assert search.renamed_self(helpers) == b"expr" and search.methods_self(helpers) is None
    # ... nor at a class one of whose several methods' first parameters is such a name.
    mixed = b"class Walker:\n    def run(node):\n        return node.kids\n" + b"".join(
        b"    def step%d(me, n):\n        return me.go(n)\n" % i for i in range(3)
    )
    assert search.renamed_self(mixed) == b"node" and search.methods_self(mixed) is None


#: A module of one repeated shape: a lazily loaded reader per language, each with its own strings.
_READERS = "".join(
    f'{lang}: ParallelReader = LazyReader(\n    "parallel/{lang}", ParallelReader, r"tx-.*\\.{code}", '
    'encoding="utf-8"\n)\n\n'
    for lang, code in (
        ("danish", "da"), ("dutch", "nl"), ("english", "en"), ("finnish", "fi"), ("french", "fr"),
        ("german", "de"), ("greek", "el"), ("italian", "it"), ("portuguese", "pt"), ("spanish", "es"),
        ("swedish", "sv"),
    )
)  # fmt: skip


def test_a_renamed_copy_of_lines_of_one_shape_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renamed, each of eight entries of one shape has the same abstract tokens: every abstract k-gram of
    # the query occurs six to eight times in it.  A k-gram repeated so seeds runs (up to
    # align.MAX_SEED_REPEATS times), and the copy, which keeps its strings, is found at its lines.
    text = "from corpora import LazyReader, ParallelReader\n\n" + _READERS
    path = _index_one(tmp_path, "readers.py", text, "example/corpora")
    lines = text.splitlines(keepends=True)
    piece = "".join(lines[6:38])  # the second to the ninth entry
    renamed = _rename_own(piece, {"ParallelReader": "Reader", "LazyReader": "Deferred", "encoding": "codec"})
    renamed = re.sub(r"^(\w+):", lambda m: m.group(1)[:3] + "_corpus:", renamed, flags=re.M)
    toks = fp.tokenize(renamed.encode(), "Python")
    counts = np.unique(fp.kgrams(toks.abstract), return_counts=True)[1]
    assert counts.min() > 2 and counts.max() <= align.MAX_SEED_REPEATS
    with open_store(path, readonly=True) as st:
        res = search.search(st, renamed)
        assert _found(res)[:1] == [("readers.py", "near-duplicate")], _found(res)
        assert [s.source_lines for s in res.matches[0].spans] == [(7, 37)]
        # ... which a k-gram seeding nothing once repeated more than twice (as before) did not find.
        monkeypatch.setattr(align, "MAX_SEED_REPEATS", 2)
        assert search.search(st, renamed).verdict == "none"


def test_lines_a_document_holds_twice_are_reported_at_both_places(tmp_path: Path) -> None:
    # Both places agree token for token with the query: align.best_placed keeps every place that agrees
    # on the most tokens, so a verbatim copy of lines a file holds twice names both.
    block = "".join(_lines_from("heapq.py", "def heappushpop(", 12))
    text = "import textwrap\n\n" + block + "\n\nclass Again:\n    pass\n\n" + block
    path = _index_one(tmp_path, "twice.py", text, "example/twice")
    with open_store(path, readonly=True) as st:
        res = search.search(st, block)
    assert _found(res)[:1] == [("twice.py", "verbatim")], _found(res)
    first = text[: text.index(block)].count("\n") + 1
    second = text[: text.rindex(block)].count("\n") + 1
    starts = sorted(s.source_lines[0] for s in res.matches[0].spans)
    assert starts == [first, second], starts


def test_a_template_filled_with_other_module_paths_is_not_a_renamed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A package's __init__ of star imports from its modules, and another package's of the same template:
    # each line's abstract shape is the same, and "renaming" isomorphism -> approximation is consistent.
    # But every name that differs is one after a `.`, a module path's: what a copier keeps and a
    # sibling of a template fills in with its own (verdict.only_foreign_renamed).
    def star_imports(package: str, modules: list[str]) -> str:
        return "".join(f"from graphs.algorithms.{package}.{m} import *\n" for m in modules)

    approximation = "clique clustering connectivity density dominating kcomponents matching ramsey steiner"
    indexed = star_imports("approximation", approximation.split())
    isomorphism = "isomorph userfunc helpers temporal ismags tree pp"
    query = star_imports("isomorphism", isomorphism.split())
    # Not attributed; it was, taken for a renamed copy, before that test
    _no_copy_but_without(
        tmp_path,
        monkeypatch,
        "__init__.py",
        indexed,
        "example/graphs",
        query,
        "only_foreign_renamed",
        lambda *_: False,
    )


def test_names_after_a_docstrings_last_sentence_are_renamed_as_the_copys_own(tmp_path: Path) -> None:
    # Each field's docstring ends its sentence with a `.`, and Python's docstrings are lexed as words:
    # the next field's name follows a `.`, but on another line, so it is the copy's own name, not a
    # member (verdict.only_foreign_renamed), and the renamed fields are a renamed copy.
    fields = [
        ("request_id", "str", "The identifier the service gave the request being answered."),
        ("attempt_count", "int", "How many times the client sent the request before this answer."),
        ("queue_position", "int", "Where the request waits in the worker's queue of pending jobs."),
        ("status", 'Literal["job.pending", "job.running"]', "Whether a worker has taken the job yet."),
        ("retry_after", "float", "Seconds the client should wait before asking for the job again."),
    ]
    body = "".join(f'    {name}: {kind}\n    """{doc}"""\n\n' for name, kind, doc in fields)
    text = f"from typing import Literal\n\nfrom .models import Model\n\n\nclass PendingJob(Model):\n{body}"
    path = _index_one(tmp_path, "pending_job.py", text, "example/api")
    # From the first docstring on: every renamed name follows a docstring's last sentence.
    renamed = _rename_own(body.split("\n", 1)[1], {name: f"v{i}" for i, (name, _, _) in enumerate(fields)})
    toks = fp.tokenize(renamed.encode(), "Python")
    renamed_at = [renamed[: renamed.index(f"v{i}:")].count("\n") + 1 for i in range(1, len(fields))]
    firsts = np.flatnonzero(np.diff(toks.line_start, prepend=0) > 0)  # each line's first token
    names = firsts[np.isin(toks.line_start[firsts], renamed_at)]
    assert len(names) == len(fields) - 1 and align._members(toks)[names].all()
    with open_store(path, readonly=True) as st:
        res = search.search(st, renamed)
    assert _found(res)[:1] == [("pending_job.py", "near-duplicate")], _found(res)
    # ... by the renaming test of a span that decides (taken for members, the names failed it, and only a
    # shape this small index holds once found the copy)
    assert res.matches[0].evidence == "renamed"


_WIKI = "https://en.wikipedia.org/wiki/"


def test_a_list_of_links_is_not_a_renamed_copy_of_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two modules' docstrings end in reStructuredText link targets to encyclopedia pages.  Every row's
    # slot names differ, each used once, and every row keeps the same words (`https`, `en`, `wikipedia`,
    # `org`, `wiki`): a table's template, which any other table of that template keeps too, not names
    # a copy kept (verdict._row_template).
    def module(summary: str, targets: dict[str, str], code: str) -> str:
        rows = "".join(f"    .. _{name}: {_WIKI}{page}\n" for name, page in targets.items())
        return f'"""{summary}\n\nSee:\n\n{rows}"""\n\n{code}\n'

    stats = ["Mean", "Variance", "Skewness", "Kurtosis", "Median", "Mode"]
    indexed = module("Statistics of a sample.", {p: p for p in stats}, "import math")
    sets = ["Logical_conjunction", "Logical_disjunction", "Set_intersection", "Set_union", "Power_set"]
    query = module("Operations on sets.", {p.split("_")[1]: p for p in sets}, "import itertools")
    # Not attributed; it was, taken for a renamed copy that kept five names, before that test
    _no_copy_but_without(
        tmp_path, monkeypatch, "stats.py", indexed, "example/stats", query, "_row_template", lambda *_: set()
    )


def test_two_names_made_one_are_no_renaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Links to encyclopedia pages against links to package pages: read from the query, `en` always
    # stands for `pypi`, `wikipedia` for `python` and `wiki` for `pypi` again, consistently.  But a
    # renaming is one to one, and read back, `pypi` stands for two names (verdict.renamed_copy).
    def module(summary: str, rows: str, code: str) -> str:
        return f'"""{summary}\n\nSee:\n\n{rows}"""\n\n{code}\n'

    packages = ["iso8601", "dateutil", "pytz", "tzlocal", "arrow", "pendulum"]
    pypi = "".join(f"    .. _{p}: https://pypi.python.org/pypi/{p}\n" for p in packages)
    indexed = module("Parsing times.", pypi, "import datetime")
    pages = ["Logical_conjunction", "Logical_disjunction", "Set_intersection", "Set_union", "Power_set"]
    wiki = "".join(f"    .. _{p.split('_')[1]}: {_WIKI}{p}\n" for p in pages)
    # ... in a module long enough that its span is no short query's (a rare span's test reads names
    # both ways already)
    body = "import itertools\n\n\n" + "".join(
        f"def subsets_{i}(items, k={i}):\n"
        f"    return [set(c) for c in itertools.combinations(items, k) if len(c) % {i + 2} == {i % 3}]\n\n\n"
        for i in range(12)
    )
    query = module("Operations on sets.", wiki, body)
    # Not attributed; it was, taken for a renamed copy, when only the query's names were read
    _no_copy_but_without(
        tmp_path, monkeypatch, "times.py", indexed, "example/times", query, "_consistent", lambda *_: True
    )


def test_another_objects_members_do_not_make_up_for_names_renamed_two_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two tests compare attributes row after row.  Read as a renaming, `__dict__` -> `attrs` and
    # `cell2` -> `ds` hold at every use, but `cell1` is `actual` on two rows and `expected` on two:
    # four in five uses of all renamed names agree only thanks to another object's members, which a
    # copier does not rename.  The copy's own names must agree as well (verdict.renamed_copy).
    indexed = (
        "import xarray as xr\n\n\ndef test_resample_keeps_attrs(ds):\n"
        "    actual = ds.resample(time='1MS').mean()\n"
        "    expected = ds.resample(time='1MS').mean().sortby('location')\n"
        "    assert_allclose(actual, expected)\n"
        "    assert actual.time.attrs == ds.time.attrs\n"
        "    assert actual.location.attrs == ds.location.attrs\n\n"
        "    assert expected.time.attrs == ds.time.attrs\n"
        "    assert expected.location.attrs == ds.location.attrs\n"
    )
    query = (
        "import pytest\n\n\ndef assert_equal_cell_styles(cell1, cell2):\n"
        "    # compare every style\n"
        "    assert cell1.alignment.__dict__ == cell2.alignment.__dict__\n"
        "    assert cell1.border.__dict__ == cell2.border.__dict__\n"
        "    assert cell1.fill.__dict__ == cell2.fill.__dict__\n"
        "    assert cell1.font.__dict__ == cell2.font.__dict__\n"
        "    assert cell1.number_format == cell2.number_format\n"
    )
    # Not attributed; it was, taken for a renamed copy, when every renamed name was counted together
    _no_copy_but_without(
        tmp_path,
        monkeypatch,
        "test_resample.py",
        indexed,
        "example/grids",
        query,
        "_consistent",
        lambda *_: True,
    )


def test_literals_that_agree_do_not_decide_against_names_mapped_every_which_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A graph test's setup adds weighted edges row after row; a mock's test asserts its awaits row after
    # row with the same small numbers.  Half of the literals agree, which would decide, but `add_edge`
    # stands for another member on each row and `G` for `spec` as `nx` does: the names say it is not
    # a renamed copy (verdict.renamed_copy).
    indexed = (
        "import asyncio\nimport unittest\nfrom unittest.mock import AsyncMock, call\n\n\n"
        "class AwaitedTest(unittest.TestCase):\n"
        "    def test_awaited_with_arguments(self):\n"
        "        spec = AsyncMock()\n"
        "        awaitable = spec(1, 2, c=3)\n"
        "        self.assertEqual(spec.await_count, 0)\n"
        "        self.assertIsNone(spec.await_args)\n"
        "        spec.assert_not_awaited()\n\n"
        "        asyncio.run(awaitable)\n\n"
        "        self.assertEqual(spec.await_count, 1)\n"
        "        self.assertEqual(spec.await_args, call(1, 2, c=3))\n"
        "        self.assertEqual(spec.await_args_list, [call(1, 2, c=3)])\n"
        "        spec.assert_awaited_once()\n"
        "        spec.assert_awaited_once_with(1, 2, c=3)\n"
        "        spec.assert_awaited_with(1, 2, c=3)\n"
        "        spec.assert_awaited()\n\n"
        "        with self.assertRaises(AssertionError):\n"
        "            spec.assert_any_await(e=1)\n"
    )
    query = (
        '        sp = pytest.importorskip("scipy")\n\n'
        "    def setup_method(self):\n"
        "        G = nx.Graph()\n"
        "        G.add_edge(1, 2, weight=2)\n"
        "        G.add_edge(1, 3, weight=1)\n"
        "        G.add_edge(2, 3, weight=4)\n"
        "        self.G = G\n"
    )
    # Not attributed; it was, taken for a renamed copy by its literals alone
    _no_copy_but_without(
        tmp_path,
        monkeypatch,
        "test_awaits.py",
        indexed,
        "example/mocks",
        query,
        "_consistent",
        lambda *_: True,
    )
