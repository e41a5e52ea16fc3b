"""Ordering and tag filters over GraphQL on SQLite and PostgreSQL: every order pages by keyset,
so walking it page by page visits each row once, in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.builders import detection
from tests.graphql_client import TENANT, data, graphql
from vigil.application.casework import Casework
from vigil.domain.case import Priority

Project = Callable[[], Awaitable[None]]

ALERTS = """
query Page($order: AlertOrder!, $after: String, $tag: String) {
  alerts(first: 2, after: $after, orderBy: $order, filter: {tag: $tag}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { recordId score } }
  }
}"""

CASES = """
query Page($order: CaseOrder!, $after: String, $tag: String, $priority: Priority) {
  cases(first: 2, after: $after, orderBy: $order, tag: $tag, priority: $priority) {
    totalCount hasNextPage endCursor
    edges { node { title } }
  }
}"""

SCORES = [0.7, 0.95, 0.65, 0.9, 0.8]


@pytest.fixture
def five_alerts(desk: Casework) -> list[str]:
    """tx-0..tx-4, raised a second apart, with scores that do not follow the time order."""
    for n, score in enumerate(SCORES):
        desk.raise_alerts([detection(f"tx-{n}", tenant_id=TENANT, score=score)])
    return [f"tx-{n}" for n in range(len(SCORES))]


async def walk(client: AsyncTestClient[Any], query: str, field: str, **variables: Any) -> list[Any]:
    """Every row of the list, following its cursors from the first page to the last."""
    seen: list[Any] = []
    after = None
    while True:
        page = (await data(client, query, after=after, **variables))[field]
        seen += [edge["node"] for edge in page["edges"]]
        info = page.get("pageInfo", page)
        if not info["hasNextPage"]:
            return seen
        after = info["endCursor"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("NEWEST", ["tx-4", "tx-3", "tx-2", "tx-1", "tx-0"]),
        ("OLDEST", ["tx-0", "tx-1", "tx-2", "tx-3", "tx-4"]),
        ("HIGHEST_SCORE", ["tx-1", "tx-3", "tx-4", "tx-0", "tx-2"]),
    ],
)
async def test_the_queue_pages_through_every_alert_once_in_the_order_asked_for(
    client: AsyncTestClient[Any],
    five_alerts: list[str],
    project: Project,
    order: str,
    expected: list[str],
) -> None:
    await project()
    walked = await walk(client, ALERTS, "alerts", order=order)
    assert [node["recordId"] for node in walked] == expected


async def test_a_cursor_of_one_order_is_refused_by_another_and_tags_narrow_the_queue(
    client: AsyncTestClient[Any], desk: Casework, five_alerts: list[str], project: Project
) -> None:
    for n in (1, 3):
        desk.tag(TENANT, detection(f"tx-{n}", tenant_id=TENANT).alert_id, "ann", "mule")
    await project()
    page = (await data(client, ALERTS, order="HIGHEST_SCORE"))["alerts"]
    refused = await graphql(client, ALERTS, order="NEWEST", after=page["pageInfo"]["endCursor"])
    assert refused["errors"][0]["extensions"]["field"] == "after"
    tagged = await walk(client, ALERTS, "alerts", order="OLDEST", tag="MULE")
    assert [node["recordId"] for node in tagged] == ["tx-1", "tx-3"]
    bad_tag = await graphql(client, ALERTS, order="NEWEST", tag="two words")
    assert bad_tag["errors"][0]["extensions"]["field"] == "tag"


async def test_cases_page_by_due_date_and_narrow_by_priority_and_tag(
    client: AsyncTestClient[Any], desk: Casework, five_alerts: list[str], project: Project
) -> None:
    ids = [detection(f"tx-{n}", tenant_id=TENANT).alert_id for n in range(4)]
    priorities = (Priority.LOW, Priority.CRITICAL, Priority.MEDIUM, Priority.CRITICAL)
    for n, (alert_id, priority) in enumerate(zip(ids, priorities, strict=True)):
        case = desk.open_case(TENANT, "ann", f"case {n}", priority, [alert_id])
        if n % 2:
            desk.tag_case(TENANT, case.id, "ann", "card-testing")
    await project()
    due = await walk(client, CASES, "cases", order="DUE_SOONEST")
    assert [node["title"] for node in due] == ["case 1", "case 3", "case 2", "case 0"]
    critical = await walk(client, CASES, "cases", order="OLDEST", priority="CRITICAL")
    tagged = await walk(client, CASES, "cases", order="NEWEST", tag="card-testing")
    assert [node["title"] for node in critical] == ["case 1", "case 3"]
    assert [node["title"] for node in tagged] == ["case 3", "case 1"]
