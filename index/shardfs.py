"""Where shards are read from: local paths, and URLs -- ``file://``, ``s3://``, ``gs://`` and
``hf://`` (a Hugging Face Hub repository, ``hf://datasets/<org>/<name>[@<revision>]/<path>``).

:mod:`.stackv2` opens every shard through :func:`arrow_source` and sizes it with :func:`size_of`,
:func:`whence.index.ingest.sources` hands URL patterns to :func:`expand_url`, and :func:`describe` says
what a shard is (size, checksum, dataset and revision) for the index to record; nothing else in the index
knows where a shard's bytes live.

pyarrow opens every shard itself, through a pyarrow filesystem, and reads the footer and then only the
column chunks it needs with ranged reads -- never the whole file:

* ``hf://`` -- :class:`huggingface_hub.HfFileSystem` (an fsspec filesystem) wrapped for pyarrow in
  :class:`pyarrow.fs.PyFileSystem` over :class:`pyarrow.fs.FSSpecHandler`.  Files are opened without
  fsspec's read-ahead cache (``cache_type="none"``): pyarrow asks for exactly the byte ranges it needs
  (the footer, then each column chunk), so every read is one ranged ``resolve`` request and nothing
  outside those ranges is downloaded.  ``HF_ENDPOINT`` (read on each call) points it at another Hub,
  ``HF_TOKEN`` (or ``hf auth login``) authenticates it.  Needs ``pip install 'whence[hf]'``.
* ``s3://`` -- pyarrow's own :class:`pyarrow.fs.S3FileSystem` (the AWS C++ SDK), not fsspec's s3fs:
  s3fs runs on aiobotocore, which pins botocore to a narrow range below the boto3 that ``whence[s3]``
  installs for the blob store (installing s3fs here would downgrade botocore under boto3), and the
  native filesystem needs no extra package, reads ranges in C++ without the interpreter lock, and
  retries with the SDK's backoff.  Credentials are those boto3 finds when it is installed (as for the
  ``--blobs`` store; none: unsigned requests), else the SDK's own chain; ``AWS_ENDPOINT_URL`` (or
  ``AWS_ENDPOINT_URL_S3``), ``AWS_REGION``, ``AWS_MAX_ATTEMPTS`` and ``WHENCE_S3_ANONYMOUS=1`` apply.
* ``gs://`` -- pyarrow's own :class:`pyarrow.fs.GcsFileSystem` (google-cloud-cpp), not gcsfs, for the
  same reasons: gcsfs brings aiohttp, google-auth and google-cloud-storage, while pyarrow's wheels
  already carry a GCS client.  Credentials: Google's application default credentials
  (``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default login``, the metadata
  server); ``WHENCE_GCS_ANONYMOUS=1`` for public buckets; ``STORAGE_EMULATOR_HOST`` points it, unsigned,
  at an emulator; ``WHENCE_GCS_RETRY_SECONDS`` bounds its retries (default 60).
* ``file://`` and plain paths -- pyarrow's local filesystem.

The S3 and GCS filesystems are handed to pyarrow inside a thin read-only
:class:`pyarrow.fs.PyFileSystem` handler: looking a shard up and opening it go through Python, so
that a server that stopped answering or credentials it refused are reported as such (not as a parquet
file pyarrow could not read), while the file it opens is the native one and every read stays in C++.
pyarrow's GCS client also starts one unranged download when it opens a file and hangs up on it unread
(google-cloud-cpp's behaviour; the tests measure what it takes).

Errors: a pattern that matches nothing, a missing object, a revision or repository the Hub does not
know, and an unknown scheme raise :class:`~whence.errors.InvalidInput`; a missing optional package, a
server that cannot be reached or refuses the credentials raise :class:`~whence.errors.WhenceError`
naming the URL.  Each message is one line.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import unquote, urlsplit

from whence.errors import InvalidInput, WhenceError

#: The URL schemes shards can be named by.
SCHEMES = ("file", "s3", "gs", "hf")
_GLOB = re.compile(r"[*?\[]")
_SHA1 = re.compile(r"[0-9a-f]{40}")
#: ``.../datasets--<org>--<name>/snapshots/<revision>/...`` in a Hugging Face cache folder.
_HF_CACHE = re.compile(r"(?:^|/)(datasets|models|spaces)--([^/]+)/snapshots/([^/]+)/")
_CHUNK = 1 << 20

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ShardSource:
    """What a shard is, for the index to record what it was built from.

    ``checksum`` is prefixed with its kind: ``sha256:<hex>`` (the Hub's LFS metadata; a local file's
    bytes), ``etag:<value>`` (an S3 or GCS object), ``git-blob:<sha1>`` (a Hub file kept in git rather
    than LFS).  ``dataset`` and ``revision`` come from an ``hf://`` URL (a branch or tag resolved to its
    commit) or a Hugging Face cache path (``.../datasets--<org>--<name>/snapshots/<revision>/...``),
    else they are empty.
    """

    location: str
    size: int
    checksum: str
    dataset: str = ""
    revision: str = ""


def is_url(text: str) -> bool:
    """Whether ``text`` names a shard by URL (``scheme://...``) rather than by local path."""
    return "://" in text


def expand_url(pattern: str) -> list[str]:
    """The shard URLs a URL names, sorted: the URL of one file, a glob (``*`` and ``?`` within a path
    segment, ``[...]``, ``**`` for any number of folders), or a folder (every ``*.parquet`` under it).

    Raises:
        InvalidInput: an unknown scheme, or nothing matches (a missing file, folder, bucket, repository
            or revision).
        WhenceError: the optional package the scheme needs is missing, or the server could not be
            reached or refused the request.
    """
    backend, path = _backend(pattern)
    return backend.expand(pattern, path)


def arrow_source(location: str) -> tuple[str, Any]:
    """``(path, filesystem)`` for :class:`pyarrow.parquet.ParquetFile`: the path of the shard within a
    pyarrow filesystem, and that filesystem (``None``: the local one).  pyarrow opens the file through
    the filesystem and closes it with the :class:`~pyarrow.parquet.ParquetFile`."""
    if not is_url(location):
        return location, None
    backend, path = _backend(location)
    return backend.arrow(location, path)


def size_of(location: str) -> int:
    """The shard's size in bytes."""
    if not is_url(location):
        return os.stat(location).st_size
    backend, path = _backend(location)
    return backend.size(location, path)


def describe(location: str) -> ShardSource:
    """The shard's size, checksum, dataset and revision (see :class:`ShardSource`).

    A local file's checksum is its sha256, computed by reading it through; a remote one's is what the
    source already holds (no download).
    """
    if not is_url(location):
        return _local_source(location, location)
    backend, path = _backend(location)
    return backend.describe(location, path)


# -- shared ---------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:400] + "..."


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regular expression for a ``/``-separated glob: ``*`` and ``?`` stay within one segment,
    ``[...]`` is a character class (``[!...]`` negated), a ``**`` segment matches any number of
    segments, none included."""
    out: list[str] = []
    segments = pattern.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        j = 0
        while j < len(seg):
            ch = seg[j]
            close = seg.find("]", j + 2 if seg[j + 1 : j + 2] in ("!", "]") else j + 1)
            if ch == "*":
                out.append("[^/]*")
            elif ch == "?":
                out.append("[^/]")
            elif ch == "[" and close > 0:
                body = seg[j + 1 : close]
                negate = body.startswith("!")
                body = (body[1:] if negate else body).replace("\\", "\\\\")
                out.append(("[^/" if negate else "[") + body + "]")
                j = close
            else:
                out.append(re.escape(ch))
            j += 1
        if not last:
            out.append("/")
    return re.compile("".join(out))


def _split_glob(path: str) -> tuple[str, str | None]:
    """``(base, glob)``: the segments before the first one with a glob character, and the rest
    (``None`` when the path has none)."""
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if _GLOB.search(seg):
            return "/".join(segments[:i]), "/".join(segments[i:])
    return path, None


def _select(pattern: str, base: str, glob: str | None, files: list[str]) -> list[str]:
    """The matching files among ``files`` (paths under ``base``), sorted; none is an error."""
    if glob is None:
        hits = [f for f in files if f.endswith(".parquet")]
    else:
        rx = glob_regex(glob)
        prefix = base + "/" if base else ""
        hits = [f for f in files if f.startswith(prefix) and rx.fullmatch(f[len(prefix) :])]
    if not hits:
        raise InvalidInput(f"{pattern}: no file matches")
    return sorted(hits)


def _local_source(location: str, path: str) -> ShardSource:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            for chunk in iter(functools.partial(f.read, _CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInput(f"{location}: cannot read ({exc.strerror or exc})") from exc
    dataset = revision = ""
    # The path as given first: a cache's snapshot files are links into its blobs/ folder.
    m = _HF_CACHE.search(Path(os.path.abspath(path)).as_posix()) or _HF_CACHE.search(
        Path(path).resolve().as_posix()
    )
    if m:
        dataset, revision = "/".join(m.group(2).split("--")), m.group(3)
    return ShardSource(location, size, f"sha256:{digest.hexdigest()}", dataset, revision)


class _Backend(abc.ABC):
    """One scheme: ``path`` is the URL without ``scheme://``."""

    @abc.abstractmethod
    def expand(self, pattern: str, path: str) -> list[str]:
        """The shard URLs ``pattern`` names (see :func:`expand_url`)."""

    @abc.abstractmethod
    def arrow(self, url: str, path: str) -> tuple[str, Any]:
        """See :func:`arrow_source`."""

    @abc.abstractmethod
    def size(self, url: str, path: str) -> int:
        """See :func:`size_of`."""

    @abc.abstractmethod
    def describe(self, url: str, path: str) -> ShardSource:
        """See :func:`describe`."""


def _backend(url: str) -> tuple[_Backend, str]:
    scheme, sep, path = url.partition("://")
    backend = _BACKENDS.get(scheme.lower()) if sep else None
    if backend is None:
        raise InvalidInput(
            f"{url}: shards are read from local paths or {', '.join(s + '://' for s in SCHEMES)} URLs"
        )
    return backend(), path


# -- file:// --------------------------------------------------------------------------------------


class _File(_Backend):
    """``file:///absolute/path`` (or ``file://localhost/...``); ``%XX`` escapes are decoded."""

    @staticmethod
    def local(url: str, path: str) -> str:
        host, slash, rest = path.partition("/")
        if host not in ("", "localhost") or not slash:
            raise InvalidInput(f"{url}: a file:// URL names a local absolute path (file:///path)")
        return unquote("/" + rest)

    def expand(self, pattern: str, path: str) -> list[str]:
        local = self.local(pattern, path)
        base, glob = _split_glob(local)
        root = Path(base or "/")
        if glob is None and root.is_file():
            return [root.as_uri()]
        if not root.is_dir():
            raise InvalidInput(f"{pattern}: no file matches")
        files = sorted(p.as_posix() for p in root.rglob("*") if p.is_file())
        return [Path(p).as_uri() for p in _select(pattern, base, glob, files)]

    def arrow(self, url: str, path: str) -> tuple[str, Any]:
        return self.local(url, path), None

    def size(self, url: str, path: str) -> int:
        return os.stat(self.local(url, path)).st_size

    def describe(self, url: str, path: str) -> ShardSource:
        return _local_source(url, self.local(url, path))


# -- s3:// and gs:// (pyarrow's native filesystems) -----------------------------------------------


class _Native(_Backend):
    """A bucket read through one of pyarrow's own filesystems; the path is ``bucket/key``."""

    scheme = ""
    service = ""

    @abc.abstractmethod
    def filesystem(self, url: str, bucket: str) -> Any:
        """pyarrow's filesystem for ``bucket`` (cached per configuration)."""

    def call(self, url: str, fn: Callable[[], T]) -> T:
        import pyarrow as pa

        try:
            return fn()
        except FileNotFoundError as exc:
            raise InvalidInput(f"{url}: no such object ({_one_line(exc)})") from exc
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise WhenceError(f"{url}: cannot read from {self.service}: {_one_line(exc)}") from exc

    @staticmethod
    def _bucket(url: str, path: str) -> str:
        bucket = path.split("/", 1)[0]
        if not bucket or _GLOB.search(bucket):
            raise InvalidInput(f"{url}: expected {url.split('://')[0]}://BUCKET/KEY")
        return bucket

    def expand(self, pattern: str, path: str) -> list[str]:
        import pyarrow.fs as pafs

        base, glob = _split_glob(path.rstrip("/") if glob_free(path) else path)
        fs = self.filesystem(pattern, self._bucket(pattern, base or path))
        if glob is None and self.call(pattern, lambda: fs.get_file_info(base)).type == pafs.FileType.File:
            return [f"{self.scheme}://{base}"]
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        listing = self.call(pattern, lambda: fs.get_file_info(selector))
        files = [i.path for i in listing if i.type == pafs.FileType.File]
        return [f"{self.scheme}://{p}" for p in _select(pattern, base, glob, files)]

    def arrow(self, url: str, path: str) -> tuple[str, Any]:
        import pyarrow.fs as pafs

        native = self.filesystem(url, self._bucket(url, path))
        return path, pafs.PyFileSystem(_native_handler()(native, url, self))

    def _info(self, url: str, path: str) -> Any:
        import pyarrow.fs as pafs

        fs = self.filesystem(url, self._bucket(url, path))
        info = self.call(url, lambda: fs.get_file_info(path))
        if info.type != pafs.FileType.File:
            raise InvalidInput(f"{url}: no such object")
        return info

    def size(self, url: str, path: str) -> int:
        return int(self._info(url, path).size)

    def describe(self, url: str, path: str) -> ShardSource:
        size = self.size(url, path)
        fs = self.filesystem(url, self._bucket(url, path))

        def etag() -> str:
            with fs.open_input_file(path) as f:
                meta = f.metadata()
            for key, value in (meta or {}).items():
                if _text(key).lower() == "etag":
                    return _text(value).strip('"')
            return ""

        tag = self.call(url, etag)
        if not tag:
            raise WhenceError(f"{url}: the {self.service} server gave no ETag for the object")
        return ShardSource(url, size, f"etag:{tag}")


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _endpoint(value: str, default_scheme: str) -> tuple[str, str]:
    """``(host[:port], scheme)`` of an endpoint given as a URL or a bare ``host:port``."""
    if "://" not in value:
        value = f"{default_scheme}://{value}"
    parts = urlsplit(value)
    return parts.netloc, parts.scheme or default_scheme


_FS_LOCK = threading.Lock()
_FILESYSTEMS: dict[tuple[object, ...], Any] = {}


def _cached(key: tuple[object, ...], make: Callable[[], Any]) -> Any:
    """One filesystem per configuration (the environment it was made from is part of ``key``)."""
    with _FS_LOCK:
        fs = _FILESYSTEMS.get(key)
        if fs is None:
            fs = _FILESYSTEMS[key] = make()
        return fs


class _S3(_Native):
    scheme = "s3"
    service = "S3"

    def filesystem(self, url: str, bucket: str) -> Any:
        env = os.environ
        config = tuple(
            sorted((k, v) for k, v in env.items() if k.startswith("AWS_") or k.startswith("WHENCE_S3"))
        )
        return _cached(("s3", bucket, config), lambda: self._make(url, bucket))

    def _make(self, url: str, bucket: str) -> Any:
        import pyarrow.fs as pafs

        env = os.environ
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or ""
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        anonymous = env.get("WHENCE_S3_ANONYMOUS", "") == "1"
        try:
            import boto3
        except ImportError:  # the AWS SDK's own credential chain decides
            boto3 = None
        if boto3 is not None and not anonymous:
            # As for the --blobs store: the credentials boto3 finds, else unsigned requests.  The SDK
            # finds the same ones itself (and refreshes temporary ones), so only the choice is taken.
            session = boto3.session.Session()
            region = region or session.region_name or ""
            anonymous = session.get_credentials() is None
        if not region:
            region = "us-east-1" if endpoint else self._region(url, bucket)
        options: dict[str, Any] = {
            "region": region,
            "anonymous": anonymous,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(
                max_attempts=int(env.get("AWS_MAX_ATTEMPTS") or 8)
            ),
            "connect_timeout": 10,
            "request_timeout": 60,
        }
        if endpoint:
            options["endpoint_override"], options["scheme"] = _endpoint(endpoint, "https")
        return pafs.S3FileSystem(**options)

    def _region(self, url: str, bucket: str) -> str:
        import pyarrow.fs as pafs

        return str(self.call(url, lambda: pafs.resolve_s3_region(bucket)))


class _Gcs(_Native):
    scheme = "gs"
    service = "GCS"

    def filesystem(self, url: str, bucket: str) -> Any:
        env = os.environ
        emulator = env.get("STORAGE_EMULATOR_HOST", "")
        anonymous = bool(emulator) or env.get("WHENCE_GCS_ANONYMOUS", "") == "1"
        seconds = float(env.get("WHENCE_GCS_RETRY_SECONDS") or 60)
        key = ("gs", emulator, anonymous, seconds)
        return _cached(key, lambda: self._make(emulator, anonymous, seconds))

    @staticmethod
    def _make(emulator: str, anonymous: bool, seconds: float) -> Any:
        import datetime

        import pyarrow.fs as pafs

        options: dict[str, Any] = {
            "anonymous": anonymous,
            "retry_time_limit": datetime.timedelta(seconds=seconds),
        }
        if emulator:
            options["endpoint_override"], options["scheme"] = _endpoint(emulator, "http")
        return pafs.GcsFileSystem(**options)


# -- hf:// (huggingface_hub's HfFileSystem, through fsspec) ---------------------------------------


def _hf() -> Any:
    try:
        import huggingface_hub
    except ImportError as exc:
        raise WhenceError(
            "reading hf:// shards needs huggingface_hub: pip install 'whence[hf]' "
            "(or: pip install huggingface_hub)"
        ) from exc
    return huggingface_hub


def _hf_endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def _hf_filesystem() -> Any:
    """An :class:`~huggingface_hub.HfFileSystem` for ``HF_ENDPOINT`` as it is now (fsspec keeps one
    instance per endpoint and thread, with its listing cache)."""
    return _hf().HfFileSystem(endpoint=_hf_endpoint())


class _Hf(_Backend):
    def _fail(self, url: str, exc: BaseException) -> NoReturn:
        """Raise the one-line :mod:`whence.errors` error for an exception from the Hub client."""
        hub_errors = _hf().errors
        cause = exc.__cause__ if isinstance(exc, FileNotFoundError) else exc
        if isinstance(cause, hub_errors.RevisionNotFoundError):
            raise InvalidInput(f"{url}: revision not found on the Hub") from exc
        if isinstance(cause, hub_errors.RepositoryNotFoundError):
            raise InvalidInput(
                f"{url}: repository not found on the Hub (a private or gated one needs HF_TOKEN)"
            ) from exc
        if isinstance(exc, FileNotFoundError | hub_errors.EntryNotFoundError):
            raise InvalidInput(f"{url}: no such file on the Hub") from exc
        if isinstance(exc, ValueError | NotImplementedError) and not isinstance(exc, OSError):
            raise InvalidInput(f"{url}: {_one_line(exc)}") from exc
        where = _hf_endpoint() or _hf().constants.ENDPOINT
        raise WhenceError(f"{url}: cannot read from the Hub at {where}: {_one_line(exc)}") from exc

    def call(self, url: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except WhenceError:
            raise
        except Exception as exc:  # the Hub client raises httpx, OSError and its own errors
            self._fail(url, exc)

    def expand(self, pattern: str, path: str) -> list[str]:
        fs = _hf_filesystem()
        base, glob = _split_glob(path.rstrip("/") if glob_free(path) else path)

        def listing() -> list[str]:
            info = fs.info(base)
            if info["type"] == "file":
                return [base] if glob is None else []
            return list(fs.find(base, detail=False))

        files = self.call(pattern, listing)
        if glob is None and files == [base]:
            return [f"hf://{base}"]
        return [f"hf://{p}" for p in _select(pattern, base, glob, files)]

    def arrow(self, url: str, path: str) -> tuple[str, Any]:
        import pyarrow.fs as pafs

        return path, pafs.PyFileSystem(_hf_handler()(_hf_filesystem(), url, self))

    def size(self, url: str, path: str) -> int:
        fs = _hf_filesystem()
        info = self.call(url, lambda: fs.info(path))
        if info["type"] != "file":
            raise InvalidInput(f"{url}: not a file")
        return int(info["size"])

    def describe(self, url: str, path: str) -> ShardSource:
        hub = _hf()
        fs = _hf_filesystem()
        resolved = self.call(url, lambda: fs.resolve_path(path))
        if not resolved.path_in_repo:
            raise InvalidInput(f"{url}: names a repository, not a file")
        api = hub.HfApi(endpoint=_hf_endpoint())
        kind = resolved.repo_type

        def entry() -> Any:
            found = api.get_paths_info(
                resolved.repo_id, [resolved.path_in_repo], revision=resolved.revision, repo_type=kind
            )
            if not found or not isinstance(found[0], hub.hf_api.RepoFile):
                raise FileNotFoundError(url)
            return found[0]

        item = self.call(url, entry)
        revision = resolved.revision
        if not _SHA1.fullmatch(revision):
            info = self.call(url, lambda: api.repo_info(resolved.repo_id, revision=revision, repo_type=kind))
            revision = info.sha or revision
        checksum = f"sha256:{item.lfs.sha256}" if item.lfs is not None else f"git-blob:{item.blob_id}"
        return ShardSource(url, int(item.size), checksum, resolved.repo_id, revision)


def glob_free(path: str) -> bool:
    """Whether ``path`` has no glob character."""
    return _GLOB.search(path) is None


@functools.cache
def _hf_handler() -> type[Any]:
    """pyarrow's :class:`~pyarrow.fs.FSSpecHandler` over an ``HfFileSystem``, as a class made on first
    use (so that importing this module does not import pyarrow): files are opened without fsspec's
    read-ahead (pyarrow asks for the exact ranges it needs), and the Hub client's errors become one-line
    :mod:`whence.errors` errors naming the shard's URL (pyarrow passes an exception raised in a handler
    through to its caller unchanged)."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    class HfHandler(pafs.FSSpecHandler):  # type: ignore[misc]
        def __init__(self, fs: Any, url: str, backend: _Hf) -> None:
            super().__init__(fs)
            self.url = url
            self.backend = backend

        def get_file_info(self, paths: Any) -> Any:
            return self.backend.call(self.url, lambda: super(HfHandler, self).get_file_info(paths))

        def get_file_info_selector(self, selector: Any) -> Any:
            return self.backend.call(
                self.url, lambda: super(HfHandler, self).get_file_info_selector(selector)
            )

        def open_input_file(self, path: str) -> Any:
            def opened() -> Any:
                if not self.fs.isfile(path):
                    raise FileNotFoundError(path)
                return self.fs.open(path, mode="rb", cache_type="none")

            raw = self.backend.call(self.url, opened)
            return pa.PythonFile(_GuardedFile(raw, self.url, self.backend), mode="r")

        def open_input_stream(self, path: str) -> Any:
            return self.open_input_file(path)

    return HfHandler


@functools.cache
def _native_handler() -> type[Any]:
    """A read-only :class:`pyarrow.fs.FileSystemHandler` over one of pyarrow's native filesystems, made
    on first use.  Opening a file and looking it up go through it, so that their errors (a server that
    stopped answering, credentials refused) are raised as one-line :mod:`whence.errors` errors naming
    the shard's URL rather than as a parquet file pyarrow could not read; the file it opens is the
    native one, so every read stays in C++."""
    import pyarrow.fs as pafs

    class NativeHandler(pafs.FileSystemHandler):  # type: ignore[misc]
        def __init__(self, fs: Any, url: str, backend: _Native) -> None:
            self.fs = fs
            self.url = url
            self.backend = backend

        def __eq__(self, other: object) -> bool:
            return isinstance(other, NativeHandler) and self.fs.equals(other.fs)

        def __ne__(self, other: object) -> bool:
            return not self == other

        __hash__ = None  # type: ignore[assignment]

        def get_type_name(self) -> str:
            return f"whence+{self.fs.type_name}"

        def normalize_path(self, path: str) -> str:
            return str(self.fs.normalize_path(path))

        def get_file_info(self, paths: Any) -> Any:
            return self.backend.call(self.url, lambda: self.fs.get_file_info(paths))

        def get_file_info_selector(self, selector: Any) -> Any:
            return self.backend.call(self.url, lambda: self.fs.get_file_info(selector))

        def open_input_file(self, path: str) -> Any:
            return self.backend.call(self.url, lambda: self.fs.open_input_file(path))

        def open_input_stream(self, path: str) -> Any:
            return self.backend.call(self.url, lambda: self.fs.open_input_stream(path))

        def _read_only(self, *args: Any) -> Any:
            raise PermissionError(f"{self.url}: shards are read, never written")

        create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
        delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only

    return NativeHandler


class _GuardedFile:
    """A read-only file object whose reads turn the Hub client's errors into :mod:`whence.errors`."""

    def __init__(self, raw: Any, url: str, backend: _Hf) -> None:
        self._raw = raw
        self._url = url
        self._backend = backend

    def read(self, size: int = -1) -> bytes:
        return bytes(self._backend.call(self._url, lambda: self._raw.read(size)))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._backend.call(self._url, lambda: self._raw.seek(offset, whence)))

    def tell(self) -> int:
        return int(self._raw.tell())

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


_BACKENDS: dict[str, type[_Backend]] = {"file": _File, "s3": _S3, "gs": _Gcs, "hf": _Hf}
