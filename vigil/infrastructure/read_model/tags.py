"""Matching a tag in a JSON list column, in each database's own way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, cast, column, exists, func, select
from sqlalchemy.dialects.postgresql import JSONB


def has_tag(tags: Column[Any], tag: str, dialect: str) -> ColumnElement[bool]:
    """Rows whose `tags` list holds `tag`: JSONB containment on PostgreSQL, `json_each` on
    SQLite, whose JSON functions are built in."""
    if dialect == "postgresql":
        return cast(tags, JSONB).contains([tag])
    listed = func.json_each(tags).table_valued("value")
    return exists(select(1).select_from(listed).where(column("value") == tag))
