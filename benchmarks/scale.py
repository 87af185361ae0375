"""Scale on Dask: the backtest of every model, local engine vs a LocalCluster.

Usage:
    .venv/bin/python benchmarks/scale.py [--sizes 30k,100k,300k] [--engines local,dask]
        [--workers 2] [--worker-memory 8GiB]

For each size a weekly channel of nodes x skus series x 156 weeks is generated (once,
cached as a partitioned store under benchmarks/out/scale_<size>/), then each engine runs
in its own process: the workload of `channelcast backtest` (every model: LightGBM with
the `fast` preset, ETS, seasonal naive, Croston, TSB, moving average and `auto`; horizon
8, 1 warm-up and 2 scored windows; predictions written as Parquet; WRMSSE per model).

Memory: the local process's peak RSS; on Dask the client's and each worker's peak RSS
(getrusage in each process; workers are processes with one thread each). The local engine
holds every series at once, so it is not started when its estimated peak (bytes per
series-period measured at 30k, times the size) exceeds 85% of the memory available now:
the table says "refused" with the estimate instead.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import TypedDict, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "out"
SIZES = {"30k": (100, 300), "100k": (200, 500), "300k": (500, 600)}
PERIODS = 156
HORIZON, WINDOWS, WARMUP = 8, 2, 1
MODELS = ("lgbm", "ets", "snaive", "croston", "tsb", "ma", "auto")
# peak RSS of the local engine per series x period, measured at 30k on this workload
# (issue 19: 3.20 GiB / (30,000 x 156); it was 3,700 bytes, 16.2 GiB, before the stacked
# LightGBM rows were built per step; the fixed part makes it an overestimate at larger sizes)
LOCAL_BYTES_PER_CELL = 740.0


class Record(TypedDict, total=False):
    """One engine's run at one size (or why it did not run)."""

    seconds: float
    client_mib: float
    workers_mib: list[float]
    wrmsse: dict[str, float]
    error: str
    refused: str


def _store(size: str) -> Path:
    nodes, skus = SIZES[size]
    folder = OUT / f"scale_{size}"
    if not (folder / "store" / "_meta.json").exists():
        from features.contract.partitioned import write_partitioned
        from features.synthetic import generate_channel_data

        start = time.perf_counter()
        data = generate_channel_data(nodes=nodes, skus=skus, periods=PERIODS, freq="W", seed=1)
        write_partitioned(data.sell_through, folder / "store", freq="W-MON", nodes=data.nodes)
        print(f"generated {size}: {len(data.sell_through):,} rows in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return folder / "store"


def _config():  # -> BacktestConfig
    from features.config import FAST_LGBM, BacktestConfig

    return BacktestConfig(horizon=HORIZON, windows=WINDOWS, step=HORIZON, models=MODELS,
                          warmup=WARMUP, lgbm=FAST_LGBM)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_local(store_path: Path, out: Path) -> Record:
    from features.contract.partitioned import open_store
    from training.engine.backtest import run_backtest
    from training.engine.metrics import evaluate

    start = time.perf_counter()
    store = open_store(store_path)
    history = store.load_history()
    result = run_backtest(history, freq=store.freq, config=_config(), nodes=store.nodes())
    result.predictions.to_parquet(out / "local_predictions.parquet", index=False)
    table = evaluate(result.predictions, history, freq=store.freq, by=["model"])
    return {"seconds": time.perf_counter() - start, "client_mib": _peak_mib(),
            "workers_mib": [], "wrmsse": dict(zip(table["model"], table["wrmsse"], strict=True))}


def _run_dask(store_path: Path, out: Path, workers: int, memory: str) -> Record:
    from features.contract.partitioned import open_store
    from training.dask.backtest import run_backtest_dask
    from training.dask.cluster import connect

    with connect(f"local-cluster:{workers}", memory_limit=memory) as client:
        start = time.perf_counter()
        result = run_backtest_dask(client, open_store(store_path), config=_config(),
                                   all_models=out / "dask_predictions")
        seconds = time.perf_counter() - start
        peaks = client.run(_peak_mib)
    table = result.scores[("model",)]
    print("phases (wall s): " + ", ".join(f"{k[5:]} {v:.0f}" for k, v in result.seconds.items()
                                          if k.startswith("wall/")), flush=True)
    print("client peak after each phase (GiB): " + ", ".join(
        f"{k} {v / 1024:.2f}" for k, v in result.client_peak_mib.items()), flush=True)
    return {"seconds": seconds, "client_mib": _peak_mib(),
            "workers_mib": sorted(peaks.values()),
            "wrmsse": dict(zip(table["model"], table["wrmsse"], strict=True))}


def _child(args: argparse.Namespace) -> None:
    store = _store(args.size)
    out = store.parent
    if args.child == "local":
        record = _run_local(store, out)
    else:
        record = _run_dask(store, out, args.workers, args.worker_memory)
    print("RESULT " + json.dumps(record))


def _local_refusal(size: str) -> str | None:
    import psutil

    nodes, skus = SIZES[size]
    need = LOCAL_BYTES_PER_CELL * nodes * skus * PERIODS
    free = psutil.virtual_memory().available
    if need > 0.85 * free:
        return f"refused: needs ~{need / 2**30:.0f} GiB, {free / 2**30:.0f} GiB available"
    return None


def _generate(size: str) -> None:
    """The store, written by a process of its own: on Linux a child inherits its parent's
    peak memory (ru_maxrss survives fork and exec), so a parent that had held the generated
    data would inflate every measured peak after it."""
    done = subprocess.run([sys.executable, __file__, "--generate", "--size", size],
                          capture_output=True, text=True, cwd=ROOT)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        sys.exit(f"generating {size} failed: {done.stderr.strip()[-2000:]}")


def _spawn(size: str, engine: str, args: argparse.Namespace) -> Record:
    cmd = [sys.executable, __file__, "--child", engine, "--size", size,
           "--workers", str(args.workers), "--worker-memory", args.worker_memory]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return cast(Record, json.loads(line[len("RESULT "):]))
        print(line)
    return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}


def _row(size: str, engine: str, rec: Record) -> str:
    if "error" in rec or "refused" in rec:
        return f"| {size} | {engine} | {rec.get('refused') or rec.get('error')} | | | | |"
    workers = rec["workers_mib"] or []
    wmax = f"{max(workers) / 1024:.2f}" if workers else "-"
    wr = rec["wrmsse"]
    return (f"| {size} | {engine} | {rec['seconds']:.0f} | {rec['client_mib'] / 1024:.2f} | "
            f"{wmax} | {wr.get('lgbm', float('nan')):.4f} | "
            f"{wr.get('auto', float('nan')):.4f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="30k,100k,300k", help=f"from {', '.join(SIZES)}")
    p.add_argument("--engines", default="local,dask")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-memory", default="8GiB")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--size", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.generate:
        _store(args.size)
        return
    if args.child:
        _child(args)
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        sys.exit(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}")
    lines = ["| series | engine | wall s | client/local peak GiB | max worker peak GiB | "
             "WRMSSE lgbm | WRMSSE auto |", "|---|---|---|---|---|---|---|"]
    for size in sizes:
        _generate(size)
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            refusal = _local_refusal(size) if engine == "local" else None
            label = engine if engine == "local" else f"dask {args.workers}x1"
            rec: Record = {"refused": refusal} if refusal else _spawn(size, engine, args)
            lines.append(_row(size, label, rec))
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
