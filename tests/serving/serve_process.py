"""`channelcast serve` as a subprocess on a free port, for tests that kill or load it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from serving.live import free_port
from tests.serving.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]


def environment(database_url: str, **variables: str) -> dict[str, str]:
    """The environment of the CLI: this checkout on the path, the database, `variables`."""
    env = {**os.environ, "CHANNELCAST_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT),
           **variables}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def new_key(env: dict[str, str], cwd: Path, *, role: str, name: str) -> str:
    """A key made by `channelcast keys create`."""
    made = subprocess.run([sys.executable, "-m", "channelcast.cli", "keys", "create", "--role",
                           role, "--name", name], env=env, capture_output=True, text=True,
                          check=True, cwd=cwd)
    return made.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]


@contextmanager
def serving(workspace: Workspace, env: dict[str, str], cwd: Path, *, workers: int = 1,
            port: int | None = None, log_name: str = "serve.log") -> Iterator[Server]:
    """The service started with `workers`, ready (readyz 200); stopped (or killed) on exit."""
    port = port or free_port()
    with (cwd / log_name).open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "channelcast.cli", "serve", "--port", str(port),
             "--workers", str(workers), "--data", str(workspace.data_dir), "--model-uri",
             workspace.model_uri, "--tracking-uri", workspace.tracking_uri, "--log-level",
             "warning"], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise AssertionError(f"the service did not get ready:\n"
                                     f"{(cwd / log_name).read_text()}")
            yield Server(url=url, process=process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
