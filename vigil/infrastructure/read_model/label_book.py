"""The label book on SQLAlchemy: standing verdicts, most recently labelled first."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.label_book import LabelFilter, LabelRow
from vigil.domain.errors import InvalidCommand
from vigil.infrastructure.read_model.engine import for_reading
from vigil.infrastructure.read_model.keyset import MAX_PAGE
from vigil.infrastructure.read_model.tables import labels


class SqlLabelBook:
    """Implements `LabelBook` on the `labels` table that the labels projection maintains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = for_reading(engine)

    async def find(self, where: LabelFilter, first: int) -> list[LabelRow]:
        if not 0 <= first <= MAX_PAGE:
            raise InvalidCommand("first", f"must be between 0 and {MAX_PAGE}")
        query = (
            select(labels)
            .where(*_matching(where))
            .order_by(labels.c.labelled_at.desc(), labels.c.id.desc())
            .limit(first)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [LabelRow(**row._asdict()) for row in rows]

    async def standing(self, tenant_id: str, label_ids: Sequence[UUID]) -> list[LabelRow]:
        query = select(labels).where(
            labels.c.tenant_id == tenant_id,
            labels.c.id.in_(list(label_ids)),
            labels.c.verdict.is_not(None),
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [LabelRow(**row._asdict()) for row in rows]


def _matching(where: LabelFilter) -> list[ColumnElement[bool]]:
    conditions = [labels.c.tenant_id == where.tenant_id, labels.c.verdict.is_not(None)]
    for column, value in (
        (labels.c.source, where.source),
        (labels.c.kind, where.kind),
        (labels.c.subject_id, where.subject_id),
        (labels.c.verdict, where.verdict),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.subject_ids is not None:
        conditions.append(labels.c.subject_id.in_(where.subject_ids))
    return conditions
