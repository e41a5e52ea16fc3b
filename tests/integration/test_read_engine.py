"""The read-model engine on PostgreSQL: a connection that died in the pool is never handed out."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from vigil.infrastructure.read_model.engine import create_read_engine


@pytest.mark.postgres
async def test_a_pooled_connection_the_server_closed_is_replaced_before_a_query_uses_it(
    postgres_url: str,
) -> None:
    engine = create_read_engine(postgres_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as connection:
            pooled = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pooled,))

        async with engine.connect() as connection:
            fresh = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        assert fresh != pooled
        assert engine.sync_engine.pool.checkedin() == 1  # the dead one was dropped, not kept
    finally:
        await engine.dispose()
