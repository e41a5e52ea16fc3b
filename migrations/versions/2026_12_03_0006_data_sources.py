"""The source catalogue: one row per data source, for the lists of the API and the console.

Revision ID: 0006_data_sources
Revises: 0005_rule_hits
Create Date: 2026-12-03

Sources registered before this revision appear once the projection has read the log from event
zero, which a projection added later does by itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_data_sources"
down_revision: str | None = "0005_rule_hits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source_type", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("registered_by", sa.String(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_sources"),
    )
    op.create_index("ix_data_sources_by_tenant", "data_sources", ["tenant_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_data_sources_by_tenant", table_name="data_sources")
    op.drop_table("data_sources")
