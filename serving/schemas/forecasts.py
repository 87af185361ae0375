"""Forecast requests and answers, and the model being served."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from features.config import DEFAULT_QUANTILES
from models.hierarchy import LEVELS
from serving.schemas.fields import (
    TEXT_CHECK,
    Count,
    Day,
    Id,
    Level,
    StrictBody,
    Units,
    distinct_levels,
)

__all__ = ["AggregateOut", "AggregatesOut", "ForecastIn", "ForecastOut", "ForecastPoint",
           "ForecastRow", "ForecastSeries", "ModelOut", "PlannedRow", "SeriesKey", "SeriesLevel",
           "band_points"]

SeriesLevel = Literal["node", "parent", "channel", "total"]
"""Levels of the channel tree (`models.hierarchy.LEVELS`)."""
assert get_args(SeriesLevel) == LEVELS
_LEVELS_DOC = ("node (default): node_id x sku as sold; parent: a parent node's whole subtree "
               "(node_id = the parent's id); channel: every node of a channel (node_id = the "
               "channel's name); total: everything (node_id = TOTAL). At an aggregate level sku "
               "is an sku, an sku group or * (all skus); GET /v1/aggregates lists them.")


class ForecastPoint(BaseModel):
    """One period of a series chart's forecast: the mean and its 80% band."""

    date: str
    mean: float | None
    lo: float | None = Field(description="10% quantile")
    hi: float | None = Field(description="90% quantile")


def _finite(value: float) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def band_points(dates: Iterable[datetime | date], means: Iterable[float],
                lows: Iterable[float], highs: Iterable[float]) -> list[ForecastPoint]:
    """Chart points from aligned dates, means and 10% / 90% quantiles (NaN/inf -> null)."""
    return [ForecastPoint(date=f"{d:%Y-%m-%d}", mean=_finite(m), lo=_finite(lo),
                          hi=_finite(hi))
            for d, m, lo, hi in zip(dates, means, lows, highs, strict=True)]


class SeriesKey(StrictBody):
    node_id: Id
    sku: Id


class ForecastSeries(SeriesKey):
    """A series to forecast: a node x sku, or an aggregate of the channel tree."""

    level: SeriesLevel = Field("node", description=_LEVELS_DOC)


class PlannedRow(StrictBody):
    """A planned price and/or promotion of one series in one forecast period."""

    date: Day
    node_id: Id
    sku: Id
    price: Units | None = None
    promo: Annotated[Count, Field(ge=0, le=1)] | None = Field(None, description="0 or 1")


class ForecastIn(StrictBody):
    series: list[ForecastSeries] = Field(min_length=1, max_length=10_000)
    horizon: Count | None = Field(None, ge=1, le=520,
                                  description="periods ahead (default: the trained horizon)")
    quantiles: Annotated[list[Level], AfterValidator(distinct_levels)] = Field(
        default=list(DEFAULT_QUANTILES), max_length=50, json_schema_extra={"uniqueItems": True},
        description="levels in (0, 1), each once, at most 6 significant digits; the column "
        "of level 0.9 is q0.9")
    model: Annotated[str, Field(max_length=50), TEXT_CHECK] = Field(
        "auto", description="auto (each series' choice) or a trained model; unset: the served one")
    planned: list[PlannedRow] | None = Field(
        None, max_length=100_000,
        description="planned price/promo of forecast periods (LightGBM uses them)")
    reconcile: Annotated[str, Field(max_length=50), TEXT_CHECK] | None = Field(
        None, description="how the levels are made to add up (GET /v1/aggregates lists the "
        "model's methods; none = each series' own base forecast). Unset: the method that won "
        "the model's backtest when a series names a `level`, else none (node series alone "
        "keep their base forecasts). Given or defaulted, every row of the answer uses it, so "
        "the rows add up")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "series": [{"node_id": "DLR-01", "sku": "SKU-0001"},
                   {"level": "parent", "node_id": "DST-01", "sku": "*"}], "horizon": 4,
        "quantiles": list(DEFAULT_QUANTILES)}]})


class ForecastRow(BaseModel):
    level: SeriesLevel = Field("node", description="the series' level (see ForecastSeries)")
    node_id: str
    sku: str
    date: date
    step: int
    model: str = Field(description="the model that made this series' numbers")
    mean: float | None = Field(description="null only where the model has no number")
    quantiles: dict[str, float | None] = Field(description="q<level> -> units, e.g. q0.9")


class ForecastOut(BaseModel):
    model_name: str | None
    model_version: str | None = Field(description="registry version that made the rows")
    model_uri: str
    origin: date = Field(description="last period of history the forecasts start after")
    horizon: int
    quantiles: list[float]
    reconcile: str | None = Field(None, description="how the levels were made to add up "
                                  "(none: base forecasts; null: the model has no hierarchy)")
    rows: list[ForecastRow]


class AggregateOut(BaseModel):
    level: SeriesLevel
    node_id: str = Field(description="a parent node's id, a channel's name or TOTAL")
    sku: str = Field(description="an sku, an sku group or * (all skus)")
    series: int = Field(description="node x sku series it adds up")


class AggregatesOut(BaseModel):
    """The aggregate series a model forecasts (none: the model has no hierarchy)."""

    model_version: str | None
    reconcile: str | None = Field(description="the default method (the backtest's winner)")
    methods: list[str] = Field(description="values `reconcile` takes in POST /v1/forecasts")
    total: int = Field(description="aggregates matching the filters")
    aggregates: list[AggregateOut]


# --- allocations -----------------------------------------------------------------------------

class ModelOut(BaseModel):
    model_name: str | None
    model_version: str | None
    model_uri: str
    run_id: str | None
    loaded_at: datetime
    origin: date
    origin_at_load: date
    freq: str
    horizon: int
    series: int
    models: list[str]
    sell_through_batches: int
    previous_version: str | None = None


