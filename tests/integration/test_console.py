"""The analyst console: the queue, an alert's page and the Acknowledge form, on real stores."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.builders import detections
from tests.console_client import csrf_token, sign_in
from tests.graphql_client import ANALYST, TENANT
from tests.integration.conftest import PASSWORD
from vigil.application.casework import Casework
from vigil.domain.alert import Detection, Severity
from vigil.infrastructure.settings import Settings
from vigil.web.alert_pages import PAGE_SIZE
from vigil.web.app import LifespanHook
from vigil.web.auth import API_KEY_HEADER


@pytest.fixture
def settings(sqlite_settings: Settings) -> Settings:
    """The console reads only through the ports the GraphQL tests run on both stores."""
    return sqlite_settings


@pytest.fixture
async def client(client: AsyncTestClient[Any]) -> AsyncTestClient[Any]:
    """The console as an analyst uses it: signed in through its form, holding a session cookie
    and no API key."""
    del client.headers[API_KEY_HEADER]
    await sign_in(client, ANALYST, PASSWORD)
    return client


@pytest.fixture
def startup_saw() -> list[bool]:
    return []


@pytest.fixture
def startup_hooks(startup_saw: list[bool]) -> list[LifespanHook]:
    """Records whether the app already called itself ready when the startup hooks ran."""

    def record_readiness(app: Litestar) -> None:
        startup_saw.append(bool(app.state.get("ready", False)))

    return [record_readiness]


@pytest.fixture
async def raised_alert(desk: Casework, project: Any) -> Detection:
    (detection,) = detections(1)
    desk.raise_alerts([detection])
    await project()
    return detection


async def test_healthz_answers_ok_once_every_startup_hook_has_run(
    client: AsyncTestClient[Any], startup_saw: list[bool]
) -> None:
    response = await client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert startup_saw == [False]


async def test_the_queue_lists_the_tenants_alerts_with_counts(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    desk.raise_alerts(detections(3))
    desk.raise_alerts(detections(1, start=50, tenant_id="other"))
    desk.acknowledge(TENANT, detections(1)[0].alert_id, "ann")
    await project()

    page = await client.get("/")

    assert page.status_code == 200
    assert all(f">tx-{n}</a>" in page.text for n in range(3))
    assert "tx-50" not in page.text
    assert "3 alerts" in page.text
    assert re.search(r'Open <span class="count">2</span>', page.text)
    assert re.search(r'Acknowledged <span class="count">1</span>', page.text)
    assert "/static/console.css" in page.text


async def test_the_queue_filters_by_status_and_severity(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    desk.raise_alerts(detections(2, severity=Severity.CRITICAL))
    desk.raise_alerts(detections(2, start=2, severity=Severity.MEDIUM))
    desk.acknowledge(TENANT, detections(1)[0].alert_id, "ann")
    await project()

    page = await client.get("/", params={"status": "open", "severity": "critical"})
    refused = await client.get("/", params={"severity": "apocalyptic"})

    assert re.findall(r">(tx-\d+)</a>", page.text) == ["tx-1"]
    assert refused.status_code == 400
    assert "severity" in refused.text


async def test_the_queue_links_to_the_next_page_when_there_is_one(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    desk.raise_alerts(detections(PAGE_SIZE + 3))
    await project()

    first = await client.get("/")
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert next_link is not None
    second = await client.get(next_link.group(1).replace("&amp;", "&"))

    assert len(re.findall(r">(tx-\d+)</a>", first.text)) == PAGE_SIZE
    assert len(re.findall(r">(tx-\d+)</a>", second.text)) == 3
    assert 'rel="next"' not in second.text
    assert "First page" in second.text


async def test_the_detail_page_shows_the_record_scores_and_timeline(
    client: AsyncTestClient[Any], raised_alert: Detection
) -> None:
    page = await client.get(f"/alerts/{raised_alert.alert_id}")

    assert page.status_code == 200
    assert "TERMINAL_ID" in page.text
    assert "terminal-0" in page.text
    assert "0.8125" in page.text
    assert "0.6000" in page.text
    assert "cards-iforest" in page.text
    assert "<td>Raised</td>" in page.text
    assert "system:detector" in page.text


async def test_acknowledging_without_a_csrf_token_is_refused(
    client: AsyncTestClient[Any], desk: Casework, raised_alert: Detection
) -> None:
    await client.get(f"/alerts/{raised_alert.alert_id}")  # a CSRF cookie, but no token

    response = await client.post(
        f"/alerts/{raised_alert.alert_id}/acknowledge", data={"note": "forged"}
    )

    assert response.status_code == 403
    assert [e.event for e in desk.timeline(TENANT, raised_alert.alert_id)] == ["Raised"]


async def test_acknowledging_with_the_token_records_it_and_redirects_to_the_alert(
    client: AsyncTestClient[Any], desk: Casework, raised_alert: Detection
) -> None:
    path = f"/alerts/{raised_alert.alert_id}"
    token = await csrf_token(client, path)

    response = await client.post(
        f"{path}/acknowledge",
        data={"note": "looking", "_csrf_token": token},
        follow_redirects=False,
    )
    shown = await client.get(response.headers["location"])

    assert (response.status_code, response.headers["location"]) == (303, path)
    timeline = desk.timeline(TENANT, raised_alert.alert_id)
    assert [(e.event, e.actor) for e in timeline] == [
        ("Raised", "system:detector"),
        ("Acknowledged", ANALYST),
    ]
    assert "<td>Acknowledged</td>" in shown.text
    assert ANALYST in shown.text


async def test_a_refused_acknowledgement_shows_the_reason_next_to_the_form(
    client: AsyncTestClient[Any], desk: Casework, raised_alert: Detection
) -> None:
    desk.acknowledge(TENANT, raised_alert.alert_id, "ann")
    path = f"/alerts/{raised_alert.alert_id}"
    token = await csrf_token(client, path)

    response = await client.post(f"{path}/acknowledge", data={"_csrf_token": token})

    assert response.status_code == 409
    assert re.search(r'class="error"[^>]*>[^<]*already acknowledged', response.text)


@pytest.mark.parametrize("alert_id", [str(uuid.uuid4()), "not-an-alert-id"])
async def test_an_unknown_alert_gets_the_not_found_page(
    client: AsyncTestClient[Any], alert_id: str
) -> None:
    response = await client.get(f"/alerts/{alert_id}")

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text
    assert "Back to the alert queue" in response.text


async def test_another_tenants_alert_is_not_found(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    (theirs,) = detections(1, tenant_id="other")
    desk.raise_alerts([theirs])
    await project()

    response = await client.get(f"/alerts/{theirs.alert_id}")

    assert response.status_code == 404


async def test_graphql_is_not_behind_the_consoles_csrf_check(
    client: AsyncTestClient[Any], caller_key: str
) -> None:
    query = {"query": "{ alerts { totalCount } }"}

    response = await client.post("/graphql", json=query, headers={API_KEY_HEADER: caller_key})

    assert response.json() == {"data": {"alerts": {"totalCount": 0}}}


async def test_the_consoles_session_does_not_sign_graphql_requests_in(
    client: AsyncTestClient[Any],
) -> None:
    """A cookie would ride along on cross-site requests; the API wants a header."""
    response = await client.post("/graphql", json={"query": "{ alerts { totalCount } }"})

    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
