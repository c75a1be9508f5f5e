"""A small S3-compatible HTTP server over a local folder, for testing the real S3 client code paths.

It answers, path-style, what boto3 and pyarrow's S3 filesystem (the AWS C++ SDK) send to a real bucket:

* ``GET``/``HEAD /{bucket}/{key}``: the object's bytes, with ``ETag``, ``Last-Modified`` and
  ``Accept-Ranges``; a ``Range: bytes=A-B`` header gets ``206`` and that slice (``416`` past the end);
* ``HEAD /{bucket}``: the bucket exists;
* ``GET /{bucket}?list-type=2&prefix=P[&delimiter=/][&max-keys=N][&continuation-token=T]``: ListObjectsV2;
* S3's XML error document (``NoSuchKey``/``NoSuchBucket``, 404) otherwise.

The requests it served are recorded (``"GET /bucket/key"``), and so are the byte ranges it sent
(:attr:`S3Folder.ranges`), so tests can check that the client really went over the wire, and how much
of a file it read.
"""

from __future__ import annotations

import hashlib
import re
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from tests import folderserver

#: Keys a ListObjectsV2 page holds unless the client asks for fewer (S3's own limit is 1,000; a small
#: one makes the tests follow continuation tokens).
PAGE_KEYS = 1000


def etag_of(data: bytes) -> str:
    """The ETag S3 gives an object uploaded in one part: its MD5, quoted."""
    return '"' + hashlib.md5(data).hexdigest() + '"'


class S3Folder(folderserver.Folder):
    """Serve ``root/{bucket}/{key}`` as S3 objects on 127.0.0.1 (a free port) until :meth:`stop`."""

    def __init__(self, root: Path, *, page_keys: int = PAGE_KEYS) -> None:
        super().__init__(root)  # ranges: (bucket/key, first, last)
        self.page_keys = page_keys
        outer = self

        class Handler(folderserver.Handler):
            # HTTP/1.0: one request per connection, so that a stopped server is gone for its clients too
            # (no kept-alive connection goes on being answered by a handler thread).

            def _error(self, status: int, code: str, message: str) -> None:
                self._send(status, _error(code, message), {"Content-Type": "application/xml"})

            def _handle(self, head: bool) -> None:
                split = urlsplit(self.path)
                path = unquote(split.path).lstrip("/")
                bucket, _, key = path.partition("/")
                outer.requests.append(f"{self.command} /{bucket}/{key}")
                base = (outer.root / bucket).resolve()
                if not bucket or not base.is_dir():
                    return self._error(404, "NoSuchBucket", "The specified bucket does not exist")
                if not key:
                    query = parse_qs(split.query, keep_blank_values=True)
                    if head or "list-type" not in query:
                        return self._send(200, b"", {"x-amz-bucket-region": "us-east-1"})
                    return self._list(bucket, base, query)
                target = (base / key).resolve()
                if not target.is_relative_to(base) or not target.is_file():
                    return self._error(404, "NoSuchKey", "The specified key does not exist.")
                data = target.read_bytes()
                headers = {
                    "Content-Type": "binary/octet-stream",
                    "ETag": etag_of(data),
                    "Last-Modified": formatdate(target.stat().st_mtime, usegmt=True),
                    "Accept-Ranges": "bytes",
                }
                first, last, status = 0, len(data) - 1, 200
                wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "") or "")
                if wanted and wanted.group(1):
                    first = int(wanted.group(1))
                    last = min(int(wanted.group(2)), len(data) - 1) if wanted.group(2) else len(data) - 1
                    status = 206
                elif wanted and wanted.group(2):  # the last N bytes
                    first, status = max(0, len(data) - int(wanted.group(2))), 206
                if status == 206:
                    if first >= len(data):
                        headers["Content-Range"] = f"bytes */{len(data)}"
                        return self._error(416, "InvalidRange", "The requested range is not satisfiable")
                    headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
                outer.send_slice(self, f"{bucket}/{key}", status, data, first, last, headers)

            def _list(self, bucket: str, base: Path, query: dict[str, list[str]]) -> None:
                prefix = query.get("prefix", [""])[0]
                delimiter = query.get("delimiter", [""])[0]
                limit = min(int(query.get("max-keys", [str(outer.page_keys)])[0]), outer.page_keys)
                after = query.get("continuation-token", [""])[0] or query.get("start-after", [""])[0]
                keys = sorted(
                    p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file() or p.is_symlink()
                )
                entries = folderserver.listing(keys, prefix, delimiter, after)
                page, more = entries[:limit], len(entries) > limit
                parts = [
                    '<?xml version="1.0" encoding="UTF-8"?>',
                    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                    f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
                    f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{limit}</MaxKeys>",
                    f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>",
                ]
                if delimiter:
                    parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
                if more:
                    parts.append(f"<NextContinuationToken>{escape(page[-1][0])}</NextContinuationToken>")
                for name, is_prefix in page:
                    if is_prefix:
                        parts.append(f"<CommonPrefixes><Prefix>{escape(name)}</Prefix></CommonPrefixes>")
                        continue
                    target = base / name
                    data = target.read_bytes()
                    parts.append(
                        f"<Contents><Key>{escape(name)}</Key><LastModified>{_iso(target)}</LastModified>"
                        f"<ETag>{escape(etag_of(data))}</ETag><Size>{len(data)}</Size>"
                        f"<StorageClass>STANDARD</StorageClass></Contents>"
                    )
                parts.append("</ListBucketResult>")
                self._send(200, "".join(parts).encode(), {"Content-Type": "application/xml"})

            def do_GET(self) -> None:
                self._handle(head=False)

            def do_HEAD(self) -> None:
                self._handle(head=True)

        self.serve(Handler)


def _iso(path: Path) -> str:
    import datetime

    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        "<RequestId>whence-test</RequestId></Error>"
    ).encode()
