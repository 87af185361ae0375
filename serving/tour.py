"""A short tour of the service for the demo: start it briefly on a loopback port, make one
request of each kind, print each as a curl command and its answer.

    python -m serving.tour --data demo_data [--model-uri URI] [--tracking-uri URI]

`run_tour(settings)` is what `channelcast demo` calls; it returns True when every answer had
the status the tour expects.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from serving.keys import create_key
from serving.live import ServerStartError, served_at
from serving.service import Service
from serving.settings import Settings

__all__ = ["run_tour"]


def _show(write: Callable[[str], None], answer: httpx.Response, body: Any, key: str) -> None:
    request = answer.request
    data = f" -d '{json.dumps(body)[:160]}'" if body is not None else ""
    write(f"$ curl -s -X {request.method} {request.url} -H 'X-API-Key: {key[:10]}...'{data}")
    text = answer.text if "json" not in answer.headers.get("content-type", "") else \
        json.dumps(answer.json())
    write(f"HTTP {answer.status_code}  {text[:300]}{' ...' if len(text) > 300 else ''}\n")


def _next_week(service: Service) -> list[dict[str, Any]]:
    """One new period for three series: their last week again, one period later."""
    f = service.models.get().forecaster
    tail = f.tail[f.tail["date"] == f.origin].head(3)
    rows = tail[["node_id", "sku", "units"]].assign(date=f"{f.dates[0]:%Y-%m-%d}")
    return [{k: (float(v) if k == "units" else str(v)) for k, v in r.items()}
            for r in rows.to_dict("records")]


def _calls(service: Service) -> list[tuple[str, str, str, Any, int]]:
    """(role, method, path, body, expected status) of the tour."""
    f = service.models.get().forecaster
    node, sku = (str(v) for v in f.keys.iloc[0][["node_id", "sku"]])
    inv = service.channel.inventory
    rows = [] if inv is None else [
        {"node_id": str(r["node_id"]), "sku": str(r["sku"]), "on_hand": float(r["on_hand"]),
         "in_transit": float(r["in_transit"]), "as_of": f"{pd.Timestamp(r['as_of']):%Y-%m-%d}"}
        for r in inv.to_dict("records")]
    return [
        ("erp", "GET", "/readyz", None, 200),
        ("erp", "GET", "/v1/models/current", None, 200),
        ("erp", "POST", "/v1/forecasts", {"series": [{"node_id": node, "sku": sku}],
                                          "horizon": 4, "quantiles": [0.1, 0.5, 0.9]}, 200),
        ("erp", "POST", "/v1/stock-risk", {"top": 3}, 200),
        ("erp", "PUT", "/v1/inventory", {"inventory": rows}, 200),
        ("erp", "POST", "/v1/sell-through", {"rows": _next_week(service)}, 201),
        ("planner", "POST", "/v1/allocations", {"sku": sku}, 201),
        ("planner", "POST", "/v1/allocations/1/decision", {"action": "approve"}, 200),
        ("admin", "POST", "/v1/models/reload", None, 200),
        ("erp", "POST", "/v1/allocations", {"sku": sku}, 403),
        ("erp", "GET", "/metrics", None, 200),
    ]


def run_tour(settings: Settings, *, write: Callable[[str], None] = print) -> bool:
    """Start the service on a fresh SQLite database, make one request of each kind, stop."""
    folder = Path(tempfile.mkdtemp(prefix="channelcast-tour-"))
    service = Service(replace(settings, database_url=f"sqlite:///{folder / 'service.db'}",
                              sync_seconds=0))
    try:
        with served_at(service, timeout=120) as url:
            if service.models.current is None:
                write(f"the service did not start: {service.models.error}")
                return False
            return _visit(service, url, write)
    except ServerStartError:
        write("the service did not start: timeout")
        return False


def _visit(service: Service, url: str, write: Callable[[str], None]) -> bool:
    keys = {role: create_key(service.db, name=f"tour-{role}", role=role)[1]
            for role in ("erp", "planner", "admin")}
    write(f"service on {url} (OpenAPI: /docs), keys for erp, planner, admin:\n")
    ok = True
    with httpx.Client(base_url=url, timeout=120) as client:
        for role, method, path, body, expected in _calls(service):
            answer = client.request(method, path, json=body, headers={"X-API-Key": keys[role]})
            _show(write, answer, body, keys[role])
            ok &= answer.status_code == expected
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one request of each kind against the service")
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--model-uri", default=None)
    p.add_argument("--tracking-uri", default=None)
    a = p.parse_args(argv)
    settings = Settings.from_env(os.environ)
    changes = {"data_dir": a.data, "model_uri": a.model_uri, "tracking_uri": a.tracking_uri}
    settings = replace(settings, **{k: v for k, v in changes.items() if v is not None})
    return 0 if run_tour(settings) else 1


if __name__ == "__main__":
    raise SystemExit(main())
