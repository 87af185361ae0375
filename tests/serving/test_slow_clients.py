"""A client that stalls after the headers is answered 408 and cut off within the body
timeout, on a live server."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from urllib.parse import urlsplit

from serving.live import served_at
from serving.service import Service
from serving.settings import Settings


def test_a_body_stalled_after_the_headers_is_408_and_the_connection_closed(settings: Settings):
    service = Service(replace(settings, body_timeout_seconds=1.0))
    with served_at(service) as url:
        where = urlsplit(url)
        with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
            began = time.monotonic()
            conn.sendall(b"POST /v1/forecasts HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            answer = b""
            while chunk := conn.recv(65536):  # until the server closes the connection
                answer += chunk
            waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive in full within 1 s" in answer
    assert 0.9 <= waited < 5, waited
