"""Queues, tags on alerts and cases, comments and case files.

Revision ID: 0004_queues_tags_evidence
Revises: 0003_read_side
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_queues_tags_evidence"
down_revision: str | None = "0003_read_side"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ALERT_ORDERS = ("score", "updated_at")
CASE_ORDERS = ("opened_at", "due_at", "updated_at")


def upgrade() -> None:
    for table in ("alerts", "cases"):
        with op.batch_alter_table(table) as tagged:
            tagged.add_column(
                sa.Column("tags", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
            )
    for column in ALERT_ORDERS:
        op.create_index(
            f"ix_alerts_by_{column}",
            "alerts",
            ["tenant_id", sa.text(f"{column} DESC"), sa.text("id DESC")],
        )
    for column in CASE_ORDERS:
        op.create_index(f"ix_cases_by_{column}", "cases", ["tenant_id", column, "id"])
    op.create_table(
        "queues",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.Column("assignment", sa.String(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("defined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queues"),
    )
    op.create_index("ix_queues_by_tenant", "queues", ["tenant_id", "name"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("subject_kind", sa.String(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
    )
    op.create_index("ix_comments_by_subject", "comments", ["tenant_id", "subject_id", "at"])
    op.create_table(
        "case_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("attached_by", sa.String(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removal_reason", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_files"),
    )
    op.create_index("ix_case_files_by_case", "case_files", ["tenant_id", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_files_by_case", table_name="case_files")
    op.drop_table("case_files")
    op.drop_index("ix_comments_by_subject", table_name="comments")
    op.drop_table("comments")
    op.drop_index("ix_queues_by_tenant", table_name="queues")
    op.drop_table("queues")
    for column in CASE_ORDERS:
        op.drop_index(f"ix_cases_by_{column}", table_name="cases")
    for column in ALERT_ORDERS:
        op.drop_index(f"ix_alerts_by_{column}", table_name="alerts")
    for table in ("cases", "alerts"):
        with op.batch_alter_table(table) as tagged:
            tagged.drop_column("tags")
