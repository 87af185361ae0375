"""Channel alerts and the health index: list alerts (erp and above), acknowledge one
(planner and above), read the health index with its components (erp and above).

Alerts are computed in the background when sell-through or inventory arrives
(`serving.monitor`); `as_of` in the list says which period the latest run covered.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from features.schema import CHANNEL, NODE
from models.monitor.health import COMPONENTS
from models.monitor.vocabulary import AlertKind, AlertStatus, Severity
from serving.alerts import AlertFilter
from serving.deps import ErpDep, PlannerDep, ServiceDep
from serving.errors import ERROR_RESPONSES, ApiError, documented
from serving.monitor import HEALTH_KEYS, AlertMonitor, monitor_of
from serving.schemas.alerts import (
    AckIn,
    AlertList,
    AlertOut,
    HealthComponent,
    HealthLevel,
    HealthOut,
    HealthRow,
    TrendPoint,
)
from serving.schemas.fields import Id
from serving.service import Service
from serving.tables import AlertRow, as_utc

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["alerts"], responses=ERROR_RESPONSES)
AlertId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


def _channels(service: Service) -> dict[str, str]:
    nodes = service.channel.nodes
    if nodes is None or CHANNEL not in nodes:
        return {}
    return dict(zip(nodes[NODE].astype(str), nodes[CHANNEL].astype(str), strict=True))


def _out(row: AlertRow, channels: dict[str, str]) -> AlertOut:
    return AlertOut(alert_id=row.alert_id, kind=row.kind, severity=row.severity,  # type: ignore[arg-type]
                    node_id=row.node_id, sku=row.sku, channel=channels.get(row.node_id),
                    period_start=date.fromisoformat(row.period_start),
                    period_end=date.fromisoformat(row.period_end), score=row.score,
                    expected=row.expected, observed=row.observed, message=row.message,
                    status=row.status,  # type: ignore[arg-type]
                    opened_at=as_utc(row.opened_at), closed_at=as_utc(row.closed_at),
                    acknowledged_by=row.acknowledged_by, ack_note=row.ack_note,
                    ack_at=as_utc(row.ack_at))


@router.get("/alerts", response_model=AlertList)
def list_alerts(_who: ErpDep, service: ServiceDep, request: Request,
                status: AlertStatus | None = None, kind: AlertKind | None = None,
                severity: Severity | None = None, node_id: Id | None = None,
                channel: Id | None = None,
                since: Annotated[date | None, Query(description="alerts whose last period is "
                                                    "on or after this day")] = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
                offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> AlertList:
    """Alerts, most severe and most recent first (open and acknowledged before closed)."""
    channels = _channels(service)
    nodes = None if channel is None else [n for n, c in channels.items() if c == channel]
    store = monitor_of(request).store
    rows, total = store.query(AlertFilter(status=status, kind=kind, severity=severity,
                                          node_id=node_id, since=since, nodes=nodes),
                              limit=limit, offset=offset)
    last = store.last_run()
    return AlertList(as_of=date.fromisoformat(last.as_of) if last else None, total=total,
                     alerts=[_out(r, channels) for r in rows])


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, responses=documented(
    _404="no alert of that id", _409="the alert is closed (its condition cleared)"))
def acknowledge_alert(alert_id: AlertId, body: AckIn, who: PlannerDep, service: ServiceDep,
                      request: Request) -> AlertOut:
    """Acknowledge an alert (planner): who and when are recorded with the note; it stays
    open until its condition clears."""
    monitor = monitor_of(request)
    try:
        row = monitor.store.acknowledge(alert_id, by=who.name, note=body.note)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from exc
    except ValueError as exc:
        raise ApiError(409, str(exc)) from exc
    monitor.acknowledged(row)
    request.state.audit = {"action": "alert.ack", "object_id": str(alert_id),
                           "detail": {"note": body.note}}
    return _out(row, _channels(service))


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]  # numpy and pandas scalars
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _health_rows(frame: pd.DataFrame, level: str, channels: dict[str, str]
                 ) -> list[HealthRow]:
    """The health index frame (least healthy first) as rows with their components."""
    key = HEALTH_KEYS[level]
    rows = []
    for r in frame.to_dict("records"):
        month = str(r["month"])
        trend = [TrendPoint(month=m, score=_number(v)) for m, v in r["trend"]]
        rows.append(HealthRow(
            rank=int(r["rank"]), id=str(r[key]), month=month,
            channel=channels.get(str(r[key])) if level == "node" else None,
            score=_number(r["score"]) or 0.0, grade=str(r["grade"]),
            change_vs_prev=_number(r.get("change_vs_prev")),
            explanation=str(r.get("explanation") or ""),
            unusual_score=_number(r.get("unusual_score")), trend=trend,
            components=[HealthComponent(
                name=n, value=_number(r.get(f"{n}_value")), score=_number(r.get(f"{n}_score")),
                contribution=_number(r.get(f"{n}_contribution"))) for n in COMPONENTS]))
    return rows


def _health(monitor: AlertMonitor, level: str, month: str | None) -> HealthOut:
    channels = _channels(monitor.service)
    try:
        frame = monitor.health(level=level, month=month)
    except LookupError as exc:
        raise ApiError(409, str(exc)) from exc
    except ValueError as exc:
        if month is None:  # not about the month asked for: a real error
            raise
        raise ApiError(404, f"no health index for month {month}: {exc}") from exc
    rows = _health_rows(frame, level, channels)
    shown = month or (rows[0].month if rows else "")
    return HealthOut(level=level, month=shown, rows=rows)  # type: ignore[arg-type]


@router.get("/health", response_model=HealthOut, responses=documented(
    _404="no data for that month", _409="no model with sell-through history is loaded"))
async def read_health(_who: ErpDep, request: Request, level: HealthLevel = "node",
                      month: Month | None = None) -> HealthOut:
    """The channel health index (0-100, grades A-E) per node, parent or channel for a month
    (default: the latest), least healthy first, with each component's value, score and
    contribution, what explains it, and the index of earlier months (trend)."""
    return await run_in_threadpool(_health, monitor_of(request), level, month)
