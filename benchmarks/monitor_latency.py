"""Alert latency (issue 21): from `POST /v1/sell-through` of one new week for 30,000 series to
its alerts being readable from `GET /v1/alerts`.

Usage:
    .venv/bin/python benchmarks/monitor_latency.py [--nodes 114 --skus 300 --periods 106]
        [--models snaive,ma,croston] [--repeat 1]

It generates a weekly channel (`--nodes` selling nodes x `--skus` items, with sell_in and
on_hand), trains a champion on all but the last two weeks (`--models`; once, cached under
benchmarks/out/monitor_latency/) and starts `channelcast serve` (one worker, SQLite) as its
own process. The first held-out week is posted and its alerts awaited (warm-up: this run
opens the alerts that are already there); once the service is idle again (the warm-up may
close a month, whose report is built in the background after its alerts, as it would be
long before the next week's data), the second week is posted and timed: the
POST's answer time, and the time until `GET /v1/alerts` reports that week as `as_of` (the
detection run for it finished and its alerts are committed). The detectors run in the
service's background thread on the service's own sell-through (the model's tail: every
series' last `tail_periods` weeks) and node table. Results are printed as a Markdown table
and written to benchmarks/out/monitor_latency/results.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

from benchmarks.serving import start_server, stop_server, wait_ready  # noqa: E402
from serving.live import free_port  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "monitor_latency"
BIN = Path(sys.executable).parent
MODEL_NAME = "channelcast-monitor-bench"
HELD_OUT = 2


def prepare(args: argparse.Namespace) -> tuple[str, str, Path, pd.DataFrame]:
    """The champion's URI, tracking URI, data folder, and the held-out weeks' rows."""
    import mlflow
    from mlflow import MlflowClient

    from features.synthetic import generate_channel_data, write_channel_data
    from training.engine.forecast import fit_forecaster
    from training.tracking.pyfunc import log_forecast_model
    from training.tracking.registry import CHAMPION, register_challenger

    folder = OUT / f"{args.nodes}x{args.skus}x{args.periods}-{args.models.replace(',', '-')}"
    data_dir, tracking = folder / "data", f"sqlite:///{folder / 'mlflow.db'}"
    held = folder / "held_out.parquet"
    uri = f"models:/{MODEL_NAME}@{CHAMPION}"
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    mlflow.set_tracking_uri(tracking)
    if held.exists():
        try:
            client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
            print(f"reusing the champion in {folder}")
            return uri, tracking, data_dir, pd.read_parquet(held)
        except Exception:
            pass
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    data = generate_channel_data(nodes=args.nodes, skus=args.skus, periods=args.periods,
                                 freq="W", seed=21)
    history = data.sell_through
    dates = pd.to_datetime(history["date"])
    cut = dates.drop_duplicates().sort_values().iloc[-HELD_OUT - 1]
    write_channel_data(data, data_dir)
    history[dates > cut].reset_index(drop=True).to_parquet(held)
    print(f"generated {history.groupby(['node_id', 'sku']).ngroups:,} series in "
          f"{time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    forecaster = fit_forecaster(history[dates <= cut], freq="W-MON", horizon=8,
                                nodes=data.nodes, models=tuple(args.models.split(",")),
                                calibration_windows=2)
    experiment = mlflow.set_experiment("bench-monitor")
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        info = log_forecast_model(forecaster)
    version = register_challenger(client, name=MODEL_NAME, model_uri=info.model_uri,
                                  run_id=run.info.run_id, tags={}, description="benchmark")
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)
    print(f"trained the champion ({len(forecaster.keys):,} series) in "
          f"{time.perf_counter() - began:.0f} s")
    return uri, tracking, data_dir, pd.read_parquet(held)


def _call(url: str, key: str, body: object | None = None, method: str = "GET") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read())


def post_and_wait(url: str, key: str, week: pd.DataFrame, timeout: float = 600
                  ) -> dict[str, Any]:
    """POST one week, then poll GET /v1/alerts until it reports that week; the timings."""
    day = f"{pd.Timestamp(week['date'].iloc[0]):%Y-%m-%d}"
    rows = week.assign(date=day).to_dict("records")
    rows = [{k: v for k, v in r.items() if not pd.isna(v)} for r in rows]
    load = round(os.getloadavg()[0], 2)
    began = time.perf_counter()
    posted = _call(f"{url}/v1/sell-through", key, {"rows": rows}, method="POST")
    answered = time.perf_counter() - began
    polls = 0
    while time.perf_counter() - began < timeout:
        polls += 1
        listed = _call(f"{url}/v1/alerts?limit=1", key)
        if listed["as_of"] == day:
            readable = time.perf_counter() - began
            open_now = _call(f"{url}/v1/alerts?status=open&limit=1", key)["total"]
            return {"week": day, "load_before": load, "rows": posted["rows"],
                    "post_seconds": round(answered, 2),
                    "readable_seconds": round(readable, 2), "polls": polls,
                    "alerts_total": listed["total"], "alerts_open": open_now}
        time.sleep(0.05)
    raise TimeoutError(f"the alerts of {day} were not readable after {timeout:.0f} s")


def _run_seconds(db_url: str) -> list[float]:
    """How long each detection run took in the service (its `alert_runs` rows, in order)."""
    from sqlalchemy import select

    from serving.db import Database
    from serving.tables import AlertRunRow

    db = Database(db_url)
    with db.session() as session:
        runs = session.scalars(select(AlertRunRow).order_by(AlertRunRow.id)).all()
    db.dispose()
    return [round((r.finished_at - r.started_at).total_seconds(), 2) for r in runs
            if r.finished_at is not None]


def _cpu_seconds(group: int) -> float:
    """CPU seconds used so far by the processes of process group `group` (Linux /proc)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == group:  # after the name: state, ppid, pgrp, ..., utime, stime
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wait_idle(group: int, timeout: float = 600) -> float:
    """Wait until the service used < 0.1 CPU s in a second (background work done); seconds."""
    start = time.perf_counter()
    used = _cpu_seconds(group)
    while time.perf_counter() - start < timeout:
        time.sleep(1.0)
        now = _cpu_seconds(group)
        if now - used < 0.1:
            break
        used = now
    return round(time.perf_counter() - start, 1)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    uri, tracking, data_dir, held = prepare(args)
    from serving.db import Database
    from serving.keys import create_key

    db_url = f"sqlite:///{OUT / 'service.db'}"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{OUT / 'service.db'}{suffix}").unlink(missing_ok=True)
    db = Database(db_url)
    db.migrate()
    key = create_key(db, name=f"bench-erp-{time.time_ns()}", role="erp")[1]
    db.dispose()
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "CHANNELCAST_DATABASE_URL": db_url,
           "CHANNELCAST_MAX_BODY_BYTES": str(64 * 1024 * 1024), "PYTHONPATH": str(ROOT),
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "channelcast"), "serve", "--port", str(port), "--workers", "1",
           "--model-uri", uri, "--data", str(data_dir), "--log-level", "warning"]
    proc = start_server(cmd, env, OUT / "serve.log")
    url = f"http://127.0.0.1:{port}"
    weeks = [w for _, w in held.groupby("date", sort=True)]
    try:
        wait_ready(f"{url}/readyz", proc, OUT / "serve.log", seconds=600)
        runs = [{"phase": "warm-up", **post_and_wait(url, key, weeks[0])}]
        runs[0]["idle_after_seconds"] = wait_idle(proc.pid)
        runs.append({"phase": "timed", **post_and_wait(url, key, weeks[1])})
    finally:
        stop_server(proc)
    for run, seconds in zip(runs, _run_seconds(db_url), strict=False):
        run["detection_run_seconds"] = seconds
    series = int(held.groupby(["node_id", "sku"]).ngroups)
    return {"series": series, "models": args.models, "runs": runs,
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def table(results: dict[str, Any]) -> str:
    lines = ["| phase | week | load before | rows posted | POST answered (s) | detection run "
             "(s) | alerts readable (s) | alerts (all / open) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        lines.append(f"| {r['phase']} | {r['week']} | {r['load_before']} | {r['rows']:,} | "
                     f"{r['post_seconds']} | {r.get('detection_run_seconds', '?')} | "
                     f"{r['readable_seconds']} | {r['alerts_total']:,} / {r['alerts_open']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=114)
    parser.add_argument("--skus", type=int, default=300)
    parser.add_argument("--periods", type=int, default=106)
    parser.add_argument("--models", default="snaive,ma,croston")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = benchmark(args)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{results['series']:,} series, models {results['models']}, load average "
          f"{results['load_average']} on {results['cpus']} cpus")
    print(table(results))


if __name__ == "__main__":
    main()
