"""The alert queue's filters over GraphQL: assignee, entity, model version, score and time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.testing import AsyncTestClient

from tests.builders import detection
from tests.graphql_client import TENANT, data
from vigil.application.casework import Casework

FILTERED = """
query Filtered($filter: AlertFilterInput) {
  alerts(first: 50, filter: $filter) { totalCount edges { node { recordId } } }
}"""

Project = Callable[[], Awaitable[None]]


async def record_ids(client: AsyncTestClient[Any], **filter: Any) -> list[str]:
    page = (await data(client, FILTERED, filter=filter))["alerts"]
    assert page["totalCount"] == len(page["edges"])
    return sorted(edge["node"]["recordId"] for edge in page["edges"])


async def test_each_filter_narrows_the_queue_and_they_combine(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    desk.raise_alerts(
        [
            detection("low", tenant_id=TENANT, score=0.61, entity_id="customer-1"),
            detection("mid", tenant_id=TENANT, score=0.75, entity_id="customer-1"),
            detection("high", tenant_id=TENANT, score=0.95, entity_id="customer-2"),
        ]
    )
    later = desk.raise_alerts(
        [detection("newer", tenant_id=TENANT, score=0.9, model_version="cd" * 32)]
    )
    assert later.raised == 1
    desk.assign(TENANT, detection("mid", tenant_id=TENANT).alert_id, "lead", "ann")
    await project()

    assert await record_ids(client, entityId="customer-1") == ["low", "mid"]
    assert await record_ids(client, assignee="ann") == ["mid"]
    assert await record_ids(client, minScore=0.7, maxScore=0.92) == ["mid", "newer"]
    assert await record_ids(client, modelVersion="cd" * 32) == ["newer"]
    assert await record_ids(client, entityId="customer-1", minScore=0.7) == ["mid"]
    # The desk's clock ticks a second a command: the second batch was raised at 09:00:02.
    assert await record_ids(client, raisedFrom="2026-11-25T09:00:02+00:00") == ["newer"]
    assert await record_ids(client, raisedUntil="2026-11-25T09:00:02+00:00") == [
        "high",
        "low",
        "mid",
    ]
    newest = (await data(client, FILTERED, filter={}))["alerts"]["edges"][0]["node"]["recordId"]
    assert newest == "newer"
