"""The channel monitor on a partitioned store: `channelcast monitor|health --engine dask`.

Each part of a store holds whole series, so the workers run the per-series detectors
(`series_signals`) and the per-series monthly sums (`series_months`) on their parts, laid on
the whole store's period grid. What reaches the client: every series' detector scores (one
number per series, period and array: the thresholds are quantiles pooled over all series),
the node sums (nodes x periods, exact: sums of integers) and the series x month sums. The
client then runs the same alert extraction and scoring as the local engine, so the answers
are the local engine's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.contract.partitioned import Store
from features.schema import DATE, ITEM, NODE
from models.monitor.alerts import (
    Grid,
    has_stock,
    node_signals,
    replay_signals,
    series_signals,
)
from models.monitor.channel import NodeFlow, node_flow
from models.monitor.config import MonitorConfig
from models.monitor.health import score_health
from models.monitor.kpi import rollup_kpis, series_months
from models.monitor.panel import build_panel
from models.monitor.signal import Signal

__all__ = ["health_dask", "monitor_dask"]


def _dates(path: str) -> np.ndarray:
    return pd.to_datetime(pd.read_parquet(path, columns=[DATE])[DATE]).unique()


def _part(path: str, grid: pd.DatetimeIndex, config: MonitorConfig, nodes: pd.DataFrame,
          kpis: bool) -> dict[str, Any]:
    """One part's series scores, node sums and (with `kpis`) series x month sums."""
    panel = build_panel(pd.read_parquet(path), grid=grid)
    out: dict[str, Any] = {"keys": panel.keys, "flow": node_flow(panel),
                           "stock": has_stock(panel), "weeks": panel.period_weeks}
    if kpis:
        out["months"] = series_months(panel, nodes)
    else:
        out["signals"] = series_signals(panel, config, stock=True)
    return out


def _stack(parts: list[list[Signal]], order: np.ndarray) -> list[Signal]:
    """Each detector's signal over all parts, rows in the local engine's series order."""
    stacked = []
    for sigs in zip(*parts, strict=True):
        def cat(name: str, sigs: tuple[Signal, ...] = sigs) -> np.ndarray:
            return np.concatenate([getattr(s, name) for s in sigs])[order]
        extra = {k: np.concatenate([s.extra[k] for s in sigs])[order] for k in sigs[0].extra}
        stacked.append(replace(sigs[0], score=cat("score"), start=cat("start"),
                               expected=cat("expected"), observed=cat("observed"),
                               extra=extra))
    return stacked


def _run_parts(client: Any, store: Store, config: MonitorConfig, nodes: pd.DataFrame, *,
               kpis: bool) -> tuple[pd.DatetimeIndex, list[dict[str, Any]]]:
    files = [str(f) for f in store.files]
    if not files:
        raise ValueError(f"store {store.path} has no part files; write it again with "
                         "`channelcast ingest DIR --parquet-dir STORE`.")
    dates = client.gather(client.map(_dates, files))
    grid = pd.DatetimeIndex(np.unique(np.concatenate(dates)))
    futures = client.map(_part, files, grid=grid, config=config, nodes=nodes, kpis=kpis)
    return grid, client.gather(futures)


def _nodes(store: Store) -> pd.DataFrame:
    nodes = store.nodes()
    return nodes if nodes is not None else pd.DataFrame({NODE: pd.Series(dtype=str)})


def monitor_dask(client: Any, store: Store, *, since: date | None = None,
                 until: date | None = None, config: MonitorConfig | None = None
                 ) -> pd.DataFrame:
    """`replay` over a store: the same alerts as the local engine on the whole history."""
    config = config or MonitorConfig()
    nodes = _nodes(store)
    grid, parts = _run_parts(client, store, config, nodes, kpis=False)
    keys = pd.concat([p["keys"] for p in parts], ignore_index=True)
    order = keys.sort_values([NODE, ITEM], kind="stable").index.to_numpy()
    flow: NodeFlow = parts[0]["flow"]
    for part in parts[1:]:
        flow = flow + part["flow"]
    stock = any(p["stock"] for p in parts)
    signals = _stack([p["signals"] for p in parts], order)
    if not stock:
        signals = [s for s in signals if s.kind != "stock_mismatch"]
    signals += node_signals(flow, config, stock=stock)
    view = Grid(keys=keys.iloc[order].reset_index(drop=True), node_ids=flow.node_ids,
                dates=grid)
    return replay_signals(view, signals, nodes, since=since, until=until, config=config)


def health_dask(client: Any, store: Store, *, month: str | None = None, level: str = "node",
                alerts: pd.DataFrame | None = None) -> pd.DataFrame:
    """`health_index` over a store from the parts' series x month sums."""
    nodes = _nodes(store)
    _, parts = _run_parts(client, store, MonitorConfig(), nodes, kpis=True)
    series = pd.concat([p["months"] for p in parts], ignore_index=True)
    table = rollup_kpis(series, level, parts[0]["weeks"])
    return score_health(table, nodes, level=level, month=month, alerts=alerts)
