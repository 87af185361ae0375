"""The service's records (SQLAlchemy 2 ORM): keys, allocations and their decisions,
inventory snapshots, sell-through batches, model reloads, idempotent answers, the audit log,
channel alerts with their lifecycle, alert runs, webhook deliveries and monthly reports.

The schema is created and changed only by the Alembic migrations in `serving/migrations`;
`tests/serving/test_db.py` checks that the migrations and these classes agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["AlertRow", "AlertRunRow", "AllocationDecisionRow", "AllocationRow", "ApiKeyRow",
           "AuditRow", "Base", "IdempotencyRow", "InventorySnapshotRow", "ModelReloadRow",
           "ReportRow", "SellThroughBatchRow", "WebhookDeliveryRow", "as_utc", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands times back without their zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonObject = dict[str, Any]
"""A JSON column holding an object: whatever JSON was stored comes back (a boundary)."""
JsonArray = list[Any]
"""A JSON column holding an array."""


class Base(DeclarativeBase):
    type_annotation_map = {JsonObject: JSON, JsonArray: JSON}


class ApiKeyRow(Base):
    """An API key: only its SHA-256 is kept; `prefix` lets people tell keys apart."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AllocationRow(Base):
    """One allocation request and its lines; `status` proposed -> overridden* -> approved."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    policy: Mapped[str] = mapped_column(String(32))
    available: Mapped[float] = mapped_column(Float)
    pack_size: Mapped[int] = mapped_column(Integer)
    request: Mapped[JsonObject] = mapped_column(JSON)
    lines: Mapped[JsonArray] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_origin: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decisions: Mapped[list[AllocationDecisionRow]] = relationship(
        back_populates="allocation", order_by="AllocationDecisionRow.id")


class AllocationDecisionRow(Base):
    """A planner's approval or override of an allocation, with who, when and why."""

    __tablename__ = "allocation_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    changes: Mapped[JsonArray] = mapped_column(JSON)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    allocation: Mapped[AllocationRow] = relationship(back_populates="decisions")


class InventorySnapshotRow(Base):
    """An inventory snapshot posted by the ERP (the latest one is in force)."""

    __tablename__ = "inventory_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    inventory: Mapped[JsonArray] = mapped_column(JSON)
    central_stock: Mapped[JsonArray | None] = mapped_column(JSON, nullable=True)


class SellThroughBatchRow(Base):
    """New periods of sell-through the model was rolled forward over (replayed on load,
    unless an admin reverted the batch: `reverted_at`, `reverted_by`)."""

    __tablename__ = "sell_through_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    rows: Mapped[JsonArray] = mapped_column(JSON)
    n_rows: Mapped[int] = mapped_column(Integer)
    origin_before: Mapped[str] = mapped_column(String(32))
    origin_after: Mapped[str] = mapped_column(String(32))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reverted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class ModelReloadRow(Base):
    """A model reload asked for by an admin (other workers follow it)."""

    __tablename__ = "model_reloads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by: Mapped[str] = mapped_column(String(100))
    model_uri: Mapped[str] = mapped_column(String(500))
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_version: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IdempotencyRow(Base):
    """The recorded answer to a POST sent with an `Idempotency-Key` (status None: running).

    `token` names the attempt that holds the key; while the answer is unknown, `lease_until`
    says when another attempt may take the key over (None once a write was committed).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner", "key", name="uq_idempotency_owner_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    """One changing request (or refused attempt): who, what, when, and its outcome."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    action: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[JsonObject | None] = mapped_column(JSON, nullable=True)
    request_id: Mapped[str] = mapped_column(String(64))


class AlertRow(Base):
    """A channel alert (`models.monitor.vocabulary.ALERT_COLUMNS`) and its lifecycle:
    open -> acknowledged (who, note, when) -> closed (when it clears).

    `open_key` is kind|node_id|sku while the alert is not closed and NULL after: its unique
    index keeps one open alert per kind x node x sku even when two workers detect at once.
    """

    __tablename__ = "alerts"
    alert_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    node_id: Mapped[str] = mapped_column(String(200), index=True)
    sku: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[str] = mapped_column(String(10))
    period_end: Mapped[str] = mapped_column(String(10), index=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    open_key: Mapped[str | None] = mapped_column(String(440), nullable=True, unique=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    ack_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AlertRunRow(Base):
    """One detection run: the period it ran for, what triggered it and what it changed."""

    __tablename__ = "alert_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[str] = mapped_column(String(10), index=True)
    trigger: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookDeliveryRow(Base):
    """One attempt to deliver a webhook message (`delivery` is the same for its retries)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery: Mapped[str] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    alert_ids: Mapped[JsonArray] = mapped_column(JSON)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seconds: Mapped[float] = mapped_column(Float)


class ReportRow(Base):
    """A monthly channel report the service generated (`serving.reports`): the files, and
    why the PDF is missing when WeasyPrint could not render it."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("month", "lang", name="uq_reports_month_lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    html_path: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    pdf_path: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    pdf_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
