"""Request and response bodies of API v1 (pydantic; the OpenAPI schema and its examples).

Input, output and update shapes are separate classes. Input is taken as sent, never
coerced: numbers must be JSON numbers (not `true` or `"1"`; an integer is fine for a decimal
field), finite and within `BIG`; text must be valid Unicode (no lone surrogate such as
`\ud800`); identifiers are non-empty; dates are `YYYY-MM-DD` text from `FIRST_DAY` to
`LAST_DAY`; quantile levels have at most 6 significant digits and are distinct.
"""

from __future__ import annotations

from serving.schemas.admin import AuditEntry, KeyCreatedOut, KeyCreateIn, KeyOut
from serving.schemas.allocations import (
    AllocationDecisionIn,
    AllocationIn,
    AllocationLine,
    AllocationList,
    AllocationOut,
    DecisionOut,
)
from serving.schemas.channel import (
    CentralStockRow,
    InventoryIn,
    InventoryOut,
    InventoryRow,
    RiskIn,
    RiskOut,
    RiskRow,
    SellThroughIn,
    SellThroughOut,
    SellThroughRevertOut,
    SellThroughRow,
)
from serving.schemas.fields import (
    BIG,
    FIRST_DAY,
    LAST_DAY,
    TEXT_CHECK,
    Count,
    Day,
    ErrorItem,
    ErrorItemJson,
    ErrorJson,
    ErrorOut,
    Id,
    Level,
    Number,
    Units,
)
from serving.schemas.forecasts import (
    AggregateOut,
    AggregatesOut,
    ForecastIn,
    ForecastOut,
    ForecastPoint,
    ForecastRow,
    ForecastSeries,
    ModelOut,
    PlannedRow,
    SeriesKey,
    SeriesLevel,
    band_points,
)

__all__ = [
    "AggregateOut", "AggregatesOut", "ForecastPoint", "ForecastSeries", "SeriesLevel",
    "band_points",
    "BIG", "FIRST_DAY", "LAST_DAY", "AllocationDecisionIn", "AllocationIn", "AllocationLine",
    "AllocationList", "AllocationOut", "AuditEntry", "CentralStockRow", "Count", "Day",
    "DecisionOut", "ErrorItem", "ErrorItemJson", "ErrorJson", "ErrorOut", "ForecastIn",
    "ForecastOut", "ForecastRow", "Id",
    "InventoryIn", "InventoryOut", "InventoryRow", "KeyCreateIn", "KeyCreatedOut", "KeyOut",
    "Level", "ModelOut", "Number", "PlannedRow", "RiskIn", "RiskOut", "RiskRow",
    "SellThroughIn", "SellThroughOut", "SellThroughRevertOut", "SellThroughRow", "SeriesKey",
    "TEXT_CHECK", "Units",
]
