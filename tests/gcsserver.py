"""A small Google Cloud Storage JSON API server over a local folder, for testing the real GCS client.

It answers what pyarrow's ``GcsFileSystem`` (google-cloud-cpp's storage client) sends to
``storage.googleapis.com``, over plain HTTP (``endpoint_override``, ``scheme="http"``):

* ``GET /storage/v1/b/{bucket}/o/{object}``: the object's metadata (``name``, ``size``, ``etag``,
  ``generation``, ``md5Hash``, ``updated``, ...);
* ``GET /storage/v1/b/{bucket}/o/{object}?alt=media`` (and the ``/download/storage/v1/...`` form): its
  bytes, a ``Range: bytes=A-B`` header answered with ``206`` and that slice;
* ``GET /storage/v1/b/{bucket}/o?prefix=P[&delimiter=/][&pageToken=T][&maxResults=N]``: a listing
  (``items``, ``prefixes``, ``nextPageToken``);
* ``GET /storage/v1/b/{bucket}``: the bucket;
* the JSON API's error document (404) otherwise.

Requests and the byte ranges sent are recorded, as :class:`tests.s3server.S3Folder` does, and served
at ``GET /_test/ranges``.

Run it in a process of its own (``python -m tests.gcsserver ROOT``, which prints its URL): pyarrow's GCS
client keeps the interpreter lock while it waits for some answers, so a server thread in the client's
own process would never get to answer them.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests import folderserver

PAGE_ITEMS = 1000


def etag_of(data: bytes) -> str:
    """The object's ``etag`` as this server reports it (GCS's own is opaque: any stable string will do)."""
    return base64.b64encode(hashlib.sha256(data).digest()[:12]).decode()


class GcsFolder(folderserver.Folder):
    """Serve ``root/{bucket}/{object}`` as GCS objects on 127.0.0.1 (a free port) until :meth:`stop`."""

    def __init__(self, root: Path, *, page_items: int = PAGE_ITEMS) -> None:
        super().__init__(root)  # ranges: (bucket/object, first, last)
        self.page_items = page_items
        outer = self

        class Handler(folderserver.Handler):
            def _json(self, status: int, doc: dict[str, Any]) -> None:
                self._send(status, json.dumps(doc).encode(), {"Content-Type": "application/json"})

            def _missing(self, what: str) -> None:
                self._json(404, {"error": {"code": 404, "message": f"{what}", "errors": [
                    {"domain": "global", "reason": "notFound", "message": what}]}})  # fmt: skip

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                query = parse_qs(split.query, keep_blank_values=True)
                if split.path == "/_test/ranges":
                    return self._json(200, {"ranges": outer.ranges, "requests": outer.requests})
                outer.requests.append(f"{self.command} {split.path} {self.headers.get('Range', '')}".rstrip())
                m = re.fullmatch(r"(?:/download)?/storage/v1/b/([^/]+)(?:/o(?:/(.+))?)?", split.path)
                if not m:
                    return self._missing(f"no route {split.path}")
                bucket, name = unquote(m.group(1)), unquote(m.group(2) or "")
                base = (outer.root / bucket).resolve()
                if not base.is_dir():
                    return self._missing(f"The specified bucket does not exist: {bucket}")
                if not name and "/o" not in split.path:
                    return self._json(200, {"kind": "storage#bucket", "name": bucket, "id": bucket})
                if not name:
                    return self._list(bucket, base, query)
                target = (base / name).resolve()
                if not target.is_relative_to(base) or not target.is_file():
                    return self._missing(f"No such object: {bucket}/{name}")
                data = target.read_bytes()
                if query.get("alt", [""])[0] != "media":
                    return self._json(200, _resource(bucket, name, target, data))
                first, last, status = 0, len(data) - 1, 200
                headers = {"Content-Type": "application/octet-stream", "ETag": etag_of(data),
                           "x-goog-generation": str(_generation(target))}  # fmt: skip
                wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "") or "")
                if wanted:
                    first = int(wanted.group(1))
                    last = min(int(wanted.group(2)), len(data) - 1) if wanted.group(2) else len(data) - 1
                    if first >= len(data):
                        return self._json(416, {"error": {"code": 416, "message": "range not satisfiable"}})
                    status = 206
                    headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
                outer.send_slice(self, f"{bucket}/{name}", status, data, first, last, headers)

            def _list(self, bucket: str, base: Path, query: dict[str, list[str]]) -> None:
                prefix = query.get("prefix", [""])[0]
                delimiter = query.get("delimiter", [""])[0]
                limit = min(int(query.get("maxResults", [str(outer.page_items)])[0]), outer.page_items)
                after = query.get("pageToken", [""])[0]
                names = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
                entries = folderserver.listing(names, prefix, delimiter, after)
                page, more = entries[:limit], len(entries) > limit
                doc: dict[str, Any] = {"kind": "storage#objects"}
                items = [_resource(bucket, n, base / n, (base / n).read_bytes()) for n, p in page if not p]
                prefixes = [n for n, p in page if p]
                if items:
                    doc["items"] = items
                if prefixes:
                    doc["prefixes"] = prefixes
                if more:
                    doc["nextPageToken"] = page[-1][0]
                self._json(200, doc)

        self.serve(Handler)


def _generation(path: Path) -> int:
    return path.stat().st_mtime_ns // 1000


def _resource(bucket: str, name: str, path: Path, data: bytes) -> dict[str, Any]:
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    when = stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    generation = str(_generation(path))
    return {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{generation}",
        "selfLink": f"/storage/v1/b/{bucket}/o/{name}",
        "name": name,
        "bucket": bucket,
        "generation": generation,
        "metageneration": "1",
        "contentType": "application/octet-stream",
        "storageClass": "STANDARD",
        "size": str(len(data)),
        "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
        "etag": etag_of(data),
        "timeCreated": when,
        "updated": when,
    }


def main() -> None:
    """``python -m tests.gcsserver ROOT``: serve ROOT, print the URL, run until stdin closes."""
    import sys

    server = GcsFolder(Path(sys.argv[1]))
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
