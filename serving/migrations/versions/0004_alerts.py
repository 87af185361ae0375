"""Channel alerts with their lifecycle (open -> acknowledged -> closed), the detection runs
and every webhook delivery attempt (issue 21).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("severity", sa.String(16), nullable=False, index=True),
        sa.Column("node_id", sa.String(200), nullable=False, index=True),
        sa.Column("sku", sa.String(200), nullable=False),
        sa.Column("period_start", sa.String(10), nullable=False),
        sa.Column("period_end", sa.String(10), nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("expected", sa.Float, nullable=True),
        sa.Column("observed", sa.Float, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("open_key", sa.String(440), nullable=True, unique=True),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
        sa.Column("ack_note", sa.Text, nullable=True),
        sa.Column("ack_at", _TS, nullable=True),
    )
    op.create_table(
        "alert_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("as_of", sa.String(10), nullable=False, index=True),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("opened", sa.Integer, nullable=False),
        sa.Column("extended", sa.Integer, nullable=False),
        sa.Column("closed", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("delivery", sa.String(32), nullable=False, index=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("alert_ids", sa.JSON, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("alert_runs")
    op.drop_table("alerts")
