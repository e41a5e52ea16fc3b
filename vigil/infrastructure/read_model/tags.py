"""Matching tags (or any names) in a JSON list column, in each database's own way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, cast, column, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB


def has_tag(tags: Column[Any], tag: str, dialect: str) -> ColumnElement[bool]:
    """Rows whose `tags` list holds `tag`: JSONB containment on PostgreSQL, `json_each` on
    SQLite, whose JSON functions are built in."""
    if dialect == "postgresql":
        return cast(tags, JSONB).contains([tag])
    listed = func.json_each(tags).table_valued("value")
    return exists(select(1).select_from(listed).where(column("value") == tag))


def holds_any(names: Column[Any], wanted: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """Rows whose `names` list holds at least one of `wanted`."""
    return or_(*(has_tag(names, name, dialect) for name in wanted))
