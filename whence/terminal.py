"""Text from an index (or any other input) made safe to print on a terminal.

Repository names, paths, licenses, URLs and source lines come from shards, JSONL records and folders
that anyone can write.  Printed raw, an ``ESC [ 2 J`` clears the screen, an OSC sequence sets the window
title or plants a link to another address.  :func:`printable` writes every control character -- C0
(U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F) -- visibly escaped (``\\x1b``, ``\\n``, ``\\x9b``),
and keeps every other character, so ordinary Unicode prints as it is.  JSON output needs none of this:
``json.dumps`` escapes control characters itself, and keeps the data exact.

Every product may import this module (it imports nothing of ours).
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or f"\\x{ord(c):02x}"


def printable(text: str, *, keep_tabs: bool = False) -> str:
    """``text`` with every C0/C1 control character and DEL written as a visible escape (``\\x1b``,
    ``\\n``, ``\\t``, ...); with ``keep_tabs``, tabs are kept (a source line, expanded later).

    Lone surrogates (a name that was not UTF-8) are written ``\\udcff``, so the result always encodes.
    """
    if keep_tabs:
        out = "\t".join(_CONTROLS.sub(_escape, part) for part in text.split("\t"))
    else:
        out = _CONTROLS.sub(_escape, text)
    return out.encode("utf-8", "backslashreplace").decode("utf-8")
