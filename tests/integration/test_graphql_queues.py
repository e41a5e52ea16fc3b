"""Queues over GraphQL on SQLite and PostgreSQL: define one, see what waits, take the next item,
and let the timer hand items out by round-robin."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import TickingClock, detections
from tests.graphql_client import ANALYST, TENANT, data
from vigil.application import queues
from vigil.application.casework import Casework
from vigil.application.queues import hand_out_waiting
from vigil.bootstrap import build_alert_desk
from vigil.domain.alert import Severity
from vigil.domain.case import Priority
from vigil.domain.queue import Assignment, QueueCriteria, QueueKind, QueueRules
from vigil.infrastructure.read_model.queue_board import SqlQueueBoard
from vigil.infrastructure.settings import Settings

Project = Callable[[], Awaitable[None]]

DEFINE = """
mutation Define($name: String!, $severities: [String!]!, $assignment: Assignment!,
                $members: [String!]!) {
  defineQueue(input: {name: $name, kind: ALERTS, rules: {
      criteria: {severities: $severities}, slaMinutes: 30,
      assignment: $assignment, members: $members}}) {
    __typename
    ... on QueueChanged { queue { id name slaMinutes criteria { severities } } }
    ... on InvalidInputError { field message }
  }
}"""

QUEUES = "{ queues { name assignment stats { waiting overdue oldestWaitingSince } } }"

TAKE = """
mutation Take($id: ID!) {
  takeNext(queueId: $id) {
    __typename
    ... on ItemTaken { alert { id severity assignee } }
    ... on QueueEmpty { message }
  }
}"""


async def define(
    client: AsyncTestClient[Any],
    name: str,
    severities: list[str],
    assignment: str = "MANUAL",
    members: tuple[str, ...] = (),
) -> dict[str, Any]:
    result = await data(
        client,
        DEFINE,
        name=name,
        severities=severities,
        assignment=assignment,
        members=list(members),
    )
    return result["defineQueue"]  # type: ignore[no-any-return]


@pytest.fixture
def critical_and_high_alerts(desk: Casework) -> None:
    desk.raise_alerts(detections(2, tenant_id=TENANT, severity=Severity.CRITICAL))
    desk.raise_alerts(detections(3, start=2, tenant_id=TENANT, severity=Severity.HIGH))
    desk.raise_alerts(detections(4, tenant_id="globex", severity=Severity.CRITICAL))


@pytest.mark.usefixtures("critical_and_high_alerts")
async def test_a_queue_shows_what_waits_in_it_and_take_next_hands_out_the_oldest_first(
    client: AsyncTestClient[Any], project: Project
) -> None:
    queue = (await define(client, "Critical", ["critical"]))["queue"]
    assert queue["criteria"]["severities"] == ["critical"]
    await project()
    (listed,) = (await data(client, QUEUES))["queues"]
    assert listed["stats"]["waiting"] == 2

    first = (await data(client, TAKE, id=queue["id"]))["takeNext"]
    second = (await data(client, TAKE, id=queue["id"]))["takeNext"]
    assert first["__typename"] == second["__typename"] == "ItemTaken"
    assert first["alert"]["id"] != second["alert"]["id"]
    assert {first["alert"]["assignee"], first["alert"]["severity"]} == {ANALYST, "CRITICAL"}
    # The read model still lists both as waiting; take-next skips what the store says is taken.
    empty = (await data(client, TAKE, id=queue["id"]))["takeNext"]
    assert empty["__typename"] == "QueueEmpty"
    await project()
    (listed,) = (await data(client, QUEUES))["queues"]
    assert listed["stats"]["waiting"] == 0


async def test_a_queue_with_a_bad_rule_is_refused_naming_the_field(
    client: AsyncTestClient[Any],
) -> None:
    refused = await define(client, "Odd", ["urgent"])
    assert refused == {
        "__typename": "InvalidInputError",
        "field": "severities",
        "message": "'urgent' is not one of medium, high, critical",
    }
    refused = await define(client, "Turns", ["high"], "ROUND_ROBIN")
    assert refused["field"] == "members"


@pytest.mark.usefixtures("critical_and_high_alerts")
async def test_items_past_the_sla_count_as_overdue(
    settings: Settings, desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    rules = QueueRules(QueueCriteria(severities=("high",)), 30, Assignment.MANUAL)
    queue = queues.define_queue(desk, TENANT, "lead", "High", QueueKind.ALERTS, rules)
    await project()
    board = SqlQueueBoard(read_engine)
    row = await board.get(TENANT, queue.id)
    assert row is not None
    oldest = (await board.waiting(row, 1))[0].waiting_since
    soon, late = await board.stats(row, oldest), await board.stats(row, oldest + timedelta(hours=1))
    assert (soon.waiting, soon.overdue, late.overdue) == (3, 0, 3)
    assert late.oldest_waiting_since == oldest


@pytest.mark.usefixtures("critical_and_high_alerts")
async def test_the_timer_hands_waiting_alerts_out_in_turn_and_never_twice(
    settings: Settings, desk: Casework, read_engine: AsyncEngine, project: Project
) -> None:
    rules = QueueRules(QueueCriteria(), 30, Assignment.ROUND_ROBIN, ("ann", "bob"))
    queues.define_queue(desk, TENANT, "lead", "All", QueueKind.ALERTS, rules)
    await project()
    board = SqlQueueBoard(read_engine)
    second_worker = build_alert_desk(settings, clock=TickingClock())
    try:
        # Two timers on the same beat: the event store lets one hand out each item.
        handed = await asyncio.gather(
            hand_out_waiting(desk, board), hand_out_waiting(second_worker, board)
        )
    finally:
        second_worker.close()
    assert sum(handed) == 5
    await project()
    assert await board.workloads(TENANT, ("ann", "bob")) == {"ann": 3, "bob": 2}
    assert await hand_out_waiting(desk, board) == 0


TAKE_CASE = """
mutation Take($id: ID!) {
  takeNext(queueId: $id) {
    __typename
    ... on ItemTaken { case { title assignee } alert { id } }
  }
}"""


async def test_a_case_queue_hands_out_its_oldest_unassigned_case_of_the_priorities_it_takes(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    found = detections(3, tenant_id=TENANT)
    desk.raise_alerts(found)
    for title, priority, alert in zip(
        ("Low one", "Critical one", "Critical two"),
        (Priority.LOW, Priority.CRITICAL, Priority.CRITICAL),
        found,
        strict=True,
    ):
        desk.open_case(TENANT, "ann", title, priority, [alert.alert_id])
    rules = QueueRules(QueueCriteria(priorities=("critical",)), 60, Assignment.MANUAL)
    queue = queues.define_queue(desk, TENANT, "lead", "Urgent cases", QueueKind.CASES, rules)
    await project()
    taken = (await data(client, TAKE_CASE, id=str(queue.id)))["takeNext"]
    assert taken == {
        "__typename": "ItemTaken",
        "case": {"title": "Critical one", "assignee": ANALYST},
        "alert": None,
    }
