"""A short tour of the service for the demo: start it briefly on a loopback port, make one
request of each kind, print each as a curl command that works pasted into bash (the key in
`$CHANNELCAST_KEY`, set by the `export` line printed before it) and its answer as a comment.

    python -m serving.tour --data demo_data [--model-uri URI] [--tracking-uri URI]

`run_tour(settings)` is what `channelcast demo` calls; it returns True when every answer had
the status the tour expects. Only the standard library talks to the service (`urllib`), so the
tour runs on the runtime install.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from features.config import DEFAULT_QUANTILES
from serving.contract import JsonRow
from serving.keys import create_key
from serving.live import ServerStartError, served_at
from serving.service import Service
from serving.settings import Settings

__all__ = ["curl_command", "run_tour"]

INLINE_BODY = 1000  # longer bodies go to a JSON file that the curl line reads (`@file`)
# Loopback needs no proxy, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class _Answer:
    """What the service said: status, content type and body text."""

    status: int
    content_type: str
    text: str


def _request(url: str, method: str, body: object, key: str) -> _Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-API-Key": key, **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=120) as r:
            return _Answer(r.status, r.headers.get("content-type", ""), r.read().decode())
    except urllib.error.HTTPError as e:
        with e:
            return _Answer(e.code, e.headers.get("content-type", ""), e.read().decode())


def curl_command(method: str, url: str, body: object, *, body_file: Path | None = None
                 ) -> str:
    """The bash line that sends this request with the key in `$CHANNELCAST_KEY`.

    The body is the JSON of `body` quoted for bash, or read from `body_file` (written here)
    when given.
    """
    words = ["curl -s"] + ([] if method == "GET" else [f"-X {method}"]) + [
        shlex.quote(url), '-H "X-API-Key: $CHANNELCAST_KEY"']
    if body is not None:
        words.append("-H 'Content-Type: application/json'")
        data = json.dumps(body)
        if body_file is None:
            words.append(f"-d {shlex.quote(data)}")
        else:
            body_file.write_text(data)
            words.append(f"--data-binary {shlex.quote('@' + str(body_file))}")
    return " ".join(words)


def _show(write: Callable[[str], None], answer: _Answer) -> None:
    text = answer.text
    if "json" in answer.content_type:
        text = json.dumps(json.loads(text))
    shown = f"HTTP {answer.status}  {text[:300]}{' ...' if len(text) > 300 else ''}"
    write("\n".join(f"# {line}" for line in shown.splitlines()) + "\n")


def _next_week(service: Service) -> list[JsonRow]:
    """One new period for three series: their last week again, one period later."""
    f = service.models.get().forecaster
    tail = f.tail[f.tail["date"] == f.origin].head(3)
    rows = tail[["node_id", "sku", "units"]].assign(date=f"{f.dates[0]:%Y-%m-%d}")
    return [{k: (float(v) if k == "units" else str(v)) for k, v in r.items()}
            for r in rows.to_dict("records")]


def _calls(service: Service) -> list[tuple[str, str, str, object, int]]:
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
                                          "horizon": 4, "quantiles": list(DEFAULT_QUANTILES)}, 200),
        ("erp", "GET", "/v1/aggregates?level=parent&limit=3", None, 200),
        ("erp", "POST", "/v1/stock-risk", {"top": 3}, 200),
        ("erp", "PUT", "/v1/inventory", {"inventory": rows}, 200),
        ("erp", "POST", "/v1/sell-through", {"rows": _next_week(service)}, 201),
        ("erp", "GET", "/v1/alerts?status=open&limit=3", None, 200),
        ("erp", "GET", "/v1/health?level=channel", None, 200),
        ("planner", "POST", "/v1/allocations", {"sku": sku}, 201),
        ("planner", "POST", "/v1/allocations/1/decision", {"action": "approve"}, 200),
        ("admin", "POST", "/v1/models/reload", None, 200),
        ("erp", "POST", "/v1/allocations", {"sku": sku}, 403),
        ("erp", "GET", "/metrics", None, 200),
    ]


def run_tour(settings: Settings, *, write: Callable[[str], None] = print,
             after: Callable[[str], None] | None = None) -> bool:
    """Start the service on a fresh SQLite database, make one request of each kind, stop.

    `after(url)` is called once the requests are made, while the service still runs (tests
    paste the printed commands into bash there).
    """
    folder = Path(tempfile.mkdtemp(prefix="channelcast-tour-"))
    service = Service(replace(settings, database_url=f"sqlite:///{folder / 'service.db'}",
                              sync_seconds=0))
    try:
        with served_at(service, timeout=120) as url:
            if service.models.current is None:
                write(f"the service did not start: {service.models.error}")
                return False
            ok = _visit(service, url, folder, write)
            if after is not None:
                after(url)
            return ok
    except ServerStartError:
        write("the service did not start: timeout")
        return False


def _visit(service: Service, url: str, folder: Path, write: Callable[[str], None]) -> bool:
    keys = {role: create_key(service.db, name=f"tour-{role}", role=role)[1]
            for role in ("erp", "planner", "admin")}
    write(f"# the service on {url} for this tour (OpenAPI: {url}/docs), with throwaway keys.\n"
          "# Each line below is bash; against your own `channelcast serve`, change the address "
          "and\n# export a key of yours (`channelcast keys create --role ROLE --name YOU`).\n")
    ok, role_now = True, None
    for i, (role, method, path, body, expected) in enumerate(_calls(service)):
        if role != role_now:
            write(f"# a key with the role {role}:\nexport CHANNELCAST_KEY="
                  f"{shlex.quote(keys[role])}")
            role_now = role
        big = body is not None and len(json.dumps(body)) > INLINE_BODY
        body_file = folder / f"body-{i + 1}.json" if big else None
        write(curl_command(method, url + path, body, body_file=body_file))
        answer = _request(url + path, method, body, keys[role])
        _show(write, answer)
        ok &= answer.status == expected
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
