"""Stock risk, inventory snapshots and sell-through posts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from serving.schemas.fields import Count, Day, Id, Number, RiskClass, StrictBody

__all__ = ["CentralStockRow", "InventoryIn", "InventoryOut", "InventoryRow", "RiskIn", "RiskOut",
           "RiskRow", "SellThroughIn", "SellThroughOut", "SellThroughRevertOut", "SellThroughRow"]

class RiskIn(StrictBody):
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

class InventoryRow(StrictBody):
    node_id: Id
    sku: Id
    on_hand: Number
    in_transit: Number
    as_of: Day
    min_qty: Number | None = None
    max_qty: Number | None = None


class CentralStockRow(StrictBody):
    sku: Id
    available: Number
    pack_size: Count | None = Field(None, ge=-(2**31), le=2**31)


class InventoryIn(StrictBody):
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


class SellThroughRow(StrictBody):
    date: Day
    node_id: Id
    sku: Id
    units: Number
    price: Number | None = None
    promo: Number | None = None
    on_hand: Number | None = None
    sell_in: Number | None = None


class SellThroughIn(StrictBody):
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

