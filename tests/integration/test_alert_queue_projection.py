"""The alert queue projection on SQLite and PostgreSQL: rows, restarts, pages and tenants."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from vigil.application.alert_desk import AlertDesk
from vigil.application.alert_projection import AlertQueueProjection
from vigil.application.alert_queue import AlertQueueFilter
from vigil.application.projection import RowChange, RowUpdate
from vigil.bootstrap import (
    build_read_engine,
    build_read_models,
    run_projection_worker,
)
from vigil.domain.alert import Severity
from vigil.domain.errors import InvalidCommand
from vigil.infrastructure.projection_runner import ProjectionRunner
from vigil.infrastructure.read_model.alert_queue import SqlAlertQueue
from vigil.infrastructure.read_model.tables import alerts, metadata
from vigil.infrastructure.settings import Settings


@pytest.fixture
def queue(read_engine: AsyncEngine) -> SqlAlertQueue:
    return SqlAlertQueue(read_engine)


def runner_for(
    desk: AlertDesk, read_engine: AsyncEngine, batch_size: int = 500
) -> ProjectionRunner:
    return ProjectionRunner(desk, read_engine, [AlertQueueProjection()], batch_size=batch_size)


async def row_count(read_engine: AsyncEngine) -> int:
    async with read_engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(alerts))).scalar_one()


async def test_each_alert_appears_once_as_its_latest_events_left_it(
    desk: AlertDesk, read_engine: AsyncEngine, queue: SqlAlertQueue
) -> None:
    first, second, third = (d.alert_id for d in detections(3))
    desk.raise_alerts(detections(3))
    desk.acknowledge("acme", first, "ann")
    desk.assign("acme", second, "ann", "bob")
    desk.comment("acme", second, "bob", "calling the customer")
    desk.comment("acme", second, "bob", "no answer")
    desk.escalate("acme", second, "bob", "amount over limit")
    desk.resolve("acme", third, "ann", "refund issued")
    desk.reopen("acme", third, "carol", "customer disputes again")

    assert await runner_for(desk, read_engine).catch_up() == 10

    acknowledged, worked_on, reopened = [await queue.get("acme", i) for i in (first, second, third)]
    assert acknowledged is not None
    assert acknowledged.status == "acknowledged"
    assert worked_on is not None
    assert (worked_on.assignee, worked_on.comment_count) == ("bob", 2)
    assert worked_on.escalation_level == 1
    assert worked_on.updated_at > worked_on.raised_at
    assert worked_on.version == desk.get_alert("acme", second).version
    assert reopened is not None
    assert (reopened.status, reopened.version) == ("open", 3)
    assert reopened.raised_at.tzinfo is not None
    assert await row_count(read_engine) == 3


async def test_a_restarted_projection_neither_duplicates_nor_skips(
    desk: AlertDesk, read_engine: AsyncEngine, queue: SqlAlertQueue
) -> None:
    desk.raise_alerts(detections(20))
    stopped = runner_for(desk, read_engine, batch_size=7)
    first_part = await stopped.apply_next_batch() + await stopped.apply_next_batch()
    del stopped
    desk.raise_alerts(detections(10, start=20))
    for alert in detections(5, start=10):
        desk.dismiss("acme", alert.alert_id, "ann", "known merchant")

    rest = await runner_for(desk, read_engine, batch_size=7).catch_up()

    last_notification = desk.recorder.max_notification_id()
    assert first_part + rest == last_notification == 35
    assert await runner_for(desk, read_engine).position() == last_notification
    assert await row_count(read_engine) == 30
    dismissed = await queue.page(AlertQueueFilter("acme", status="dismissed"), 50, None)
    assert {r.id for r in dismissed.rows} == {d.alert_id for d in detections(5, start=10)}
    assert all(r.version == 2 for r in dismissed.rows)


async def test_pages_walk_the_queue_newest_first_with_totals_and_filters(
    desk: AlertDesk, read_engine: AsyncEngine, queue: SqlAlertQueue
) -> None:
    desk.raise_alerts(detections(5, severity=Severity.MEDIUM))
    desk.raise_alerts(detections(4, start=5, severity=Severity.CRITICAL))
    desk.raise_alerts(detections(3, start=9))
    await runner_for(desk, read_engine).catch_up()

    pages, cursor = [], None
    while True:
        page = await queue.page(AlertQueueFilter("acme"), 5, cursor)
        pages.append(page)
        if not page.has_next_page:
            break
        cursor = page.end_cursor

    listed = [row for page in pages for row in page.rows]
    assert [len(p.rows) for p in pages] == [5, 5, 2]
    assert {p.total for p in pages} == {12}
    assert listed == sorted(listed, key=lambda r: (r.raised_at, r.id), reverse=True)
    assert len({r.id for r in listed}) == 12
    critical = await queue.page(AlertQueueFilter("acme", severity="critical"), 10, None)
    assert (critical.total, len(critical.rows), critical.has_next_page) == (4, 4, False)
    assert {r.id for r in critical.rows} == {d.alert_id for d in detections(4, start=5)}
    none = await queue.page(AlertQueueFilter("acme", source="wire-transfers"), 10, None)
    assert (none.total, none.rows, none.end_cursor) == (0, [], None)


async def test_another_tenants_alerts_are_neither_listed_nor_found(
    desk: AlertDesk, read_engine: AsyncEngine, queue: SqlAlertQueue
) -> None:
    (ours,) = detections(1, tenant_id="acme")
    (theirs,) = detections(1, tenant_id="globex")
    desk.raise_alerts([ours, theirs])
    await runner_for(desk, read_engine).catch_up()

    page = await queue.page(AlertQueueFilter("acme"), 10, None)

    assert [r.id for r in page.rows] == [ours.alert_id]
    assert page.total == 1
    assert await queue.get("acme", theirs.alert_id) is None
    assert await queue.get("globex", theirs.alert_id) is not None


class BreaksOnEvent(AlertQueueProjection):
    """The alert queue projection, failing on the nth event it is given."""

    def __init__(self, nth: int, failure: str = "raise") -> None:
        self.nth, self.failure, self.seen = nth, failure, 0

    def changes(self, event: object) -> Sequence[RowChange]:
        self.seen += 1
        changes = list(super().changes(event))
        if self.seen != self.nth:
            return changes
        if self.failure == "raise":
            raise RuntimeError("projection bug")
        # A row change the database refuses, written after the batch's inserts.
        refused = RowUpdate("alerts", detections(1)[0].alert_id, 99, 99, {"tenant_id": None})
        return [*changes, refused]


async def test_a_projection_failing_mid_batch_leaves_neither_rows_nor_position(
    desk: AlertDesk, read_engine: AsyncEngine
) -> None:
    desk.raise_alerts(detections(12))
    breaking = ProjectionRunner(desk, read_engine, [BreaksOnEvent(nth=12)], batch_size=5)

    with pytest.raises(RuntimeError, match="projection bug"):
        await breaking.catch_up()

    assert (await breaking.position(), await row_count(read_engine)) == (10, 10)
    assert await runner_for(desk, read_engine).catch_up() == 2
    assert await row_count(read_engine) == 12


async def test_a_write_the_database_refuses_rolls_back_the_batch_rows_and_position(
    desk: AlertDesk, read_engine: AsyncEngine, queue: SqlAlertQueue
) -> None:
    desk.raise_alerts(detections(10))
    breaking = ProjectionRunner(
        desk, read_engine, [BreaksOnEvent(nth=8, failure="refuse")], batch_size=5
    )

    with pytest.raises(IntegrityError):
        await breaking.catch_up()

    assert (await breaking.position(), await row_count(read_engine)) == (5, 5)
    assert await queue.get("acme", detections(1, start=6)[0].alert_id) is None
    assert await runner_for(desk, read_engine).catch_up() == 5


@pytest.mark.parametrize(
    "settings", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_runners_at_once_apply_every_event_exactly_once(
    desk: AlertDesk, read_engine: AsyncEngine, queue: SqlAlertQueue
) -> None:
    desk.raise_alerts(detections(300))
    for alert in detections(40):
        desk.comment("acme", alert.alert_id, "ann", "checked")

    a, b = runner_for(desk, read_engine, 25), runner_for(desk, read_engine, 25)
    processed = await asyncio.gather(a.catch_up(), b.catch_up())

    assert sum(processed) == 340
    commented = await queue.get("acme", detections(1)[0].alert_id)
    assert commented is not None
    assert commented.comment_count == 1
    assert await row_count(read_engine) == 300


async def test_a_cursor_the_queue_did_not_hand_out_is_an_invalid_command(
    queue: SqlAlertQueue,
) -> None:
    with pytest.raises(InvalidCommand, match="after"):
        await queue.page(AlertQueueFilter("acme"), 10, "not-a-cursor")


async def test_the_migrations_create_the_schema_the_tables_describe(
    read_engine: AsyncEngine,
) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with read_engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_the_project_worker_shows_new_alerts_soon_after_they_are_raised(
    settings: Settings, desk: AlertDesk
) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_projection_worker(settings, stop))
    read_engine = build_read_engine(settings)
    queue = build_read_models(settings, read_engine).alert_queue
    try:
        await anyio.to_thread.run_sync(desk.raise_alerts, detections(3))
        assert await _eventually_listed(queue, 3, within_seconds=5)
    finally:
        stop.set()
        await worker
        await read_engine.dispose()


async def _eventually_listed(queue: SqlAlertQueue, count: int, within_seconds: float) -> bool:
    for _ in range(int(within_seconds / 0.02)):
        try:
            if (await queue.page(AlertQueueFilter("acme"), 10, None)).total >= count:
                return True
        except (OperationalError, ProgrammingError):  # the worker has not created the tables yet
            pass
        await asyncio.sleep(0.02)
    return False
