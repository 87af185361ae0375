"""uvicorn's httptools protocol with a time limit on a request's head.

uvicorn limits an idle keep-alive connection (`timeout_keep_alive`) and the service limits a
request body (`serving.middleware.BodyGuard`, 408), but nothing limits the request line and
headers: a client that connects and sends nothing, or sends half its headers and stalls, holds
a connection (and a file descriptor of the worker) for as long as it likes. This protocol
closes such a connection when the head has not arrived in full `HEAD_TIMEOUT_SECONDS` after
the connection was made or the request's first byte arrived.

It also refuses a head over `HEAD_BYTES` (request line and headers) with 431 (httptools, the
parser uvicorn picks, sets no limit). `channelcast serve` and `serving.live` run uvicorn with
`UVICORN_OPTIONS`, which name this protocol.
"""

from __future__ import annotations

import asyncio
from typing import TypedDict

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEAD_BYTES", "HEAD_TIMEOUT_SECONDS", "KEEP_ALIVE_SECONDS", "UVICORN_OPTIONS",
           "HeadTimeoutProtocol", "UvicornOptions"]

HEAD_TIMEOUT_SECONDS = 10.0  # request line and headers must arrive within this
HEAD_BYTES = 16 * 1024  # request line and headers; larger is refused with 431
KEEP_ALIVE_SECONDS = 5  # an idle connection between requests is closed after this
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
              b"connection: close\r\ncontent-length: 45\r\n\r\n"
              b"request line and headers over 16 KiB: refused")


class HeadTimeoutProtocol(HttpToolsProtocol):
    """Closes a connection whose request head is not complete within the time limit."""

    head_timeout = HEAD_TIMEOUT_SECONDS
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is None:  # no head in progress (complete, or none begun)
            return
        self._head_bytes += len(data)
        if self._head_bytes > HEAD_BYTES and not self.transport.is_closing():
            self._disarm()
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request head did not arrive in %.0f s",
                             self.head_timeout)
            self.transport.close()


class UvicornOptions(TypedDict):
    http: str
    timeout_keep_alive: int


UVICORN_OPTIONS: UvicornOptions = {
    "http": "serving.http_protocol:HeadTimeoutProtocol",
    "timeout_keep_alive": KEEP_ALIVE_SECONDS,
}
"""Connection limits every server of the service runs with."""
