"""Tags and comments over GraphQL on SQLite and PostgreSQL, from the command to the read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.testing import AsyncTestClient

from tests.builders import detections
from tests.graphql_client import ANALYST, TENANT, data
from vigil.application.casework import Casework
from vigil.domain.case import Priority

Project = Callable[[], Awaitable[None]]

TAG_ALERT = """
mutation Tag($id: ID!, $tag: String!) {
  tagAlert(input: {id: $id, tag: $tag}) {
    __typename
    ... on AlertChanged { alert { tags } }
    ... on InvalidInputError { field message }
  }
}"""

TAG_CASE = """
mutation Tag($id: ID!, $tag: String!) {
  tagCase(input: {id: $id, tag: $tag}) { __typename ... on CaseChanged { case { tags } } }
}"""

READ_BACK = """
query Both($alert: ID!, $case: ID!) {
  alert(id: $alert) { tags comments { author text } }
  case(id: $case) { tags comments { author text } }
}"""


async def test_tags_and_comments_reach_the_read_model_and_a_bad_tag_names_the_field(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    found = detections(2, tenant_id=TENANT)
    desk.raise_alerts(found)
    alert_id = str(found[0].alert_id)
    case = desk.open_case(TENANT, "ann", "Mule ring", Priority.HIGH, [found[1].alert_id])

    tagged = await data(client, TAG_ALERT, id=alert_id, tag="Mule")
    assert tagged["tagAlert"] == {"__typename": "AlertChanged", "alert": {"tags": ["mule"]}}
    await data(client, TAG_ALERT, id=alert_id, tag="vip")
    refused = await data(client, TAG_ALERT, id=alert_id, tag="not a tag")
    assert refused["tagAlert"]["__typename"] == "InvalidInputError"
    assert refused["tagAlert"]["field"] == "tag"
    case_tagged = await data(client, TAG_CASE, id=str(case.id), tag="mule-ring")
    assert case_tagged["tagCase"]["case"]["tags"] == ["mule-ring"]
    desk.comment(TENANT, found[0].alert_id, "bob", "called the cardholder")
    desk.comment_on_case(TENANT, case.id, "ann", "three accounts share a device")

    await project()
    read = await data(client, READ_BACK, alert=alert_id, case=str(case.id))
    assert read["alert"] == {
        "tags": ["mule", "vip"],
        "comments": [{"author": "bob", "text": "called the cardholder"}],
    }
    assert read["case"] == {
        "tags": ["mule-ring"],
        "comments": [{"author": "ann", "text": "three accounts share a device"}],
    }
    timeline = desk.timeline(TENANT, found[0].alert_id)
    assert [(e.event, e.actor) for e in timeline][1:3] == [
        ("Tagged", ANALYST),
        ("Tagged", ANALYST),
    ]
