"""The alert queue read model on SQLAlchemy: keyset pages, newest first, one tenant at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, ColumnElement, Row, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.alert_queue import AlertOrder, AlertPage, AlertQueueFilter, AlertRow
from vigil.infrastructure.read_model.engine import for_reading
from vigil.infrastructure.read_model.keyset import Ordering, keyset_page
from vigil.infrastructure.read_model.tables import alert_counts, alerts
from vigil.infrastructure.read_model.tags import has_tag

ALERT_ORDERS = {
    AlertOrder.NEWEST: Ordering(alerts.c.raised_at),
    AlertOrder.OLDEST: Ordering(alerts.c.raised_at, descending=False),
    AlertOrder.HIGHEST_SCORE: Ordering(alerts.c.score),
    AlertOrder.RECENTLY_UPDATED: Ordering(alerts.c.updated_at),
}


class SqlAlertQueue:
    """Implements `AlertQueue` on the `alerts` table that the alert queue projection maintains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = for_reading(engine)

    async def page(
        self,
        where: AlertQueueFilter,
        first: int,
        after: str | None,
        order: AlertOrder = AlertOrder.NEWEST,
    ) -> AlertPage:
        found = await keyset_page(
            self.engine,
            alerts,
            ALERT_ORDERS[order],
            _matching(where, self.engine.dialect.name),
            first,
            after,
            count_query=_maintained_count(where),
        )
        rows = [_alert_row(row) for row in found.rows]
        return AlertPage(rows, found.cursors, found.total, found.has_next_page)

    async def status_counts(self, where: AlertQueueFilter) -> dict[str, int]:
        any_status = replace(where, status=None)
        if _counted_by_status(any_status):
            query = select(alert_counts.c.status, alert_counts.c.alert_count).where(
                alert_counts.c.tenant_id == where.tenant_id
            )
        else:
            query = (
                select(alerts.c.status, func.count())
                .where(*_matching(any_status, self.engine.dialect.name))
                .group_by(alerts.c.status)
            )
        async with self.engine.connect() as connection:
            counted = (await connection.execute(query)).all()
        return {status: int(count) for status, count in counted if count}

    async def in_cases(self, tenant_id: str, case_ids: Sequence[UUID]) -> list[AlertRow]:
        query = (
            select(alerts)
            .where(alerts.c.tenant_id == tenant_id, alerts.c.case_id.in_(list(case_ids)))
            .order_by(alerts.c.raised_at.desc(), alerts.c.id.desc())
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_alert_row(row) for row in rows]

    async def get(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        query = select(alerts).where(alerts.c.id == alert_id, alerts.c.tenant_id == tenant_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _alert_row(row)


def _matching(where: AlertQueueFilter, dialect: str) -> list[ColumnElement[bool]]:
    conditions = [alerts.c.tenant_id == where.tenant_id]
    for column, value in (
        (alerts.c.status, where.status),
        (alerts.c.severity, where.severity),
        (alerts.c.source, where.source),
        (alerts.c.case_id, where.case_id),
        (alerts.c.assignee, where.assignee),
        (alerts.c.entity_id, where.entity_id),
        (alerts.c.model_version, where.model_version),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.min_score is not None:
        conditions.append(alerts.c.score >= where.min_score)
    if where.max_score is not None:
        conditions.append(alerts.c.score <= where.max_score)
    if where.raised_from is not None:
        conditions.append(alerts.c.raised_at >= where.raised_from)
    if where.raised_until is not None:
        conditions.append(alerts.c.raised_at < where.raised_until)
    if where.tag is not None:
        conditions.append(has_tag(alerts.c.tags, where.tag, dialect))
    return conditions


def _counted_by_status(where: AlertQueueFilter) -> bool:
    """Whether the filter names nothing but the tenant and a status, which `alert_counts` keeps."""
    return where == AlertQueueFilter(where.tenant_id, status=where.status)


def _maintained_count(where: AlertQueueFilter) -> Select[int] | None:
    """The filter's total from `alert_counts` where it has one, else None (count the rows)."""
    if not _counted_by_status(where):
        return None
    # PostgreSQL sums bigints into numeric; the total is a plain integer.
    total = cast(func.coalesce(func.sum(alert_counts.c.alert_count), 0), BigInteger)
    query = select(total).where(alert_counts.c.tenant_id == where.tenant_id)
    if where.status is not None:
        query = query.where(alert_counts.c.status == where.status)
    return query


def _alert_row(row: Row[Any]) -> AlertRow:
    return AlertRow(**row._asdict())
