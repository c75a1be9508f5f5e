"""Lexer: source bytes -> token hashes with line numbers, with the comment and string syntax of the file's
language.

This module is the *specification* of whence's tokenisation, written in plain Python so that it can be
read and property-tested. ``index/_fastfp.c`` implements exactly the same rules in C (it is what runs);
``tests/test_fastfp.py`` checks that both agree on arbitrary input, for every syntax profile.

The lexer must give the same tokens for an indexed file and for a snippet cut from it.  What is a comment
and what is a string depends on the language: ``/*`` opens a comment in C and is two operators inside a
Python docstring; ``;`` ends a statement in C and starts a comment in Lisp.  So each language of The
Stack v2 that whence knows has a :class:`Syntax` profile (:data:`PROFILES`, keyed by the dataset's
``language`` names; :func:`syntax_for` also takes common aliases); a file is lexed with its language's,
a snippet with the one given or guessed (:func:`guess_language`).  Text of no known language -- and a
snippet whose language is unknown and cannot be guessed -- gets :data:`DEFAULT`, a union of the common
syntaxes chosen so that the usual comments and strings are recognised and everything else still becomes
stable tokens.  The rules, with what a profile decides in brackets:

* Line endings: ``\\r\\n`` and a lone ``\\r`` both end a line (CRLF and old-Mac files lex like LF).
* Whitespace is dropped.
* Block comments [the pairs, and whether they nest] are *transparent*: their opener and closer are
  dropped wherever they stand, and what they enclose is lexed like code.  A snippet cut from the middle of
  a Javadoc or a license header starts with prose and ends with ``*/``; were comments dropped whole, the
  snippet would lex as something else entirely.  This way both lex the same, and copied
  documentation is found like copied code.  Inside a comment (known from its opener: a snippet that
  starts inside one cannot know) a quote that may span lines must close on its line, and a line comment
  ends at the comment's closer, so that an odd backtick or ``http://`` in prose never swallows the code
  after the comment.  In a profile with ``/* */`` comments, a ``*`` that is the first token of its line
  and is followed by white space (or the end of the line) is dropped: the decoration of a doc comment's
  lines, so that a license header or a Javadoc lexes like the same prose wrapped otherwise (a ``/**``
  that begins its line then drops whole).
* Line comments [the markers, each with conditions: see :data:`BLANK_BEFORE` and the other flags] are
  dropped to the end of the line.  The default: block comments ``/* ... */`` and ``<!-- ... -->``;
  ``//`` to the end of the line unless it is ``//=`` or glued between operands (``a//b``, Python's
  floor division; spaced out, ``a // b`` lexes as ``a`` and a comment -- in the file and in a snippet
  alike); ``--`` with white space on both sides (SQL, Lua, Haskell; ``x--`` and ``--i`` stay code); and
  ``#`` to the end of the line when it is followed by white space, ``#``, ``!`` or the end of the line,
  or when it starts a line and is not a C preprocessor directive (``#include`` stays code).
* Strings [the quote characters; which of them may span lines; backslash escapes or not; ``'`` as a
  character literal]: a string must close on the same line (unless its quote may span lines: then it
  must close somewhere), otherwise the quote is punctuation -- an apostrophe in prose or a Rust lifetime.
  The default: ``"..."`` and ``'...'`` with backslash escapes, back-quoted strings that may span lines.
  A string's *exact* hash covers its contents only, so ``'x'`` and ``"x"`` (a formatter's quote change)
  are the same token; line breaks inside a string hash as ``\\n`` whatever their style.
* Triple quotes [which: ``\"\"\"``, ``'''``] are dropped and what they enclose is lexed like code, with the
  language's comment rules.  A snippet cut from the middle of a docstring starts with prose and ends
  with the closing quotes; were docstrings single tokens, the snippet would lex as something else
  entirely.  This way both lex the same, and copied documentation is found like copied code.
* Regular-expression literals [JavaScript, TypeScript, Ruby, Perl]: a ``/`` that is not a comment and
  does not follow an operand (an identifier, number, string, ``)`` or ``]``) opens one when it closes
  on the same line within :data:`REGEX_MAX` bytes (``\\`` escapes, ``[...]`` classes); it is a string
  token of its contents.
* Numbers: a digit, then letters, digits, ``_`` and ``.`` followed by a digit.
* Identifiers: ``[A-Za-z_$]`` or any non-ASCII byte, then those or digits.
* Anything else is a one-character punctuation token (``==`` is two ``=`` tokens, so spacing between
  operators never matters).

Each token has two hashes: the *exact* view (xxh64 of its text) and the *abstract* view, in which every
identifier, number and string is replaced by its class (keywords and punctuation are kept: the words of
:data:`KEYWORDS`, or in Python's profile those of :data:`PYTHON_WORDS` and :data:`PYTHON_BUILTINS`), so
that a copy whose identifiers were consistently renamed has the same abstract tokens.

:func:`guess_language` names a snippet's language from cheap clues (a shebang, ``#include``, ``def ...:``,
``package``, ...) or returns None; ``scripts/eval/guess_language.py`` measures it (``docs/fingerprints.md``:
on real files 95% right and 0.1% wrong, on snippets of 5 to 40 lines 72% right and 0.2% wrong; the
rest unsure, lexed with :data:`DEFAULT`).  Every index records :data:`LEXER_VERSION`.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

#: Version of the tokenisation rules, recorded in every index (``codec.FINGERPRINT_PARAMS``): an index
#: built with other rules must be rebuilt.  1: one rule set for every language; 2: syntax profiles; 3: block
#: comments transparent (their contents are tokens), doc-comment decorations dropped; 4: Python keeps only
#: its own words of :data:`KEYWORDS` in the abstract view (:data:`PYTHON_WORDS`); 5: and its builtins
#: (:data:`PYTHON_BUILTINS`).
LEXER_VERSION = 5

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

# The words of KEYWORDS that Python keeps verbatim in the abstract view (a profile's ``python_words``):
# its keywords, ``self``, and the builtins among them, which a copier does not rename.  The others are
# names in Python: a variable called ``func``, ``module``, ``end`` or ``final``, renamed, must not break
# a renamed copy's abstract k-grams.  (``match`` and ``case`` are soft keywords, far more often names.)
PYTHON_WORDS = frozenset(
    b"""and as assert async await break class continue def del elif else except finally for from global
    if import in is lambda not or pass raise return try while with yield None True False self bool float
    int str super type""".split()
)

# Python's builtins (and ``cls``) that its profile also keeps verbatim in the abstract view, though no other
# language treats them as keywords: a copy cannot rename ``len``, ``isinstance`` or ``ValueError``
# without changing what the code does, so they tell one signature or loop from another as keywords do
# (``v1: list[tuple[str, str]]`` against ``v1: dict[str, v2]``).  Left out: the builtins code often
# reuses as its own names (``id``, ``format``, ``filter``, ``map``, ``input``, ``hash``, ``dir``,
# ``next``, ``min``, ``max``, ``sum``, ``all``, ``any``, ``open``, ``iter``, ``vars``, ``help``, ...),
# which a renamed copy renames.  Lexer 5.
PYTHON_BUILTINS = frozenset(
    b"""cls abs bytearray bytes callable chr classmethod complex delattr dict divmod enumerate frozenset
    getattr globals hasattr isinstance issubclass len list locals memoryview object ord print property
    range repr reversed round set setattr slice sorted staticmethod tuple zip NotImplemented Ellipsis
    ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError
    BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError
    ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError EncodingWarning
    EnvironmentError Exception ExceptionGroup FileExistsError FileNotFoundError FloatingPointError
    FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError IndexError
    InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError
    ModuleNotFoundError NameError NotADirectoryError NotImplementedError OSError OverflowError
    PendingDeprecationWarning PermissionError ProcessLookupError RecursionError ReferenceError
    ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError
    SyntaxWarning SystemError SystemExit TabError TimeoutError TypeError UnboundLocalError
    UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning
    ValueError Warning ZeroDivisionError""".split()
)

# ``#word`` at the start of a line that is code, not a comment (the default profile's ``#`` rule).
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
_AFTER_BLANK = (-1, 9, 10, 13, 32)  # end of text, tab, LF, CR, space

# Conditions on a line-comment marker (all of a marker's must hold; none: the marker always comments).
#: preceded by white space or the start of the text (shell's ``#``: ``$#`` and ``${#x}`` stay code)
BLANK_BEFORE = 1
#: followed by white space or the end of the text (the default's ``--``)
BLANK_AFTER = 2
#: the first token of its line (Dockerfile's ``#``, batch files' ``::``)
LINE_START = 4
#: a word: matched ignoring case, not followed by an identifier byte (``REM``)
WORD = 8
#: not ``//=`` and not glued between operands (``a//b``): the default's ``//``
SLASH_RULE = 16
#: followed by white space, ``#``, ``!`` or the end, or the first token of its line and not a C
#: preprocessor directive (:data:`DIRECTIVES`): the default's ``#``
HASH_RULE = 32
#: not preceded by a backslash (TeX's ``\\%``, make's ``\\#``)
NOT_ESCAPED = 64

#: Flag of :meth:`Syntax.encode`'s first byte: lex the *code only*, block comments dropped whole (to their
#: closer, nested where the language nests them), as lexer 2 did; see :func:`tokenize`'s ``code_only``.
CODE_ONLY = 16

_MAX_MARKERS = 8  # of each kind, per profile (the kernel's fixed-size tables)
_MAX_MARKER_LEN = 8


@dataclass(frozen=True, slots=True)
class Syntax:
    """The comment and string syntax of a language: what the lexer drops and what is one string token.

    Attributes:
        name: the profile's name (a language name, or ``default``).
        line: line-comment markers, each with its conditions (:data:`BLANK_BEFORE`, ...), tried in order.
        block: block comments: (opener, closer, nests); their openers, then their closers, are tried before
            the line markers and dropped (the contents are lexed as code: see the module docstring).
        quotes: the bytes that open a string.
        multiline: those of ``quotes`` whose strings may span lines (and must then close).
        escapes: a backslash escapes the next byte in strings (otherwise it is an ordinary byte: SQL,
            Pascal, Visual Basic double a quote instead, which lexes as two adjacent strings).
        triple: the quote bytes whose triple (``\"\"\"``, ``'''``) is dropped, its contents lexed as code.
        regex: ``/.../`` regular-expression literals (see the module docstring).
        char_quote: ``'`` opens a character literal only -- one character or a backslash escape (at most
            ten bytes) -- so that Rust's lifetimes and Haskell's primes stay punctuation.
        python_words: the abstract view keeps only :data:`PYTHON_WORDS` of :data:`KEYWORDS` verbatim (the
            other words are names: Python's profile); otherwise all of :data:`KEYWORDS`.
    """

    name: str
    line: tuple[tuple[bytes, int], ...] = ()
    block: tuple[tuple[bytes, bytes, bool], ...] = ()
    quotes: bytes = b"\"'"
    multiline: bytes = b""
    escapes: bool = True
    triple: bytes = b""
    regex: bool = False
    char_quote: bool = False
    python_words: bool = False

    def __post_init__(self) -> None:
        if len(self.line) > _MAX_MARKERS or len(self.block) > _MAX_MARKERS:
            raise ValueError(f"{self.name}: at most {_MAX_MARKERS} line and {_MAX_MARKERS} block markers")
        for m in [m for m, _ in self.line] + [b for o, c, _ in self.block for b in (o, c)]:
            if not 0 < len(m) <= _MAX_MARKER_LEN:
                raise ValueError(f"{self.name}: comment markers are 1 to {_MAX_MARKER_LEN} bytes, got {m!r}")
        openers = [m for m, _ in self.line] + [b for o, c, _ in self.block for b in (o, c)]
        if any(o[0] in _DIGITS or o[0] in _BLANK or o[0] in _SPACE for o in openers):
            raise ValueError(f"{self.name}: a comment marker cannot start with a digit or white space")
        quotes = set(self.quotes)
        if not set(self.multiline) <= quotes or not set(self.triple) <= quotes & set(b"\"'"):
            raise ValueError(f"{self.name}: multiline and triple must be quotes (triple: only \" and ')")

    @property
    def stars(self) -> bool:
        """Whether a ``*`` first on its line and followed by white space is a doc comment's decoration
        (dropped): in profiles with ``/* */`` comments."""
        return any(o == b"/*" for o, _, _ in self.block)

    def encode(self, code_only: bool = False) -> bytes:
        """The compact form the compiled kernel takes (``_fastfp.tokenize(data, syntax)``); ``code_only``:
        block comments dropped whole (:data:`CODE_ONLY`)."""
        return _encode(self, code_only)


@functools.cache
def _encode(s: Syntax, code_only: bool = False) -> bytes:
    out = bytearray(
        [s.escapes | s.regex << 1 | s.char_quote << 2 | s.stars << 3 | code_only << 4 | s.python_words << 5]
    )
    for part in (s.quotes, s.multiline, s.triple):
        out += bytes([len(part)]) + part
    out.append(len(s.block))
    for opener, closer, nests in s.block:
        out += bytes([nests, len(opener)]) + opener + bytes([len(closer)]) + closer
    out.append(len(s.line))
    for marker, flags in s.line:
        out += bytes([flags, len(marker)]) + marker
    return bytes(out)


#: Text of no known language: the union of the common syntaxes (whence's rules before profiles).
DEFAULT = Syntax(
    "default",
    line=((b"//", SLASH_RULE), (b"#", HASH_RULE), (b"--", BLANK_BEFORE | BLANK_AFTER)),
    block=((b"/*", b"*/", False), (b"<!--", b"-->", False)),
    quotes=b"\"'`",
    multiline=b"`",
    triple=b"\"'",
)

_C_BLOCK = ((b"/*", b"*/", False),)
_C_NESTED = ((b"/*", b"*/", True),)
_SLASH = ((b"//", 0),)
_HASH = ((b"#", 0),)
_HASH_WORD = ((b"#", BLANK_BEFORE),)  # shells, Perl, YAML: `$#`, `${#x}`, `a#b` stay code


def _c(name: str, **kw: object) -> Syntax:
    """A C-family profile: ``//`` and ``/* */`` comments, ``"`` and ``'`` strings, ``#`` is code."""
    args: dict[str, object] = {"line": _SLASH, "block": _C_BLOCK}
    args.update(kw)
    return Syntax(name, **args)  # type: ignore[arg-type]


def _hash(name: str, **kw: object) -> Syntax:
    """A ``#``-comment profile (scripting languages, configuration)."""
    args: dict[str, object] = {"line": _HASH}
    args.update(kw)
    return Syntax(name, **args)  # type: ignore[arg-type]


_LISP = {"line": ((b";", 0),), "quotes": b'"'}
_LISP_BLOCK = {**_LISP, "block": ((b"#|", b"|#", True),)}
_PROSE = {"quotes": b""}  # no comments, no strings: every word and mark is a token

_PROFILES = [
    _hash("Python", triple=b"\"'", python_words=True),
    _c("Java", triple=b'"', char_quote=True),
    _c("C", char_quote=True),
    _c("C++", char_quote=True),
    _c("C#", char_quote=True),
    _c("Objective-C", char_quote=True),
    _c("JavaScript", quotes=b"\"'`", multiline=b"`", regex=True),
    _c("TypeScript", quotes=b"\"'`", multiline=b"`", regex=True),
    _c("Go", quotes=b"\"'`", multiline=b"`", char_quote=True),
    _c("Rust", block=_C_NESTED, multiline=b'"', char_quote=True),
    _c("Kotlin", block=_C_NESTED, triple=b'"', char_quote=True),
    _c("Scala", block=_C_NESTED, triple=b'"', char_quote=True),
    _c("Swift", block=_C_NESTED, quotes=b'"', multiline=b"", triple=b'"'),
    _c("Dart", block=_C_NESTED, triple=b"\"'"),
    _c("Groovy", quotes=b"\"'", triple=b"\"'"),
    _c("Solidity"),
    _c("Zig", block=(), quotes=b"\"'", char_quote=True),
    _c("Verilog"),
    _c("SystemVerilog"),
    _c("CUDA", char_quote=True),
    _c("GLSL"),
    _c("Protocol Buffer"),
    _c("Less"),
    _c("SCSS"),
    _c("CSS", line=()),
    _c("JSON5"),
    Syntax("PHP", line=((b"//", 0), (b"#", 0)), block=_C_BLOCK, quotes=b"\"'`"),
    _hash("Ruby", quotes=b"\"'`", regex=True),
    _hash("Perl", line=_HASH_WORD, quotes=b"\"'`", regex=True),
    _hash("Shell", line=_HASH_WORD, quotes=b"\"'`", multiline=b"`"),
    _hash("R"),
    _hash("Julia", block=((b"#=", b"=#", True),), quotes=b'"`', triple=b'"'),
    _hash("Elixir", triple=b"\"'"),
    _hash("Nim", block=((b"#[", b"]#", True),), triple=b'"'),
    _hash("CMake"),
    _hash("Makefile", line=((b"#", NOT_ESCAPED),)),
    _hash("Dockerfile", line=((b"#", LINE_START),)),
    _hash("YAML", line=_HASH_WORD),
    _hash("TOML", triple=b"\"'"),
    _hash("Nix", block=_C_BLOCK, quotes=b'"'),
    _hash("Tcl", line=((b"#", LINE_START),), quotes=b'"'),
    _hash("Awk"),
    _hash("PowerShell", block=((b"<#", b"#>", False),), escapes=False),
    _hash("Starlark", triple=b"\"'"),
    _hash("GDScript", triple=b'"'),
    Syntax("SQL", line=((b"--", 0),), block=_C_BLOCK, escapes=False),
    Syntax("PLpgSQL", line=((b"--", 0),), block=_C_BLOCK, escapes=False),
    Syntax("TSQL", line=((b"--", 0),), block=_C_BLOCK, escapes=False),
    Syntax("Haskell", line=((b"--", 0),), block=((b"{-", b"-}", True),), quotes=b'"'),
    Syntax("Elm", line=((b"--", 0),), block=((b"{-", b"-}", True),), quotes=b'"'),
    Syntax("PureScript", line=((b"--", 0),), block=((b"{-", b"-}", True),), quotes=b'"'),
    Syntax("Lua", line=((b"--", 0),), block=((b"--[[", b"]]", False),)),
    Syntax("Ada", line=((b"--", 0),), quotes=b'"', escapes=False),
    Syntax("VHDL", line=((b"--", 0),), quotes=b'"', escapes=False),
    Syntax("Emacs Lisp", **_LISP),  # type: ignore[arg-type]
    Syntax("Common Lisp", **_LISP_BLOCK),  # type: ignore[arg-type]
    Syntax("Scheme", **_LISP_BLOCK),  # type: ignore[arg-type]
    Syntax("Racket", **_LISP_BLOCK),  # type: ignore[arg-type]
    Syntax("Clojure", **_LISP),  # type: ignore[arg-type]
    Syntax("Assembly", line=((b";", 0), (b"//", 0), (b"#", HASH_RULE)), block=_C_BLOCK),
    Syntax("INI", line=((b";", 0), (b"#", LINE_START))),
    Syntax("TeX", line=((b"%", NOT_ESCAPED),), quotes=b""),
    Syntax("Erlang", line=((b"%", 0),)),
    Syntax("Prolog", line=((b"%", 0),), block=_C_BLOCK),
    Syntax("MATLAB", line=((b"%", 0),), block=((b"%{", b"%}", False),), escapes=False),
    Syntax("PostScript", line=((b"%", 0),), quotes=b""),
    Syntax("OCaml", block=((b"(*", b"*)", True),), quotes=b'"'),
    Syntax("F#", line=_SLASH, block=((b"(*", b"*)", True),), quotes=b'"', triple=b'"'),
    Syntax("Standard ML", block=((b"(*", b"*)", True),), quotes=b'"'),
    Syntax(
        "Pascal", line=_SLASH, block=((b"{", b"}", False), (b"(*", b"*)", False)), quotes=b"'", escapes=False
    ),
    Syntax("Visual Basic .NET", line=((b"'", 0), (b"REM", WORD | LINE_START)), quotes=b'"', escapes=False),
    Syntax("VBA", line=((b"'", 0), (b"REM", WORD | LINE_START)), quotes=b'"', escapes=False),
    Syntax("Batchfile", line=((b"REM", WORD | LINE_START), (b"::", LINE_START)), quotes=b'"', escapes=False),
    Syntax("Fortran", line=((b"!", 0),), escapes=False),
    Syntax("HTML", block=((b"<!--", b"-->", False),)),
    Syntax("XML", block=((b"<!--", b"-->", False),)),
    Syntax("Vue", block=((b"<!--", b"-->", False), (b"/*", b"*/", False))),
    Syntax("JSON", quotes=b'"'),
    Syntax("Jupyter Notebook", quotes=b'"'),
    Syntax("Markdown", **_PROSE),  # type: ignore[arg-type]
    Syntax("reStructuredText", **_PROSE),  # type: ignore[arg-type]
    Syntax("Text", **_PROSE),  # type: ignore[arg-type]
]  # fmt: skip

#: Syntax profiles by The Stack v2 ``language`` name.
PROFILES: dict[str, Syntax] = {s.name: s for s in _PROFILES}

#: Other names for languages (matched, like the profiles' names, ignoring case).
ALIASES: dict[str, str] = {
    "py": "Python", "python3": "Python", "js": "JavaScript", "node": "JavaScript", "jsx": "JavaScript",
    "ts": "TypeScript", "tsx": "TypeScript", "cpp": "C++", "cxx": "C++", "cc": "C++", "c++": "C++",
    "h": "C", "csharp": "C#", "cs": "C#", "objc": "Objective-C",
    "golang": "Go", "rs": "Rust", "kt": "Kotlin", "rb": "Ruby", "sh": "Shell", "bash": "Shell",
    "zsh": "Shell", "pl": "Perl", "hs": "Haskell", "elisp": "Emacs Lisp", "emacs-lisp": "Emacs Lisp",
    "lisp": "Common Lisp", "cl": "Common Lisp", "clj": "Clojure", "asm": "Assembly", "nasm": "Assembly",
    "latex": "TeX", "tex": "TeX", "erl": "Erlang", "matlab": "MATLAB", "octave": "MATLAB",
    "ml": "OCaml", "delphi": "Pascal", "vb": "Visual Basic .NET", "vb.net": "Visual Basic .NET",
    "vbnet": "Visual Basic .NET", "visual basic": "Visual Basic .NET", "vbscript": "VBA",
    "batch": "Batchfile", "bat": "Batchfile", "cmd": "Batchfile", "md": "Markdown", "yml": "YAML",
    "ps1": "PowerShell", "pwsh": "PowerShell", "make": "Makefile", "docker": "Dockerfile",
    "plsql": "SQL", "mysql": "SQL", "postgresql": "PLpgSQL", "rst": "reStructuredText",
    "plain text": "Text", "txt": "Text", "fsharp": "F#", "sml": "Standard ML", "proto": "Protocol Buffer",
    "ipynb": "Jupyter Notebook", "jl": "Julia", "ex": "Elixir", "svg": "XML", "sass": "SCSS",
    "bazel": "Starlark", "cu": "CUDA", "m": "Objective-C",
    # other The Stack v2 (GitHub Linguist) names written like one of the profiles
    "unix assembly": "Assembly", "cython": "Python", "arduino": "C++", "processing": "Java", "apex": "Java",
    "fortran free form": "Fortran", "html+razor": "HTML", "html+erb": "HTML", "xslt": "XML",
    "gradle": "Groovy", "hack": "PHP", "crystal": "Ruby", "hlsl": "GLSL", "actionscript": "JavaScript",
    "raku": "Perl", "asciidoc": "Text", "objective-c++": "Objective-C",
}  # fmt: skip

_BY_NAME: dict[str, str] = {name.lower(): name for name in PROFILES} | {
    k.lower(): v for k, v in ALIASES.items()
}


def canonical_language(name: str | None) -> str | None:
    """The profile name (The Stack v2's spelling) of a language name or alias, ignoring case; None if
    whence has no profile for it."""
    if not name:
        return None
    return _BY_NAME.get(name.strip().lower())


@functools.lru_cache(maxsize=1024)
def syntax_bytes(language: str | None, code_only: bool = False) -> bytes:
    """``syntax_for(language).encode(code_only)``, remembered per name (searches ask for it per
    candidate)."""
    return syntax_for(language).encode(code_only)


def syntax_for(language: str | None) -> Syntax:
    """The syntax profile of a language (a name or alias, ignoring case); :data:`DEFAULT` for None or a
    language without a profile."""
    name = canonical_language(language)
    return PROFILES[name] if name else DEFAULT


#: Language by file extension (lower case, with the dot).
EXTENSIONS: dict[str, str] = {
    ".py": "Python", ".pyi": "Python", ".pyw": "Python", ".js": "JavaScript", ".mjs": "JavaScript",
    ".cjs": "JavaScript", ".jsx": "JavaScript", ".ts": "TypeScript", ".tsx": "TypeScript",
    ".mts": "TypeScript",
    ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala",
    ".sc": "Scala", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".c++": "C++",
    ".hpp": "C++", ".hh": "C++", ".hxx": "C++", ".inl": "C++", ".cs": "C#", ".rb": "Ruby", ".rake": "Ruby",
    ".php": "PHP", ".swift": "Swift", ".m": "Objective-C", ".mm": "Objective-C", ".sh": "Shell",
    ".bash": "Shell", ".zsh": "Shell", ".ksh": "Shell", ".pl": "Perl", ".pm": "Perl", ".t": "Perl",
    ".lua": "Lua", ".r": "R", ".jl": "Julia", ".hs": "Haskell", ".lhs": "Haskell", ".elm": "Elm",
    ".purs": "PureScript", ".ml": "OCaml", ".mli": "OCaml", ".fs": "F#", ".fsx": "F#", ".sml": "Standard ML",
    ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang", ".hrl": "Erlang", ".clj": "Clojure",
    ".cljs": "Clojure", ".cljc": "Clojure", ".edn": "Clojure", ".el": "Emacs Lisp", ".lisp": "Common Lisp",
    ".lsp": "Common Lisp", ".cl": "Common Lisp", ".scm": "Scheme", ".ss": "Scheme", ".rkt": "Racket",
    ".sql": "SQL", ".html": "HTML", ".htm": "HTML", ".xhtml": "HTML", ".xml": "XML", ".svg": "XML",
    ".xsd": "XML", ".xsl": "XML", ".css": "CSS", ".scss": "SCSS", ".less": "Less", ".vue": "Vue",
    ".dart": "Dart", ".zig": "Zig", ".nim": "Nim", ".f": "Fortran", ".f90": "Fortran", ".f95": "Fortran",
    ".for": "Fortran", ".toml": "TOML", ".yaml": "YAML", ".yml": "YAML", ".json": "JSON", ".json5": "JSON5",
    ".ipynb": "Jupyter Notebook", ".md": "Markdown", ".markdown": "Markdown", ".rst": "reStructuredText",
    ".txt": "Text", ".tex": "TeX", ".sty": "TeX", ".cls": "TeX", ".bib": "TeX", ".cmake": "CMake",
    ".asm": "Assembly", ".s": "Assembly", ".nasm": "Assembly", ".pas": "Pascal",
    ".pp": "Pascal", ".dpr": "Pascal", ".vb": "Visual Basic .NET", ".bas": "VBA", ".vbs": "VBA",
    ".bat": "Batchfile", ".cmd": "Batchfile", ".ps1": "PowerShell", ".psm1": "PowerShell",
    ".mk": "Makefile", ".groovy": "Groovy", ".gradle": "Groovy", ".sol": "Solidity", ".v": "Verilog",
    ".sv": "SystemVerilog", ".vhd": "VHDL", ".vhdl": "VHDL", ".adb": "Ada", ".ads": "Ada", ".cu": "CUDA",
    ".glsl": "GLSL", ".proto": "Protocol Buffer", ".tcl": "Tcl", ".awk": "Awk", ".ini": "INI", ".cfg": "INI",
    ".pro": "Prolog", ".ps": "PostScript", ".nix": "Nix", ".bzl": "Starlark", ".gd": "GDScript",
}  # fmt: skip

#: Language by whole file name (for names without a telling extension).
FILENAMES: dict[str, str] = {
    "makefile": "Makefile", "gnumakefile": "Makefile", "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "cmakelists.txt": "CMake", "rakefile": "Ruby", "gemfile": "Ruby", "build": "Starlark",
    "build.bazel": "Starlark", "workspace": "Starlark", ".bashrc": "Shell", ".profile": "Shell",
    ".emacs": "Emacs Lisp",
}  # fmt: skip


def language_for_path(path: str) -> str | None:
    """The language of a file from its name (a profile name), or None when the name does not tell."""
    base = os.path.basename(path.replace("\\", "/")).lower()
    if base in FILENAMES:
        return FILENAMES[base]
    if base.startswith("dockerfile.") or base.endswith(".dockerfile"):
        return "Dockerfile"
    return EXTENSIONS.get(os.path.splitext(base)[1])


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


def _line_comment(data: bytes, i: int, marker: bytes, flags: int, line_has_token: bool) -> bool:
    """Whether the line-comment ``marker`` with conditions ``flags`` starts at ``i``."""
    n, m = len(data), len(marker)
    if flags & WORD:
        if data[i : i + m].lower() != marker.lower():
            return False
    elif not data.startswith(marker, i):
        return False
    after = data[i + m] if i + m < n else -1
    before = data[i - 1] if i > 0 else -1
    if flags & BLANK_BEFORE and not (before == -1 or before in _BLANK):
        return False
    if flags & BLANK_AFTER and after not in _AFTER_BLANK:
        return False
    if flags & LINE_START and line_has_token:
        return False
    if flags & WORD and after in _IDENT_CONT:
        return False
    if flags & SLASH_RULE:
        glued = before in _OPERAND_BYTES and after not in _AFTER_BLANK
        if after == 61 or glued:  # `//=`, `a//b`
            return False
    if flags & HASH_RULE and not (
        after in (-1, 10, 13, 32, 9, 35, 33) or (not line_has_token and not _is_directive(data, i + m))
    ):
        return False
    return not (flags & NOT_ESCAPED and before == 92)


def _block_end(data: bytes, i: int, opener: bytes, closer: bytes, nests: bool) -> int:
    """End of the block comment opened at ``i`` (the end of the text if it never closes)."""
    n = len(data)
    if not nests:
        end = data.find(closer, i + len(opener))
        return n if end < 0 else end + len(closer)
    depth, j = 1, i + len(opener)
    while j < n:
        if data.startswith(opener, j):
            depth += 1
            j += len(opener)
        elif data.startswith(closer, j):
            depth -= 1
            j += len(closer)
            if depth == 0:
                return j
        else:
            j += 1
    return n


def tokenize(
    data: bytes, language: str | None = None, *, syntax: Syntax | None = None, code_only: bool = False
) -> Tokens:
    """Lex ``data`` (UTF-8 or any ASCII-compatible encoding) into a :class:`Tokens` stream, with the
    syntax of ``language`` (see :func:`syntax_for`; ``syntax`` overrides it).

    ``code_only``: block comments are dropped whole, to their closer (the file's code alone: the same
    stream less the comments' contents), for aligning a copy whose comments were removed with a file
    that has them.  A snippet is never lexed so: one cut inside a comment cannot know it."""
    sx = syntax if syntax is not None else syntax_for(language)
    comment_start = frozenset(m[0] for m, _ in sx.line)
    comment_start |= frozenset(b[0] for o, c, _ in sx.block for b in (o, c))
    comment_start |= frozenset(m[0] ^ 0x20 for m, f in sx.line if f & WORD and chr(m[0]).isalpha())
    stars = sx.stars
    python_words = sx.python_words
    n = len(data)
    exact: list[int] = []
    abstract: list[int] = []
    lstart: list[int] = []
    lend: list[int] = []
    line = 1
    line_has_token = False  # a token already started on the current line
    prev_operand = False  # the last token was an identifier, number, string, `)` or `]`
    inside = -1  # the block comment (its index in sx.block) whose opener was seen and closer not yet
    depth = 0  # its nesting depth
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
        # Comments: a block comment's opener and closer are dropped (what they enclose is lexed as code),
        # a line comment is dropped to the end of its line (or to the closer of the comment it is in).
        if c in comment_start:
            end = -1
            for k, (opener, closer, nests) in enumerate(sx.block):
                if data.startswith(opener, i) and code_only:
                    end = _block_end(data, i, opener, closer, nests)
                    line += _count_lines(data, i, end)
                    break
                if data.startswith(opener, i):
                    if inside < 0:
                        inside, depth = k, 1
                    elif inside == k and nests:
                        depth += 1
                    end = i + len(opener)
                    break
            else:
                for k, (_opener, closer, _nests) in enumerate(sx.block):
                    if data.startswith(closer, i):
                        if inside == k:
                            depth -= 1
                            if depth == 0:
                                inside = -1
                        end = i + len(closer)
                        break
                else:
                    for marker, flags in sx.line:
                        if _line_comment(data, i, marker, flags, line_has_token):
                            end = i
                            while end < n and data[end] not in (10, 13):
                                end += 1
                            if inside >= 0:  # inside a block comment: it ends at the closer
                                closer = sx.block[inside][1]
                                at = data.find(closer, i + len(marker), end)
                                if at >= 0:
                                    end = at
                            break
            if end >= 0:
                i = end
                continue
        # A doc comment's decoration: `*` first on its line, followed by white space.
        if c == 42 and stars and not line_has_token and (i + 1 == n or data[i + 1] in _BLANK):
            i += 1
            continue
        first = line
        # Strings; triple quotes are dropped and what they enclose is lexed as code.
        if c in sx.quotes:
            if c in sx.triple and data[i + 1 : i + 3] == bytes((c, c)):
                i += 3
                continue
            end, inner_start, inner_end = _scan_string(data, i, sx, inside >= 0)
            if end > 0:
                inner = data[inner_start:inner_end]
                if b"\r" in inner:  # multi-line strings: line endings normalised like the rest
                    inner = inner.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                h = xxhash.xxh64_intdigest(inner, SEED_STRING)
                line += _count_lines(data, i, end)
                emit(STRING, h, first, line)
                i = end
                line_has_token = prev_operand = True
                continue
            # An unclosed quote is punctuation.
        if c == 47 and sx.regex and not prev_operand:  # `/`: a regular expression?
            end = _scan_regex(data, i)
            if end > 0:
                emit(STRING, xxhash.xxh64_intdigest(data[i + 1 : end - 1], SEED_STRING), first, first)
                i = end
                line_has_token = prev_operand = True
                continue
        if c in _DIGITS:
            j = i + 1
            while j < n and (
                data[j] in _NUM_CONT or (data[j] == 46 and j + 1 < n and data[j + 1] in _DIGITS)
            ):
                j += 1
            emit(NUMBER, xxhash.xxh64_intdigest(data[i:j], SEED_EXACT), first, first)
            i = j
            line_has_token = prev_operand = True
            continue
        if c in _IDENT_START:
            j = i + 1
            while j < n and data[j] in _IDENT_CONT:
                j += 1
            word = data[i:j]
            h = xxhash.xxh64_intdigest(word, SEED_EXACT)
            keyword = word in KEYWORDS
            kept = (word in PYTHON_WORDS or word in PYTHON_BUILTINS) if python_words else keyword
            emit(KEYWORD if kept else IDENT, h, first, first)
            i = j
            line_has_token = True
            prev_operand = not keyword
            continue
        emit(PUNCT, xxhash.xxh64_intdigest(data[i : i + 1], SEED_EXACT), first, first)
        i += 1
        line_has_token = True
        prev_operand = c in (41, 93)  # ) ]

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


def _scan_string(data: bytes, i: int, sx: Syntax = DEFAULT, in_comment: bool = False) -> tuple[int, int, int]:
    """Scan a string literal starting at ``i`` (``in_comment``: inside a block comment, where every string
    must close on its line).

    Returns ``(end, inner_start, inner_end)``, or ``(-1, -1, -1)`` if it does not close.
    """
    n = len(data)
    q = data[i]
    multi = q in sx.multiline and not in_comment
    j = i + 1
    while j < n:
        d = data[j]
        if d == 92 and sx.escapes:  # backslash escapes the next byte (not a line break in one-line strings)
            if j + 1 < n and (multi or data[j + 1] not in (10, 13)):
                j += 2
                continue
            if not multi:
                return -1, -1, -1
        if d == q:
            if q == 39 and sx.char_quote and not _char_literal(data[i + 1 : j], sx.escapes):
                return -1, -1, -1
            return j + 1, i + 1, j
        if not multi and d in (10, 13):
            return -1, -1, -1
        j += 1
    return -1, -1, -1


def _char_literal(inner: bytes, escapes: bool) -> bool:
    """Whether ``inner`` is the inside of a character literal: one character, or an escape of at most
    ten bytes."""
    if escapes and inner[:1] == b"\\":
        return len(inner) <= 10
    return len(inner) <= 4 and sum(1 for b in inner if b & 0xC0 != 0x80) == 1


#: Longest regular-expression literal, slashes included: a ``/`` that would open a longer one is
#: punctuation (so that a long line of ``/`` that never close is not scanned again and again).
REGEX_MAX = 256


def _scan_regex(data: bytes, i: int) -> int:
    """End of the regular-expression literal opened by the ``/`` at ``i``, or -1 if it does not close on
    its line within :data:`REGEX_MAX` bytes."""
    n = min(len(data), i + REGEX_MAX)
    j = i + 1
    in_class = False
    while j < n:
        d = data[j]
        if d in (10, 13):
            return -1
        if d == 92:
            if j + 1 >= n or data[j + 1] in (10, 13):
                return -1
            j += 2
            continue
        if d == 91:  # [
            in_class = True
        elif d == 93:  # ]
            in_class = False
        elif d == 47 and not in_class:
            return j + 1
        j += 1
    return -1


# -- guessing a snippet's language ------------------------------------------------------------------

_SHEBANG = [
    (re.compile(rb"python"), "Python"), (re.compile(rb"node|deno|bun"), "JavaScript"),
    (re.compile(rb"\b(ba|z|k|da)?sh\b"), "Shell"), (re.compile(rb"perl"), "Perl"),
    (re.compile(rb"ruby"), "Ruby"), (re.compile(rb"php"), "PHP"), (re.compile(rb"lua"), "Lua"),
    (re.compile(rb"Rscript"), "R"), (re.compile(rb"julia"), "Julia"), (re.compile(rb"pwsh"), "PowerShell"),
]  # fmt: skip

_M = re.MULTILINE
# (language, weight, pattern): each pattern that occurs adds its weight to its language once.
_CLUES: list[tuple[str, int, re.Pattern[bytes]]] = [
    ("Python", 3, re.compile(rb"^[ \t]*def \w+\(.*\)[ \t]*(->[^:\n]+)?:[ \t]*(#.*)?$", _M)),
    ("Python", 3, re.compile(rb"^[ \t]*(from [\w.]+ import [\w.*, ()]+|import [\w.]+( as \w+)?)[ \t]*$", _M)),
    ("Python", 2, re.compile(rb"^[ \t]*class \w+(\([\w., =]*\))?:[ \t]*$", _M)),
    ("Python", 2, re.compile(
        rb"^[ \t]*(elif .*|else|try|finally|except.*|(if|for|while|with) .*):[ \t]*(#.*)?$", _M)),
    ("Python", 2, re.compile(rb"\bself\.\w+|\bNone\b|\b__\w+__|\"\"\"|'''")),
    ("Python", 1, re.compile(rb"^[ \t]*(return|raise|pass|yield)\b[^;{}]*$", _M)),
    ("C", 4, re.compile(rb"^[ \t]*#[ \t]*(include[ \t]*[<\"]|define \w|ifn?def \w|endif\b)", _M)),
    ("C", 2, re.compile(rb"\b(NULL|printf|malloc|free|sizeof|struct \w+ \*)\b|->\w")),
    ("C", 1, re.compile(
        rb"^(static |extern |inline )*(void|int|char|long|unsigned|const char|"
        rb"size_t)\b[\w \t*]*\(", _M)),
    ("C++", 4, re.compile(
        rb"\bstd::|\bnullptr\b|^[ \t]*template[ \t]*<|^[ \t]*namespace \w+[ \t]*\{|"
        rb"#include <(iostream|vector|string|memory|map)>", _M)),
    ("C++", 2, re.compile(rb"^[ \t]*(public|private|protected):[ \t]*$|\w::~?\w+\(", _M)),
    ("Java", 5, re.compile(rb"^package [\w.]+;", _M)),
    ("Java", 3, re.compile(rb"^import (static )?[\w.]+(\.\*)?;", _M)),
    ("Java", 3, re.compile(
        rb"\b(public|private|protected)( static| final| abstract|"
        rb" synchronized)* [\w<>\[\], ?]+ \w+\([^)]*\)[ \t]*(throws [\w., ]+)?[ \t]*\{?")),
    ("Java", 2, re.compile(
        rb"@Override\b|\bSystem\.out\.|\bString\[\]|\bextends \w+(<.*>)? (implements|\{)|"
        rb"\bnew \w+(<.*>)?\(")),
    ("Java", 2, re.compile(rb"\b(boolean|String|throws|instanceof|final)\b|\bthis\.\w+ = \w+;")),
    ("Go", 5, re.compile(rb"^package \w+[ \t]*$", _M)),
    ("Go", 4, re.compile(rb"^func (\(\w+ \*?\w+\) )?\w+\(", _M)),
    ("Go", 2, re.compile(rb"\b\w+ := |\berr != nil\b|\bfmt\.\w+\(|^import \($", _M)),
    ("Rust", 4, re.compile(
        rb"\bfn \w+(<[^>]*>)?\(|\blet mut \b|\bimpl(<[^>]*>)? \w+|#\[derive\(|"
        rb"\bpub(\(crate\))? (fn|struct|enum|mod)\b")),
    ("Rust", 2, re.compile(rb"^use [\w:{}, *]+;|&self\b|\bprintln!|\bSome\(|\bOk\(|-> Result<", _M)),
    ("JavaScript", 3, re.compile(
        rb"\bfunction\s*\w*\s*\([^)]*\)\s*\{|\brequire\(['\"]|\bmodule\.exports\b|"
        rb"\bconsole\.log\(|\bdocument\.\w+")),
    ("JavaScript", 2, re.compile(
        rb"^[ \t]*(const|let|var) \w+ = |=>|===|!==|^export (default |const |function )|"
        rb"^import .* from ['\"]", _M)),
    ("TypeScript", 3, re.compile(
        rb"^[ \t]*(export )?(interface|type) \w+(<.*>)? (=|\{)|: (string|number|boolean|"
        rb"any|void)\b[;,)=]|\bprivate readonly\b", _M)),
    ("PHP", 8, re.compile(rb"<\?php\b")),
    ("PHP", 2, re.compile(rb"\$\w+\s*(=|->)|\bfunction \w+\(\$|\becho \$")),
    ("Ruby", 2, re.compile(
        rb"^[ \t]*(def \w+[!?]?(\([^)\n]*\))?|class \w+( < [\w:]+)?|module \w+)[ \t]*$", _M)),
    ("Ruby", 1, re.compile(rb"^[ \t]*end[ \t]*$", _M)),
    ("Ruby", 2, re.compile(rb"^[ \t]*require ['\"]|\.each do \||\bputs |\battr_accessor\b|\bdo \|\w+\|", _M)),
    ("Shell", 3, re.compile(
        rb"^[ \t]*(fi|done|esac|then)[ \t]*$|^[ \t]*if \[\[? |\$\{\w+[:#%}]|"
        rb"^[ \t]*(export \w+=|echo [\"$])", _M)),
    ("C#", 4, re.compile(
        rb"^using System[\w.]*;|\{ get; (private )?set; \}|\bnamespace [\w.]+;?$|"
        rb"\[(Serializable|Test|HttpGet)\]", _M)),
    ("SQL", 4, re.compile(
        rb"(?i)^[ \t]*(select .+ from|insert into|create (or replace )?(table|view|index|"
        rb"function)|update \w+ set|alter table)\b", _M)),
    ("Haskell", 4, re.compile(rb"^\w+ :: .+$|^module [\w.]+( \(.*\))? where|^import qualified ", _M)),
    ("Lua", 3, re.compile(
        rb"^[ \t]*local \w+ = |^[ \t]*local function |\bfunction \w+[.:]\w+\(|~=|\bthen$", _M)),
    ("Common Lisp", 4, re.compile(rb"^\((defun|defmacro|defvar|defparameter|defpackage|in-package) ", _M)),
    ("Emacs Lisp", 5, re.compile(rb"^\((defcustom|defgroup|use-package|require ')|\(interactive\)|;;; ", _M)),
    ("Clojure", 5, re.compile(rb"^\((ns|defn-?) [\w.-]+", _M)),
    ("TeX", 5, re.compile(rb"\\(documentclass|usepackage|begin\{\w+\}|section\{|end\{\w+\})")),
    ("Markdown", 3, re.compile(rb"^```|\]\(https?://[^)\s]*\)", _M)),
    ("Markdown", 1, re.compile(rb"^#{1,6} [A-Z]\w*( \w+)*$|^- \[?\w", _M)),
    ("HTML", 5, re.compile(rb"(?i)<!doctype html|<html\b")),
    ("HTML", 2, re.compile(rb"(?i)^[ \t]*<(div|span|body|head|table|p|ul|li|a)\b[^>]*>", _M)),
    ("CSS", 3, re.compile(rb"^[.#]?[\w-]+( [.#]?[\w-]+)*[ \t]*\{[ \t]*$\n[ \t]+[\w-]+: [^;]+;", _M)),
    ("Assembly", 4, re.compile(rb"(?i)^[ \t]*(mov|push|pop|jmp|call|ret|lea|cmp|jne|je)[ \t]+[\w\[%$]", _M)),
    ("Erlang", 5, re.compile(rb"^-(module|export|include|record)\(", _M)),
    ("MATLAB", 3, re.compile(
        rb"^[ \t]*function \[?[\w, ]*\]? ?= ?\w+\(|^[ \t]*end[ \t]*$\n|\bzeros\(|\bdisp\(", _M)),
    ("OCaml", 4, re.compile(rb"^let (rec )?\w+.* =[ \t]*$|^open [A-Z]\w*$|\bmatch .+ with\b", _M)),
    ("Visual Basic .NET", 5, re.compile(
        rb"(?i)^[ \t]*(dim \w+ as|end sub|end function|public sub|private sub)\b", _M)),
    ("Batchfile", 5, re.compile(rb"(?i)^@echo off|^[ \t]*(rem |set \w+=|goto :?\w+|if errorlevel)", _M)),
    ("Perl", 4, re.compile(
        rb"^[ \t]*(use strict;|use warnings;|my [$@%]\w+|sub \w+ \{|package [\w:]+;)", _M)),
    ("Perl", 4, re.compile(rb"^=(head\d|pod|cut|over|item)\b|\$self->|\bmy \(\$", _M)),
    ("Kotlin", 4, re.compile(rb"^[ \t]*(fun \w+\(|val \w+(: \w+)? =|data class )", _M)),
    ("Swift", 4, re.compile(
        rb"^[ \t]*(import (UIKit|Foundation|SwiftUI)$|func \w+\(.*\) -> |guard let )", _M)),
    ("Dockerfile", 5, re.compile(rb"^(FROM [\w./:-]+|RUN |COPY |ENTRYPOINT |WORKDIR )", _M)),
    ("YAML", 2, re.compile(rb"^[\w-]+:[ \t]*$\n^[ \t]+[\w-]+: ", _M)),
]  # fmt: skip

#: Languages whose evidence also counts for another (C++ code is full of C's clues, TypeScript of
#: JavaScript's), so that the narrower one wins when its own clues are there.
_ALSO = {"C++": "C", "TypeScript": "JavaScript", "Emacs Lisp": "Common Lisp", "Kotlin": "Java"}
_GUESS_BYTES = 1 << 14  # the clues are read from the first 16 KiB (about 15 ms)
_MIN_SCORE = 3


def guess_language(data: bytes) -> str | None:
    """A snippet's language (a profile name) from cheap clues -- a shebang, ``<?php``, then clues such as
    ``#include``, ``def f():``, ``package x;`` each adding to a language's score -- or None when the
    clues are too weak or point two ways (the text is then lexed with :data:`DEFAULT`)."""
    return guess_with_clues(data)[0]


def guess_with_clues(data: bytes) -> tuple[str | None, dict[str, int]]:
    """:func:`guess_language`, and each language's clue score (none after a shebang that names one): the
    languages a snippet of no sure guess may still be in."""
    guessed, scores = _guess(data[:_GUESS_BYTES])
    return guessed, dict(scores)


@functools.lru_cache(maxsize=8)
def _guess(head: bytes) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    """:func:`guess_with_clues` of a text's first :data:`_GUESS_BYTES` (remembered: a search that
    attributes nothing asks for a query's language up to three times, and the clues' patterns cost
    about half a millisecond a query)."""
    if head.startswith(b"#!"):
        first = head.split(b"\n", 1)[0]
        for pattern, lang in _SHEBANG:
            if pattern.search(first):
                return lang, ()
    scores: dict[str, int] = {}
    for lang, weight, pattern in _CLUES:
        if pattern.search(head):
            scores[lang] = scores.get(lang, 0) + weight
    for narrow, broad in _ALSO.items():
        if narrow in scores and broad in scores:
            scores[narrow] += scores[broad]
    if not scores:
        return None, ()
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, score = ranked[0]
    if score < _MIN_SCORE:
        return None, tuple(scores.items())
    if len(ranked) > 1 and ranked[1][1] * 2 > score and syntax_for(ranked[1][0]) != syntax_for(best):
        return None, tuple(scores.items())  # two languages of different syntax are about as likely
    return best, tuple(scores.items())
