"""The service on a loopback port in a background thread: for the demo's tour and the tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from serving.app import create_app
from serving.http_protocol import UVICORN_OPTIONS
from serving.service import Service

__all__ = ["ServerStartError", "free_port", "served_at"]


class ServerStartError(RuntimeError):
    """uvicorn did not start in time."""


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_at(service: Service, *, timeout: float = 60) -> Iterator[str]:
    """`service` served by uvicorn in a thread; yields its URL and stops it on exit.

    Raises:
        ServerStartError: uvicorn did not start within `timeout` seconds.
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service=service), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on",
                                           **UVICORN_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    try:
        if not server.started:
            raise ServerStartError(f"uvicorn did not start within {timeout:.0f} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
