"""`fit_forecaster` on Dask, and forecasts of a trained model over a cluster.

`fit_forecaster_dask` runs the Dask backtest on the calibration windows plus the last
period, exactly as `fit_forecaster` runs the local one. Forecasts can be written straight
from the partitions (`forecast_out`, one Parquet file per partition, nothing collected);
for a model to log, each partition sends its series' pieces (forecasts, choice, scale,
class, ETS states, errors, the served model's forecasts on every window and the history
tail) and the client puts them in the local engine's series order (the served model's
calibration forecasts too, `Forecaster.calibration`): the result is the same
`training.engine.forecast.Forecaster` that `fit_forecaster` returns, so MLflow logs the
same pyfunc whichever engine trained it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.config import DEFAULT_MODELS, DEFAULT_QUANTILES, BacktestConfig, FeatureSpec
from features.contract.partitioned import Store, summarize_history
from features.periods import season_length
from features.schema import DATE, ITEM, NODE
from models.ets import ETSFit
from models.lgbm import LGBMConfig
from models.zoo import check_models, primary_model
from training.dask.backtest import DaskBacktest, grid_of, run_backtest_dask
from training.engine.calibration import (
    EMPTY_CALIBRATION,
    CalibrationForecasts,
    calibration_forecasts,
)
from training.engine.forecast import Forecaster, forecast_dates
from training.engine.rolling import ForecastState, tail_periods
from training.engine.windows import cutoffs as rolling_cutoffs

__all__ = ["fit_forecaster_dask", "predict_dask"]


def _concat_ets(fits: Sequence[ETSFit], order: np.ndarray) -> ETSFit:
    cat = np.concatenate
    params = {k: cat([f.params[k] for f in fits])[order] for k in fits[0].params}
    return ETSFit(cat([f.form for f in fits])[order], cat([f.aicc for f in fits])[order],
                  cat([f.loglik for f in fits])[order], cat([f.nobs for f in fits])[order],
                  params, cat([f.states for f in fits])[order],
                  cat([f.sigma2 for f in fits])[order], fits[0].season)


def _calibration(pieces: Sequence[dict[str, Any]], primary: str, order: np.ndarray
                 ) -> CalibrationForecasts:
    """`primary`'s forecasts on the calibration windows (every window but the last), the
    partitions' series put in `order`."""
    parts = [calibration_forecasts(p["windows"][:-1], primary) for p in pieces]
    if parts[0].windows == 0:
        return EMPTY_CALIBRATION
    return CalibrationForecasts(cutoffs=parts[0].cutoffs,
                                means=np.concatenate([c.means for c in parts])[order])


def _assemble(result: DaskBacktest, *, freq: str, spec: FeatureSpec, nodes: pd.DataFrame | None,
              models: Sequence[str]) -> Forecaster:
    """One `Forecaster` from the partitions' pieces, series sorted as the local panel and
    models in the order of `models`."""
    pieces = [r["piece"] for r in result.parts]
    keys = pd.concat([p["keys"] for p in pieces], ignore_index=True)
    order = np.lexsort((keys[ITEM].to_numpy(), keys[NODE].to_numpy()))
    lasts = [p["last"] for p in pieces]
    means = {m: np.concatenate([w.means[m] for w in lasts])[order] for m in models}
    season = season_length(freq)
    periods = tail_periods(spec, season)
    tail = pd.concat([p["tail"] for p in pieces], ignore_index=True).sort_values(
        [NODE, ITEM, DATE]).reset_index(drop=True)
    ets = _concat_ets([w.ets for w in lasts], order) if lasts[0].ets is not None else None
    origin = lasts[0].cutoff
    state = ForecastState(tail=tail, periods=periods, season=season, spec=spec, nodes=nodes,
                          ets=ets, lgbm=result.lgbm)
    errors = pd.concat([p["errors"] for p in pieces], ignore_index=True).iloc[order]
    return Forecaster(
        keys=keys.iloc[order].reset_index(drop=True), origin=origin, freq=freq,
        dates=forecast_dates(origin, lasts[0].actual.shape[1], freq), means=means,
        chosen=np.concatenate([p["chosen"] for p in pieces])[order].astype(str),
        scale=np.concatenate([w.scale for w in lasts])[order],
        classes=np.concatenate([w.classes for w in lasts])[order],
        calibrators=result.calibrators, lgbm=result.lgbm, state=state,
        errors=errors.reset_index(drop=True),
        calibration=_calibration(pieces, primary_model(models), order))


def fit_forecaster_dask(client: Any, store: Store, *, horizon: int,
                        models: Sequence[str] = DEFAULT_MODELS, calibration_windows: int = 3,
                        spec: FeatureSpec | None = None, lgbm: LGBMConfig | None = None,
                        assemble: bool = True, forecast_out: Path | None = None,
                        quantiles: Sequence[float] = DEFAULT_QUANTILES, progress: bool = False
                        ) -> tuple[Forecaster | None, DaskBacktest]:
    """`fit_forecaster` on the store's partitions.

    Args:
        assemble: gather the pieces into a `Forecaster` (the model MLflow logs); without
            it nothing per series reaches the client.
        forecast_out: write the forecasts of every series (as `Forecaster.predict` with
            `quantiles` and the served model) as one Parquet file per partition.
        progress: show the phases on stderr.

    Raises:
        ValueError: the history is too short for `calibration_windows` windows.
    """
    freq, nodes = store.freq, store.nodes()
    summary = summarize_history(store.dask_history(), nodes)
    dates = grid_of(summary, freq)
    calib = rolling_cutoffs(dates, horizon=horizon, windows=calibration_windows, step=horizon)
    names = check_models(models)
    config = BacktestConfig(horizon=horizon, windows=1, step=horizon, models=names,
                            warmup=calibration_windows, spec=spec, lgbm=lgbm)
    spec = spec or FeatureSpec.for_freq(freq)
    result = run_backtest_dask(
        client, store, config=config, cutoffs=[*calib, dates[-1]], score_by=(), summary=summary,
        tail_periods=tail_periods(spec, season_length(freq)) if assemble else None,
        forecast_out=forecast_out, forecast_quantiles=quantiles, progress=progress)
    if not assemble:
        return None, result
    return _assemble(result, freq=freq, spec=spec, nodes=nodes, models=names), result


def _predict_chunk(forecaster: Forecaster, series: pd.DataFrame, index: int, *, out: Path,
                   horizon: int | None, quantiles: Sequence[float]) -> int:
    frame = forecaster.predict(series, horizon=horizon, quantiles=quantiles)
    frame.to_parquet(out / f"part-{index:05d}.parquet", index=False)
    return len(frame)


def predict_dask(client: Any, forecaster: Forecaster, out: Path, *,
                 series: pd.DataFrame | None = None, horizon: int | None = None,
                 quantiles: Sequence[float] = DEFAULT_QUANTILES, chunk: int = 50_000) -> int:
    """Forecast `series` (default all) with a trained forecaster on the cluster: chunks of
    series on the workers, one Parquet file each in `out`. Returns the rows written."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    series = forecaster.keys[[NODE, ITEM]] if series is None else series[[NODE, ITEM]]
    model = client.scatter(forecaster, broadcast=True)
    chunks = [series.iloc[i:i + chunk] for i in range(0, len(series), chunk)]
    rows = client.gather(client.map(_predict_chunk, [model] * len(chunks), chunks,
                                    list(range(len(chunks))), out=out, horizon=horizon,
                                    quantiles=list(quantiles), pure=False))
    return int(sum(rows))
