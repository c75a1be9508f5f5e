"""Blob stores: file contents by ``blob_id``, laid out like Software Heritage's bucket.

The Stack v2's shards carry no file contents: each row names a ``blob_id`` whose bytes live in Software
Heritage's S3 bucket at ``content/{blob_id}``, gzip-compressed, in the file's original encoding.  Two
stores read that layout:

* :class:`LocalBlobs` -- a folder holding ``content/{blob_id}`` files (gzip, or plain bytes);
* :class:`S3Blobs` -- an ``s3://bucket[/prefix]`` URL read with ``boto3``: with the credentials boto3
  finds (environment, profile, instance role), else anonymously (the Software Heritage bucket is public).
  ``AWS_ENDPOINT_URL`` points it at another S3-compatible server (MinIO, Ceph, a local test server).

Errors::

    MissingBlob (OSError)       the store answered: no such blob -> the row is skipped as ``missing_blob``
    BlobStoreError (WhenceError) the store could not answer (network, permissions) -> the build stops;
                                 running it again resumes, nothing is skipped by mistake
"""

from __future__ import annotations

import abc
import gzip
import os
import re
import threading
import zlib
from pathlib import Path
from typing import Any

from whence.errors import InvalidInput, WhenceError

_BLOB_ID = re.compile(r"[0-9A-Za-z_.-]{1,128}")


class MissingBlob(OSError):
    """The blob store has no blob with this id."""


class BlobStoreError(WhenceError):
    """The blob store could not be read (not a missing blob: the build must not go on without it)."""


class CorruptBlob(ValueError):
    """A blob that is not valid gzip."""


def gunzip(data: bytes) -> bytes:
    """``data`` decompressed when it is gzip (Software Heritage's format), else unchanged."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptBlob(str(exc)) from exc


def _check_id(blob_id: str) -> str:
    # A blob id becomes a file name or an object key: refuse anything that could leave the layout.
    if not _BLOB_ID.fullmatch(blob_id) or blob_id in (".", ".."):
        raise MissingBlob(f"not a blob id: {blob_id!r}")
    return blob_id


class BlobStore(abc.ABC):
    """Contents by blob id (thread-safe: ingestion workers read concurrently)."""

    @abc.abstractmethod
    def get(self, blob_id: str) -> bytes:
        """The blob's bytes, decompressed, in the file's original encoding.

        Raises:
            MissingBlob: there is no such blob.
            CorruptBlob: the blob is not valid gzip.
            BlobStoreError: the store could not be read.
        """

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections."""


class LocalBlobs(BlobStore):
    """A folder laid out like the bucket: ``ROOT/content/{blob_id}``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not (self.root / "content").is_dir():
            raise InvalidInput(
                f"{self.root}: not a blob store (expected a folder with content/{{blob_id}} files)"
            )

    def get(self, blob_id: str) -> bytes:
        path = self.root / "content" / _check_id(blob_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise MissingBlob(f"{path}: no such blob") from exc
        except OSError as exc:
            raise BlobStoreError(f"{path}: cannot read blob ({exc.strerror})") from exc
        return gunzip(data)

    def __repr__(self) -> str:
        return f"LocalBlobs({str(self.root)!r})"


class S3Blobs(BlobStore):
    """An ``s3://bucket[/prefix]`` URL; objects at ``prefix/content/{blob_id}``.

    Args:
        url: the bucket URL (Software Heritage: ``s3://softwareheritage``).
        anonymous: force unsigned requests; default: sign when boto3 finds credentials, else unsigned.
    """

    def __init__(self, url: str, *, anonymous: bool | None = None) -> None:
        m = re.fullmatch(r"s3://([^/]+)/?(.*)", url)
        if not m:
            raise InvalidInput(f"{url}: not an s3://bucket[/prefix] URL")
        self.url = url
        self.bucket = m.group(1)
        self.prefix = m.group(2).strip("/")
        try:
            import boto3
            import botocore
            from botocore.config import Config
        except ImportError as exc:
            raise WhenceError(
                "reading blobs from S3 needs boto3: pip install 'whence[s3]' (or: pip install boto3)"
            ) from exc
        self._botocore = botocore
        session = boto3.session.Session()
        if anonymous is None:
            anonymous = os.environ.get("WHENCE_S3_ANONYMOUS", "") == "1" or session.get_credentials() is None
        config = Config(
            # botocore retries throttling and connection errors with backoff; AWS_MAX_ATTEMPTS overrides.
            retries={"max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS") or 8), "mode": "adaptive"},
            max_pool_connections=64,
            connect_timeout=10,
            read_timeout=60,
            signature_version=botocore.UNSIGNED if anonymous else None,
        )
        self._lock = threading.Lock()
        # The Software Heritage bucket is in us-east-1; an explicit AWS_REGION / profile region wins.
        region = session.region_name or "us-east-1"
        self._client: Any = session.client("s3", config=config, region_name=region)

    def key(self, blob_id: str) -> str:
        """The object key of a blob."""
        return "/".join(p for p in (self.prefix, "content", _check_id(blob_id)) if p)

    def get(self, blob_id: str) -> bytes:
        key = self.key(blob_id)
        errors = self._botocore.exceptions
        try:
            obj = self._client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = obj["Body"].read()
        except errors.ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise MissingBlob(f"s3://{self.bucket}/{key}: no such blob") from exc
            raise BlobStoreError(
                f"s3://{self.bucket}/{key}: {code or 'error'}: {err.get('Message', exc)}"
            ) from exc
        except errors.BotoCoreError as exc:  # connection refused, timeouts after retries, no region, ...
            raise BlobStoreError(f"s3://{self.bucket}/{key}: {exc}") from exc
        return gunzip(data)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"S3Blobs({self.url!r})"


def open_blobs(spec: str | os.PathLike[str]) -> BlobStore:
    """A blob store from a folder path or an ``s3://`` URL."""
    text = str(spec)
    if text.startswith("s3://"):
        return S3Blobs(text)
    if "://" in text:
        raise InvalidInput(f"{text}: blob stores are a folder or an s3:// URL")
    if not Path(text).exists():
        raise InvalidInput(f"{text}: no such blob store folder")
    return LocalBlobs(text)
