"""Forecast every series from all history, with the backtest's model choice and quantiles.

The same machinery as the backtest: `calibration_windows` rolling windows just before the
end give each model's out-of-sample errors (for its quantiles) and each series' model choice
(`auto`); then every model is fitted on all history and forecasts from the last period.
`Forecaster` keeps the result (means per model, calibrated residuals, choices) so that any
quantile can be asked for later without refitting; it pickles into the MLflow model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import (
    DEFAULT_MODELS,
    DEFAULT_QUANTILES,
    BacktestConfig,
    FeatureSpec,
    LGBMConfig,
)
from features.engineering.history import build_panel
from features.periods import period_offset, season_length
from features.schema import DATE, ITEM, NODE, PRICE, PROMO
from models.hierarchy import Hierarchy
from models.lgbm import LGBMForecaster
from models.quantiles import ConformalQuantiles, quantile_name
from models.zoo import check_models, primary_model
from training.engine.backtest import BacktestResult, WindowForecasts, run_backtest
from training.engine.calibration import (
    EMPTY_CALIBRATION,
    CalibrationForecasts,
    calibration_forecasts,
)
from training.engine.hierarchy_model import LevelForecasts, NoHierarchyError
from training.engine.rolling import (
    ForecastState,
    RollForwardError,
    auto_means,
    lgbm_means,
    recompute_means,
    roll_forward,
    tail_periods,
    trim_tail,
)
from training.engine.selection import members
from training.engine.windows import cutoffs as rolling_cutoffs

__all__ = ["Forecaster", "RollForwardError", "UnknownSeriesError",
           "backtest_errors", "fit_forecaster", "fit_forecaster_result", "forecast_dates"]

FloatArray = npt.NDArray[np.float64]


class UnknownSeriesError(KeyError):
    """A requested (node_id, sku) was not in the training data."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Forecaster:
    """Forecasts from the last history period for every series and model, with quantiles,
    and what it takes to forecast again from a later origin without refitting.

    Attributes:
        keys: `node_id`, `sku` per series (row i of every array).
        origin: last period of the history; forecasts start one period after it.
        freq: the period grid.
        dates: the `horizon` target periods.
        means: model -> series x horizon mean forecasts, in the order the models were given
            (it decides the served model: `primary`).
        chosen: the model `auto` took per series.
        scale, classes: per-series residual scale and demand class (for quantiles).
        calibrators: model -> pooled out-of-sample residuals.
        lgbm: the booster behind `means["lgbm"]`.
        state: the history tail, feature spec, node table, ETS states and booster that
            `update` (roll forward) and `predict(future=...)` use; None in a forecaster
            pickled before it existed.
        errors: per series (rows follow `keys`), the served model's out-of-sample error on
            the calibration windows before the origin: `mae_scaled` (mean absolute error
            / the series' scale, like MASE), `wape`, `bias` (mean error / mean actual) and
            the number of `periods` scored; see `backtest_errors`.
        calibration: the served model's per-period forecasts on those windows (float32,
            `training.engine.calibration`); `EMPTY_CALIBRATION` in a forecaster pickled
            before they were kept.
        levels: the aggregate series of the channel tree and their reconcilers
            (`predict_levels`); None for a model trained without a hierarchy.
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
    lgbm: LGBMForecaster | None = None
    state: ForecastState | None = None
    errors: pd.DataFrame | None = None
    levels: LevelForecasts | None = None
    calibration: CalibrationForecasts = EMPTY_CALIBRATION

    @property
    def horizon(self) -> int:
        return len(self.dates)

    @property
    def models(self) -> list[str]:
        """The trained models, in the order they were given."""
        return list(self.means)

    @property
    def primary(self) -> str:
        """The model served when a request names none (`models.zoo.primary_model`)."""
        return primary_model(self.models)

    @property
    def tail(self) -> pd.DataFrame:
        """Recent sell-through of every series (the rows the next forecast starts from)."""
        if self.state is None:
            raise RuntimeError("this forecaster keeps no history; retrain it.")
        return self.state.tail

    @property
    def hierarchy(self) -> Hierarchy | None:
        """The series of every level (`models.hierarchy.Hierarchy`); None without one."""
        return None if self.levels is None else self.levels.hierarchy

    @property
    def reconcile(self) -> str | None:
        """The default reconciliation method (the backtest winner); None without levels."""
        return None if self.levels is None else self.levels.method

    def predict_levels(self, series: pd.DataFrame | None = None, *, horizon: int | None = None,
                       quantiles: Sequence[float] = DEFAULT_QUANTILES, model: str | None = None,
                       reconcile: str | None = None) -> pd.DataFrame:
        """Rows `level, node_id, sku, date, step, model, reconcile, mean, q...` of any series
        of the channel tree (`series`: `level, node_id, sku`, sku `*` = all skus; None =
        every series); `reconcile` default the backtest winner (`reconcile`).

        Raises:
            NoHierarchyError: the model was trained without a hierarchy.
            UnknownSeriesError: a series not in the hierarchy.
        """
        if self.levels is None:
            raise NoHierarchyError("this model was trained without a hierarchy (no aggregate "
                                   "series); retrain it with nodes that have parents or "
                                   "channels, or ask for level `node`.")
        h = horizon or self.horizon
        if not 1 <= h <= self.horizon:
            raise ValueError(f"`horizon` must be in 1..{self.horizon} (the trained horizon); "
                             f"got {h}.")
        for q in quantiles:
            quantile_name(q)
        try:
            return self.levels.predict(self, series, h=h, quantiles=quantiles,
                                       model=self.primary if model is None else model,
                                       method=reconcile)
        except KeyError as exc:
            raise UnknownSeriesError(str(exc.args[0])) from exc

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
                quantiles: Sequence[float] = DEFAULT_QUANTILES, model: str | None = None,
                future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Long forecast rows: node_id, sku, date, step, model, mean, q... per series x step.

        `future`: planned `price` and/or `promo` per (date, node_id, sku) of the forecast
        periods; LightGBM's forecasts of those series are rebuilt with them (other models
        do not use prices or promotions). `model`: default the served one (`primary`).
        """
        h = horizon or self.horizon
        if not 1 <= h <= self.horizon:
            raise ValueError(f"`horizon` must be in 1..{self.horizon} (the trained horizon); "
                             f"got {h}.")
        model = self.primary if model is None else model
        if model not in self.means:
            raise ValueError(f"`model` must be one of {sorted(self.means)}; got {model!r}.")
        rows = np.arange(len(self.keys)) if series is None else self.rows_of(series)
        qs = sorted({float(q) for q in quantiles})
        for q in qs:
            quantile_name(q)  # validates the range
        means = self._means_for(rows, future)
        mean = means[model][:, :h]
        quant = self._quantiles(model, rows, means, h, qs)
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

    def update(self, sell_through: pd.DataFrame) -> Forecaster:
        """A forecaster rolled forward over new periods of sell-through, without refitting.

        `sell_through`: rows (date, node_id, sku, units[, price, promo, on_hand, sell_in])
        of periods after `origin`, for series of the model; the new origin is the last date.
        LightGBM features are rebuilt from the new tail for the same booster, ETS states are
        filtered forward with the fitted parameters, baselines are recomputed from the tail;
        model choice and quantile calibration stay those of training. A series without rows
        in the new periods is taken as not reported there (send zeros for zero sales).

        Raises:
            RollForwardError: rows that cannot be appended, each named (see
                `training.engine.rolling.new_periods`).
        """
        if self.state is None:
            raise RollForwardError("this forecaster keeps no history to roll forward; "
                                   "retrain it with this version of channelcast.")
        state, origin, y = roll_forward(self.state, sell_through, origin=self.origin,
                                        freq=self.freq, keys=self.keys)
        means = recompute_means(state, keys=self.keys, freq=self.freq, horizon=self.horizon,
                                models=self.models, chosen=self.chosen, y=y)
        levels = (None if self.levels is None
                  else self.levels.roll_forward(sell_through, freq=self.freq))
        return replace(self, origin=origin, dates=forecast_dates(origin, self.horizon,
                                                                 self.freq),
                       means=means, state=state, levels=levels)

    def _means_for(self, rows: npt.NDArray[np.intp], future: pd.DataFrame | None
                   ) -> dict[str, FloatArray]:
        means = {m: v[rows] for m, v in self.means.items()}
        if future is None or len(future) == 0 or "lgbm" not in means:
            return means
        if self.state is None or self.state.lgbm is None:
            raise ValueError("this forecaster keeps no LightGBM state; planned price/promo "
                             "need a model trained with this version of channelcast.")
        planned = self._check_future(future)
        means["lgbm"] = lgbm_means(self.state, keys=self.keys, freq=self.freq,
                                   horizon=self.horizon, fallback=means["lgbm"],
                                   future=planned, rows=rows)
        if "auto" in means:
            means["auto"] = auto_means(means, self.chosen[rows])
        return means

    def _check_future(self, future: pd.DataFrame) -> pd.DataFrame:
        cols = [c for c in (PRICE, PROMO) if c in future]
        missing = [c for c in (DATE, NODE, ITEM) if c not in future]
        if missing or not cols:
            raise ValueError(f"planned values need columns {DATE}, {NODE}, {ITEM} and "
                             f"{PRICE} and/or {PROMO}; missing {missing or [PRICE, PROMO]}.")
        out = future[[DATE, NODE, ITEM, *cols]].reset_index(drop=True).copy()
        out[DATE] = pd.to_datetime(out[DATE], errors="coerce")
        off = ~out[DATE].isin(self.dates)
        if off.any():
            i = int(np.flatnonzero(off.to_numpy())[0])
            raise ValueError(f"planned value row {i}: `{DATE}` {future[DATE].iloc[i]} is not "
                             f"one of the forecast periods {self.dates[0]:%Y-%m-%d} .. "
                             f"{self.dates[-1]:%Y-%m-%d}.")
        self.rows_of(out)
        for col in cols:
            values = pd.to_numeric(out[col], errors="coerce")
            bad = values.isna() & out[col].notna() | (values < 0)
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(f"planned value row {i}: `{col}` must be a number >= 0; got "
                                 f"{future[col].iloc[i]!r}.")
            out[col] = values
        return out

    def _quantiles(self, model: str, rows: npt.NDArray[np.intp],
                   means: dict[str, FloatArray], h: int, qs: list[float]
                   ) -> dict[float, FloatArray]:
        names = self.chosen[rows] if model == "auto" else np.full(len(rows), model)
        out = {q: np.zeros((len(rows), h)) for q in qs}
        if model == "auto" and "auto" in self.calibrators and not self.calibrators["auto"].empty:
            names = np.full(len(rows), "auto")  # calibrated on auto's own errors (backtest)
        for name in np.unique(names):
            sel = names == name
            parts = [self.calibrators[m].predict(
                mean=means[m][sel, :h], scale=self.scale[rows[sel]],
                groups=self.classes[rows[sel]], quantiles=qs) for m in members(str(name))]
            for q in qs:
                out[q][sel] = np.mean([p[q] for p in parts], axis=0)
        for q in qs:  # a quantile never below the one before it
            out[q] = np.maximum(out[q], out[qs[qs.index(q) - 1]]) if qs.index(q) else out[q]
        return out


def forecast_dates(origin: pd.Timestamp, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The `horizon` periods after `origin` on the `freq` grid."""
    step = period_offset(freq)
    return pd.DatetimeIndex([origin + k * step for k in range(1, horizon + 1)])


def fit_forecaster(history: pd.DataFrame, *, freq: str, horizon: int,
                   nodes: pd.DataFrame | None = None, models: Sequence[str] = DEFAULT_MODELS,
                   calibration_windows: int = 3, spec: FeatureSpec | None = None,
                   lgbm: LGBMConfig | None = None, progress: bool = False) -> Forecaster:
    """Fit every model on all history (after `calibration_windows` windows for quantiles
    and the choice of `auto`) and keep the forecasts; `progress`: one step per fit on stderr.

    Raises:
        ValueError: when the history is too short for `calibration_windows` windows of
            `horizon` periods before its end (lower either).
    """
    return fit_forecaster_result(history, freq=freq, horizon=horizon, nodes=nodes,
                                 models=models, calibration_windows=calibration_windows,
                                 spec=spec, lgbm=lgbm, progress=progress)[0]


def fit_forecaster_result(history: pd.DataFrame, *, freq: str, horizon: int,
                          nodes: pd.DataFrame | None = None,
                          models: Sequence[str] = DEFAULT_MODELS, calibration_windows: int = 3,
                          spec: FeatureSpec | None = None, lgbm: LGBMConfig | None = None,
                          progress: bool = False) -> tuple[Forecaster, BacktestResult]:
    """`fit_forecaster`, and the backtest behind it (calibration windows, then the
    forecast window at the last period: `result.windows`)."""
    names = check_models(models)
    primary = primary_model(names)
    dates = build_panel(history[[DATE, NODE, ITEM, "units"]], freq=freq).dates
    calib = rolling_cutoffs(dates, horizon=horizon, windows=calibration_windows, step=horizon)
    config = BacktestConfig(horizon=horizon, windows=1, step=horizon, models=names,
                            warmup=calibration_windows, spec=spec, lgbm=lgbm)
    result = run_backtest(history, freq=freq, config=config, nodes=nodes,
                          cutoffs=[*calib, dates[-1]], progress=progress,
                          progress_desc="fit (calibration windows, then all history)")
    last = result.windows[-1]
    assert result.panel_keys is not None
    target = result.predictions.loc[result.predictions["model"] == primary, DATE]
    chosen = (result.choices[result.choices["cutoff"] == last.cutoff]["chosen"].to_numpy()
              if result.choices is not None else np.full(len(result.panel_keys), primary))
    spec = spec or FeatureSpec.for_freq(freq)
    season = season_length(freq)
    state = ForecastState(tail=trim_tail(history, freq=freq, periods=tail_periods(spec, season)),
                          periods=tail_periods(spec, season), season=season, spec=spec,
                          nodes=nodes, ets=last.ets, lgbm=result.lgbm)
    forecaster = Forecaster(
        keys=result.panel_keys.reset_index(drop=True), origin=last.cutoff, freq=freq,
        dates=pd.DatetimeIndex(sorted(target.unique())),
        means={n: last.means[n] for n in names}, chosen=chosen.astype(str), scale=last.scale,
        classes=last.classes, calibrators=result.calibrators, lgbm=result.lgbm, state=state,
        errors=backtest_errors(result.windows[:-1], primary, scale=last.scale),
        calibration=calibration_forecasts(result.windows[:-1], primary))
    return forecaster, result


def backtest_errors(windows: Sequence[WindowForecasts], model: str, *, scale: FloatArray
                    ) -> pd.DataFrame:
    """Per-series out-of-sample error of `model` over backtest `windows` (all steps)."""
    actual = np.concatenate([w.actual for w in windows], axis=1)
    mean = np.concatenate([w.means[model] for w in windows], axis=1)
    err = np.where(np.isnan(actual), np.nan, mean - actual)
    periods = (~np.isnan(err)).sum(axis=1)
    abs_err = np.nansum(np.abs(err), axis=1)
    volume = np.nansum(np.where(np.isnan(err), 0, actual), axis=1)
    # a series with no scored period (it starts after these windows) gets NaN: 0 / 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "model": model,
            "mae_scaled": abs_err / periods / scale,
            "wape": abs_err / volume,
            "bias": np.nansum(err, axis=1) / volume,
            "periods": periods,
        })
    return out.replace([np.inf, -np.inf], np.nan)

