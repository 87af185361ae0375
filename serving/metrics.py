"""Request and model metrics in the Prometheus text exposition format (version 0.0.4).

Counters and histograms per route template (never per raw path, so ids do not explode the
label space). Each worker process keeps its own numbers; scrape every worker, or run one.
"""

from __future__ import annotations

import threading
from collections import defaultdict

__all__ = ["BUCKETS", "Metrics"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(pairs: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items())
    return "{" + inner + "}" if inner else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """The service's counters, gauges and latency histograms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.in_flight = 0
        self.counters: dict[str, float] = defaultdict(float)
        self.model: dict[str, str] = {}

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        key = (method, route)
        with self._lock:
            self.in_flight -= 1
            self.requests[(method, route, str(status))] += 1
            counts = self.latency.setdefault(key, [0.0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self.latency_sum[key] += seconds

    def count(self, name: str, value: float = 1.0) -> None:
        with self._lock:
            self.counters[name] += value

    def render(self) -> str:
        """All metrics as Prometheus text."""
        with self._lock:
            lines = self._request_lines() + self._other_lines()
        return "\n".join(lines) + "\n"

    def _request_lines(self) -> list[str]:
        lines = ["# HELP channelcast_http_requests_total Requests answered, by route and status.",
                 "# TYPE channelcast_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            labels = _labels({"method": method, "route": route, "status": status})
            lines.append(f"channelcast_http_requests_total{labels} {n}")
        lines += ["# HELP channelcast_http_request_duration_seconds Time to answer a request.",
                  "# TYPE channelcast_http_request_duration_seconds histogram"]
        for (method, route), counts in sorted(self.latency.items()):
            base = {"method": method, "route": route}
            name = "channelcast_http_request_duration_seconds"
            for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
                lines.append(f"{name}_bucket{_labels({**base, 'le': bound})} {count:g}")
            lines.append(f"{name}_sum{_labels(base)} {self.latency_sum[(method, route)]:.6f}")
            lines.append(f"{name}_count{_labels(base)} {counts[-1]:g}")
        lines += ["# HELP channelcast_http_requests_in_flight Requests being answered now.",
                  "# TYPE channelcast_http_requests_in_flight gauge",
                  f"channelcast_http_requests_in_flight {self.in_flight}"]
        return lines

    def _other_lines(self) -> list[str]:
        lines = []
        for name, value in sorted(self.counters.items()):
            lines += [f"# TYPE channelcast_{name} counter", f"channelcast_{name} {value:g}"]
        if self.model:
            lines += ["# HELP channelcast_model_info The model being served (value 1).",
                      "# TYPE channelcast_model_info gauge",
                      f"channelcast_model_info{_labels(self.model)} 1"]
        return lines
