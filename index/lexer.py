"""Language-agnostic lexer: source bytes -> token hashes with line numbers.

This module is the *specification* of whence's tokenisation, written in plain Python so that it can be
read and property-tested. ``index/_fastfp.c`` implements exactly the same rules in C (it is what runs);
``tests/test_fastfp.py`` checks that both agree on arbitrary input.

The lexer must give the same tokens for an indexed file and for a snippet cut from it, without knowing
the language (a pasted snippet has none), for the 600+ languages of The Stack.  So it uses one set of
rules for every language, chosen so that the common comment and string syntaxes are recognised and
everything else still becomes stable tokens:

* Line endings: ``\\r\\n`` and a lone ``\\r`` both end a line (CRLF and old-Mac files lex like LF).
* Whitespace is dropped.
* Comments are dropped: ``/* ... */``, ``<!-- ... -->``; ``//`` to the end of the line unless it is
  ``//=`` or glued between operands (``a//b``, Python's floor division; spaced out, ``a // b`` lexes as
  ``a`` and a comment -- in the file and in a snippet alike); ``--`` with white space on both sides
  (SQL, Lua, Haskell; ``x--`` and ``--i`` stay code); and ``#`` to the end of the line when it is
  followed by white space, ``#``, ``!`` or the end of the line, or when it starts a line and is not a
  C preprocessor directive (``#include`` stays code).
* Strings: ``"..."`` and ``'...'`` (backslash escapes, must close on the same line, otherwise the quote
  is punctuation -- an apostrophe in prose or a Rust lifetime) and back-quoted strings (may span lines,
  must close).  A string's *exact* hash covers its contents only, so ``'x'`` and ``"x"`` (a formatter's
  quote change) are the same token; line breaks inside a string hash as ``\\n`` whatever their style.
* Triple quotes (``\"\"\"``, ``'''``) are dropped and what they enclose is lexed like code.  A
  snippet cut from the middle of a docstring starts with prose and ends with the closing quotes; were
  docstrings single tokens, the snippet would lex as something else entirely.  This way both lex the
  same, and copied documentation is found like copied code.
* Numbers: a digit, then letters, digits, ``_`` and ``.`` followed by a digit.
* Identifiers: ``[A-Za-z_$]`` or any non-ASCII byte, then those or digits.
* Anything else is a one-character punctuation token (``==`` is two ``=`` tokens, so spacing between
  operators never matters).

Each token has two hashes: the *exact* view (xxh64 of its text) and the *abstract* view, in which every
identifier, number and string is replaced by its class (keywords and punctuation are kept), so that a
copy whose identifiers were consistently renamed has the same abstract tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

# Token kinds.
IDENT, KEYWORD, NUMBER, STRING, PUNCT = 0, 1, 2, 3, 4

SEED_EXACT = 0
SEED_STRING = 0x5354  # string contents are hashed with their own seed: "x" != x
CLASS_HASH = {
    IDENT: xxhash.xxh64_intdigest(b"\x00ident", SEED_EXACT),
    NUMBER: xxhash.xxh64_intdigest(b"\x00number", SEED_EXACT),
    STRING: xxhash.xxh64_intdigest(b"\x00string", SEED_EXACT),
}

# Words kept verbatim in the abstract view: renaming never touches them, and keeping them makes the
# abstract view far more selective than "every word is an identifier".  A union over common languages.
KEYWORDS = frozenset(
    b"""abstract and as assert async await begin bool boolean break byte case catch char class const
    continue def default defer del delete do double elif else end enum except export extends extern
    false final finally float fn for foreach from func function global go goto if impl implements
    import in instanceof int interface is lambda let long loop match mod module mut namespace new nil
    none not null or override package pass private protected pub public raise return self short
    signed sizeof static struct super switch synchronized template then this throw throws trait true
    try type typedef typeof union unless unsafe unsigned use using var virtual void volatile when where
    while with yield None True False string str void""".split()
)

# ``#word`` at the start of a line that is code, not a comment.
DIRECTIVES = frozenset(
    b"""include define undef if ifdef ifndef elif else endif pragma error warning line import region
    endregion using""".split()
)

_IDENT_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$") | frozenset(
    range(128, 256)
)
_IDENT_CONT = _IDENT_START | frozenset(b"0123456789")
_DIGITS = frozenset(b"0123456789")
_NUM_CONT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789")
_SPACE = frozenset(b" \t\f\v")
_BLANK = frozenset(b" \t\n\r")
_OPERAND_BYTES = _IDENT_CONT | frozenset(b")]")


@dataclass(frozen=True, slots=True)
class Tokens:
    """The token stream of one text: parallel arrays, one entry per token.

    Attributes:
        exact: uint64 hash of each token's text (strings: of their contents).
        abstract: uint64 hash with identifiers, numbers and strings replaced by their class.
        line_start: 1-based line on which each token starts.
        line_end: 1-based line on which each token ends (differs for multi-line strings).
    """

    exact: npt.NDArray[np.uint64]
    abstract: npt.NDArray[np.uint64]
    line_start: npt.NDArray[np.uint32]
    line_end: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.exact)


def _line_break(data: bytes, i: int) -> int:
    """Length of the line break at ``i`` (1 or 2 for CRLF), 0 if none."""
    c = data[i]
    if c == 10:
        return 1
    if c == 13:
        return 2 if i + 1 < len(data) and data[i + 1] == 10 else 1
    return 0


def _is_directive(data: bytes, i: int) -> bool:
    j = i
    while j < len(data) and data[j] in _IDENT_CONT:
        j += 1
    return data[i:j] in DIRECTIVES


def tokenize(data: bytes) -> Tokens:
    """Lex ``data`` (UTF-8 or any ASCII-compatible encoding) into a :class:`Tokens` stream."""
    n = len(data)
    exact: list[int] = []
    abstract: list[int] = []
    lstart: list[int] = []
    lend: list[int] = []
    line = 1
    line_has_token = False  # a token already started on the current line
    i = 0

    def emit(kind: int, h: int, first: int, last: int) -> None:
        exact.append(h)
        abstract.append(CLASS_HASH.get(kind, h))
        lstart.append(first)
        lend.append(last)

    while i < n:
        c = data[i]
        br = _line_break(data, i)
        if br:
            i += br
            line += 1
            line_has_token = False
            continue
        if c in _SPACE:
            i += 1
            continue
        nxt = data[i + 1] if i + 1 < n else -1
        # Block comments.
        if c == 47 and nxt == 42:  # /*
            end = data.find(b"*/", i + 2)
            end = n if end < 0 else end + 2
            line += _count_lines(data, i, end)
            i = end
            continue
        if c == 60 and data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            end = n if end < 0 else end + 3
            line += _count_lines(data, i, end)
            i = end
            continue
        # Line comments.
        is_comment = False
        if c == 47 and nxt == 47:  # //
            after = data[i + 2] if i + 2 < n else -1
            glued = i > 0 and data[i - 1] in _OPERAND_BYTES and after not in (-1, 9, 10, 13, 32)
            is_comment = after != 61 and not glued  # not `//=`, not `a//b`
        elif c == 35:  # #
            is_comment = nxt in (-1, 10, 13, 32, 9, 35, 33) or (
                not line_has_token and not _is_directive(data, i + 1)
            )
        elif c == 45 and nxt == 45:  # -- (SQL, Lua, Haskell, Ada), spaced out on both sides
            after = data[i + 2] if i + 2 < n else -1
            is_comment = (i == 0 or data[i - 1] in _BLANK) and after in (-1, 9, 10, 13, 32)
        if is_comment:
            while i < n and data[i] not in (10, 13):
                i += 1
            continue
        first = line
        # Triple quotes are dropped and what they enclose is lexed as code.
        if c in (34, 39) and nxt == c and i + 2 < n and data[i + 2] == c:
            i += 3
            continue
        # Strings.
        if c in (34, 39, 96):  # " ' `
            end, inner_start, inner_end = _scan_string(data, i)
            if end > 0:
                inner = data[inner_start:inner_end]
                if b"\r" in inner:  # multi-line strings: line endings normalised like the rest
                    inner = inner.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                h = xxhash.xxh64_intdigest(inner, SEED_STRING)
                line += _count_lines(data, i, end)
                emit(STRING, h, first, line)
                i = end
                line_has_token = True
                continue
            # An unclosed quote is punctuation.
        if c in _DIGITS:
            j = i + 1
            while j < n and (
                data[j] in _NUM_CONT or (data[j] == 46 and j + 1 < n and data[j + 1] in _DIGITS)
            ):
                j += 1
            emit(NUMBER, xxhash.xxh64_intdigest(data[i:j], SEED_EXACT), first, first)
            i = j
            line_has_token = True
            continue
        if c in _IDENT_START:
            j = i + 1
            while j < n and data[j] in _IDENT_CONT:
                j += 1
            word = data[i:j]
            h = xxhash.xxh64_intdigest(word, SEED_EXACT)
            if word in KEYWORDS:
                emit(KEYWORD, h, first, first)
            else:
                emit(IDENT, h, first, first)
            i = j
            line_has_token = True
            continue
        emit(PUNCT, xxhash.xxh64_intdigest(data[i : i + 1], SEED_EXACT), first, first)
        i += 1
        line_has_token = True

    return Tokens(
        np.array(exact, dtype=np.uint64),
        np.array(abstract, dtype=np.uint64),
        np.array(lstart, dtype=np.uint32),
        np.array(lend, dtype=np.uint32),
    )


def _count_lines(data: bytes, start: int, end: int) -> int:
    """Number of line breaks in ``data[start:end]`` (CRLF counts once)."""
    seg = data[start:end]
    return seg.count(b"\n") + seg.count(b"\r") - seg.count(b"\r\n")


def _scan_string(data: bytes, i: int) -> tuple[int, int, int]:
    """Scan a string literal starting at ``i``.

    Returns ``(end, inner_start, inner_end)``, or ``(-1, -1, -1)`` if it does not close.
    """
    n = len(data)
    q = data[i]
    j = i + 1
    while j < n:
        d = data[j]
        if d == 92:  # backslash escapes the next byte (but not a line break in one-line strings)
            if j + 1 < n and (q == 96 or data[j + 1] not in (10, 13)):
                j += 2
                continue
            if q != 96:
                return -1, -1, -1
        if d == q:
            return j + 1, i + 1, j
        if q != 96 and d in (10, 13):
            return -1, -1, -1
        j += 1
    return -1, -1, -1
