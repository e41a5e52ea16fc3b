"""The alert queue read model on SQLAlchemy: keyset pages, newest first, one tenant at a time."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.alert_queue import AlertPage, AlertQueueFilter, AlertRow
from vigil.domain.errors import InvalidCommand
from vigil.infrastructure.read_model.tables import alerts

MAX_PAGE = 500


class SqlAlertQueue:
    """Implements `AlertQueue` on the `alerts` table that the alert queue projection maintains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def page(self, where: AlertQueueFilter, first: int, after: str | None) -> AlertPage:
        if not 0 <= first <= MAX_PAGE:
            raise InvalidCommand("first", f"must be between 0 and {MAX_PAGE}")
        matching = _matching(where)
        rows_query = select(alerts).where(*matching)
        if after is not None:
            raised_at, alert_id = decode_cursor(after)
            rows_query = rows_query.where(
                tuple_(alerts.c.raised_at, alerts.c.id) < _position(raised_at, alert_id)
            )
        # One row more than asked for says whether there is a next page without a second query.
        rows_query = rows_query.order_by(alerts.c.raised_at.desc(), alerts.c.id.desc())
        count_query = select(func.count()).select_from(alerts).where(*matching)
        async with self.engine.connect() as connection:
            fetched = (await connection.execute(rows_query.limit(first + 1))).all()
            total = (await connection.execute(count_query)).scalar_one()
        rows = [_alert_row(row) for row in fetched[:first]]
        cursors = [encode_cursor(row.raised_at, row.id) for row in rows]
        return AlertPage(rows, cursors, total, has_next_page=len(fetched) > first)

    async def get(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        query = select(alerts).where(alerts.c.id == alert_id, alerts.c.tenant_id == tenant_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _alert_row(row)


def encode_cursor(raised_at: datetime, alert_id: UUID) -> str:
    """An opaque position in the queue: a row's (raised_at, id), keyset order."""
    position = json.dumps([raised_at.isoformat(), alert_id.hex], separators=(",", ":"))
    return base64.urlsafe_b64encode(position.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raised_at, alert_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        position = datetime.fromisoformat(raised_at), UUID(hex=alert_id)
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise InvalidCommand("after", "is not a cursor this queue handed out") from None
    if position[0].tzinfo is None:
        raise InvalidCommand("after", "is not a cursor this queue handed out")
    return position


def _matching(where: AlertQueueFilter) -> list[ColumnElement[bool]]:
    conditions = [alerts.c.tenant_id == where.tenant_id]
    if where.status is not None:
        conditions.append(alerts.c.status == where.status)
    if where.severity is not None:
        conditions.append(alerts.c.severity == where.severity)
    if where.source is not None:
        conditions.append(alerts.c.source == where.source)
    return conditions


def _position(raised_at: datetime, alert_id: UUID) -> ColumnElement[Any]:
    # Typed like the columns, so SQLite compares UTC text with UTC text and hex with hex.
    return tuple_(literal(raised_at, alerts.c.raised_at.type), literal(alert_id, alerts.c.id.type))


def _alert_row(row: Row[Any]) -> AlertRow:
    return AlertRow(**row._asdict())
