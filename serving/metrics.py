"""Request and model metrics for Prometheus, kept by the official client (`prometheus_client`).

Counters and histograms per route template (never per raw path, so ids do not explode the
label space). In one process, each `Metrics` keeps its numbers in its own registry (so several
services in one test process do not collide). With several uvicorn workers, `channelcast
serve` sets a fresh `PROMETHEUS_MULTIPROC_DIR` before they start (`multiprocess_dir`): every
worker writes its numbers there and a scrape of any worker sums all of them
(`MultiProcessCollector`). The counts of a worker that exited stay in the sum, so counters
never go backwards; its in-flight requests are dropped (`mark_process_dead`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["BUCKETS", "CONTENT_TYPE", "COUNTERS", "MULTIPROC_ENV", "Metrics",
           "multiprocess_dir"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MODEL_INFO = "channelcast_model_info"
COUNTERS = {  # what `Metrics.count` takes; exposed as channelcast_<name>
    "forecast_series_total": "Series forecast on request.",
    "sell_through_rows_total": "Sell-through rows the model rolled forward over.",
    "model_reloads_total": "Model reloads asked for by an admin.",
}

# No `*_created` series: they are per process, and the worker sums have none either.
disable_created_metrics()


def _multiprocess() -> bool:
    """True when prometheus_client writes values to `PROMETHEUS_MULTIPROC_DIR` files.

    The client decides once, when it is imported; a directory set later is not used.
    """
    return values.ValueClass is not values.MutexValue


class Metrics:
    """The service's counters, gauges and latency histograms (see the module docstring)."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) if _multiprocess() else None
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("channelcast_http_requests", "Requests answered, by route and "
                                "status.", ["method", "route", "status"], registry=r)
        self.latency = Histogram("channelcast_http_request_duration_seconds", "Time to answer "
                                 "a request.", ["method", "route"], buckets=BUCKETS, registry=r)
        self.in_flight = Gauge("channelcast_http_requests_in_flight", "Requests being answered "
                               "now.", registry=r, multiprocess_mode="livesum")
        self.counters = {name: Counter(f"channelcast_{name}", text, registry=r)
                         for name, text in COUNTERS.items()}
        self.model_info = Gauge(MODEL_INFO, "The model being served (value 1).",
                                ["name", "version", "origin"], registry=r,
                                multiprocess_mode="livemax")
        self._model: tuple[str, str, str] | None = None
        self._lock = threading.Lock()
        self._collectors: list[Collector] = []

    def add_collector(self, collector: Collector) -> None:
        """Also expose what `collector` yields at scrape time (e.g. counts read from the
        database, the same in every worker: never summed across workers)."""
        self.registry.register(collector)
        self._collectors.append(collector)

    def started(self) -> None:
        """One more request in flight."""
        self.in_flight.inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.in_flight.dec()
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count(self, name: str, value: float = 1.0) -> None:
        """Add `value` to the counter `name` (one of `COUNTERS`)."""
        if name not in self.counters:
            raise ValueError(f"unknown counter {name!r}; declare it in serving.metrics.COUNTERS "
                             f"(known: {', '.join(sorted(self.counters))}).")
        self.counters[name].inc(value)

    def set_model(self, *, name: str, version: str, origin: str) -> None:
        """The model being served now (`channelcast_model_info`)."""
        labels = (name, version, origin)
        with self._lock:
            previous, self._model = self._model, labels
            if previous is not None and previous != labels:
                if self.multiprocess_dir is None:
                    self.model_info.remove(*previous)
                else:  # removal is not supported across processes: 0, left out by `render`
                    self.model_info.labels(*previous).set(0)
            self.model_info.labels(*labels).set(1)

    def render(self) -> bytes:
        """All metrics as Prometheus text (format 0.0.4): this process's, or every worker's."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        _forget_exited_workers(self.multiprocess_dir)
        workers = CollectorRegistry()
        workers.register(_EveryWorker(self.multiprocess_dir))
        for collector in self._collectors:
            workers.register(collector)
        return generate_latest(workers)

    def close(self) -> None:
        """This process stops serving: its in-flight gauge leaves the sum, its counts stay."""
        if self.multiprocess_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), self.multiprocess_dir)


class _EveryWorker:
    """Every worker's metrics summed; models that no live worker serves are left out."""

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self) -> Iterable[Metric]:
        for family in multiprocess.MultiProcessCollector(None, path=self.path).collect():
            if family.name == MODEL_INFO:
                family.samples = [s for s in family.samples if s.value]
            yield family


def _forget_exited_workers(path: str) -> None:
    """Drop the live gauges of worker processes that are gone (crashed or restarted)."""
    for file in Path(path).glob("gauge_live*_*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path)


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a killed worker its supervisor has not reaped yet is
    a zombie: gone)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


@contextmanager
def multiprocess_dir(workers: int) -> Iterator[str | None]:
    """A fresh `PROMETHEUS_MULTIPROC_DIR` in the environment while `workers` (> 1) serve.

    Set it before uvicorn starts the workers; it is removed on exit. One worker needs none
    (yields None); a directory the caller set already is used as it is and kept.
    """
    if workers < 2 or os.environ.get(MULTIPROC_ENV):
        yield os.environ.get(MULTIPROC_ENV) if workers >= 2 else None
        return
    folder = tempfile.mkdtemp(prefix="channelcast-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
