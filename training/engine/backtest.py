"""Rolling-origin backtest of every model, their combination (`auto`) and calibrated quantiles.

The protocol is BENCHMARKS.md's "Evaluation protocol": at each cutoff every model sees data
up to and including the cutoff only, then forecasts the next `horizon` periods of every series.

`warmup` extra windows run before the scored ones. They exist so that the first scored
window, too, has earlier out-of-sample errors to learn from: quantiles (conformal residuals
per model, horizon step and series class) and the combination weights of `auto`
(`training.engine.selection`) at window i use windows < i only, never the window scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import BacktestConfig
from features.engineering.history import Panel, build_panel
from features.periods import is_monthly, season_length
from features.schema import DATE, ITEM, NODE
from models.classify import profile_series
from models.ets import ETSFit, fit_ets
from models.lgbm import LGBMForecaster
from models.quantiles import ConformalQuantiles, quantile_name, series_scale
from models.zoo import LOCAL_MODELS, GlobalModel, check_models
from training.engine.progress import bar
from training.engine.selection import SELECTION_QUANTILES, Selector
from training.engine.windows import WindowForecasts
from training.engine.windows import cutoffs as rolling_cutoffs

__all__ = ["BacktestResult", "WindowForecasts", "demand_view", "long_rows",
           "run_backtest", "window_forecasts"]

FloatArray = npt.NDArray[np.float64]
CUTOFF, MODEL, STEP, SERIES_CLASS = "cutoff", "model", "step", "series_class"


@dataclass
class BacktestResult:
    """Predictions of every model (long, the predictions-file format + `model`, `step`, class)."""

    predictions: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    windows: list[WindowForecasts] = field(default_factory=list, repr=False)
    choices: pd.DataFrame | None = None
    calibrators: dict[str, ConformalQuantiles] = field(default_factory=dict, repr=False)
    panel_keys: pd.DataFrame | None = None
    freq: str = ""
    lgbm: LGBMForecaster | None = field(default=None, repr=False)  # booster of the last cutoff

    def for_model(self, name: str) -> pd.DataFrame:
        """One model's rows in exactly the predictions-file format (see `metrics.evaluate`)."""
        rows = self.predictions[self.predictions[MODEL] == name]
        cols = [NODE, ITEM, CUTOFF, DATE, "mean", *[c for c in rows if c.startswith("q")]]
        return rows[cols].reset_index(drop=True)


def demand_view(panel: Panel, t: int) -> FloatArray:
    """Units up to grid index `t` with stock-out periods blanked (they are not demand)."""
    y = panel.units[:, : t + 1].copy()
    y[panel.censored[:, : t + 1]] = np.nan
    return y


def run_backtest(history: pd.DataFrame, *, freq: str, config: BacktestConfig,
                 nodes: pd.DataFrame | None = None,
                 cutoffs: Sequence[pd.Timestamp] | None = None, progress: bool = False,
                 progress_desc: str = "backtest") -> BacktestResult:
    """Backtest `config.models` on `history` (validated sell-through on the `freq` grid).

    `cutoffs` overrides the rolling origins (the last `config.windows` are scored, the
    ones before are warm-up); a cutoff at the last period gives a forecast (no actuals).
    `progress` shows one step per model fitted at each cutoff on stderr (`progress_desc`).
    """
    models = check_models(config.models)
    if config.warmup < 1:
        raise ValueError(f"`warmup` must be >= 1 (quantiles are calibrated on earlier windows);"
                         f" got {config.warmup}.")
    if config.lgbm_refit_every < 1:
        raise ValueError(f"`lgbm_refit_every` must be >= 1 period; got "
                         f"{config.lgbm_refit_every}.")
    panel = build_panel(history, freq=freq)
    m = config.season or season_length(freq)
    if cutoffs is None:
        cuts = rolling_cutoffs(panel.dates, horizon=config.horizon,
                               windows=config.windows + config.warmup, step=config.step)
    else:
        cuts = [pd.Timestamp(c) for c in cutoffs]
    seconds: dict[str, float] = {}
    glob = None
    if "lgbm" in models:
        start = time.perf_counter()
        glob = GlobalModel(freq=freq, horizon=config.horizon, spec=config.spec,
                           config=config.lgbm, refit_every=config.lgbm_refit_every,
                           ).fit(history, panel_keys=panel.keys, nodes=nodes)
        seconds["lgbm"] = time.perf_counter() - start
    windows = []
    fitted = [n for n in models if n in LOCAL_MODELS or (n == "lgbm" and glob is not None)]
    with bar(desc=progress_desc, total=len(cuts) * len(fitted), enabled=progress,
             unit="fit") as shown:

        def tick(cut: pd.Timestamp, name: str) -> None:
            shown.set_postfix_str(f"{cut:%Y-%m-%d} {name}", refresh=False)
            shown.update()

        for cut in cuts:
            t = int(panel.dates.get_loc(cut))
            windows.append(window_forecasts(panel, t, cut, models, m, config.horizon, glob, seconds,
                                   on_fit=tick if progress else None))
    last_lgbm = glob.last_model_ if glob is not None else None
    del glob  # its training set and stacked rows: the largest things held, no longer needed
    start = time.perf_counter()
    calib = {n: ConformalQuantiles(config.horizon, weighted=n == "auto") for n in models}
    frame, choices = _assemble(panel, windows, models, config, calib,
                               warmup=len(windows) - config.windows)
    seconds["auto"] = seconds.get("auto", 0.0) + time.perf_counter() - start
    return BacktestResult(predictions=frame, seconds=seconds, windows=windows, choices=choices,
                          calibrators=calib, panel_keys=panel.keys, freq=freq, lgbm=last_lgbm)


def window_forecasts(panel: Panel, t: int, cut: pd.Timestamp, models: Sequence[str], m: int,
                     horizon: int, glob: GlobalModel | None, seconds: dict[str, float], *,
                     on_fit: Callable[[pd.Timestamp, str], None] | None = None
                     ) -> WindowForecasts:
    """Every model's forecasts at the cutoff `cut` (grid index `t`) of every series of
    `panel`, with season `m`; fit seconds are added to `seconds` per model."""
    y = demand_view(panel, t)
    means: dict[str, FloatArray] = {}
    ets: ETSFit | None = None
    local = [n for n in models if n in LOCAL_MODELS]
    for name in [*local, *(["lgbm"] if glob is not None else [])]:
        start = time.perf_counter()
        if name == "ets":  # kept: a forecaster rolls its states forward later
            ets = fit_ets(y, season=m)
            means[name] = np.clip(ets.forecast(horizon), 0.0, None)
        elif name == "lgbm" and glob is not None:
            fallback = means.get("ma")
            if fallback is None:
                fallback = LOCAL_MODELS["ma"](y, horizon=horizon, season=m)
            means[name] = glob.forecast(cut, fallback=fallback)
        else:
            means[name] = LOCAL_MODELS[name](y, horizon=horizon, season=m)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        if on_fit is not None:
            on_fit(cut, name)
    actual = _widen(panel.units, t + 1 + horizon)[:, t + 1: t + 1 + horizon]
    return WindowForecasts(cutoff=cut, t=t, means=means, actual=actual,
                           scale=series_scale(y), classes=profile_series(y).cls, ets=ets)


def _widen(values: FloatArray, width: int) -> FloatArray:
    if values.shape[1] >= width:
        return values
    pad = np.full((values.shape[0], width - values.shape[1]), np.nan)
    return np.concatenate([values, pad], axis=1)


def _assemble(panel: Panel, windows: list[WindowForecasts], models: Sequence[str],
              config: BacktestConfig, calib: dict[str, ConformalQuantiles], *, warmup: int
              ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Quantiles and `auto` for each window from earlier windows only; long frame of the
    scored windows (index >= `warmup`). `calib` collects every model's residuals.

    A residual is used only once it is known: step k of a window cut at t (target t + k)
    reaches the calibrators and the selector at the first window cut at t + k or later
    (`_release`), so cutoffs closer than the horizon never see the future. With cutoffs a
    horizon or more apart every window is released whole at the next one. At the end every
    residual is released: `calib` then knows all errors the history holds."""
    base = [n for n in models if n != "auto"]
    selector = Selector(base)
    qs_all = sorted({*config.quantiles, *SELECTION_QUANTILES})
    parts, choice_parts = [], []
    pending: list[_Pending] = []
    for i, w in enumerate(windows):
        _release(pending, w.t, models, calib, selector)
        quants = {n: calib[n].predict(mean=w.means[n], scale=w.scale, groups=w.classes,
                                      quantiles=qs_all)
                  for n in base if not calib[n].empty}
        if "auto" in models:
            chosen, w.means["auto"] = selector.choose(w)
            choice_parts.append(pd.DataFrame({NODE: panel.keys[NODE], ITEM: panel.keys[ITEM],
                                              CUTOFF: w.cutoff, "chosen": chosen}))
            if not calib["auto"].empty:  # auto's own residuals, like every model's
                quants["auto"] = calib["auto"].predict(mean=w.means["auto"], scale=w.scale,
                                                       groups=w.classes, quantiles=qs_all)
        if i >= warmup:
            for name in models:
                qs = {q: quants[name][q] for q in config.quantiles}
                parts.append(long_rows(panel, w, name, w.means[name], qs))
        pending.append(_Pending(w, quants))
    _release(pending, None, models, calib, selector)
    frame = _concat_columns(parts)
    choices = pd.concat(choice_parts, ignore_index=True) if choice_parts else None
    return frame, choices


def _concat_columns(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`pd.concat(parts, ignore_index=True)` of frames with the same columns, one column at
    a time, each part's column dropped once copied: the parts and the result are not all
    held at once (with every model's rows of every window, the largest frame of a run)."""
    columns = list(parts[0].columns)
    out = {c: pd.concat([p.pop(c) for p in parts], ignore_index=True) for c in columns}
    parts.clear()
    return pd.DataFrame(out, copy=False)


@dataclass
class _Pending:
    """A processed window whose later steps' actuals are not known yet (`known` steps are)."""

    window: WindowForecasts
    quants: dict[str, dict[float, FloatArray]]
    known: int = 0


def _release(pending: list[_Pending], now: int | None, models: Sequence[str],
             calib: dict[str, ConformalQuantiles], selector: Selector) -> None:
    """Give the calibrators and the selector every pending step whose target period is at
    or before grid index `now` (all of them when None); drop the windows fully known."""
    for p in pending:
        w = p.window
        h = w.actual.shape[1]
        known = h if now is None else min(max(now - w.t, 0), h)
        if known <= p.known:
            continue
        for name in models:
            calib[name].add(mean=w.means[name], actual=w.actual, scale=w.scale,
                            groups=w.classes, steps=range(p.known, known))
        selector.add(w, p.quants, known=known)
        p.known = known
    pending[:] = [p for p in pending if p.known < p.window.actual.shape[1]]


def long_rows(panel: Panel, w: WindowForecasts, name: str, mean: FloatArray,
              qs: dict[float, FloatArray]) -> pd.DataFrame:
    """One model's scored rows of window `w` in the predictions format (+ model, step,
    series class): `mean` and the quantiles `qs`, series x step."""
    S, h = mean.shape
    step_offset = panel.dates[1] - panel.dates[0] if panel.n_periods > 1 else pd.Timedelta(0)
    dates = _target_dates(w.cutoff, h, panel.freq, step_offset)
    out = pd.DataFrame({
        MODEL: name,
        NODE: np.repeat(panel.keys[NODE].to_numpy(), h),
        ITEM: np.repeat(panel.keys[ITEM].to_numpy(), h),
        CUTOFF: w.cutoff,
        DATE: np.tile(dates, S),
        STEP: np.tile(np.arange(1, h + 1), S),
        SERIES_CLASS: np.repeat(w.classes, h),
        "mean": np.clip(mean, 0.0, None).ravel(),
    })
    for q, values in qs.items():
        out[quantile_name(q)] = values.ravel()
    return out


def _target_dates(cutoff: pd.Timestamp, h: int, freq: str, step: pd.Timedelta
                  ) -> pd.DatetimeIndex:
    if is_monthly(freq):
        return pd.date_range(cutoff + pd.DateOffset(months=1), periods=h, freq="MS")
    return pd.DatetimeIndex([cutoff + step * k for k in range(1, h + 1)])

