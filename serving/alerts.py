"""Alerts in the service's database: their lifecycle and the queries the API makes.

An alert is opened by a detection run, extended while the run after it still finds it (its
period end, severity, score, numbers and message follow the latest evidence), may be
acknowledged by a planner (who, when, a note) and is closed by the first run that no
longer finds it. One alert per kind x node x sku is not closed at any time: the unique
`open_key` holds it even when two workers detect at once (`AlertConflictError`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Select, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.monitor.vocabulary import ALERT_COLUMNS, KINDS, SEVERITIES
from serving.db import Database, rows_changed
from serving.tables import AlertRow, AlertRunRow, utcnow

__all__ = ["AlertChangesLike", "AlertConflictError", "AlertFilter", "AlertStore", "Applied",
           "open_key"]

NUMBERS = ("score", "expected", "observed")
EXTENDED = ("severity", "period_end", *NUMBERS, "message")


class AlertConflictError(RuntimeError):
    """Another worker changed the same alerts at the same time: run the detection again."""


class AlertChangesLike(Protocol):
    """What `models.monitor.alerts.update_alerts` returns: frames of opened (new alerts),
    extended and closed (with `alert_id`) alerts."""

    @property
    def opened(self) -> pd.DataFrame: ...
    @property
    def extended(self) -> pd.DataFrame: ...
    @property
    def closed(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Applied:
    """What one detection run changed: ids opened, extended and closed; `escalated`: the
    extended ones whose severity rose."""

    opened: list[int]
    extended: list[int]
    closed: list[int]
    escalated: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AlertFilter:
    """The filters of `GET /v1/alerts` (None: any)."""

    status: str | None = None
    kind: str | None = None
    severity: str | None = None
    node_id: str | None = None
    since: date | None = None
    nodes: Sequence[str] | None = None


def open_key(kind: str, node_id: str, sku: str) -> str:
    """The dedup key of an alert that is not closed."""
    return f"{kind}|{node_id}|{sku}"


def _day(value: object) -> str:
    return f"{pd.Timestamp(str(value)) if isinstance(value, str) else pd.Timestamp(value):%Y-%m-%d}"


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]  # numpy and pandas scalars
    return None if math.isnan(number) else number


def _sku(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


class AlertStore:
    """Reads and changes the alerts table (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open_frame(self) -> pd.DataFrame:
        """Alerts not closed, as a frame of `ALERT_COLUMNS` (+ `status`)."""
        with self.db.session() as session:
            rows = session.scalars(select(AlertRow).where(AlertRow.status != "closed")).all()
        frame = pd.DataFrame([{"alert_id": r.alert_id, "kind": r.kind, "severity": r.severity,
                               "node_id": r.node_id, "sku": r.sku,
                               "period_start": r.period_start, "period_end": r.period_end,
                               "score": r.score, "expected": r.expected,
                               "observed": r.observed, "message": r.message,
                               "status": r.status} for r in rows],
                             columns=[*ALERT_COLUMNS, "status"])
        for col in ("period_start", "period_end"):
            frame[col] = pd.to_datetime(frame[col])
        frame["alert_id"] = frame["alert_id"].astype("int64")
        return frame

    def apply(self, changes: AlertChangesLike) -> Applied:
        """Write one run's changes in one transaction.

        Raises:
            AlertConflictError: another worker opened one of these alerts meanwhile.
        """
        now = utcnow()
        try:
            with self.db.session() as session:
                opened = self._open(session, changes.opened, now)
                extended, escalated = self._extend(session, changes.extended)
                closed = self._close(session, changes.closed, now)
        except IntegrityError as exc:
            raise AlertConflictError("another detection run opened the same alert at the "
                                     "same time; run again.") from exc
        return Applied(opened=opened, extended=extended, closed=closed, escalated=escalated)

    def _open(self, session: Session, frame: pd.DataFrame, now: datetime) -> list[int]:
        rows = [AlertRow(kind=str(r["kind"]), severity=str(r["severity"]),
                         node_id=str(r["node_id"]), sku=_sku(r.get("sku")),
                         period_start=_day(r["period_start"]), period_end=_day(r["period_end"]),
                         score=_num(r.get("score")), expected=_num(r.get("expected")),
                         observed=_num(r.get("observed")), message=str(r["message"]),
                         status="open", opened_at=now,
                         open_key=open_key(str(r["kind"]), str(r["node_id"]),
                                           _sku(r.get("sku"))))
                for r in frame.to_dict("records")]
        session.add_all(rows)
        session.flush()
        return [r.alert_id for r in rows]

    def _extend(self, session: Session, frame: pd.DataFrame) -> tuple[list[int], list[int]]:
        ids: list[int] = []
        if frame.empty:
            return ids, []
        wanted = [int(i) for i in frame["alert_id"]]
        before = dict(session.execute(select(AlertRow.alert_id, AlertRow.severity)
                                      .where(AlertRow.alert_id.in_(wanted))).tuples().all())
        escalated = []
        for r in frame.to_dict("records"):
            values: dict[str, object] = {}
            for col in EXTENDED:
                if col in r:
                    values[col] = (_num(r[col]) if col in NUMBERS else
                                   _day(r[col]) if col == "period_end" else str(r[col]))
            alert_id = int(r["alert_id"])
            session.execute(update(AlertRow).where(AlertRow.alert_id == alert_id,
                                                   AlertRow.status != "closed").values(values))
            ids.append(alert_id)
            if _rank(values.get("severity")) < _rank(before.get(alert_id)):
                escalated.append(alert_id)
        return ids, escalated

    def _close(self, session: Session, frame: pd.DataFrame, now: datetime) -> list[int]:
        ids = [int(i) for i in frame["alert_id"]] if "alert_id" in frame else []
        for start in range(0, len(ids), 500):
            session.execute(update(AlertRow)
                            .where(AlertRow.alert_id.in_(ids[start:start + 500]),
                                   AlertRow.status != "closed")
                            .values(status="closed", closed_at=now, open_key=None))
        return ids

    def acknowledge(self, alert_id: int, *, by: str, note: str) -> AlertRow:
        """Mark an alert acknowledged by `by` with `note`.

        Raises:
            LookupError: there is no alert `alert_id`.
            ValueError: the alert is closed already.
        """
        with self.db.session() as session:
            changed = session.execute(
                update(AlertRow).where(AlertRow.alert_id == alert_id, AlertRow.status != "closed")
                .values(status="acknowledged", acknowledged_by=by, ack_note=note,
                        ack_at=utcnow()))
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise LookupError(f"there is no alert {alert_id}; GET /v1/alerts lists them "
                                  "with their ids.")
            if rows_changed(changed) != 1:
                raise ValueError(f"alert {alert_id} was closed at {row.closed_at:%Y-%m-%d %H:%M}"
                                 " UTC (its condition cleared); only open or acknowledged "
                                 "alerts can be acknowledged.")
            session.refresh(row)
            return row

    def get(self, alert_id: int) -> AlertRow | None:
        with self.db.session() as session:
            return session.get(AlertRow, alert_id)

    def query(self, where: AlertFilter, *, limit: int, offset: int
              ) -> tuple[list[AlertRow], int]:
        """Alerts matching `where`, most severe and most recent first, and how many match."""
        closed_last = case((AlertRow.status == "closed", 1), else_=0)
        severity = case({s: i for i, s in enumerate(SEVERITIES)}, value=AlertRow.severity,
                        else_=len(SEVERITIES))
        stmt = self._filtered(select(AlertRow), where).order_by(
            closed_last, severity, AlertRow.period_end.desc(), AlertRow.alert_id.desc())
        with self.db.session() as session:
            counted = self._filtered(select(func.count(AlertRow.alert_id)), where)
            total = session.scalar(counted) or 0
            rows = list(session.scalars(stmt.limit(limit).offset(offset)))
        return rows, total

    @staticmethod
    def _filtered(stmt: Select[Any], where: AlertFilter) -> Select[Any]:
        if where.status:
            stmt = stmt.where(AlertRow.status == where.status)
        if where.kind:
            stmt = stmt.where(AlertRow.kind == where.kind)
        if where.severity:
            stmt = stmt.where(AlertRow.severity == where.severity)
        if where.node_id:
            stmt = stmt.where(AlertRow.node_id == where.node_id)
        if where.since:
            stmt = stmt.where(AlertRow.period_end >= f"{where.since:%Y-%m-%d}")
        if where.nodes is not None:
            stmt = stmt.where(AlertRow.node_id.in_(list(where.nodes)))
        return stmt

    def open_counts(self) -> dict[tuple[str, str], int]:
        """Alerts not closed per (kind, severity); every pair of the vocabulary is present."""
        counts = {(k, s): 0 for k in KINDS for s in SEVERITIES}
        with self.db.session() as session:
            for kind, severity, n in session.execute(
                    select(AlertRow.kind, AlertRow.severity, func.count(AlertRow.alert_id))
                    .where(AlertRow.status != "closed")
                    .group_by(AlertRow.kind, AlertRow.severity)):
                counts[(kind, severity)] = int(n)
        return counts

    def last_run(self) -> AlertRunRow | None:
        """The latest finished detection run."""
        with self.db.session() as session:
            return session.scalar(select(AlertRunRow).where(AlertRunRow.finished_at.is_not(None))
                                  .order_by(AlertRunRow.as_of.desc(), AlertRunRow.id.desc())
                                  .limit(1))


def _rank(severity: object) -> int:
    """0 for critical .. 3 for low; an unknown or missing severity ranks below low."""
    return SEVERITIES.index(str(severity)) if severity in SEVERITIES else len(SEVERITIES)
