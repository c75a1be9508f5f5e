"""One contract for every store, run against a real SQLite file, a real OpenSearch node and a real
Elasticsearch node.

The nodes are started by ``scripts/search-engine`` (see tests/engine.py): nothing here is mocked and
nothing is skipped.  The comparison tests build the same corpus into SQLite and into each engine and
require the same answers, spans included: three stores, one set of answers.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whence.errors import IndexFormatError, IndexNotFound, WhenceError
from whence.index import fingerprint as fp
from whence.index import ingest, search
from whence.index.model import Occurrence
from whence.index.stores import open_store
from whence.index.stores.base import WriteResult
from whence.index.stores.elastic import ElasticStore, _key, _keys, _keys_joined, _unkey, doc_id

from .engine import ENGINES, Nodes, drop_indices, engine_version, http
from .mutations import crlf, reindent, rename, strip_comments

KINDS = ["sqlite", *ENGINES]


def _target(kind: str, tmp: Path, nodes: Nodes) -> str:
    if kind == "sqlite":
        return str(tmp / f"{uuid.uuid4().hex[:8]}.sqlite")
    return f"{nodes.url(kind)}/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def fresh(request: pytest.FixtureRequest, tmp_path: Path, engine_nodes: Nodes) -> Iterator[str]:
    """An empty target of the parametrised kind (its engine index is deleted afterwards)."""
    target = _target(request.param, tmp_path, engine_nodes)
    yield target
    if request.param != "sqlite":
        drop_indices(engine_nodes.url(request.param), target.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def twin_corpus(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared corpus plus a fork that copies two of its files: contents seen in two repositories."""
    fork = tmp_path_factory.mktemp("fork") / "fork"
    fork.mkdir()
    shutil.copy(corpus / "heapq.py", fork / "heapq.py")
    shutil.copy(corpus / "textwrap.py", fork / "wrap.py")
    return fork


def _build(target: str, corpus: Path, fork: Path) -> None:
    with open_store(target, create=True) as store:
        ingest.build(store, ingest.sources([corpus], repo="python/cpython", licenses=["PSF-2.0"]), workers=2)
        ingest.build(store, ingest.sources([fork], repo="someone/fork", licenses=["MIT"]), workers=2)


@pytest.fixture(scope="session")
def lite(corpus: Path, twin_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The corpus and its fork built into a SQLite file (once: every engine is compared with it)."""
    target = str(tmp_path_factory.mktemp("lite") / "both.sqlite")
    _build(target, corpus, twin_corpus)
    return target


@pytest.fixture(scope="session")
def both(lite: str, corpus: Path, twin_corpus: Path, engine_url: str) -> Iterator[dict[str, str]]:
    """The same corpus built into a SQLite file and into an index on the engine of this run."""
    target = f"{engine_url}/test-{uuid.uuid4().hex[:12]}"
    _build(target, corpus, twin_corpus)
    yield {"sqlite": lite, "elastic": target}
    drop_indices(engine_url, target.rsplit("/", 1)[1])


def _folder(root: Path, *files: Path) -> Path:
    """A folder holding copies of ``files`` (a source is a folder or a JSONL file)."""
    root.mkdir()
    for f in files:
        shutil.copy(f, root / f.name)
    return root


def _lines(path: Path, first: int, last: int) -> str:
    return "".join(path.read_text().splitlines(keepends=True)[first - 1 : last])


def _queries(corpus: Path) -> dict[str, str]:
    """Queries of every shape search distinguishes: short and long fragments, whole files (LSH bands),
    edited copies, code found in two repositories, and code that is in no indexed file."""
    unrelated = Path(search.__file__).read_text()
    hsv = (corpus / "colorsys.py").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(hsv) if "i = int(h*6.0)" in line)
    return {
        "fragment": _lines(corpus / "difflib.py", 410, 445),
        "short": _lines(corpus / "bisect.py", 20, 30),
        "long": _lines(corpus / "argparse.py", 1100, 1400),
        "whole-file": (corpus / "colorsys.py").read_text(),
        "forked": _lines(corpus / "heapq.py", 200, 260),
        "forked-whole": (corpus / "textwrap.py").read_text(),
        "renamed": rename(_lines(corpus / "statistics.py", 300, 360)),
        "rare": "".join(hsv[at : at + 3]),  # 26 tokens: a short query's rare run
        "renamed-short": rename("".join(hsv[at : at + 2])),  # 17 tokens, in a shape one file has
        "reindented": reindent(_lines(corpus / "calendar.py", 100, 150)),
        "no-comments": strip_comments(_lines(corpus / "fractions.py", 100, 180)),
        "crlf": crlf(_lines(corpus / "shlex.py", 30, 90)),
        "package": _lines(corpus / "json" / "decoder.py", 1, 120),
        "unrelated": unrelated[:4000],
    }


def _canonical(result: dict[str, Any]) -> dict[str, Any]:
    """A result with its matches in a canonical order: equal-ranked matches are ordered by document id,
    and ids are store-specific (insertion order in SQLite, content-derived in the engine)."""
    matches = sorted(result["matches"], key=lambda m: (-m["matched_tokens"], m["verdict"], repr(m)))
    return {**result, "matches": matches}


def test_same_corpus_and_query_give_the_same_matches_and_spans(both: dict[str, str], corpus: Path) -> None:
    stores = {kind: open_store(target, readonly=True) for kind, target in both.items()}
    try:
        verdicts, evidence = set(), set()
        for name, code in _queries(corpus).items():
            lite = search.search(stores["sqlite"], code, top=10).as_dict()
            engine = search.search(stores["elastic"], code, top=10).as_dict()
            assert _canonical(engine) == _canonical(lite), name
            verdicts.add(lite["verdict"])
            evidence |= {m["evidence"] for m in lite["matches"][:1]}
        # The comparison covered every verdict, not just empty answers, and the rules that read the
        # document counts of a short query's k-grams (which each store gives its own way).
        assert verdicts == {"verbatim", "near-duplicate", "none"}
        assert {"short-rare-run", "short-unique-renamed"} <= evidence, evidence
    finally:
        for s in stores.values():
            s.close()


def test_same_counts_and_occurrences(both: dict[str, str], corpus: Path) -> None:
    with (
        open_store(both["sqlite"], readonly=True) as lite,
        open_store(both["elastic"], readonly=True) as engine,
    ):
        a, b = lite.stats(), engine.stats()
        for key in ("documents", "occurrences", "repositories", "source_bytes", "fingerprints"):
            assert a[key] == b[key], key
        assert lite.count_documents() == engine.count_documents() == a["documents"]
        res = search.search(engine, (corpus / "heapq.py").read_text(), top=3)
        repos = [o.repo for o in res.matches[0].occurrences]
        assert repos == ["python/cpython", "someone/fork"]  # insertion order, as in SQLite


def test_same_postings_and_band_documents(both: dict[str, str], corpus: Path) -> None:
    """Store-level: the (hash, document) pairs and boilerplate hashes of a query, documents named by
    their content so that the two stores' ids can be compared."""
    code = (corpus / "textwrap.py").read_bytes()
    f = fp.index_fingerprint(code)
    probe = np.concatenate((f.hashes, np.array([123456789], dtype=np.int64)))  # one hash nowhere
    answers = []
    for target in (both["sqlite"], both["elastic"]):
        with open_store(target, readonly=True) as s:
            for cap in (1, 64):
                post = s.postings(probe, cap)
                ids = np.unique(post.docs).tolist()
                by_id = {d: s.text(d) for d in ids}
                pairs = sorted(
                    (h, by_id[d]) for h, d in zip(post.hashes.tolist(), post.docs.tolist(), strict=True)
                )
                bands = sorted(s.text(d) for d in s.band_docs(f.bands()))
                answers.append((cap, pairs, post.common.tolist(), bands))
    half = len(answers) // 2
    assert answers[:half] == answers[half:]
    cap1, cap64 = answers[0], answers[1]
    assert cap1[2] and cap1[1] != cap64[1]  # cap 1: hashes shared by the fork are boilerplate
    assert code in cap64[3]


def test_postings_with_band_keys_and_fetch_agree_with_the_single_reads(
    both: dict[str, str], corpus: Path
) -> None:
    """``postings(..., band_keys)`` answers what ``postings`` and ``band_docs`` answer apart, and
    ``fetch`` what ``documents``, ``text`` and ``occurrences`` answer (occurrences when it has them),
    leaving out ids that name no document; the same in both stores, documents named by their content."""
    files = [
        fp.index_fingerprint((corpus / n).read_bytes()) for n in ("heapq.py", "textwrap.py", "bisect.py")
    ]
    hashes, bands = np.concatenate([x.hashes for x in files]), files[0].bands()
    answers = []
    for target in (both["sqlite"], both["elastic"]):
        with open_store(target, readonly=True) as s:
            alone = s.postings(hashes, 64)
            post = s.postings(hashes, 64, bands)
            assert post.band_docs.tolist() == sorted(s.band_docs(bands))
            assert [a.tolist() for a in (post.hashes, post.docs, post.common)] == [
                a.tolist() for a in (alone.hashes, alone.docs, alone.common)
            ]
            assert not len(alone.band_docs)
            ids = sorted(set(post.docs.tolist()) | set(post.band_docs.tolist()))
            assert len(ids) >= 3
            fetched = s.fetch([*ids, -1])
            assert sorted(fetched) == ids
            docs, occs = s.documents(ids), s.occurrences(ids)
            for d, got in fetched.items():
                assert (got.doc, got.text) == (docs[d], s.text(d))
                assert got.occurrences is None or got.occurrences == occs[d]
            answers.append(sorted((got.text, got.doc.blob_id, occs[d]) for d, got in fetched.items()))
            assert s.fetch([]) == {}
    assert answers[0] == answers[1]


def test_same_signatures(both: dict[str, str], corpus: Path) -> None:
    """``signatures`` gives each document's MinHash signature as ingestion made it, the same in both
    stores (documents named by their content), leaving out ids that name no document."""
    answers = []
    for target in (both["sqlite"], both["elastic"]):
        with open_store(target, readonly=True) as s:
            f = fp.index_fingerprint((corpus / "heapq.py").read_bytes(), "Python")
            ids = sorted(set(s.postings(f.hashes, 64).docs.tolist()))
            assert len(ids) >= 2  # heapq.py and its fork's copy are one content: other files share some
            sigs = s.signatures([*ids, -1])
            assert sorted(sigs) == ids
            for d, sig in sigs.items():
                text = s.text(d)
                language = s.documents([d])[d].language or None
                assert sig.dtype == np.uint32
                assert sig.tolist() == fp.index_fingerprint(text, language).signature.tolist()
            assert s.signatures([]) == {}
            answers.append(sorted((s.text(d), sig.tolist()) for d, sig in sigs.items()))
    assert answers[0] == answers[1]


@pytest.mark.parametrize("fresh", KINDS, indirect=True)
def test_add_is_idempotent_and_keeps_occurrences(fresh: str, corpus: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "two", corpus / "bisect.py", corpus / "heapq.py")
    files = list(ingest.sources([folder], repo="a/b", licenses=["MIT"]))
    prepared = [ingest.prepare(f, set()) for f in files]
    docs = [p.doc for p in prepared if p.doc is not None]
    with open_store(fresh, create=True) as s:
        first = s.add(docs)
        again = s.add(docs)
        s.flush()
        assert (first.documents, first.occurrences) == (2, 2)
        assert (again.documents, again.occurrences) == (0, 0)
        hashes = [d.content_hash for d in docs]
        assert s.known([*hashes, b"\x00" * 16]) == set(hashes)
        extra = Occurrence("c/d", "lib/bisect.py", ("Apache-2.0",), "abc", "https://example.test/bisect.py")
        assert s.add_occurrences([(hashes[0], extra)]) == 1
        assert s.add_occurrences([(hashes[0], extra)]) == 0
        s.flush()
        assert s.count_documents() == 2
        assert s.stats()["occurrences"] == 3
        res = search.search(s, (corpus / "bisect.py").read_text())
        assert res.verdict == "verbatim"
        assert res.matches[0].occurrences[-1] == extra
        meta = s.documents([res.matches[0].doc_id])[res.matches[0].doc_id]
        assert (meta.language, meta.length_bytes) == ("Python", len((corpus / "bisect.py").read_bytes()))


@pytest.mark.parametrize("fresh", KINDS, indirect=True)
def test_a_write_session_flushes_when_it_ends(fresh: str, corpus: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "one", corpus / "bisect.py")
    docs = [p.doc for p in (ingest.prepare(f, set()) for f in ingest.sources([folder], repo="a/b")) if p.doc]
    with open_store(fresh, create=True) as s:
        with s.writer(commit_every=1_000_000) as w:
            assert w.add(docs).documents == 1
        with open_store(fresh, readonly=True) as reader:
            assert reader.count_documents() == 1
        with pytest.raises(RuntimeError, match="stop"), s.writer() as w:
            raise RuntimeError("stop")


@pytest.mark.parametrize("fresh", KINDS, indirect=True)
def test_missing_index_is_not_found(fresh: str) -> None:
    with pytest.raises(IndexNotFound):
        open_store(fresh, readonly=True)


def test_engine_refuses_an_index_built_with_other_parameters(engine_index: str) -> None:
    base, name = engine_index.rsplit("/", 1)
    open_store(engine_index, create=True).close()
    mapping = http("GET", f"{base}/{name}/_mapping")
    physical = next(iter(mapping))
    http(
        "PUT", f"{base}/{physical}/_mapping", {"_meta": {**mapping[physical]["mappings"]["_meta"], "k": "99"}}
    )
    with pytest.raises(IndexFormatError, match="k='99'"):
        open_store(engine_index, readonly=True)


def test_engine_refuses_an_index_of_a_layout_it_no_longer_reads(engine_index: str) -> None:
    """A new index is of layout 6 (``fp`` one string in a ``text`` field); 5 is still read and written
    (tests/test_engine_cli.py), anything else is refused with the command that rebuilds it."""
    base, name = engine_index.rsplit("/", 1)
    open_store(engine_index, create=True).close()
    mapping = http("GET", f"{base}/{name}/_mapping")
    physical = next(iter(mapping))
    mappings = mapping[physical]["mappings"]
    assert mappings["_meta"]["layout"] == "6"
    assert mappings["properties"]["fp"]["type"] == "text"
    http("PUT", f"{base}/{physical}/_mapping", {"_meta": {**mappings["_meta"], "layout": "4"}})
    with pytest.raises(IndexFormatError, match=r"layout='4', this whence uses '6'.*index build --rebuild"):
        open_store(engine_index, readonly=True)


def test_engine_refuses_a_plain_index_of_the_same_name(engine_url: str) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}-v0"
    http("PUT", f"{engine_url}/{name}", {})
    try:
        with pytest.raises(IndexFormatError, match="not a whence alias"):
            open_store(f"{engine_url}/{name}", create=True)
    finally:
        http("DELETE", f"{engine_url}/{name}")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9200/Upper", "http://127.0.0.1:9200/a/b", "http://127.0.0.1:9200/x?shards=0",
     "http://127.0.0.1:9200/x?colour=red", "https://:9200/x"],
)  # fmt: skip
def test_bad_engine_targets_are_named(url: str) -> None:
    with pytest.raises(WhenceError, match=r"index name|shards|unknown parameter|http"):
        open_store(url, readonly=True)


def test_rebuild_swaps_the_alias_without_a_gap(engine_index: str, corpus: Path, tmp_path: Path) -> None:
    base, name = engine_index.rsplit("/", 1)
    with open_store(engine_index, create=True) as s:
        ingest.build(s, ingest.sources([corpus / "json"], repo="python/cpython"), workers=2)
    reader = open_store(engine_index, readonly=True)
    code = (corpus / "bisect.py").read_text()
    assert search.search(reader, code).verdict == "none"
    with open_store(engine_index, create=True) as s:
        s.add_optout("someone/gone", "2026-11-27")
    store = open_store(engine_index, create=True, rebuild=True)
    try:
        assert store.optouts() == {"someone/gone": "2026-11-27"}  # carried into the new index
        ingest.build(
            store,
            ingest.sources([_folder(tmp_path / "b", corpus / "bisect.py")], repo="python/cpython"),
            workers=2,
        )
        # Until the swap, readers still see the old index.
        assert search.search(open_store(engine_index, readonly=True), code).verdict == "none"
        # The build put back the periodic refresh and a translog synced on every request; the new
        # index has no replica until it is published.
        index = http("GET", f"{base}/{name}-v2/_settings")[f"{name}-v2"]["settings"]["index"]
        assert (index["refresh_interval"], index["translog"]["durability"]) == ("30s", "request")
        assert (index["auto_expand_replicas"], index["number_of_replicas"]) == ("false", "0")
        assert isinstance(store, ElasticStore)
        store.swap_alias()
    finally:
        store.close()
    # Published with the replicas the target asks for (none given: one when a second node joins).
    index = http("GET", f"{base}/{name}-v2/_settings")[f"{name}-v2"]["settings"]["index"]
    assert index["auto_expand_replicas"] == "0-1"
    after = open_store(engine_index, readonly=True)
    assert search.search(after, code).verdict == "verbatim"
    assert after.stats()["physical_index"] == f"{name}-v2"
    assert [r["index"] for r in http("GET", f"{base}/_cat/indices/{name}-v*?format=json")] == [f"{name}-v2"]
    reader.close()
    after.close()


def test_engine_takes_the_next_id_when_two_contents_collide(
    engine_index: str, corpus: Path, tmp_path: Path
) -> None:
    """Ids are 63 bits of the content hash: a collision is simulated by storing another content under the
    id of ``bisect.py`` first; the real one must land on its next candidate and stay findable."""
    folder = _folder(tmp_path / "one", corpus / "bisect.py")
    doc = next(
        p.doc for p in (ingest.prepare(f, set()) for f in ingest.sources([folder], repo="a/b")) if p.doc
    )
    base, name = engine_index.rsplit("/", 1)
    with open_store(engine_index, create=True) as s:
        squatter = {"kind": "doc", "did": doc_id(doc.content_hash), "ch": "00" * 16, "len": 1, "lines": 1}
        http("PUT", f"{base}/{name}/_create/d{doc_id(doc.content_hash)}?refresh=true", squatter)
        assert s.add([doc]) == WriteResult(1, 1)
        assert s.known([doc.content_hash]) == {doc.content_hash}
        assert s.add([doc]) == WriteResult(0, 0)
        s.flush()
        res = search.search(s, (corpus / "bisect.py").read_text())
        assert res.verdict == "verbatim"
        assert res.matches[0].doc_id == doc_id(doc.content_hash, 1)


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=50))
def test_engine_terms_round_trip_every_hash(hashes: list[int]) -> None:
    keys = _keys(np.array(hashes, dtype=np.int64))
    assert keys == [_key(h) for h in hashes]
    assert all(len(k) == 11 for k in keys)
    assert [_unkey(k) for k in keys] == hashes
    # Layout 6 sends them as one string, the terms the whitespace analyzer splits it into.
    assert _keys_joined(np.array(hashes, dtype=np.int64)) == " ".join(keys)


def test_same_repository_listing(both: dict[str, str]) -> None:
    listings = []
    for target in (both["sqlite"], both["elastic"]):
        with open_store(target, readonly=True) as s:
            first = s.repository("Python/CPython", limit=7, offset=3)
            fork = s.repository("someone/fork")
            missing = s.repository("nobody/nothing")
            listings.append((first, fork, missing))
    assert listings[0] == listings[1]
    first, fork, missing = listings[0]
    assert first.repo == "python/cpython" and first.total > 10 and len(first.files) == 7
    assert [f.occurrence.path for f in fork.files] == ["heapq.py", "wrap.py"] and fork.licenses == ["MIT"]
    assert missing.total == 0


@pytest.mark.parametrize("fresh", KINDS, indirect=True)
def test_optout_removes_a_repository_and_its_orphans(fresh: str, corpus: Path, twin_corpus: Path) -> None:
    _build(fresh, corpus, twin_corpus)
    extra = _folder(twin_corpus.parent / f"only-{uuid.uuid4().hex[:6]}", corpus / "bisect.py")
    (extra / "mine.py").write_text("def only_in_the_fork(x):\n    return [x * i for i in range(99)]\n" * 6)
    with open_store(fresh, create=True) as s:
        ingest.build(s, ingest.sources([extra], repo="someone/fork", license_type="all"), workers=2)
        before = s.count_documents()
        # bisect.py is also in python/cpython (kept); mine.py, heapq.py and wrap.py copies are not orphans
        # except mine.py, which only the fork holds.
        assert s.add_optout("Someone/Fork", "2026-11-27") == (4, 1)
        assert s.add_optout("Someone/Fork", "2026-11-28") == (0, 0)
        assert s.optouts() == {"Someone/Fork": "2026-11-27"}
        assert s.count_documents() == before - 1
        assert s.repository("someone/fork").total == 0
        res = search.search(s, (corpus / "heapq.py").read_text(), top=3)
        assert [o.repo for o in res.matches[0].occurrences] == ["python/cpython"]
        assert s.remove_optout("Someone/Fork") is True
        assert s.remove_optout("Someone/Fork") is False
        assert s.optouts() == {}


def test_the_other_engines_client_gives_the_same_answers(
    both: dict[str, str],
    corpus: Path,
    twin_corpus: Path,
    engine_kind: str,
    engine_index: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``WHENCE_ENGINE_CLIENT`` overrides the client the node's answer picks: each node through the other
    engine's client (``opensearch-py`` to Elasticsearch, ``elasticsearch`` to OpenSearch) builds and
    answers as its own, and a client that is neither is refused by name."""
    other = "elasticsearch" if engine_kind == "opensearch" else "opensearch"
    monkeypatch.setenv("WHENCE_ENGINE_CLIENT", other)
    _build(engine_index, corpus, twin_corpus)
    with open_store(both["sqlite"], readonly=True) as lite, open_store(engine_index, readonly=True) as es:
        assert es.stats()["client"] == other
        assert es.stats()["engine"] == f"{engine_kind} {engine_version(engine_kind)}"
        for name, code in _queries(corpus).items():
            want = search.search(lite, code, top=10).as_dict()
            assert _canonical(search.search(es, code, top=10).as_dict()) == _canonical(want), name
    monkeypatch.setenv("WHENCE_ENGINE_CLIENT", "solr")
    with pytest.raises(WhenceError, match="WHENCE_ENGINE_CLIENT"):
        open_store(engine_index, readonly=True)


# -- bounded work per query ------------------------------------------------------------------------


def test_budget_drops_the_most_frequent_hashes_first() -> None:
    from whence.index.stores.base import budget_common

    hashes = np.array([1, 2, 3, 4], dtype=np.int64)
    counts = np.array([10, 50, 5, 50], dtype=np.int64)
    assert budget_common(hashes, counts, 115).tolist() == []
    assert budget_common(hashes, counts, 100).tolist() == [4]  # equal counts: the larger hash first
    assert budget_common(hashes, counts, 60).tolist() == [2, 4]
    assert budget_common(hashes, counts, 15).tolist() == [2, 4]
    assert budget_common(hashes, counts, 14).tolist() == [1, 2, 4]
    assert budget_common(hashes, counts, 0).tolist() == [1, 2, 3, 4]


def test_boilerplate_cap_has_a_ceiling() -> None:
    from whence.index import candidates

    assert candidates.common_cap(1_000) == candidates.COMMON_MIN_CAP
    assert candidates.common_cap(2_000_000) == 200
    assert candidates.common_cap(3_000_000_000) == candidates.COMMON_MAX_CAP  # not 300,000


@pytest.fixture(scope="module")
def crowded_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 documents that all share one long stretch of code (so its fingerprints are held by every one
    of them), each with a distinct tail."""
    root = tmp_path_factory.mktemp("crowded") / "src"
    root.mkdir()
    shared = (Path(__file__).parent.parent / "index" / "stores" / "segments.py").read_text()
    for i in range(600):
        (root / f"m{i:03d}.py").write_text(f"{shared}\n\ndef tail_{i}(x):\n    return x * {i} + {i * 7}\n")
    return root


def _build_crowded(target: str, root: Path) -> None:
    with open_store(target, create=True) as store:
        ingest.build(store, ingest.sources([root], repo="a/b"), workers=2)


@pytest.fixture(scope="module")
def crowded_lite(crowded_src: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The crowded documents in SQLite (built once: every engine is compared with it)."""
    target = str(tmp_path_factory.mktemp("crowded") / "crowded.sqlite")
    _build_crowded(target, crowded_src)
    return target


@pytest.fixture(scope="module")
def crowded(crowded_src: Path, crowded_lite: str, engine_url: str) -> Iterator[dict[str, str]]:
    """The crowded documents in SQLite and in an index on the engine of this run."""
    target = f"{engine_url}/test-{uuid.uuid4().hex[:12]}"
    _build_crowded(target, crowded_src)
    yield {"sqlite": crowded_lite, "elastic": target}
    drop_indices(engine_url, target.rsplit("/", 1)[1])


def test_a_crowded_fingerprint_costs_a_lookup_not_its_postings(crowded: dict[str, str]) -> None:
    """SQLite: the shared hashes' posting lists span blocks; the directory alone says they are over the
    cap, so no block of theirs is read, and both stores still agree."""
    shared = (Path(__file__).parent.parent / "index" / "stores" / "segments.py").read_bytes()
    hashes = np.unique(fp.index_fingerprint(shared).hashes)
    answers = []
    for target in (crowded["sqlite"], crowded["elastic"]):
        with open_store(target, readonly=True) as s:
            post = s.postings(hashes, 64)
            answers.append((post.common.tolist(), len(post.hashes)))
            if target == crowded["sqlite"]:
                over = [d.certainly_over(hashes, 64) for d in s._directories()]  # type: ignore[attr-defined]
                assert sum(len(o) for o in over) >= len(hashes) // 2
    assert answers[0] == answers[1]
    assert len(answers[0][0]) >= len(hashes) // 2 and answers[0][1] < len(hashes)


def test_a_query_reads_at_most_its_budget_of_postings(crowded: dict[str, str]) -> None:
    """With the cap above the crowd, the shared hashes are rare; the budget then leaves out the most
    frequent ones, the same way in both stores (the engine does not even fetch them)."""
    from whence.index import candidates

    shared = (Path(__file__).parent.parent / "index" / "stores" / "segments.py").read_bytes()
    hashes = np.unique(fp.index_fingerprint(shared + b"\ndef tail_7(x):\n    return x * 7 + 49\n").hashes)
    answers = []
    for target in (crowded["sqlite"], crowded["elastic"]):
        with open_store(target, readonly=True) as s:
            full = s.postings(hashes, 1000)
            assert len(full.hashes) > 5000  # every shared hash, in all 600 documents
            bounded = candidates.within_budget(s.postings(hashes, 1000, budget=5000), 5000)
            assert len(bounded.hashes) <= 5000 and len(bounded.common) > len(full.common)
            docs = {d: s.text(d) for d in np.unique(bounded.docs).tolist()}
            answers.append((bounded.common.tolist(), sorted(docs[d] for d in bounded.docs.tolist())))
    assert answers[0] == answers[1]
