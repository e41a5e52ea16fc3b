"""The alert queue and the projections' tracking positions.

Revision ID: 0001_alert_queue
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_alert_queue"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_ORDER = [sa.text("raised_at DESC"), sa.text("id DESC")]


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("model_line", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=True),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("comment_count", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_queue", "alerts", ["tenant_id", *QUEUE_ORDER])
    op.create_index("ix_alerts_by_status", "alerts", ["tenant_id", "status", *QUEUE_ORDER])
    op.create_index("ix_alerts_by_severity", "alerts", ["tenant_id", "severity", *QUEUE_ORDER])
    op.create_index("ix_alerts_by_source", "alerts", ["tenant_id", "source", *QUEUE_ORDER])
    op.create_table(
        "projection_tracking",
        sa.Column("projection_name", sa.String(), nullable=False),
        sa.Column("application_name", sa.String(), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("projection_name", name="pk_projection_tracking"),
    )


def downgrade() -> None:
    op.drop_table("projection_tracking")
    op.drop_index("ix_alerts_by_source", table_name="alerts")
    op.drop_index("ix_alerts_by_severity", table_name="alerts")
    op.drop_index("ix_alerts_by_status", table_name="alerts")
    op.drop_index("ix_alerts_queue", table_name="alerts")
    op.drop_table("alerts")
