"""The detection rules that fired on each alert, and the rule set version that decided.

Revision ID: 0005_rule_hits
Revises: 0004_queues_tags_evidence
Create Date: 2026-11-25

Alerts projected before this revision were raised before rules existed: no rule fired on them,
which is what the defaults say.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_rule_hits"
down_revision: str | None = "0004_queues_tags_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as alerts:
        alerts.add_column(
            sa.Column("rule_hits", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        alerts.add_column(sa.Column("rule_set_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as alerts:
        alerts.drop_column("rule_set_version")
        alerts.drop_column("rule_hits")
