"""Sell-through batches can be reverted: who reverted a batch, and when (a reverted batch is
no longer replayed over the model).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sell_through_batches") as batch:
        batch.add_column(sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reverted_by", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sell_through_batches") as batch:
        batch.drop_column("reverted_by")
        batch.drop_column("reverted_at")
