"""Maintained alert counts per tenant and status, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from vigil.application.alert_queue import AlertQueueFilter
from vigil.application.casework import Casework
from vigil.domain.alert import Severity
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.read_model.alert_queue import SqlAlertQueue
from vigil.infrastructure.read_model.tables import alert_counts, alerts, projection_tracking

Project = Callable[[], Awaitable[None]]


def work_the_queue(desk: Casework) -> None:
    """Six alerts of acme in every status, two of globex, the statuses moved back and forth."""
    ours = detections(4) + detections(2, start=4, severity=Severity.CRITICAL)
    desk.raise_alerts(ours)
    desk.raise_alerts(detections(2, start=10, tenant_id="globex"))
    ids = [d.alert_id for d in ours]
    desk.acknowledge("acme", ids[0], "ann")
    desk.dismiss("acme", ids[1], "ann", "known merchant")
    desk.resolve("acme", ids[2], "ann", "refund issued")
    desk.reopen("acme", ids[2], "bob", "disputed again")
    desk.resolve("acme", ids[4], "ann", "card blocked")


async def maintained(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(alert_counts))
        return {(t, s): n for t, s, n in rows if n}


async def counted(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    query = select(alerts.c.tenant_id, alerts.c.status, func.count()).group_by(
        alerts.c.tenant_id, alerts.c.status
    )
    async with engine.connect() as connection:
        return {(t, s): n for t, s, n in await connection.execute(query)}


async def test_the_counts_follow_every_status_an_alert_moves_through(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    work_the_queue(desk)
    await project()

    assert await maintained(read_engine) == {
        ("acme", "open"): 3,
        ("acme", "acknowledged"): 1,
        ("acme", "dismissed"): 1,
        ("acme", "resolved"): 1,
        ("globex", "open"): 2,
    }
    assert await maintained(read_engine) == await counted(read_engine)


async def test_reapplying_events_the_rows_have_seen_counts_nothing_twice(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    work_the_queue(desk)
    await project()
    before = await maintained(read_engine)
    async with read_engine.begin() as connection:
        # The positions are lost but the rows kept: every event comes again, and the version
        # guards turn each into a no-op, so no trigger fires.
        await connection.execute(delete(projection_tracking))

    await project()

    assert await maintained(read_engine) == before


async def test_a_replay_into_empty_tables_counts_from_zero(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    work_the_queue(desk)
    await project()
    before = await maintained(read_engine)
    async with read_engine.begin() as connection:
        await connection.execute(delete(alerts))
        await connection.execute(delete(projection_tracking))
    assert await maintained(read_engine) == {}

    await project()

    assert await maintained(read_engine) == before


async def test_a_migration_that_loses_the_triggers_gets_them_back_and_recounts(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    work_the_queue(desk)
    await project()
    on_alerts = "" if read_engine.dialect.name == "sqlite" else " ON alerts"
    async with read_engine.begin() as connection:
        # What SQLite does to the triggers when a batch migration recreates the table.
        await connection.execute(text(f"DROP TRIGGER alert_counts_on_update{on_alerts}"))
    desk.dismiss("acme", detections(1, start=3)[0].alert_id, "ann", "test transaction")
    await project()
    assert await maintained(read_engine) != await counted(read_engine)

    await migrate.upgrade(read_engine)

    assert await maintained(read_engine) == await counted(read_engine)
    desk.dismiss("acme", detections(1, start=5)[0].alert_id, "ann", "test transaction")
    await project()
    assert await maintained(read_engine) == await counted(read_engine)


@contextmanager
def statements_on(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", remember)


async def test_a_page_filtered_by_status_alone_takes_its_total_from_the_counts(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    work_the_queue(desk)
    await project()
    queue = SqlAlertQueue(read_engine)

    with statements_on(read_engine) as seen:
        everything = await queue.page(AlertQueueFilter("acme"), 2, None)
        open_ones = await queue.page(AlertQueueFilter("acme", status="open"), 2, None)

    assert (everything.total, open_ones.total) == (6, 3)
    rows, totals = seen[0::2], seen[1::2]  # each page reads its rows, then its total
    assert len(seen) == 4
    assert all("alert_counts" in s and "count(*)" not in s for s in totals)
    assert all("alert_counts" not in s for s in rows)
    critical = await queue.page(
        AlertQueueFilter("acme", status="open", severity="critical"), 2, None
    )
    assert critical.total == 1


async def test_the_status_tabs_count_each_status_in_one_query_under_any_filter(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    work_the_queue(desk)
    await project()
    queue = SqlAlertQueue(read_engine)

    with statements_on(read_engine) as seen:
        tabs = await queue.status_counts(AlertQueueFilter("acme", status="dismissed"))
    critical = await queue.status_counts(AlertQueueFilter("acme", severity="critical"))

    assert tabs == {"open": 3, "acknowledged": 1, "dismissed": 1, "resolved": 1}
    assert len(seen) == 1
    assert "alert_counts" in seen[0]
    assert critical == {"open": 1, "resolved": 1}
