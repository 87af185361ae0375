"""What one partition contributes to a forecast: its rows of a `Forecaster`, or its
forecast rows written straight from the last backtest window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.periods import period_offset
from features.schema import DATE, ITEM, NODE
from training.dask.pooled import PartWindows, Table, TableQuantiles
from training.engine.forecast import Forecaster, backtest_errors, forecast_dates
from training.engine.rolling import TAIL_COLUMNS
from training.engine.windows import WindowForecasts

__all__ = ["forecast_rows", "forecaster_piece"]


def forecaster_piece(pw: PartWindows, part: pd.DataFrame, chosen: np.ndarray | None, *,
                     primary: str, end: pd.Timestamp, periods: int) -> dict[str, Any]:
    """What one partition adds to a `Forecaster`: its series' last window and tail, the
    errors of the served model `primary` on the calibration windows, and every window's
    forecasts by `primary` (what `training.engine.hierarchy.attach_levels` reconciles)."""
    last = pw.windows[-1]
    first = end - (periods - 1) * period_offset(pw.freq)
    cols = [c for c in TAIL_COLUMNS if c in part]
    tail = part.loc[pd.to_datetime(part[DATE]) >= first, cols].copy()
    tail[DATE] = pd.to_datetime(tail[DATE])
    tail[NODE] = tail[NODE].astype(str)
    tail[ITEM] = tail[ITEM].astype(str)
    return {"keys": pw.keys, "last": last, "tail": tail,
            "chosen": chosen if chosen is not None else np.full(len(pw.keys), primary),
            "errors": backtest_errors(pw.windows[:-1], primary, scale=last.scale),
            "windows": [WindowForecasts(w.cutoff, w.t, {primary: w.means[primary]}, w.actual,
                                        w.scale, w.classes) for w in pw.windows]}


def forecast_rows(pw: PartWindows, chosen: npt.NDArray[np.str_] | None, *,
                  tables: Mapping[str, Table], quantiles: tuple[float, ...],
                  primary: str) -> pd.DataFrame:
    """`Forecaster.predict` of the partition's series from the last window, with the final
    calibrators' residual quantile `tables`."""
    last = pw.windows[-1]
    h = last.actual.shape[1]
    calibrators = {n: TableQuantiles(h, t) for n, t in tables.items()}
    fc = Forecaster(keys=pw.keys.reset_index(drop=True), origin=last.cutoff, freq=pw.freq,
                    dates=forecast_dates(last.cutoff, h, pw.freq), means=last.means,
                    chosen=(chosen if chosen is not None else np.full(len(pw.keys), primary)
                            ).astype(str),
                    scale=last.scale, classes=last.classes,
                    calibrators=calibrators)  # type: ignore[arg-type]
    return fc.predict(quantiles=quantiles, model=primary)
