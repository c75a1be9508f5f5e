"""The ``elastic`` store: a whence index in Elasticsearch 8/9 or OpenSearch 2/3.

Target: ``http(s)://[user:password@]host:port[/index][?shards=N&replicas=M&texts=small|fast]`` (index
``whence`` by default; the parameters shape a new index).  The name is an alias over one physical index
``<index>-v<N>``: a rebuild (``whence index build --rebuild``) fills ``<index>-v<N+1>`` while searches
keep reading the old one, then swaps the alias in one atomic step and deletes the old index.  The document
layout and why it is shaped so are in :mod:`.elastic_mappings`; the sizing measurements in
docs/elastic.md.

Writes: :meth:`ElasticStore.add` sends one ``_bulk`` of ``create`` operations per batch (retried with
backoff while the cluster is busy or unreachable, then :class:`StoreUnavailable`).  An acknowledged bulk
is durable (the engine's translog); :meth:`flush` refreshes, which makes it searchable.  Because document
and occurrence ids are derived from their content, a build stopped at any point and run again ends with
exactly the documents and occurrences of a clean build, and concurrent ``--worker i/N`` jobs never
duplicate anything.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import xxhash

from whence.errors import IndexFormatError, IndexNotFound, InvalidInput, StoreUnavailable, WhenceError

from .. import failpoints
from .. import fingerprint as fp
from ..model import OWNER_WILDCARD, IndexedDoc, Occurrence, StoredDoc
from . import codec
from . import elastic_mappings as em
from .base import (
    Fetched,
    OwnerRepo,
    OwnerRepos,
    Postings,
    RepoFile,
    RepoFiles,
    Store,
    StoreWriter,
    WriteResult,
    budget_common,
)
from .elastic_driver import WRITE_BACKOFF, Driver, EngineHTTPError, parse_target, probe

#: Fingerprint parameters an index was built with (kept in the mapping's ``_meta``, checked on open).
PARAMS = {"layout": str(em.LAYOUT_VERSION), **codec.FINGERPRINT_PARAMS}
#: Named term clauses per search request (OpenSearch's default bool clause limit is 1024).
TERMS_PER_REQUEST = 1000
#: Hits per page when reading postings, band documents and occurrences.
PAGE = 5000
#: Ids tried for one content before giving up (each further one follows a 63-bit collision).
MAX_ID_ATTEMPTS = 8
#: Postings written between automatic refreshes during a build.
REFRESH_PAIRS = 4_000_000
#: Index settings while a build writes (:meth:`ElasticStore.writer`): no periodic refresh (the store
#: refreshes itself every REFRESH_PAIRS postings and at the end) and the translog synced every few
#: seconds rather than on every bulk.  ``scripts/bench/engine_ingest.py --variant all`` measured 7%
#: more documents/s (docs/elastic.md, "Ingest").  A node that crashes during the build may lose the
#: last seconds of acknowledged bulks: the build then fails, and its rerun writes them again (a blob
#: marker is trusted only beside its document, so nothing lost is skipped).
BUILD_SETTINGS: dict[str, Any] = {
    "refresh_interval": "-1",
    "translog": {"durability": "async", "sync_interval": "5s"},
}
#: What a build puts back when it ends, however it ends (the values :func:`em.index_body` creates).
SERVE_SETTINGS: dict[str, Any] = {"refresh_interval": "30s", "translog": {"durability": "request"}}
#: A build that added at least this share of the index's documents force-merges it (:meth:`optimize`).
OPTIMIZE_SHARE = 0.1
#: Seconds between two looks at a running force-merge (its progress: segments left).
MERGE_POLL_S = 2.0
#: Bulks one batch is split into, sent at once: the engine indexes the documents of one bulk to one shard on
#: one write thread, so a single bulk at a time leaves the other cores idle (docs/elastic.md, "Ingest").
BULK_CONCURRENCY = 2
#: How long a document count is reused (search asks for it on every query to size its boilerplate cap).
COUNT_TTL_S = 5.0
#: Most repositories of one owner a page may reach (offset + limit): the terms aggregation holds them all.
OWNER_WINDOW = 10_000

_MASK = (1 << 64) - 1


def _key(h: int) -> str:
    """A fingerprint hash or band key as its term: the 8 bytes of its two's complement in URL-safe
    base64, 11 characters (16 hex digits made the whole index 6 % bigger, docs/elastic.md)."""
    return base64.urlsafe_b64encode((h & _MASK).to_bytes(8, "big"))[:11].decode("ascii")


def _keys(hashes: npt.NDArray[np.int64]) -> list[str]:
    """:func:`_key` of every hash (one base64 pass over the whole array, then split)."""
    raw = np.asarray(hashes, dtype=">i8").view(np.uint8).reshape(-1, 8)
    # 9 bytes (8 + a zero pad) encode to exactly 12 characters, the first 11 carrying the 8 bytes.
    padded = np.zeros((len(raw), 9), dtype=np.uint8)
    padded[:, :8] = raw
    text = base64.urlsafe_b64encode(padded.tobytes()).decode("ascii")
    return [text[i : i + 11] for i in range(0, len(text), 12)]


def _keys_joined(hashes: npt.NDArray[np.int64]) -> str:
    """``" ".join(_keys(hashes))`` without the list: each 9-byte group encodes to 12 characters whose
    last, always ``A`` (the pad byte's bits), becomes the separating space (a third of the time)."""
    if len(hashes) == 0:
        return ""
    raw = np.asarray(hashes, dtype=">i8").view(np.uint8).reshape(-1, 8)
    padded = np.zeros((len(raw), 9), dtype=np.uint8)
    padded[:, :8] = raw
    text = np.frombuffer(base64.urlsafe_b64encode(padded.tobytes()), dtype=np.uint8).reshape(-1, 12).copy()
    text[:, 11] = ord(" ")
    return text.tobytes()[:-1].decode("ascii")


def _unkey(k: str) -> int:
    v = int.from_bytes(base64.urlsafe_b64decode(k + "="), "big")
    return v - (1 << 64) if v >= 1 << 63 else v


def doc_id(content_hash: bytes, attempt: int = 0) -> int:
    """The document id of a content: 63 bits of its hash, so every writer agrees on it.  ``attempt`` > 0
    gives the next candidate when two contents collide on the first (about once in 10^10 pairs)."""
    raw = content_hash if attempt == 0 else xxhash.xxh3_64_digest(content_hash + attempt.to_bytes(2, "big"))
    return int.from_bytes(raw[:8], "big") >> 1


#: Blob ids that get a marker document (``b<blob_id>``): The Stack's hexadecimal ids and the like.
_BLOB_KEY = re.compile(r"[0-9A-Za-z_.-]{1,128}")


def _occ_id(did: int, o: Occurrence) -> str:
    key = "\x00".join((str(did), o.repo, o.path, o.revision))
    return "o" + xxhash.xxh3_128_hexdigest(key.encode("utf-8", "surrogatepass"))


_META_FIELDS = ["did", "blob", "lang", "lines", "tokens", "len"]
_DOC_FIELDS = ["tz", "text", *_META_FIELDS]  # the content is in one of the first two (see _text)
_OCC_FIELDS = ["did", "repo", "path", "rev", "licj", "url"]
# Occurrences are read from doc values too (see _IDS_ONLY): their licenses, in order, as one JSON string.
_OCC_READ: dict[str, Any] = {"stored_fields": "_none_", "docvalue_fields": _OCC_FIELDS}


# Hits that carry only the document id, from doc values: no stored field is read, and stored fields are
# compressed in blocks, so reading even `_id` would decompress a block of texts per hit (measured: the
# postings search took 3 ms instead of 1 ms under best_compression).
_IDS_ONLY: dict[str, Any] = {"stored_fields": "_none_", "docvalue_fields": ["did"]}


def _did(hit: dict[str, Any]) -> int:
    return int(hit["fields"]["did"][0])


def _occurrence(hit: dict[str, Any]) -> tuple[int, Occurrence]:
    """(document id, occurrence) of an occurrence hit read with :data:`_OCC_READ`."""
    f = hit["fields"]

    def one(name: str) -> str:
        return str(f.get(name, [""])[0])

    lic = tuple(json.loads(one("licj") or "[]"))
    return int(f["did"][0]), Occurrence(one("repo"), one("path"), lic, one("rev"), one("url"))


def _page(
    query: dict[str, Any],
    *,
    source: list[str] | bool = False,
    sort: list[Any] | None = None,
    read: dict[str, Any] | None = None,
    after: list[Any] | None = None,
) -> dict[str, Any]:
    """The search body of one page of ``query``'s hits (see :meth:`ElasticStore._scan`)."""
    body: dict[str, Any] = {
        "query": query,
        "size": PAGE,
        "sort": sort or [{"did": "asc"}],
        "track_total_hits": False,
    }
    body.update(read or ({"_source": source} if source else _IDS_ONLY))
    if after is not None:
        body["search_after"] = after
    return body


def _band_query(keys: Sequence[int]) -> dict[str, Any]:
    """Documents sharing an LSH band key."""
    return em.kind_query("doc", em.term_filter("bands", [_key(k) for k in keys]))


def _text(src: dict[str, Any]) -> bytes:
    """The content of a document read with ``tz`` and ``text``: ``tz`` (base64 of the zstd frame the
    build made), or ``text`` as documents written before ``tz`` hold it (both may be in one index)."""
    if "tz" in src:
        return codec.decompressor().decompress(base64.b64decode(src["tz"]))
    return str(src["text"]).encode("utf-8")


def _stored_doc(src: dict[str, Any]) -> StoredDoc:
    """The metadata of a document read with (at least) ``_META_FIELDS``."""
    return StoredDoc(int(src["did"]), src["blob"], src["lang"], src["lines"], src["tokens"], src["len"])


class ElasticStore(Store):
    """A whence index in an Elasticsearch or OpenSearch cluster.

    Args:
        url: the target (see the module docstring).
        create: create the index when missing (for building).
        readonly: search only.
        rebuild: write into a fresh physical index; :meth:`swap_alias` then makes it the live one.

    Raises:
        StoreUnavailable: no engine answers at ``url``.
        IndexNotFound: no index of that name and ``create`` is false.
        IndexFormatError: the index was built by another layout or with other fingerprint parameters.
    """

    concurrent_lookups = True  # the engine client's connection pool serves several threads

    def __init__(
        self, url: str, *, create: bool = False, readonly: bool = False, rebuild: bool = False
    ) -> None:
        self.target = parse_target(url)
        self._driver = Driver(self.target, probe(self.target))
        self._readonly = readonly
        self._rebuild = rebuild
        self._count: tuple[float, int] | None = None
        self._seq = time.time_ns()
        self._pairs_since_refresh = 0
        self._docs_written = 0
        self.refresh_pairs = REFRESH_PAIRS
        self._senders: ThreadPoolExecutor | None = None
        try:
            self._open(create and not readonly)
        except BaseException:
            self._driver.close()
            raise

    # -- opening -----------------------------------------------------------------------------------

    def _open(self, create: bool) -> None:
        name = self.target.index
        live = self._physical()
        if self._rebuild:
            if self._readonly:
                raise WhenceError("a rebuild needs a writable store")
            version = max((int(p.rsplit("-v", 1)[1]) for p in live), default=0) + 1
            self._write_index = self._create(f"{name}-v{version}", alias=False)
            self._old = live
            # Opt-outs outlive rebuilds: carry them into the new index before anything is built.
            if live:
                self._read_index = live[0]
                kept = self.optouts()
                self._read_index = self._write_index
                ops = [
                    ({"create": {"_id": f"x{r}"}}, {"kind": "optout", "repo": r, "added": a})
                    for r, a in kept.items()
                ]
                self._bulk(ops)
                self.flush()
            self._read_index = self._write_index
        elif live:
            if len(live) > 1:
                raise IndexFormatError(f"{self.target.display}: the alias points at {len(live)} indices")
            self._write_index = self._read_index = live[0]
        elif create:
            self._write_index = self._create(f"{name}-v1", alias=True)
            self._read_index = self._write_index
        else:
            raise IndexNotFound(
                f"no whence index {name!r} at {self.target.base}: build one with "
                f"`whence index build SOURCE --index {self.target.display}`"
            )
        self._check_meta()
        if not self._readonly:
            self._add_fields()
        settings = self._get(f"/{self._read_index}/_settings")
        self._shards = int(settings[self._read_index]["settings"]["index"]["number_of_shards"])

    def _get(self, path: str) -> Any:
        return self._driver.request("GET", path)

    def _physical(self) -> list[str]:
        """The physical indices behind the alias (empty when there is none)."""
        name = self.target.index
        try:
            found = self._get(f"/_alias/{name}")
        except EngineHTTPError as exc:
            if exc.status != 404:
                raise self._unavailable("read the alias", exc) from exc
            try:
                self._get(f"/{name}")
            except EngineHTTPError as exc2:
                if exc2.status == 404:
                    return []
                raise self._unavailable("read the index", exc2) from exc2
            raise IndexFormatError(
                f"{self.target.display}: {name!r} is an index, not a whence alias; use another index name"
            ) from exc
        return sorted(found)

    def _create(self, physical: str, *, alias: bool) -> str:
        body = em.index_body(
            self.target.shards, self.target.replicas, {"whence": "index", **PARAMS}, self.target.texts
        )
        if alias:
            body["aliases"] = {self.target.index: {}}
        try:
            self._driver.request("PUT", f"/{physical}", body, backoff=WRITE_BACKOFF)
        except EngineHTTPError as exc:
            # Another worker created it first: use theirs (the name is deterministic for this reason).
            if "already_exists" not in str(exc.body):
                raise self._unavailable(f"create index {physical}", exc) from exc
        self._driver.request(
            "GET",
            "/_cluster/health",
            params={"index": physical, "wait_for_status": "yellow", "timeout": "60s"},
        )
        return physical

    def _check_meta(self) -> None:
        mapping = self._get(f"/{self._read_index}/_mapping")
        meta = mapping[self._read_index]["mappings"].get("_meta", {})
        if meta.get("whence") != "index":
            raise IndexFormatError(f"{self.target.display} is not a whence index")
        remedy = "rebuild it with `whence index build --rebuild`"
        layout = str(meta.get("layout"))
        # An index of an earlier layout that this one still reads is searched and written as it is.
        want = {**PARAMS, "layout": layout} if layout in em.READABLE_LAYOUTS else PARAMS
        codec.check_params(meta, want, self.target.display, remedy)
        self._fp_list = layout == "5"  # fp as a keyword list (layout 5), else one string

    def _add_fields(self) -> None:
        """Give an index built before :data:`~.elastic_mappings.ADDED_FIELDS` existed those fields."""
        mapping = self._get(f"/{self._write_index}/_mapping")[self._write_index]["mappings"]
        missing = {f: em.MAPPINGS["properties"][f] for f in em.ADDED_FIELDS if f not in mapping["properties"]}
        if missing:
            try:
                self._driver.request(
                    "PUT", f"/{self._write_index}/_mapping", {"properties": missing}, backoff=WRITE_BACKOFF
                )
            except EngineHTTPError as exc:
                raise self._unavailable("add fields to the mapping", exc) from exc

    def _unavailable(self, what: str, exc: EngineHTTPError) -> StoreUnavailable:
        return StoreUnavailable(f"{self.target.display}: could not {what}: {exc}")

    # -- writing -----------------------------------------------------------------------------------

    def _bulk(self, ops: Sequence[tuple[dict[str, Any], dict[str, Any] | None]]) -> list[int]:
        """Run ``(action, source)`` pairs as bulks; returns each one's status.  Items the cluster
        rejected as busy (429) are sent again with backoff; any other failure except 409 raises."""
        if not ops:
            return []
        statuses = [0] * len(ops)
        todo = list(range(len(ops)))
        for pause in (*WRITE_BACKOFF, None):
            lines: list[dict[str, Any]] = []
            for i in todo:
                action, source = ops[i]
                lines.append(action)
                if source is not None:
                    lines.append(source)
            try:
                resp = self._driver.request(
                    "POST", f"/{self._write_index}/_bulk", lines, ndjson=True, backoff=WRITE_BACKOFF
                )
            except EngineHTTPError as exc:
                raise self._unavailable("write a batch", exc) from exc
            except StoreUnavailable as exc:
                raise StoreUnavailable(
                    f"{exc}; batches written before are kept: run the same command again when the index "
                    "is back to finish (nothing is duplicated)"
                ) from exc
            retry = []
            for i, item in zip(todo, resp["items"], strict=True):
                result = next(iter(item.values()))
                status = int(result["status"])
                statuses[i] = status
                if status == 429:
                    retry.append(i)
                elif status >= 300 and status not in (404, 409):  # 404: a delete of nothing
                    raise StoreUnavailable(
                        f"{self.target.display}: the engine refused a write: {result.get('error')}"
                    )
            if not retry:
                return statuses
            if pause is None:
                raise StoreUnavailable(f"{self.target.display}: the cluster stayed too busy to accept writes")
            time.sleep(pause)
            todo = retry
        return statuses

    def add(self, docs: Sequence[IndexedDoc]) -> WriteResult:
        if self._readonly:
            raise WhenceError("the store is open read-only")
        self._count = None
        pending = list(docs)
        attempt = 0
        new_docs = new_occ = 0
        while pending:
            # One bulk per batch: each document with its occurrences, keyed by the document's id, and a
            # shard row's blob id -> the document, so that a later build knows the blob before fetching
            # it.  A marker may land before its document (another shard) or name another content's id
            # (a clash, retried below with a new marker): known_blobs checks each against its document.
            groups = []
            for d in pending:
                did = doc_id(d.content_hash, attempt)
                ops = [({"create": {"_id": f"d{did}"}}, self._doc_source(d, did))]
                ops.extend(self._occurrence_op(did, o) for o in d.occurrences)
                if _BLOB_KEY.fullmatch(d.blob_id):
                    marker = {"kind": "blob", "did": did, "ch": d.content_hash.hex()}
                    ops.append(({"index": {"_id": f"b{d.blob_id}"}}, marker))
                groups.append(ops)
            statuses = iter(self._bulk_parallel(groups))
            existing: list[tuple[IndexedDoc, list[int]]] = []
            for d in pending:
                doc_status = next(statuses)
                occ_statuses = [next(statuses) for _ in d.occurrences]
                if _BLOB_KEY.fullmatch(d.blob_id):
                    next(statuses)  # the marker's
                if doc_status == 409:
                    existing.append((d, occ_statuses))
                    continue
                new_docs += 1
                new_occ += sum(s != 409 for s in occ_statuses)
                self._pairs_since_refresh += len(d.hashes)
                self._docs_written += 1
            clashes: list[IndexedDoc] = []
            if existing:
                # A 409 is either this content stored earlier (a rerun, another worker) or, about once in
                # 10^10 pairs of contents, another content on the same id: tell them apart by the stored
                # content hash.  After a clash the occurrences just attached to the other content are
                # taken back, and the content is written again on its next candidate id.
                ids = [f"d{doc_id(d.content_hash, attempt)}" for d, _ in existing]
                stored = self._mget_sources(ids, ["ch"])
                for _id, (d, occ_statuses) in zip(ids, existing, strict=True):
                    src = stored.get(_id)
                    if src is not None and src.get("ch") == d.content_hash.hex():
                        new_occ += sum(s != 409 for s in occ_statuses)
                    else:
                        clashes.append(d)
                        wrong = [o for o, s in zip(d.occurrences, occ_statuses, strict=True) if s != 409]
                        self._delete([_occ_id(int(_id[1:]), o) for o in wrong])
            pending = clashes
            attempt += 1
            if pending and attempt == MAX_ID_ATTEMPTS:
                raise StoreUnavailable(
                    f"{self.target.display}: no free document id for {pending[0].content_hash.hex()}"
                )
        if self._pairs_since_refresh >= self.refresh_pairs:
            self.flush()
        failpoints.reached("after-commit")  # the batch is acknowledged: crash tests stop a build here
        return WriteResult(new_docs, new_occ)

    def _bulk_parallel(
        self, groups: Sequence[Sequence[tuple[dict[str, Any], dict[str, Any] | None]]]
    ) -> list[int]:
        """:meth:`_bulk` of the concatenated ``groups`` (each one document's operations), as up to
        :data:`BULK_CONCURRENCY` bulks of whole groups sent at once; the statuses in order."""
        parts = min(BULK_CONCURRENCY, len(groups))
        if parts <= 1:
            return self._bulk([op for g in groups for op in g])
        chunks: list[list[tuple[dict[str, Any], dict[str, Any] | None]]] = [[] for _ in range(parts)]
        per = -(-sum(len(g) for g in groups) // parts)  # operations per bulk, rounded up
        i = 0
        for g in groups:
            if len(chunks[i]) >= per and i < parts - 1:
                i += 1
            chunks[i].extend(g)
        if self._senders is None:
            self._senders = ThreadPoolExecutor(BULK_CONCURRENCY, thread_name_prefix="whence-bulk")
        futures = [self._senders.submit(self._bulk, c) for c in chunks]
        # Every bulk is waited for before any error is raised: none is left running behind the caller.
        results = [f.exception() or f.result() for f in futures]
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [s for r in results for s in r]  # type: ignore[union-attr]

    def _delete(self, ids: list[str]) -> None:
        if ids:
            self._bulk([({"delete": {"_id": i}}, None) for i in ids])

    def _doc_source(self, d: IndexedDoc, did: int) -> dict[str, Any]:
        hashes = np.unique(np.asarray(d.hashes, dtype=np.int64))
        return {
            "kind": "doc",
            "did": did,
            "ch": d.content_hash.hex(),
            "blob": d.blob_id,
            "lang": d.language,
            "len": d.length_bytes,
            "lines": d.lines,
            "tokens": d.tokens,
            "sig": base64.b64encode(d.signature).decode("ascii"),
            # The zstd frame the build already made, not the text: a third of the bytes for the engine to
            # parse, copy out of the source and compress (docs/elastic.md, "Ingest").
            "tz": base64.b64encode(d.text_z).decode("ascii"),
            "nfp": len(hashes),
            "fp": _keys(hashes) if self._fp_list else _keys_joined(hashes),
            "bands": _keys(np.asarray(d.bands, dtype=np.int64)),
        }

    def _occurrence_op(self, did: int, o: Occurrence) -> tuple[dict[str, Any], dict[str, Any]]:
        self._seq += 1  # insertion order, as occurrences() returns them
        src = {
            "kind": "occ", "did": did, "repo": o.repo, "path": o.path, "rev": o.revision,
            "lic": list(o.licenses), "licj": json.dumps(list(o.licenses)), "url": o.url, "seq": self._seq,
        }  # fmt: skip
        if o.dataset is not None:
            src["ds"] = o.dataset
        return {"create": {"_id": _occ_id(did, o)}}, src

    def _write_occurrences(self, pairs: Sequence[tuple[int, Occurrence]]) -> int:
        ops = [self._occurrence_op(did, o) for did, o in pairs]
        return sum(1 for s in self._bulk(ops) if s != 409) if ops else 0

    def add_occurrences(self, pairs: Sequence[tuple[bytes, Occurrence]]) -> int:
        if self._readonly:
            raise WhenceError("the store is open read-only")
        ids = self._resolve({ch for ch, _ in pairs})
        missing = {ch for ch, _ in pairs} - set(ids)
        if missing:
            raise StoreUnavailable(f"occurrence for a content that is not stored ({min(missing).hex()})")
        self._count = None
        return self._write_occurrences([(ids[ch], o) for ch, o in pairs])

    def _resolve(self, content_hashes: Iterable[bytes]) -> dict[bytes, int]:
        """The document id of each stored content, by real-time GETs (a search would not yet see what
        this build wrote since the last refresh): the id derived from the hash, verified by the stored
        hash, else the next candidate after a collision."""
        out: dict[bytes, int] = {}
        todo = set(content_hashes)
        for attempt in range(MAX_ID_ATTEMPTS):
            if not todo:
                break
            want = {f"d{doc_id(ch, attempt)}": ch for ch in todo}
            found = self._mget_sources(list(want), ["ch"])
            for _id, ch in want.items():
                src = found.get(_id)
                if src is None:
                    todo.discard(ch)  # not stored: later candidates are only taken after a collision
                elif src.get("ch") == ch.hex():
                    out[ch] = int(_id[1:])
                    todo.discard(ch)
        return out

    def flush(self) -> None:
        """Make every acknowledged write searchable (a refresh; the bulks are already durable)."""
        if self._readonly:
            return
        try:
            self._driver.request("POST", f"/{self._write_index}/_refresh", backoff=WRITE_BACKOFF)
        except EngineHTTPError as exc:
            raise self._unavailable("refresh", exc) from exc
        self._pairs_since_refresh = 0
        self._count = None

    def set_commit_every(self, postings: int) -> None:
        if postings < 1:
            raise ValueError(f"commit_every must be at least 1, got {postings}")
        self.refresh_pairs = postings

    def order_from(self, seq: int) -> None:
        """Number the occurrences written from now on from ``seq`` (a content's occurrences are listed
        by this number).  A build split among concurrent writers -- the Spark job's partitions -- gives
        each writer a base that follows its rows' place in the sources, so a content seen by several
        of them lists its occurrences in the order one writer would have."""
        self._seq = seq

    @contextlib.contextmanager
    def writer(self, commit_every: int | None = None) -> Iterator[StoreWriter]:
        """A build's write session: the index takes :data:`BUILD_SETTINGS` while it lasts (and no
        replicas, for a rebuild that nothing searches yet: :meth:`publish` gives them back, after the
        merge) and :data:`SERVE_SETTINGS` again when it ends, however it ends; the translog is then committed
        (``_flush``), so every acknowledged bulk is durable before the build reports anything.  A
        process killed in between leaves the build settings on until the next build ends (searches
        still see what the store refreshed)."""
        building = dict(BUILD_SETTINGS)
        if self._rebuild:  # not searched yet: no replica to keep in step until it is published
            building |= em.replica_settings(0)
        self._put_settings(building, "take the build settings")
        try:
            with super().writer(commit_every) as w:
                yield w
        except BaseException:
            with contextlib.suppress(StoreUnavailable):  # the node is gone: the build's error says more
                self._end_build()
            raise
        self._end_build()

    def _end_build(self) -> None:
        self._put_settings(SERVE_SETTINGS, "restore the settings after the build")
        try:
            self._driver.request("POST", f"/{self._write_index}/_flush", backoff=WRITE_BACKOFF)
        except EngineHTTPError as exc:
            raise self._unavailable("commit the build", exc) from exc

    def _put_settings(self, settings: dict[str, Any], what: str) -> None:
        if self._readonly:
            return
        body = {"index": settings}
        try:
            self._driver.request("PUT", f"/{self._write_index}/_settings", body, backoff=WRITE_BACKOFF)
        except EngineHTTPError as exc:
            raise self._unavailable(what, exc) from exc

    def segments(self) -> tuple[int, int]:
        """(segments, shards) of the index written: what a search visits per shard."""
        try:
            st = self._get(f"/{self._write_index}/_stats/segments")
        except EngineHTTPError as exc:
            raise self._unavailable("read the segment count", exc) from exc
        return int(st["_all"]["primaries"]["segments"]["count"]), self._shards

    def optimize(
        self,
        *,
        force: bool = False,
        added: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> bool:
        """Force-merge each shard to one segment, after a build that added at least
        :data:`OPTIMIZE_SHARE` of the documents (or always, with ``force``; ``whence index
        optimize``).  A search visits every segment: on a million documents as built (41 segments)
        p50 was 40-43 ms, merged 16-18 ms (docs/scale.json).  The merge runs as an engine task and
        is waited for (``progress`` gets the segments left every :data:`MERGE_POLL_S` s); it rewrites
        the index once (minutes at a million documents), which is why a small incremental build
        leaves the merging to the engine.  Returns whether it merged."""
        if self._readonly:
            raise WhenceError("the store is open read-only")
        written, self._docs_written = (self._docs_written if added is None else added), 0
        segments, shards = self.segments()
        if segments <= shards or not (force or written >= OPTIMIZE_SHARE * self.count_documents()):
            return False
        if progress is not None:
            progress(segments)
        try:
            task = self._driver.request(
                "POST",
                f"/{self._write_index}/_forcemerge",
                params={"max_num_segments": "1", "wait_for_completion": "false"},
                backoff=WRITE_BACKOFF,
            )["task"]
            while True:
                state = self._get(f"/_tasks/{task}")
                if state.get("completed"):
                    break
                if progress is not None:
                    progress(self.segments()[0])
                time.sleep(MERGE_POLL_S)
        except EngineHTTPError as exc:
            raise self._unavailable("force-merge", exc) from exc
        if "error" in state:
            raise StoreUnavailable(f"{self.target.display}: the force-merge failed: {state['error']}")
        self.flush()
        return True

    def publish(self) -> None:
        """After a rebuild, :meth:`swap_alias`; otherwise the alias already names the index written."""
        if self._rebuild:
            self.swap_alias()

    def swap_alias(self) -> None:
        """After a rebuild: point the alias at the new index in one atomic step, then drop the old ones."""
        if not self._rebuild:
            raise WhenceError("swap_alias is for a store opened with rebuild=True")
        self.flush()
        # The build wrote without replicas (see writer).
        self._put_settings(em.replica_settings(self.target.replicas), "give the rebuilt index its replicas")
        name = self.target.index
        actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": name}} for old in self._old]
        actions.append({"add": {"index": self._write_index, "alias": name}})
        try:
            self._driver.request("POST", "/_aliases", {"actions": actions}, backoff=WRITE_BACKOFF)
            for old in self._old:
                self._driver.request("DELETE", f"/{old}", backoff=WRITE_BACKOFF)
        except EngineHTTPError as exc:
            raise self._unavailable("swap the alias", exc) from exc
        self._old = []

    # -- reading -----------------------------------------------------------------------------------

    def _search(self, body: dict[str, Any]) -> Any:
        try:
            return self._driver.request("POST", f"/{self._read_index}/_search", body)
        except EngineHTTPError as exc:
            raise self._unavailable("search", exc) from exc

    def _scan(
        self,
        query: dict[str, Any],
        *,
        source: list[str] | bool = False,
        sort: list[Any] | None = None,
        read: dict[str, Any] | None = None,
        after: list[Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every hit of ``query`` (after ``after``, when given), page by page (``search_after`` on a
        total order); without ``source`` or ``read``, hits carry only their document id (:func:`_did`)."""
        while True:
            body = _page(query, source=source, sort=sort, read=read, after=after)
            hits = self._search(body)["hits"]["hits"]
            yield from hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    def _scan_many(self, queries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Every hit of each query, as :meth:`_scan` reads them (document ids only), the first pages of
        all the queries in one round trip."""
        if len(queries) <= 1:
            return [list(self._scan(q)) for q in queries]
        out = []
        for query, answer in zip(queries, self._msearch([_page(q) for q in queries]), strict=True):
            hits = answer["hits"]["hits"]
            if len(hits) == PAGE:
                hits = [*hits, *self._scan(query, after=hits[-1]["sort"])]
            out.append(hits)
        return out

    def _mget_sources(self, ids: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        try:
            resp = self._driver.request(
                "POST",
                f"/{self._read_index}/_mget",
                {"ids": ids},
                params={"_source_includes": ",".join(fields)},
            )
        except EngineHTTPError as exc:
            raise self._unavailable("read documents", exc) from exc
        return {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}

    def known(self, content_hashes: Iterable[bytes]) -> set[bytes]:
        return set(self._resolve(content_hashes))

    def known_blobs(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        """By real-time GETs of the blob markers (``b<blob_id>``), each checked against the document it
        names (a document removed since, by an opt-out, is not known)."""
        keys = [b for b in dict.fromkeys(blob_ids) if _BLOB_KEY.fullmatch(b)]
        markers = self._mget_sources([f"b{b}" for b in keys], ["did", "ch"])
        if not markers:
            return {}
        docs = self._mget_sources([f"d{m['did']}" for m in markers.values()], ["ch"])
        out: dict[str, bytes] = {}
        for key, m in markers.items():
            doc = docs.get(f"d{m['did']}")
            if doc is not None and doc.get("ch") == m.get("ch"):
                out[key[1:]] = bytes.fromhex(m["ch"])
        return out

    def _doc_freqs(self, keys: list[str]) -> dict[str, int]:
        """Document frequency of each term, from the term dictionary of one shard, scaled by the number
        of shards (documents are spread evenly by id): exact on one shard, an estimate beyond, which
        is all the boilerplate test needs."""
        out: dict[str, int] = {}
        for i in range(0, len(keys), 10_000):
            try:
                resp = self._driver.request(
                    "POST",
                    f"/{self._read_index}/_termvectors",
                    em.term_statistics(keys[i : i + 10_000]),
                    params={"routing": "0", "realtime": "false"},
                )
            except EngineHTTPError as exc:
                raise self._unavailable("read term statistics", exc) from exc
            terms = resp.get("term_vectors", {}).get("fp", {}).get("terms", {})
            for k, st in terms.items():
                out[k] = int(st.get("doc_freq", 0)) * self._shards
        return out

    def postings(
        self,
        hashes: npt.NDArray[np.int64],
        cap: int,
        band_keys: Sequence[int] = (),
        *,
        budget: int | None = None,
    ) -> Postings:
        q = np.unique(np.asarray(hashes, dtype=np.int64))
        keys = _keys(q) if len(q) else []
        df = self._doc_freqs(keys)
        common = sorted(_unkey(k) for k, n in df.items() if n > cap)
        rare = [k for k in keys if 0 < df.get(k, 0) <= cap]
        if budget is not None and rare:
            # The postings a query would drop to keep within its budget are not even fetched.
            counts = np.array([df[k] for k in rare], dtype=np.int64)
            held = np.array([_unkey(k) for k in rare], dtype=np.int64)
            dropped = set(budget_common(held, counts, budget).tolist())
            if dropped:
                rare = [k for k, h in zip(rare, held.tolist(), strict=True) if h not in dropped]
                common = sorted([*common, *dropped])
        queries = [
            em.postings_query(rare[i : i + TERMS_PER_REQUEST]) for i in range(0, len(rare), TERMS_PER_REQUEST)
        ]
        if band_keys:  # rides in the same round trip as the postings
            queries.append(_band_query(band_keys))
        answers = self._scan_many(queries)
        bands = sorted({_did(h) for h in answers.pop()}) if band_keys else []
        found_h: list[int] = []
        found_d: list[int] = []
        for hits in answers:
            for hit in hits:
                did = _did(hit)
                for name in hit.get("matched_queries", ()):
                    found_h.append(_unkey(name))
                    found_d.append(did)
        return Postings(
            np.array(found_h, dtype=np.int64),
            np.array(found_d, dtype=np.int64),
            np.array(common, dtype=np.int64),
            np.array(bands, dtype=np.int64),
        )

    def band_docs(self, keys: Sequence[int]) -> set[int]:
        if not keys:
            return set()
        return {_did(h) for h in self._scan(_band_query(keys))}

    def _msearch(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run searches in one round trip; their answers, in order."""
        lines: list[dict[str, Any]] = []
        for b in bodies:
            lines.extend(({}, {**b, "track_total_hits": False}))
        try:
            resp = self._driver.request("POST", f"/{self._read_index}/_msearch", lines, ndjson=True)
        except EngineHTTPError as exc:
            raise self._unavailable("search", exc) from exc
        answers: list[dict[str, Any]] = resp["responses"]
        for a in answers:
            if "error" in a:
                raise StoreUnavailable(f"{self.target.display}: search failed: {a['error']}")
        return answers

    def fetch(self, ids: Sequence[int]) -> dict[int, Fetched]:
        """Texts, metadata and occurrences of documents in one round trip (occurrences only when they
        fit in one page; otherwise :meth:`occurrences` reads them)."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        doc_body = {
            "query": {"ids": {"values": [f"d{d}" for d in ids]}},
            "size": len(ids),
            "_source": _DOC_FIELDS,
        }
        occ_body = {
            "query": em.kind_query("occ", em.term_filter("did", ids)),
            "size": PAGE,
            "sort": [{"seq": "asc"}, {"did": "asc"}],
            **_OCC_READ,
        }
        docs, occ = self._msearch([doc_body, occ_body])
        occ_hits = occ["hits"]["hits"]
        occs: dict[int, list[Occurrence]] | None = None
        if len(occ_hits) < PAGE:  # every occurrence of these documents is in this one page
            occs = {d: [] for d in ids}
            for h in occ_hits:
                did, o = _occurrence(h)
                occs.setdefault(did, []).append(o)
        out = {}
        for h in docs["hits"]["hits"]:
            src = h["_source"]
            did = int(src["did"])
            out[did] = Fetched(_stored_doc(src), _text(src), None if occs is None else occs[did])
        return out

    def documents(self, ids: Sequence[int]) -> dict[int, StoredDoc]:
        sources = self._mget_sources([f"d{i}" for i in ids], _META_FIELDS).values()
        return {int(src["did"]): _stored_doc(src) for src in sources}

    def signatures(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.uint32]]:
        out: dict[int, npt.NDArray[np.uint32]] = {}
        for src in self._mget_sources([f"d{i}" for i in ids], ["did", "sig"]).values():
            try:
                sig = fp.unpack_signature(base64.b64decode(src.get("sig") or "", validate=True))
            except (binascii.Error, TypeError, ValueError):
                sig = None
            if sig is not None:
                out[int(src["did"])] = sig
        return out

    def text(self, doc_id: int) -> bytes:
        for src in self._mget_sources([f"d{doc_id}"], ["tz", "text"]).values():
            return _text(src)
        raise KeyError(doc_id)

    def occurrences(self, ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        out: dict[int, list[Occurrence]] = {i: [] for i in ids}
        if not ids:
            return out
        query = em.kind_query("occ", em.term_filter("did", list(ids)))
        for hit in self._scan(query, sort=[{"seq": "asc"}, {"did": "asc"}], read=_OCC_READ):
            did, occ = _occurrence(hit)
            out[did].append(occ)
        return out

    def repository(self, repo: str, limit: int = 100, offset: int = 0) -> RepoFiles:
        """The files of a repository by path (``offset + limit`` at most the engine's result window,
        10,000 by default)."""
        body = {
            "query": em.repository_query(repo),
            "from": offset,
            "size": limit,
            "sort": [{"path": "asc"}, {"rev": "asc"}],
            **_OCC_READ,
            "track_total_hits": True,
            "aggs": {
                "licenses": {"terms": {"field": "lic", "size": 1000}},
                "names": {"terms": {"field": "repo"}},
            },
        }
        resp = self._search(body)
        names = [b["key"] for b in resp["aggregations"]["names"]["buckets"]]
        if not names:
            return RepoFiles(repo, 0, [], [])
        found = [_occurrence(h) for h in resp["hits"]["hits"]]
        docs = self.documents(sorted({did for did, _ in found}))
        files = []
        for did, occ in found:
            meta = docs.get(did)
            files.append(RepoFile(occ, meta.blob_id if meta else "", meta.language if meta else ""))
        licenses = sorted(b["key"] for b in resp["aggregations"]["licenses"]["buckets"])
        return RepoFiles(names[0], int(resp["hits"]["total"]["value"]), files, licenses)

    def owner(self, owner: str, limit: int = 100, offset: int = 0) -> OwnerRepos:
        """The repositories of ``owner`` by name (``offset + limit`` at most :data:`OWNER_WINDOW`); the
        total is the engine's ``cardinality``, exact up to 40,000 repositories."""
        if offset + limit > OWNER_WINDOW:
            raise InvalidInput(f"offset + limit is at most {OWNER_WINDOW} on a search engine")
        aggs = {
            "total": {"cardinality": {"field": "repo", "precision_threshold": 40000}},
            "repos": {
                "terms": {"field": "repo", "size": offset + limit, "order": {"_key": "asc"}},
                "aggs": {"licenses": {"terms": {"field": "lic", "size": 1000}}},
            },
        }
        resp = self._search({"size": 0, "query": em.owner_query(owner), "aggs": aggs})
        buckets = resp["aggregations"]["repos"]["buckets"][offset : offset + limit]
        repos = [
            OwnerRepo(b["key"], int(b["doc_count"]), sorted(x["key"] for x in b["licenses"]["buckets"]))
            for b in buckets
        ]
        return OwnerRepos(owner, int(resp["aggregations"]["total"]["value"]), repos)

    # -- opt-out -----------------------------------------------------------------------------------

    def optouts(self) -> dict[str, str]:
        hits = self._scan(em.kind_query("optout"), source=["repo", "added"], sort=[{"repo": "asc"}])
        return {h["_source"]["repo"]: h["_source"]["added"] for h in hits}

    def add_optout(self, repo: str, when: str) -> tuple[int, int]:
        if self._readonly:
            raise WhenceError("the store is open read-only")
        self._bulk([({"create": {"_id": f"x{repo}"}}, {"kind": "optout", "repo": repo, "added": when})])
        self.flush()  # every occurrence written so far is visible to the scan below
        hits = list(
            self._scan(
                em.optout_query(repo, OWNER_WILDCARD), source=["did"], sort=[{"did": "asc"}, {"seq": "asc"}]
            )
        )
        statuses = self._bulk([({"delete": {"_id": h["_id"]}}, None) for h in hits])
        removed = sum(s == 200 for s in statuses)
        self.flush()
        return removed, len(self._drop_orphans({int(h["_source"]["did"]) for h in hits}))

    def _drop_orphans(self, candidates: Iterable[int]) -> list[int]:
        """Delete the documents of ``candidates`` left without an occurrence (occurrences refreshed)."""
        dids = sorted(set(candidates))
        kept: set[int] = set()
        for i in range(0, len(dids), TERMS_PER_REQUEST):
            chunk = dids[i : i + TERMS_PER_REQUEST]
            agg = {"dids": {"terms": {"field": "did", "size": len(chunk)}}}
            resp = self._search(
                {"size": 0, "query": em.kind_query("occ", em.term_filter("did", chunk)), "aggs": agg}
            )
            kept.update(int(b["key"]) for b in resp["aggregations"]["dids"]["buckets"])
        orphans = [d for d in dids if d not in kept]
        self._delete([f"d{d}" for d in orphans])
        self.flush()
        return orphans

    # -- datasets and sources ----------------------------------------------------------------------

    def dataset_occurrences(self, dataset: str) -> Iterator[tuple[str, Occurrence]]:
        """Every occurrence recorded under ``dataset``: (its key for :meth:`remove_occurrences`, it)."""
        self.flush()
        query = em.kind_query("occ", {"term": {"ds": dataset}})
        for h in self._scan(query, source=["repo", "path", "rev"], sort=[{"did": "asc"}, {"seq": "asc"}]):
            src = h["_source"]
            yield h["_id"], Occurrence(src["repo"], src["path"], (), src.get("rev", ""), dataset=dataset)

    def remove_occurrences(self, keys: Sequence[str]) -> tuple[int, int]:
        """Remove occurrences by key (:meth:`dataset_occurrences`), and the documents left without one."""
        if self._readonly:
            raise WhenceError("the store is open read-only")
        dids: set[int] = set()
        removed = 0
        for i in range(0, len(keys), PAGE):
            chunk = list(keys[i : i + PAGE])
            dids.update(int(src["did"]) for src in self._mget_sources(chunk, ["did"]).values())
            removed += sum(s == 200 for s in self._bulk([({"delete": {"_id": k}}, None) for k in chunk]))
        self.flush()
        self._count = None
        return removed, len(self._drop_orphans(dids))

    def record_sources(
        self, records: Sequence[dict[str, Any]], *, replace_dataset: str | None = None
    ) -> None:
        """As :meth:`SQLiteStore.record_sources`: one ``kind=source`` object per location."""
        if self._readonly:
            raise WhenceError("the store is open read-only")
        if replace_dataset is not None:
            self.flush()
            query = em.kind_query("source", {"term": {"ds": replace_dataset}})
            old = list(self._scan(query, source=["ds"], sort=[{"seq": "asc"}]))
            self._bulk([({"delete": {"_id": h["_id"]}}, None) for h in old])
        ops = []
        for r in records:
            key = "s" + xxhash.xxh3_128_hexdigest(str(r["location"]).encode("utf-8", "surrogatepass"))
            self._seq += 1
            src = {"kind": "source", "ds": r.get("dataset") or "", "rec": r, "seq": self._seq}
            ops.append(({"index": {"_id": key}}, src))
        self._bulk(ops)
        self.flush()

    def sources(self) -> list[dict[str, Any]]:
        hits = self._scan(em.kind_query("source"), source=["rec"], sort=[{"seq": "asc"}])
        recs = [h["_source"]["rec"] for h in hits]
        return sorted(recs, key=lambda r: (r.get("dataset") or "", r.get("location") or ""))

    def remove_optout(self, repo: str) -> bool:
        if self._readonly:
            raise WhenceError("the store is open read-only")
        statuses = self._bulk([({"delete": {"_id": f"x{repo}"}}, None)])
        self.flush()
        return statuses[0] == 200

    def _count_of(self, kind: str) -> int:
        try:
            resp = self._driver.request("POST", f"/{self._read_index}/_count", {"query": em.kind_query(kind)})
        except EngineHTTPError as exc:
            raise self._unavailable("count", exc) from exc
        return int(resp["count"])

    def count_documents(self) -> int:
        now = time.monotonic()
        if self._count is None or now - self._count[0] > COUNT_TTL_S:
            self._count = (now, self._count_of("doc"))
        return self._count[1]

    def stats(self) -> dict[str, int | float | str]:
        aggs = {
            "bytes": {"sum": {"field": "len"}},
            "fingerprints": {"sum": {"field": "nfp"}},
            "occ": {
                "filter": {"term": {"kind": "occ"}},
                "aggs": {"repos": {"cardinality": {"field": "repo", "precision_threshold": 40000}}},
            },
        }
        resp = self._search({"size": 0, "track_total_hits": True, "aggs": aggs})
        docs = self._count_of("doc")
        occs = self._count_of("occ")
        try:
            store = self._get(f"/{self._read_index}/_stats/store,docs")
        except EngineHTTPError as exc:
            raise self._unavailable("read index stats", exc) from exc
        size = int(store["_all"]["primaries"]["store"]["size_in_bytes"])
        source_bytes = int(resp["aggregations"]["bytes"]["value"] or 0)
        return {
            "index": self.target.display,
            "store": "elastic",
            "engine": self._driver.engine,
            "client": self._driver.client,
            "physical_index": self._read_index,
            "shards": self._shards,
            "documents": docs,
            "occurrences": occs,
            "repositories": int(resp["aggregations"]["occ"]["repos"]["value"]),
            "source_bytes": source_bytes,
            "fingerprints": int(resp["aggregations"]["fingerprints"]["value"] or 0),
            "index_bytes": size,
            "index_bytes_per_source_byte": round(size / source_bytes, 3) if source_bytes else 0.0,
        }

    def close(self) -> None:
        """Release the connections.  Writes not yet refreshed stay durable and become searchable at the
        engine's next periodic refresh."""
        if self._senders is not None:
            self._senders.shutdown(wait=True)
        self._driver.close()
