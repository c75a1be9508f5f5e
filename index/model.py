"""Value types that travel from ingestion to the store to search results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place a content was seen: a file at a path in a repository at a revision."""

    repo: str
    path: str
    licenses: tuple[str, ...] = ()
    revision: str = ""
    url: str = ""
    #: The dataset a shard row came from (``""``: an unnamed one), so that ``whence index sync`` knows
    #: which occurrences a newer revision of it replaces; ``None`` for folders and JSONL files.  Stores
    #: write it and need not read it back: it takes no part in comparisons.
    dataset: str | None = field(default=None, compare=False)

    def url_for_lines(self, first: int, last: int) -> str:
        """The occurrence's URL pointing at a line range (GitHub-style ``#L1-L9``)."""
        if not self.url:
            return ""
        return f"{self.url}#L{first}-L{last}" if last != first else f"{self.url}#L{first}"

    def as_dict(self, first: int, last: int) -> dict[str, Any]:
        """The occurrence as search and scan results list it, its URL pointing at lines first..last."""
        return {
            "repo": self.repo,
            "path": self.path,
            "url": self.url_for_lines(first, last),
            "licenses": list(self.licenses),
        }


@dataclass(slots=True)
class IndexedDoc:
    """A fingerprinted content, ready to be written to a store."""

    content_hash: bytes
    text_z: bytes  # the content, zstd-compressed (done by the worker that fingerprinted it)
    length_bytes: int
    hashes: npt.NDArray[np.int64]
    bands: list[int]
    signature: bytes
    lines: int
    tokens: int
    language: str = ""
    blob_id: str = ""
    occurrences: list[Occurrence] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """A document as the store returns it."""

    id: int
    blob_id: str
    language: str
    lines: int
    tokens: int
    length_bytes: int


#: An opt-out entry ``OWNER/*`` keeps out every repository of ``OWNER``.
OWNER_WILDCARD = "/*"


def owner_entry(owner: str) -> str:
    """The opt-out entry of every repository of ``owner`` (``owner/*``)."""
    return owner + OWNER_WILDCARD


class OptOuts:
    """Opt-out entries -- ``owner/name`` for a repository, ``owner/*`` for every repository of an owner --
    matched against repository names case-insensitively (GitHub's names are)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.repos: set[str] = set()
        self.owners: set[str] = set()
        for e in entries:
            if e.endswith(OWNER_WILDCARD):
                self.owners.add(e[: -len(OWNER_WILDCARD)].lower())
            else:
                self.repos.add(e.lower())

    def __contains__(self, repo: object) -> bool:
        if not isinstance(repo, str):
            return False
        name = repo.lower()
        return name in self.repos or name.split("/", 1)[0] in self.owners

    def owner(self, owner: str) -> bool:
        """Whether ``owner`` opted out as a whole (``owner/*``)."""
        return owner.lower() in self.owners


def github_url(repo: str, revision: str, path: str) -> str:
    """Link to a file of a GitHub repository at a revision (``HEAD`` when unknown)."""
    if not repo or "/" not in repo:
        return ""
    return f"https://github.com/{repo}/blob/{revision or 'HEAD'}/{path}"
