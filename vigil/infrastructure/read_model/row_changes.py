"""Writes a batch of projection row changes in a few statements instead of one per event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, Update

from vigil.application.entity_summary_projection import ENTITY_SUMMARIES
from vigil.application.projection import Recompute, RowChange, RowInsert, RowUpdate
from vigil.infrastructure.read_model.entity_summary import recompute_entity_summaries
from vigil.infrastructure.read_model.tables import TABLES

UpdateShape = tuple[str, tuple[str, ...], tuple[str, ...]]

Recomputation = Callable[[AsyncConnection, Mapping[str, Sequence[UUID]]], Awaitable[None]]

RECOMPUTATIONS: dict[str, Recomputation] = {ENTITY_SUMMARIES: recompute_entity_summaries}
"""How each table of rows derived from other rows is computed again, given the rows that changed."""


async def write_row_changes(connection: AsyncConnection, changes: Sequence[RowChange]) -> None:
    """Writes squashed changes (at most one per row), so their order across rows is free; rows
    derived from others are recomputed last, from the rows as this batch leaves them."""
    inserts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    updates: dict[UpdateShape, list[dict[str, Any]]] = defaultdict(list)
    recomputations: dict[str, dict[str, list[UUID]]] = defaultdict(lambda: defaultdict(list))
    for change in changes:
        if isinstance(change, RowInsert):
            inserts[change.table].append(
                {**change.values, "id": change.key, "version": change.version}
            )
        elif isinstance(change, Recompute):
            recomputations[change.table][change.of].append(change.key)
        else:
            updates[_shape(change)].append(_update_parameters(change))
    dialect = connection.dialect.name
    for table_name, rows in inserts.items():
        await connection.execute(_insert_unless_newer(TABLES[table_name], dialect), rows)
    for shape, parameters in updates.items():
        await connection.execute(_update_if_older(shape), parameters)
    for table_name, changed in recomputations.items():
        await RECOMPUTATIONS[table_name](connection, changed)


def _insert_unless_newer(table: Table, dialect: str) -> Insert:
    """Insert, or overwrite a row that is older: replaying a batch leaves the newest state."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    columns = {c.name: statement.excluded[c.name] for c in table.columns if not c.primary_key}
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_=columns,
        where=table.c.version < statement.excluded.version,
    )


def _shape(change: RowUpdate) -> UpdateShape:
    return change.table, tuple(sorted(change.values)), tuple(sorted(change.increments))


def _update_parameters(change: RowUpdate) -> dict[str, Any]:
    parameters = {"key": change.key, "since": change.since, "to_version": change.version}
    parameters.update({f"set_{column}": value for column, value in change.values.items()})
    parameters.update({f"add_{column}": step for column, step in change.increments.items()})
    return parameters


def _update_if_older(shape: UpdateShape) -> Update:
    table_name, set_columns, added_columns = shape
    table = TABLES[table_name]
    values: dict[str, Any] = {column: bindparam(f"set_{column}") for column in set_columns}
    values.update(
        {column: table.c[column] + bindparam(f"add_{column}") for column in added_columns}
    )
    values["version"] = bindparam("to_version")
    return (
        update(table)
        .where(table.c.id == bindparam("key"), table.c.version < bindparam("since"))
        .values(values)
    )
