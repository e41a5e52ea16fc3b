"""The source catalogue on SQLAlchemy: one `data_sources` row per source."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.source_catalogue import SourceRow
from vigil.infrastructure.read_model.tables import data_sources


class SqlSourceCatalogue:
    """Implements `SourceCatalogue`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def sources(self, tenant_id: str) -> list[SourceRow]:
        columns = [column for column in data_sources.c if column.name not in ("id", "version")]
        query = (
            select(*columns)
            .where(data_sources.c.tenant_id == tenant_id)
            .order_by(data_sources.c.name)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [SourceRow(**row._mapping) for row in rows]
