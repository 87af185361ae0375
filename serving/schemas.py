"""Request and response bodies of API v1 (pydantic; the OpenAPI schema and its examples).

Input, output and update shapes are separate classes (H13). Numbers sent in must be finite;
identifiers are non-empty strings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.allocation import POLICIES

__all__ = [
    "AllocationDecisionIn", "AllocationIn", "AllocationLine", "AllocationList", "AllocationOut",
    "AuditEntry", "CentralStockRow", "DecisionOut", "ErrorItem", "ErrorOut", "ForecastIn",
    "ForecastOut", "ForecastRow", "InventoryIn", "InventoryOut", "InventoryRow", "KeyCreateIn",
    "KeyCreatedOut", "KeyOut", "ModelOut", "PlannedRow", "RiskIn", "RiskOut", "RiskRow",
    "SellThroughIn", "SellThroughOut", "SellThroughRevertOut", "SellThroughRow", "SeriesKey",
]

Id = Annotated[str, Field(min_length=1, max_length=200)]
BIG = 1e12  # no stock or sales figure is larger; keeps every sum and pack count in range
Units = Annotated[float, Field(ge=0, le=BIG, allow_inf_nan=False)]
Number = Annotated[float, Field(ge=-BIG, le=BIG, allow_inf_nan=False)]
Level = Annotated[float, Field(gt=0, lt=1)]
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

    date: date
    node_id: Id
    sku: Id
    price: Units | None = None
    promo: Literal[0, 1] | None = None


class ForecastIn(_In):
    series: list[SeriesKey] = Field(min_length=1, max_length=10_000)
    horizon: int | None = Field(None, ge=1, le=520,
                                description="periods ahead (default: the trained horizon)")
    quantiles: list[Level] = Field(default=[0.1, 0.5, 0.9], max_length=50)
    model: str = Field("auto", max_length=50,
                       description="auto (each series' backtest choice) or a trained model")
    planned: list[PlannedRow] | None = Field(
        None, max_length=100_000,
        description="planned price/promo of forecast periods (LightGBM uses them)")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "series": [{"node_id": "DLR-01", "sku": "SKU-0001"}], "horizon": 4,
        "quantiles": [0.1, 0.5, 0.9]}]})


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
    pack_size: int | None = Field(None, ge=1, le=1_000_000,
                                  description="default: central stock on record, else 1")
    policy: Policy = "channelcast"
    min_qty: dict[str, Units] = Field(default_factory=dict, description="node_id -> units")
    max_qty: dict[str, Units] = Field(default_factory=dict, description="node_id -> units")
    exclude: list[Id] = Field(default_factory=list, description="nodes that get nothing")
    target_service: float = Field(0.9, gt=0, lt=1)
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
    reason: str | None = Field(None, max_length=2000,
                               description="required to override: why the planner changed it")
    lines: dict[str, Units] = Field(default_factory=dict,
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
    top: int = Field(50, ge=1, le=10_000)
    excess_weeks: float = Field(8.0, gt=0, le=520)
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
    as_of: date
    min_qty: Number | None = None
    max_qty: Number | None = None


class CentralStockRow(_In):
    sku: Id
    available: Number
    pack_size: int | None = Field(None, ge=-(2**31), le=2**31)


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
    date: date
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
    name: Id
    role: Literal["erp", "planner", "admin"]


class KeyOut(BaseModel):
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, store it now")


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
