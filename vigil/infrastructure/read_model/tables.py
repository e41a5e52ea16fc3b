"""The read-model schema as SQLAlchemy Core tables; the Alembic migrations create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Always UTC and timezone-aware, also on SQLite, which stores datetimes without an offset:
    stored as UTC, SQLite's text order is the time order the queue's cursors rely on. A naive
    datetime (from a record file, say) is taken as UTC rather than stopping the projection."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("source", String, nullable=False),
    Column("record_id", String, nullable=False),
    Column("model_line", String, nullable=False),
    Column("model_version", String, nullable=False),
    Column("score", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("severity", String, nullable=False),
    Column("status", String, nullable=False),
    Column("entity_id", String),
    Column("assignee", String),
    Column("escalation_level", Integer, nullable=False),
    Column("comment_count", Integer, nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("occurred_at", UtcDateTime),
    Column("version", Integer, nullable=False),
)

# The queue lists newest first within a tenant, optionally narrowed by one filter; each index
# ends in (raised_at desc, id desc) so a keyset page is one index range scan.
Index("ix_alerts_queue", alerts.c.tenant_id, alerts.c.raised_at.desc(), alerts.c.id.desc())
for narrowed_by in ("status", "severity", "source"):
    Index(
        f"ix_alerts_by_{narrowed_by}",
        alerts.c.tenant_id,
        alerts.c[narrowed_by],
        alerts.c.raised_at.desc(),
        alerts.c.id.desc(),
    )

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("projection_name", String, primary_key=True),
    Column("application_name", String, nullable=False),
    Column("notification_id", BigInteger, nullable=False),
)

TABLES: dict[str, Table] = {"alerts": alerts}
"""Read-model tables by the name projections use for them."""
