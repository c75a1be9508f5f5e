"""Index settings, mappings and queries of the ``elastic`` store, as plain dicts.

Elasticsearch 8/9 and OpenSearch 2/3 speak the same REST dialect for everything here, so both drivers
send these very dicts.  Layout (one index behind an alias; every whence object is one engine document,
told apart by ``kind``)::

    kind=doc   _id "d<id>"   did, ch, blob, lang, len, lines, tokens, nfp, sig, tz (text before)
                             (+ fp, bands: indexed, not in _source)
    kind=occ   _id "o<key>"  did, repo, path, rev, lic, licj, url, seq
    kind=optout _id "x<repo>" repo, added   (repositories kept out of the index)
    kind=blob  _id "b<blob_id>" did, ch     (a shard row's blob id -> its document: known before fetching)
    kind=source _id "s<key>" ds, rec        (what the index was built from: whence index stats)

Why this shape (see docs/elastic.md for the measurements behind it):

* ``fp`` holds a document's winnowed fingerprint hashes as ``keyword`` terms (11 base64 characters), not
  ``long``: the search is a set of exact-value lookups, which the inverted index's term dictionary answers
  directly, while numeric fields are indexed as points (BKD trees) built for ranges.  Only the postings
  are kept (``index_options: docs``: no frequencies, no positions, no norms, no doc values): positions
  are not needed because search re-tokenises the few candidate documents it aligns, exactly as with the
  SQLite store, which also makes the spans token-exact on both stores.
* ``fp`` and ``bands`` are indexed but left out of ``_source``: they are most of a document's size and
  are never read back.  The price is that ``_reindex`` cannot rebuild them; a rebuild re-ingests from
  the sources into a new index and swaps the alias (:meth:`ElasticStore.swap_alias`).
* The document id ``did`` is derived from the content hash, so every writer (``--worker i/N`` jobs on
  several machines) agrees on it without coordination, and ``create`` makes a second write of a content
  a no-op: reruns and concurrent workers cannot duplicate a document.  Occurrences are keyed by a hash
  of (document, repo, path, revision) for the same reason.
* ``tz`` is the content: base64 of the zstd frame the build already made, only in ``_source`` (not
  indexed), read back with the candidates' metadata in the same round trip.  Until issue 17 it was
  ``text``, the content as plain text under the ``best_compression`` codec (the same size on disk as
  base64 of zstd, measured on 1,414 files: 15 MB either way); but the engine parses every document's
  source twice (the document, then the ``_source`` filter that drops ``fp`` and ``bands``), writes it
  again and compresses it, and a third of the bytes made a build's engine CPU a quarter smaller
  (docs/elastic.md, "Ingest").  Indexes written before keep their ``text`` documents, which are read
  as before; new documents beside them hold ``tz``.
"""

from __future__ import annotations

from typing import Any

#: Bumped when the layout changes; an index of another version is refused (rebuild it), except those of
#: :data:`READABLE_LAYOUTS`.
LAYOUT_VERSION = 6
#: Layouts this whence still searches and writes: 5 holds ``fp`` as a ``keyword`` list (6 as one
#: whitespace-separated string in a ``text`` field: the same terms, answered by the same queries).
READABLE_LAYOUTS = ("5", "6")

_KW_NOT_INDEXED = {"type": "keyword", "index": False, "doc_values": False}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_source": {"excludes": ["fp", "bands"]},
    "properties": {
        "kind": {"type": "keyword"},
        "did": {"type": "long"},
        # documents
        "ch": {"type": "keyword", "doc_values": False},
        "blob": _KW_NOT_INDEXED,
        "lang": {"type": "keyword"},
        "len": {"type": "long"},
        "lines": {"type": "integer", "index": False},
        "tokens": {"type": "integer", "index": False},
        "nfp": {"type": "integer", "index": False},  # fingerprints held: summed by stats
        "sig": {"type": "binary"},
        "text": _KW_NOT_INDEXED,  # the content as text: documents written before tz
        "tz": {"type": "binary"},  # the content: base64 of its zstd frame, only in _source
        # One string of space-separated keys, split by the whitespace analyzer into exactly the terms a
        # keyword list gives (layout 5): one JSON value to parse instead of a few hundred.
        "fp": {"type": "text", "analyzer": "whitespace", "norms": False, "index_options": "docs"},
        "bands": {"type": "keyword", "doc_values": False, "norms": False, "index_options": "docs"},
        # occurrences
        "repo": {"type": "keyword"},
        # Not searched, but read from doc values (no stored-field block to decompress per hit) and
        # sorted on (a repository's files by path, Store.repository).
        "path": {"type": "keyword", "index": False},
        "rev": {"type": "keyword", "index": False},
        "lic": {"type": "keyword"},  # searchable, but doc values sort and dedupe: see licj
        "licj": {"type": "keyword", "index": False},  # the licenses in their order, as JSON
        "url": {"type": "keyword", "index": False},
        "seq": {"type": "long"},
        "ds": {"type": "keyword"},  # the dataset an occurrence (or a source) belongs to
        # opted-out repositories (kind=optout, _id "x<repo>")
        "added": {"type": "keyword", "index": False},
        # recorded sources (kind=source): kept as they are, never searched
        "rec": {"type": "object", "enabled": False},
    },
}
#: Fields added to the layout after indexes of it were built: an index opened for writing gains them
#: (adding fields to a mapping is allowed in place; nothing else changes).
ADDED_FIELDS = ("ds", "rec", "tz")


def index_body(
    shards: int, replicas: int | None, meta: dict[str, str], texts: str = "small"
) -> dict[str, Any]:
    """Settings and mappings of a new physical index.

    Args:
        shards: primary shards (fixed for the life of the index: see docs/elastic.md for sizing).
        replicas: replica count; ``None`` lets the cluster use one replica when it has a second node.
        meta: the fingerprint parameters the index is built with (checked on every open).
        texts: ``small`` stores texts under ``best_compression`` (DEFLATE); ``fast`` under the default
            LZ4, about 1.5 times the size and cheaper to read (docs/elastic.md).
    """
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        # Refreshing makes new segments searchable; the store refreshes explicitly at flush(), so the
        # periodic refresh only needs to bound how stale a reader beside a running build can be.
        "refresh_interval": "30s",
    }
    if texts == "small":  # DEFLATE on the stored texts: about 40% smaller than LZ4 (docs/elastic.md)
        settings["codec"] = "best_compression"
    settings |= replica_settings(replicas)
    return {"settings": {"index": settings}, "mappings": {**MAPPINGS, "_meta": meta}}


def replica_settings(replicas: int | None) -> dict[str, Any]:
    """The index settings of a target's replica count: ``None`` lets the cluster use one replica when it
    has a second node."""
    if replicas is None:
        return {"auto_expand_replicas": "0-1"}
    return {"auto_expand_replicas": "false", "number_of_replicas": replicas}


def repository_query(repo: str) -> dict[str, Any]:
    """Occurrences in a repository, its name compared case-insensitively."""
    return kind_query("occ", {"term": {"repo": {"value": repo, "case_insensitive": True}}})


def owner_query(owner: str) -> dict[str, Any]:
    """Occurrences in any repository of ``owner`` (``owner/...``), compared case-insensitively."""
    return kind_query("occ", {"prefix": {"repo": {"value": owner + "/", "case_insensitive": True}}})


def optout_query(entry: str, wildcard: str) -> dict[str, Any]:
    """Occurrences an opt-out entry covers: one repository, or every repository of an owner
    (``owner`` + ``wildcard``)."""
    if entry.endswith(wildcard):
        return owner_query(entry[: -len(wildcard)])
    return repository_query(entry)


def term_filter(field: str, values: list[str] | list[int]) -> dict[str, Any]:
    """A non-scoring ``terms`` filter."""
    return {"terms": {field: values}}


def kind_query(kind: str, *filters: dict[str, Any]) -> dict[str, Any]:
    """Objects of one kind matching every filter (filter context: no scoring, cacheable)."""
    return {"bool": {"filter": [{"term": {"kind": kind}}, *filters]}}


def postings_query(keys: list[str]) -> dict[str, Any]:
    """Documents holding any of these fingerprint terms, each term named so that every hit reports
    which of them it holds (``matched_queries``): that gives the (hash, document) pairs."""
    should = [{"term": {"fp": {"value": k, "_name": k}}} for k in keys]
    return {"bool": {"should": should, "minimum_should_match": 1, "filter": [{"term": {"kind": "doc"}}]}}


def term_statistics(keys: list[str]) -> dict[str, Any]:
    """A ``_termvectors`` request on an artificial document holding ``keys``: the document frequency of
    each key comes straight from the term dictionary, without visiting any posting."""
    return {
        "doc": {"fp": keys},
        "fields": ["fp"],
        "term_statistics": True,
        "field_statistics": False,
        "positions": False,
        "offsets": False,
        "payloads": False,
    }
