"""The per-entity summary read model, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detection, detections
from vigil.application.casework import Casework
from vigil.domain.case import Disposition, Priority
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.infrastructure.read_model.entity_summary import SqlEntitySummaries

Project = Callable[[], Awaitable[None]]
TENANT = "acme"


async def summary(engine: AsyncEngine, entity_id: str, tenant_id: str = TENANT) -> dict[str, Any]:
    (row,) = await SqlEntitySummaries(engine).of(tenant_id, entity_id, "cards")
    return {
        "alerts": row.alert_count,
        "open cases": row.open_case_count,
        "last label": (row.last_verdict, row.last_label_source),
    }


async def test_a_summary_counts_alerts_and_open_cases_and_shows_the_latest_verdict(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    found = detections(6)  # customers 0, 1, 2, 0, 1, 2
    desk.raise_alerts(found)
    ids = [d.alert_id for d in found]
    both = desk.open_case(TENANT, "ann", "Two customers", Priority.HIGH, [ids[0], ids[1]])
    second = desk.open_case(TENANT, "ann", "Customer 0 again", Priority.LOW, [ids[3]])
    await project()
    assert await summary(read_engine, "customer-0") == {
        "alerts": 2,
        "open cases": 2,
        "last label": (None, None),
    }

    desk.close_case(TENANT, second.id, "ann", Disposition.CONFIRMED_FRAUD, "Card was stolen")
    desk.label(
        TENANT, "cb", ("cards", SubjectKind.RECORD, "tx-1"), Verdict.LEGIT, LabelSource.CHARGEBACK
    )
    desk.label(
        TENANT,
        "ann",
        ("cards", SubjectKind.ENTITY, "customer-2"),
        Verdict.FRAUD,
        LabelSource.ANALYST,
    )
    await project()
    assert await summary(read_engine, "customer-0") == {
        "alerts": 2,
        "open cases": 1,
        "last label": ("fraud", "case_disposition"),
    }
    assert (await summary(read_engine, "customer-1"))["last label"] == ("legit", "chargeback")
    assert await summary(read_engine, "customer-2") == {
        "alerts": 2,
        "open cases": 0,
        "last label": ("fraud", "analyst"),
    }

    desk.detach_alert(TENANT, both.id, "ann", ids[0])
    desk.revoke_label(TENANT, "lead", ("cards", SubjectKind.RECORD, "tx-1"), "wrong record")
    desk.reopen_case(TENANT, second.id, "lead", "cardholder called back")
    await project()
    assert (await summary(read_engine, "customer-0"))["open cases"] == 1  # the reopened one
    assert await summary(read_engine, "customer-1") == {
        "alerts": 2,
        "open cases": 1,
        "last label": (None, None),
    }


async def test_the_latest_verdict_wins_whether_on_the_entity_or_on_one_of_its_records(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    desk.raise_alerts(detections(3))
    entity = ("cards", SubjectKind.ENTITY, "customer-0")
    desk.label(TENANT, "ann", entity, Verdict.FRAUD, LabelSource.ANALYST)
    await project()
    desk.label(
        TENANT, "cb", ("cards", SubjectKind.RECORD, "tx-0"), Verdict.LEGIT, LabelSource.CHARGEBACK
    )
    await project()
    assert (await summary(read_engine, "customer-0"))["last label"] == ("legit", "chargeback")

    desk.label(TENANT, "ann", entity, Verdict.LEGIT, LabelSource.IMPORT)
    await project()
    assert (await summary(read_engine, "customer-0"))["last label"] == ("legit", "import")


async def test_a_label_given_before_the_alert_is_raised_still_reaches_the_summary(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    desk.label(
        TENANT, "cb", ("cards", SubjectKind.RECORD, "tx-7"), Verdict.FRAUD, LabelSource.CHARGEBACK
    )
    await project()
    assert await SqlEntitySummaries(read_engine).of(TENANT, "customer-1", "cards") == []

    desk.raise_alerts(detections(1, start=7))
    await project()

    assert await summary(read_engine, "customer-1") == {
        "alerts": 1,
        "open cases": 0,
        "last label": ("fraud", "chargeback"),
    }


async def test_a_summary_keeps_to_its_tenant_and_source(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    desk.raise_alerts(detections(2, tenant_id=TENANT))
    desk.raise_alerts(detections(1, start=3, tenant_id="globex"))
    desk.raise_alerts([detection("w-1", tenant_id=TENANT, source="wires", entity_id="customer-0")])
    await project()
    summaries = SqlEntitySummaries(read_engine)

    assert (await summary(read_engine, "customer-0"))["alerts"] == 1
    assert (await summary(read_engine, "customer-0", tenant_id="globex"))["alerts"] == 1
    every_source = await summaries.of(TENANT, "customer-0", None)
    assert [(s.source, s.alert_count) for s in every_source] == [("cards", 1), ("wires", 1)]
    (cards,) = await summaries.of(TENANT, "customer-0", "cards")
    assert cards.last_alert_at is not None
