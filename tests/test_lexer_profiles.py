"""Comment and string syntax follow the file's language: syntax profiles, language names and guessing,
and what they change for indexing, search and scans (a real SQLite index, real files)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest

from whence.errors import IndexFormatError
from whence.index import cover as cov
from whence.index import fingerprint as fp
from whence.index import ingest, lexer, search
from whence.index.stores import open_store

STDLIB = Path(sysconfig.get_paths()["stdlib"])
IMAGE_PY = STDLIB / "email" / "mime" / "image.py"  # its docstrings say "image/* type"


def exact(data: str | bytes, language: str | None) -> list[int]:
    """The exact token hashes of ``data`` lexed as ``language`` -- by the kernel, checked against the
    lexer (the specification)."""
    raw = data.encode() if isinstance(data, str) else data
    got = fp.tokenize(raw, language)
    ref = lexer.tokenize(raw, language)
    assert got.exact.tolist() == ref.exact.tolist(), (raw, language)
    assert got.line_start.tolist() == ref.line_start.tolist(), (raw, language)
    return [int(x) for x in got.exact]


# --- profiles ----------------------------------------------------------------------------------------


def test_python_docstring_with_a_block_comment_opener_keeps_all_its_tokens() -> None:
    data = IMAGE_PY.read_bytes()
    assert b"image/*" in data
    python = exact(data, "Python")
    assert len(python) > 700  # the whole module
    # The default rules drop `/*` (a block comment's opener) and lex on: only those two tokens differ.
    assert len(exact(data, None)) == len(python) - 2 * data.count(b"/*")
    # Guessed when not given.
    assert lexer.guess_language(data) == "Python"


@pytest.mark.parametrize(
    ("language", "with_comment", "without"),
    [
        ("Python", "x = f(1)  # a note\n", "x = f(1)\n"),
        ("Python", "'''a <!-- b /* c'''\nx = 1\n", "a < ! - - b / * c\nx = 1\n"),
        ("Common Lisp", "(defun f (x) ; the x\n  x)", "(defun f (x)\n  x)"),
        ("Emacs Lisp", ";;; f.el --- a mode\n(provide 'f)", "(provide 'f)"),
        ("Assembly", "mov eax, 1 ; one\nret", "mov eax, 1\nret"),
        ("TeX", "\\section{A} % a note\nB", "\\section{A}\nB"),
        ("Erlang", "f(X) -> X. % identity", "f(X) -> X."),
        ("MATLAB", "x = 1; % one\ny = 2;", "x = 1;\ny = 2;"),
        ("SQL", "SELECT a--the a\nFROM t", "SELECT a\nFROM t"),
        ("Haskell", "f x = x -- identity\ng", "f x = x\ng"),
        ("Lua", "local x = 1 -- one\ny = 2", "local x = 1\ny = 2"),
        ("Pascal", "x := 1; // c\ny := 2;", "x := 1;\ny := 2;"),
        (
            "Visual Basic .NET",
            "Dim x As Integer ' the count\nREM set up\nrem again\nx = 1",
            "Dim x As Integer\nx = 1",
        ),
        ("Batchfile", "@echo off\nREM set up\n:: also a comment\nset X=1", "@echo off\nset X=1"),
        ("Shell", "echo $# ${#x} # count", "echo $# ${#x}"),
        ("JavaScript", "x = 1; // one", "x = 1;"),
        ("Dockerfile", "# syntax\nRUN make # not a comment here", "RUN make # not a comment here"),
    ],
)
def test_each_language_drops_its_own_line_comments(language: str, with_comment: str, without: str) -> None:
    assert exact(with_comment, language) == exact(without, language)


@pytest.mark.parametrize(
    ("language", "with_comment", "as_code"),
    [
        ("C", "x = 1; /* a note */ y = 2;", "x = 1; a note y = 2;"),
        ("Java", "/**\n * Returns a sum.\n *\n * @param a\n */\nint f;", "Returns a sum. @param a int f;"),
        ("Common Lisp", "#| a #| nested |# b |# (f)", "a nested b (f)"),
        ("MATLAB", "x = 1; % one\n%{\nblock\n%}\ny = 2;", "x = 1;\nblock\ny = 2;"),
        ("SQL", "SELECT a--the a\nFROM t /* all */", "SELECT a\nFROM t all"),
        ("Haskell", "f x = x -- identity\n{- a {- nested -} b -} g", "f x = x\na nested b g"),
        ("Lua", "local x = 1 -- one\n--[[ a\nblock ]] y = 2", "local x = 1\na block y = 2"),
        ("OCaml", "let x = 1 (* a (* nested *) b *) in x", "let x = 1 a nested b in x"),
        ("Pascal", "x := 1; { a } (* b *) // c\ny := 2;", "x := 1; a b\ny := 2;"),
        ("Rust", "/* a /* nested */ b */ fn f() {}", "a nested b fn f() {}"),
        ("HTML", "<p>x</p><!-- a note --><b>", "<p>x</p> a note <b>"),
        ("PowerShell", "<# .SYNOPSIS\n  a note #>\n$x = 1", ".SYNOPSIS a note\n$x = 1"),
        # an unclosed comment's contents, a stray closer
        ("C", "x = 1; /* not closed\ny = 2;", "x = 1; not closed\ny = 2;"),
        ("Go", "done */ x := 1", "done x := 1"),
    ],
)
def test_block_comments_are_transparent(language: str, with_comment: str, as_code: str) -> None:
    """The opener and closer are dropped, what they enclose is lexed as code (and a doc comment's `*`
    decorations are dropped)."""
    assert exact(with_comment, language) == exact(as_code, language)


@pytest.mark.parametrize("language", ["JavaScript", "Go", "Rust", None])
def test_an_odd_quote_in_a_comment_never_swallows_the_code_after_it(language: str | None) -> None:
    # A backtick (or Rust's `"`) may span lines in code; inside a comment whose opener the lexer saw, it
    # must close on its line, so the file's code after the comment lexes as it would alone.
    code = 'x = f(1);\ny = `t` + "u";\n'
    for prose in ("don't `overflow it", 'a 12" ruler', "see http://x/*y */ z"):
        commented = f"/**\n * {prose}\n */\n{code}"
        assert exact(commented, language)[-len(exact(code, language)) :] == exact(code, language), prose


def _block_commented_file(sx: lexer.Syntax) -> bytes:
    """A file of the profile's comment syntax: code, a doc comment of each block pair with prose,
    quotes, a URL and decorations, code on the closer's line."""
    line = sx.line[0][0].decode() if sx.line and not sx.line[0][1] & lexer.WORD else ""
    parts = ["x = f(1)\n"]
    for opener, closer, _ in sx.block:
        o, c = opener.decode(), closer.decode()
        parts.append(
            f'{o}\n * Returns the "sum" of a and b; don\'t `overflow`\n * see http://example.org/sum,\n'
            f" *\n * @param a one {line} a note\n {c} y = g(2)\nz = [a, b]\n"
        )
    return "".join(parts).encode()


@pytest.mark.parametrize(
    "name", [*sorted(n for n, sx in lexer.PROFILES.items() if sx.block), "default"], ids=str
)
def test_code_only_lexing_drops_block_comments_whole(name: str) -> None:
    """What search aligns a copy stripped of its comments with: the file's tokens less its comments'
    contents (each comment removed from the text, then lexed), on the same lines."""
    sx = lexer.DEFAULT if name == "default" else lexer.PROFILES[name]
    data = _block_commented_file(sx)
    stripped = data
    for opener, closer, _ in sx.block:
        a = stripped.index(opener)
        b = stripped.index(closer, a) + len(closer)
        stripped = stripped[:a] + b"\n" * stripped[a:b].count(b"\n") + stripped[b:]
    code = lexer.tokenize(data, syntax=sx, code_only=True)
    plain = lexer.tokenize(stripped, syntax=sx)
    assert code.exact.tolist() == plain.exact.tolist()
    assert code.line_start.tolist() == plain.line_start.tolist()
    whole = fp.tokenize(data, None if name == "default" else name)
    assert len(code) < len(whole)
    if name != "default":  # the kernel agrees
        assert fp.tokenize(data, name, code_only=True).exact.tolist() == code.exact.tolist()
        assert fp.code_tokens(data, name, whole) is not None
    plain_code = b"x = f(1)\n"
    assert fp.code_tokens(plain_code, None if name == "default" else name, fp.tokenize(plain_code)) is None


@pytest.mark.parametrize(
    "name", [*sorted(n for n, sx in lexer.PROFILES.items() if sx.block), "default"], ids=str
)
def test_a_snippet_cut_inside_a_block_comment_lexes_like_its_file(name: str) -> None:
    """Every profile with block comments: a snippet that starts on any line of the file (inside a
    comment or not) lexes as the same tokens, on the same lines, as that part of the file."""
    sx = lexer.DEFAULT if name == "default" else lexer.PROFILES[name]
    data = _block_commented_file(sx)
    whole = lexer.tokenize(data, syntax=sx)
    lines = data.split(b"\n")
    for first in range(len(lines)):
        snippet = b"\n".join(lines[first:])
        part = lexer.tokenize(snippet, syntax=sx)
        keep = whole.line_start > first
        if name != "default":  # the kernel agrees (the default profile is exact()'s None)
            assert exact(snippet, name) == part.exact.tolist()
        assert part.exact.tolist() == whole.exact[keep].tolist(), (name, first)
        assert (part.line_start + first).tolist() == whole.line_start[keep].tolist(), (name, first)


@pytest.mark.parametrize(
    ("language", "code", "tokens"),
    [
        ("Python", "x = 1 /* not a comment */ + 2", 12),  # Python has no block comments
        ("C", "#include <stdio.h>", 7),  # a directive, not a comment
        ("Markdown", "a <!-- b --> c /* d */", 15),  # prose: every mark is a token
        ("Visual Basic .NET", "x = Remove(y)", 6),  # REM only as a word
        ("SQL", "SELECT 'it''s' FROM t", 5),  # quotes doubled (two strings), no backslash escapes
        ("C", "s = x--;", 6),
        ("Haskell", "f' x = x'", 6),  # primes are not quotes
        ("TeX", "50\\% off", 4),  # an escaped percent sign
    ],
)
def test_what_is_not_a_comment_in_a_language_stays(language: str, code: str, tokens: int) -> None:
    assert len(exact(code, language)) == tokens


def test_regex_and_string_literals_hold_comment_markers() -> None:
    js = "ok = /[/*]/.test(s) && /\\/\\//.test(t); n = a / b / c;"
    as_strings = 'ok = "[/*]".test(s) && "\\/\\/".test(t); n = a / b / c;'
    assert exact(js, "JavaScript") == exact(as_strings, "JavaScript")
    assert len(exact(js, None)) < len(exact(js, "JavaScript"))  # the default drops `/*` and `//...`
    # At most lexer.REGEX_MAX bytes: a longer one is division (punctuation) and what it holds is code.
    longest = "a" * (lexer.REGEX_MAX - 2)
    assert len(exact(f"x = /{longest}/;", "JavaScript")) == 4
    assert len(exact(f"x = /{longest}a/;", "JavaScript")) == 6
    # Division after an operand is not a regex: the same tokens as with no regex rule at all.
    div = "n = (a) / b / c; m = x[1] / 2 / y"
    assert exact(div, "JavaScript") == exact(div, "Java")
    # A C string holding `/*`, a JS string holding `//`.
    c_code = 'const char *p = "/*"; int after = 1;'
    assert len(exact(c_code, "C")) == 12
    assert exact('u = "http://x"; v = 1', "JavaScript") == exact("u = 'http://x'; v = 1", "JavaScript")


def test_quotes_that_do_not_close_are_punctuation() -> None:
    # An apostrophe in prose (a docstring lexed as code) does not swallow the code after it.
    assert exact('"""Don\'t panic.\nx = f(1)\n"""', "Python") == exact("Don ' t panic.\nx = f(1)\n", "Python")
    # Rust lifetimes are not strings; a character literal is one.
    rust = exact("fn f<'a, 'b>(x: &'a str, c: char) -> &'b str { 'x' }", "Rust")
    assert len(rust) == 30  # fn f < ' a , ' b > ( ... { 'x' }: one string
    assert exact("let c = 'x';", "Rust") == exact('let c = "x";', "Rust")


def test_default_profile_keeps_the_union_rules() -> None:
    for code in ("a // b\n#x\n-- y\n/* z */ <!-- w --> 'q' `r`", "x = '''a /* b'''"):
        assert exact(code, None) == exact(code, "no such language") == exact(code, "")


# --- names and guessing --------------------------------------------------------------------------------


def test_language_names_and_aliases() -> None:
    assert len(lexer.PROFILES) >= 30
    for name in ("Python", "python", "PY", "py"):
        assert lexer.syntax_for(name) is lexer.PROFILES["Python"]
    assert lexer.canonical_language("js") == "JavaScript"
    assert lexer.canonical_language("c++") == lexer.canonical_language("cpp") == "C++"
    assert lexer.canonical_language("visual basic .net") == "Visual Basic .NET"
    assert lexer.canonical_language("Klingon") is None
    assert lexer.syntax_for("Klingon") is lexer.DEFAULT
    assert lexer.syntax_for(None) is lexer.DEFAULT
    assert lexer.language_for_path("a/b/image.py") == "Python"
    assert lexer.language_for_path("x/Makefile") == "Makefile"
    assert lexer.language_for_path("src/lib.RS") == "Rust"
    assert lexer.language_for_path("README") is None
    assert ingest.language_of("init.el") == "Emacs Lisp"
    # Every extension names a profile.
    assert set(lexer.EXTENSIONS.values()) <= set(lexer.PROFILES)
    assert set(lexer.ALIASES.values()) <= set(lexer.PROFILES)


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("#!/usr/bin/env python3\nprint('hi')\n", "Python"),
        ("import os\n\ndef main(argv):\n    return os.getcwd()\n", "Python"),
        ('#include <stdio.h>\n\nint main(void) {\n    printf("hi\\n");\n    return 0;\n}\n', "C"),
        ("#include <vector>\nstd::vector<int> v;\n", "C++"),
        (
            "package org.example;\n\npublic class A {\n    @Override\n    public String toString() {}\n}\n",
            "Java",
        ),
        ('package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(1)\n}\n', "Go"),
        ("fn main() {\n    let mut v = Vec::new();\n    v.push(1);\n}\n", "Rust"),
        ("<?php\necho $x;\n", "PHP"),
        ("(defun square (x)\n  (* x x))\n", "Common Lisp"),
        ("\\documentclass{article}\n\\begin{document}\nHi\n\\end{document}\n", "TeX"),
    ],
)
def test_guess_language(code: str, language: str) -> None:
    assert lexer.guess_language(code.encode()) == language


def test_guess_language_takes_linear_time_on_any_text() -> None:
    # No clue backtracks over a long line or a long run of lines (one took a second on 32 KiB of "x").
    for unit in (b"x", b"_", b"class Foo\n", b"a ", b"f(", b"def f", b"$a", b"(* ", b"- "):
        t0 = time.perf_counter()
        lexer.guess_language(unit * (40_000 // len(unit)))
        assert time.perf_counter() - t0 < 0.5, unit


def test_guess_language_says_none_when_unsure() -> None:
    for code in ("x = 1\n", "hello world\n", "", "a b c ; d"):
        assert lexer.guess_language(code.encode()) is None


# --- indexing, search, scan ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mime")
    shutil.copy(IMAGE_PY, root / "image.py")
    shutil.copy(STDLIB / "textwrap.py", root / "textwrap.py")
    # The same content as a different language, and a file of no known language.
    (root / "notes").write_text("these are some notes about nothing in particular\n" * 20)
    path = tmp_path_factory.mktemp("index") / "index.sqlite"
    with open_store(path, create=True) as store:
        ingest.build(store, ingest.sources([root], repo="python/cpython"), workers=1)
    return path


def _fragment(path: Path, first: int, last: int) -> str:
    return "".join(path.read_text().splitlines(keepends=True)[first - 1 : last])


def test_ingestion_stores_the_language_it_lexed_with(image_index: Path, tmp_path: Path) -> None:
    with open_store(image_index, readonly=True) as store:
        langs = {f.occurrence.path: f.language for f in store.repository("python/cpython").files}
    assert langs == {"image.py": "Python", "textwrap.py": "Python", "notes": ""}
    # A JSONL record's language is spelled as the lexer's profile.
    jsonl = tmp_path / "docs.jsonl"
    code = IMAGE_PY.read_text()
    jsonl.write_text(
        json.dumps({"content": code, "path": "x/image", "language": "python", "repo": "a/b"}) + "\n"
    )
    with open_store(tmp_path / "j.sqlite", create=True) as store:
        ingest.build(store, ingest.sources([jsonl]), workers=1)
        [f] = store.repository("a/b").files
        assert f.language == "Python"
        assert search.search(store, code[2000:3500], language="Python").verdict == "verbatim"


def test_a_docstring_saying_image_star_is_found_verbatim(image_index: Path) -> None:
    code = _fragment(IMAGE_PY, 1, 60)  # the module docstring and the rules with image/* in them
    assert "image/*" in code
    with open_store(image_index, readonly=True) as store:
        for language in ("Python", "py", None):  # given, an alias, guessed
            res = search.search(store, code, language=language)
            assert res.verdict == "verbatim", language
            top = res.matches[0]
            assert top.primary.path == "image.py"
            assert top.matched_tokens == len(fp.tokenize(code.encode(), "Python"))
    assert search.query_language(code.encode(), None) == "Python"


def test_each_candidate_is_aligned_with_the_query_lexed_in_its_language(image_index: Path) -> None:
    # Python code full of `#` comments, searched as C: `#` is code in C, so the lookup lexing keeps the
    # comments' words and breaks the code into short runs.  The candidate (stored as Python) is aligned
    # with the query re-lexed as Python: the whole fragment matches.
    code = _fragment(STDLIB / "textwrap.py", 51, 110)
    assert code.count("#") >= 20
    as_c, as_python = fp.tokenize(code.encode(), "C"), fp.tokenize(code.encode(), "Python")
    assert len(as_c) > len(as_python)
    with open_store(image_index, readonly=True) as store:
        res = search.search(store, code, language="C")
        assert res.tokens == len(as_c)  # what the lookup lexed
        assert res.verdict == "verbatim"
        top = res.matches[0]
        assert top.primary.path == "textwrap.py"
        assert top.matched_tokens == len(as_python)  # all of it, counted in the candidate's lexing


# Fields documented in Markdown style: backticks are punctuation in Python, strings under the default
# rules, so no common language lexes a piece of the docstrings like the default rules.
USAGE_PY = '''from typing import List, Literal

class UsageQuery:
    window: Literal["1m", "1h", "1d"]
    """How wide each bucket of the answer is.

    `1m`, `1h` and `1d` are accepted; `1d` when not given.
    """

    until: int
    """Where the time range ends (Unix seconds), not included."""

    split_by: List[Literal["project", "user", "key"]]
    """Which fields the usage is split by: `project`, `user`, `key` or any of them together.
    """

    most: int
    """How many buckets to return at most.

    - `window=1d`: 7 unless given, 31 at most
    - `window=1h`: 24 unless given, 168 at most
    - `window=1m`: 60 unless given, 1440 at most
    """
'''


def test_a_snippet_no_common_language_lexes_like_the_default_rules_is_looked_up_in_each(
    tmp_path: Path,
) -> None:
    # A piece of the docstrings: no `def`, no import, too few clues for a guess.  Each probe lexes it
    # otherwise than the default rules; the closest (within a tenth) is not Python, so the k-grams its
    # file holds are only in the Python lexing, which the lookup now reads too.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "usage.py").write_text(USAGE_PY)
    code = "".join(USAGE_PY.splitlines(keepends=True)[4:])
    raw = code.encode()
    assert lexer.guess_language(raw) is None
    language, toks, others = search.lookup_lexings(raw, None)
    python = fp.tokenize(raw, "Python")
    assert language != "Python" and not np.array_equal(toks.exact, python.exact)
    assert any(np.array_equal(t.exact, python.exact) for _, t in others)
    with open_store(tmp_path / "i.sqlite", create=True) as store:
        ingest.build(store, ingest.sources([tmp_path / "src"], repo="a/usage"), workers=1)
        res = search.search(store, code)
        assert res.verdict == "verbatim"
        [top] = res.matches
        assert top.primary.path == "usage.py"
        assert top.matched_tokens == len(python)  # all of it, in the file's lexing
        assert top.spans[0].source_lines == (5, USAGE_PY.count("\n") - 1)  # the closing quotes: no token
    # A snippet some common language lexes like the default rules is looked up in that one alone.
    assert search.lookup_lexings(b"x = f(a, b)  # the sum\n", None)[2] == []
    # So is prose that no probe lexes like the default rules but that holds no clue of any language (a
    # license is not looked up as Python, where a docstring quoting one would be its only match).
    prose = (
        b"Build it with `make all`, then run the tests -- all of them -- before you send a patch.\n"
        b"It's licensed under the `MIT` terms; see the file named `COPYING` for them.\n"
    )
    plain = fp.tokenize(prose)
    assert all(len(fp.tokenize(prose, name)) != len(plain) for name in ("Python", "JavaScript", "Java"))
    assert lexer.guess_with_clues(prose) == (None, {})
    assert search.lookup_lexings(prose, None)[2] == []


DURATIONS_PY = '''"""Durations and sizes in the units people read."""


def split_duration(seconds):
    days = seconds // 86400
    hours = seconds % 86400 // 3600
    minutes = seconds % 3600 // 60
    weeks, days = days // 7, days % 7
    return weeks, days, hours, minutes, seconds % 60 // 1


def split_bytes(size):
    kib = size // 1024
    mib = kib // 1024
    gib = mib // 1024
    return gib, mib % 1024 // 1, kib % 1024 // 1, size % 1024 // 1
'''


def test_python_floor_division_is_looked_up_as_python_when_javascript_lexes_like_the_default_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python, tried first, lexes `n // 2` as an operator; JavaScript, like the default rules, as a
    # comment, and is chosen.  With `//` on every line no k-gram of its lexing is in the file's, so the
    # snippet is also looked up in its Python lexing (spaced-out floor division is the clue).
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "units.py").write_text(DURATIONS_PY)
    code = "".join(DURATIONS_PY.splitlines(keepends=True)[3:])
    raw = code.encode()
    language, _, others = search.lookup_lexings(raw, None)
    assert language == "JavaScript" and [name for name, _ in others] == ["Python"]
    # C and JavaScript comments after a statement are no such clue; a Python docstring is.
    assert not search._pythonic(b"x = y; // the rest\nint z = 1; // more\n")
    assert search._pythonic(b'def f():\n    """See https://example.com."""\n')
    with open_store(tmp_path / "i.sqlite", create=True) as store:
        ingest.build(store, ingest.sources([tmp_path / "src"], repo="a/units"), workers=1)
        res = search.search(store, code)
        assert res.verdict == "verbatim"
        [top] = res.matches
        assert top.matched_tokens == len(fp.tokenize(raw, "Python"))
        assert top.spans[0].source_lines == (4, DURATIONS_PY.count("\n"))
        # Its `def` lines say Python too (test_python_shaped_snippet_...); without either clue, nothing.
        monkeypatch.setattr(search, "_python_shaped", lambda raw: False)
        assert search.search(store, code).verdict == "verbatim"
        monkeypatch.setattr(search, "_pythonic", lambda raw: False)  # the lookup before: nothing found
        assert search.search(store, code).verdict == "none"


CURSOR_PY = '''"""Cursor movements that redraw a live region of the terminal."""


class LiveRegion:
    def __init__(self, lines):
        self.lines = lines

    def position_cursor(self, height):
        return Control(
            (ControlKind.CARRIAGE_RETURN,),
            (ControlKind.ERASE_IN_LINE, 2),
            *(
                (
                    (ControlKind.CURSOR_UP, 1),
                    (ControlKind.ERASE_IN_LINE, 2),
                )
                * (height - 1)
            )
        )

    def restore_cursor(self) -> Control:
        return Control.move_to(0, len(self.lines))
'''


def test_python_shaped_snippet_is_looked_up_as_python_when_javascript_lexes_like_the_default_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A product continued on its own line, `* (height - 1)`: the default rules and JavaScript drop the
    # `*` as a C comment's decoration, Python keeps it, so JavaScript is chosen.  The `*` splits the
    # snippet's k-grams in two runs too short to attribute; a `def` line ending in `:` says Python, and
    # the snippet is also looked up in its Python lexing, which its file holds whole.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "live.py").write_text(CURSOR_PY)
    code = "".join(CURSOR_PY.splitlines(keepends=True)[12:21])
    raw = code.encode()
    assert len(fp.tokenize(raw, "Python")) == len(fp.tokenize(raw)) + 1
    language, _, others = search.lookup_lexings(raw, None)
    assert language == "JavaScript" and [name for name, _ in others] == ["Python"]
    assert search._python_shaped(raw) and not search._pythonic(raw)
    with open_store(tmp_path / "i.sqlite", create=True) as store:
        ingest.build(store, ingest.sources([tmp_path / "src"], repo="a/live"), workers=1)
        res = search.search(store, code)
        assert res.verdict == "verbatim", [(m.verdict, m.evidence) for m in res.matches]
        [top] = res.matches
        assert top.matched_tokens == len(fp.tokenize(raw, "Python"))
        assert top.spans[0].source_lines == (13, 21)
        monkeypatch.setattr(search, "_python_shaped", lambda raw: False)  # the lookup before: nothing found
        assert search.search(store, code).verdict == "none"


AVERAGE_PY = '''"""Weighted means that ignore missing values."""


def weighted_average(values, weights=None, dim=None):
    """
    Computes the weighted average of a given tensor across a given `dim`, masking values associated
    with weight zero, meaning instead of `nan * 0 = nan` you will get `0 * 0 = 0`.

    Args:
        values (`Tensor`):
            The values, of which the average must be computed.
        weights (`Tensor`, *optional*):
            Weights of the same shape as `values`, or none for a plain mean.
        dim (`int`, *optional*):
            The axis along which to average.

    Returns:
        `Tensor`: The averaged values.

    >>> weighted_average([1, 2, 3], [0, 1, 1])
    2.5
    """
    if weights is None:
        return sum(values) / len(values)
    total = sum(w * v for v, w in zip(values, weights) if w)
    return total / sum(weights)
'''


@pytest.mark.parametrize("first, last", [(6, 16), (16, 21)])
def test_the_inside_of_a_docstring_is_looked_up_as_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: int, last: int
) -> None:
    # Lines cut from inside a docstring: no triple quotes, no code.  JavaScript lexes them like the
    # default rules (its template strings take the `code` spans whole) and is chosen; the file's Python
    # lexing has every backtick and word as a token, so no k-gram of the JavaScript lexing is in it.  A
    # Google-style section heading (`Args:`) or a doctest prompt says docstring: the Python lexing is
    # looked up too.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "average.py").write_text(AVERAGE_PY)
    code = "".join(AVERAGE_PY.splitlines(keepends=True)[first - 1 : last])
    assert '"""' not in code
    raw = code.encode()
    language, _, others = search.lookup_lexings(raw, None)
    assert language == "JavaScript" and [name for name, _ in others] == ["Python"]
    assert search._pythonic(raw.replace(b"\n", b"\r\n"))
    # Prose and JavaScript with a colon are no such clue.
    assert not search._pythonic(b"Install:\n    run `make` and then `make test`\n")
    assert not search._pythonic(b"const url = `${base}/items`;\nswitch (k) {\n  default:\n}\n")
    with open_store(tmp_path / "i.sqlite", create=True) as store:
        ingest.build(store, ingest.sources([tmp_path / "src"], repo="a/average"), workers=1)
        res = search.search(store, code)
        assert res.verdict == "verbatim", [(m.verdict, m.evidence) for m in res.matches]
        assert res.matches[0].spans[0].source_lines[0] >= first
        monkeypatch.setattr(search, "_pythonic", lambda raw: False)  # the lookup before: nothing found
        assert search.search(store, code).verdict not in search.ATTRIBUTING


def test_query_lexings_are_cached_per_syntax() -> None:
    raw = _fragment(STDLIB / "textwrap.py", 120, 180).encode()
    toks = fp.tokenize(raw, "Python")
    first = search.Query.of(toks, fp.kgrams(toks.exact), fp.kgrams(toks.abstract), np.zeros(0, np.uint64))
    lexings = search.QueryLexings(raw, "Python", first, np.zeros(0, np.uint64))
    assert lexings.get("python") is first
    c = lexings.get("C")
    assert c is not first and lexings.get("C") is c
    assert lexings.get("C++") is c  # the same rules: one lexing
    assert len(lexings.get(None).tokens) != len(first.tokens)


def test_cover_maps_spans_found_in_another_lexing_back_to_the_file(image_index: Path) -> None:
    code = _fragment(STDLIB / "textwrap.py", 51, 110)
    with open_store(image_index, readonly=True) as store:
        documents, cap = cov.cap_for(store)
        prep = cov.prepare(code, language="C")
        post = store.postings(prep.lookup.view(np.int64), cap)
        result = cov.cover(store, prep, post, documents=documents)
    assert [m.primary.path for m in result.matches] == ["textwrap.py"]
    [span] = result.matches[0].spans
    assert span.query_lines[0] <= 2 and span.query_lines[1] >= 60


# --- index compatibility --------------------------------------------------------------------------------


def test_an_index_built_with_earlier_lexing_rules_is_refused(image_index: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    shutil.copy(image_index, old)

    def refused(change: str, message: str) -> None:
        db = sqlite3.connect(old)
        with db:
            db.execute(change)
        db.close()
        with pytest.raises(IndexFormatError, match=message):
            open_store(old, readonly=True)

    rebuild = f"this whence uses '{lexer.LEXER_VERSION}': rebuild the index"
    no_lexer = r"earlier whence \(it records no lexer.*rebuild the index"
    refused("DELETE FROM meta WHERE key = 'lexer'", no_lexer)  # as every index built before profiles
    refused("INSERT INTO meta VALUES ('lexer', '1')", f"lexer='1', {rebuild}")
    # An index of lexer 2 (comments dropped whole) or 3 (Python's abstract view kept every language's
    # keywords) is refused in the same words.
    refused("UPDATE meta SET value = '2' WHERE key = 'lexer'", f"lexer='2', {rebuild}")
    refused("UPDATE meta SET value = '3' WHERE key = 'lexer'", f"lexer='3', {rebuild}")


def test_a_remembered_guess_gives_each_caller_its_own_scores() -> None:
    # A search asks for a query's language up to three times, and the guess is remembered; a caller
    # that changes the scores it was given changes no other caller's.
    code = b"package demo;\n\nimport java.util.List;\n\npublic class Demo {\n}\n"
    guessed, scores = lexer.guess_with_clues(code)
    assert guessed == "Java" and scores["Java"] > 0
    kept = dict(scores)
    scores["Java"] = -1
    scores["Python"] = 99
    assert lexer.guess_with_clues(code) == ("Java", kept)
    assert lexer.guess_language(code) == "Java"
    # A shebang's language comes with no scores, remembered or not.
    assert lexer.guess_with_clues(b"#!/usr/bin/env python3\nprint(1)\n") == ("Python", {})
