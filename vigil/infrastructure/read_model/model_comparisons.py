"""The champion/challenger comparisons on SQLAlchemy: counts added up in place, each SCORED
message once, its stream sequence tracked in the same transaction as the counts it added."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.application.model_scores import Comparison, ComparisonCount
from vigil.infrastructure.read_model.tables import model_comparisons as table
from vigil.infrastructure.read_model.tables import projection_tracking as tracking

TRACKING_NAME = "model_comparisons"
COUNTED = ("scored", "champion_alerts", "shadow_alerts", "both_alerts", "score_gap")


class SqlComparisonBook:
    """Implements `ComparisonBook`. One follower at a time: a message's position is the SCORED
    stream's sequence, and a second follower would apply messages out of order."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def apply(self, counts: Sequence[ComparisonCount], position: int) -> bool:
        async with self.engine.begin() as connection:
            if position <= await self._position(connection):
                return False
            for count in counts:
                await self._add(connection, count)
            await connection.execute(
                update(tracking)
                .where(tracking.c.projection_name == TRACKING_NAME)
                .values(notification_id=position)
            )
        return True

    async def comparisons(self, tenant_id: str, model_line: str) -> list[Comparison]:
        query = (
            select(table)
            .where(table.c.tenant_id == tenant_id, table.c.model_line == model_line)
            .order_by(table.c.shadow_version, table.c.champion_version)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            Comparison(**{k: v for k, v in row._mapping.items() if k != "tenant_id"})
            for row in rows
        ]

    async def _position(self, connection: AsyncConnection) -> int:
        query = select(tracking.c.notification_id).where(
            tracking.c.projection_name == TRACKING_NAME
        )
        found = (await connection.execute(query.with_for_update())).scalar_one_or_none()
        if found is not None:
            return int(found)
        await connection.execute(
            tracking.insert().values(
                projection_name=TRACKING_NAME, application_name="scored", notification_id=0
            )
        )
        return 0

    async def _add(self, connection: AsyncConnection, count: ComparisonCount) -> None:
        values = {column: getattr(count, column) for column in ("tenant_id", "model_line")}
        values |= {"champion_version": count.champion_version}
        values |= {"shadow_version": count.shadow_version}
        values |= {column: getattr(count, column) for column in COUNTED}
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table).values(**values)
        added = {column: table.c[column] + insert.excluded[column] for column in COUNTED}
        await connection.execute(
            insert.on_conflict_do_update(index_elements=list(table.primary_key), set_=added)
        )
