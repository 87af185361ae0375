"""Feature building at scale: channelcast's training set vs mlforecast's preprocessing.

Usage:
    .venv/bin/python benchmarks/features.py [--nodes 100 --skus 300 --periods 156]

Generates (once, cached under benchmarks/out/) a weekly channel of nodes x skus series, then
runs each contender in its own process so peak memory (max RSS of that process) is its own,
and prints one table with wall seconds, peak memory and ratios against mlforecast.
mlforecast runs only if installed (`pip install -e .[bench]`).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `features` package: put the project root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from features.periods import weekly_freq  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
HORIZON = 8
SHORT_LAGS = (1, 2, 3, 4, 52)
SHORT_WINDOWS = (4, 13)
FULL_LAGS = (1, 2, 3, 4, 8, 13, 26, 52)
FULL_WINDOWS = (4, 8, 13, 26, 52)


def _data(nodes: int, skus: int, periods: int) -> Path:
    folder = OUT / f"channel_{nodes}x{skus}x{periods}"
    if not (folder / "sell_through.parquet").exists():
        from features.synthetic import generate_channel_data, write_channel_data

        data = generate_channel_data(nodes=nodes, skus=skus, periods=periods, freq="W", seed=1)
        write_channel_data(data, folder, fmt="parquet")
    return folder


def _run_channelcast(folder: Path, spec_name: str) -> dict[str, float]:
    import pandas as pd

    from features.config import FeatureSpec
    from features.engineering.training_set import build_training_set

    history = pd.read_parquet(folder / "sell_through.parquet")
    nodes = pd.read_csv(folder / "nodes.csv", dtype=str)
    freq = weekly_freq(history['date'].iloc[0])
    if spec_name == "short":
        spec = FeatureSpec(lags=SHORT_LAGS, windows=SHORT_WINDOWS, season=52)
    else:
        spec = FeatureSpec(lags=FULL_LAGS, windows=FULL_WINDOWS, season=52)
    start = time.perf_counter()
    ts = build_training_set(history, horizon=HORIZON, freq=freq, spec=spec, nodes=nodes)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(ts),
            "columns": ts.features.shape[1] + len(ts.known.names) + HORIZON}


def _run_mlforecast(folder: Path, spec_name: str) -> dict[str, float]:
    import pandas as pd
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd

    history = pd.read_parquet(folder / "sell_through.parquet")
    df = pd.DataFrame({
        "unique_id": history["node_id"].astype(str) + "|" + history["sku"].astype(str),
        "ds": pd.to_datetime(history["date"]),
        "y": history["units"].astype("float64"),
    })
    lags: tuple[int, ...]
    transforms: dict[int, list[Any]]
    if spec_name == "short":
        lags, transforms = SHORT_LAGS, {1: [RollingMean(w) for w in SHORT_WINDOWS]}
    else:
        lags = FULL_LAGS
        transforms = {1: [t(w) for w in FULL_WINDOWS for t in (RollingMean, RollingStd)]}
    freq = weekly_freq(df['ds'].iloc[0])
    fcst = MLForecast(models=[], freq=freq, lags=list(lags), lag_transforms=transforms,
                      date_features=["week", "month"], num_threads=1)
    start = time.perf_counter()
    # mlforecast has no gap filling here: the generated data has no gaps inside a series
    prep = cast(pd.DataFrame, fcst.preprocess(df, max_horizon=HORIZON, dropna=False))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(prep), "columns": prep.shape[1] - 3}


def _child(tool: str, folder: Path, spec_name: str) -> None:
    runner = _run_channelcast if tool == "channelcast" else _run_mlforecast
    result = runner(folder, spec_name)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _measure(tool: str, folder: Path, spec_name: str) -> dict[str, float] | None:
    cmd = [sys.executable, __file__, "--child", tool, "--folder", str(folder), "--spec", spec_name]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(f"  {tool} ({spec_name}) failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mlforecast_installed() -> bool:
    try:
        import mlforecast  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--skus", type=int, default=300)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="short", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.folder, args.spec)
        return
    folder = _data(args.nodes, args.skus, args.periods)
    tools = ["channelcast"] + (["mlforecast"] if _mlforecast_installed() else [])
    if len(tools) == 1:
        print("mlforecast is not installed (pip install -e .[bench]): no peer to compare with")
    print(f"data: {folder.name} ({args.nodes * args.skus:,} series x {args.periods} weeks), "
          f"horizon {HORIZON}, each run in its own process")
    header = (f"{'spec':<6} {'tool':<12} {'rows':>11} {'cols':>5} {'wall s':>8} {'peak MiB':>9}"
              f" {'time vs mlf':>12} {'mem vs mlf':>11}")
    print(header)
    print("-" * len(header))
    for spec_name in ("short", "full"):
        results = {tool: _measure(tool, folder, spec_name) for tool in tools}
        peer = results.get("mlforecast")
        for tool, res in results.items():
            if res is None:
                continue
            t_ratio = f"{res['seconds'] / peer['seconds']:.2f}x" if peer else "-"
            m_ratio = f"{res['peak_mib'] / peer['peak_mib']:.2f}x" if peer else "-"
            print(f"{spec_name:<6} {tool:<12} {int(res['rows']):>11,} {int(res['columns']):>5}"
                  f" {res['seconds']:>8.2f} {res['peak_mib']:>9.0f} {t_ratio:>12} {m_ratio:>11}")
    print("\nshort: lags 1-4,52 + rolling mean 4,13 at lag 1 (+ channelcast's std, zero share, "
          "hierarchy, calendar, price/promo)\nfull: lags 1,2,3,4,8,13,26,52 + rolling mean and "
          "std 4,8,13,26,52 at lag 1")


if __name__ == "__main__":
    main()
