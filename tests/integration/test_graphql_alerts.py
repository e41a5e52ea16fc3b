"""GraphQL at /graphql over the real Casework and the projected alert queue, per tenant."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from tests.graphql_client import ANALYST, TENANT, admin, data, graphql
from vigil.application.alert_queue import AlertPage, AlertQueueFilter, AlertRow
from vigil.application.casework import Casework
from vigil.bootstrap import (
    build_read_models,
)
from vigil.graphql.context import make_context
from vigil.graphql.schema import MAX_ALIASES, build_schema
from vigil.infrastructure.settings import Settings

ACKNOWLEDGE = """
mutation Ack($id: ID!, $note: String! = "") {
  acknowledgeAlert(input: {alertId: $id, note: $note}) {
    __typename
    ... on Error { message }
    ... on InvalidInputError { field }
    ... on AlertAcknowledged { alert { id status } }
  }
}
"""
PAGE = """
query Page($first: Int!, $after: String, $status: AlertStatus) {
  alerts(first: $first, after: $after, status: $status) {
    totalCount
    edges { cursor node { id recordId status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def walk(client: AsyncTestClient[Any], first: int, **variables: Any) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        page = (await data(client, PAGE, first=first, after=after, **variables))["alerts"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


async def test_paging_with_end_cursors_visits_every_alert_exactly_once(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    for start in (0, 3, 5):  # three batches, and ties on raised_at inside each
        desk.raise_alerts(detections(2 if start == 3 else 3, start=start))
    desk.raise_alerts(detections(2, start=10, tenant_id="other"))
    await project()

    pages = await walk(client, first=3)

    seen = [alert_id for page in pages for alert_id in ids(page)]
    assert [len(page["edges"]) for page in pages] == [3, 3, 2]
    assert sorted(seen) == sorted(str(d.alert_id) for d in detections(8))
    assert {page["totalCount"] for page in pages} == {8}
    assert pages[-1]["pageInfo"]["hasNextPage"] is False


async def test_cursors_stay_put_while_new_alerts_arrive(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    desk.raise_alerts(detections(3))
    desk.raise_alerts(detections(3, start=3))
    await project()
    first_page = (await data(client, PAGE, first=2))["alerts"]
    desk.raise_alerts(detections(4, start=100))  # newer: they go to the front of the queue
    await project()

    rest = [
        edge["node"]["recordId"]
        for page in await walk_from(client, first_page)
        for edge in page["edges"]
    ]

    first_ids = [edge["node"]["recordId"] for edge in first_page["edges"]]
    assert sorted(first_ids + rest) == sorted(f"tx-{n}" for n in range(6))


async def walk_from(client: AsyncTestClient[Any], page: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    while page["pageInfo"]["hasNextPage"]:
        after = page["pageInfo"]["endCursor"]
        page = (await data(client, PAGE, first=2, after=after))["alerts"]
        pages.append(page)
    return pages


async def test_an_edge_cursor_resumes_right_after_its_edge(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    desk.raise_alerts(detections(7))
    await project()
    page = (await data(client, PAGE, first=5))["alerts"]

    resumed = (await data(client, PAGE, first=2, after=page["edges"][1]["cursor"]))["alerts"]
    again = (await data(client, PAGE, first=2, after=page["edges"][1]["cursor"]))["alerts"]

    assert ids(resumed) == ids(page)[2:4]
    assert resumed == again
    assert resumed["edges"][-1]["cursor"] == resumed["pageInfo"]["endCursor"]


async def test_the_status_filter_and_total_count_follow_the_read_model(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    alerts = detections(5)
    desk.raise_alerts(alerts)
    for detection in alerts[:2]:
        desk.acknowledge(TENANT, detection.alert_id, "ann")
    await project()

    acknowledged = (await data(client, PAGE, first=10, status="ACKNOWLEDGED"))["alerts"]
    still_open = (await data(client, PAGE, first=10, status="OPEN"))["alerts"]

    assert acknowledged["totalCount"] == 2
    assert sorted(ids(acknowledged)) == sorted(str(d.alert_id) for d in alerts[:2])
    assert {edge["node"]["status"] for edge in acknowledged["edges"]} == {"ACKNOWLEDGED"}
    assert still_open["totalCount"] == 3


async def test_an_alerts_timeline_shows_it_raised_then_acknowledged_and_by_whom(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    (detection,) = detections(1)
    desk.raise_alerts([detection])
    acked = await data(client, ACKNOWLEDGE, id=str(detection.alert_id), note="calling the bank")
    await project()

    query = "query($id: ID!) { alert(id: $id) { status record timeline { event actor details } } }"
    alert = (await data(client, query, id=str(detection.alert_id)))["alert"]

    assert acked["acknowledgeAlert"]["alert"]["status"] == "ACKNOWLEDGED"
    assert alert["status"] == "ACKNOWLEDGED"
    assert alert["record"] == {"TX_AMOUNT": 10.5, "TERMINAL_ID": "terminal-0"}
    assert [(e["event"], e["actor"]) for e in alert["timeline"]] == [
        ("Raised", "system:detector"),
        ("Acknowledged", ANALYST),
    ]
    assert alert["timeline"][1]["details"]["note"] == "calling the bank"


async def test_acknowledging_twice_answers_with_an_error_not_an_exception(
    client: AsyncTestClient[Any], desk: Casework
) -> None:
    (detection,) = detections(1)
    desk.raise_alerts([detection])

    await data(client, ACKNOWLEDGE, id=str(detection.alert_id))
    second = (await data(client, ACKNOWLEDGE, id=str(detection.alert_id)))["acknowledgeAlert"]

    assert second["__typename"] == "AlertAlreadyAcknowledgedError"
    assert "already acknowledged" in second["message"]
    assert [e.event for e in desk.timeline(TENANT, detection.alert_id)] == [
        "Raised",
        "Acknowledged",
    ]


async def test_a_closed_alert_cannot_be_acknowledged(
    client: AsyncTestClient[Any], desk: Casework
) -> None:
    (detection,) = detections(1)
    desk.raise_alerts([detection])
    desk.resolve(TENANT, detection.alert_id, "ann", "refund issued")

    result = (await data(client, ACKNOWLEDGE, id=str(detection.alert_id)))["acknowledgeAlert"]

    assert result["__typename"] == "AlertClosedError"


async def test_acknowledging_an_unknown_or_malformed_id_answers_with_typed_errors(
    client: AsyncTestClient[Any],
) -> None:
    unknown = (await data(client, ACKNOWLEDGE, id=str(uuid.uuid4())))["acknowledgeAlert"]
    malformed = (await data(client, ACKNOWLEDGE, id="tx-1"))["acknowledgeAlert"]

    assert unknown["__typename"] == "AlertNotFoundError"
    assert (malformed["__typename"], malformed["field"]) == ("InvalidInputError", "alertId")


async def test_another_tenants_alert_is_invisible_and_cannot_be_acknowledged(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    (theirs,) = detections(1, tenant_id="other")
    desk.raise_alerts([theirs])
    await project()

    query = "query($id: ID!) { alert(id: $id) { id } alerts { totalCount } }"
    seen = await data(client, query, id=str(theirs.alert_id))
    acked = (await data(client, ACKNOWLEDGE, id=str(theirs.alert_id)))["acknowledgeAlert"]

    assert seen == {"alert": None, "alerts": {"totalCount": 0}}
    assert acked["__typename"] == "AlertNotFoundError"
    assert [e.event for e in desk.timeline("other", theirs.alert_id)] == ["Raised"]


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_a_page_size_outside_1_to_500_is_refused_naming_the_field(
    client: AsyncTestClient[Any], first: int
) -> None:
    body = await graphql(client, PAGE, first=first)

    (error,) = body["errors"]
    assert error["message"].startswith("first:")
    assert error["extensions"]["field"] == "first"
    assert body["data"] is None


async def test_a_cursor_the_api_did_not_hand_out_is_refused_naming_the_field(
    client: AsyncTestClient[Any],
) -> None:
    body = await graphql(client, PAGE, first=5, after="not-a-cursor")

    assert body["errors"][0]["extensions"]["field"] == "after"


async def test_a_query_deeper_than_the_limit_is_refused(
    desk: Casework, settings: Settings, read_engine: AsyncEngine
) -> None:
    class UnreadQueue:
        async def page(self, where: AlertQueueFilter, first: int, after: str | None) -> AlertPage:
            raise AssertionError("a refused query reads nothing")

        async def get(self, tenant_id: str, alert_id: uuid.UUID) -> AlertRow | None:
            raise AssertionError("a refused query reads nothing")

    shallow = build_schema(max_depth=3)
    query = "{ alerts { edges { node { timeline { actor } } } } }"  # depth 4

    result = await shallow.execute(
        query,
        context_value=make_context(
            desk,
            replace(build_read_models(settings, read_engine), alert_queue=UnreadQueue()),
            TENANT,
            ANALYST,
            principal=admin(),
        ),
    )

    assert result.errors is not None
    assert "exceeds maximum operation depth of 3" in result.errors[0].message


async def test_a_query_with_too_many_aliases_is_refused(client: AsyncTestClient[Any]) -> None:
    aliases = " ".join(f"a{n}: alerts {{ totalCount }}" for n in range(MAX_ALIASES + 1))

    body = await graphql(client, f"{{ {aliases} }}")

    assert "aliases" in body["errors"][0]["message"]
