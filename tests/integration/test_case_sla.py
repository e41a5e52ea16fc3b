"""The case SLA timer on SQLite and PostgreSQL: overdue open cases are marked once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from vigil.application.case_sla import mark_overdue_cases
from vigil.application.casework import Casework
from vigil.domain.case import Disposition, Priority
from vigil.infrastructure.read_model.case_list import SqlCaseList
from vigil.workers.sla import run_sla_timer

TENANT = "acme"
Project = Callable[[], Awaitable[None]]


def at(desk: Casework, moment: datetime) -> Casework:
    """The desk, its clock stopped at `moment`."""
    desk.clock = lambda: moment
    return desk


async def test_an_open_case_past_its_due_date_is_marked_once(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    found = detections(3, tenant_id=TENANT)
    desk.raise_alerts(found)
    urgent = desk.open_case(TENANT, "ann", "Urgent", Priority.CRITICAL, [found[0].alert_id])
    relaxed = desk.open_case(TENANT, "ann", "Relaxed", Priority.LOW, [found[1].alert_id])
    done = desk.open_case(TENANT, "ann", "Done", Priority.CRITICAL, [found[2].alert_id])
    desk.close_case(TENANT, done.id, "ann", Disposition.FALSE_POSITIVE, "Travelling")
    await project()
    cases = SqlCaseList(read_engine)
    after_four_hours = urgent.due_at + timedelta(minutes=1)

    assert await mark_overdue_cases(cases, at(desk, urgent.due_at - timedelta(minutes=1))) == 0
    assert await mark_overdue_cases(cases, at(desk, after_four_hours)) == 1
    await project()
    assert await mark_overdue_cases(cases, desk) == 0

    assert desk.get_case(TENANT, urgent.id).sla_breached
    assert not desk.get_case(TENANT, relaxed.id).sla_breached
    assert not desk.get_case(TENANT, done.id).sla_breached
    breaches = [e for e in desk.case_timeline(TENANT, urgent.id) if e.event == "SlaBreached"]
    assert [(e.actor, e.at) for e in breaches] == [("system:sla", after_four_hours)]


async def test_a_read_model_that_lags_never_doubles_a_breach(
    desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    (found,) = detections(1, tenant_id=TENANT)
    desk.raise_alerts([found])
    case = desk.open_case(TENANT, "ann", "Urgent", Priority.CRITICAL, [found.alert_id])
    await project()
    at(desk, case.due_at + timedelta(hours=1))
    cases = SqlCaseList(read_engine)
    assert await mark_overdue_cases(cases, desk) == 1
    # Not projected yet: the case list still shows it unmarked, and the aggregate refuses.
    assert await mark_overdue_cases(cases, desk) == 0
    assert len([e for e in desk.case_timeline(TENANT, case.id) if e.event == "SlaBreached"]) == 1


async def test_the_sla_worker_marks_on_its_beat_and_stops_when_asked() -> None:
    beats: list[int] = []
    stop = asyncio.Event()

    async def mark() -> int:
        beats.append(1)
        if len(beats) == 3:
            stop.set()
        return 0

    await asyncio.wait_for(run_sla_timer({"cases": mark}, stop, every_seconds=0.01), timeout=5)
    assert len(beats) == 3
