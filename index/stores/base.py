"""The store interface: what ingestion writes and search reads.

A store keeps documents (one per distinct content) with their occurrences, the content itself (so that
search can align a match line by line), an inverted index from winnowed fingerprint hashes to documents,
and LSH band keys.  The interface is in three parts -- :class:`StoreReader`, :class:`StoreWriter`,
:class:`StoreAdmin` -- that :class:`Store` joins.  Implementations: :mod:`whence.index.stores.sqlite`
(embedded default), :mod:`whence.index.stores.elastic`.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from whence.errors import WhenceError

from ..model import IndexedDoc, Occurrence, StoredDoc

_R = TypeVar("_R", bound="StoreReader")


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one :meth:`Store.add` call changed."""

    documents: int
    occurrences: int


@dataclass(frozen=True, slots=True)
class Postings:
    """Answer of :meth:`Store.postings`.

    Attributes:
        hashes, docs: parallel arrays, one (hash, document) pair per posting of every queried hash
            found in at most ``cap`` documents.
        common: the queried hashes found in more than ``cap`` documents (boilerplate), sorted.
        band_docs: the documents sharing one of the queried LSH band keys, sorted (empty when none
            were asked for).
    """

    hashes: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int64]
    common: npt.NDArray[np.int64]
    band_docs: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def votes(self) -> dict[int, int]:
        """Number of distinct queried hashes each document holds."""
        ids, counts = np.unique(self.docs, return_counts=True)
        return dict(zip(ids.tolist(), counts.tolist(), strict=True))


def budget_common(
    hashes: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], budget: int
) -> npt.NDArray[np.int64]:
    """The hashes made common so that the others' postings fit ``budget``: those held by the most
    documents first (equal counts: the larger hash first), until the rest fit.  ``hashes`` are unique,
    ``counts`` their document frequencies.  A pure function, so a store that applies it before reading
    (the engine, from its term statistics) agrees with a caller that applies it after
    (:func:`whence.index.candidates.within_budget`)."""
    total = int(counts.sum())
    if total <= budget:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-hashes, -counts))  # most frequent first
    over = total - np.cumsum(counts[order])  # postings left after dropping the first i+1
    n = int(np.searchsorted(-over, -budget, side="left")) + 1  # the fewest drops that reach the budget
    dropped: npt.NDArray[np.int64] = np.sort(hashes[order[:n]])
    return dropped


@dataclass(frozen=True, slots=True)
class Fetched:
    """One document of :meth:`Store.fetch`: what search needs to align it with a query and report it.

    Attributes:
        doc: its metadata.
        text: its content.
        occurrences: every known occurrence, in insertion order, when the store read them with the rest
            at no extra cost; None when it did not (:meth:`Store.occurrences` reads them).
    """

    doc: StoredDoc
    text: bytes
    occurrences: list[Occurrence] | None = None


@dataclass(frozen=True, slots=True)
class RepoFile:
    """One file of a repository, as the index holds it."""

    occurrence: Occurrence
    blob_id: str
    language: str


@dataclass(frozen=True, slots=True)
class RepoFiles:
    """Answer of :meth:`Store.repository`: one page of files, the total, and every license seen."""

    repo: str
    total: int
    files: list[RepoFile]
    licenses: list[str]


@dataclass(frozen=True, slots=True)
class OwnerRepo:
    """One repository of an owner, as the index holds it: its files (occurrences) and licenses."""

    repo: str
    files: int
    licenses: list[str]


@dataclass(frozen=True, slots=True)
class OwnerRepos:
    """Answer of :meth:`Store.owner`: one page of an owner's repositories (by name) and their total."""

    owner: str
    total: int
    repos: list[OwnerRepo]

    def as_dict(self, optouts: dict[str, str], limit: int, offset: int) -> dict[str, Any]:
        """The answer of ``GET /v1/owners/{owner}`` and ``whence index owners --format json``: the page,
        each repository's license category and opt-out state, and the owner's opt-out entries
        (``optouts``: every entry of the index, as :meth:`StoreReader.optouts` gives them)."""
        from ..licenses import classify
        from ..model import OptOuts

        opted = OptOuts(optouts)
        prefix = self.owner.lower() + "/"
        return {
            "owner": self.owner,
            "in_index": self.total > 0,
            "opted_out": opted.owner(self.owner),
            "repos_total": self.total,
            "repos": [
                {
                    "repo": r.repo,
                    "files": r.files,
                    "licenses": r.licenses,
                    "license_category": classify(r.licenses).category,
                    "opted_out": r.repo in opted,
                }
                for r in self.repos
            ],
            "optouts": [{"repo": e, "added": t} for e, t in optouts.items() if e.lower().startswith(prefix)],
            "limit": limit,
            "offset": offset,
        }


class StoreReader(abc.ABC):
    """What search reads: postings and band lookups, documents (:meth:`fetch`), occurrences, counts.
    Search, scan, the API and attribution need no more than this."""

    @abc.abstractmethod
    def postings(
        self,
        hashes: npt.NDArray[np.int64],
        cap: int,
        band_keys: Sequence[int] = (),
        *,
        budget: int | None = None,
    ) -> Postings:
        """Documents containing each hash, and documents sharing one of ``band_keys`` (see
        :class:`Postings`): asked together, a remote store reads both in one round trip.

        A hash held by more than ``cap`` documents is common, and a store reads no more of its postings
        than it needs to know that.  With ``budget``, a store that knows the document frequencies
        before reading may also leave out the postings that
        :func:`budget_common` drops (the caller applies it either way)."""

    @abc.abstractmethod
    def band_docs(self, keys: Sequence[int]) -> set[int]:
        """Documents sharing at least one LSH band key."""

    @abc.abstractmethod
    def documents(self, ids: Sequence[int]) -> dict[int, StoredDoc]:
        """Stored documents by id."""

    @abc.abstractmethod
    def text(self, doc_id: int) -> bytes:
        """The content of a document."""

    def fetch(self, ids: Sequence[int]) -> dict[int, Fetched]:
        """The content and metadata of documents together, by id (as few reads as the store can make
        of it: search fetches all its candidates at once).  A document that is not stored is left out.
        The default reads :meth:`documents`, then each :meth:`text`."""
        docs = self.documents(ids)
        return {i: Fetched(docs[i], self.text(i)) for i in ids if i in docs}

    def signatures(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.uint32]]:
        """The MinHash signatures of documents (:func:`whence.index.fingerprint.minhash` of their
        selected exact k-grams), by id: search counts the holders of a k-gram that are near-duplicates of
        one another (versions of one file) as one.  A document left out (not stored, or its signature
        unreadable) is like no other.  The default keeps none: a store without them counts every holder."""
        return {}

    @abc.abstractmethod
    def occurrences(self, ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        """Every known occurrence of each document, in insertion order."""

    @abc.abstractmethod
    def count_documents(self) -> int:
        """Number of stored documents (cheap: search calls it per query)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, int | float | str]:
        """Counts: at least ``documents`` and ``occurrences``."""

    def order_keys(self, ids: Sequence[int]) -> dict[int, int]:
        """A key per document that orders equal candidates the same way in every store: the first 63 bits
        of its content hash.  The default is the id itself, for stores whose ids are those bits."""
        return {i: i for i in ids}

    def repository(self, repo: str, limit: int = 100, offset: int = 0) -> RepoFiles:
        """The files of a repository the index knows (names compare case-insensitively), by path."""
        raise WhenceError(f"{type(self).__name__} cannot list a repository's files")

    def owner(self, owner: str, limit: int = 100, offset: int = 0) -> OwnerRepos:
        """The repositories of ``owner`` the index holds files of (``owner/...``, compared
        case-insensitively), by name, with their file counts and licenses."""
        raise WhenceError(f"{type(self).__name__} cannot list an owner's repositories")

    def check(self) -> dict[str, Any]:
        """Verify the whole index (``whence index check``): counts of what was checked and ``problems``
        (lines of text, empty when it is sound).  A store that cannot check itself raises."""
        raise WhenceError(
            f"{type(self).__name__} cannot be checked by whence: `whence index check` verifies a SQLite index"
            " file (a search engine checks its own shards)"
        )

    def optouts(self) -> dict[str, str]:
        """Repositories opted out of the index (``owner/name``, or ``owner/*`` for every repository of an
        owner -> when), kept out of every build (:class:`whence.index.model.OptOuts` matches them)."""
        return {}

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store."""

    def __enter__(self: _R) -> _R:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class StoreWriter(abc.ABC):
    """What ingestion writes through, best as a session: ``with store.writer() as w:`` (see
    :meth:`writer`)."""

    #: Whether :meth:`known` and :meth:`known_blobs` may run on other threads while :meth:`add` runs
    #: (a search engine's HTTP client may; a SQLite connection may not).  The build then fingerprints
    #: the next batches while a batch is being written, instead of waiting for the write to finish.
    concurrent_lookups: bool = False
    #: Whether :meth:`known` and :meth:`known_blobs` see what this handle's writer staged and has not
    #: flushed (SQLite: the same connection reads its own open transaction; a search engine shows
    #: writes only after a refresh).  A build then asks the store alone, and remembers nothing per
    #: document itself (``pipeline._Recent``).
    lookups_see_own_writes: bool = False

    @abc.abstractmethod
    def known(self, content_hashes: Iterable[bytes]) -> set[bytes]:
        """Which of these content hashes are already stored."""

    def known_blobs(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        """Which of these blob ids the index holds a document for: blob id -> its content hash (a build
        skips their fetch).  A store that cannot tell returns ``{}`` (the blobs are fetched again)."""
        return {}

    @abc.abstractmethod
    def add(self, docs: Sequence[IndexedDoc]) -> WriteResult:
        """Stage a batch (known contents only gain occurrences).

        Staged writes become durable and searchable together, at the latest at :meth:`flush`; a store
        may flush on its own when it has buffered enough.  A failure loses only unflushed work.
        """

    @abc.abstractmethod
    def add_occurrences(self, pairs: Sequence[tuple[bytes, Occurrence]]) -> int:
        """Attach occurrences to already stored contents; returns how many were new."""

    @abc.abstractmethod
    def set_commit_every(self, postings: int) -> None:
        """Commit after about this many buffered postings (a store that does not buffer ignores it)."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Make every staged write durable and searchable."""

    @contextlib.contextmanager
    def writer(self, commit_every: int | None = None) -> Iterator[StoreWriter]:
        """A write session: writes staged in it are flushed when it ends normally; when it ends with an
        exception they are not (what the store flushed on its own stays, as after a crash).

        Args:
            commit_every: postings buffered before the store commits on its own (default: its own).
        """
        if commit_every is not None:
            self.set_commit_every(commit_every)
        yield self
        self.flush()


class StoreAdmin:
    """Operations on a whole index: after a build (:meth:`optimize`, :meth:`publish`) and opt-outs.
    Every one has a default (do nothing, or refuse), so a store overrides only what it supports."""

    def optimize(
        self,
        *,
        force: bool = False,
        added: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> bool:
        """Reorganise for search after a build (called once at its end); may do nothing.

        Args:
            force: reorganise whatever the build wrote (``whence index optimize``).
            added: documents the build added when other handles wrote them (a Spark job's executors);
                by default the store counts what this handle wrote.
            progress: called now and then with the segments left, while a long merge runs.

        Returns whether the index was reorganised."""
        return False

    def publish(self) -> None:
        """After a build: make what it wrote the index that searches read.  A store opened with
        ``rebuild=True`` (search engines) wrote into a fresh index and switches to it here; every other
        store's writes are searched once flushed, so by default this does nothing."""

    def add_optout(self, repo: str, when: str) -> tuple[int, int]:
        """Opt a repository (``owner/name``) or every repository of an owner (``owner/*``) out: remove
        their occurrences, and the documents left without any, and keep them out of future builds.
        Returns (occurrences removed, documents removed)."""
        raise WhenceError(f"{type(self).__name__} does not support opting repositories out")

    def remove_optout(self, repo: str) -> bool:
        """Let a repository back in (its files return with the next build that sees them); returns
        whether it was opted out."""
        raise WhenceError(f"{type(self).__name__} does not support opting repositories out")

    def record_sources(
        self, records: Sequence[dict[str, Any]], *, replace_dataset: str | None = None
    ) -> None:
        """Record what the index was built from: one record per source (``location`` and ``dataset``
        keys at least; JSON values), replacing an earlier record of the same location -- and, with
        ``replace_dataset``, every earlier record of that dataset (a sync to a newer revision)."""
        raise WhenceError(f"{type(self).__name__} does not record its sources")

    def sources(self) -> list[dict[str, Any]]:
        """The recorded sources (see :meth:`record_sources`), by dataset and location."""
        return []

    def dataset_occurrences(self, dataset: str) -> Iterator[tuple[str, Occurrence]]:
        """Every occurrence recorded under ``dataset``: (its key for :meth:`remove_occurrences`, the
        occurrence's repository, path and revision)."""
        raise WhenceError(f"{type(self).__name__} does not record datasets")

    def remove_occurrences(self, keys: Sequence[str]) -> tuple[int, int]:
        """Remove occurrences by key, and the documents left without one; returns (occurrences removed,
        documents removed)."""
        raise WhenceError(f"{type(self).__name__} does not support removing occurrences")


class Store(StoreReader, StoreWriter, StoreAdmin):
    """A whence index: what :func:`~whence.index.stores.open_store` opens.  Callers take the narrowest
    part they use: :class:`StoreReader` (search), :class:`StoreWriter` (a build's writes, through
    :meth:`writer`), :class:`StoreAdmin` (optimize, publish, opt-outs)."""
