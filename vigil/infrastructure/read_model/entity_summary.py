"""Entity summaries on SQLAlchemy: recomputed from the alert, case and label rows, and read back.

A recomputation finds the entities behind the rows a batch changed, then computes each of their
summaries afresh from the rows as the batch left them, in three statements for up to `CHUNK`
entities whatever their history: so repeating one, or running one over rows that are ahead of
the summary, still leaves the summary the rows describe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.application.alert_projection import ALERTS
from vigil.application.casework_projections import CASES, LABELS
from vigil.application.entity_summary import EntitySummaryRow
from vigil.domain.case import CaseStatus
from vigil.domain.label import SubjectKind
from vigil.infrastructure.read_model.engine import for_reading
from vigil.infrastructure.read_model.tables import alerts, cases, entity_summaries, labels

CHUNK = 500
"""Entities per statement: well inside both databases' limits on bound parameters."""

EntityKey = tuple[str, str, str]
"""(tenant, source, entity id)"""


class SqlEntitySummaries:
    """Implements `EntitySummaries` on the table the entity summary projection maintains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = for_reading(engine)

    async def of(
        self, tenant_id: str, entity_id: str, source: str | None
    ) -> list[EntitySummaryRow]:
        query = select(entity_summaries).where(
            entity_summaries.c.tenant_id == tenant_id, entity_summaries.c.entity_id == entity_id
        )
        if source is not None:
            query = query.where(entity_summaries.c.source == source)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(entity_summaries.c.source))).all()
        return [EntitySummaryRow(**row._asdict()) for row in rows]


async def recompute_entity_summaries(
    connection: AsyncConnection, changed: Mapping[str, Sequence[UUID]]
) -> None:
    """Recomputes the summaries of every entity behind the changed alert, case and label rows."""
    if connection.dialect.name == "postgresql":
        # These statements take hundreds of ids; after five runs PostgreSQL would settle on a
        # generic plan that cannot know how few entities that is, and scan every alert of the
        # tenant (20 times slower here). Planning each run for its own ids costs far less.
        await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    by_tenant: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for tenant_id, source, entity_id in await _entities_behind(connection, changed):
        by_tenant[tenant_id].add((source, entity_id))
    for tenant_id, keys in by_tenant.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), CHUNK):
            summaries = await _summaries(connection, tenant_id, ordered[start : start + CHUNK])
            await connection.execute(_upsert(connection.dialect.name), summaries)


async def _entities_behind(
    connection: AsyncConnection, changed: Mapping[str, Sequence[UUID]]
) -> set[EntityKey]:
    entity = (alerts.c.tenant_id, alerts.c.source, alerts.c.entity_id)
    queries: list[Select[Any]] = []
    if alert_ids := changed.get(ALERTS):
        queries.append(select(*entity).where(alerts.c.id.in_(alert_ids)))
    if case_ids := changed.get(CASES):
        in_case = and_(alerts.c.tenant_id == cases.c.tenant_id, alerts.c.case_id == cases.c.id)
        queries.append(
            select(*entity).join_from(cases, alerts, in_case).where(cases.c.id.in_(case_ids))
        )
    if label_ids := changed.get(LABELS):
        queries.append(
            select(*entity)
            .join_from(labels, alerts, _labels_its_record())
            .where(labels.c.id.in_(label_ids))
        )
        queries.append(
            select(labels.c.tenant_id, labels.c.source, labels.c.subject_id).where(
                labels.c.id.in_(label_ids), labels.c.kind == str(SubjectKind.ENTITY)
            )
        )
    if not queries:
        return set()
    found = await connection.execute(union_all(*queries))
    return {(t, s, e) for t, s, e in found if e is not None}


async def _summaries(
    connection: AsyncConnection, tenant_id: str, keys: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Each (source, entity)'s summary row. The queries name the entities but not the sources,
    so that the entity index is the one that fits them whatever the planner knows of the table;
    another source's entity of the same id is counted apart and left out."""
    entity_ids = sorted({entity_id for _, entity_id in keys})
    of_these = and_(alerts.c.tenant_id == tenant_id, alerts.c.entity_id.in_(entity_ids))
    open_case = case((cases.c.status != str(CaseStatus.CLOSED), cases.c.id))
    alert_totals = (
        select(
            alerts.c.source,
            alerts.c.entity_id,
            func.count(),
            func.count(distinct(open_case)),
            func.max(alerts.c.raised_at),
        )
        .select_from(alerts.outerjoin(cases, alerts.c.case_id == cases.c.id))
        .where(of_these)
        .group_by(alerts.c.source, alerts.c.entity_id)
    )
    counted = {(s, e): (n, o, at) for s, e, n, o, at in await connection.execute(alert_totals)}
    latest = await _latest_labels(connection, tenant_id, entity_ids, of_these)
    return [
        {
            "tenant_id": tenant_id,
            "source": source,
            "entity_id": entity_id,
            **_alert_columns(*counted.get((source, entity_id), (0, 0, None))),
            **_label_columns(*latest.get((source, entity_id), (None, None, None))),
        }
        for source, entity_id in keys
    ]


def _alert_columns(alert_count: int, open_cases: int, last_alert_at: Any) -> dict[str, Any]:
    return {
        "alert_count": alert_count,
        "open_case_count": open_cases,
        "last_alert_at": last_alert_at,
    }


def _label_columns(verdict: str | None, source: str | None, at: Any) -> dict[str, Any]:
    return {"last_verdict": verdict, "last_label_source": source, "last_labelled_at": at}


async def _latest_labels(
    connection: AsyncConnection,
    tenant_id: str,
    entity_ids: list[str],
    of_these: ColumnElement[bool],
) -> dict[tuple[str, str], tuple[str, str, Any]]:
    """The latest standing verdict on each entity or on the record of one of its alerts."""
    verdict = (labels.c.verdict, labels.c.label_source, labels.c.labelled_at, labels.c.id)
    on_records = (
        select(alerts.c.source, alerts.c.entity_id, *verdict)
        .join_from(alerts, labels, _labels_its_record())
        .where(of_these, labels.c.verdict.is_not(None))
    )
    on_entities = select(labels.c.source, labels.c.subject_id, *verdict).where(
        labels.c.tenant_id == tenant_id,
        labels.c.kind == str(SubjectKind.ENTITY),
        labels.c.subject_id.in_(entity_ids),
        labels.c.verdict.is_not(None),
    )
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for source, entity_id, *label in await connection.execute(union_all(on_records, on_entities)):
        known = latest.get((source, entity_id))
        if known is None or (label[2], label[3]) > (known[2], known[3]):
            latest[source, entity_id] = tuple(label)
    return {key: (v, s, at) for key, (v, s, at, _) in latest.items()}


def _labels_its_record() -> ColumnElement[bool]:
    return and_(
        labels.c.tenant_id == alerts.c.tenant_id,
        labels.c.source == alerts.c.source,
        labels.c.kind == literal(str(SubjectKind.RECORD)),
        labels.c.subject_id == alerts.c.record_id,
    )


def _upsert(dialect: str) -> Any:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(entity_summaries)
    keys = [c.name for c in entity_summaries.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={
            c.name: statement.excluded[c.name]
            for c in entity_summaries.columns
            if c.name not in keys
        },
    )
