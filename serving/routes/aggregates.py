"""The aggregate series of the channel tree (issue 23): `GET /v1/aggregates` lists and searches
them (what `POST /v1/forecasts` takes with a `level`); `GET /v1/aggregates/{level}/{node_id}/
{sku}` gives one aggregate's history and reconciled forecast for the planner page."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from features.periods import period_word
from features.schema import DATE, ITEM, NODE, UNITS
from serving.deps import ErpDep, ModelDep
from serving.errors import ERROR_RESPONSES, ApiError, documented
from serving.levels import (
    LEVEL,
    LevelIndex,
    level_frame,
    level_index,
    level_table,
    methods,
    no_levels,
    not_a_method,
)
from serving.model_store import ServedModel
from serving.schemas import (
    TEXT_CHECK,
    AggregateOut,
    AggregatesOut,
    ForecastPoint,
    SeriesLevel,
    band_points,
)
from training.tracking.pyfunc import served_model

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["forecasts"], responses=ERROR_RESPONSES)
Id = Annotated[str, PathParam(min_length=1, max_length=200), TEXT_CHECK]
BAND = (0.1, 0.9)


@router.get("/aggregates", response_model=AggregatesOut)
def list_aggregates(
    _who: ErpDep, model: ModelDep,
    level: SeriesLevel | None = None,
    q: Annotated[str | None, Query(max_length=200, description="text in node_id or sku (any "
                                   "case)"), TEXT_CHECK] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> AggregatesOut:
    """The aggregate series the served model forecasts (parents, channels, the total and
    node totals, each per sku, sku group and `*`), biggest first; none without a hierarchy."""
    index = level_index(model)
    if index is None:
        return AggregatesOut(model_version=model.version, reconcile=None, methods=[], total=0,
                             aggregates=[])
    keys = _matching(index, level, q)
    page = keys.iloc[offset:offset + limit]
    return AggregatesOut(
        model_version=model.version, reconcile=model.forecaster.reconcile,
        methods=methods(model), total=len(keys),
        aggregates=[AggregateOut(level=r[LEVEL], node_id=r[NODE], sku=r[ITEM],
                                 series=int(r["series"]))
                    for r in page.to_dict("records")])


def _matching(index: LevelIndex, level: str | None, q: str | None) -> pd.DataFrame:
    """Aggregate rows (not bottom series) at `level` whose node_id or sku holds `q`, the ones
    adding up more series first (then in hierarchy order: level, node_id, sku)."""
    keys = index.keys.assign(series=index.members).iloc[index.n_bottom:]
    if level is not None:
        keys = keys[keys[LEVEL] == level]
    if q:
        text = q.casefold()
        hit = (keys[NODE].str.casefold().str.contains(text, regex=False)
               | keys[ITEM].str.casefold().str.contains(text, regex=False))
        keys = keys[hit]
    return keys.sort_values("series", ascending=False, kind="stable")


class AggregatePoint(BaseModel):
    date: str
    units: float = Field(description="units sold by every series below, in the period")


class AggregateSeriesOut(BaseModel):
    level: SeriesLevel
    node_id: str
    sku: str
    series: int = Field(description="node x sku series it adds up")
    reconcile: str = Field(description="how the forecast was made to add up with the levels")
    methods: list[str] = Field(description="values `reconcile` takes")
    model: str
    model_version: str | None
    origin: str
    period: str = Field(description="week, day or month")
    history: list[AggregatePoint]
    forecast: list[ForecastPoint]


@router.get("/aggregates/{level}/{node_id}/{sku}", response_model=AggregateSeriesOut,
            responses=documented(_404="not an aggregate series of the model",
                                 _409="the model was trained without a hierarchy"))
async def one_aggregate(
    level: Annotated[SeriesLevel, PathParam()], node_id: Id, sku: Id, _who: ErpDep,
    model: ModelDep, history: Annotated[int, Query(ge=1, le=520)] = 52,
    reconcile: Annotated[str | None, Query(max_length=50), TEXT_CHECK] = None,
) -> AggregateSeriesOut:
    """One series of the channel tree: its sell-through (the sum of the series below) and
    its reconciled forecast with the 80% band (`reconcile` default: the model's)."""
    index = level_index(model)
    if index is None:
        raise ApiError(409, str(no_levels(model)))
    row = index.rows.get((level, node_id, sku))
    if row is None:
        raise ApiError(404, f"({level}, {node_id}, {sku}) is not a series of the model's "
                       "hierarchy; GET /v1/aggregates lists them (level, node_id, sku).")
    method = reconcile or model.forecaster.reconcile or "none"
    if method not in methods(model):
        raise not_a_method("query.reconcile", method, methods(model))
    return await run_in_threadpool(_aggregate_series, model, index, (level, node_id, sku), row,
                                   method, history)


def _aggregate_series(model: ServedModel, index: LevelIndex,
                      key: tuple[SeriesLevel, str, str], row: int, method: str, periods: int
                      ) -> AggregateSeriesOut:
    f = model.forecaster
    name = served_model(f)
    level, node, sku = key
    table = level_table(model, name=name, horizon=f.horizon, quantiles=BAND, method=method)
    if table is None:
        frame = level_frame(model, [key], name=name, horizon=f.horizon,
                            quantiles=BAND, method=method)
        mean, band = frame["mean"].to_numpy(), frame[["q0.1", "q0.9"]].to_numpy()
    else:
        mean, band = table.mean[row], table.quantiles[row]
    forecast = band_points(f.dates, mean, band[:, 0], band[:, 1])
    return AggregateSeriesOut(
        level=level, node_id=node, sku=sku, series=int(index.members[row]), reconcile=method,
        methods=methods(model), model=name, model_version=model.version,
        origin=f"{f.origin:%Y-%m-%d}", period=period_word(f.freq),
        history=_history(model, row, periods), forecast=forecast)


def _history(model: ServedModel, row: int, periods: int) -> list[AggregatePoint]:
    """The last `periods` periods of the series' sell-through: its bottom series' sum."""
    f = model.forecaster
    hierarchy = f.hierarchy
    assert hierarchy is not None
    below = f.keys.iloc[hierarchy.summing[row].indices]
    tail = f.tail
    wanted = pd.MultiIndex.from_frame(below[[NODE, ITEM]].astype(str))
    mine = tail[pd.MultiIndex.from_frame(tail[[NODE, ITEM]].astype(str)).isin(wanted)]
    units = mine.groupby(DATE)[UNITS].sum().sort_index().tail(periods)
    return [AggregatePoint(date=f"{d:%Y-%m-%d}", units=float(v)) for d, v in units.items()]
