"""The exceptions whence raises: one tree, every subpackage raises from it.

Catch ``WhenceError`` for anything whence reports to a user; the HTTP service maps each class to a
status (``whence.api.http_errors``).

WhenceError                 -- base class; the CLI prints its message and exits 2
├── IndexNotFound           -- no index at the given target (build one first)
├── IndexFormatError        -- the file is not a whence index, or of another format version
├── IndexCorrupt            -- the index's file is damaged (a read failed or a checksum did not match)
├── InvalidInput            -- a query or source that cannot be used (binary, not UTF-8, too large)
│   └── AnswerTooLarge      -- a request whose answer would be too large (send less at once)
├── StoreUnavailable        -- the store could not be reached or written
└── GeneratorUnavailable    -- a code model could not be loaded or its server could not answer
"""

from __future__ import annotations


class WhenceError(Exception):
    """Base class of every error whence reports to a user."""


class IndexNotFound(WhenceError):
    """There is no index at the target."""


class IndexFormatError(WhenceError):
    """The target exists but is not a whence index this version can read."""


class IndexCorrupt(WhenceError):
    """The index file is damaged: a page SQLite cannot read, a stored text that does not decompress or
    does not match its content hash, a posting block that does not decode.  The message names the file
    and what to do (``whence index check``, then rebuild it)."""


class InvalidInput(WhenceError):
    """Input that cannot be searched or indexed."""


class AnswerTooLarge(InvalidInput):
    """A request whose answer would exceed what one answer may hold: a fingerprint search of many files
    whose candidates' texts add up to too much.  The client sends fewer files at once."""


class StoreUnavailable(WhenceError):
    """The store could not be reached or written."""


class GeneratorUnavailable(WhenceError):
    """A code model could not be loaded, or a completions server could not answer."""
