"""Request and response bodies of API v1 (pydantic; the OpenAPI schema and its examples).

Input, output and update shapes are separate classes (H13). Input is taken as sent, never
coerced: numbers must be JSON numbers (not `true` or `"1"`; an integer is fine for a decimal
field), finite and within `BIG`; text must be valid Unicode (no lone surrogate such as
`\ud800`); identifiers are non-empty; dates are `YYYY-MM-DD` text from `FIRST_DAY` to
`LAST_DAY`; quantile levels have at most 6 significant digits and are distinct.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from features.config import DEFAULT_QUANTILES
from models.allocation import POLICIES
from models.quantiles import quantile_level
from serving.keys import KEY_NAME_MAX

__all__ = [
    "BIG", "FIRST_DAY", "LAST_DAY", "AllocationDecisionIn", "AllocationIn", "AllocationLine",
    "AllocationList", "AllocationOut", "AuditEntry", "CentralStockRow", "Count", "Day",
    "DecisionOut", "ErrorItem", "ErrorOut", "ForecastIn", "ForecastOut", "ForecastRow", "Id",
    "InventoryIn", "InventoryOut", "InventoryRow", "KeyCreateIn", "KeyCreatedOut", "KeyOut",
    "Level", "ModelOut", "Number", "PlannedRow", "RiskIn", "RiskOut", "RiskRow",
    "SellThroughIn", "SellThroughOut", "SellThroughRevertOut", "SellThroughRow", "SeriesKey",
    "TEXT_CHECK", "Units",
]

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
"""Dates the API takes: every date stays far inside pandas' timestamps (1677..2262)."""
BIG = 1e12  # no stock or sales figure is larger; keeps every sum and pack count in range


def _text(text: Any) -> Any:
    """`text` unless it is a string holding a NUL (PostgreSQL cannot store it) or a lone
    surrogate (JSON `"\\ud800"`; pydantic would refuse it too, but without saying why)."""
    if isinstance(text, str) and "\x00" in text:
        raise PydanticCustomError("text_nul", "character {at} is NUL (\\u0000), not text: send "
                                  "text without it", {"at": text.index("\x00")})
    if isinstance(text, str) and not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PydanticCustomError(
                "unicode_surrogate", "character {at} is a lone surrogate ({char}), not text: "
                "send valid Unicode (a \\ud8xx escape must be followed by a \\udcxx one)",
                {"at": exc.start, "char": ascii(text[exc.start])[1:-1]}) from None
    return text


def _date_text(value: Any) -> Any:
    """Dates come as `YYYY-MM-DD` text: a number is not read as a Unix time."""
    if isinstance(value, str | date):
        return value
    raise PydanticCustomError("date_type", "Input should be a date as text, YYYY-MM-DD")


def _in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PydanticCustomError("date_range", "date {day} is out of range: send a date from "
                                  "{first} to {last}", {"day": str(day), "first": str(FIRST_DAY),
                                                        "last": str(LAST_DAY)})
    return day


def _level(q: float) -> float:
    try:
        return quantile_level(q)
    except ValueError as exc:
        raise PydanticCustomError("quantile_precision", str(exc)) from None


def _distinct(levels: list[float]) -> list[float]:
    seen: dict[float, int] = {}
    for i, q in enumerate(levels):
        if q in seen:
            raise PydanticCustomError(
                "quantile_repeated", "levels [{first}] and [{i}] are both {q}: they would "
                "share the column q{q}; send each level once",
                {"first": seen[q], "i": i, "q": f"{q:g}"})
        seen[q] = i
    return levels


TEXT_CHECK = BeforeValidator(_text)
"""Refuses NUL and lone surrogates: add to every `str` taken from a request."""
Id = Annotated[str, Field(min_length=1, max_length=200), TEXT_CHECK]
Day = Annotated[date, BeforeValidator(_date_text), AfterValidator(_in_range),
                Field(description=f"YYYY-MM-DD, from {FIRST_DAY} to {LAST_DAY}")]
Count = Annotated[int, Field(strict=True)]  # a JSON integer: not true, "3" or 3.0
Units = Annotated[float, Field(strict=True, ge=0, le=BIG, allow_inf_nan=False)]
Number = Annotated[float, Field(strict=True, ge=-BIG, le=BIG, allow_inf_nan=False)]
Share = Annotated[float, Field(strict=True, gt=0, lt=1, allow_inf_nan=False)]
Level = Annotated[Share, AfterValidator(_level)]
Policy = Literal["channelcast", "fair_share_forecast", "fair_share_sales"]
assert set(Policy.__args__) == set(POLICIES)  # type: ignore[attr-defined]
RiskClass = Literal["critical", "high", "medium", "low"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="where: body, field names and row indexes")
    msg: str = Field(description="what is wrong and what to do")
    type: str = Field(description="rule id, e.g. below_minimum, missing, unknown_node")
    value: str | None = None


class ErrorOut(BaseModel):
    """Every error answer: a sentence, and for bad input one item per problem."""

    detail: str
    errors: list[ErrorItem] | None = None
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "detail": "body.horizon: Input should be greater than or equal to 1",
        "errors": [{"loc": ["body", "horizon"], "type": "greater_than_equal",
                    "msg": "Input should be greater than or equal to 1", "value": "0"}]}]})


# --- forecasts -------------------------------------------------------------------------------

class SeriesKey(_In):
    node_id: Id
    sku: Id


class PlannedRow(_In):
    """A planned price and/or promotion of one series in one forecast period."""

    date: Day
    node_id: Id
    sku: Id
    price: Units | None = None
    promo: Annotated[Count, Field(ge=0, le=1)] | None = Field(None, description="0 or 1")


class ForecastIn(_In):
    series: list[SeriesKey] = Field(min_length=1, max_length=10_000)
    horizon: Count | None = Field(None, ge=1, le=520,
                                  description="periods ahead (default: the trained horizon)")
    quantiles: Annotated[list[Level], AfterValidator(_distinct)] = Field(
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

class AllocationIn(_In):
    sku: Id
    available: Units | None = Field(None, description="units to split (default: central stock "
                                    "on record)")
    pack_size: Count | None = Field(None, ge=1, le=1_000_000,
                                    description="default: central stock on record, else 1")
    policy: Policy = "channelcast"
    min_qty: dict[Id, Units] = Field(default_factory=dict, description="node_id -> units")
    max_qty: dict[Id, Units] = Field(default_factory=dict, description="node_id -> units")
    exclude: list[Id] = Field(default_factory=list, description="nodes that get nothing")
    target_service: Share = 0.9
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "sku": "SKU-0001", "available": 120, "policy": "channelcast",
        "max_qty": {"WEB-01": 40}, "exclude": ["DLR-07"]}]})


class AllocationLine(BaseModel):
    node_id: str
    sku: str
    priority: int
    allocated: float
    proposed: float = Field(description="what the model proposed (before overrides)")
    packs: int
    demand_mean: float
    demand_q0_9: float
    on_hand: float
    in_transit: float
    position_before: float
    position_after: float
    p_stockout_before: float
    p_stockout_after: float | None = Field(description="null on lines a planner overrode")
    bound: str = Field(description="what stopped the line: demand, available, tier, "
                       "max_qty, capacity, min_qty, excluded, share")
    reason: str = Field(description="the line's explanation in words")


class DecisionOut(BaseModel):
    action: Literal["approve", "override"]
    reason: str | None
    changes: list[dict[str, str | float]]
    decided_by: str
    decided_at: datetime


class AllocationOut(BaseModel):
    id: int
    sku: str
    status: Literal["proposed", "overridden", "approved"]
    policy: str
    available: float
    pack_size: int
    allocated: float
    model_version: str | None
    model_origin: date
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    lines: list[AllocationLine]
    decisions: list[DecisionOut]


class AllocationSummary(BaseModel):
    id: int
    sku: str
    status: str
    policy: str
    available: float
    allocated: float
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class AllocationList(BaseModel):
    items: list[AllocationSummary]
    total: int


class AllocationDecisionIn(_In):
    action: Literal["approve", "override"]
    reason: Annotated[str, Field(max_length=2000), TEXT_CHECK] | None = Field(
        None, description="required to override: why the planner changed it")
    lines: dict[Id, Units] = Field(default_factory=dict,
                                    description="override: node_id -> new quantity")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "override", "reason": "DLR-03 has a store opening", "lines": {"DLR-03": 24}},
        {"action": "approve"}]})


# --- stock risk ------------------------------------------------------------------------------

class RiskIn(_In):
    nodes: list[Id] | None = Field(None, max_length=10_000)
    skus: list[Id] | None = Field(None, max_length=100_000)
    channel: Id | None = None
    risk_class: list[RiskClass] | None = Field(None, description="keep these classes only")
    demand_class: list[Id] | None = Field(None, description="e.g. smooth, intermittent")
    top: Count = Field(50, ge=1, le=10_000)
    excess_weeks: Annotated[float, Field(strict=True, allow_inf_nan=False)] = Field(
        8.0, gt=0, le=520)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "channel": "dealer", "risk_class": ["critical", "high"], "top": 20}]})


class RiskRow(BaseModel):
    rank: int
    node_id: str
    sku: str
    channel: str | None
    demand_class: str | None
    on_hand: float
    in_transit: float
    position: float
    demand_mean: float
    p_stockout: float
    expected_lost_units: float
    expected_lost_value: float | None
    weeks_of_cover: float | None = Field(description="null when no demand is expected")
    p_excess: float
    risk_class: str
    excess: bool


class RiskOut(BaseModel):
    model_version: str | None
    origin: date
    inventory_as_of: str
    total: int = Field(description="stocked lines matching the filters (before `top`)")
    rows: list[RiskRow]


# --- inventory, sell-through -------------------------------------------------------------

class InventoryRow(_In):
    node_id: Id
    sku: Id
    on_hand: Number
    in_transit: Number
    as_of: Day
    min_qty: Number | None = None
    max_qty: Number | None = None


class CentralStockRow(_In):
    sku: Id
    available: Number
    pack_size: Count | None = Field(None, ge=-(2**31), le=2**31)


class InventoryIn(_In):
    inventory: list[InventoryRow] = Field(min_length=1, max_length=1_000_000)
    central_stock: list[CentralStockRow] | None = Field(
        None, max_length=1_000_000, description="replaces the central stock when given")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "inventory": [{"node_id": "DLR-01", "sku": "SKU-0001", "on_hand": 12, "in_transit": 4,
                       "as_of": "2026-01-05"}],
        "central_stock": [{"sku": "SKU-0001", "available": 300, "pack_size": 6}]}]})


class InventoryOut(BaseModel):
    snapshot_id: int
    rows: int
    central_stock_rows: int | None
    created_at: datetime


class SellThroughRow(_In):
    date: Day
    node_id: Id
    sku: Id
    units: Number
    price: Number | None = None
    promo: Number | None = None
    on_hand: Number | None = None
    sell_in: Number | None = None


class SellThroughIn(_In):
    rows: list[SellThroughRow] = Field(min_length=1, max_length=1_000_000)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "rows": [{"date": "2026-01-05", "node_id": "DLR-01", "sku": "SKU-0001", "units": 7,
                  "price": 9.99, "promo": 0, "on_hand": 15}]}]})


class SellThroughOut(BaseModel):
    batch_id: int
    rows: int
    origin_before: date
    origin_after: date
    model_version: str | None


class SellThroughRevertOut(BaseModel):
    batch_id: int
    rows: int = Field(description="rows of the reverted batch, no longer in the model")
    reverted_at: datetime
    reverted_by: str
    origin_before: date = Field(description="the model's origin before the revert")
    origin: date = Field(description="the model's origin now, rebuilt from its registry "
                                     "version and the batches that remain")
    model_version: str | None
    sell_through_batches: int = Field(description="batches the model is rolled forward over")


# --- models, keys, audit --------------------------------------------------------------------

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


class KeyCreateIn(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=KEY_NAME_MAX), TEXT_CHECK]
    role: Literal["erp", "planner", "admin"]


class KeyOut(BaseModel):
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    key: str | None = Field(description="the key itself: shown this once, store it now; null "
                            "when this answer is a replay (header `Idempotent-Replayed: "
                            "true`): the key was created by the first request and is never "
                            "shown again")
    note: str | None = Field(default=None, description="on a replay: that the key was "
                             "already created, and what to do if it was lost")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str | None
    role: str | None
    method: str
    path: str
    status: int
    action: str | None
    object_id: str | None
    detail: dict[str, object] | None
