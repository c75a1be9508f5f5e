"""The compiled kernel ``whence.index._fastfp`` against its pure-Python specification.

``index/lexer.py`` (tokenize) and the numpy code paths of ``index/fingerprint.py`` (kgrams, winnow,
minhash) are the reference; the C functions must agree with them bit for bit, on hand-written corner
cases, on real code and on hypothesis-generated input.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import os
import re
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from whence.index import _fastfp, lexer
from whence.index import fingerprint as fp

# Deterministic, and no example database: the same examples on every run and every machine.
_SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=300)

STDLIB = Path(sysconfig.get_paths()["stdlib"])


# --- helpers -----------------------------------------------------------------------------------------


DEFAULT = lexer.DEFAULT.encode()


def _fast_tokens(
    data: bytes, syntax: lexer.Syntax = lexer.DEFAULT, code_only: bool = False
) -> tuple[npt.NDArray[np.uint64], ...]:
    e, a, ls, le = _fastfp.tokenize(data, syntax.encode(code_only))
    return (
        np.frombuffer(e, dtype=np.uint64),
        np.frombuffer(a, dtype=np.uint64),
        np.frombuffer(ls, dtype=np.uint32),
        np.frombuffer(le, dtype=np.uint32),
    )


def assert_same_tokens(data: bytes, syntax: lexer.Syntax = lexer.DEFAULT, code_only: bool = False) -> None:
    ref = lexer.tokenize(data, syntax=syntax, code_only=code_only)
    fast = _fast_tokens(data, syntax, code_only)
    for name, want, got in zip(
        ("exact", "abstract", "line_start", "line_end"),
        (ref.exact, ref.abstract, ref.line_start, ref.line_end),
        fast,
        strict=True,
    ):
        assert got.dtype == want.dtype, name
        assert got.tolist() == want.tolist(), f"{name} differs for {data!r} ({syntax.name}, {code_only=})"


@contextlib.contextmanager
def _reference() -> Iterator[None]:
    """Run fingerprint.py's own numpy code paths (it dispatches to _fastfp when that is importable)."""
    saved = fp._fastfp
    fp._fastfp = None
    try:
        yield
    finally:
        fp._fastfp = saved


def ref_kgrams(tokens: npt.NDArray[np.uint64], k: int) -> list[int]:
    with _reference():
        return [int(x) for x in fp.kgrams(tokens, k)]


def ref_winnow(hashes: npt.NDArray[np.uint64], w: int) -> list[int]:
    with _reference():
        return [int(x) for x in fp.winnow(hashes, w)]


def ref_minhash(values: npt.NDArray[np.uint64]) -> list[int]:
    with _reference():
        return [int(x) for x in fp.minhash(values)]


def fast_kgrams(tokens: npt.NDArray[np.uint64], k: int) -> list[int]:
    return [int(x) for x in np.frombuffer(_fastfp.kgrams(tokens, k), dtype=np.uint64)]


def fast_winnow(hashes: npt.NDArray[np.uint64], w: int) -> list[int]:
    return [int(x) for x in np.frombuffer(_fastfp.winnow(hashes, w), dtype=np.uint32)]


def fast_minhash(values: npt.NDArray[np.uint64]) -> list[int]:
    sig = _fastfp.minhash(values, fp._PERM_A, fp._PERM_B)
    return [int(x) for x in np.frombuffer(sig, dtype=np.uint32)]


def _u64(values: list[int]) -> npt.NDArray[np.uint64]:
    return np.array(values, dtype=np.uint64)


# --- xxh64 -------------------------------------------------------------------------------------------


def test_xxh64_matches_xxhash() -> None:
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    for n in [*range(0, 70), 100, 127, 128, 129, 255, 256, 300]:
        for seed in (0, 1, 0x5354, 2**63, 2**64 - 1):
            assert _fastfp.xxh64(data[:n], seed) == xxhash.xxh64_intdigest(data[:n], seed), (n, seed)


def test_class_hashes() -> None:
    # An identifier's abstract hash is the class hash, a keyword's its own exact hash.
    e, a, _, _ = _fast_tokens(b"foo 12 'x' return")
    assert a.tolist() == [
        xxhash.xxh64_intdigest(b"\x00ident", 0),
        xxhash.xxh64_intdigest(b"\x00number", 0),
        xxhash.xxh64_intdigest(b"\x00string", 0),
        xxhash.xxh64_intdigest(b"return", 0),
    ]
    assert e.tolist() == [
        xxhash.xxh64_intdigest(b"foo", 0),
        xxhash.xxh64_intdigest(b"12", 0),
        xxhash.xxh64_intdigest(b"x", 0x5354),
        xxhash.xxh64_intdigest(b"return", 0),
    ]


# --- tokenize: hand-written cases --------------------------------------------------------------------

TRICKY = [
    b"",
    b" ",
    b" \t\f\v  \t",
    b"\n",
    b"\r\n\r\n",
    b"\r\r\n\n\r",
    b"a\r\nb\rc\nd",
    b"x = 1\r\ny = 2\rz = 3\n",
    # block comments
    b"a /* c */ b",
    b"a /* multi\r\nline\rcomment\n */ b",
    b"a /* unclosed\n\n",
    b"/*/ b */ c",
    b"/**/x",
    b"a /*\n*/ // after a multi-line block comment",
    b"<!-- html -->x",
    b"<!-->x-->y",
    b"<!-- unclosed\r\n",
    b"<!- x",
    b"<!--",
    b"<!-",
    # // comments and floor division
    b"a // b",
    b"a // b\n// c\nd",
    b"x); // c",
    b"x] // c",
    b"x} // c",
    b"return // c",
    b"self // 2",
    b"1 // 2",
    b"'s' // t",
    b"a /// b",
    b"a //* b */ c",
    b"//",
    b"/",
    b"a = b\n// comment\n",
    # # comments and directives
    b"#include <stdio.h>\n",
    b"#  include <stdio.h>\n",
    b"# comment\nx",
    b"#!shebang\nx",
    b"#!/usr/bin/env python\r\nimport os\r\n",
    b"#[attr]\nfn f() {}",
    b"#[derive(Debug)]",
    b"x = #[attr]\n",
    b"a #b\n",
    b"a # b\n",
    b"a #\n",
    b"#",
    b"##",
    b"#\t",
    b"#\f x",
    b"#\v x",
    b"#define X 1\n#ifdef X\n#endif\n#pragma once\n#region r\n#endregion\n#using x\n",
    b"#includes\n#if_x\n#$if\n#\xc3\xa9\n",
    b"x\n#if\nx #if\n  #if\n",
    b"$#array",
    b"a /* */ #x\n",
    # strings
    b'"abc"',
    b"'abc'",
    b"`abc`",
    b'"a\\"b"',
    b"'it\\'s'",
    b'"unclosed',
    b'"unclosed\n"x"',
    b"'apostrophe in prose\n",
    b"fn f<'a>(x: &'a str)",
    b'"esc before newline\\\n"',
    b'"esc before crlf\\\r\n"',
    b'"ends with backslash\\',
    b'"\\\\"',
    b'"""triple"""',
    b"'''triple'''",
    b'"""multi\nline\r\nstring\rhere"""x',
    b'"""unclosed\n\n',
    b'""""',
    b'""""""',
    b'"""""""',
    b'""',
    b"''",
    b"``",
    b"```",
    b"`back\nticks\r\nacross\rlines`",
    b"`escaped \\` tick`",
    b"`escaped newline \\\r\n`",
    b"`unclosed\n\n",
    b"`trailing backslash\\",
    b"'x' \"x\"",
    b'"a" // b',
    b'""" a """ b """',
    # numbers
    b"1.5e3",
    b"0x1F",
    b"1..2",
    b"1.",
    b"1.a",
    b"1e-3",
    b"1_000_000",
    b"3.14.15",
    b"1$",
    b"12abc",
    b".5",
    b"1.\xc3\xa9",
    # identifiers and keywords
    b"caf\xc3\xa9 = na\xc3\xafve",
    b"\xff\xfe\x80",
    b"$x _y z9",
    b"None True False none true false",
    b"returned return_ _return Return",
    b"void string str",
    # punctuation and binary
    b"==!=<=>=->",
    b"(a)[b]{c}",
    b"\x00\x01\x7f",
    b"a\x00b",
]


@pytest.mark.parametrize("data", TRICKY, ids=[repr(t)[:40] for t in TRICKY])
def test_tokenize_tricky(data: bytes) -> None:
    assert_same_tokens(data)


def test_tokenize_line_endings_variants() -> None:
    for case in TRICKY:
        for eol in (b"\r\n", b"\r"):
            assert_same_tokens(case.replace(b"\n", eol))


def test_every_byte_around_identifiers() -> None:
    # Identifier ends are found 16 bytes at a time where the CPU allows: try every byte value as the
    # end of runs of every length and alignment, also near the end of the input.
    for length in (1, 5, 15, 16, 17, 31, 33):
        word = (b"aZ_$9\xc3\xa9" * 10)[:length]
        for b in range(256):
            tail = bytes([b])
            assert_same_tokens(b"x" + word + tail + word)
            assert_same_tokens(word + tail)
    assert_same_tokens(bytes(range(256)) * 3)
    assert_same_tokens(b" ".join(bytes([c]) * n for c in b"aZ_$0\x80\xff" for n in range(1, 40)))


def test_dense_input_grows_output() -> None:
    # tokenize guesses a token per 4 bytes and grows its output (outside the GIL when the input is
    # big): denser input must still come out whole, with the lexer state carried across each growth.
    for unit in (b"(", b"a,", b"x); // c\n", b"#!\n", b"'s'\r\n", b"1.2.3", b"a//b\r", b'"""\r\n"""'):
        for reps in (10, 100, 3000):
            assert_same_tokens(unit * reps)
    assert_same_tokens(b"".join(bytes([c]) for c in range(33, 127)) * 50)
    # Every alignment of the first growth (at about len / 4 tokens) against '#' and '//', whose meaning
    # depends on the tokens before them on the line.
    for unit in (b"a #b\n", b"a // b\n", b"x);//c\n#d\n"):
        for reps in range(60, 80):
            for pad in range(4):
                assert_same_tokens(b" " * pad + unit * reps)


KERNEL_SOURCE = Path(__file__).resolve().parent.parent / "index" / "_fastfp.c"


def _kernel_words(name: str) -> set[bytes]:
    """The words of ``static const char NAME[] = "..." "...";`` in the kernel's source (the C table is a
    hand copy of the lexer's: string literals of space-separated words, no escapes)."""
    source = KERNEL_SOURCE.read_text()
    found = re.search(rf"static const char {name}\[\] =((?:\s*\"[^\"\\]*\")+);", source)
    assert found, f"{name} not found as a list of plain string literals in {KERNEL_SOURCE.name}"
    return set("".join(re.findall(r'"([^"]*)"', found.group(1))).encode().split())


@pytest.mark.parametrize(
    ("c_table", "python_set"),
    [
        ("KEYWORDS_SRC", "KEYWORDS"),
        ("DIRECTIVES_SRC", "DIRECTIVES"),
        ("PYTHON_WORDS_SRC", "PYTHON_WORDS"),
        ("PYTHON_BUILTINS_SRC", "PYTHON_BUILTINS"),
    ],
)
def test_the_kernels_word_tables_are_the_lexers(c_table: str, python_set: str) -> None:
    """Both ways: a word only in the C table would make the kernel keep a word the lexer abstracts away
    (and so on); the behavioural test below only tries the lexer's words."""
    in_c, in_python = _kernel_words(c_table), getattr(lexer, python_set)
    assert in_c, c_table
    only_python, only_c = sorted(in_python - in_c), sorted(in_c - in_python)
    assert not only_python, f"lexer.{python_set} words missing from {c_table}: {only_python}"
    assert not only_c, f"{c_table} words not in lexer.{python_set}: {only_c}"


def test_keywords_and_directives() -> None:
    words = sorted(lexer.KEYWORDS | lexer.DIRECTIVES)
    parts = []
    for w in words:
        parts += [w, w + b"x", b"x" + w, w.upper(), w[:-1], w + b"_", w + b"1", w + b"$"]
    assert_same_tokens(b" ".join(parts))
    for w in [*sorted(lexer.DIRECTIVES), b"includ", b"defines", b"If"]:
        for line in (b"#" + w, b"#" + w + b" x", b"#" + w + b"(x)", b"x #" + w, b"#" + w + b"\xc3\xa9"):
            assert_same_tokens(line + b"\n" + line)


def test_python_keeps_only_its_own_words_verbatim() -> None:
    # Python's profile: of the keywords of every language, its own (and self, its builtins) stay in the
    # abstract view; `func`, `module`, `end`, `new` are names there, as in a renamed copy.  Other
    # profiles keep every keyword.  The kernel and the lexer agree on every word.
    python = lexer.syntax_for("Python")
    assert python.python_words and not lexer.syntax_for("JavaScript").python_words
    assert lexer.PYTHON_WORDS < lexer.KEYWORDS
    assert not lexer.PYTHON_BUILTINS & lexer.KEYWORDS
    words = b" ".join(sorted(lexer.KEYWORDS | lexer.PYTHON_BUILTINS))
    assert_same_tokens(words, python)
    assert_same_tokens(words)
    ident = lexer.CLASS_HASH[lexer.IDENT]

    def kept(syntax: lexer.Syntax) -> set[bytes]:
        toks = lexer.tokenize(words, syntax=syntax)
        return {w for w, a in zip(words.split(), toks.abstract.tolist(), strict=True) if a != ident}

    assert kept(python) == lexer.PYTHON_WORDS | lexer.PYTHON_BUILTINS
    # Python's builtins are names in every other profile: a Go or C variable called `len` or `list`.
    assert kept(lexer.DEFAULT) == lexer.KEYWORDS
    assert kept(lexer.syntax_for("Go")) == lexer.KEYWORDS
    renamed = lexer.tokenize(b"end = func(module)\n", syntax=python).abstract
    assert renamed.tolist() == lexer.tokenize(b"v1 = v2(v3)\n", syntax=python).abstract.tolist()
    assert ident not in lexer.tokenize(b"func new end", "Go").abstract.tolist()[:1]


@pytest.mark.parametrize("name", ["textwrap.py", "argparse.py", "json/decoder.py", "difflib.py"])
def test_tokenize_real_code(name: str) -> None:
    data = (STDLIB / name).read_bytes()
    assert_same_tokens(data)
    assert_same_tokens(data, lexer.syntax_for("Python"))
    assert_same_tokens(data.replace(b"\n", b"\r\n"))
    assert_same_tokens(data.replace(b"\n", b"\r"))


def test_tokenize_accepts_buffers() -> None:
    data = b"def f(x):\n    return x // 2  # half\n"
    want = _fastfp.tokenize(data, DEFAULT)
    assert _fastfp.tokenize(bytearray(data), DEFAULT) == want
    assert _fastfp.tokenize(memoryview(data), DEFAULT) == want
    assert _fastfp.tokenize(data=data, syntax=DEFAULT) == want
    assert all(type(x) is bytes for x in want)


def test_tokenize_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        _fastfp.tokenize("text", DEFAULT)
    with pytest.raises(TypeError):
        _fastfp.tokenize(None, DEFAULT)
    with pytest.raises(TypeError):
        _fastfp.tokenize()
    with pytest.raises(TypeError):
        _fastfp.tokenize(b"x")  # the syntax profile is required: lexer.py holds the only definition


def test_tokenize_threads_agree() -> None:
    data = (STDLIB / "argparse.py").read_bytes() * 2
    want = _fastfp.tokenize(data, DEFAULT)
    results: list[object] = []

    def work() -> None:
        for _ in range(5):
            results.append(_fastfp.tokenize(data, DEFAULT))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    assert all(r == want for r in results)


# --- tokenize: generated input -----------------------------------------------------------------------

_FRAGMENTS = [
    *(bytes([c]) for c in b"\r\n\"'`\\#/*<!->.)]([{};:=+ \t\f\v_$0123456789abeEfxXz"),
    b"\r\n", b"\n\n", b"    ", b"//", b"/*", b"*/", b"<!--", b"-->", b'"""', b"'''", b"```",
    b"#include", b"#if", b"#[", b"#!", b"# ", b"return", b"if", b"self", b"None", b"str", b"define",
    b"foo", b"bar1", b"1.5e3", b"0x1F", b"1..2", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\x80", b"\x00",
]  # fmt: skip
_CODEISH = st.lists(st.sampled_from(_FRAGMENTS), max_size=80).map(b"".join)


@_SETTINGS
@given(_CODEISH)
def test_tokenize_codeish(data: bytes) -> None:
    assert_same_tokens(data)


@settings(derandomize=True, database=None, deadline=None, max_examples=100)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=300, max_size=1500).map(b"".join))
def test_tokenize_codeish_long(data: bytes) -> None:
    assert_same_tokens(data)


@_SETTINGS
@given(st.binary(max_size=400))
def test_tokenize_binary(data: bytes) -> None:
    assert_same_tokens(data)


@_SETTINGS
@given(st.integers(0, 10**9), st.integers(0, 2000), st.integers(0, 300))
def test_tokenize_real_code_slices(seed: int, start: int, length: int) -> None:
    # Slices of real code start and end anywhere: inside strings, comments, CRLFs.
    data = (STDLIB / "difflib.py").read_bytes()[:40_000]
    if seed % 3 == 1:
        data = data.replace(b"\n", b"\r\n")
    elif seed % 3 == 2:
        data = data.replace(b"\n", b"\r")
    pos = (seed * 7919 + start) % len(data)
    assert_same_tokens(data[pos : pos + length])


# --- tokenize: every syntax profile ------------------------------------------------------------------

_PROFILES = [lexer.DEFAULT, *lexer.PROFILES.values()]
# Every profile's comment markers and quotes, and what their conditions look at (the bytes around them).
_MARKERS = sorted(
    {m for sx in _PROFILES for m, _ in sx.line}
    | {b for sx in _PROFILES for o, c, _ in sx.block for b in (o, c)}
    | {b"rem", b"Rem", b"REMARK", b"@REM", b"\\%", b"\\#", b"$#", b"x'", b"'a'", b"'\\n'", b"'ab'", b"/[/*]/"}
    | {b"\n * ", b"\n *\n", b"\n*x", b"\n **", b"`", b'"', b"http://x"}  # decorations, quotes in comments
)
_PROFILE_FRAGMENTS = [*_FRAGMENTS, *_MARKERS, b"/", b"%", b";", b"!", b"(", b"{", b"|", b"@", b"return"]
_PROFILE_CODEISH = st.lists(st.sampled_from(_PROFILE_FRAGMENTS), max_size=80).map(b"".join)


@settings(derandomize=True, database=None, deadline=None, max_examples=1500)
@given(st.sampled_from(_PROFILES), _PROFILE_CODEISH, st.booleans())
def test_tokenize_profiles_generated(syntax: lexer.Syntax, data: bytes, code_only: bool) -> None:
    assert_same_tokens(data, syntax, code_only)


@pytest.mark.parametrize("syntax", _PROFILES, ids=[sx.name for sx in _PROFILES])
def test_tokenize_profiles_fixed(syntax: lexer.Syntax) -> None:
    for marker in _MARKERS:
        for case in (marker, b"a " + marker + b" b\nc", b"x" + marker + b"y", marker + b"\r\n" + marker):
            assert_same_tokens(case, syntax)
    # Real code (any language: the rules must agree on whatever they meet), and dense input that makes
    # the kernel grow its output and resume with the lexer state (regex literals look at the last token).
    data = (STDLIB / "difflib.py").read_bytes()[:20_000]
    assert_same_tokens(data, syntax)
    for unit in (b"a = /x[/]y/g; // c\n", b"REM a\n(* b *) {- c -} ;d\n", b"'a' b' %c\n"):
        assert_same_tokens(unit * 700, syntax)
    # Regular-expression literals up to lexer.REGEX_MAX bytes, slashes included, and no longer.
    for size in (lexer.REGEX_MAX - 3, lexer.REGEX_MAX - 2, lexer.REGEX_MAX - 1, lexer.REGEX_MAX + 5):
        assert_same_tokens(b"x = (/" + b"a" * size + b"/) / 2 /", syntax)
    # Block comments are transparent: openers and closers (nested or stray) dropped, the contents lexed
    # as code; inside one, a quote must close on its line and a line comment ends at the closer; the
    # state (which comment, how deep) carried across the kernel's output growth.
    for opener, closer, _nests in syntax.block:
        o, c = opener, closer
        for case in (
            o + b" a " + o + b" b " + c + b" c " + c + b" d",
            c + b" stray " + c + b" x " + o,
            o + b"* a `b\n * c\n " + c + b" `d`\n",
            o + b' "x\n y" ' + c + b' "z\nw"',
            o + b" http://x " + c + b" y // z " + c + b"\nq",
            b"a " + o + b" # b " + c + b" -- c " + c + b" ; d % e\n",
            o + b"\r\n * a\r\n *\r\n" + c + b"\r\nx * y\r\n * z",
        ):
            assert_same_tokens(case, syntax)
            assert_same_tokens(case, syntax, code_only=True)  # the comments dropped whole
        for unit in (o + b"* a `b\n * 'c' " + c + b" `d\n", b"x " + o + b" y\n", c + b" */ `z\n"):
            assert_same_tokens(unit * 700, syntax)
            assert_same_tokens(unit * 700, syntax, code_only=True)


def test_every_profile_encodes_and_the_kernel_reads_it() -> None:
    assert len(lexer.PROFILES) >= 30
    for sx in _PROFILES:
        _fastfp.tokenize(b"x", sx.encode())
    for bad in (b"", b"\x01", DEFAULT + b"\x00", DEFAULT[:-1]):
        with pytest.raises(ValueError, match="syntax profile"):
            _fastfp.tokenize(b"x", bad)


# --- kgrams, winnow, minhash -------------------------------------------------------------------------

# Around k and w for the parameters in use and for the tested ones, and large (several kgram lanes, and
# above the sizes where the GIL is released).
_LENGTHS = sorted(
    {0, 1, 2, 5, 11, 12, 13, 15, 16, 17, 27, 28, fp.K - 1, fp.K, fp.W, fp.W + 1, fp.T, 100, 1000, 20_000}
)


def _arrays(seed: int) -> Iterator[npt.NDArray[np.uint64]]:
    rng = np.random.default_rng(seed)
    for n in _LENGTHS:
        yield rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
        yield rng.integers(0, 4, n, dtype=np.uint64)  # many ties
        yield np.full(n, 2**64 - 1, dtype=np.uint64)
    yield np.arange(3000, dtype=np.uint64)  # increasing
    yield np.arange(3000, dtype=np.uint64)[::-1].copy()  # decreasing


@pytest.mark.parametrize("k", sorted({1, 2, 3, 12, fp.K, fp.K + 1, 100}))
def test_kgrams_matches_reference(k: int) -> None:
    for arr in _arrays(k):
        assert fast_kgrams(arr, k) == ref_kgrams(arr, k), (len(arr), k)


@pytest.mark.parametrize("w", sorted({1, 2, 3, 16, fp.W, fp.W + 1, 64}))
def test_winnow_matches_reference(w: int) -> None:
    for arr in _arrays(100 + w):
        if len(arr) == 0:
            assert fast_winnow(arr, w) == []
            continue
        assert fast_winnow(arr, w) == ref_winnow(arr, w), (len(arr), w)


def test_minhash_matches_reference() -> None:
    for arr in _arrays(3):
        assert fast_minhash(arr) == ref_minhash(arr), len(arr)
    assert fast_minhash(_u64([])) == [0xFFFFFFFF] * fp.NUM_PERM


@_SETTINGS
@given(
    st.lists(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 3)), max_size=120),
    st.integers(1, 20),
    st.integers(1, 20),
)
def test_kgrams_winnow_minhash_generated(values: list[int], k: int, w: int) -> None:
    arr = _u64(values)
    assert fast_kgrams(arr, k) == ref_kgrams(arr, k)
    if values:
        assert fast_winnow(arr, w) == ref_winnow(arr, w)
    assert fast_minhash(arr) == ref_minhash(arr)


def test_minhash_matches_datasketch() -> None:
    from datasketch import MinHash

    rng = np.random.default_rng(11)
    for n in (0, 1, 7, 500):
        values = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
        m = MinHash(num_perm=fp.NUM_PERM, seed=fp.MINHASH_SEED, hashfunc=lambda v: v)
        m.update_batch([int(v) & 0xFFFFFFFF for v in values])
        assert fast_minhash(values) == m.hashvalues.tolist(), n


def test_minhash_other_permutations() -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 2**64, 300, dtype=np.uint64, endpoint=False)
    a = rng.integers(0, 2**32, 7, dtype=np.uint32)
    b = rng.integers(0, 2**32, 7, dtype=np.uint32)
    hv = fp._fmix32((values & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    want = (hv[:, None] * a[None, :] + b[None, :]).min(axis=0)
    got = np.frombuffer(_fastfp.minhash(values, a, b), dtype=np.uint32)
    assert got.tolist() == want.tolist()
    assert _fastfp.minhash(values, a[:0], b[:0]) == b""


def test_fingerprint_end_to_end_matches_reference() -> None:
    data = (STDLIB / "textwrap.py").read_bytes()
    fast = fp.fingerprint(data)
    with _reference():
        ref = fp.fingerprint(data)
    for field in ("exact_kgrams", "abstract_kgrams", "exact_selected", "abstract_selected", "signature"):
        assert getattr(fast, field).tolist() == getattr(ref, field).tolist(), field
    assert fast.bands() == ref.bands()


def _index_both(data: bytes, language: str | None) -> fp.IndexFingerprint:
    fast = fp.index_fingerprint(data, language)
    with _reference():
        ref = fp.index_fingerprint(data, language)
    assert fast.hashes.tolist() == ref.hashes.tolist(), (language, data[:80])
    assert fast.signature.tolist() == ref.signature.tolist() and fast.tokens == ref.tokens
    return fast


_COMMENTED = {  # a line of code between block comments, in languages with other comment syntaxes
    "Java": (b"/** Returns the sum.\n * @param a one\n */\n", b"int add(int a, int b) { return a + b; }\n"),
    "C": (b"/* a comment: http://x/*y */\n", b'static int f(int x) { return x * 2 + g("/*"); }\n'),
    "Haskell": (b"{- outer {- nested -} still a comment -}\n", b"add x y = x + y -- line\n"),
    "OCaml": (b"(* outer (* nested *) comment *)\n", b"let add x y = x + y in print_int (add 1 2)\n"),
    "Lua": (b"--[[ a block\ncomment ]]\n", b"local function add(a, b) return a + b end\n"),
    "Python": (b"# no block comments here\n", b"def add(a, b):\n    return a + b\n"),
}


@pytest.mark.parametrize("language", sorted(_COMMENTED))
def test_index_fingerprint_with_the_code_alone_matches_reference(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text with block comments also gives the index the hashes of its code alone (a copy stripped of
    its comments shares k-grams across each removed comment): the kernel and the reference agree, for
    tiny texts (every k-gram), long ones (winnowed), code alone shorter than a k-gram, and none.  (A
    small text's dense keys are left out here: ``test_fingerprint.py`` has them.)"""
    monkeypatch.setattr(fp, "DENSE_TOKENS", 0)
    monkeypatch.setattr(fp, "LINE_TOKENS", 0)
    monkeypatch.setattr(fp, "SPARSE_LINES", 0)
    comment, code = _COMMENTED[language]
    sx = lexer.syntax_for(language)
    for repeats in (1, 3, 12, 80):
        text = (comment + code) * repeats
        got = _index_both(text, language)
        plain = fp.fingerprint(text, language=language).index_hashes()
        extra = fp.code_hashes(text, language, fp.tokenize(text, language))
        if sx.block and repeats > 1:  # k-grams across a removed comment: not among the text's own
            assert extra is not None and not set(extra.tolist()) <= set(plain.tolist())
            assert (
                got.hashes.tolist()
                == np.union1d(plain.view(np.uint64), extra.view(np.uint64)).view(np.int64).tolist()
            )
        elif not sx.block:
            assert extra is None and got.hashes.tolist() == plain.tolist()
    _index_both(comment * 40, language)  # comments alone: no code k-gram
    # One token repeated: both views, of the text and of its code alone, select every k-gram after the
    # first window (more hashes than the text has k-grams: the sort's scratch grows).
    opener, closer, _ = sx.block[0] if sx.block else (b"", b"", False)
    _index_both((b"x x x " + opener + b" c " + closer + b" ") * 400, language)
    _index_both(comment + b"x", language)
    _index_both(b"", language)


_MULTILINE_TOKENS = {  # a token over two lines, then one more token on its last line
    "C": b'static const char *s%d = "a\\\n b"; int f%d(int x) { return x * %d; }\n',
    "Python": b'x%d = """a\nb"""; y%d = g(x, %d)\n',
    "JavaScript": b"const s%d = `a\nb`; let f%d = (x) => x * %d;\n",
}


@pytest.mark.parametrize("language", sorted(_MULTILINE_TOKENS))
@pytest.mark.parametrize("lines", [4, 30, 120, 400])
def test_index_fingerprint_line_keys_match_reference(language: str, lines: int) -> None:
    """A text of 256 to 2,047 tokens keeps the dense keys of its exact k-grams that begin a line and the
    shape keys of its abstract ones that do: the kernel and the reference agree on which do, with tokens
    that span lines, CRLF line ends and a text that is all one line; under 256 tokens every k-gram, from
    2,048 only those of its last lines, whose eight lines the text's end cuts short (sparse lines: below)."""
    line = _MULTILINE_TOKENS[language]
    text = b"".join(line % (i, i, i) for i in range(lines))
    for variant in (text, text.replace(b"\n", b"\r\n"), text.replace(b"\n", b" ")):
        got = _index_both(variant, language)
        plain = fp.fingerprint(variant, language=language).index_hashes()
        if fp.DENSE_TOKENS <= got.tokens < fp.LINE_TOKENS and b"\n" in variant:
            assert len(got.hashes) > len(plain)
        elif fp.DENSE_TOKENS <= got.tokens < fp.LINE_TOKENS:  # one line: its first k-grams at most
            assert len(got.hashes) <= len(plain) + 2
        elif got.tokens >= fp.LINE_TOKENS:  # at most the last lines', which the text's end cuts short
            extra = fp.code_hashes(variant, language, fp.tokenize(variant, language))
            own = plain if extra is None else np.union1d(plain.view(np.uint64), extra.view(np.uint64))
            held = got.hashes.view(np.uint64)
            assert np.isin(np.asarray(own).view(np.uint64), held).all()
            assert len(held) - len(own) <= 2 * fp.SPARSE_LINES


_SHORT_LINES = {  # a line of two or three tokens: an entry of a table
    "C": b"    %d, %d\n",
    "Python": b"C%d = %d\n",
    "JavaScript": b"    c%d,\n",  # (one name: formatted with one number)
}


@pytest.mark.parametrize("language", sorted(_MULTILINE_TOKENS))
def test_index_fingerprint_sparse_line_keys_match_reference(language: str) -> None:
    """A text of 2,048 tokens and more keeps the dense and shape keys of the k-grams that begin its
    sparse lines (eight lines of fewer than T tokens, none of them winnowed): the kernel and the
    reference agree on which, with a table of short lines between long ones, blank lines, tokens that
    span lines, short lines at the text's end, CRLF line ends, and a text that is all one line (none)."""
    long = [_MULTILINE_TOKENS[language] % (i, i, i) for i in range(220)]
    short = [_SHORT_LINES[language] % ((i, i) if language != "JavaScript" else i) for i in range(80)]
    text = b"".join([*long[:110], *short[:50], b"\n\n", *short[50:], *long[110:], b"\n", *short[:5]])
    for variant in (text, text.replace(b"\n", b"\r\n"), text.replace(b"\n", b" ")):
        got = _index_both(variant, language)
        assert got.tokens >= fp.LINE_TOKENS
        plain = fp.fingerprint(variant, language=language).index_hashes()
        extra = fp.code_hashes(variant, language, fp.tokenize(variant, language))
        own = plain if extra is None else np.union1d(plain.view(np.uint64), extra.view(np.uint64))
        if b"\n" in variant:
            assert len(got.hashes) > len(own) + 10
        else:
            assert got.hashes.view(np.uint64).tolist() == np.asarray(own).view(np.uint64).tolist()


def test_index_fingerprint_argument_validation() -> None:
    sx = lexer.syntax_bytes("Java")
    text = b"int x = 1; /* c */ int y = 2;\n" * 10
    args = (text, fp.K, fp.W, fp._PERM_A, fp._PERM_B, sx)
    for bad in (b"", b"\x01", sx[:-1], "not bytes"):  # a profile that is not one: said, not guessed
        with pytest.raises(ValueError, match="malformed syntax profile"):
            _fastfp.index_fingerprint(*args, bad, fp.TINY_TOKENS)
    with pytest.raises(ValueError, match="k and w must be >= 1"):
        _fastfp.index_fingerprint(text, 0, fp.W, fp._PERM_A, fp._PERM_B, sx, sx, fp.TINY_TOKENS)
    with pytest.raises(TypeError):
        _fastfp.index_fingerprint(*args, sx, "64")
    # None and a tiny bound of 0 (the defaults): the text's own winnowed hashes, the code alone not lexed
    plain = _fastfp.index_fingerprint(*args)
    assert plain[0] and _fastfp.index_fingerprint(*args, None, 0) == plain
    assert _fastfp.index_fingerprint(*args, code_syntax=None, tiny=-5) == plain
    code = _fastfp.index_fingerprint(*args, lexer.syntax_bytes("Java", True), 0)
    as_set = lambda h: set(np.frombuffer(h, dtype=np.uint64).tolist())  # noqa: E731
    assert as_set(plain[0]) < as_set(code[0]) and code[1:] == plain[1:]


def test_index_fingerprint_code_alone_on_real_code() -> None:
    for name in ("heapq.py", "textwrap.py"):  # Python: no block comments, nothing added
        _index_both((STDLIB / name).read_bytes(), "Python")
    java = next((p for p in sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip")) if p.exists()), None)
    c_headers = sorted(Path("/usr/include").glob("*.h"))[:40]
    for path in c_headers:
        _index_both(path.read_bytes(), "C")
    if java is not None:  # pragma: no cover - where a JDK's sources are installed
        import zipfile

        with zipfile.ZipFile(java) as z:
            for member in [m for m in z.namelist() if m.endswith(".java")][:40]:
                _index_both(z.read(member), "Java")


def test_array_arguments_accept_buffers() -> None:
    arr = np.arange(40, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    want = _fastfp.kgrams(arr, 3)
    assert _fastfp.kgrams(arr.tobytes(), 3) == want  # raw bytes, e.g. tokenize's output
    assert _fastfp.kgrams(arr.view(np.int64), 3) == want  # signed: same bits
    assert _fastfp.kgrams(memoryview(arr), 3) == want
    assert _fastfp.kgrams(array.array("Q", arr.tolist()), 3) == want  # format "Q"
    assert _fastfp.kgrams((ctypes.c_uint64 * 40)(*arr.tolist()), 3) == want  # format "<Q"
    assert _fastfp.kgrams(tokens=arr, k=3) == want
    assert _fastfp.winnow(arr.tobytes(), 4) == _fastfp.winnow(arr, 4)
    e, *_ = _fastfp.tokenize(b"a b c d e f", DEFAULT)
    assert _fastfp.kgrams(e, 2) == _fastfp.kgrams(np.frombuffer(e, dtype=np.uint64), 2)


def test_argument_validation() -> None:
    arr = np.arange(10, dtype=np.uint64)
    a32 = np.ones(4, dtype=np.uint32)
    with pytest.raises(ValueError, match="k must be >= 1"):
        _fastfp.kgrams(arr, 0)
    with pytest.raises(ValueError, match="w must be >= 1"):
        _fastfp.winnow(arr, 0)
    with pytest.raises(ValueError, match="w must be >= 1"):
        _fastfp.winnow(arr, -5)
    with pytest.raises(TypeError, match="uint64"):
        _fastfp.kgrams(arr.astype(np.float64), 2)
    with pytest.raises(TypeError, match="uint64"):
        _fastfp.kgrams(arr.astype(np.uint32), 2)
    with pytest.raises(TypeError, match="buffer"):
        _fastfp.kgrams([1, 2, 3], 2)
    with pytest.raises(TypeError, match="uint64"):
        _fastfp.kgrams(arr.astype(">u8"), 2)  # big-endian
    with pytest.raises(TypeError):
        _fastfp.kgrams(arr, 2.5)
    with pytest.raises(ValueError, match="one-dimensional"):
        _fastfp.winnow(arr.reshape(2, 5), 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        _fastfp.winnow(np.uint64(3), 2)  # 0-d
    with pytest.raises(ValueError, match="whole number"):
        _fastfp.winnow(b"\x00" * 12, 2)
    with pytest.raises((ValueError, BufferError)):
        _fastfp.kgrams(arr[::2], 2)  # not contiguous
    with pytest.raises(ValueError, match="same length"):
        _fastfp.minhash(arr, a32, a32[:3])
    with pytest.raises(TypeError, match="uint32"):
        _fastfp.minhash(arr, a32.astype(np.uint64), a32)
    with pytest.raises(TypeError, match="uint64"):
        _fastfp.minhash(a32, a32, a32)
    with pytest.raises(TypeError):
        _fastfp.minhash(arr, a32)
    # Error paths release the buffers they took: a bytearray can be resized again afterwards.
    raw = bytearray(80)
    with pytest.raises(ValueError):
        _fastfp.minhash(raw, a32, a32[:3])
    with pytest.raises(TypeError):
        _fastfp.minhash(raw, arr, a32)
    with pytest.raises(ValueError):
        _fastfp.kgrams(raw, 0)
    _fastfp.tokenize(raw, DEFAULT)
    with pytest.raises(ValueError, match="syntax profile"):
        _fastfp.tokenize(raw, b"\x01")
    raw.extend(b"\0" * 8)


# --- seed_runs: the seeding half of the alignment (index/align.py) --------------------------------------


def _runs_both(q: bytes, d: bytes, need: int = 1) -> tuple[tuple[int, dict[tuple[int, int], int]], ...]:
    """align.seed_runs through the kernel and through its numpy reference, on the exact view."""
    from whence.index import align

    qt, dt = fp.tokenize(q).exact, fp.tokenize(d).exact
    if len(qt) < fp.K or len(dt) < fp.K:
        pytest.skip("too short for one k-gram")
    grams = align.Grams.of(fp.kgrams(qt))
    dk = fp.kgrams(dt)
    hits, rows = align.seed_runs(grams, dk, qt, dt, fp.K, need)
    native = (hits, {(a, b): n for a, b, n in rows.tolist()})
    assert len(native[1]) == len(rows)  # one run per start
    hit = grams.shared(dk)
    ref = (len(hit), align.grow_runs(hit, grams, dk, qt, dt, fp.K) if len(hit) >= need and len(hit) else {})
    return native, ref


@pytest.mark.parametrize("name", ["textwrap.py", "argparse.py", "difflib.py"])
def test_seed_runs_matches_reference_on_real_code(name: str) -> None:
    text = (STDLIB / name).read_bytes()
    lines = text.splitlines(keepends=True)
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(20):
        a = int(rng.integers(0, len(lines) - 60))
        n = int(rng.integers(20, 60))
        query = b"".join(lines[a : a + n])
        if rng.random() < 0.5:  # an edited copy: lines dropped and a name changed
            kept = [ln for i, ln in enumerate(lines[a : a + n]) if i % 7 != 3]
            query = b"".join(kept).replace(b"self", b"this", 2)
        native, ref = _runs_both(query, text)
        assert native == ref
        found += bool(native[1])
    assert found >= 15  # the queries come from the document: most hold runs (a docstring may not)


def test_seed_runs_repeats_and_need() -> None:
    # A query made of one repeated line: every k-gram occurs many times and seeds nothing.
    rep = b"x = x + 1\n" * 30
    native, ref = _runs_both(rep, b"y = 2\n" + rep + b"z = 3\n")
    assert native == ref and native[0] > 0 and native[1] == {}
    # Fewer shared k-grams than need: counted, nothing grown.
    doc = (STDLIB / "textwrap.py").read_bytes()
    q = doc[2000:2600]
    native, ref = _runs_both(q, doc, need=10**6)
    assert native == ref and native[0] > 0 and native[1] == {}


@_SETTINGS
@given(
    st.lists(st.sampled_from([b"a", b"b", b"c", b"(", b")", b"1", b"=", b"\n"]), min_size=20, max_size=120),
    st.lists(st.sampled_from([b"a", b"b", b"c", b"(", b")", b"1", b"=", b"\n"]), min_size=20, max_size=300),
)
def test_seed_runs_generated(q: list[bytes], d: list[bytes]) -> None:
    # A small alphabet makes repeated k-grams, overlapping runs and runs on shared diagonals common.
    query = b" ".join(q)
    doc = b" ".join(d[:40] + q + d[40:] + q[5:])
    native, ref = _runs_both(query, doc)
    assert native == ref


def test_seed_runs_argument_validation() -> None:
    t = np.arange(30, dtype=np.uint64)
    k = 4
    kg = fp.kgrams(t, k)
    order = np.argsort(kg).astype(np.intp)
    srt = kg[order]
    hits, runs = _fastfp.seed_runs(srt, order, kg, t, t, k, 2, 1)
    assert hits == len(kg)
    assert np.frombuffer(runs, dtype=np.int64).tolist() == [0, 0, 30]  # the whole of it, once
    with pytest.raises(ValueError, match="k must be >= 1"):
        _fastfp.seed_runs(srt, order, kg, t, t, 0, 2, 1)
    with pytest.raises(ValueError, match="query's k-grams"):
        _fastfp.seed_runs(srt[:-1], order, kg, t, t, k, 2, 1)
    with pytest.raises(ValueError, match="document's"):
        _fastfp.seed_runs(srt, order, kg[:-1], t, t, k, 2, 1)
    bad = order.copy()
    bad[0] = 10**6
    with pytest.raises(ValueError, match="out of range"):
        _fastfp.seed_runs(srt, bad, kg, t, t, k, 2, 1)
    with pytest.raises(TypeError, match="64-bit"):
        _fastfp.seed_runs(srt.astype(np.uint32), order, kg, t, t, k, 2, 1)


_MANY_RUNS = """
import numpy as np
from whence.index import _fastfp, fingerprint as fp
k = 2
dt = np.array([1, 2], dtype=np.uint64)  # one document k-gram
qt = np.array([1, 2, 9] * 50, dtype=np.uint64)  # which the query holds 50 times, on 50 diagonals
kg = fp.kgrams(qt, k)
order = np.argsort(kg, kind="stable").astype(np.intp)
hits, runs = _fastfp.seed_runs(kg[order], order, fp.kgrams(dt, k), qt, dt, k, 64, 1)
rows = np.frombuffer(runs, dtype=np.int64).reshape(-1, 3).tolist()
assert hits == 1 and rows == [[3 * i, 0, 2] for i in range(50)], rows
print("ok")
"""


def test_seed_runs_more_runs_than_document_kgrams() -> None:
    """A document k-gram that the query repeats seeds one run per query position: 50 runs from one
    document k-gram.  The kernel once sized its output for one run per document k-gram and wrote past
    it; Python's debug allocator (PYTHONMALLOC=debug) checks the bytes around every block, so an
    overrun aborts the child instead of passing unseen."""
    env = os.environ | {"PYTHONMALLOC": "debug"}
    out = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _MANY_RUNS], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


# --- tile: greedy string tiling (index/align.py) --------------------------------------------------------


def _tiles_both(runs: npt.NDArray[np.int64], nq: int, k: int) -> list[tuple[int, int, int]]:
    """align.tile through the kernel, checked against its Python reference; the tiles as triples."""
    from whence.index import align

    native = align.tile(runs, nq, k)
    assert native == align.tile_reference(runs, nq, k)
    return [(t.q, t.d, t.n) for t in native]


def test_tile_overlaps_repeats_and_a_covered_query() -> None:
    runs = np.array(
        [
            [0, 100, 30],  # the longest: taken whole
            [20, 200, 30],  # overlaps it by 10: its free 20 tokens are one piece, kept
            [10, 300, 5],  # inside the first: nothing free
            [0, 400, 30],  # the first tile's query tokens at another place in the document: repeated
            [60, 500, 10],  # ten free tokens: under k=12, dropped
        ],
        dtype=np.int64,
    )
    assert _tiles_both(runs, 80, 12) == [(0, 100, 30), (0, 400, 30), (30, 210, 20)]
    # Once fewer than k query tokens are free, nothing more is tried (the repeats still are).
    full = np.array([[0, 0, 20], [0, 50, 20], [18, 90, 2]], dtype=np.int64)
    assert _tiles_both(full, 20, 2) == [(0, 0, 20), (0, 50, 20)]
    assert _tiles_both(np.zeros((0, 3), dtype=np.int64), 10, 2) == []


def test_tile_matches_reference_on_real_alignments() -> None:
    from whence.index import align

    text = (STDLIB / "difflib.py").read_bytes()
    lines = text.splitlines(keepends=True)
    rng = np.random.default_rng(11)
    tiled = 0
    for _ in range(30):
        a = int(rng.integers(0, len(lines) - 80))
        kept = [ln for i, ln in enumerate(lines[a : a + int(rng.integers(20, 80))]) if i % 5 != 2]
        query = b"".join(kept) * int(rng.integers(1, 3))  # dropped lines; sometimes the piece twice
        qt, dt = fp.tokenize(query).exact, fp.tokenize(text).exact
        if len(qt) < fp.K:
            continue
        _, runs = align.seed_runs(align.Grams.of(fp.kgrams(qt)), fp.kgrams(dt), qt, dt, fp.K, 1)
        tiled += bool(_tiles_both(runs, len(qt), fp.K))
    assert tiled >= 20


@_SETTINGS
@given(
    st.integers(1, 120),
    st.integers(1, 12),
    st.lists(st.tuples(st.integers(0, 119), st.integers(0, 40), st.integers(1, 120)), max_size=60),
)
def test_tile_generated(nq: int, k: int, rows: list[tuple[int, int, int]]) -> None:
    # one run per (query start, document start), each inside the query; few document starts, so that
    # the same query run recurs at other places and overlapping runs are common
    seen: dict[tuple[int, int], int] = {}
    for q, d, n in rows:
        if q < nq:
            seen.setdefault((q, d), min(n, nq - q))
    runs = np.array([(q, d, n) for (q, d), n in seen.items()], dtype=np.int64).reshape(-1, 3)
    _tiles_both(runs, nq, k)


def test_tile_argument_validation() -> None:
    ok = np.array([0, 0, 5], dtype=np.int64)
    assert np.frombuffer(_fastfp.tile(ok, 5, 2), dtype=np.int64).tolist() == [0, 0, 5]
    with pytest.raises(ValueError, match="k must be >= 1"):
        _fastfp.tile(ok, 5, 0)
    with pytest.raises(ValueError, match="triples"):
        _fastfp.tile(ok[:2], 5, 2)
    with pytest.raises(ValueError, match="does not fit a 4-token query"):
        _fastfp.tile(ok, 4, 2)
    with pytest.raises(ValueError, match="does not fit"):
        _fastfp.tile(np.array([0, -1, 5], dtype=np.int64), 5, 2)
    with pytest.raises(TypeError, match="64-bit"):
        _fastfp.tile(ok.astype(np.int32), 5, 2)


# --- sort_pairs: a segment's postings by hash, then document ---------------------------------------------


def _pairs_both(h: npt.NDArray[np.int64], d: npt.NDArray[np.uint32]) -> None:
    order = np.lexsort((d, h))  # the reference: what segments.sort_pairs does without the kernel
    got_h, got_d = _fastfp.sort_pairs(h, d)
    got_h, got_d = np.frombuffer(got_h, dtype=np.int64), np.frombuffer(got_d, dtype=np.uint32)
    assert got_h.tolist() == h[order].tolist() and got_d.tolist() == d[order].tolist()


def test_sort_pairs_matches_lexsort() -> None:
    rng = np.random.default_rng(14)
    top = np.iinfo(np.int64)
    for n in (0, 1, 2, 63, 64, 65, 5000, 70_000):  # the insertion sort, the radix passes, without the GIL
        h = rng.integers(top.min, top.max, n, dtype=np.int64, endpoint=True)
        repeated = rng.choice(h[: max(1, n // 20)], n) if n else h  # hashes many documents hold
        in_order = np.sort(rng.integers(0, 2**32, n, dtype=np.uint32))  # a build's buffer
        shuffled = rng.integers(0, 2**32, n, dtype=np.uint32)  # merged runs
        for hashes in (h, repeated, -np.abs(repeated)):  # negative: signed order, not unsigned
            for docs in (in_order, shuffled, np.zeros(n, dtype=np.uint32)):
                _pairs_both(hashes, docs)
    extremes = np.array([top.max, top.min, -1, 0, 1, top.min, top.max] * 20, dtype=np.int64)
    _pairs_both(extremes, np.arange(len(extremes), dtype=np.uint32)[::-1].copy())


@_SETTINGS
@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**32 - 1)), max_size=300))
def test_sort_pairs_generated(pairs: list[tuple[int, int]]) -> None:
    _pairs_both(
        np.array([h for h, _ in pairs], dtype=np.int64), np.array([d for _, d in pairs], dtype=np.uint32)
    )


def test_sort_pairs_argument_validation() -> None:
    h, d = np.array([3, 1], dtype=np.int64), np.array([0, 0], dtype=np.uint32)
    with pytest.raises(ValueError, match="2 hashes but 1 docs"):
        _fastfp.sort_pairs(h, d[:1])
    with pytest.raises(TypeError, match="int64"):
        _fastfp.sort_pairs(h.astype(np.int32), d)
    with pytest.raises(TypeError, match="uint32"):
        _fastfp.sort_pairs(h, d.astype(np.int64))
    with pytest.raises(TypeError, match="buffer"):
        _fastfp.sort_pairs([3, 1], d)


# --- the kernel's version ---------------------------------------------------------------------------------


def test_kernel_implements_this_lexer_and_every_function() -> None:
    """The kernel says which lexer it implements (bump FP_LEXER_VERSION in index/_fastfp.c with
    lexer.LEXER_VERSION) and has every function the code calls: a kernel built from these sources is
    used."""
    assert _fastfp.LEXER_VERSION == lexer.LEXER_VERSION
    assert fp._stale(_fastfp) is None and fp.has_native()


_STALE_KERNEL = """
import sys, types, warnings
old = types.ModuleType("whence.index._fastfp")  # a build of lexer 3's sources: no tile, no version
old.tokenize = old.kgrams = lambda *a: None
sys.modules["whence.index._fastfp"] = old
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from whence.index import fingerprint as fp
assert not fp.has_native(), "a stale kernel was used"
(w,) = [w for w in caught if issubclass(w.category, RuntimeWarning)]
print(w.message)
toks = fp.tokenize(b"def f(x):\\n    return x + 1\\n", "Python")  # the pure-Python path answers
assert len(toks) == 10, len(toks)  # def f ( x ) : return x + 1
"""


_OLD_INTERFACE = """
import sys, warnings
from whence.index import _fastfp
class Old:  # this lexer and every function, but index_fingerprint without code_syntax and tiny
    LEXER_VERSION = _fastfp.LEXER_VERSION
    def __getattr__(self, name):
        if name == "INTERFACE":  # built before it said
            raise AttributeError(name)
        return getattr(_fastfp, name)
import whence.index
sys.modules["whence.index._fastfp"] = whence.index._fastfp = Old()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from whence.index import fingerprint as fp
assert not fp.has_native(), "a kernel of interface 1 was used"
(w,) = [w for w in caught if issubclass(w.category, RuntimeWarning)]
print(w.message)
"""


def test_a_kernel_of_another_interface_is_not_used() -> None:
    """A kernel of this lexer whose functions take other arguments (built before index_fingerprint took
    the code-only profile) would fail at the first build: it is set aside the same way."""
    assert _fastfp.INTERFACE == fp.KERNEL_INTERFACE
    out = subprocess.run([sys.executable, "-c", _OLD_INTERFACE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"(it has interface 1, this code calls interface {fp.KERNEL_INTERFACE})" in out.stdout


def test_a_kernel_built_from_older_sources_is_not_used() -> None:
    """A checkout pulled without rebuilding its kernel keeps the old ``_fastfp``: its lexer would
    fingerprint files as the older version did, under this version's name.  It is set aside with a
    warning that says how to rebuild, and the pure-Python lexer serves."""
    out = subprocess.run([sys.executable, "-c", _STALE_KERNEL], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "older than this code (it implements lexer 1-3, this code lexer" in out.stdout
    assert "Rebuild it: pip install -e ." in out.stdout


def test_kgrams_repeated_in_the_query_seed_within_a_budget_of_pairs() -> None:
    # Eight equal lines: every k-gram is found seven or eight times in the query.  They seed runs in a
    # document of twelve such lines (under align.SEED_PAIRS pairs), none in one of a thousand, where
    # each would pair with every copy (only k-grams found at most twice seed there).
    from whence.index import align

    line = b"total = total + values[index] * weight\n"
    q = fp.tokenize(line * 8, "python")
    grams = align.Grams.of(fp.kgrams(q.exact))
    assert len(grams.repeated) and grams.repeats.min() > 2 and grams.repeats.max() <= align.MAX_SEED_REPEATS
    for copies, seeds in ((12, True), (1000, False)):
        d = fp.tokenize(line * copies, "python")
        dk = fp.kgrams(d.exact)
        assert (align._repeat_pairs(grams, dk, align.MAX_SEED_REPEATS) <= align.SEED_PAIRS) == seeds
        hits, runs = align.seed_runs(grams, dk, q.exact, d.exact, fp.K, 1)
        assert hits > 0 and bool(len(runs)) == seeds
