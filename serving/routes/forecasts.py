"""`POST /v1/forecasts`: forecasts of many series at once, with the model version."""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from features.schema import DATE, ITEM, NODE
from serving.deps import ErpCall
from serving.errors import ERROR_RESPONSES, ApiError, documented
from serving.model_store import FULL_CACHE_SERIES, ForecastTable, ServedModel
from serving.schemas import ForecastIn, ForecastOut
from serving.service import Service
from training.engine.forecast import UnknownSeriesError
from training.tracking.pyfunc import served_model

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["forecasts"], responses=ERROR_RESPONSES)


class _RowJson(TypedDict):
    """A `ForecastRow`, JSON-ready (answered without validation: thousands of rows)."""

    node_id: str
    sku: str
    date: str
    step: int
    model: str
    mean: float | None
    quantiles: dict[str, float | None]


def _unknown(pairs: list[tuple[str, str]]) -> ApiError:
    shown = ", ".join(f"({n}, {s})" for n, s in pairs[:20])
    more = f" and {len(pairs) - 20} more" if len(pairs) > 20 else ""
    return ApiError(404, f"{len(pairs)} series not in the model: {shown}{more}; check node_id "
                    "and sku, or train a version with their history.",
                    errors=[{"loc": ["body", "series"], "msg": f"unknown series ({n}, {s})",
                             "type": "unknown_series", "value": f"{n}/{s}"}
                            for n, s in pairs[:100]])


def _check(body: ForecastIn, model: ServedModel, service: Service) -> tuple[int, str]:
    f = model.forecaster
    horizon = body.horizon or f.horizon
    if horizon > f.horizon:
        raise ApiError(422, f"body.horizon: must be in 1..{f.horizon} (the trained horizon); "
                       f"got {horizon}.", errors=[{"loc": ["body", "horizon"], "type": "range",
                                                   "msg": f"must be in 1..{f.horizon}",
                                                   "value": str(horizon)}])
    # no `model` in the body: the served one (`auto` when trained, else the first model)
    name = body.model if "model" in body.model_fields_set else served_model(f)
    if name not in f.means:
        raise ApiError(422, f"body.model: must be one of {sorted(f.means)}; got "
                       f"{name!r}.", errors=[{"loc": ["body", "model"], "type": "enum",
                                              "msg": f"one of {sorted(f.means)}",
                                              "value": name}])
    if len(body.series) > service.settings.max_series:
        raise ApiError(422, f"body.series: at most {service.settings.max_series} series per "
                       "request; split it.")
    return horizon, name


@router.post("/forecasts", response_model=ForecastOut,
             responses=documented(_404="series not in the model"))
async def create_forecasts(body: ForecastIn, call: ErpCall) -> JSONResponse:
    """Forecast rows (mean and quantiles per period) for every requested series."""
    model, service = call.model, call.service
    horizon, name = _check(body, model, service)
    pairs = list(dict.fromkeys((s.node_id, s.sku) for s in body.series))
    rows, unknown = model.rows(pairs)
    if unknown:
        raise _unknown(unknown)
    levels = tuple(sorted(set(body.quantiles)))
    table = None if body.planned else model.forecasts.peek(name, horizon, levels)
    if table is None and (body.planned or len(model.index) > FULL_CACHE_SERIES):
        # planned values, or a model too big to forecast whole for one request: these series
        frame = await run_in_threadpool(_predict, model, pairs, body, horizon, levels, name)
        out = _rows_of_frame(frame, levels)
    else:
        if table is None:
            table = await run_in_threadpool(model.forecasts.table, name, horizon, levels)
        out = _rows_of_table(model, rows, table)
    service.metrics.count("forecast_series_total", len(rows))
    return JSONResponse({
        "model_name": model.name, "model_version": model.version, "model_uri": model.uri,
        "origin": f"{model.forecaster.origin:%Y-%m-%d}", "horizon": horizon,
        "quantiles": list(levels), "rows": out})


def _predict(model: ServedModel, pairs: list[tuple[str, str]], body: ForecastIn, horizon: int,
             levels: tuple[float, ...], name: str) -> pd.DataFrame:
    series = pd.DataFrame(pairs, columns=[NODE, ITEM])
    future = None
    if body.planned:
        future = pd.DataFrame([p.model_dump() for p in body.planned])
        future[DATE] = pd.to_datetime(future[DATE])
        future = future.dropna(axis=1, how="all")
    try:
        return model.forecaster.predict(series, horizon=horizon, quantiles=levels,
                                        model=name, future=future)
    except UnknownSeriesError as exc:
        raise ApiError(404, str(exc)) from exc
    except ValueError as exc:
        raise ApiError(422, f"body.planned: {exc}", errors=[
            {"loc": ["body", "planned"], "msg": str(exc), "type": "value_error"}]) from exc


def _value(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _rows_of_table(model: ServedModel, rows: list[int], table: ForecastTable
                   ) -> list[_RowJson]:
    out: list[_RowJson] = []
    names = table.names
    for r in rows:
        mean, quant = table.mean[r].tolist(), table.quantiles[r].tolist()
        node, sku, name = model.node_ids[r], model.skus[r], table.model[r]
        for k, day in enumerate(table.dates):
            out.append({"node_id": node, "sku": sku, "date": day, "step": k + 1,
                        "model": name, "mean": _value(mean[k]),
                        "quantiles": {q: _value(v) for q, v in zip(names, quant[k], strict=True)}})
    return out


def _rows_of_frame(frame: pd.DataFrame, levels: tuple[float, ...]) -> list[_RowJson]:
    names = [c for c in frame.columns if c.startswith("q")]
    assert len(names) == len(levels)
    out: list[_RowJson] = []
    values = frame[names].to_numpy(np.float64).tolist()
    for rec, quant in zip(frame.to_dict("records"), values, strict=True):
        out.append({"node_id": str(rec[NODE]), "sku": str(rec[ITEM]),
                    "date": f"{pd.Timestamp(rec[DATE]):%Y-%m-%d}", "step": int(rec["step"]),
                    "model": str(rec["model"]), "mean": _value(float(rec["mean"])),
                    "quantiles": {q: _value(v) for q, v in zip(names, quant, strict=True)}})
    return out
