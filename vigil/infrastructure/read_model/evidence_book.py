"""The evidence read model on SQLAlchemy: comments and case files, one subject at a time."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.evidence import CaseFileRow, CommentRow
from vigil.infrastructure.read_model.tables import case_files, comments


class SqlEvidenceBook:
    """Implements `EvidenceBook` on the tables the comment and case file projections keep."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def comments(self, tenant_id: str, subject_ids: Sequence[UUID]) -> list[CommentRow]:
        query = (
            select(comments)
            .where(comments.c.tenant_id == tenant_id, comments.c.subject_id.in_(list(subject_ids)))
            .order_by(comments.c.at, comments.c.version)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [CommentRow(**row._asdict()) for row in rows]

    async def case_files(self, tenant_id: str, case_ids: Sequence[UUID]) -> list[CaseFileRow]:
        query = (
            select(case_files)
            .where(case_files.c.tenant_id == tenant_id, case_files.c.case_id.in_(list(case_ids)))
            .order_by(case_files.c.attached_at, case_files.c.sha256)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [CaseFileRow(**row._asdict()) for row in rows]
