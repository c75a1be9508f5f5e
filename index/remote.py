"""Fingerprint search: scan private code against a hosted index without sending the code.

``whence scan --remote URL`` fingerprints every file on the client and sends only what the candidate
step needs (``POST /v1/search/fingerprints``); the service answers with the candidates and their texts,
and the client aligns them itself, so the findings are those of a local scan of the same index::

    client                                              service
    file --prepare--> k-gram hashes (the ones looked up)
                      + MinHash LSH band keys
                      + the token count        ------>  postings of the hashes, band lookups,
                                                        candidates.rank per file (:func:`answer`)
    cover(prep, post, ranked)               <------     per file: the ranked candidates, their
    (alignment, verdicts, spans)                        postings and the common hashes; per
                                                        candidate: its text, metadata, occurrences

What is sent per file: its token count, the looked-up k-gram hashes (every k-gram of both views for a
file of at most :data:`whence.index.candidates.SHORT_QUERY_KGRAMS` k-grams, the winnowed ones of a longer
file) and, for a file of at least :data:`whence.index.candidates.LSH_MIN_TOKENS` tokens, its eight LSH band
keys.  No text, no line, no path, no token position: the positions stay on the client, where the greedy
cover uses them.  docs/ci.md says what the hashes can still reveal.

The wire format is JSON; arrays of 64-bit integers travel as base64 of their little-endian bytes (11
characters per hash instead of up to 20 digits).  Both ends live here: :func:`request_body` and
:func:`read_answer` for the client, :func:`read_request` and :func:`answer` for the service.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from whence.errors import AnswerTooLarge, InvalidInput, StoreUnavailable, WhenceError

from . import candidates
from . import cover as cov
from . import fingerprint as fp
from .model import Occurrence, StoredDoc
from .stores.base import Fetched, Postings, StoreReader

#: Most files one request may carry.
MAX_FILES = 1024
#: Most tokens a file may claim (a 1 MiB file has far fewer).
MAX_TOKENS = 1 << 22
#: Most bytes of candidate texts one answer holds when it answers more than one file (one file is always
#: answered: at most MAX_CANDIDATES texts).
MAX_ANSWER_TEXT_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class FileQuery:
    """What a client sends for one file: its token count, looked-up hashes and LSH band keys."""

    tokens: int
    hashes: npt.NDArray[np.uint64]
    bands: tuple[int, ...] = ()

    @classmethod
    def of(cls, prep: cov.Prepared) -> FileQuery:
        """The query of a prepared file (:func:`whence.index.cover.prepare`)."""
        return cls(len(prep.tokens), prep.lookup, tuple(candidates.band_keys(len(prep.tokens), prep.exact)))


@dataclass(frozen=True, slots=True)
class FileAnswer:
    """What the service answers for one file: the candidates to align, best first, their postings (as
    :func:`whence.index.cover.rank_candidates` left them) and the common hashes."""

    ranked: list[int]
    post: Postings


def encode(values: npt.NDArray[Any] | Sequence[int]) -> str:
    """64-bit integers as base64 of their little-endian bytes."""
    arr = np.asarray(values, dtype=np.int64) if not isinstance(values, np.ndarray) else values
    return base64.b64encode(np.ascontiguousarray(arr).astype("<i8", copy=False).tobytes()).decode("ascii")


def decode(text: object, what: str, most: int) -> npt.NDArray[np.int64]:
    """The 64-bit integers of :func:`encode` (at most ``most``).  Raises :class:`InvalidInput` naming
    ``what``."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what}: expected a base64 string of 64-bit little-endian integers")
    if len(text) > 4 * (8 * most + 2) // 3 + 4:
        raise InvalidInput(f"{what}: more than {most} values")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidInput(f"{what}: not base64 ({exc})") from exc
    if len(raw) % 8:
        raise InvalidInput(f"{what}: {len(raw)} bytes, not a whole number of 64-bit integers")
    return np.frombuffer(raw, dtype="<i8").astype(np.int64)


def request_body(files: Sequence[FileQuery]) -> dict[str, Any]:
    """The JSON body of ``POST /v1/search/fingerprints`` for these files."""
    return {
        "files": [
            {"tokens": f.tokens, "hashes": encode(f.hashes.view(np.int64)), "bands": encode(list(f.bands))}
            for f in files
        ]
    }


def most_hashes(tokens: int) -> int:
    """Most hashes a file of ``tokens`` tokens looks up: every k-gram of both views."""
    return 2 * max(0, tokens - fp.K + 1)


def read_request(body: Mapping[str, Any]) -> list[FileQuery]:
    """The files of a request body (already shaped by the service's model; checked again here).

    Raises:
        InvalidInput: a file whose hashes are not base64 of 64-bit integers, more hashes than its token
            count allows, or band keys where it has too few tokens.  The message names the field
            (``files.3.hashes``).
    """
    files = body.get("files")
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise InvalidInput(f"files: expected a list of at most {MAX_FILES} files")
    out = []
    for i, f in enumerate(files):
        tokens = f.get("tokens") if isinstance(f, dict) else None
        if not isinstance(tokens, int) or isinstance(tokens, bool) or not 0 <= tokens <= MAX_TOKENS:
            raise InvalidInput(f"files.{i}.tokens: expected a count from 0 to {MAX_TOKENS}")
        hashes = decode(f.get("hashes", ""), f"files.{i}.hashes", most_hashes(tokens))
        if len(hashes) > most_hashes(tokens):
            raise InvalidInput(
                f"files.{i}.hashes: {len(hashes)} hashes, more than a file of {tokens} tokens has k-grams"
            )
        bands = decode(f.get("bands", ""), f"files.{i}.bands", fp.BANDS)
        if len(bands) not in (0, fp.BANDS) or (len(bands) and tokens < candidates.LSH_MIN_TOKENS):
            raise InvalidInput(
                f"files.{i}.bands: {fp.BANDS} band keys, and only for a file of at least "
                f"{candidates.LSH_MIN_TOKENS} tokens"
            )
        out.append(FileQuery(tokens, hashes.view(np.uint64), tuple(bands.tolist())))
    return out


def answer(
    store: StoreReader, files: Sequence[FileQuery], max_text_bytes: int | None = None
) -> dict[str, Any]:
    """The service's answer to a fingerprint search: per file, the candidates
    :func:`whence.index.cover.cover` aligns (found as a local scan finds them: the postings of every
    file's hashes looked up together, the same boilerplate cap, LSH bands, votes and ranking), their
    postings and the file's common hashes; per candidate, its text, metadata and occurrences.

    Raises:
        AnswerTooLarge: more than one file, and their candidates' texts add up to more than
            ``max_text_bytes`` (default :data:`MAX_ANSWER_TEXT_BYTES`; checked on the stored sizes,
            before any text is read).
    """
    if max_text_bytes is None:
        max_text_bytes = MAX_ANSWER_TEXT_BYTES
    documents, cap = cov.cap_for(store)
    parts = [f.hashes.view(np.int64) for f in files if len(f.hashes)]
    if parts:
        union = np.unique(np.concatenate(parts))
        found = store.postings(union, cap)
        order = np.argsort(found.hashes, kind="stable")
        batch = cov.BatchPostings(found.hashes[order], found.docs[order], np.sort(found.common))
    else:
        empty = np.zeros(0, dtype=np.int64)
        batch = cov.BatchPostings(empty, empty, empty)
    out_files: list[dict[str, Any]] = []
    wanted: set[int] = set()
    for f in files:
        if len(f.hashes) == 0:
            out_files.append({"candidates": [], "hashes": "", "docs": "", "common": ""})
            continue
        bands = store.band_docs(list(f.bands)) if f.bands else set()
        post, ranked = cov.rank_candidates(store, f.hashes, batch.slice(f.hashes), bands)
        keep = np.isin(post.docs, np.asarray(ranked, dtype=np.int64))
        wanted.update(ranked)
        out_files.append({
            "candidates": ranked,
            "hashes": encode(post.hashes[keep]),
            "docs": encode(post.docs[keep]),
            "common": encode(post.common),
        })  # fmt: skip
    ids = sorted(wanted)
    if len(files) > 1 and ids:
        size = sum(d.length_bytes for d in store.documents(ids).values())
        if size > max_text_bytes:
            raise AnswerTooLarge(
                f"files: the candidates of these {len(files)} files hold {size} bytes of text, more than one"
                f" answer holds ({max_text_bytes}); send fewer files at once"
            )
    fetched = store.fetch(ids)
    need = [d for d in ids if d in fetched and fetched[d].occurrences is None]
    occ = store.occurrences(need) if need else {}
    sources: dict[str, Any] = {}
    for d in ids:
        got = fetched.get(d)
        if got is None:  # removed (an opt-out) since its postings were read: the client skips it
            continue
        occurrences = got.occurrences if got.occurrences is not None else occ.get(d, [])
        sources[str(d)] = {
            "text": got.text.decode("utf-8", "replace"),
            "language": got.doc.language,
            "blob_id": got.doc.blob_id,
            "lines": got.doc.lines,
            "tokens": got.doc.tokens,
            "length_bytes": got.doc.length_bytes,
            "occurrences": [
                {"repo": o.repo, "path": o.path, "licenses": list(o.licenses), "revision": o.revision,
                 "url": o.url}
                for o in occurrences
            ],
        }  # fmt: skip
    return {"documents": documents, "files": out_files, "sources": sources}


def read_answer(body: object, files: int) -> tuple[list[FileAnswer], dict[int, Fetched]]:
    """A service's answer to :func:`request_body` of ``files`` files: per file its candidates, and the
    candidates' texts and metadata.

    Raises:
        StoreUnavailable: the answer is not one (another service, a proxy's error page, a mismatch).
    """
    try:
        if not isinstance(body, dict) or not isinstance(body.get("files"), list):
            raise InvalidInput("no 'files' list")
        if len(body["files"]) != files:
            raise InvalidInput(f"{len(body['files'])} files answered, {files} asked")
        sources: dict[int, Fetched] = {}
        for key, s in dict(body.get("sources") or {}).items():
            d = int(key)
            occ = [
                Occurrence(str(o["repo"]), str(o["path"]), tuple(str(x) for x in o["licenses"]),
                           str(o["revision"]), str(o["url"]))
                for o in s["occurrences"]
            ]  # fmt: skip
            doc = StoredDoc(d, str(s["blob_id"]), str(s["language"]), int(s["lines"]), int(s["tokens"]),
                            int(s["length_bytes"]))  # fmt: skip
            sources[d] = Fetched(doc, str(s["text"]).encode("utf-8", "replace"), occ)
        out = []
        for i, f in enumerate(body["files"]):
            ranked = [int(d) for d in f["candidates"]]
            hashes = decode(f["hashes"], f"files.{i}.hashes", 1 << 26)
            docs = decode(f["docs"], f"files.{i}.docs", 1 << 26)
            common = decode(f["common"], f"files.{i}.common", 1 << 26)
            if len(hashes) != len(docs):
                raise InvalidInput(f"files.{i}: {len(hashes)} hashes and {len(docs)} documents")
            out.append(FileAnswer(ranked, Postings(hashes, docs, np.sort(common))))
    except (InvalidInput, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreUnavailable(f"the service's answer is not a fingerprint search's answer ({exc})") from exc
    return out, sources


class Received(StoreReader):
    """The candidates a service sent (:func:`read_answer`), read like an index: what
    :func:`whence.index.cover.cover` and the copyright lines of a notice read of the origins.  It holds
    no postings: a fingerprint search's candidates come ranked."""

    def __init__(self, docs: Mapping[int, Fetched] | None = None) -> None:
        self.docs: dict[int, Fetched] = dict(docs or {})

    def postings(
        self,
        hashes: npt.NDArray[np.int64],
        cap: int,
        band_keys: Sequence[int] = (),
        *,
        budget: int | None = None,
    ) -> Postings:
        raise WhenceError("the documents a service sent hold no postings")

    def band_docs(self, keys: Sequence[int]) -> set[int]:
        raise WhenceError("the documents a service sent hold no LSH bands")

    def documents(self, ids: Sequence[int]) -> dict[int, StoredDoc]:
        return {i: self.docs[i].doc for i in ids if i in self.docs}

    def text(self, doc_id: int) -> bytes:
        return self.docs[doc_id].text

    def fetch(self, ids: Sequence[int]) -> dict[int, Fetched]:
        return {i: self.docs[i] for i in ids if i in self.docs}

    def occurrences(self, ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        return {i: list(self.docs[i].occurrences or []) if i in self.docs else [] for i in ids}

    def count_documents(self) -> int:
        return len(self.docs)

    def stats(self) -> dict[str, int | float | str]:
        return {
            "documents": len(self.docs),
            "occurrences": sum(len(f.occurrences or []) for f in self.docs.values()),
        }

    def close(self) -> None:
        self.docs.clear()
