"""Prometheus metrics: one registry per service in one process; with `channelcast serve
--workers 2`, every scrape sums both workers and the totals never go backwards, not even when
a worker is killed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from channelcast.cmd_serve import HEALTHCHECK_SECONDS
from serving.live import free_port
from serving.metrics import Metrics
from tests.serving.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = "channelcast_http_requests_total"


def test_two_services_in_one_process_keep_their_own_numbers():
    first, second = Metrics(), Metrics()
    first.observe("GET", "/healthz", 200, 0.01)
    first.set_model(name="m", version="1", origin="2024-01-01")
    first.set_model(name="m", version="2", origin="2024-01-08")
    text, other = first.render().decode(), second.render().decode()
    assert f'{REQUESTS}{{method="GET",route="/healthz",status="200"}} 1.0' in text
    assert REQUESTS + "{" not in other
    assert 'version="2"} 1.0' in text and 'version="1"' not in text  # the old model is gone


def test_an_unknown_counter_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="forecast_series_total"):
        Metrics().count("no_such_total")


def _totals(text: str) -> dict[str, float]:
    """Request totals per route in one scrape."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == REQUESTS:
                out[s.labels["route"]] = out.get(s.labels["route"], 0) + s.value
    return out


def _per_worker(folder: Path, scratch: Path) -> dict[str, float]:
    """/healthz requests answered per worker pid, read from each worker's own counter file."""
    out = {}
    for file in folder.glob("counter_*.db"):
        alone = scratch / file.stem
        alone.mkdir(exist_ok=True)
        shutil.copy(file, alone / file.name)
        out[file.stem.split("_")[-1]] = sum(
            s.value for family in MultiProcessCollector(None, path=str(alone)).collect()
            for s in family.samples if s.name == REQUESTS and s.labels["route"] == "/healthz")
    return out


@pytest.fixture
def two_workers(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`channelcast serve --workers 2` on a free port; yields its URL and its temp folder."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "CHANNELCAST_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}",
           "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "channelcast.cli", "serve", "--port", str(port), "--workers",
         "2", "--data", str(workspace.data_dir), "--model-uri", workspace.model_uri,
         "--tracking-uri", workspace.tracking_uri, "--log-level", "info"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", temp
    finally:
        server.send_signal(signal.SIGINT)
        # a graceful stop of two workers takes ~6 s at load 2.6 on 2 cores; the killed worker
        # below may hold uvicorn's supervisor for up to HEALTHCHECK_SECONDS (a ping in flight)
        try:
            server.wait(timeout=HEALTHCHECK_SECONDS + 90)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # the workers too
            server.wait()
            pytest.fail(f"`channelcast serve --workers 2` did not stop within "
                        f"{HEALTHCHECK_SECONDS + 90} s of SIGINT; its log ends:\n"
                        f"{(tmp_path / 'serve.log').read_text()[-4000:]}")
        finally:
            log.close()
    assert not list(temp.glob("channelcast-metrics-*")), "the metrics folder was left behind"


@pytest.mark.slow
def test_two_workers_are_summed_and_never_go_backwards(two_workers: tuple[str, Path],
                                                        tmp_path: Path):
    url, temp = two_workers
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # /readyz polls are not counted below
        try:
            if httpx.get(f"{url}/readyz", timeout=240).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    (folder,) = temp.glob("channelcast-metrics-*")

    def get(_: int) -> int:  # a new connection each time, so that either worker may answer
        return httpx.get(f"{url}/healthz", timeout=60).status_code

    sent = 0
    workers: dict[str, float] = {}
    with ThreadPoolExecutor(4) as pool:
        while sent < 600 and not (len(workers) == 2 and min(workers.values()) >= 5):
            assert set(pool.map(get, range(40))) == {200}
            sent += 40
            workers = {pid: n for pid, n in _per_worker(folder, tmp_path).items() if n}
    assert len(workers) == 2 and sum(workers.values()) == sent, workers

    seen: list[dict[str, float]] = []
    for k in range(6):
        scrape = httpx.get(f"{url}/metrics", timeout=60)
        assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
        totals = _totals(scrape.text)
        assert totals["/healthz"] == sent, (k, totals, workers)  # both workers, summed
        assert totals.get("/metrics", 0) == k, (k, totals)  # the scrapes before this one
        if seen:
            assert all(totals[r] >= n for r, n in seen[-1].items()), (seen[-1], totals)
        seen.append(totals)
    text = scrape.text
    assert "channelcast_http_requests_in_flight 1.0\n" in text  # this scrape, in one worker
    # one model line (whichever version the shared test registry holds), not one per worker
    assert len(re.findall(r'^channelcast_model_info\{[^}]*version="\d+"\} 1\.0$', text,
                          flags=re.M)) == 1, text
    # open alerts are counted in the database at scrape time: one line per kind x severity
    assert text.count('channelcast_alerts_open{kind="demand_drop",severity="critical"}') == 1

    gone = min(workers)  # a worker dies: its counts stay in the sum, its live gauge goes
    assert (folder / f"gauge_livesum_{gone}.db").exists()
    os.kill(int(gone), signal.SIGKILL)
    scrapes = 6
    for _ in range(120):  # a scrape drops the dead worker's gauge; the OS may take a moment
        time.sleep(0.25)
        totals = _totals(httpx.get(f"{url}/metrics", timeout=60).text)
        scrapes += 1
        assert totals["/healthz"] == sent and totals["/metrics"] == scrapes - 1, totals
        if not (folder / f"gauge_livesum_{gone}.db").exists():
            break
    assert not (folder / f"gauge_livesum_{gone}.db").exists()
