"""The case list, the labels and alert-case links, projected on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from vigil.application.case_list import CaseListFilter
from vigil.application.casework import Casework
from vigil.bootstrap import build_read_models
from vigil.domain.case import CaseStatus, Disposition, Priority
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.infrastructure.read_model.tables import (
    alert_counts,
    alerts,
    cases,
    entity_summaries,
    labels,
    projection_tracking,
)
from vigil.infrastructure.settings import Settings

TENANT = "acme"
Project = Callable[[], Awaitable[None]]


async def rows(engine: AsyncEngine, table: Any) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(select(table).order_by(*table.primary_key.columns))
        return [dict(row._mapping) for row in result]


def work_a_case(desk: Casework) -> Any:
    found = detections(3, tenant_id=TENANT)
    desk.raise_alerts(found)
    ids = [d.alert_id for d in found]
    case = desk.open_case(TENANT, "ann", "Stolen card", Priority.HIGH, ids[:2])
    desk.assign_case(TENANT, case.id, "lead", "ann")
    desk.comment_on_case(TENANT, case.id, "ann", "Called the cardholder")
    desk.attach_alert(TENANT, case.id, "ann", ids[2])
    desk.detach_alert(TENANT, case.id, "ann", ids[0])
    desk.close_case(TENANT, case.id, "ann", Disposition.CONFIRMED_FRAUD, "Card was stolen")
    desk.label(
        TENANT,
        "chargeback-import",
        ("cards", SubjectKind.RECORD, "tx-1"),
        Verdict.LEGIT,
        LabelSource.CHARGEBACK,
    )
    return case, ids


async def test_the_case_list_shows_each_case_as_its_events_left_it(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    case, ids = work_a_case(desk)
    await project()
    (row,) = await rows(read_engine, cases)
    assert row["id"] == case.id
    assert (row["status"], row["disposition"], row["assignee"]) == (
        str(CaseStatus.CLOSED),
        str(Disposition.CONFIRMED_FRAUD),
        "ann",
    )
    assert (row["alert_count"], row["comment_count"], row["summary"]) == (2, 1, "Card was stolen")
    assert row["closed_at"] is not None
    linked = {r["id"]: r["case_id"] for r in await rows(read_engine, alerts)}
    assert linked == {ids[0]: None, ids[1]: case.id, ids[2]: case.id}


async def test_the_labels_hold_the_verdict_that_stands_now(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    case, _ = work_a_case(desk)
    await project()
    standing = {r["subject_id"]: r for r in await rows(read_engine, labels)}
    assert set(standing) == {"tx-1", "tx-2"}
    assert (standing["tx-2"]["verdict"], standing["tx-2"]["label_source"]) == (
        "fraud",
        "case_disposition",
    )
    assert standing["tx-2"]["provenance"]["case_id"] == str(case.id)
    # A chargeback arrived after the case closed: the latest verdict wins.
    assert (standing["tx-1"]["verdict"], standing["tx-1"]["labelled_by"]) == (
        "legit",
        "chargeback-import",
    )


async def test_a_replay_from_event_zero_rebuilds_the_same_read_models(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    # Projected step by step, then rebuilt in one go: the batches differ, the tables must not.
    _, ids = work_a_case(desk)
    await project()
    desk.acknowledge(TENANT, ids[0], "ann")
    desk.label(
        TENANT,
        "ann",
        ("cards", SubjectKind.ENTITY, "customer-0"),
        Verdict.FRAUD,
        LabelSource.ANALYST,
    )
    await project()
    desk.resolve(TENANT, ids[0], "ann", "refund issued")
    await project()
    read_models = (alerts, cases, labels, entity_summaries, alert_counts)
    live = [await rows(read_engine, table) for table in read_models]
    assert all(live)
    async with read_engine.begin() as connection:
        for table in (*read_models, projection_tracking):
            await connection.execute(delete(table))
    await project()
    assert [await rows(read_engine, table) for table in read_models] == live


async def test_the_case_list_pages_newest_first_filters_and_keeps_to_its_tenant(
    desk: Casework, read_engine: AsyncEngine, project: Project, settings: Settings
) -> None:
    found = detections(7, tenant_id=TENANT)
    desk.raise_alerts(found)
    opened = [
        desk.open_case(TENANT, "ann", f"Case {n}", Priority.LOW, [d.alert_id]).id
        for n, d in enumerate(found[:5])
    ]
    desk.assign_case(TENANT, opened[1], "lead", "bob")
    (theirs,) = detections(1, start=100, tenant_id="globex")
    desk.raise_alerts([theirs])
    foreign = desk.open_case("globex", "eve", "Theirs", Priority.LOW, [theirs.alert_id]).id
    await project()
    case_list = build_read_models(settings, read_engine).case_list

    first = await case_list.page(CaseListFilter(TENANT), 3, None)
    rest = await case_list.page(CaseListFilter(TENANT), 3, first.end_cursor)
    assert [r.id for r in first.rows + rest.rows] == opened[::-1]
    assert (first.total, first.has_next_page, rest.has_next_page) == (5, True, False)
    bobs = await case_list.page(CaseListFilter(TENANT, assignee="bob"), 10, None)
    assert [r.id for r in bobs.rows] == [opened[1]]
    assert await case_list.get(TENANT, foreign) is None
    assert (await case_list.get("globex", foreign)) is not None
