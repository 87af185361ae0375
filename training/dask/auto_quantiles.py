"""`auto`'s quantiles on Dask: calibrated on `auto`'s own residuals, as the local backtest does.

The local `_assemble` (training.engine.backtest) gives `auto` a weighted conformal calibrator
fed with `auto`'s residuals as they become known. `auto`'s means need the class state of
every window (phase 2, `class_states`), so this is a phase of its own between selection and
assembly: each partition recomputes `auto`'s means of every window from those states, cuts
its residual pools (and weights) per release event, and the client merges them in the same
order as locally into a table per window (`TableQuantiles`) and the final calibrator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.quantiles import ConformalQuantiles
from training.dask.pooled import Context, Event, PartWindows, Table, quantile_table
from training.engine.selection import Selector

__all__ = ["auto_calibration", "auto_pieces"]

FloatArray = npt.NDArray[np.float64]
Pieces = tuple[dict[tuple[int, str], list[FloatArray]], dict[tuple[int, str], list[FloatArray]]]


def auto_pieces(pw: PartWindows, states: list[tuple[dict[str, FloatArray], dict[str, float]]],
                ctx: Context) -> list[Pieces]:
    """Per release event (`ctx.schedule`, then `ctx.final`): this partition's `auto`
    residual pools and their weights."""
    selector = Selector(ctx.base)
    means = []
    for w, (loss, n) in zip(pw.windows, states, strict=True):
        selector.class_loss, selector.class_n = dict(loss), dict(n)
        means.append(selector.choose(w)[1])
    events: list[Event] = [*(e for es in ctx.schedule for e in es), *ctx.final]
    out = []
    for j, before, known in events:
        w = pw.windows[j]
        calib = ConformalQuantiles(ctx.horizon, weighted=True)
        calib.add(mean=means[j], actual=w.actual, scale=w.scale, groups=w.classes,
                  steps=range(before, known))
        out.append((calib.pools, calib.weights))
    return out


def _merge(calib: ConformalQuantiles, pieces: Pieces) -> None:
    pools, weights = pieces
    for key, arrays in pools.items():
        calib.pools.setdefault(key, []).extend(arrays)
        calib.weights.setdefault(key, []).extend(weights[key])


def auto_calibration(client: Any, pw_f: list[Any], states: Any, ctx: Context,
                     groups: list[str], *, into: dict[str, ConformalQuantiles]
                     ) -> list[Table | None]:
    """Phase 2b on the client: `auto`'s residual-quantile table before each window (None
    while it has no residuals yet; all None without `auto`); its calibrator after every
    release goes to `into["auto"]`."""
    if "auto" not in ctx.models:
        return [None] * len(ctx.cuts)
    parts = client.gather(client.map(auto_pieces, pw_f, states=states, ctx=ctx, pure=False))
    calib = ConformalQuantiles(ctx.horizon, weighted=True)
    tables: list[Table | None] = []
    e = 0
    for i in range(len(ctx.cuts)):
        for _ in ctx.schedule[i]:
            for p in parts:
                _merge(calib, p[e])
            e += 1
        tables.append(None if calib.empty else quantile_table(calib, ctx.qs_all, groups))
    for _ in ctx.final:
        for p in parts:
            _merge(calib, p[e])
        e += 1
    into["auto"] = calib
    return tables
