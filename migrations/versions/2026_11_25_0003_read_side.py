"""Maintained alert counts, per-entity summaries, and the indexes that find an entity's alerts.

Revision ID: 0003_read_side
Revises: 0002_cases_and_labels
Create Date: 2026-11-25

`alert_counts` follows the `alerts` table through triggers (why, and how they survive SQLite's
batch migrations, is in `vigil.infrastructure.read_model.alert_counts`); the alerts projected
before this revision are counted once, here. `entity_summaries` starts empty: its projection has
a tracking position of its own, at zero, so the projection worker fills it from event zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vigil.infrastructure.read_model.alert_counts import drop_alert_counts, keep_alert_counts

revision: str = "0003_read_side"
down_revision: str | None = "0002_cases_and_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_ORDER = [sa.text("raised_at DESC"), sa.text("id DESC")]


def upgrade() -> None:
    op.create_index("ix_alerts_by_entity", "alerts", ["tenant_id", "entity_id", *QUEUE_ORDER])
    op.create_index("ix_alerts_by_record", "alerts", ["tenant_id", "source", "record_id"])
    op.create_table(
        "alert_counts",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("alert_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "status", name="pk_alert_counts"),
    )
    keep_alert_counts(op.get_bind())
    op.create_table(
        "entity_summaries",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("open_case_count", sa.Integer(), nullable=False),
        sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_verdict", sa.String(), nullable=True),
        sa.Column("last_label_source", sa.String(), nullable=True),
        sa.Column("last_labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "source", "entity_id", name="pk_entity_summaries"),
    )


def downgrade() -> None:
    op.drop_table("entity_summaries")
    drop_alert_counts(op.get_bind())
    op.drop_table("alert_counts")
    op.execute("DELETE FROM projection_tracking WHERE projection_name = 'entity_summary'")
    op.drop_index("ix_alerts_by_record", table_name="alerts")
    op.drop_index("ix_alerts_by_entity", table_name="alerts")
