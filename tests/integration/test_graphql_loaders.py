"""Nested objects over GraphQL come through per-request loaders: a constant number of queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from tests.graphql_client import ANALYST, TENANT, admin, data
from vigil.application.casework import Casework
from vigil.bootstrap import build_read_models
from vigil.domain.case import Priority
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.graphql.context import make_context
from vigil.graphql.schema import schema
from vigil.infrastructure.settings import Settings

Project = Callable[[], Awaitable[None]]

QUEUE = """
query Queue($first: Int!) {
  alerts(first: $first) {
    totalCount
    edges { node { recordId case { title alertCount } latestLabel { verdict labelSource } } }
  }
}"""

CASES = """
query Cases($first: Int!) {
  cases(first: $first) {
    edges {
      node {
        title comments { text } files { filename }
        alerts { recordId comments { text } case { title } latestLabel { verdict } }
      }
    }
  }
}"""


@pytest.fixture
def worked_queue(desk: Casework) -> list[str]:
    """Sixty alerts, in twenty cases of three; every other record labelled fraud."""
    found = detections(60)
    desk.raise_alerts(found)
    for n in range(0, 60, 3):
        desk.open_case(
            TENANT, "ann", f"Case {n // 3}", Priority.MEDIUM, [d.alert_id for d in found[n : n + 3]]
        )
    for d in found[::2]:
        desk.label(
            TENANT,
            "ann",
            ("cards", SubjectKind.RECORD, d.record_id),
            Verdict.FRAUD,
            LabelSource.ANALYST,
        )
    return [d.record_id for d in found]


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


async def run(
    query: str, desk: Casework, settings: Settings, engine: AsyncEngine, **variables: Any
) -> tuple[dict[str, Any], list[str]]:
    """Executes one request on a fresh context, as the server does, counting its SQL."""
    models = build_read_models(settings, engine)
    context = make_context(desk, models, TENANT, ANALYST, principal=admin())
    with statements_on(engine) as seen:
        result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data, seen


async def test_a_page_of_alerts_with_their_cases_and_labels_costs_the_same_sql_at_5_or_50(
    desk: Casework,
    settings: Settings,
    read_engine: AsyncEngine,
    project: Project,
    worked_queue: list[str],
) -> None:
    await project()

    small, small_sql = await run(QUEUE, desk, settings, read_engine, first=5)
    large, large_sql = await run(QUEUE, desk, settings, read_engine, first=50)

    assert len(small_sql) == len(large_sql) == 4  # the page, its total, its cases, their labels
    nodes = [edge["node"] for edge in large["alerts"]["edges"]]
    assert len(nodes) == 50
    assert small["alerts"]["edges"] == large["alerts"]["edges"][:5]
    by_record = {node["recordId"]: node for node in nodes}
    assert by_record["tx-59"]["case"] == {"title": "Case 19", "alertCount": 3}
    assert by_record["tx-58"]["latestLabel"] == {"verdict": "FRAUD", "labelSource": "ANALYST"}
    assert by_record["tx-59"]["latestLabel"] is None


FRAGMENTS = """
query Queue {
  alerts(first: 50) { edges { node { ...Triage } } }
}
fragment Triage on Alert { recordId ... on Alert { case { title } latestLabel { verdict } } }
"""

FLAT = "query { alerts(first: 50) { totalCount edges { node { recordId } } } }"


async def test_cases_and_labels_asked_for_through_fragments_load_with_the_page(
    desk: Casework,
    settings: Settings,
    read_engine: AsyncEngine,
    project: Project,
    worked_queue: list[str],
) -> None:
    await project()

    through_fragments, sql = await run(FRAGMENTS, desk, settings, read_engine)

    assert len(sql) == 4
    nodes = {e["node"]["recordId"]: e["node"] for e in through_fragments["alerts"]["edges"]}
    assert nodes["tx-58"] == {
        "recordId": "tx-58",
        "case": {"title": "Case 19"},
        "latestLabel": {"verdict": "FRAUD"},
    }


async def test_a_page_that_asks_for_no_nested_objects_loads_none(
    desk: Casework,
    settings: Settings,
    read_engine: AsyncEngine,
    project: Project,
    worked_queue: list[str],
) -> None:
    await project()

    flat, sql = await run(FLAT, desk, settings, read_engine)

    assert len(sql) == 2  # the page and its total
    assert flat["alerts"]["totalCount"] == 60


async def test_a_page_of_cases_with_their_alerts_nested_twice_costs_the_same_sql_at_2_or_10(
    desk: Casework,
    settings: Settings,
    read_engine: AsyncEngine,
    project: Project,
    worked_queue: list[str],
) -> None:
    await project()

    _, small_sql = await run(CASES, desk, settings, read_engine, first=2)
    large, large_sql = await run(CASES, desk, settings, read_engine, first=10)

    assert len(small_sql) == len(large_sql)
    newest = large["cases"]["edges"][0]["node"]
    assert newest["title"] == "Case 19"
    assert sorted(a["recordId"] for a in newest["alerts"]) == ["tx-57", "tx-58", "tx-59"]
    assert {a["case"]["title"] for a in newest["alerts"]} == {"Case 19"}


async def test_an_alert_outside_any_case_and_unlabelled_shows_null_for_both(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    desk.raise_alerts(detections(1))
    await project()

    (edge,) = (await data(client, QUEUE, first=5))["alerts"]["edges"]

    assert (edge["node"]["case"], edge["node"]["latestLabel"]) == (None, None)


ENTITY = """
query Entity($id: String!, $source: String) {
  entity(id: $id, source: $source) {
    summary {
      sources alertCount openCaseCount lastAlertAt
      lastLabel { verdict labelSource labelledAt }
    }
  }
}"""


async def test_an_entity_shows_its_maintained_summary(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    found = detections(4)  # customers 0, 1, 2, 0
    desk.raise_alerts(found)
    desk.open_case(TENANT, "ann", "Customer 0", Priority.HIGH, [found[0].alert_id])
    desk.label(
        TENANT,
        "ann",
        ("cards", SubjectKind.ENTITY, "customer-0"),
        Verdict.FRAUD,
        LabelSource.ANALYST,
    )
    await project()

    summary = (await data(client, ENTITY, id="customer-0", source="cards"))["entity"]["summary"]

    assert (summary["sources"], summary["alertCount"], summary["openCaseCount"]) == (
        ["cards"],
        2,
        1,
    )
    assert summary["lastAlertAt"] is not None
    assert summary["lastLabel"]["verdict"] == "FRAUD"
    assert summary["lastLabel"]["labelSource"] == "ANALYST"
    unsourced = (await data(client, ENTITY, id="customer-0"))["entity"]["summary"]
    assert unsourced == summary
    assert (await data(client, ENTITY, id="customer-0", source="wires"))["entity"] is None
