"""A small S3-compatible HTTP server over a local folder, for testing the real S3 client code path.

It answers path-style ``GET``/``HEAD /{bucket}/{key}`` with the object's bytes, and S3's XML error
document (``NoSuchKey``/``NoSuchBucket``, 404) otherwise -- what boto3 sees from a real bucket.  The
requests it served are recorded, so tests can check that the client really went over the wire.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


class S3Folder:
    """Serve ``root/{bucket}/{key}`` as S3 objects on 127.0.0.1 (a free port) until :meth:`stop`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _object(self) -> tuple[int, bytes, str]:
                path = unquote(urlsplit(self.path).path).lstrip("/")
                bucket, _, key = path.partition("/")
                outer.requests.append(f"{self.command} /{bucket}/{key}")
                base = (outer.root / bucket).resolve()
                if not bucket or not base.is_dir():
                    return (
                        404,
                        _error("NoSuchBucket", "The specified bucket does not exist"),
                        "application/xml",
                    )
                target = (base / key).resolve()
                if not key or not target.is_relative_to(base) or not target.is_file():
                    return 404, _error("NoSuchKey", "The specified key does not exist."), "application/xml"
                return 200, target.read_bytes(), "binary/octet-stream"

            def do_GET(self) -> None:
                status, body, ctype = self._object()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_HEAD(self) -> None:
                status, body, ctype = self._object()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None  # keep test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


def _error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        "<RequestId>whence-test</RequestId></Error>"
    ).encode()
