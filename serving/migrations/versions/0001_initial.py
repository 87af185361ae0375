"""Initial schema: keys, allocations and decisions, inventory snapshots, sell-through
batches, model reloads, idempotent answers, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(200), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("available", sa.Float, nullable=False),
        sa.Column("pack_size", sa.Integer, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("model_origin", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
    )
    op.create_table(
        "allocation_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("allocation_id", sa.Integer, sa.ForeignKey("allocations.id"),
                  nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
    )
    op.create_table(
        "inventory_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("inventory", sa.JSON, nullable=False),
        sa.Column("central_stock", sa.JSON, nullable=True),
    )
    op.create_table(
        "sell_through_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("rows", sa.JSON, nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("origin_before", sa.String(32), nullable=False),
        sa.Column("origin_after", sa.String(32), nullable=False),
    )
    op.create_table(
        "model_reloads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("model_uri", sa.String(500), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("previous_version", sa.String(64), nullable=True),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("owner", "key", name="uq_idempotency_owner_key"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False, index=True),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("action", sa.String(64), nullable=True),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_log", "idempotency_keys", "model_reloads", "sell_through_batches",
                  "inventory_snapshots", "allocation_decisions", "allocations", "api_keys"):
        op.drop_table(table)
