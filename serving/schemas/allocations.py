"""Allocation requests, lines, decisions and their records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from models.allocation import OBJECTIVES
from serving.schemas.fields import TEXT_CHECK, Count, Id, Policy, Share, StrictBody, Units

__all__ = ["AllocationDecisionIn", "AllocationIn", "AllocationLine", "AllocationList",
           "AllocationOut", "AllocationSummary", "DecisionOut", "Objective"]

Objective = Literal["profit", "units"]
assert set(get_args(Objective)) == set(OBJECTIVES)

class AllocationIn(StrictBody):
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
    objective: Objective = Field(
        "profit", description="profit: keep a pack central when its expected margin is below "
        "the cost of holding it at every node (needs a price on record or `unit_margin` and "
        "`holding_cost`; else units); units: allocate everything that can sell")
    unit_margin: Units | None = Field(None, gt=0, description="money per unit sold (default: "
                                      "0.3 x the sku's last price on record)")
    holding_cost: Units | None = Field(None, description="money per unit per period at a node "
                                       "(default: 0.25/52 x the sku's last price on record)")
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
    bound: str = Field(description="what stopped the line: demand, holding, available, "
                       "tier, max_qty, capacity, min_qty, excluded, share")
    reason: str = Field(description="the line's explanation in words")
    demand_source: Literal["forecast", "pooled"] = Field(
        "forecast", description="pooled: channelcast moved the interval mean half-way from the "
        "forecast to the pooled rate (the reason says so)")


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


class AllocationDecisionIn(StrictBody):
    action: Literal["approve", "override"]
    reason: Annotated[str, Field(max_length=2000), TEXT_CHECK] | None = Field(
        None, description="required to override: why the planner changed it")
    lines: dict[Id, Units] = Field(default_factory=dict,
                                    description="override: node_id -> new quantity")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "override", "reason": "DLR-03 has a store opening", "lines": {"DLR-03": 24}},
        {"action": "approve"}]})


# --- stock risk ------------------------------------------------------------------------------

