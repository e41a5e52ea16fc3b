"""Alembic environment for the read model; works on sqlite+aiosqlite and postgresql+asyncpg.

The database comes from, in order: a connection handed over by `vigil.infrastructure.read_model.
migrate`, `alembic -x url=...`, the `url` attribute of the config, or Vigil's settings (`VIGIL_*`).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text

from vigil.infrastructure.read_model.alert_counts import keep_alert_counts
from vigil.infrastructure.read_model.engine import create_read_engine
from vigil.infrastructure.read_model.tables import metadata
from vigil.infrastructure.settings import StorageSettings

# Any fixed number will do: it only has to be the same for every Vigil process.
MIGRATION_LOCK = 7_317_001


def read_model_url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url")
    return given or context.config.attributes.get("url") or StorageSettings().read_model_url()


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two workers starting together would otherwise both create the tables.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()
        # A batch migration on SQLite recreates a table without its triggers.
        keep_alert_counts(connection)


async def run_with_own_engine() -> None:
    engine = create_read_engine(read_model_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=read_model_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (handed_over := context.config.attributes.get("connection")) is not None:
    run_on(handed_over)
else:
    asyncio.run(run_with_own_engine())
