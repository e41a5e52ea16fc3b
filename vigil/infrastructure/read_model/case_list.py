"""The case list read model on SQLAlchemy: keyset pages, newest first, one tenant at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.case_list import CaseListFilter, CaseOrder, CasePage, CaseRow
from vigil.domain.case import CaseStatus
from vigil.infrastructure.read_model.engine import for_reading
from vigil.infrastructure.read_model.keyset import Ordering, keyset_page
from vigil.infrastructure.read_model.tables import cases
from vigil.infrastructure.read_model.tags import has_tag

CASE_ORDERS = {
    CaseOrder.NEWEST: Ordering(cases.c.opened_at),
    CaseOrder.OLDEST: Ordering(cases.c.opened_at, descending=False),
    CaseOrder.DUE_SOONEST: Ordering(cases.c.due_at, descending=False),
    CaseOrder.RECENTLY_UPDATED: Ordering(cases.c.updated_at),
}


class SqlCaseList:
    """Implements `CaseList` on the `cases` table that the case list projection maintains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = for_reading(engine)

    async def page(
        self,
        where: CaseListFilter,
        first: int,
        after: str | None,
        order: CaseOrder = CaseOrder.NEWEST,
    ) -> CasePage:
        matching = _matching(where, self.engine.dialect.name)
        found = await keyset_page(self.engine, cases, CASE_ORDERS[order], matching, first, after)
        rows = [CaseRow(**row._asdict()) for row in found.rows]
        return CasePage(rows, found.cursors, found.total, found.has_next_page)

    async def get(self, tenant_id: str, case_id: UUID) -> CaseRow | None:
        query = select(cases).where(cases.c.id == case_id, cases.c.tenant_id == tenant_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else CaseRow(**row._asdict())

    async def get_many(self, tenant_id: str, case_ids: Sequence[UUID]) -> list[CaseRow]:
        query = (
            select(cases)
            .where(cases.c.tenant_id == tenant_id, cases.c.id.in_(list(case_ids)))
            .order_by(cases.c.opened_at.desc(), cases.c.id.desc())
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [CaseRow(**row._asdict()) for row in rows]

    async def overdue(self, now: datetime, limit: int) -> list[CaseRow]:
        query = (
            select(cases)
            .where(
                cases.c.status != str(CaseStatus.CLOSED),
                cases.c.due_at <= now,
                cases.c.sla_breached.is_(False),
            )
            .order_by(cases.c.due_at)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [CaseRow(**row._asdict()) for row in rows]


def _matching(where: CaseListFilter, dialect: str) -> list[ColumnElement[bool]]:
    conditions = [cases.c.tenant_id == where.tenant_id]
    for column, value in (
        (cases.c.status, where.status),
        (cases.c.assignee, where.assignee),
        (cases.c.priority, where.priority),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.tag is not None:
        conditions.append(has_tag(cases.c.tags, where.tag, dialect))
    return conditions
