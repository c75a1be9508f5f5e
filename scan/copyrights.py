"""Copyright lines of an origin file, read from its header, for the notice.

A license such as MIT or BSD asks that "the above copyright notice" be kept: the notice must carry the
origin's own copyright lines, not just the license's name.  They are read from the file's text as the
index stores it (:meth:`StoreReader.fetch`), in its first :data:`HEADER_LINES` lines: each line that,
once its comment markers are taken off, *starts* with a copyright statement -- ``Copyright (c) 2004
Jane Doe``, ``Copyright 2009 The Go Authors`` (a mark or a year must follow the word), ``(C) 1999
...``, ``© 2020 ...``, or a REUSE ``SPDX-FileCopyrightText: ...`` line.  A line merely mentioning
the word (``copyright = ...`` in code) does not count.  Lines are kept in order, whitespace
collapsed, duplicates dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from whence.index.stores import StoreReader

#: How far into a file its header may reach.
HEADER_LINES = 60
#: Longest copyright line kept (a longer one is cut, with an ellipsis).
MAX_LINE = 200
#: Comment markers and quotes a header line may start with (C, shell, SQL, Lisp, HTML, docstrings...).
_LEAD = re.compile(
    r"""^(?:\s|/\*+|\*+/?|//+!?|#+!?|--+|;+|%+|'''|\"\"\"|<!--|\(\*|\{-|!|REM\b|dnl\b|@rem\b)*""", re.I
)
_STATEMENT = re.compile(
    r"""^(?:
        (?:portions\s+)?copyright\b:?\s*(?:\(c\)|©|\d{4})      # Copyright (c) / © / 2004
      | \(c\)\s*\d{4}                                           # (C) 1999
      | ©\s*\S                                                  # © 2020
      | spdx-filecopyrighttext:\s*\S                           # REUSE
    )""",
    re.I | re.X,
)
_TRAIL = re.compile(r"\s*(?:\*/|-->|\*\)|-\}|'''|\"\"\")\s*$")


def header_copyrights(text: bytes | str, lines: int = HEADER_LINES) -> list[str]:
    """The copyright lines in the first ``lines`` lines of ``text``, in order, without duplicates."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out: list[str] = []
    seen: set[str] = set()
    for raw in text.splitlines()[:lines]:
        line = _TRAIL.sub("", _LEAD.sub("", raw)).strip()
        if not _STATEMENT.match(line):
            continue
        line = " ".join(line.split())
        if len(line) > MAX_LINE:
            line = line[: MAX_LINE - 1].rstrip() + "…"
        key = line.lower()
        if key not in seen:
            seen.add(key)
            out.append(line)
    return out


def of_documents(store: StoreReader, doc_ids: Iterable[int], batch: int = 256) -> dict[int, list[str]]:
    """The copyright lines of each indexed document (read ``batch`` documents per
    :meth:`StoreReader.fetch`); a document no longer in the index is left out."""
    ids: Sequence[int] = sorted(set(doc_ids))
    out: dict[int, list[str]] = {}
    for i in range(0, len(ids), batch):
        out.update((d, header_copyrights(f.text)) for d, f in store.fetch(ids[i : i + batch]).items())
    return out
