"""Cases, labels, and which case an alert is in.

Revision ID: 0002_cases_and_labels
Revises: 0001_alert_queue
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_cases_and_labels"
down_revision: str | None = "0001_alert_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as alerts:
        alerts.add_column(sa.Column("case_id", sa.Uuid(), nullable=True))
    op.create_index("ix_alerts_by_case", "alerts", ["tenant_id", "case_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("disposition", sa.String(), nullable=True),
        sa.Column("summary", sa.String(), nullable=True),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("comment_count", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index(
        "ix_cases_by_status", "cases", ["tenant_id", "status", sa.text("opened_at DESC")]
    )
    op.create_index(
        "ix_cases_by_assignee", "cases", ["tenant_id", "assignee", sa.text("opened_at DESC")]
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=True),
        sa.Column("label_source", sa.String(), nullable=True),
        sa.Column("labelled_by", sa.String(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
    )
    op.create_index(
        "ix_labels_by_subject", "labels", ["tenant_id", "source", "kind", "subject_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_labels_by_subject", table_name="labels")
    op.drop_table("labels")
    op.drop_index("ix_cases_by_assignee", table_name="cases")
    op.drop_index("ix_cases_by_status", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_alerts_by_case", table_name="alerts")
    with op.batch_alter_table("alerts") as alerts:
        alerts.drop_column("case_id")
