"""The read-model database engine: asyncpg on PostgreSQL, aiosqlite on the embedded default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_MS = 30_000


def create_read_engine(url: str) -> AsyncEngine:
    """An engine for `url`; on SQLite every connection uses WAL and waits for the writer, on
    PostgreSQL every connection is tried as it leaves the pool."""
    if not url.startswith("sqlite"):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine.pool, "checkout", _ping_postgresql)
        return engine
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
    event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def for_reading(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for read models whose queries need no transaction around them: without
    one, a connection skips the BEGIN and ROLLBACK round trips of every checkout (on PostgreSQL,
    READ COMMITTED gives each statement its own snapshot either way). The pool puts the
    isolation level back when a connection returns, so writers on `engine` keep theirs."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _ping_postgresql(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # What `pool_pre_ping` does, in one round trip instead of its three (it wraps its ping in a
    # transaction, for pgbouncer): a GraphQL request checks out three connections. A dead one
    # raises DisconnectionError, on which the pool discards it and tries a fresh one.
    try:
        dbapi_connection.run_async(lambda driver: driver.fetchval("SELECT 1"))
    except Exception as error:
        raise exc.DisconnectionError(str(error)) from error


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the console read while the projection writes; the busy timeout makes a second
    # writer wait for the first instead of failing; NORMAL sync is safe with WAL and much faster.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
