"""What the local object-store servers of the tests share (:mod:`tests.s3server`, :mod:`tests.gcsserver`,
:mod:`tests.hubserver`): a threaded HTTP server over a folder on a free loopback port, a record of the
requests it served and of the bytes of each object body the client really took."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 16 << 10


def listing(names: list[str], prefix: str, delimiter: str, after: str) -> list[tuple[str, bool]]:
    """An object store's listing of sorted ``names``: ``(name or common prefix, is a prefix)`` of those
    under ``prefix``, names past a ``delimiter`` folded into one common prefix, only those after
    ``after`` (a continuation token)."""
    entries: list[tuple[str, bool]] = []
    for name in names:
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if not entries or entries[-1] != (common, True):
                entries.append((common, True))
        else:
            entries.append((name, False))
    return [e for e in entries if e[0] > after]


class Handler(BaseHTTPRequestHandler):
    """A quiet handler whose :meth:`_send` reports how much of a body the client took."""

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> int:
        """Send a response (its body unless this is a ``HEAD``); returns how many bytes of the body the
        client took before it hung up (a client may read the start of an answer and close)."""
        # A small send buffer: what the client does not read stays here rather than in the kernel, so
        # the bytes counted as sent are close to those the client took.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = 0
        try:
            while sent < len(body) and self.command != "HEAD":
                piece = body[sent : sent + CHUNK]
                self.wfile.write(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return sent

    def log_message(self, format: str, *args: object) -> None:
        return None  # keep test output quiet


class Folder:
    """A server over ``root``, started by :meth:`serve`, until :meth:`stop`.

    Attributes:
        requests: what it served, as each server words it.
        ranges: ``(object, first, last)`` of every object body the client took (``last`` inclusive).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self.ranges: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        """Start answering with ``handler`` on 127.0.0.1, a free port (:attr:`host`, :attr:`url`)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def send_slice(
        self,
        handler: Handler,
        key: str,
        status: int,
        data: bytes,
        first: int,
        last: int,
        headers: dict[str, str],
    ) -> None:
        """Send ``data[first:last + 1]`` of the object ``key``, recorded before it is sent (the client
        cannot have it sooner) and cut down to what the client took if it hangs up early."""
        entry = self.record(key, first, last) if handler.command != "HEAD" else None
        sent = handler._send(status, data[first : last + 1], headers)
        if entry is not None and sent < last - first + 1:
            self.record_cut(entry, first + sent - 1)

    def record(self, key: str, first: int, last: int) -> int:
        """Record a body about to be sent; returns its index in :attr:`ranges`."""
        with self._lock:
            self.ranges.append((key, first, last))
            return len(self.ranges) - 1

    def record_cut(self, entry: int, last: int) -> None:
        """The client took the body of ``entry`` up to ``last`` only."""
        with self._lock:
            key, first, _ = self.ranges[entry]
            self.ranges[entry] = (key, first, last)

    def bytes_sent(self, key: str) -> int:
        """How many bytes of the object ``key`` were sent, over every request."""
        with self._lock:
            return sum(last - first + 1 for k, first, last in self.ranges if k == key)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
