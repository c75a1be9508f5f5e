"""Lexer and fingerprint invariants, with hypothesis."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whence.index import fingerprint as fp
from whence.index.lexer import tokenize as reference_tokenize

settings.register_profile("whence", derandomize=True, max_examples=150, deadline=None)
settings.load_profile("whence")

# Tokens whose lexing does not depend on their neighbours or on line starts (not `#`, nor `*`: first on
# its line and followed by white space, it is a doc comment's decoration and dropped).
_WORD = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_NUM = st.from_regex(r"[0-9]{1,5}(\.[0-9]{1,3})?", fullmatch=True)
_STR = st.from_regex(r"\"[a-z ]{0,6}\"", fullmatch=True)
_PUNCT = st.sampled_from(list("(){}[];,.:=+-<>!&|%^~?@"))
_TOKENS = st.lists(st.one_of(_WORD, _NUM, _STR, _PUNCT), min_size=1, max_size=80)
_SPACE = st.text(alphabet=" \t\n", min_size=1, max_size=3)


def _join(tokens: list[str], seps: list[str]) -> str:
    out = []
    for i, t in enumerate(tokens):
        out.append(t)
        out.append(seps[i % len(seps)])
    return "".join(out)


@given(_TOKENS, st.lists(_SPACE, min_size=1, max_size=10), st.lists(_SPACE, min_size=1, max_size=10))
def test_whitespace_does_not_change_tokens(tokens: list[str], seps1: list[str], seps2: list[str]) -> None:
    a = fp.tokenize(_join(tokens, seps1).encode())
    b = fp.tokenize(_join(tokens, seps2).encode())
    assert a.exact.tolist() == b.exact.tolist()
    assert a.abstract.tolist() == b.abstract.tolist()


@given(_TOKENS, st.lists(st.from_regex(r"[a-z ]{0,20}", fullmatch=True), min_size=1, max_size=5))
def test_line_comments_and_block_comment_markers_do_not_change_tokens(
    tokens: list[str], notes: list[str]
) -> None:
    # Line comments are dropped; a block comment's markers are, and its words are tokens like code's.
    plain = []
    commented = []
    for i, t in enumerate(tokens):
        plain.append(t)
        commented.append(t)
        note = notes[i % len(notes)]
        commented.append([f" /* {note} */ ", f"  # {note}\n", f"\n /**\n * {note}\n */\n", "\n"][i % 4])
        plain.append([f" {note} ", " ", f" {note} ", " "][i % 4])
    a = fp.tokenize("".join(plain).encode())
    b = fp.tokenize("".join(commented).encode())
    assert a.exact.tolist() == b.exact.tolist()


def test_line_endings_do_not_change_tokens_or_lines() -> None:
    code = "def f(a):\n    # note\n    return a + 1  // 2\n\n'''doc\nstring'''\nx = 1\n"
    lf = fp.tokenize(code.encode())
    for eol in ("\r\n", "\r"):
        other = fp.tokenize(code.replace("\n", eol).encode())
        assert other.exact.tolist() == lf.exact.tolist()
        assert other.line_start.tolist() == lf.line_start.tolist()
        assert other.line_end.tolist() == lf.line_end.tolist()


def test_renaming_keeps_the_abstract_view() -> None:
    a = fp.tokenize(b"def area(width, height):\n    return width * height\n")
    b = fp.tokenize(b"def surface(w, h):\n    return w * h\n")
    assert a.abstract.tolist() == b.abstract.tolist()
    assert a.exact.tolist() != b.exact.tolist()


def test_quote_style_does_not_matter() -> None:
    assert fp.tokenize(b"x = 'abc'").exact.tolist() == fp.tokenize(b'x = "abc"').exact.tolist()


def test_native_tokenizer_matches_the_reference_on_real_code() -> None:
    import inspect

    src = inspect.getsource(fp).encode()
    ref = reference_tokenize(src)
    got = fp.tokenize(src)
    assert got.exact.tolist() == ref.exact.tolist()
    assert got.line_end.tolist() == ref.line_end.tolist()


_HASHES = st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=0, max_size=200)


@given(_HASHES, _HASHES, st.lists(st.integers(0, 2**64 - 1), min_size=fp.T, max_size=fp.T + 60))
def test_any_shared_run_of_t_tokens_has_a_common_fingerprint(
    left: list[int], right: list[int], shared: list[int]
) -> None:
    """The winnowing guarantee: a shared run of >= T = K + W - 1 tokens yields a common fingerprint."""
    a = np.array(left + shared + right, dtype=np.uint64)
    b = np.array(right[::-1] + shared + left[:7], dtype=np.uint64)
    ka, kb = fp.kgrams(a), fp.kgrams(b)
    sa = set(ka[fp.winnow(ka)].tolist())
    sb = set(kb[fp.winnow(kb)].tolist())
    assert sa & sb


def test_winnow_selects_rightmost_minimum_once() -> None:
    h = np.array([5, 3, 3, 9, 9, 9, 1, 7], dtype=np.uint64)
    assert fp.winnow(h, 3).tolist() == [2, 5, 6]
    assert fp.winnow(h[:2], 3).tolist() == [1]
    assert fp.winnow(np.zeros(0, dtype=np.uint64), 3).tolist() == []


def test_minhash_matches_datasketch() -> None:
    from datasketch import MinHash

    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**63, 300, dtype=np.uint64)
    m = MinHash(num_perm=fp.NUM_PERM, seed=fp.MINHASH_SEED, hashfunc=lambda v: v)
    m.update_batch([int(v) & 0xFFFFFFFF for v in values])
    assert fp.minhash(values).tolist() == m.hashvalues.tolist()
    lean = fp.to_datasketch(fp.minhash(values))
    assert lean.jaccard(m) == 1.0  # type: ignore[attr-defined]


def test_similar_files_share_lsh_bands() -> None:
    import inspect

    src = inspect.getsource(fp).encode()
    edited = src.replace(b"def winnow(", b"def winnow_positions(")
    a, b = fp.fingerprint(src), fp.fingerprint(edited)
    assert set(a.bands()) & set(b.bands())
    other = fp.fingerprint(inspect.getsource(np.lib.stride_tricks).encode())
    assert not set(a.bands()) & set(other.bands())


def _sparse_line_keys(whole: fp.Fingerprint, held: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """A large text's line keys worked out the long way: of each view's k-grams that begin a line, those
    whose piece of ``fp.SPARSE_LINES`` lines (from theirs on) holds fewer than ``T`` tokens and none of
    that view's winnowed k-grams, under their dense or shape keys, unless ``held`` already has them."""
    t = whole.tokens
    line = t.line_start.tolist()
    keys: set[int] = set()
    for kgrams, key in ((whole.exact_kgrams, fp.dense_keys), (whole.abstract_kgrams, fp.shape_keys)):
        chosen = set(fp.winnow(kgrams).tolist())
        for i in range(len(kgrams)):
            if i and t.line_start[i] <= t.line_end[i - 1]:
                continue
            end = i
            while end < len(line) and line[end] < line[i] + fp.SPARSE_LINES:
                end += 1
            if end - i >= fp.T or chosen & set(range(i, max(i, end - fp.K) + 1)):
                continue
            if kgrams[i] not in held:
                keys.add(int(key(kgrams[i : i + 1])[0]))
    return np.array(sorted(keys), dtype=np.uint64)


def test_index_fingerprint_equals_the_step_by_step_pipeline() -> None:
    import inspect

    for module in (fp, np.lib.stride_tricks, inspect):
        src = inspect.getsource(module).encode()
        whole = fp.fingerprint(src)
        fused = fp.index_fingerprint(src)
        winnowed = whole.index_hashes().view(np.uint64)
        if len(whole.tokens) >= fp.LINE_TOKENS:  # a large text: its sparse lines' keys as well
            winnowed = np.union1d(winnowed, _sparse_line_keys(whole, winnowed))
        else:  # (a module that only imports another's names has no k-gram)
            assert len(whole.tokens) < fp.K
        assert fused.hashes.tolist() == winnowed.view(np.int64).tolist()
        assert fused.signature.tolist() == whole.signature.tolist()
        assert fused.tokens == len(whole.tokens)
        assert fused.bands() == whole.bands()
    # One token repeated: after the first window every step selects a new position, in both views (the
    # most the compiled sort is handed, all of one value); then many repeats before varied k-grams.
    for src in (b"x " * 700, b"a = b\n" * 300 + inspect.getsource(fp).encode()):
        whole = fp.fingerprint(src)
        if src.startswith(b"x "):
            assert (
                len(whole.exact_selected)
                == len(whole.abstract_selected)
                == len(whole.exact_kgrams) - fp.W + 1
            )
        winnowed = whole.index_hashes().view(np.uint64)
        expected = np.union1d(winnowed, _sparse_line_keys(whole, winnowed)).view(np.int64)
        assert fp.index_fingerprint(src).hashes.tolist() == expected.tolist()
    empty = fp.index_fingerprint(b"x = 1")
    assert len(empty.hashes) == 0 and empty.bands() == []


def test_a_tiny_text_keeps_every_kgram_in_the_index() -> None:
    tiny = (
        b'url_bases = [r"https?://ce.example.com", r"https?://ce.example.org"]\n\n'
        b'url_paths = {\n    "{0}/$": Responses.dispatch,\n    "{0}/costs$": Responses.costs,\n}\n'
    )
    whole = fp.fingerprint(tiny)
    assert fp.K <= len(whole.tokens) < fp.TINY_TOKENS
    every = np.unique(np.concatenate((whole.exact_kgrams, whole.abstract_kgrams))).view(np.int64)
    picked = (whole.exact_kgrams[whole.exact_selected], whole.abstract_kgrams[whole.abstract_selected])
    winnowed = np.unique(np.concatenate(picked))
    assert len(winnowed) < len(every)  # winnowing alone would keep fewer
    assert whole.index_hashes().tolist() == every.tolist()
    assert fp.index_fingerprint(tiny).hashes.tolist() == every.tolist()  # the compiled path too


def test_triple_quotes_are_transparent() -> None:
    """A snippet cut from inside a docstring lexes like the same lines of the file."""
    doc = (
        b'def f(x):\n    """Return the frobnicated value of x.\n\n'
        b'    It is frobnicated twice.\n    """\n    return x\n'
    )
    cut = b'    It is frobnicated twice.\n    """\n    return x\n'
    whole, part = fp.tokenize(doc), fp.tokenize(cut)
    n = len(part)
    assert whole.exact[-n:].tolist() == part.exact.tolist()


def test_slash_slash_comments_and_floor_division() -> None:
    def toks(code: bytes) -> list[int]:
        return fp.tokenize(code).exact.tolist()

    assert toks(b"x := foo() // trailing comment here") == toks(b"x := foo()")
    assert toks(b"total = a + b; // sum") == toks(b"total = a + b;")
    assert toks(b"half = n//2") != toks(b"half = n")  # glued: Python's floor division
    assert toks(b"n //= 2") != toks(b"n")


def test_double_dash_comments() -> None:
    def toks(code: bytes) -> list[int]:
        return fp.tokenize(code).exact.tolist()

    assert toks(b"SELECT a FROM t -- the table\nWHERE b = 1") == toks(b"SELECT a FROM t\nWHERE b = 1")
    assert toks(b"-- header\nlocal x = 1") == toks(b"local x = 1")
    assert toks(b"i--; --j;") != toks(b"i")  # decrements stay code


def test_a_small_text_keeps_its_other_exact_kgrams_under_dense_keys() -> None:
    # 64 to 255 tokens: the winnowed hashes of both views, the exact k-grams that winnowing did not select
    # under their dense keys and the abstract ones under their shape keys (none of which is a hash the
    # index holds otherwise).
    small = b"".join(b"def f%d(x):\n    return x * %d + g(x)\n\n" % (i, i) for i in range(12))
    whole = fp.fingerprint(small)
    assert fp.TINY_TOKENS <= len(whole.tokens) < fp.DENSE_TOKENS
    winnowed = whole.index_hashes().view(np.uint64)
    rest = np.setdiff1d(whole.exact_kgrams, winnowed)
    shapes = np.setdiff1d(whole.abstract_kgrams, winnowed)
    assert len(rest) > len(winnowed) // 2 and len(shapes)  # winnowing left most of them out
    held = fp.index_fingerprint(small).hashes.view(np.uint64)
    keys = [*fp.dense_keys(rest).tolist(), *fp.shape_keys(shapes).tolist()]
    assert sorted(held.tolist()) == sorted({*winnowed.tolist(), *keys})
    assert not np.intersect1d(fp.dense_keys(rest), winnowed).size
    assert not np.intersect1d(fp.shape_keys(shapes), winnowed).size
    assert not np.intersect1d(fp.shape_keys(shapes), fp.dense_keys(rest)).size
    # A text under 64 tokens keeps none (256 to 2,047: below).  One of 2,048 and more whose every eight
    # lines hold ``T`` tokens keeps only the first k-grams of the lines whose eight lines the text's end
    # cuts short (a large text's sparse lines: below).
    tiny = b"def f(x):\n    return x * 2 + g(x)\n"
    assert len(fp.tokenize(tiny)) < fp.TINY_TOKENS
    assert fp.index_fingerprint(tiny).hashes.tolist() == fp.fingerprint(tiny).index_hashes().tolist()
    large = fp.fingerprint(small * 12)
    assert len(large.tokens) >= fp.LINE_TOKENS
    winnowed = large.index_hashes().view(np.uint64)
    keys = _sparse_line_keys(large, winnowed)
    assert 0 < len(keys) <= 2 * fp.SPARSE_LINES
    held = fp.index_fingerprint(small * 12).hashes.view(np.uint64)
    assert held.tolist() == np.union1d(winnowed, keys).tolist()
    m = len(large.exact_kgrams)
    last = large.tokens.line_start[:m] > large.tokens.line_start[-1] - fp.SPARSE_LINES
    ending = np.union1d(fp.dense_keys(large.exact_kgrams[last]), fp.shape_keys(large.abstract_kgrams[last]))
    assert np.isin(keys, ending).all()


def test_a_mid_size_text_keeps_the_kgrams_that_begin_a_line_under_dense_and_shape_keys() -> None:
    # 256 to 2,047 tokens: the winnowed hashes of both views, and of the k-grams that winnowing did not
    # select those whose first token begins a line (on a line after the previous token's last), the exact
    # ones under their dense keys, the abstract ones under their shape keys.  Each function here has four
    # lines with tokens: one k-gram in five or six.
    text = b"".join(
        b"def f%d(x):\n    y = x * %d + g(x,\n        y)\n    return y\n\n" % (i, i) for i in range(40)
    )
    whole = fp.fingerprint(text, language="Python")
    t = whole.tokens
    assert fp.DENSE_TOKENS <= len(t) < fp.LINE_TOKENS
    winnowed = whole.index_hashes().view(np.uint64)
    m = len(whole.exact_kgrams)
    begins = [i for i in range(m) if i == 0 or t.line_start[i] > t.line_end[i - 1]]
    assert len(begins) == len({int(line) for line in t.line_start[:m]}) and 4 * len(begins) < m
    rest = np.setdiff1d(whole.exact_kgrams[begins], winnowed)
    shapes = np.setdiff1d(whole.abstract_kgrams[begins], winnowed)
    held = fp.index_fingerprint(text, "Python").hashes.view(np.uint64)
    keys = [*fp.dense_keys(rest).tolist(), *fp.shape_keys(shapes).tolist()]
    assert sorted(held.tolist()) == sorted({*winnowed.tolist(), *keys})
    assert len(rest) > len(begins) // 2  # winnowing left most of them out
    # The functions differ only in their numbers: their lines' shapes are a few, kept once each.
    assert 0 < len(shapes) < len(rest) // 4
    # CRLF line ends begin the same lines.
    crlf = fp.index_fingerprint(text.replace(b"\n", b"\r\n"), "Python").hashes
    assert crlf.tolist() == held.view(np.int64).tolist()


def test_a_large_text_keeps_the_kgrams_that_begin_its_sparse_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2,048 tokens and more: of the k-grams that begin a line, those whose eight lines (from theirs on)
    # hold fewer than T tokens and none of their view's winnowed k-grams (a piece of short lines that
    # only such a key finds), under dense and shape keys.  Here, a table of constants between functions
    # whose every eight lines hold more than T tokens.
    functions = [
        b"def f%d(x, y):\n    total = x * %d + g(x, y) - h(y)\n    return total\n\n" % (i, i)
        for i in range(90)
    ]
    table = b"".join(b"C%d = %d\n" % (i, i) for i in range(40))
    text = b"".join(functions[:45]) + table + b"".join(functions[45:])
    whole = fp.fingerprint(text, language="Python")
    t = whole.tokens
    assert len(t) >= fp.LINE_TOKENS
    winnowed = whole.index_hashes().view(np.uint64)
    held = fp.index_fingerprint(text, "Python").hashes.view(np.uint64)
    keys = _sparse_line_keys(whole, winnowed)
    assert held.tolist() == np.union1d(winnowed, keys).tolist()
    # Every key begins a line of the table, or one of the seven before it, whose eight lines reach it, or
    # one of the text's last eight lines, which its end cuts short.
    first = text[: text.index(table)].count(b"\n") + 1
    last = first + 39
    begins = {}
    for kgrams, key in ((whole.exact_kgrams, fp.dense_keys), (whole.abstract_kgrams, fp.shape_keys)):
        begins |= {int(h): int(t.line_start[i]) for i, h in enumerate(key(kgrams))}
    lines = [begins[k] for k in keys.tolist()]
    ending = int(t.line_start[-1]) - fp.SPARSE_LINES
    assert len([x for x in lines if first - fp.SPARSE_LINES < x <= last]) > 10
    assert all(first - fp.SPARSE_LINES < x <= last or x > ending for x in lines)
    # Both views: the table's exact lines differ, their shapes repeat, so a few shape keys at most.
    exact = [k for k in keys.tolist() if k in set(fp.dense_keys(whole.exact_kgrams).tolist())]
    assert len(exact) > 10 and len(keys) - len(exact) <= 4
    # Eight lines of the table, too short for the winnowing guarantee, hold a key or a winnowed k-gram.
    table_starts = [i for i in range(len(whole.exact_kgrams)) if first <= t.line_start[i] <= last - 7]
    for i in table_starts:
        if t.line_start[i] > t.line_end[i - 1]:
            piece = range(i, i + 24 - fp.K + 1)  # 8 lines of 3 tokens
            assert set(whole.exact_kgrams[list(piece)].tolist()) & set(winnowed.tolist()) or (
                int(fp.dense_keys(whole.exact_kgrams[i : i + 1])[0]) in held
            )
    # CRLF line ends begin the same lines; without sparse lines (SPARSE_LINES 0) the text keeps none.
    crlf = fp.index_fingerprint(text.replace(b"\n", b"\r\n"), "Python").hashes
    assert crlf.view(np.uint64).tolist() == held.tolist()
    monkeypatch.setattr(fp, "SPARSE_LINES", 0)
    assert fp.index_fingerprint(text, "Python").hashes.view(np.uint64).tolist() == winnowed.tolist()
