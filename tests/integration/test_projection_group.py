"""One runner feeding a group of projections, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from vigil.application.alert_projection import AlertQueueProjection
from vigil.application.casework import Casework
from vigil.application.casework_projections import CaseListProjection
from vigil.application.projection import RowChange
from vigil.domain.case import Priority
from vigil.infrastructure.projection_runner import ProjectionRunner
from vigil.infrastructure.read_model.tables import alerts, cases


class Remembering:
    """A projection that changes no row and remembers every event it was given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tables: tuple[str, ...] = ()
        self.seen: list[object] = []

    def changes(self, event: object) -> Sequence[RowChange]:
        self.seen.append(event)
        return []


class FailsOnCaseOpened(CaseListProjection):
    def changes(self, event: object) -> Sequence[RowChange]:
        if type(event).__name__ == "Opened":
            raise RuntimeError("case list bug")
        return super().changes(event)


class CountingRunner(ProjectionRunner):
    """Notes how many events each batch it applies holds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.applied = asyncio.Event()

    async def apply_next_batch(self) -> int:
        applied = await super().apply_next_batch()
        if applied:
            self.batches.append(applied)
            self.applied.set()
        return applied

    async def until_applied(self, events: int) -> None:
        async with asyncio.timeout(10):
            while sum(self.batches) < events:
                self.applied.clear()
                await self.applied.wait()


async def count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(table))).scalar_one()


async def test_every_projection_of_a_group_is_given_the_same_decoded_event_once(
    desk: Casework, read_engine: AsyncEngine
) -> None:
    desk.raise_alerts(detections(4))
    first, second = Remembering("first"), Remembering("second")

    applied = await ProjectionRunner(desk, read_engine, [first, second], batch_size=3).catch_up()

    assert applied == 4
    assert len(first.seen) == 4
    assert all(a is b for a, b in zip(first.seen, second.seen, strict=True))


async def test_a_group_writes_every_projections_rows_and_moves_every_position_together(
    desk: Casework, read_engine: AsyncEngine
) -> None:
    found = detections(3)
    desk.raise_alerts(found)
    desk.open_case("acme", "ann", "Stolen card", Priority.HIGH, [found[0].alert_id])
    group = [AlertQueueProjection(), CaseListProjection()]

    await ProjectionRunner(desk, read_engine, group).catch_up()

    last = desk.recorder.max_notification_id()
    runner = ProjectionRunner(desk, read_engine, group)
    assert await runner.positions() == {"alert_queue": last, "case_list": last}
    assert (await count(read_engine, alerts), await count(read_engine, cases)) == (3, 1)


async def test_a_projection_added_later_starts_from_event_zero_and_the_others_skip_what_they_saw(
    desk: Casework, read_engine: AsyncEngine
) -> None:
    desk.raise_alerts(detections(5))
    early = Remembering("early")
    await ProjectionRunner(desk, read_engine, [early], batch_size=2).catch_up()
    desk.raise_alerts(detections(2, start=5))
    late = Remembering("late")

    await ProjectionRunner(desk, read_engine, [early, late], batch_size=2).catch_up()

    assert (len(early.seen), len(late.seen)) == (7, 7)
    assert early.seen[5:] == late.seen[5:]
    runner = ProjectionRunner(desk, read_engine, [early, late])
    assert await runner.positions() == {"early": 7, "late": 7}


async def test_one_projection_failing_rolls_back_the_rows_and_positions_of_the_whole_group(
    desk: Casework, read_engine: AsyncEngine
) -> None:
    found = detections(4)
    desk.raise_alerts(found)
    desk.open_case("acme", "ann", "Stolen card", Priority.HIGH, [found[0].alert_id])
    group = [AlertQueueProjection(), FailsOnCaseOpened()]
    breaking = ProjectionRunner(desk, read_engine, group, batch_size=4)

    with pytest.raises(RuntimeError, match="case list bug"):
        await breaking.catch_up()

    # The first batch (the four raised alerts) went through; the case's batch left nothing.
    assert await breaking.positions() == {"alert_queue": 4, "case_list": 4}
    assert (await count(read_engine, alerts), await count(read_engine, cases)) == (4, 0)
    alert = await _alert_row(read_engine, found[0].alert_id)
    assert alert["case_id"] is None


async def _alert_row(engine: AsyncEngine, alert_id: object) -> dict[str, object]:
    async with engine.connect() as connection:
        row = (await connection.execute(select(alerts).where(alerts.c.id == alert_id))).one()
    return dict(row._mapping)


async def test_a_steady_stream_of_saves_is_applied_in_a_few_gathered_batches_the_first_at_once(
    desk: Casework, read_engine: AsyncEngine
) -> None:
    seen = Remembering("seen")
    runner = CountingRunner(desk, read_engine, [seen], gather_seconds=0.5)
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop, poll_interval=0.02))

    desk.raise_alerts(detections(1))
    await runner.until_applied(1)
    for n in range(1, 11):  # a save every 40 ms, 400 ms in all
        desk.raise_alerts(detections(1, start=n))
        await asyncio.sleep(0.04)
    await runner.until_applied(11)
    stop.set()
    await running

    # The quiet log's first save went alone; the ten after it came in two or three batches,
    # where a runner that did not gather would take one transaction for almost every save.
    assert runner.batches[0] == 1
    assert sum(runner.batches) == 11
    assert len(runner.batches) <= 4


def test_a_group_needs_projections_with_distinct_names(
    desk: Casework, read_engine: AsyncEngine
) -> None:
    with pytest.raises(ValueError, match="distinct names"):
        ProjectionRunner(desk, read_engine, [Remembering("twin"), Remembering("twin")])
