"""Code mutations used by the search tests: the edits a copy typically goes through."""

from __future__ import annotations

import builtins
import contextlib
import io
import keyword
import tokenize


def _tokens(code: str) -> list[tokenize.TokenInfo]:
    """Python tokens of a fragment; a fragment cut mid-statement yields the tokens before the cut."""
    out: list[tokenize.TokenInfo] = []
    with contextlib.suppress(tokenize.TokenError, IndentationError, SyntaxError):
        out.extend(tokenize.generate_tokens(io.StringIO(code).readline))
    return out


def reindent(code: str) -> str:
    """4-space indentation becomes 2 spaces; trailing white space goes."""
    out = []
    for line in code.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        out.append("  " * depth + " " * ((len(line) - len(stripped)) % 4) + stripped.rstrip())
    return "\n".join(out) + "\n"


def strip_comments(code: str) -> str:
    """Python ``#`` comments removed (strings untouched)."""
    lines = code.splitlines(keepends=True)
    for tok in reversed(_tokens(code)):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            line = lines[row - 1]
            lines[row - 1] = line[:col].rstrip() + ("\n" if line.endswith("\n") else "")
    return "".join(lines)


def rename(code: str) -> str:
    """Every identifier that is not a keyword or builtin consistently renamed."""
    names: dict[str, str] = {}
    reserved = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls"}
    out = []
    for tok in _tokens(code):
        if tok.type == tokenize.NAME and tok.string not in reserved:
            names.setdefault(tok.string, f"renamed_{len(names)}")
            out.append((tok.type, names[tok.string]))
        else:
            out.append((tok.type, tok.string))
    return tokenize.untokenize(out)


def crlf(code: str) -> str:
    return code.replace("\n", "\r\n")
