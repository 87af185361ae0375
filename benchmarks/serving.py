"""Service speed: channelcast's API against `mlflow models serve` on the same champion.

Usage:
    .venv/bin/python benchmarks/serving.py [--requests 20000] [--seconds 30] [--concurrency 32]
        [--workers 1] [--model-uri URI --tracking-uri URI --data DIR]

Without `--model-uri` it generates a channel (200 selling nodes x 8 skus x 104 weeks), trains
a champion on it (LightGBM, ETS, baselines, `auto`; horizon 8) into benchmarks/out/serving/
and serves that. Both servers run as their own processes on loopback with the same number of
uvicorn workers: `channelcast serve` and `mlflow models serve --env-manager local`. A separate
load process (`load` sub-command: raw HTTP/1.1 keep-alive over asyncio, so that the client
costs little CPU) sends the same single-series forecast request from `--concurrency` clients,
bounded by `--requests` and `--seconds`, after a warm-up; it reports requests per second and
p50/p99 latency. Then one 200-node allocation request (`POST /v1/allocations`, recorded in the
service's SQLite database) is timed sequentially. Results are printed as a Markdown table and
written to benchmarks/out/serving/results.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

from features.config import DEFAULT_HORIZON, DEFAULT_QUANTILES  # noqa: E402
from serving.live import free_port  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "serving"
BIN = Path(sys.executable).parent
MODEL_NAME = "channelcast-bench"


# --- the load process ----------------------------------------------------------------------

def _request_bytes(host: str, port: int, path: str, body: bytes,
                   headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Connection: keep-alive",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(host: str, port: int, raw: bytes, state: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while state["sent"] < state["limit"] and time.perf_counter() < state["deadline"]:
            state["sent"] += 1
            began = time.perf_counter()
            writer.write(raw)
            await writer.drain()
            status = await _read_response(reader)
            state["latency"].append(time.perf_counter() - began)
            state["began"].append(began)
            state["status"][status] += 1
    finally:
        writer.close()


async def _load(url: str, path: str, body: bytes, headers: dict[str, str], concurrency: int,
                requests: int, seconds: float) -> dict[str, Any]:
    host, port = url.split("//")[1].split(":")
    raw = _request_bytes(host, int(port), path, body, headers)
    runs = []
    for limit, span in ((min(200, requests), 10.0), (requests, seconds)):  # warm-up, then run
        state: dict[str, Any] = {"sent": 0, "limit": limit, "latency": [], "began": [],
                                 "status": Counter(), "deadline": time.perf_counter() + span}
        began = time.perf_counter()
        await asyncio.gather(*(_client(host, int(port), raw, state)
                               for _ in range(concurrency)))
        runs.append((state, time.perf_counter() - began))
    state, elapsed = runs[-1]
    lat = sorted(state["latency"])
    return {"requests": len(lat), "seconds": elapsed, "rps": len(lat) / elapsed,
            "p50_ms": 1000 * lat[len(lat) // 2],
            "p90_ms": 1000 * lat[int(0.9 * len(lat))],
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            "max_ms": 1000 * lat[-1],
            "status": {str(k): v for k, v in state["status"].items()},
            "slow": _slow(state["began"], state["latency"])}


def _slow(began: list[float], latency: list[float]) -> dict[str, Any]:
    """Where the slow answers (over twice the median) sat in time: spread out means
    queueing, a few clusters mean pauses (GC, a thread holding the GIL, the OS)."""
    if not latency:
        return {}
    start = min(began)
    median = sorted(latency)[len(latency) // 2]
    slow = [(b - start, x) for b, x in zip(began, latency, strict=True) if x > 2 * median]
    buckets = Counter(int(10 * t) for t, _ in slow)  # 100 ms buckets from the start
    return {"over_2x_median": len(slow), "over_50ms": sum(x > 0.05 for x in latency),
            "busiest_100ms_buckets": {f"{b / 10:.1f}s": n for b, n in buckets.most_common(10)}}


def load_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="serving.py load")
    p.add_argument("--url", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=30)
    a = p.parse_args(argv)
    headers = dict(h.split(":", 1) for h in a.header)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_load(a.url, a.path, a.body.encode(), headers, a.concurrency,
                               a.requests, a.seconds))
    print(json.dumps(result))


def run_load(url: str, path: str, body: dict[str, Any], headers: dict[str, str],
             args: argparse.Namespace, *, concurrency: int | None = None,
             requests: int | None = None) -> dict[str, Any]:
    """The load test in its own process (never this one's CPU)."""
    cmd = [sys.executable, __file__, "load", "--url", url, "--path", path, "--body",
           json.dumps(body), "--concurrency", str(concurrency or args.concurrency),
           "--requests", str(requests or args.requests), "--seconds", str(args.seconds)]
    for k, v in headers.items():
        cmd += ["--header", f"{k}:{v}"]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True,
                          timeout=args.seconds + 120)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the champion ----------------------------------------------------------------------------

def train_champion(folder: Path) -> tuple[str, str, Path]:
    """Generate 200 nodes x 8 skus x 104 weeks, train, register, alias `champion`."""
    import mlflow
    from mlflow import MlflowClient

    from features.config import FAST_LGBM
    from features.synthetic import generate_channel_data, write_channel_data
    from training.engine.forecast import fit_forecaster
    from training.tracking.pyfunc import log_forecast_model
    from training.tracking.registry import CHAMPION, register_challenger

    data_dir, tracking = folder / "data", f"sqlite:///{folder / 'mlflow.db'}"
    uri = f"models:/{MODEL_NAME}@{CHAMPION}"
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    mlflow.set_tracking_uri(tracking)
    try:
        client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
        print(f"reusing the champion in {folder}")
        return uri, tracking, data_dir
    except Exception:
        pass
    began = time.perf_counter()
    data = generate_channel_data(nodes=200, skus=8, periods=104, freq="W", seed=11)
    write_channel_data(data, data_dir)
    forecaster = fit_forecaster(data.sell_through, freq="W-MON", horizon=DEFAULT_HORIZON,
                                nodes=data.nodes,
                                models=("lgbm", "ets", "snaive", "ma", "croston", "auto"),
                                calibration_windows=2, lgbm=FAST_LGBM)
    experiment = mlflow.set_experiment("bench-serving")
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        info = log_forecast_model(forecaster)
    version = register_challenger(client, name=MODEL_NAME, model_uri=info.model_uri,
                                  run_id=run.info.run_id, tags={}, description="benchmark")
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)
    print(f"trained the champion ({len(forecaster.keys)} series) in "
          f"{time.perf_counter() - began:.0f} s")
    return uri, tracking, data_dir


# --- servers -----------------------------------------------------------------------------

def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 300
               ) -> None:
    """Poll `url` until it answers 200 (the server `proc` writes to `log`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {seconds:.0f} s")


def start_server(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`cmd` in its own process group, in `log`'s folder, its output to `log`."""
    with log.open("wb") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                cwd=log.parent, start_new_session=True)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT to the server's process group; SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the benchmark -------------------------------------------------------------------------

def _series(tracking: str, uri: str) -> tuple[dict[str, str], list[str]]:
    """The first series of the model, and its skus (most nodes first)."""
    import mlflow

    mlflow.set_tracking_uri(tracking)
    f = mlflow.pyfunc.load_model(uri).unwrap_python_model().forecaster
    first = f.keys.iloc[0]
    skus = f.keys["sku"].astype(str).value_counts().index.tolist()
    return {"node_id": str(first["node_id"]), "sku": str(first["sku"])}, skus


def _allocatable(url: str, key: str, skus: list[str]) -> tuple[str, int]:
    """The first sku whose allocation (central stock on record) is feasible, and its lines."""
    for sku in skus:
        request = urllib.request.Request(f"{url}/v1/allocations", method="POST",
                                         data=json.dumps({"sku": sku}).encode(),
                                         headers={"X-API-Key": key,
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return sku, len(json.loads(answer.read())["lines"])
        except urllib.error.HTTPError:
            continue
    raise RuntimeError("no sku could be allocated from the central stock on record")


def _keys(db_url: str) -> dict[str, str]:
    from serving.db import Database
    from serving.keys import create_key

    db = Database(db_url)
    db.migrate()
    keys = {role: create_key(db, name=f"bench-{role}-{time.time_ns()}", role=role)[1]
            for role in ("erp", "planner")}
    db.dispose()
    return keys


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    if args.model_uri:
        uri, tracking, data_dir = args.model_uri, args.tracking_uri, args.data
    else:
        uri, tracking, data_dir = train_champion(OUT)
    series, skus = _series(tracking, uri)
    db_url = f"sqlite:///{OUT / 'service.db'}"
    (OUT / "service.db").unlink(missing_ok=True)
    keys = _keys(db_url)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "CHANNELCAST_DATABASE_URL": db_url,
           "PYTHONPATH": str(ROOT), "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    ours_port, theirs_port = free_port(), free_port()
    cmd = [str(BIN / "channelcast"), "serve", "--port", str(ours_port), "--workers",
           str(args.workers), "--model-uri", uri, "--log-level", "warning"]
    if data_dir:
        cmd += ["--data", str(data_dir)]
    ours = start_server(cmd, env, OUT / "channelcast.log")
    theirs = start_server([str(BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager",
                           "local", "-p", str(theirs_port), "-h", "127.0.0.1", "-w",
                           str(args.workers)], env, OUT / "mlflow.log")
    try:
        wait_ready(f"http://127.0.0.1:{ours_port}/readyz", ours, OUT / "channelcast.log")
        wait_ready(f"http://127.0.0.1:{theirs_port}/ping", theirs, OUT / "mlflow.log")
        body = {"series": [series], "horizon": 4, "quantiles": list(DEFAULT_QUANTILES)}
        results = {"channelcast": run_load(f"http://127.0.0.1:{ours_port}", "/v1/forecasts",
                                           body, {"X-API-Key": keys["erp"]}, args)}
        stop_server(ours)  # one server at a time gets the CPU
        mlflow_body = {"dataframe_records": [series],
                       "params": {"horizon": 4, "quantiles": list(DEFAULT_QUANTILES)}}
        results["mlflow"] = run_load(f"http://127.0.0.1:{theirs_port}", "/invocations",
                                     mlflow_body, {}, args)
        stop_server(theirs)
        ours = start_server(cmd, env, OUT / "channelcast-alloc.log")
        wait_ready(f"http://127.0.0.1:{ours_port}/readyz", ours, OUT / "channelcast-alloc.log")
        sku, lines = _allocatable(f"http://127.0.0.1:{ours_port}", keys["planner"], skus)
        results["allocation"] = run_load(
            f"http://127.0.0.1:{ours_port}", "/v1/allocations", {"sku": sku},
            {"X-API-Key": keys["planner"]}, args, concurrency=1, requests=args.allocations)
    finally:
        stop_server(ours)
        stop_server(theirs)
    results["setup"] = {"model_uri": uri, "workers": args.workers,
                        "concurrency": args.concurrency, "series_request": series,
                        "allocation_sku": sku, "allocation_lines": lines,
                        "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    return results


def table(results: dict[str, Any]) -> str:
    ours, theirs, alloc = results["channelcast"], results["mlflow"], results["allocation"]
    rows = [
        "| server (same champion, {w} worker(s)) | requests | req/s | p50 ms | p99 ms | "
        "statuses |".format(w=results["setup"]["workers"]),
        "|---|---:|---:|---:|---:|---|"]
    for name, r in (("channelcast `POST /v1/forecasts`", ours),
                    ("`mlflow models serve` `POST /invocations`", theirs)):
        rows.append(f"| {name} | {r['requests']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['status']} |")
    rows.append(f"| ratio channelcast / mlflow | | {ours['rps'] / theirs['rps']:.1f}x | "
                f"{ours['p50_ms'] / theirs['p50_ms']:.2f}x | "
                f"{ours['p99_ms'] / theirs['p99_ms']:.2f}x | |")
    rows.append(f"| channelcast `POST /v1/allocations`, {results['setup']['allocation_lines']} "
                "nodes, 1 client | "
                f"{alloc['requests']} | {alloc['rps']:.0f} | {alloc['p50_ms']:.1f} | "
                f"{alloc['p99_ms']:.1f} | {alloc['status']} |")
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        load_main(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20000, help="forecast requests per server")
    p.add_argument("--seconds", type=float, default=30, help="time bound per load run")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers of each server")
    p.add_argument("--allocations", type=int, default=200, help="allocation requests")
    p.add_argument("--model-uri", default=None, help="serve this model instead of training")
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                            "sqlite:///mlflow.db"))
    p.add_argument("--data", type=Path, default=None, help="data folder for allocations")
    args = p.parse_args()
    results = benchmark(args)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nraw results: {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
