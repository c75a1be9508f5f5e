"""Fragments of real files, mutated as copies are: languages, reserved words, the mutations.

A fragment is ``n`` lines of a file from line ``start``; :func:`mutate` returns it as one of
:data:`MUTATIONS`: ``exact``; ``reindent`` (another indentation unit); ``comments`` (comments removed,
line and block comments alike, and a fragment's head up to the first ``*/`` when it starts inside a
block comment; lines left empty by that dropped); ``crlf`` (CRLF line ends); ``renamed`` (identifiers renamed
consistently to ``v1``, ``v2``, ... except the language's reserved words and predeclared names, and
members reached with ``.`` -- a copier renames their own names, not a library's; ``this.x`` and
``self.x`` are renamed); ``renamed-all`` (the same, members too: ``obj.count`` -> ``v3.v4``, ``.append``
and the library's calls alike -- a harsher renamer than a copier, to show what evidence is left when only
the shape and the literals are); ``renamed-self`` (``renamed``, and Python's ``self`` and ``cls`` too: a
method's first parameter is a name by convention only, which a renamer that knows only the language's
keywords renames; the same as ``renamed`` in the other languages, whose ``this`` is a keyword);
``partial`` (cut mid-line at both ends).  Python is tokenised with
:mod:`tokenize`; the C-like languages (C, Java, Go, JavaScript and the rest) with one regular lexer for
strings, comments, numbers and identifiers.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import keyword
import random
import re
import tokenize
from collections import defaultdict

from whence.index import fingerprint, lexer
from whence_dev.corpus import CorpusFile

MUTATIONS = ("exact", "reindent", "comments", "crlf", "renamed", "renamed-all", "renamed-self", "partial")
#: The mutations that rename identifiers (searched as renamed copies: near-duplicates count).
RENAMING = ("renamed", "renamed-all", "renamed-self")
VERBATIM_KINDS = ("exact", "reindent", "comments", "crlf", "partial")

LANGUAGES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi"),
    "java": (".java",),
    "c": (".c", ".h"),
    "go": (".go",),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
}


def language_of(relpath: str) -> str:
    for lang, exts in LANGUAGES.items():
        if relpath.endswith(exts):
            return lang
    return "other"


PY_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | {"self", "cls"}
#: ... less the method's first parameter's conventional names (``renamed-self``).
PY_RESERVED_SELF = PY_RESERVED - {"self", "cls"}
_JAVA = """abstract assert boolean break byte case catch char class const continue default do double else
enum extends final finally float for goto if implements import instanceof int interface long native new
package private protected public return short static strictfp super switch synchronized this throw throws
transient try void volatile while true false null var record yield sealed permits non String Object System
Math Integer Long Double Float Boolean Character Byte Short Number Void Class Exception RuntimeException
Error Throwable Override Deprecated SuppressWarnings FunctionalInterface Thread Runnable StringBuilder
Iterable Comparable CharSequence Enum Record IllegalArgumentException IllegalStateException
NullPointerException UnsupportedOperationException IndexOutOfBoundsException"""
_C = """auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile
while _Bool _Complex _Atomic _Static_assert _Noreturn _Thread_local _Alignas _Alignof _Generic bool true
false NULL define include ifdef ifndef endif undef elif pragma error line defined size_t ssize_t ptrdiff_t
intptr_t uintptr_t int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t wchar_t FILE va_list
errno stdin stdout stderr printf fprintf sprintf snprintf vprintf vfprintf malloc calloc realloc free
memcpy memmove memset memcmp strlen strcmp strncmp strcpy strncpy strcat strchr strrchr strstr exit abort
assert fopen fclose fread fwrite fgets fputs puts putchar getchar __attribute__ __inline __restrict
__extension__ __asm__ __THROW __BEGIN_DECLS __END_DECLS"""
# The "c" files (.c, .h) include C++ headers (LLVM's, PyTorch's): a copier renames their own names, not
# the language's words, so C++'s reserved words and its standard namespace stay as they are.
_CPP = """alignas alignof and asm bitand bitor catch char8_t char16_t char32_t class co_await co_return
co_yield compl concept consteval constexpr constinit const_cast decltype delete dynamic_cast explicit
export final friend mutable namespace new noexcept not nullptr operator or override private protected
public reinterpret_cast requires static_assert static_cast template this thread_local throw try typeid
typename using virtual xor std"""
_GO = """break case chan const continue default defer else fallthrough for func go goto if import interface
map package range return select struct switch type var bool byte complex64 complex128 error float32
float64 int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr any comparable
true false iota nil append cap clear close complex copy delete imag len make max min new panic print
println real recover"""
_JS = """break case catch class const continue debugger default delete do else export extends finally for
function if import in instanceof new return super switch this throw try typeof var void while with yield
let static enum await async implements package protected interface private public of get set null true
false undefined NaN Infinity Object Array String Number Boolean Symbol BigInt Math JSON Date RegExp Error
TypeError RangeError SyntaxError Promise Map Set WeakMap WeakSet Proxy Reflect console require module
exports process Buffer arguments globalThis window document setTimeout clearTimeout setInterval
clearInterval parseInt parseFloat isNaN __dirname __filename"""
RESERVED: dict[str, set[str]] = {
    "python": PY_RESERVED,
    "java": set(_JAVA.split()),
    "c": set(_C.split()) | set(_CPP.split()),
    "go": set(_GO.split()),
    "javascript": set(_JS.split()),
}
RESERVED["other"] = set().union(*RESERVED.values())
_LEX = (
    r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`(?:\\.|[^`\\])*`|(?P<block>/\*.*?\*/)|(?P<cmt>{})'
    + r"|(?P<num>\d[\w.]*)|(?P<id>[A-Za-z_$][\w$]*)"
)
C_TOKEN = re.compile(_LEX.format(r"//[^\n]*"), re.S)  # C-like languages: // comments
HASH_TOKEN = re.compile(_LEX.format(r"(?<![\w$])#(?![{!])[^\n]*"), re.S)  # shell, Perl, Ruby, Python
HASH_LANGS = (".sh", ".pl", ".pm", ".rb", ".py", ".pyi")
_MEMBER = re.compile(r"(?:^|[^.\w$])(this|self)\s*\.\s*$")
_OPENS_LINE = re.compile(r"^[ \t]*/\*(?!.*\*/)", re.M)


class FileInfo:
    """A file's lines, and (for Python) its comment and name tokens, for mutating fragments of it."""

    def __init__(self, f: CorpusFile, lines: list[str]) -> None:
        self.file, self.lines = f, lines
        self.lang = language_of(f.relpath)
        self.py = f.relpath.endswith((".py", ".pyi"))
        self.comments: dict[int, int] = {}  # 1-based row -> column where a comment starts
        # 1-based row -> (start column, end column, name, renamable: not a member reached with ".")
        self.names: dict[int, list[tuple[int, int, str, bool]]] = defaultdict(list)
        self.tokenized = False
        self._tokens: bytes | None = None
        if self.py:
            # a file Python cannot tokenise (other version, broken) is mutated with the C-style rules
            with contextlib.suppress(tokenize.TokenError, SyntaxError):
                prev: list[str] = ["", ""]
                for t in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline):
                    if t.type == tokenize.COMMENT:
                        self.comments[t.start[0]] = t.start[1]
                    elif t.type == tokenize.NAME and t.start[0] == t.end[0]:
                        member = prev[1] == "." and prev[0] not in ("self", "cls")
                        self.names[t.start[0]].append((t.start[1], t.end[1], t.string, not member))
                    if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                        prev = [prev[1], t.string]
                self.tokenized = True

    def lexes_alike(self, start: int, n: int) -> bool:
        """Whether the fragment's tokens are a contiguous run of the file's tokens.

        Not so when the cut falls inside a block comment or a multi-line string: the lexer then sees
        prose as code (or code as a string), and no search can match those tokens.  Both are lexed with
        the file's language, as the index lexes the file.
        """
        language = lexer.language_for_path(self.file.relpath)
        if self._tokens is None:
            self._tokens = fingerprint.tokenize("\n".join(self.lines).encode(), language).exact.tobytes()
        q = fingerprint.tokenize("\n".join(self.lines[start : start + n]).encode(), language).exact.tobytes()
        i = self._tokens.find(q)
        while i >= 0 and i % 8:
            i = self._tokens.find(q, i + 1)
        return i >= 0


def c_style(text: str, drop_comments: bool, rename: dict[str, str] | None, lang: str = "other",
            hash_lang: bool = False, members: bool = False) -> str:  # fmt: skip
    """Drop comments and/or rename identifiers with the regular lexer (``rename``: the mapping so far;
    ``members``: members reached with ``.`` too).
    Dropping comments drops line comments and, outside ``hash_lang`` files, block comments (their line
    breaks kept, so that the lines still pair with the fragment's) and a head cut inside one (up to its
    first ``*/`` when no ``/*`` comes before it)."""
    reserved = RESERVED.get(lang, RESERVED["other"])
    if drop_comments and not hash_lang:
        end, start = text.find("*/"), text.find("/*")
        if end >= 0 and (start < 0 or start > end):  # cut inside a block comment: its tail goes too
            text = "\n" * text.count("\n", 0, end) + text[end + 2 :]
        # the last block comment opening a line: when it is not closed, to the end
        opened = next(reversed(list(_OPENS_LINE.finditer(text))), None)
        if opened and "*/" not in text[opened.end() :]:
            text = text[: opened.start()] + "\n" * text.count("\n", opened.start())

    head = tail = ""
    if rename is not None and not hash_lang:  # a head cut inside a block comment and a tail from an
        end, start = text.find("*/"), text.find("/*")  # unclosed /* are prose: no copier renames it
        if end >= 0 and (start < 0 or start > end):
            head, text = text[: end + 2], text[end + 2 :]
        lexed = [m.span() for m in C_TOKEN.finditer(text) if m.group("id") is None and m.group("num") is None]
        opened = next((i for i in _opens(text) if not any(a <= i < b for a, b in lexed)), -1)
        if opened >= 0:  # a /* outside every string and closed comment: never closed
            text, tail = text[:opened], text[opened:]

    def sub(m: re.Match[str]) -> str:
        if m.group("cmt") is not None and drop_comments:
            return ""
        if m.group("block") is not None and drop_comments and not hash_lang:
            return "\n" * m.group(0).count("\n")
        name = m.group("id")
        if name is not None and rename is not None and name not in reserved:
            before = m.string[max(0, m.start() - 40) : m.start()]
            if members or not before.rstrip().endswith(".") or _MEMBER.search(before):
                return rename.setdefault(name, f"v{len(rename) + 1}")
        return m.group(0)

    return head + (HASH_TOKEN if hash_lang else C_TOKEN).sub(sub, text) + tail


def _opens(text: str) -> list[int]:
    """Where ``/*`` occurs in ``text``."""
    return [m.start() for m in re.finditer(r"/\*", text)]


def _drop_emptied(before: list[str], after: list[str]) -> list[str]:
    return [a.rstrip() for b, a in zip(before, after, strict=True) if a.strip() or not b.strip()]


def mutate(info: FileInfo, start: int, n: int, kind: str, rng: random.Random) -> str:
    """Fragment of ``n`` lines from 0-based line ``start``, mutated as ``kind``."""
    lines = info.lines[start : start + n]
    rows = range(start + 1, start + n + 1)
    hash_lang = info.file.relpath.endswith(HASH_LANGS)
    if kind == "reindent":
        widths = [len(x.expandtabs(8)) - len(x.expandtabs(8).lstrip()) for x in lines if x.strip()]
        unit = min((w for w in widths if w), default=4)
        style = rng.choice(["\t", "  ", "   ", "        "])
        out = []
        for x in lines:
            e = x.expandtabs(8)
            w = len(e) - len(e.lstrip())
            out.append((style * (w // unit) + " " * (w % unit) + e.lstrip()).rstrip())
        lines = out
    elif kind == "comments":
        if info.tokenized:
            cut = [
                x[: info.comments[r]] if r in info.comments else x for x, r in zip(lines, rows, strict=True)
            ]
        else:
            cut = c_style("\n".join(lines), True, None, info.lang, hash_lang).split("\n")
        lines = _drop_emptied(lines, cut)
    elif kind in RENAMING:
        members = kind == "renamed-all"
        reserved = PY_RESERVED_SELF if kind == "renamed-self" else PY_RESERVED
        if info.tokenized:
            mapping: dict[str, str] = {}
            out = []
            for x, r in zip(lines, rows, strict=True):
                for _a, _b, name, ok in info.names.get(r, []):  # left to right: first use gets the lowest
                    if (ok or members) and name not in reserved:
                        mapping.setdefault(name, f"v{len(mapping) + 1}")
                for a, b, name, ok in reversed(info.names.get(r, [])):
                    if (ok or members) and name in mapping:
                        x = x[:a] + mapping[name] + x[b:]
                out.append(x)
            lines = out
        else:
            lines = c_style("\n".join(lines), False, {}, info.lang, hash_lang, members).split("\n")
    elif kind == "partial":
        lines = [lines[0][len(lines[0]) // 2 :], *lines[1:-1], lines[-1][: len(lines[-1]) // 2]]
    sep = "\r\n" if kind == "crlf" else "\n"
    return sep.join(lines) + sep
