"""Keyset pages over a read-model table, newest first by (time, id), with opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, Row, Table, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.domain.errors import InvalidCommand

MAX_PAGE = 500


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Row[Any]]
    cursors: list[str]
    total: int
    has_next_page: bool


async def keyset_page(
    engine: AsyncEngine,
    table: Table,
    newest_first_by: Column[datetime],
    matching: list[ColumnElement[bool]],
    first: int,
    after: str | None,
) -> KeysetPage:
    """Rows matching the filter after the cursor, with every row's own cursor and the total."""
    if not 0 <= first <= MAX_PAGE:
        raise InvalidCommand("first", f"must be between 0 and {MAX_PAGE}")
    rows_query = select(table).where(*matching)
    if after is not None:
        at, key = decode_cursor(after)
        # Typed like the columns, so SQLite compares UTC text with UTC text and hex with hex.
        position = tuple_(literal(at, newest_first_by.type), literal(key, table.c.id.type))
        rows_query = rows_query.where(tuple_(newest_first_by, table.c.id) < position)
    # One row more than asked for says whether there is a next page without a second query.
    rows_query = rows_query.order_by(newest_first_by.desc(), table.c.id.desc()).limit(first + 1)
    count_query = select(func.count()).select_from(table).where(*matching)
    async with engine.connect() as connection:
        fetched = (await connection.execute(rows_query)).all()
        total = (await connection.execute(count_query)).scalar_one()
    rows = list(fetched[:first])
    cursors = [encode_cursor(row._mapping[newest_first_by.name], row.id) for row in rows]
    return KeysetPage(rows, cursors, total, has_next_page=len(fetched) > first)


def encode_cursor(at: datetime, key: UUID) -> str:
    """An opaque position in a list: a row's (time, id), keyset order."""
    position = json.dumps([at.isoformat(), key.hex], separators=(",", ":"))
    return base64.urlsafe_b64encode(position.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        position = datetime.fromisoformat(at), UUID(hex=key)
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise InvalidCommand("after", "is not a cursor this list handed out") from None
    if position[0].tzinfo is None:
        raise InvalidCommand("after", "is not a cursor this list handed out")
    return position
