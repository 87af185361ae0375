"""Statistics pooled over all series for the Dask backtest, from per-partition pieces.

`_assemble` (training.engine.backtest) pools every series' residuals per model, horizon step and
class into conformal calibrators, and every series' errors per class into the `Selector`'s
class means. Here each partition computes its share for every release of `_assemble`'s
schedule and the client adds the shares up in the same order:

- residuals: quantiles are order statistics, so a pool made of every partition's pieces
  gives exactly the local quantiles; the client turns them into a table per window
  (`TableQuantiles`) that every partition reads instead of the pools;
- class sums of `Selector.add`: added per release, in the same order as locally (equal
  up to the order of floating-point additions within a release).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.quantiles import ConformalQuantiles
from training.engine.backtest import WindowForecasts
from training.engine.selection import Selector

__all__ = ["Context", "PartWindows", "TableQuantiles", "calibrate", "class_states",
           "merge_pools", "quantile_table", "residual_pools", "schedule", "window_quantiles"]

FloatArray = npt.NDArray[np.float64]
Event = tuple[int, int, int]  # window j, steps known before, steps known now
Table = dict[tuple[int, str], FloatArray]


class TableQuantiles(ConformalQuantiles):
    """A `ConformalQuantiles` whose residual quantiles were computed from the pooled
    residuals beforehand (a table per (step, group)), so that a partition predicts
    exactly what the full calibrator would, without its pools."""

    def __init__(self, horizon: int, table: Table) -> None:
        super().__init__(horizon)
        self.table = table

    @property
    def empty(self) -> bool:
        return False

    def residual_quantiles(self, qs: Sequence[float], *, step: int,  # noqa: ARG002
                           group: str) -> FloatArray:
        return self.table[(step, group)]


def quantile_table(calib: ConformalQuantiles, qs: Sequence[float], groups: Sequence[str]
                   ) -> Table:
    """The residual quantiles `calib` gives every step and group."""
    return {(k, g): calib.residual_quantiles(list(qs), step=k, group=g)
            for k in range(calib.horizon) for g in groups}


@dataclass
class PartWindows:
    """One partition's backtest windows (its series in panel order)."""

    keys: pd.DataFrame
    dates: pd.DatetimeIndex
    freq: str
    windows: list[WindowForecasts]
    seconds: dict[str, float]

    def panel_view(self) -> SimpleNamespace:
        """What `training.engine.backtest.long_rows` reads of a panel."""
        return SimpleNamespace(keys=self.keys, dates=self.dates, freq=self.freq,
                               n_periods=len(self.dates))


@dataclass
class Context:
    models: tuple[str, ...]
    base: list[str]
    horizon: int
    season: int
    freq: str
    cuts: list[pd.Timestamp]
    quantiles: tuple[float, ...]
    qs_all: list[float]
    warmup: int
    schedule: list[list[Event]]
    final: list[Event]



def schedule(ts: Sequence[int], h: int) -> tuple[list[list[Event]], list[Event]]:
    """`_assemble`'s releases: before each window, the steps of earlier windows whose
    target period is now past; at the end, every step left."""
    pending: list[list[int]] = []
    per_window: list[list[Event]] = []
    for i, t in enumerate(ts):
        events = []
        for p in pending:
            known = min(max(t - ts[p[0]], 0), h)
            if known > p[1]:
                events.append((p[0], p[1], known))
                p[1] = known
        pending = [p for p in pending if p[1] < h]
        per_window.append(events)
        pending.append([i, 0])
    return per_window, [(j, k, h) for j, k in pending if k < h]



def residual_pools(pw: PartWindows, names: Sequence[str], events: Sequence[Event], h: int
               ) -> list[dict[str, dict[tuple[int, str], list[FloatArray]]]]:
    """Phase 1: per release event, each model's residual pools of this partition."""
    out = []
    for j, before, known in events:
        w = pw.windows[j]
        pools = {}
        for name in names:
            calib = ConformalQuantiles(h)
            calib.add(mean=w.means[name], actual=w.actual, scale=w.scale, groups=w.classes,
                      steps=range(before, known))
            pools[name] = calib.pools
        out.append(pools)
    return out


def window_quantiles(w: WindowForecasts, tables: dict[str, Table], ctx: Context
            ) -> dict[str, dict[float, FloatArray]]:
    return {n: TableQuantiles(ctx.horizon, tables[n]).predict(
        mean=w.means[n], scale=w.scale, groups=w.classes, quantiles=ctx.qs_all)
        for n in ctx.base if n in tables}


def class_sums(pw: PartWindows, tables: list[dict[str, Table]], ctx: Context
                ) -> list[tuple[dict[str, FloatArray], dict[str, float]]]:
    """Phase 2: for every release before a window, this partition's `Selector` class sums."""
    selector = Selector(ctx.base)
    quants: list[dict[str, dict[float, FloatArray]]] = []
    out = []
    for i, w in enumerate(pw.windows):
        for j, _, known in ctx.schedule[i]:
            selector.class_loss, selector.class_n = {}, {}
            selector.add(pw.windows[j], quants[j], known=known)
            out.append((selector.class_loss, selector.class_n))
        quants.append(window_quantiles(w, tables[i], ctx))
    return out



def merge_pools(calib: ConformalQuantiles, pools: dict[tuple[int, str], list[FloatArray]]) -> None:
    for key, arrays in pools.items():
        calib.pools.setdefault(key, []).extend(arrays)



def calibrate(client: Any, pw_f: list[Any], ctx: Context
               ) -> tuple[dict[str, ConformalQuantiles], list[dict[str, Table]], list[str]]:
    """Phase 1 on the client: pooled calibrators and each window's quantile tables."""
    events = [*(e for es in ctx.schedule for e in es), *ctx.final]
    parts = client.gather(client.map(residual_pools, pw_f, names=ctx.base, events=events,
                                     h=ctx.horizon, pure=False))
    groups = sorted(set().union(*client.gather(client.map(
        lambda p: {str(c) for w in p.windows for c in np.unique(w.classes)}, pw_f, pure=False))))
    calib = {n: ConformalQuantiles(ctx.horizon) for n in ctx.base}
    tables: list[dict[str, Table]] = []
    e = 0
    for i in range(len(ctx.cuts)):
        for _ in ctx.schedule[i]:
            for p in parts:
                for name in ctx.base:
                    merge_pools(calib[name], p[e][name])
            e += 1
        tables.append({n: quantile_table(calib[n], ctx.qs_all, groups)
                       for n in ctx.base if not calib[n].empty})
    for _ in ctx.final:
        for p in parts:
            for name in ctx.base:
                merge_pools(calib[name], p[e][name])
        e += 1
    return calib, tables, groups


def class_states(client: Any, pw_f: list[Any], tables_f: Any, ctx: Context
                  ) -> list[tuple[dict[str, FloatArray], dict[str, float]]]:
    """Phase 2 on the client: the `Selector` class sums before each window's choice."""
    if "auto" not in ctx.models:
        return [({}, {})] * len(ctx.cuts)
    parts = client.gather(client.map(class_sums, pw_f, tables=tables_f, ctx=ctx, pure=False))
    loss: dict[str, FloatArray] = {}
    count: dict[str, float] = {}
    states = []
    e = 0
    for i in range(len(ctx.cuts)):
        for _ in ctx.schedule[i]:
            classes = sorted(set().union(*(p[e][0] for p in parts)))
            for cls in classes:
                added = [p[e][0][cls] for p in parts if cls in p[e][0]]
                total = added[0] if len(added) == 1 else np.sum(added, axis=0)
                loss[cls] = loss.get(cls, np.zeros_like(total)) + total
                count[cls] = count.get(cls, 0) + float(sum(p[e][1].get(cls, 0.0) for p in parts))
            e += 1
        states.append((dict(loss), dict(count)))
    return states
