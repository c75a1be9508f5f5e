"""Caps on a request's head (request line and header fields), enforced as the bytes arrive.

uvicorn's httptools protocol sets no limit on a request's head, and httptools builds a header value that
arrives in pieces by ``bytes +=``: a 100 MB header took 11 s of CPU on the event loop (200 MB: 48 s,
quadratic), stalling every other request, ``/healthz`` included (issue 15, finding 8). ``CappedHttpTools``
is that protocol with two caps: a head over ``MAX_HEAD_BYTES`` or with more than ``MAX_HEADER_FIELDS``
fields gets ``431 Request Header Fields Too Large`` and the connection is closed, before the app sees
anything. The size is checked twice: after each piece fed to the parser while the head is incomplete, so
the parser never holds more than ``MAX_HEAD_BYTES`` plus one read of a head; and as the parser hands over
the URL and each field, so that a head that arrives whole in one read (a socket's reads take up to 256
KiB) is refused too. ``whence serve`` runs uvicorn with it (``uvicorn_http_options``)."""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100


class _HeadTooLarge(Exception):
    """The request head passed a cap: answer 431 and close."""


class CappedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 to a request head over the caps above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # waiting for (the rest of) a request line and header fields
        self._head_bytes = 0  # bytes of the head so far (at most one read too many: the last one)
        self._head_fields = 0
        self._head_parsed = 0  # bytes of the URL and fields the parser handed over
        self._refused = False

    def on_message_begin(self) -> None:
        self._in_head, self._head_bytes, self._head_fields, self._head_parsed = True, 0, 0, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > MAX_HEADER_FIELDS:
            raise _HeadTooLarge(f"more than {MAX_HEADER_FIELDS} header fields")
        self._parsed(len(name) + len(value) + 4)  # "name: value\r\n"
        super().on_header(name, value)

    def _parsed(self, size: int) -> None:
        """Count ``size`` bytes of the head the parser handed over (whatever the reads were)."""
        self._head_parsed += size
        if self._head_parsed > MAX_HEAD_BYTES:
            raise _HeadTooLarge(f"request head over {MAX_HEAD_BYTES} bytes")

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse(str(exc.__context__))
                return
            self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(f"request head over {MAX_HEAD_BYTES} bytes")

    def _bad_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _refuse(self, why: str) -> None:
        self._refused = True
        self.logger.warning("refused a request: %s", why)
        body = f"431 Request Header Fields Too Large: {why}\n".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()


def uvicorn_http_options() -> dict[str, Any]:
    """The keyword arguments for ``uvicorn.run``/``uvicorn.Config`` that apply these caps."""
    return {"http": CappedHttpTools}
