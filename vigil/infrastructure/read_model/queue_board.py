"""The queue board on SQLAlchemy: queues from the `queues` table, their waiting items from the
alert queue and case list tables, which carry everything a queue's criteria match on."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, Row, Table, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.queues import QueueRow, QueueStats, WaitingItem
from vigil.domain.alert import AlertStatus
from vigil.domain.case import CaseStatus
from vigil.domain.queue import Assignment, QueueCriteria, QueueKind
from vigil.infrastructure.read_model.tables import alerts, cases, queues
from vigil.infrastructure.read_model.tags import holds_any

_OPEN_ALERTS = (str(AlertStatus.OPEN), str(AlertStatus.ACKNOWLEDGED))


class SqlQueueBoard:
    """Implements `QueueBoard`; an item waits while it is open, unassigned and matches."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def queues(self, tenant_id: str | None) -> list[QueueRow]:
        query = select(queues).order_by(queues.c.tenant_id, queues.c.name)
        if tenant_id is not None:
            query = query.where(queues.c.tenant_id == tenant_id)
        async with self.engine.connect() as connection:
            return [_queue_row(row) for row in (await connection.execute(query)).all()]

    async def get(self, tenant_id: str, queue_id: UUID) -> QueueRow | None:
        query = select(queues).where(queues.c.id == queue_id, queues.c.tenant_id == tenant_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _queue_row(row)

    async def waiting(self, queue: QueueRow, limit: int) -> list[WaitingItem]:
        table, since, matching = _waiting_in(queue, self.engine.dialect.name)
        query = select(table.c.id, since).where(*matching).order_by(since, table.c.id).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [WaitingItem(row.id, row[1]) for row in rows]

    async def stats(self, queue: QueueRow, now: datetime) -> QueueStats:
        table, since, matching = _waiting_in(queue, self.engine.dialect.name)
        cutoff = now - timedelta(minutes=queue.sla_minutes)
        query = (
            select(
                func.count(),
                func.coalesce(func.sum(case((since < cutoff, 1), else_=0)), 0),
                # Typed like the column, so SQLite's text comes back a UTC datetime too.
                type_coerce(func.min(since), since.type),
            )
            .select_from(table)
            .where(*matching)
        )
        async with self.engine.connect() as connection:
            waiting, overdue, oldest = (await connection.execute(query)).one()
        return QueueStats(int(waiting), int(overdue), oldest)

    async def workloads(self, tenant_id: str, members: tuple[str, ...]) -> dict[str, int]:
        held: Counter[str] = Counter()
        open_alerts = alerts.c.status.in_(_OPEN_ALERTS)
        open_cases = cases.c.status != str(CaseStatus.CLOSED)
        async with self.engine.connect() as connection:
            for table, still_open in ((alerts, open_alerts), (cases, open_cases)):
                query = (
                    select(table.c.assignee, func.count())
                    .where(table.c.tenant_id == tenant_id, table.c.assignee.in_(members))
                    .where(still_open)
                    .group_by(table.c.assignee)
                )
                held.update({who: n for who, n in (await connection.execute(query)).all()})
        return {member: held[member] for member in members}


def _waiting_in(
    queue: QueueRow, dialect: str
) -> tuple[Table, Column[Any], list[ColumnElement[bool]]]:
    criteria = queue.criteria
    if queue.kind is QueueKind.ALERTS:
        matching = [alerts.c.tenant_id == queue.tenant_id, alerts.c.status.in_(_OPEN_ALERTS)]
        matching.append(alerts.c.assignee.is_(None))
        for column, allowed in (
            (alerts.c.severity, criteria.severities),
            (alerts.c.source, criteria.sources),
            (alerts.c.model_line, criteria.model_lines),
        ):
            if allowed:
                matching.append(column.in_(allowed))
        if criteria.rules:
            matching.append(holds_any(alerts.c.rule_hits, criteria.rules, dialect))
        return alerts, alerts.c.raised_at, matching
    matching = [
        cases.c.tenant_id == queue.tenant_id,
        cases.c.status != str(CaseStatus.CLOSED),
        cases.c.assignee.is_(None),
    ]
    if criteria.priorities:
        matching.append(cases.c.priority.in_(criteria.priorities))
    return cases, cases.c.opened_at, matching


def _queue_row(row: Row[Any]) -> QueueRow:
    return QueueRow(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        kind=QueueKind(row.kind),
        criteria=QueueCriteria.from_lists(row.criteria),
        sla_minutes=row.sla_minutes,
        assignment=Assignment(row.assignment),
        members=tuple(row.members),
        retired=row.retired,
    )
