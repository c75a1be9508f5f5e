"""Shards named by URL (``file://``, ``s3://``, ``gs://``, ``hf://``), read by the real client libraries
from local servers that speak each service's protocol: pyarrow's S3 filesystem from
:mod:`tests.s3server`, pyarrow's GCS filesystem from :mod:`tests.gcsserver` (in a process of its own),
``huggingface_hub.HfFileSystem`` from :mod:`tests.hubserver`.  A build from URLs must give the index a
build from the same shards' local paths gives; a URL that cannot be read must stop the build with one
line and exit 2, the index unchanged."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.gcsserver import etag_of as gcs_etag
from tests.hubserver import HubFolder
from tests.s3server import S3Folder, etag_of
from tests.test_ingest import _snapshot
from tests.test_stackv2 import LATIN1, Shards, _write
from whence.cli import main
from whence.errors import InvalidInput, WhenceError
from whence.index import shardfs, stackv2

SCHEMES = ["file", "s3", "gs", "hf"]
REPO = "bigcode/the-stack-smol-ids"
ROOT = Path(__file__).resolve().parent.parent
BIG = ROOT / "index" / "_fastfp.c"  # real code, about 64 KB


@dataclass
class Tree:
    """The shards laid out as a dataset repository: ``data/{other,python}/*.parquet`` plus files that
    are not shards, and ``big/inline.parquet`` (a shard with a content column, larger than a footer
    read) outside ``data/``."""

    root: Path
    stack: Shards
    parquet: list[str]  # relative paths of the shards under data/, sorted


@pytest.fixture(scope="module")
def tree(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Tree:
    stack = _write(tmp_path_factory.mktemp("stack"), corpus)
    root = tmp_path_factory.mktemp("tree")
    half = len(stack.shards) // 2
    rels = []
    for i, shard in enumerate(stack.shards):
        rel = f"data/{'other' if i < half else 'python'}/{shard.name}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shard, root / rel)
        rels.append(rel)
    (root / "README.md").write_text("# the shards\n")
    (root / "data" / "python" / "notes.txt").write_text("not a shard\n")
    table = pa.concat_tables([pq.read_table(stack.shards[0])] * 4)
    text = pa.array([BIG.read_text()] * table.num_rows, pa.string())
    (root / "big").mkdir()
    # Stored plain, so that the file is several times the 64 KiB a footer read takes.
    pq.write_table(table.append_column("content", text), root / "big" / "inline.parquet",
                   compression="none", use_dictionary=False)  # fmt: skip
    return Tree(root, stack, sorted(rels))


@dataclass
class Remote:
    """The tree served under one scheme: ``url(rel)`` names a file or folder of it."""

    scheme: str
    url: Callable[[str], str]
    stop: Callable[[], None] = lambda: None
    ranges: Callable[[str], list[tuple[int, int]]] = lambda rel: []
    checksum: Callable[[bytes], str] = lambda data: "sha256:" + hashlib.sha256(data).hexdigest()
    extra: dict[str, object] = field(default_factory=dict)


@pytest.fixture(params=SCHEMES)
def remote(
    request: pytest.FixtureRequest, tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Remote]:
    scheme = request.param
    if scheme == "file":
        yield Remote("file", lambda rel: (tree.root / rel).as_uri())
    elif scheme == "s3":
        shutil.copytree(tree.root, tmp_path / "s3" / "stack")
        s3 = S3Folder(tmp_path / "s3", page_keys=3)  # small pages: the listing follows continuation tokens
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN",
                    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3"):  # fmt: skip
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        yield Remote(
            "s3", lambda rel: f"s3://stack/{rel}", s3.stop,
            lambda rel: [(a, b) for k, a, b in s3.ranges if k == f"stack/{rel}"],
            lambda data: "etag:" + etag_of(data).strip('"'),
            {"server": s3, "root": tmp_path / "s3" / "stack"},
        )  # fmt: skip
        s3.stop()
    elif scheme == "gs":
        shutil.copytree(tree.root, tmp_path / "gcs" / "stack")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.gcsserver", str(tmp_path / "gcs")],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdin is not None
        url = proc.stdout.readline().strip()  # printed once it listens
        assert url.startswith("http://"), url
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        monkeypatch.setenv("WHENCE_GCS_RETRY_SECONDS", "1")

        def stop() -> None:
            if proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()  # the server stops when its standard input closes
                proc.wait(timeout=60)
            if proc.stdout is not None and not proc.stdout.closed:
                proc.stdout.close()

        def ranges(rel: str) -> list[tuple[int, int]]:
            import urllib.request

            with urllib.request.urlopen(f"{url}/_test/ranges") as r:
                sent = json.load(r)["ranges"]
            return [(a, b) for k, a, b in sent if k == f"stack/{rel}"]

        yield Remote("gs", lambda rel: f"gs://stack/{rel}", stop, ranges, lambda d: "etag:" + gcs_etag(d),
                     {"root": tmp_path / "gcs" / "stack"})  # fmt: skip
        stop()
    else:
        repo = tmp_path / "hub" / "datasets" / REPO
        shutil.copytree(tree.root, repo)
        hub = HubFolder(tmp_path / "hub", page_items=3)  # small pages: the listing follows Link headers
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token of this machine's user
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield Remote(
            "hf", lambda rel: f"hf://datasets/{REPO}@main/{rel}", hub.stop,
            lambda rel: [(a, b) for k, a, b in hub.ranges if k == f"{REPO}/{rel}"],
            extra={"server": hub, "sha": hub.sha(repo), "root": repo},
        )  # fmt: skip
        hub.stop()


def _cli(*args: str, expect: int = 0) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == expect, res.output
    return res.output


def _build(db: Path, source: str, blobs: Path, expect: int = 0) -> str:
    return _cli("index", "build", source, "--blobs", str(blobs), "--index", str(db), "--format", "json",
                expect=expect)  # fmt: skip


def _answers(db: Path, queries: list[Path]) -> list[object]:
    return [json.loads(_cli("search", str(q), "--index", str(db), "--format", "json")) for q in queries]


@pytest.fixture(scope="module")
def local_build(
    tree: Tree, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[Path]]:
    """The index built from the shards' local paths, and the queries both builds must answer alike."""
    folder = tmp_path_factory.mktemp("local")
    db = folder / "local.sqlite"
    _build(db, str(tree.root / "data" / "**" / "*.parquet"), tree.stack.blobs)
    queries = [folder / "textwrap.py", folder / "latin.py", folder / "shlex.py"]
    lines = (corpus / "textwrap.py").read_text().splitlines(keepends=True)
    queries[0].write_text("".join(lines[400:460]))
    queries[1].write_text(LATIN1)
    queries[2].write_text("".join((corpus / "shlex.py").read_text().splitlines(keepends=True)[20:80]))
    return db, queries


def _stats(db: Path) -> dict[str, object]:
    doc = json.loads(_cli("index", "stats", "--index", str(db), "--format", "json"))
    assert isinstance(doc, dict)
    return doc


def test_a_url_glob_builds_the_index_the_local_paths_build(
    remote: Remote, tree: Tree, local_build: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    local, queries = local_build
    db = tmp_path / "remote.sqlite"
    summary = json.loads(_build(db, remote.url("data/**/*.parquet"), tree.stack.blobs))
    assert summary["skipped"]["missing_blob"] == 1
    want, got = _stats(local), _stats(db)
    assert (got["documents"], got["occurrences"]) == (want["documents"], want["occurrences"])
    assert _snapshot(db) == _snapshot(local)
    answers = _answers(db, queries)
    assert answers == _answers(local, queries)
    assert all(a["verdict"] == "verbatim" for a in answers)  # type: ignore[index]


@pytest.mark.parametrize("remote", ["hf"], indirect=True)
def test_the_command_in_a_process_of_its_own_goes_to_hf_endpoint(
    remote: Remote, tree: Tree, local_build: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    """huggingface_hub reads HF_ENDPOINT once, when it is imported; whence passes it on each call, so a
    fresh process and a long-lived one go to the same Hub."""
    db = tmp_path / "remote.sqlite"
    cmd = [sys.executable, "-m", "whence", "index", "build", remote.url("data"), "--blobs",
           str(tree.stack.blobs), "--index", str(db), "--format", "json"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path)
    assert _snapshot(db) == _snapshot(local_build[0])
    server = remote.extra["server"]
    assert isinstance(server, HubFolder)
    assert f"GET /datasets/{REPO}/resolve/main/{tree.parquet[0]}" in server.requests


def test_a_folder_url_names_every_shard_under_it(remote: Remote, tree: Tree) -> None:
    every = [remote.url(rel) for rel in tree.parquet]
    assert shardfs.expand_url(remote.url("data")) == every
    assert shardfs.expand_url(remote.url("data/")) == every
    assert shardfs.expand_url(remote.url("data/python/*.parquet")) == [
        remote.url(rel) for rel in tree.parquet if rel.startswith("data/python/")
    ]
    assert shardfs.expand_url(remote.url("data/*/shard-0000[01].parquet")) == [
        remote.url(rel) for rel in tree.parquet if rel.endswith(("-00000.parquet", "-00001.parquet"))
    ]
    assert shardfs.expand_url(remote.url("**/inline.parquet")) == [remote.url("big/inline.parquet")]
    one = remote.url(tree.parquet[-1])
    assert shardfs.expand_url(one) == [one]
    assert shardfs.size_of(one) == (tree.root / tree.parquet[-1]).stat().st_size


def test_describe_gives_the_sources_own_checksum(remote: Remote, tree: Tree) -> None:
    for rel in tree.parquet[:2]:
        data = (tree.root / rel).read_bytes()
        got = shardfs.describe(remote.url(rel))
        assert (got.location, got.size, got.checksum) == (remote.url(rel), len(data), remote.checksum(data))
        if remote.scheme == "hf":
            # @main is resolved to the commit it points at; a commit is kept as it is.
            assert (got.dataset, got.revision) == (REPO, remote.extra["sha"])
            pinned = remote.url(rel).replace("@main", f"@{remote.extra['sha']}")
            assert shardfs.describe(pinned).revision == remote.extra["sha"]
        else:
            assert (got.dataset, got.revision) == ("", "")


@pytest.mark.parametrize("remote", ["s3", "gs", "hf"], indirect=True)  # a local file has no requests
def test_pyarrow_reads_ranges_not_the_whole_file(remote: Remote, tree: Tree) -> None:
    rel = "big/inline.parquet"
    size = (tree.root / rel).stat().st_size
    shard = stackv2.check_shard(remote.url(rel))  # the footer only
    assert shard.has_content and shard.rows > 0

    def taken() -> int:
        return sum(b - a + 1 for a, b in remote.ranges(rel))

    # A server counts what a client took once the client has hung up: poll until the count is in.
    _poll(lambda: 0 < taken() < size // 4, f"the footer's reads of {rel} ({taken()} of {size} bytes)")
    footer = len(remote.ranges(rel))
    # Then the rows, without the content column (as for a shard whose contents are in a blob store):
    # the chunks of the other columns are read, and none of the content column's.
    rows = list(stackv2.rows(stackv2.Shard(shard.path, shard.rows, has_content=False)))
    assert (
        len(rows) == shard.rows and "/" + rows[-1].path == pq.read_table(tree.root / rel)["path"][-1].as_py()
    )
    _poll(lambda: len(remote.ranges(rel)) > footer and taken() < size // 2, f"the rows' reads of {rel}")


def _poll(check: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# -- what cannot be read --------------------------------------------------------------------------


def _refused(tree: Tree, tmp_path: Path, source: str, local: Path) -> str:
    """Build ``source`` into a copy of an index: exit 2, one line, the index unchanged."""
    db = tmp_path / "i.sqlite"
    shutil.copy(local, db)
    before = db.read_bytes()
    out = _build(db, source, tree.stack.blobs, expect=2)
    assert db.read_bytes() == before
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out, out
    return lines[0]


def test_a_url_that_matches_nothing(
    remote: Remote, tree: Tree, tmp_path: Path, local_build: tuple[Path, list[Path]]
) -> None:
    url = remote.url("data/**/*.jsonl")
    assert _refused(tree, tmp_path, url, local_build[0]) == f"error: {url}: no file matches"


def test_a_missing_object(
    remote: Remote, tree: Tree, tmp_path: Path, local_build: tuple[Path, list[Path]]
) -> None:
    url = remote.url("data/python/shard-99999.parquet")
    line = _refused(tree, tmp_path, url, local_build[0])
    assert line.startswith(f"error: {url}: no ") and ("matches" in line or "no such" in line)


@pytest.mark.parametrize("remote", ["s3", "gs", "hf"], indirect=True)  # file:// has no server
def test_a_server_that_is_down(
    remote: Remote, tree: Tree, tmp_path: Path, local_build: tuple[Path, list[Path]]
) -> None:
    remote.stop()
    url = remote.url("data/**/*.parquet")
    line = _refused(tree, tmp_path, url, local_build[0])
    assert line.startswith(f"error: {url}: cannot read from ") and "connect" in line.lower(), line


@pytest.mark.parametrize("remote", ["hf"], indirect=True)
def test_hf_revision_and_repository_the_hub_does_not_know(
    remote: Remote, tree: Tree, tmp_path: Path, local_build: tuple[Path, list[Path]]
) -> None:
    url = remote.url("data/**/*.parquet").replace("@main", "@no-such-branch")
    assert _refused(tree, tmp_path, url, local_build[0]) == f"error: {url}: revision not found on the Hub"
    url = remote.url("data").replace(REPO, "bigcode/no-such-dataset")
    assert "repository not found" in _refused(tree, tmp_path, url, local_build[0])


@pytest.mark.parametrize("remote", ["s3", "gs", "hf"], indirect=True)
def test_a_shard_gone_after_the_listing_is_named(remote: Remote, tree: Tree) -> None:
    urls = shardfs.expand_url(remote.url("data"))
    assert isinstance(remote.extra["root"], Path)
    (remote.extra["root"] / tree.parquet[0]).unlink()
    with pytest.raises(InvalidInput, match=f"^{re.escape(urls[0])}: no such "):
        stackv2.check_shard(urls[0])
    if remote.scheme == "hf":
        return  # the Hub client retries a refused connection for 23 s: test_a_server_that_is_down
    remote.stop()
    with pytest.raises(WhenceError, match=f"^{re.escape(urls[1])}: cannot read from "):
        stackv2.check_shard(urls[1])


# -- no server needed -----------------------------------------------------------------------------


def test_an_unknown_scheme_lists_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"ftp://host/x\.parquet: .*file://, s3://, gs://, hf://"):
        shardfs.expand_url("ftp://host/x.parquet")
    out = _cli("index", "build", "https://example.invalid/x.parquet", "--index", str(tmp_path / "i.sqlite"),
               expect=2)  # fmt: skip
    assert "s3://" in out and "hf://" in out
    assert not (tmp_path / "i.sqlite").exists()


def test_a_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if it were not installed
    with pytest.raises(WhenceError, match=r"pip install 'whence\[hf\]'"):
        shardfs.expand_url("hf://datasets/bigcode/x/data/*.parquet")


def test_describe_a_local_path_and_a_hugging_face_cache_path(tree: Tree, tmp_path: Path) -> None:
    shard = tree.root / tree.parquet[0]
    data = shard.read_bytes()
    want = "sha256:" + hashlib.sha256(data).hexdigest()
    assert shardfs.describe(str(shard)) == shardfs.ShardSource(str(shard), len(data), want)
    assert shardfs.describe(shard.as_uri()).checksum == want
    sha = "0123456789abcdef0123456789abcdef01234567"
    snap = tmp_path / "hub" / f"datasets--{REPO.replace('/', '--')}" / "snapshots" / sha / "data"
    blob = tmp_path / "hub" / f"datasets--{REPO.replace('/', '--')}" / "blobs" / want[7:]
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snap.mkdir(parents=True)
    (snap / "x.parquet").symlink_to(blob)  # the cache's layout: snapshots link to blobs
    got = shardfs.describe(str(snap / "x.parquet"))
    assert (got.size, got.checksum, got.dataset, got.revision) == (len(data), want, REPO, sha)
    with pytest.raises(InvalidInput, match="cannot read"):
        shardfs.describe(str(tmp_path / "missing.parquet"))


@pytest.mark.parametrize(
    ("glob", "yes", "no"),
    [
        ("*.parquet", ["a.parquet"], ["d/a.parquet", "a.parquetx"]),
        ("**/*.parquet", ["a.parquet", "d/a.parquet", "d/e/a.parquet"], ["a.txt"]),
        ("d/**", ["d/a", "d/e/a"], ["a"]),
        ("d/**/x/*.p", ["d/x/a.p", "d/e/f/x/a.p"], ["d/xa.p", "x/a.p"]),
        ("shard-0000?.parquet", ["shard-00001.parquet"], ["shard-0001.parquet"]),
        ("s[ab].p", ["sa.p", "sb.p"], ["sc.p"]),
        ("s[!ab].p", ["sc.p"], ["sa.p", "s/.p"]),
        ("a+b(1).p", ["a+b(1).p"], ["aab1.p"]),
    ],
)
def test_glob_regex(glob: str, yes: list[str], no: list[str]) -> None:
    rx = shardfs.glob_regex(glob)
    assert [p for p in yes if not rx.fullmatch(p)] == []
    assert [p for p in no if rx.fullmatch(p)] == []
