"""Forecast every series from all history, with the backtest's model choice and quantiles.

The same machinery as the backtest: `calibration_windows` rolling windows just before the
end give each model's out-of-sample errors (for its quantiles) and each series' model choice
(`auto`); then every model is fitted on all history and forecasts from the last period.
`Forecaster` keeps the result (means per model, calibrated residuals, choices) so that any
quantile can be asked for later without refitting; it pickles into the MLflow model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.history import build_panel
from features.schema import DATE, ITEM, NODE
from features.training_set import FeatureSpec
from models.lgbm import LGBMConfig, LGBMForecaster
from models.quantiles import ConformalQuantiles, quantile_name
from training.backtest import BacktestConfig, run_backtest
from training.selection import members
from training.windows import cutoffs as rolling_cutoffs

__all__ = ["DEFAULT_MODELS", "Forecaster", "UnknownSeriesError", "fit_forecaster"]

DEFAULT_MODELS = ("lgbm", "ets", "snaive", "croston", "tsb", "ma", "auto")
FloatArray = npt.NDArray[np.float64]


class UnknownSeriesError(KeyError):
    """A requested (node_id, sku) was not in the training data."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Forecaster:
    """Forecasts from the last history period for every series and model, with quantiles.

    Attributes:
        keys: `node_id`, `sku` per series (row i of every array).
        origin: last period of the history; forecasts start one period after it.
        freq: the period grid.
        dates: the `horizon` target periods.
        means: model -> series x horizon mean forecasts.
        chosen: the model `auto` took per series.
        scale, classes: per-series residual scale and demand class (for quantiles).
        calibrators: model -> pooled out-of-sample residuals.
    """

    keys: pd.DataFrame
    origin: pd.Timestamp
    freq: str
    dates: pd.DatetimeIndex
    means: dict[str, FloatArray]
    chosen: npt.NDArray[np.str_]
    scale: FloatArray
    classes: npt.NDArray[np.str_]
    calibrators: dict[str, ConformalQuantiles]
    lgbm: LGBMForecaster | None = None  # the booster behind `means["lgbm"]`, for inspection

    @property
    def horizon(self) -> int:
        return len(self.dates)

    def rows_of(self, series: pd.DataFrame) -> npt.NDArray[np.intp]:
        """Row index of each requested (node_id, sku); raises UnknownSeriesError."""
        index = pd.MultiIndex.from_frame(self.keys[[NODE, ITEM]].astype(str))
        wanted = pd.MultiIndex.from_frame(series[[NODE, ITEM]].astype(str))
        rows = index.get_indexer(wanted)
        if (rows < 0).any():
            missing = [f"({n}, {s})" for n, s in wanted[rows < 0][:5]]
            raise UnknownSeriesError(
                f"{int((rows < 0).sum())} requested series were not in the training data, "
                f"e.g. {', '.join(missing)}; check node_id and sku, or retrain with history "
                "for them.")
        return rows

    def predict(self, series: pd.DataFrame | None = None, *, horizon: int | None = None,
                quantiles: Sequence[float] = (0.1, 0.5, 0.9), model: str = "auto"
                ) -> pd.DataFrame:
        """Long forecast rows: node_id, sku, date, step, model, mean, q... per series x step."""
        h = horizon or self.horizon
        if not 1 <= h <= self.horizon:
            raise ValueError(f"`horizon` must be in 1..{self.horizon} (the trained horizon); "
                             f"got {h}.")
        if model not in self.means:
            raise ValueError(f"`model` must be one of {sorted(self.means)}; got {model!r}.")
        rows = np.arange(len(self.keys)) if series is None else self.rows_of(series)
        mean = self.means[model][rows, :h]
        qs = sorted({float(q) for q in quantiles})
        for q in qs:
            quantile_name(q)  # validates the range
        quant = self._quantiles(model, rows, mean, qs)
        out = pd.DataFrame({
            NODE: np.repeat(self.keys[NODE].to_numpy()[rows], h),
            ITEM: np.repeat(self.keys[ITEM].to_numpy()[rows], h),
            DATE: np.tile(self.dates[:h], len(rows)),
            "step": np.tile(np.arange(1, h + 1), len(rows)),
            "model": np.repeat(self.chosen[rows], h) if model == "auto" else model,
            "mean": mean.ravel(),
        })
        for q in qs:
            out[quantile_name(q)] = quant[q].ravel()
        return out

    def _quantiles(self, model: str, rows: npt.NDArray[np.intp], mean: FloatArray,
                   qs: list[float]) -> dict[float, FloatArray]:
        names = self.chosen[rows] if model == "auto" else np.full(len(rows), model)
        out = {q: np.zeros_like(mean) for q in qs}
        for name in np.unique(names):
            sel = names == name
            parts = [self.calibrators[m].predict(
                mean=self.means[m][rows[sel], : mean.shape[1]], scale=self.scale[rows[sel]],
                groups=self.classes[rows[sel]], quantiles=qs) for m in members(str(name))]
            for q in qs:
                out[q][sel] = np.mean([p[q] for p in parts], axis=0)
        for q in qs:  # a quantile never below the one before it
            out[q] = np.maximum(out[q], out[qs[qs.index(q) - 1]]) if qs.index(q) else out[q]
        return out


def fit_forecaster(history: pd.DataFrame, *, freq: str, horizon: int,
                   nodes: pd.DataFrame | None = None, models: Sequence[str] = DEFAULT_MODELS,
                   calibration_windows: int = 3, spec: FeatureSpec | None = None,
                   lgbm: LGBMConfig | None = None) -> Forecaster:
    """Fit every model on all history (after `calibration_windows` windows for quantiles
    and the choice of `auto`) and keep the forecasts.

    Raises:
        ValueError: when the history is too short for `calibration_windows` windows of
            `horizon` periods before its end (lower either).
    """
    dates = build_panel(history[[DATE, NODE, ITEM, "units"]], freq=freq).dates
    calib = rolling_cutoffs(dates, horizon=horizon, windows=calibration_windows, step=horizon)
    config = BacktestConfig(horizon=horizon, windows=1, step=horizon, models=tuple(models),
                            warmup=calibration_windows, spec=spec, lgbm=lgbm)
    result = run_backtest(history, freq=freq, config=config, nodes=nodes,
                          cutoffs=[*calib, dates[-1]])
    last = result.windows[-1]
    assert result.panel_keys is not None
    target = result.predictions.loc[result.predictions["model"] == config.models[0], DATE]
    chosen = (result.choices[result.choices["cutoff"] == last.cutoff]["chosen"].to_numpy()
              if result.choices is not None else np.full(len(result.panel_keys), models[0]))
    return Forecaster(keys=result.panel_keys.reset_index(drop=True), origin=last.cutoff,
                      freq=freq, dates=pd.DatetimeIndex(sorted(target.unique())),
                      means=last.means, chosen=chosen.astype(str), scale=last.scale,
                      classes=last.classes, calibrators=result.calibrators, lgbm=result.lgbm)


def main(argv: list[str] | None = None) -> None:
    """`python -m training.forecast`: forecast with a registered model (see training.stages)."""
    from training.stages import forecast_main

    forecast_main(argv)


if __name__ == "__main__":
    main()
