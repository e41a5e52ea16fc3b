"""Champion/challenger comparisons: per model line and (champion, shadow) pair, what each
alerted on among the records both scored, added up from the SCORED stream.

Revision ID: 0007_model_comparisons
Revises: 0006_data_sources
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_model_comparisons"
down_revision: str | None = "0006_data_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_comparisons",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("model_line", sa.String(), nullable=False),
        sa.Column("champion_version", sa.String(), nullable=False),
        sa.Column("shadow_version", sa.String(), nullable=False),
        sa.Column("scored", sa.BigInteger(), nullable=False),
        sa.Column("champion_alerts", sa.BigInteger(), nullable=False),
        sa.Column("shadow_alerts", sa.BigInteger(), nullable=False),
        sa.Column("both_alerts", sa.BigInteger(), nullable=False),
        sa.Column("score_gap", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "model_line",
            "champion_version",
            "shadow_version",
            name="pk_model_comparisons",
        ),
    )


def downgrade() -> None:
    op.drop_table("model_comparisons")
