"""Channel alerts (list, acknowledge) and the channel health index."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.monitor.vocabulary import AlertKind, AlertStatus, Severity
from serving.schemas.fields import TEXT_CHECK, StrictBody

__all__ = ["AckIn", "AlertList", "AlertOut", "HealthComponent", "HealthLevel", "HealthOut",
           "HealthRow", "TrendPoint"]

HealthLevel = Literal["node", "parent", "channel"]


class AlertOut(BaseModel):
    alert_id: int
    kind: AlertKind
    severity: Severity
    node_id: str
    sku: str = Field(description='"" for node-level kinds (channel_stuffing, reporting_gap)')
    channel: str | None = None
    period_start: date
    period_end: date = Field(description="the last period with evidence (extended while the "
                                         "alert persists)")
    score: float | None
    expected: float | None
    observed: float | None
    message: str = Field(description="what was seen, what was expected, what to check")
    status: AlertStatus
    opened_at: datetime
    closed_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    ack_at: datetime | None


class AlertList(BaseModel):
    as_of: date | None = Field(description="the period of the latest finished detection run "
                                           "(null: none ran yet)")
    total: int = Field(description="alerts matching the filters (before `limit`)")
    alerts: list[AlertOut]


class AckIn(StrictBody):
    note: Annotated[str, Field(max_length=2000, description="what was checked or done"),
                    TEXT_CHECK] = ""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "note": "called the dealer: a reporting error, corrected next week"}]})


class HealthComponent(BaseModel):
    name: str
    value: float | None = Field(description="the KPI's value")
    score: float | None = Field(description="its score, 0-100 (null: no data)")
    contribution: float | None = Field(description="points it adds to the index")


class TrendPoint(BaseModel):
    month: str
    score: float | None


class HealthRow(BaseModel):
    rank: int = Field(description="1 = the least healthy")
    id: str = Field(description="node_id, parent_id or channel, by `level`")
    channel: str | None = None
    month: str
    score: float = Field(description="health index, 0-100")
    grade: str = Field(description="A (best) to E")
    change_vs_prev: float | None = Field(description="points since the previous month")
    explanation: str = Field(description="the component that fell most, or the weakest")
    unusual_score: float | None = Field(description="0 (typical) .. 1 (most unusual KPIs)")
    trend: list[TrendPoint] = Field(description="the index of up to 5 previous months and "
                                                "this month (oldest first)")
    components: list[HealthComponent]


class HealthOut(BaseModel):
    level: HealthLevel
    month: str
    rows: list[HealthRow]
