"""Personal fields of alert records: masked over GraphQL and in the console, revealed in clear
only with pii:reveal and a reason, and every reveal on the alert's timeline."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.builders import T0, detection
from tests.console_client import csrf_token, sign_in
from tests.graphql_client import ANALYST, TENANT, data
from tests.integration.conftest import PASSWORD, api_key_of
from vigil.application.casework import Casework
from vigil.domain.alert import Detection
from vigil.domain.personal_data import MASK
from vigil.infrastructure.settings import PiiSettings, Settings
from vigil.web.auth import API_KEY_HEADER

HOLDER = "Ada Lovelace"

ALERT = """
query Alert($id: ID!) {
  alert(id: $id) { record timeline { event actor details } }
}
"""

REVEAL = """
mutation Reveal($id: ID!, $fields: [String!]!, $reason: String!) {
  revealPersonalData(input: {alertId: $id, fields: $fields, reason: $reason}) {
    __typename
    ... on PersonalDataRevealed { values }
    ... on InvalidInputError { field message }
  }
}
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The store under test, with the cards source's card holder marked personal."""
    return settings.model_copy(update={"pii": PiiSettings(fields={"cards": ["CARD_HOLDER"]})})


@pytest.fixture
async def alert_on_a_cardholder(desk: Casework, project: Any) -> Detection:
    record = {"TX_AMOUNT": 12.5, "CARD_HOLDER": HOLDER, "TERMINAL_ID": "terminal-7"}
    found = detection("tx-ada", tenant_id=TENANT, record=record, occurred_at=T0)
    desk.raise_alerts([found])
    await project()
    return found


async def console_of(
    client: AsyncTestClient[Any], settings: Settings, username: str, *roles: str
) -> AsyncTestClient[Any]:
    """The client as a browser signed in to the console as a new user with these roles."""
    del client.headers[API_KEY_HEADER]
    api_key_of(settings, username, *roles)
    await sign_in(client, username, PASSWORD)
    return client


async def test_graphql_shows_the_personal_field_masked_in_the_record_and_the_timeline(
    client: AsyncTestClient[Any], alert_on_a_cardholder: Detection
) -> None:
    alert = (await data(client, ALERT, id=str(alert_on_a_cardholder.alert_id)))["alert"]

    assert alert["record"] == {
        "TX_AMOUNT": 12.5,
        "CARD_HOLDER": MASK + "lace",
        "TERMINAL_ID": "terminal-7",
    }
    assert HOLDER not in str(alert["timeline"])


async def test_a_reveal_answers_in_clear_and_stands_on_the_timeline_with_who_and_why(
    client: AsyncTestClient[Any], alert_on_a_cardholder: Detection
) -> None:
    alert_id = str(alert_on_a_cardholder.alert_id)

    answer = await data(client, REVEAL, id=alert_id, fields=["CARD_HOLDER"], reason="callback")

    assert answer["revealPersonalData"] == {
        "__typename": "PersonalDataRevealed",
        "values": {"CARD_HOLDER": HOLDER},
    }
    timeline = (await data(client, ALERT, id=alert_id))["alert"]["timeline"]
    assert timeline[-1] == {
        "event": "PiiRevealed",
        "actor": ANALYST,
        "details": {"tenant_id": TENANT, "fields": ["CARD_HOLDER"], "reason": "callback"},
    }
    assert HOLDER not in str(timeline), "a reveal leaves the record masked for the next reader"


async def test_a_reveal_of_a_field_that_is_not_personal_is_refused_naming_it(
    client: AsyncTestClient[Any], desk: Casework, alert_on_a_cardholder: Detection
) -> None:
    alert_id = str(alert_on_a_cardholder.alert_id)

    answer = await data(client, REVEAL, id=alert_id, fields=["TX_AMOUNT"], reason="curious")

    assert answer["revealPersonalData"]["field"] == "fields"
    assert "TX_AMOUNT" in answer["revealPersonalData"]["message"]
    assert [e.event for e in desk.timeline(TENANT, alert_on_a_cardholder.alert_id)] == ["Raised"]


async def test_the_console_masks_the_field_and_reveals_it_to_a_pii_reviewer_on_the_record(
    client: AsyncTestClient[Any],
    settings: Settings,
    desk: Casework,
    alert_on_a_cardholder: Detection,
) -> None:
    browser = await console_of(client, settings, "ivy", "analyst", "pii_reviewer")
    page = f"/alerts/{alert_on_a_cardholder.alert_id}"
    masked_page = await browser.get(page)
    form = {"reason": "calling the cardholder", "_csrf_token": await csrf_token(browser, page)}

    revealed = await browser.post(f"{page}/reveal", data=form)
    again = await browser.get(page)

    assert HOLDER not in masked_page.text
    assert "Reveal personal fields" in masked_page.text
    assert revealed.status_code == 200
    assert HOLDER in revealed.text
    assert HOLDER not in again.text
    last = desk.timeline(TENANT, alert_on_a_cardholder.alert_id)[-1]
    assert (last.event, last.actor, last.details["reason"]) == (
        "PiiRevealed",
        "ivy",
        "calling the cardholder",
    )


async def test_an_analyst_without_pii_reveal_is_offered_no_reveal_and_refused_one(
    client: AsyncTestClient[Any],
    settings: Settings,
    desk: Casework,
    alert_on_a_cardholder: Detection,
) -> None:
    browser = await console_of(client, settings, "ann", "analyst")
    page = f"/alerts/{alert_on_a_cardholder.alert_id}"
    shown = await browser.get(page)
    form = {"reason": "curious", "_csrf_token": await csrf_token(browser, page)}

    refused = await browser.post(f"{page}/reveal", data=form)

    assert "Reveal personal fields" not in shown.text
    assert refused.status_code == 403
    assert HOLDER not in refused.text
    assert [e.event for e in desk.timeline(TENANT, alert_on_a_cardholder.alert_id)] == ["Raised"]


async def test_a_console_reveal_without_a_reason_is_refused_next_to_its_form(
    client: AsyncTestClient[Any],
    settings: Settings,
    desk: Casework,
    alert_on_a_cardholder: Detection,
) -> None:
    browser = await console_of(client, settings, "ivy", "analyst", "pii_reviewer")
    page = f"/alerts/{alert_on_a_cardholder.alert_id}"
    form = {"reason": "  ", "_csrf_token": await csrf_token(browser, page)}

    refused = await browser.post(f"{page}/reveal", data=form)

    assert refused.status_code == 422
    assert re.search(r'class="error"[^>]*>[^<]*reason', refused.text)
    assert HOLDER not in refused.text
    assert [e.event for e in desk.timeline(TENANT, alert_on_a_cardholder.alert_id)] == ["Raised"]
