"""Keyset pages over a read-model table in a chosen order, with opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, Row, Select, Table, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.domain.errors import InvalidCommand

MAX_PAGE = 500


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Row[Any]]
    cursors: list[str]
    total: int
    has_next_page: bool


@dataclass(frozen=True)
class Ordering:
    """A list's order: by one column, then by id in the same direction, so it is total."""

    column: Column[Any]
    descending: bool = True


async def keyset_page(
    engine: AsyncEngine,
    table: Table,
    order: Ordering,
    matching: list[ColumnElement[bool]],
    first: int,
    after: str | None,
    count_query: Select[int] | None = None,
) -> KeysetPage:
    """Rows matching the filter after the cursor, with every row's own cursor and the total,
    which `count_query` gives when the caller knows a cheaper way than counting the rows."""
    if not 0 <= first <= MAX_PAGE:
        raise InvalidCommand("first", f"must be between 0 and {MAX_PAGE}")
    by, key = order.column, table.c.id
    rows_query = select(table).where(*matching)
    if after is not None:
        value, after_id = decode_cursor(after, order)
        # Typed like the columns, so SQLite compares UTC text with UTC text and hex with hex.
        position = tuple_(literal(value, by.type), literal(after_id, key.type))
        beyond = tuple_(by, key) < position if order.descending else tuple_(by, key) > position
        rows_query = rows_query.where(beyond)
    sort = (by.desc(), key.desc()) if order.descending else (by.asc(), key.asc())
    # One row more than asked for says whether there is a next page without a second query.
    rows_query = rows_query.order_by(*sort).limit(first + 1)
    if count_query is None:
        count_query = select(func.count()).select_from(table).where(*matching)
    async with engine.connect() as connection:
        fetched = (await connection.execute(rows_query)).all()
        total = (await connection.execute(count_query)).scalar_one()
    rows = list(fetched[:first])
    cursors = [encode_cursor(order, row._mapping[by.name], row.id) for row in rows]
    return KeysetPage(rows, cursors, total, has_next_page=len(fetched) > first)


def encode_cursor(order: Ordering, value: datetime | float, key: UUID) -> str:
    """An opaque position in a list: the order it belongs to, and a row's (value, id)."""
    shown = value.isoformat() if isinstance(value, datetime) else value
    position = json.dumps([order.column.name, shown, key.hex], separators=(",", ":"))
    return base64.urlsafe_b64encode(position.encode()).decode()


def decode_cursor(cursor: str, order: Ordering) -> tuple[datetime | float, UUID]:
    """The (value, id) a cursor of this order names; a cursor of another order is refused,
    since its position means nothing in this one."""
    try:
        name, shown, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        value = _value_of(order, shown)
        position = value, UUID(hex=key)
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise InvalidCommand("after", "is not a cursor this list handed out") from None
    if name != order.column.name:
        raise InvalidCommand("after", f"is a cursor of the list ordered by {name}")
    return position


def _value_of(order: Ordering, shown: object) -> datetime | float:
    if order.column.type.python_type is datetime:
        if not isinstance(shown, str):
            raise TypeError(shown)
        at = datetime.fromisoformat(shown)
        if at.tzinfo is None:
            raise ValueError(shown)
        return at
    if isinstance(shown, bool) or not isinstance(shown, int | float):
        raise TypeError(shown)
    return float(shown)
