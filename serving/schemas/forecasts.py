"""Forecast requests and answers, and the model being served."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from features.config import DEFAULT_QUANTILES
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

__all__ = ["ForecastIn", "ForecastOut", "ForecastRow", "ModelOut", "PlannedRow", "SeriesKey"]

class SeriesKey(StrictBody):
    node_id: Id
    sku: Id


class PlannedRow(StrictBody):
    """A planned price and/or promotion of one series in one forecast period."""

    date: Day
    node_id: Id
    sku: Id
    price: Units | None = None
    promo: Annotated[Count, Field(ge=0, le=1)] | None = Field(None, description="0 or 1")


class ForecastIn(StrictBody):
    series: list[SeriesKey] = Field(min_length=1, max_length=10_000)
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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "series": [{"node_id": "DLR-01", "sku": "SKU-0001"}], "horizon": 4,
        "quantiles": list(DEFAULT_QUANTILES)}]})


class ForecastRow(BaseModel):
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
    rows: list[ForecastRow]


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


