"""What a file's header says when its line comments are read as prose (for the boilerplate model)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from whence.index import fingerprint, lexer


def header_prose(raw: bytes, language: str | None) -> npt.NDArray[np.uint64]:
    """The exact fingerprints (winnowed, as ingestion selects them) of ``raw``'s header -- the comment
    lines and blank lines it opens with -- with its language's line-comment markers blanked out, so that
    what the header says is tokens, as a block comment's or a text file's words are.

    The lexer drops line comments, so an index never holds them; but a notice written in them (GCC's
    runtime-library notice heads 516 libstdc++ headers in ``//`` comments, and four GCC headers in a
    ``/* */`` comment) is copied into LICENSE files and block comments, where it is tokens, and must be
    boilerplate there.  Only the header: comments further down are as often code (Go's ``//sys`` lines
    repeat the signatures of the functions generated from them).  Only the exact view: the abstract
    view of prose is every word's class.  Empty when the file opens with no line comment."""
    markers = [m for m, _ in lexer.syntax_for(language).line]
    lines = raw.splitlines(keepends=True)
    header = 0
    for line in lines:
        text = line.strip()
        if text and not any(text.startswith(m) for m in markers):
            break
        header += 1
    head = b"".join(lines[:header])
    if not any(m in head for m in markers):
        return np.zeros(0, dtype=np.uint64)
    for m in markers:
        head = head.replace(m, b" " * len(m))
    f = fingerprint.fingerprint(head, language=language)
    return np.asarray(f.exact_kgrams[f.exact_selected], dtype=np.uint64)
