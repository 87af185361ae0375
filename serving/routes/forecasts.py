"""`POST /v1/forecasts`: forecasts of many series at once, with the model version."""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from features.schema import DATE, ITEM, NODE
from models.hierarchy import ALL_SKUS
from serving.deps import ErpCall
from serving.errors import ERROR_RESPONSES, ApiError, documented
from serving.levels import (
    LEVEL,
    SeriesId,
    level_frame,
    level_index,
    level_table,
    methods,
    no_levels,
    not_a_method,
)
from serving.model_store import FULL_CACHE_SERIES, ForecastTable, ServedModel
from serving.schemas import ForecastIn, ForecastOut
from serving.service import Service
from training.engine.forecast import UnknownSeriesError
from training.engine.hierarchy_model import NONE
from training.tracking.pyfunc import served_model

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["forecasts"], responses=ERROR_RESPONSES)
ObjectArray = npt.NDArray[np.object_]


class _RowJson(TypedDict):
    """A `ForecastRow`, JSON-ready (answered without validation: thousands of rows)."""

    level: str
    node_id: str
    sku: str
    date: str
    step: int
    model: str
    mean: float | None
    quantiles: dict[str, float | None]


def _unknown(keys: list[SeriesId]) -> ApiError:
    named = [f"({n}, {s})" if lv == "node" else f"({lv}, {n}, {s})" for lv, n, s in keys]
    shown = ", ".join(named[:20])
    more = f" and {len(keys) - 20} more" if len(keys) > 20 else ""
    aggregate = any(lv != "node" or s == ALL_SKUS for lv, _, s in keys)
    how = ("; GET /v1/aggregates lists the aggregate series (level, node_id, sku)"
           if aggregate else "")
    return ApiError(404, f"{len(keys)} series not in the model: {shown}{more}; check node_id "
                    f"and sku, or train a version with their history{how}.",
                    errors=[{"loc": ["body", "series"], "msg": f"unknown series {text}",
                             "type": "unknown_series",
                             "value": "/".join(key[1:] if key[0] == "node" else key)}
                            for key, text in zip(keys[:100], named, strict=False)])


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


def _method(body: ForecastIn, model: ServedModel) -> str | None:
    """The reconciliation method of the answer; None: base forecasts of node x sku series
    (a model without a hierarchy, or a request naming neither a `level` nor `reconcile`)."""
    offered = methods(model)
    if not offered:
        if body.reconcile not in (None, NONE) or any(s.level != "node" for s in body.series):
            raise ApiError(409, str(no_levels(model)))
        return None
    if body.reconcile is None:
        if not any("level" in s.model_fields_set for s in body.series):
            return None  # as before issue 23 (and as the pyfunc answers rows without level)
        return NONE if body.planned else model.forecaster.reconcile
    if body.reconcile not in offered:
        raise not_a_method("body.reconcile", body.reconcile, offered)
    if body.planned and body.reconcile != NONE:
        raise ApiError(422, "body.planned: planned prices and promotions change base "
                       "forecasts only; send them with reconcile `none` (or leave it unset).",
                       errors=[{"loc": ["body", "reconcile"], "type": "value_error",
                                "msg": "must be none with planned values"}])
    return body.reconcile


@router.post("/forecasts", response_model=ForecastOut,
             responses=documented(_404="series not in the model",
                                  _409="an aggregate series (or a reconciliation) asked of a "
                                  "model trained without a hierarchy"))
async def create_forecasts(body: ForecastIn, call: ErpCall) -> JSONResponse:
    """Forecast rows (mean and quantiles per period) of every requested series: node x sku,
    or an aggregate of the channel tree (`level`). A request naming a `level` or `reconcile`
    is answered at every level with one method, so that its rows add up."""
    model, service = call.model, call.service
    horizon, name = _check(body, model, service)
    method = _method(body, model)
    keys: list[SeriesId] = list(dict.fromkeys((str(s.level), s.node_id, s.sku)
                                              for s in body.series))
    levels = tuple(sorted(set(body.quantiles)))
    pairs = [(n, s) for _, n, s in keys]
    rows, unknown = model.rows(pairs)
    bottom = all(k[0] == "node" for k in keys)  # always so without a hierarchy
    if method is None or (method == NONE and bottom and not unknown):
        if unknown:
            raise _unknown([("node", n, s) for n, s in unknown])
        out = await _bottom_rows(model, body, rows, pairs, horizon, levels, name)
    else:
        if body.planned:
            raise ApiError(422, "body.planned: planned values apply to node x sku series "
                           "only; ask for the aggregate series in another request.")
        out = await _level_rows(model, keys, name=name, horizon=horizon, levels=levels,
                                method=str(method))
    service.metrics.count("forecast_series_total", len(keys))
    return JSONResponse({
        "model_name": model.name, "model_version": model.version, "model_uri": model.uri,
        "origin": f"{model.forecaster.origin:%Y-%m-%d}", "horizon": horizon,
        "quantiles": list(levels), "reconcile": method or (NONE if methods(model) else None),
        "rows": out})


async def _bottom_rows(model: ServedModel, body: ForecastIn, rows: list[int],
                       pairs: list[tuple[str, str]], horizon: int, levels: tuple[float, ...],
                       name: str) -> list[_RowJson]:
    """Base forecasts of node x sku series: the model's `predict`, as before issue 23."""
    table = None if body.planned else model.forecasts.peek(name, horizon, levels)
    if table is None and (body.planned or len(model.index) > FULL_CACHE_SERIES):
        # planned values, or a model too big to forecast whole for one request: these series
        frame = await run_in_threadpool(_predict, model, pairs, body, horizon, levels, name)
        return _rows_of_frame(frame, levels)
    if table is None:
        table = await run_in_threadpool(model.forecasts.table, name, horizon, levels)
    return _rows_of_table(model.node_ids, model.skus,
                          np.full(len(model.node_ids), "node", dtype=object), rows, table)


async def _level_rows(model: ServedModel, keys: list[SeriesId], *, name: str, horizon: int,
                      levels: tuple[float, ...], method: str) -> list[_RowJson]:
    """Forecasts of series of any level (`serving.levels`), reconciled with `method`."""
    index = level_index(model)
    assert index is not None  # `_method` refused aggregates of a model without levels
    rows, unknown = index.find(keys)
    if unknown:
        raise _unknown(unknown)
    table = await run_in_threadpool(lambda: level_table(
        model, name=name, horizon=horizon, quantiles=levels, method=method))
    if table is None:
        frame = await run_in_threadpool(lambda: level_frame(
            model, keys, name=name, horizon=horizon, quantiles=levels, method=method))
        return _rows_of_frame(frame, levels)
    k = index.keys
    return _rows_of_table(k[NODE].to_numpy(object), k[ITEM].to_numpy(object),
                          k[LEVEL].to_numpy(object), rows, table)


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


def _rows_of_table(node_ids: ObjectArray, skus: ObjectArray, level: ObjectArray,
                   rows: list[int], table: ForecastTable) -> list[_RowJson]:
    out: list[_RowJson] = []
    names = table.names
    for r in rows:
        mean, quant = table.mean[r].tolist(), table.quantiles[r].tolist()
        node, sku, name, lv = str(node_ids[r]), str(skus[r]), table.model[r], str(level[r])
        for k, day in enumerate(table.dates):
            out.append({"level": lv, "node_id": node, "sku": sku, "date": day, "step": k + 1,
                        "model": name, "mean": _value(mean[k]),
                        "quantiles": {q: _value(v) for q, v in zip(names, quant[k], strict=True)}})
    return out


def _rows_of_frame(frame: pd.DataFrame, levels: tuple[float, ...]) -> list[_RowJson]:
    names = [c for c in frame.columns if c.startswith("q")]
    assert len(names) == len(levels)
    out: list[_RowJson] = []
    values = frame[names].to_numpy(np.float64).tolist()
    for rec, quant in zip(frame.to_dict("records"), values, strict=True):
        out.append({"level": str(rec.get(LEVEL, "node")), "node_id": str(rec[NODE]),
                    "sku": str(rec[ITEM]),
                    "date": f"{pd.Timestamp(rec[DATE]):%Y-%m-%d}", "step": int(rec["step"]),
                    "model": str(rec["model"]), "mean": _value(float(rec["mean"])),
                    "quantiles": {q: _value(v) for q, v in zip(names, quant, strict=True)}})
    return out
