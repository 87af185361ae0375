"""A client that stalls after the headers is answered 408 and cut off within the body
timeout, on a live server."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from urllib.parse import urlsplit

from serving.http_protocol import HEAD_BYTES, HeadTimeoutProtocol
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


def _read_until_closed(conn: socket.socket) -> bytes:
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


def test_a_head_stalled_halfway_is_cut_off(settings: Settings, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(HeadTimeoutProtocol, "head_timeout", 1.0)
    with served_at(Service(settings)) as url:
        where = urlsplit(url)
        for sent in (b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "):
            with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
                began = time.monotonic()
                conn.sendall(sent)
                assert _read_until_closed(conn) == b""
                waited = time.monotonic() - began
            assert 0.9 <= waited < 5, (sent, waited)
        # a request whose head arrives in time is answered on the same kind of connection
        with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert _read_until_closed(conn).startswith(b"HTTP/1.1 200")


def test_a_head_over_the_limit_is_431(settings: Settings) -> None:
    with served_at(Service(settings)) as url:
        where = urlsplit(url)
        with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEAD_BYTES)
            assert _read_until_closed(conn).startswith(b"HTTP/1.1 431")
        with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000
                         + b"\r\nConnection: close\r\n\r\n")
            assert _read_until_closed(conn).startswith(b"HTTP/1.1 200")
