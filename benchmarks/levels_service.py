"""Every level of the channel tree in the service and on Dask (issue 23): what it costs.

Usage:
    .venv/bin/python benchmarks/levels_service.py [--nodes 120] [--skus 30] [--periods 104]
        [--models snaive,ma,croston,auto] [--workers 2] [--no-dask]

Generates a channel (`features.synthetic`, weekly), fits every level on the local engine
(`fit_levels`, horizon 8, default method chosen on 2 calibration windows) and times, in
process (no HTTP): the service's first answer for an aggregate (`serving.levels.level_table`:
`predict_levels` of every series for the default method, then cached), a cached answer (one
aggregate's rows sliced from the table), one aggregate's base forecast without a table (how
`none` is answered over `FULL_CACHE_SERIES` series) and `GET /v1/aggregates`' search. Then
the same fit on a
Dask LocalCluster (`fit_levels_dask`, `--workers` processes x 1 thread) and whether its
reconciled forecasts equal the local ones. Prints a Markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from features.contract.partitioned import open_store, write_partitioned  # noqa: E402
from features.contract.validation import load_validated  # noqa: E402
from features.synthetic import generate_channel_data, write_channel_data  # noqa: E402
from serving.levels import level_frame, level_index, level_table  # noqa: E402
from serving.model_store import ServedModel  # noqa: E402
from training.engine.hierarchy import fit_levels  # noqa: E402


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall seconds of `repeat` calls, and the last result."""
    seconds, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), out


def _service(model: ServedModel) -> list[tuple[str, float]]:
    f = model.forecaster
    name, method, qs = f.primary, str(f.reconcile), (0.1, 0.5, 0.9)
    cold, table = _timed(lambda: level_table(model, name=name, horizon=f.horizon, quantiles=qs,
                                             method=method))
    index = level_index(model)
    assert index is not None and table is not None  # reconciled: always a table
    key = tuple(index.keys.iloc[index.n_bottom])
    warm, _ = _timed(lambda: table.mean[index.find([key])[0]], repeat=200)
    base, _ = _timed(lambda: level_frame(model, [key], name=name, horizon=f.horizon,
                                         quantiles=qs, method="none"), repeat=3)
    keys = index.keys.iloc[index.n_bottom:]
    search, _ = _timed(lambda: keys[keys["node_id"].str.contains("DST", regex=False)],
                       repeat=20)
    return [("first reconciled answer: every series' table, then cached (s)", cold),
            ("cached answer: one aggregate sliced (ms)", warm * 1e3),
            ("one aggregate's base forecast (`none`) without a table (ms)", base * 1e3),
            ("aggregate search, node_id contains DST (ms)", search * 1e3)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=120)
    p.add_argument("--skus", type=int, default=30)
    p.add_argument("--periods", type=int, default=104)
    p.add_argument("--models", default="snaive,ma,croston,auto")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-dask", action="store_true")
    args = p.parse_args(argv)
    models = tuple(args.models.split(","))
    root = Path(tempfile.mkdtemp(prefix="levels-bench-"))
    write_channel_data(generate_channel_data(nodes=args.nodes, skus=args.skus,
                                             periods=args.periods, freq="W", seed=7),
                       root / "data")
    report = load_validated(root / "data")
    history, nodes, freq = report.tables["sell_through"], report.tables["nodes"], str(report.freq)
    fit, forecaster = _timed(lambda: fit_levels(history, nodes=nodes, freq=freq, horizon=8,
                                                models=models, calibration_windows=2))
    hierarchy = forecaster.hierarchy
    rows = [("bottom series", hierarchy.n_bottom), ("series at every level", hierarchy.n_all),
            ("default method", forecaster.reconcile), ("fit_levels, local (s)", fit)]
    model = ServedModel.build(forecaster, uri="bench", name="bench", version="1", run_id=None,
                              loaded_at=datetime.now().astimezone())
    rows += _service(model)
    if not args.no_dask:
        rows += _dask(args, history, nodes, freq, models, forecaster, root)
    print("| what | value |\n|---|---|")
    for what, value in rows:
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"| {what} | {shown} |")


def _dask(args: argparse.Namespace, history: Any, nodes: Any, freq: str,
          models: tuple[str, ...], local: Any, root: Path) -> list[tuple[str, Any]]:
    from training.dask.cluster import connect
    from training.dask.hierarchy import fit_levels_dask

    store = open_store(write_partitioned(history, root / "store", freq=freq, nodes=nodes))
    with connect(f"local-cluster:{args.workers}") as client:
        seconds, dask = _timed(lambda: fit_levels_dask(client, store, horizon=8, models=models,
                                                       calibration_windows=2))
    want, got = local.predict_levels(), dask.predict_levels()
    gap = float(np.max(np.abs(got["mean"].to_numpy() - want["mean"].to_numpy())))
    return [(f"fit_levels_dask, {args.workers} workers, {len(store.files)} partitions (s)",
             seconds), ("largest |Dask - local| reconciled mean", gap),
            ("same default method", dask.reconcile == local.reconcile)]


if __name__ == "__main__":
    main()
