"""The read-model schema as SQLAlchemy Core tables; the Alembic migrations create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

    @property
    def python_type(self) -> type[datetime]:
        return datetime

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
    Column("case_id", Uuid),
    Column("tags", JSON, nullable=False, server_default="[]"),
    Column("rule_hits", JSON, nullable=False, server_default="[]"),
    Column("rule_set_version", Integer),
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

Index("ix_alerts_by_case", alerts.c.tenant_id, alerts.c.case_id)
# The queue's other orders (highest score, recently updated) are keysets too.
for ordered_by in ("score", "updated_at"):
    Index(
        f"ix_alerts_by_{ordered_by}",
        alerts.c.tenant_id,
        alerts.c[ordered_by].desc(),
        alerts.c.id.desc(),
    )
Index(
    "ix_alerts_by_entity",
    alerts.c.tenant_id,
    alerts.c.entity_id,
    alerts.c.raised_at.desc(),
    alerts.c.id.desc(),
)
# Finds the alerts of a labelled record, to recompute their entities' summaries; its three
# columns make it the planner's choice for that join even without statistics (with two it tied
# with ix_alerts_by_source, and SQLite took that one and scanned the source's every alert).
Index("ix_alerts_by_record", alerts.c.tenant_id, alerts.c.source, alerts.c.record_id)

alert_counts = Table(
    "alert_counts",
    metadata,
    Column("tenant_id", String, primary_key=True),
    Column("status", String, primary_key=True),
    Column("alert_count", BigInteger, nullable=False),
)
"""How many `alerts` rows each (tenant, status) has, kept by triggers on `alerts` that the
migration creates: an alert event does not say which status it leaves, and only the row knows."""

cases = Table(
    "cases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("title", String, nullable=False),
    Column("priority", String, nullable=False),
    Column("status", String, nullable=False),
    Column("assignee", String),
    Column("disposition", String),
    Column("summary", String),
    Column("alert_count", Integer, nullable=False),
    Column("comment_count", Integer, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("sla_breached", Boolean, nullable=False),
    Column("opened_by", String, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Column("tags", JSON, nullable=False, server_default="[]"),
)
Index("ix_cases_by_status", cases.c.tenant_id, cases.c.status, cases.c.opened_at.desc())
Index("ix_cases_by_assignee", cases.c.tenant_id, cases.c.assignee, cases.c.opened_at.desc())
for ordered_by in ("opened_at", "due_at", "updated_at"):
    Index(f"ix_cases_by_{ordered_by}", cases.c.tenant_id, cases.c[ordered_by], cases.c.id)

labels = Table(
    "labels",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("source", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("subject_id", String, nullable=False),
    Column("verdict", String),
    Column("label_source", String),
    Column("labelled_by", String),
    Column("labelled_at", UtcDateTime),
    Column("provenance", JSON),
    Column("version", Integer, nullable=False),
)
Index(
    "ix_labels_by_subject", labels.c.tenant_id, labels.c.source, labels.c.kind, labels.c.subject_id
)

queues = Table(
    "queues",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("sla_minutes", Integer, nullable=False),
    Column("assignment", String, nullable=False),
    Column("members", JSON, nullable=False),
    Column("retired", Boolean, nullable=False),
    Column("defined_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_queues_by_tenant", queues.c.tenant_id, queues.c.name)

comments = Table(
    "comments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("subject_kind", String, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("author", String, nullable=False),
    Column("text", String, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_comments_by_subject", comments.c.tenant_id, comments.c.subject_id, comments.c.at)

case_files = Table(
    "case_files",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("case_id", Uuid, nullable=False),
    Column("sha256", String, nullable=False),
    Column("filename", String, nullable=False),
    Column("content_type", String, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("attached_by", String, nullable=False),
    Column("attached_at", UtcDateTime, nullable=False),
    Column("removed_by", String),
    Column("removed_at", UtcDateTime),
    Column("removal_reason", String),
    Column("version", Integer, nullable=False),
)
Index("ix_case_files_by_case", case_files.c.tenant_id, case_files.c.case_id)

data_sources = Table(
    "data_sources",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("source_type", String, nullable=False),
    Column("description", String, nullable=False),
    Column("contract_version", Integer, nullable=False),
    Column("registered_by", String, nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("changed_by", String, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_data_sources_by_tenant", data_sources.c.tenant_id, data_sources.c.name)

entity_summaries = Table(
    "entity_summaries",
    metadata,
    Column("tenant_id", String, primary_key=True),
    Column("source", String, primary_key=True),
    Column("entity_id", String, primary_key=True),
    Column("alert_count", Integer, nullable=False),
    Column("open_case_count", Integer, nullable=False),
    Column("last_alert_at", UtcDateTime),
    Column("last_verdict", String),
    Column("last_label_source", String),
    Column("last_labelled_at", UtcDateTime),
)

model_comparisons = Table(
    "model_comparisons",
    metadata,
    Column("tenant_id", String, primary_key=True),
    Column("model_line", String, primary_key=True),
    Column("champion_version", String, primary_key=True),
    Column("shadow_version", String, primary_key=True),
    Column("scored", BigInteger, nullable=False),
    Column("champion_alerts", BigInteger, nullable=False),
    Column("shadow_alerts", BigInteger, nullable=False),
    Column("both_alerts", BigInteger, nullable=False),
    Column("score_gap", Float, nullable=False),
)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("projection_name", String, primary_key=True),
    Column("application_name", String, nullable=False),
    Column("notification_id", BigInteger, nullable=False),
)

TABLES: dict[str, Table] = {
    "alerts": alerts,
    "cases": cases,
    "labels": labels,
    "queues": queues,
    "comments": comments,
    "case_files": case_files,
    "data_sources": data_sources,
}
"""Read-model tables by the name projections use for them."""
