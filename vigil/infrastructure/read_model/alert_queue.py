"""The alert queue read model on SQLAlchemy: keyset pages, newest first, one tenant at a time."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.alert_queue import AlertPage, AlertQueueFilter, AlertRow
from vigil.infrastructure.read_model.keyset import keyset_page
from vigil.infrastructure.read_model.tables import alerts


class SqlAlertQueue:
    """Implements `AlertQueue` on the `alerts` table that the alert queue projection maintains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def page(self, where: AlertQueueFilter, first: int, after: str | None) -> AlertPage:
        found = await keyset_page(
            self.engine, alerts, alerts.c.raised_at, _matching(where), first, after
        )
        rows = [_alert_row(row) for row in found.rows]
        return AlertPage(rows, found.cursors, found.total, found.has_next_page)

    async def get(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        query = select(alerts).where(alerts.c.id == alert_id, alerts.c.tenant_id == tenant_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _alert_row(row)


def _matching(where: AlertQueueFilter) -> list[ColumnElement[bool]]:
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
    return conditions


def _alert_row(row: Row[Any]) -> AlertRow:
    return AlertRow(**row._asdict())
