"""The CLI against each live engine (OpenSearch and Elasticsearch): build, stats, search, opt-outs,
``whence serve``, ``--worker i/N`` and ``--rebuild``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from whence.api.state import State
from whence.cli import main
from whence.index.sharding import Worker, parse_worker

from .engine import drop_indices, engine_version, http
from .servers import whence_serve
from .test_ingest import _sigint_as_in_a_terminal


def _fragment(corpus: Path) -> str:
    return "".join((corpus / "difflib.py").read_text().splitlines(keepends=True)[409:445])


def _build(runner: CliRunner, target: str, corpus: Path, *extra: str) -> dict[str, object]:
    args = [
        "index",
        "build",
        str(corpus),
        "--index",
        target,
        "--repo",
        "python/cpython",
        "--license",
        "PSF-2.0",
    ]
    res = runner.invoke(main, [*args, "--workers", "2", "--format", "json", *extra])
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.output)
    return out


def test_build_stats_and_search_match_sqlite(
    engine_index: str, engine_kind: str, corpus: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    db = str(tmp_path / "i.sqlite")
    built = {t: _build(runner, t, corpus) for t in (engine_index, db)}
    assert built[engine_index]["documents_added"] == built[db]["documents_added"]
    stats = {}
    answers = {}
    for t in (engine_index, db):
        res = runner.invoke(main, ["index", "stats", "--index", t, "--format", "json"])
        assert res.exit_code == 0, res.output
        stats[t] = json.loads(res.output)
        res = runner.invoke(main, ["search", "--index", t, "--format", "json"], input=_fragment(corpus))
        assert res.exit_code == 0, res.output
        answers[t] = json.loads(res.output)
    assert stats[engine_index]["store"] == "elastic"
    assert stats[engine_index]["engine"] == f"{engine_kind} {engine_version(engine_kind)}"
    assert stats[engine_index]["client"] == engine_kind
    assert stats[engine_index]["documents"] == stats[db]["documents"]
    assert answers[engine_index]["verdict"] == "verbatim"
    assert answers[engine_index] == answers[db]


def test_optout_and_serve_on_the_engine(engine_index: str, corpus: Path, tmp_path: Path) -> None:
    """``whence index optout add|list|remove`` change what the engine index answers, and ``whence serve``
    (its own process) answers searches from it."""
    runner = CliRunner()
    _build(runner, engine_index, corpus)
    fragment = _fragment(corpus)

    def verdict() -> str:
        res = runner.invoke(main, ["search", "--index", engine_index, "--format", "json"], input=fragment)
        assert res.exit_code == 0, res.output
        return str(json.loads(res.output)["verdict"])

    assert verdict() == "verbatim"
    res = runner.invoke(main, ["index", "optout", "add", "Python/CPython", "--index", engine_index])
    assert res.exit_code == 0 and "removed" in res.output, res.output
    res = runner.invoke(main, ["index", "optout", "list", "--index", engine_index, "--format", "json"])
    assert [r["repo"] for r in json.loads(res.output)] == ["Python/CPython"]
    assert verdict() == "none"
    res = runner.invoke(main, ["index", "optout", "remove", "Python/CPython", "--index", engine_index])
    assert res.exit_code == 0, res.output
    again = _build(runner, engine_index, corpus)  # back in once the opt-out is gone
    assert int(str(again["documents_added"])) > 0
    assert verdict() == "verbatim"

    state_path = tmp_path / "state.sqlite"
    state = State(state_path)
    key = state.create_key("tests")[1]
    state.close()
    args = ["--index", engine_index, "--state", str(state_path), "--search-processes", "0"]
    with whence_serve(args) as (_, base):
        res = httpx.post(
            f"{base}/v1/search",
            json={"code": fragment},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert res.status_code == 200, res.text
        assert res.json()["verdict"] == "verbatim"


def test_workers_build_disjoint_slices_of_one_index(engine_index: str, corpus: Path) -> None:
    runner = CliRunner()
    parts = [_build(runner, engine_index, corpus, "--worker", f"{i}/3") for i in range(3)]
    files = [int(str(p["files"])) for p in parts]
    assert all(n > 0 for n in files)
    assert sum(files) == sum(1 for p in corpus.rglob("*") if p.is_file())
    whole = _build(runner, engine_index, corpus)  # everything is in: a full build adds nothing
    assert (whole["documents_added"], whole["occurrences_added"]) == (0, 0)
    res = runner.invoke(
        main, ["search", "--index", engine_index, "--format", "json"], input=_fragment(corpus)
    )
    assert json.loads(res.output)["verdict"] == "verbatim"


def test_bad_worker_and_rebuild_of_a_file_are_usage_errors(tmp_path: Path, corpus: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "i.sqlite")
    for extra, needle in ((["--worker", "3/3"], "--worker '3/3'"), (["--rebuild"], "--rebuild")):
        res = runner.invoke(main, ["index", "build", str(corpus), "--index", db, *extra])
        assert res.exit_code == 2
        assert needle in res.output
    assert parse_worker("1/4") == Worker(1, 4)


def test_texts_parameter_picks_the_codec(engine_index: str, corpus: Path) -> None:
    """``?texts=fast`` keeps the engine's default LZ4 codec, the default (``small``) sets DEFLATE; both
    answer the same searches; a bad value is a usage error naming the parameter."""
    import urllib.request

    runner = CliRunner()
    base, name = engine_index.rsplit("/", 1)
    for texts, codec in (("small", "best_compression"), ("fast", None)):
        target = f"{base}/{name}-{texts}"
        try:
            _build(runner, f"{target}?texts={texts}", corpus)
            with urllib.request.urlopen(f"{target}/_settings") as resp:
                settings = next(iter(json.loads(resp.read()).values()))["settings"]["index"]
            assert settings.get("codec") == codec
            res = runner.invoke(
                main, ["search", "--index", target, "--format", "json"], input=_fragment(corpus)
            )
            assert json.loads(res.output)["verdict"] == "verbatim"
        finally:
            urllib.request.urlopen(urllib.request.Request(f"{base}/{name}-{texts}-v*", method="DELETE"))
    res = runner.invoke(main, ["index", "stats", "--index", f"{engine_index}?texts=tiny"])
    assert res.exit_code == 2 and "texts must be small" in res.output


def test_an_index_of_texts_written_before_tz_keeps_answering(
    engine_index: str, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Since the ingest work of issue 17 documents hold their content as ``tz`` (base64 of its zstd
    frame) and their fingerprints as one string (layout 6); an index built before (layout 5) holds
    ``text``, ``fp`` as a keyword list, and no ``tz`` in its mapping.  Opened for writing it gains the
    field, later builds add ``tz`` documents beside the old ones (``fp`` still a list: the index keeps its
    layout), and every search and text read answers as on SQLite from both kinds."""
    from whence.index.stores import codec, open_store
    from whence.index.stores import elastic as es
    from whence.index.stores import elastic_mappings as em

    files = sorted(p for p in corpus.rglob("*.py"))
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    for i, p in enumerate(files):  # half the files built the old way, half the new way
        dest = (old_dir if i % 2 else new_dir) / p.relative_to(corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(p.read_bytes())
    new_source = es.ElasticStore._doc_source

    def old_source(self: es.ElasticStore, d: Any, did: int) -> dict[str, Any]:
        src = new_source(self, d, did)
        del src["tz"]
        src["text"] = codec.decompressor().decompress(d.text_z).decode("utf-8")
        assert isinstance(src["fp"], list)  # layout 5's form
        return src

    runner = CliRunner()
    with monkeypatch.context() as m:  # the earlier whence: no tz in the mapping, texts as text
        props = {k: v for k, v in em.MAPPINGS["properties"].items() if k != "tz"}
        props["fp"] = {"type": "keyword", "doc_values": False, "norms": False, "index_options": "docs"}
        m.setitem(em.MAPPINGS, "properties", props)
        m.setattr(es, "PARAMS", {**es.PARAMS, "layout": "5"})
        m.setattr(em, "ADDED_FIELDS", tuple(f for f in em.ADDED_FIELDS if f != "tz"))
        m.setattr(es.ElasticStore, "_doc_source", old_source)
        _build(runner, engine_index, old_dir)
    import urllib.request

    base, name = engine_index.rsplit("/", 1)
    with urllib.request.urlopen(f"{base}/{name}/_mapping") as resp:
        old_mapping = next(iter(json.loads(resp.read()).values()))["mappings"]
    assert "tz" not in old_mapping["properties"] and old_mapping["_meta"]["layout"] == "5"
    assert old_mapping["properties"]["fp"]["type"] == "keyword"
    db = str(tmp_path / "i.sqlite")
    for d in (old_dir, new_dir):
        _build(runner, engine_index, d)
        _build(runner, db, d)
    with urllib.request.urlopen(f"{base}/{name}/_search?q=kind:doc&size=1000") as resp:
        kinds = {
            ("tz" in h["_source"], "text" in h["_source"]) for h in json.loads(resp.read())["hits"]["hits"]
        }
    assert kinds == {(True, False), (False, True)}  # both kinds of document in one index
    answers = {}
    for t in (engine_index, db):
        out = []
        for p in (files[0], files[1]):  # one file of each kind
            lines = p.read_text().splitlines(keepends=True)
            res = runner.invoke(main, ["search", "--index", t, "--format", "json"], input="".join(lines[:60]))
            assert res.exit_code == 0, res.output
            got = json.loads(res.output)
            out.append((got["verdict"], [m["path"] for m in got["matches"]]))
        answers[t] = out
    assert answers[engine_index] == answers[db]
    assert all(v == "verbatim" for v, _ in answers[db])
    with open_store(engine_index, readonly=True) as store, open_store(db, readonly=True) as lite:
        ids = [es.doc_id(bytes.fromhex(h)) for h in _content_hashes(base, name)]
        assert len(ids) == lite.stats()["documents"]
        contents = {p.read_bytes() for p in files}
        assert {store.text(i) for i in ids} == contents  # text() of both kinds
        assert {f.text for f in store.fetch(ids).values()} == contents  # and fetch(), as search reads


def _content_hashes(base: str, name: str) -> list[str]:
    import urllib.request

    with urllib.request.urlopen(f"{base}/{name}/_search?q=kind:doc&size=1000&_source=ch") as resp:
        return [h["_source"]["ch"] for h in json.loads(resp.read())["hits"]["hits"]]


def _index_state(target: str) -> tuple[dict[str, Any], int, int]:
    """(index settings, segments, shards) of the physical index behind an alias target."""
    settings = next(iter(http("GET", f"{target}/_settings").values()))["settings"]["index"]
    segments = http("GET", f"{target}/_stats/segments")["_all"]["primaries"]["segments"]["count"]
    return settings, int(segments), int(settings["number_of_shards"])


def _served(settings: dict[str, Any]) -> None:
    """The settings a build leaves: the periodic refresh and a translog synced on every request."""
    assert settings["refresh_interval"] == "30s"
    assert settings["translog"]["durability"] == "request"


def test_a_build_merges_for_search_and_optimize_merges_after_small_ones(
    engine_index: str, corpus: Path, tmp_path: Path
) -> None:
    """A build that writes the whole index leaves one segment per shard and its serving settings; a
    small build after it leaves what the engine merged, and ``whence index optimize`` merges that (and
    then has nothing to do), with the same answers."""
    runner = CliRunner()
    target = f"{engine_index}?shards=2"
    _build(runner, target, corpus)
    settings, segments, shards = _index_state(engine_index)
    _served(settings)
    assert shards == 2 and segments == 2
    before = runner.invoke(
        main, ["search", "--index", engine_index, "--format", "json"], input=_fragment(corpus)
    )
    more = tmp_path / "more"
    for i in range(3):  # three small builds: each one its own segment, under a tenth of the index
        (more / str(i)).mkdir(parents=True)
        (more / str(i) / "extra.py").write_text(
            f"def extra_{i}(values):\n    return sorted(values)[{i}::2]\n"
        )
        res = runner.invoke(
            main, ["index", "build", str(more / str(i)), "--index", engine_index, "--repo", f"o/r{i}"]
        )
        assert res.exit_code == 0, res.output
    settings, segments, _ = _index_state(engine_index)
    _served(settings)
    assert segments > shards
    res = runner.invoke(main, ["index", "optimize", "--index", engine_index, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["merged"] is True
    assert _index_state(engine_index)[1] == shards
    res = runner.invoke(main, ["index", "optimize", "--index", engine_index])
    assert res.exit_code == 0 and "nothing to merge" in res.output
    after = runner.invoke(
        main, ["search", "--index", engine_index, "--format", "json"], input=_fragment(corpus)
    )
    assert json.loads(after.output) == json.loads(before.output)


def test_an_interrupted_build_puts_the_serving_settings_back(engine_index: str, corpus: Path) -> None:
    """Ctrl-C after the first batch (the failpoint sends SIGINT): the build exits 130 and the index
    refreshes and syncs its translog as a served one does."""
    import os
    import subprocess
    import sys

    from whence.index import failpoints

    cmd = [sys.executable, "-m", "whence", "index", "build", str(corpus), "--index", engine_index]
    env = os.environ | {failpoints.ENV: "after-commit=1:SIGINT"}
    # Started as a terminal would start it: a test runner in the background of a shell script (as CI
    # may be) ignores SIGINT, and the build would inherit that and never see the signal.
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=_sigint_as_in_a_terminal
    )
    assert proc.returncode == 130 and "committed batches are kept" in proc.stderr, proc
    settings, _, _ = _index_state(engine_index)
    _served(settings)


def test_optimize_merges_a_sqlite_index(corpus: Path, tmp_path: Path) -> None:
    """``whence index optimize`` on SQLite: builds too small to compact on their own leave several
    posting segments; optimize merges them into one, with the same answers."""
    runner = CliRunner()
    db = str(tmp_path / "i.sqlite")
    for i, name in enumerate(sorted(p.name for p in corpus.iterdir() if p.suffix == ".py")[:4]):
        part = tmp_path / f"p{i}"
        part.mkdir()
        (part / name).write_bytes((corpus / name).read_bytes())
        res = runner.invoke(main, ["index", "build", str(part), "--index", db, "--repo", f"o/r{i}"])
        assert res.exit_code == 0, res.output
    stats = json.loads(runner.invoke(main, ["index", "stats", "--index", db, "--format", "json"]).output)
    res = runner.invoke(main, ["index", "optimize", "--index", db, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert stats["segments"] > 1
    assert json.loads(res.output)["merged"] is True
    after = json.loads(runner.invoke(main, ["index", "stats", "--index", db, "--format", "json"]).output)
    assert after["segments"] == 1 and after["documents"] == stats["documents"]
    res = runner.invoke(main, ["index", "optimize", "--index", db])
    assert res.exit_code == 0 and "nothing to merge" in res.output


def test_the_closing_merge_is_reported_as_progress(engine_index: str, corpus: Path) -> None:
    """A build's progress callback hears of the merge for search that ends it (the segments left), and
    the report it returns is no longer merging."""
    from whence.index import ingest
    from whence.index.stores import open_store

    heard: list[int | None] = []
    with open_store(f"{engine_index}?shards=2", create=True) as store:
        report = ingest.build(
            store,
            ingest.sources([corpus], repo="python/cpython"),
            workers=2,
            batch_files=2,
            commit_every=500,  # a refresh every batch of two files: a segment or two each
            progress=lambda r: heard.append(r.merging),
        )
    merging = [m for m in heard if m is not None]
    assert merging and merging[0] > 2  # more segments than shards when the merge began
    assert heard[0] is None and report.merging is None
    assert _index_state(engine_index)[1] == 2
    # One of several builds writing the index at once (a Spark partition, a --worker job) leaves the
    # merge to whoever knows that all are done.
    part = f"{engine_index}-part"
    heard.clear()
    try:
        with open_store(f"{part}?shards=2", create=True) as store:
            ingest.build(
                store,
                ingest.sources([corpus], repo="python/cpython"),
                workers=2,
                batch_files=2,
                commit_every=500,
                progress=lambda r: heard.append(r.merging),
                optimize=False,
            )
        assert heard and set(heard) == {None}
        assert _index_state(part)[1] > 2
    finally:
        drop_indices(*part.rsplit("/", 1))
