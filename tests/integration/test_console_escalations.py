"""The console's escalation policies and notification subscriptions: applying policy documents
through the form, refusals that name the line and field and record nothing, disabling with a
reason on the record, a webhook's signing secret shown once, who may use which form, and
tenants kept apart."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient

from tests.console_client import csrf_token, sign_in
from tests.graphql_client import TENANT
from tests.integration.conftest import PASSWORD, api_key_of
from vigil.application.casework import Casework
from vigil.application.notifications import find_subscription
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

POLICIES = (
    Path(__file__).resolve().parents[2] / "examples" / "policies" / "card_escalations.yaml"
).read_text()
"""Two policies, cards-critical and cards-high-amount, as `vigil policies apply` takes them."""

OTHER_TENANT = "other-bank"


@pytest.fixture
async def browser(client: AsyncTestClient[Any], settings: Settings) -> AsyncTestClient[Any]:
    """The console signed in as Ada, the tenant's admin."""
    del client.headers[API_KEY_HEADER]
    api_key_of(settings, "ada", "admin")
    assert (await sign_in(client, "ada", PASSWORD)).status_code == 303
    return client


@pytest.fixture
async def card_policies(browser: AsyncTestClient[Any]) -> None:
    applied = await apply_form(browser, POLICIES, "from the handbook")
    assert (applied.status_code, applied.headers["location"]) == (303, "/policies")


async def apply_form(browser: AsyncTestClient[Any], document: str, note: str = "") -> Response:
    token = await csrf_token(browser, "/policy-documents/new")
    form = {"document": document, "note": note, "_csrf_token": token}
    return await browser.post("/policy-documents", data=form, follow_redirects=False)


async def post_form(browser: AsyncTestClient[Any], path: str, **fields: str) -> Response:
    """Posts a form with a CSRF token from a page every reader of policies may open."""
    token = await csrf_token(browser, "/subscriptions")
    return await browser.post(path, data={**fields, "_csrf_token": token}, follow_redirects=False)


async def new_webhook(browser: AsyncTestClient[Any], name: str = "fraud-hooks") -> Response:
    return await post_form(
        browser,
        "/subscriptions",
        name=name,
        channel="webhook",
        url="https://hooks.example.test/vigil",
        groups="on-call, team-lead",
    )


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def row_of(html: str, link: str) -> str:
    found = re.search(rf'<tr>\s*<td><a href="{re.escape(link)}">.*?</tr>', html, re.S)
    assert found is not None, f"a row links to {link}"
    return text_of(found.group(0))


async def test_an_admin_applies_a_policy_document_through_the_form_and_sees_it_listed(
    browser: AsyncTestClient[Any],
) -> None:
    form = await browser.get("/policy-documents/new")
    applied = await apply_form(browser, POLICIES, "from the handbook")
    listed = await browser.get("/policies")
    page = await browser.get("/policies/cards-critical")

    assert form.status_code == 200
    assert '<textarea id="document" name="document"' in form.text
    assert (applied.status_code, applied.headers["location"]) == (303, "/policies")
    assert listed.status_code == 200
    assert '<a href="/policies" aria-current="page">Escalation policies</a>' in listed.text
    critical = row_of(listed.text, "/policies/cards-critical")
    assert "enabled severity at least critical; sources cards" in critical
    assert "after 0m notify on-call after 15m notify team-lead" in critical
    assert "acknowledged, linked_to_case, resolved, dismissed 1 ada" in critical
    high = row_of(listed.text, "/policies/cards-high-amount")
    assert "record TX_AMOUNT above 5000" in high
    assert "after 30m notify fraud-team, then every 1h, 3 more times" in high
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "cards-critical enabled revision 1" in shown
    assert re.search(r"1 Defined ada \S+ \S+ from the handbook", shown)
    assert "name: cards-critical" in unescape(page.text)
    assert "- after: 15m" in unescape(page.text)
    assert 'action="/policies/cards-critical/disable"' in page.text


async def test_a_refused_policy_document_names_its_line_and_field_and_saves_nothing(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    bad = POLICIES.replace("  - after: 15m", "  - after: soon")
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "after: soon" in text)
    before = desk.recorder.max_notification_id()

    response = await apply_form(browser, bad, "typo")

    assert response.status_code == 422
    error = re.search(r'<p class="error" id="document-error"[^>]*>(.*?)</p>', response.text, re.S)
    assert error is not None
    said = text_of(error.group(1))
    assert said.startswith(f"line {line} , steps[1].after : 'soon' is not a delay"), said
    assert "after: soon" in unescape(response.text.split("<textarea", 1)[1])
    assert f'<li id="line-{line}" class="fault"' in response.text
    assert 'value="typo"' in response.text
    assert desk.recorder.max_notification_id() == before
    assert "No escalation policy is defined yet." in (await browser.get("/policies")).text


@pytest.mark.usefixtures("card_policies")
async def test_disabling_a_policy_needs_a_reason_and_shows_in_its_history(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    before = desk.recorder.max_notification_id()

    unexplained = await post_form(browser, "/policies/cards-critical/disable", reason=" ")
    unknown = await post_form(browser, "/policies/cards-critical/delete", reason="gone")
    recorded = desk.recorder.max_notification_id()
    disabled = await post_form(browser, "/policies/cards-critical/disable", reason="paging storm")
    page = await browser.get("/policies/cards-critical")

    assert unexplained.status_code == 422
    assert "reason : must not be empty" in text_of(unexplained.text)
    assert unknown.status_code == 404  # a policy is disabled or enabled, nothing else
    assert recorded == before
    assert (disabled.status_code, disabled.headers["location"]) == (303, "/policies/cards-critical")
    shown = text_of(page.text)
    assert "cards-critical disabled revision 1" in shown
    assert re.search(r"1 Disabled ada \S+ \S+ paging storm 1 Defined ada", shown)
    assert 'action="/policies/cards-critical/enable"' in page.text
    assert "disabled" in row_of((await browser.get("/policies")).text, "/policies/cards-critical")


@pytest.mark.usefixtures("card_policies")
async def test_an_analyst_sees_the_pages_but_is_refused_every_form(
    browser: AsyncTestClient[Any], settings: Settings, desk: Casework
) -> None:
    assert (await new_webhook(browser)).status_code == 201
    api_key_of(settings, "ana", "analyst")
    assert (await sign_in(browser, "ana", PASSWORD)).status_code == 303
    before = desk.recorder.max_notification_id()

    pages = [await browser.get(path) for path in ("/policies", "/policies/cards-critical")]
    subscriptions = await browser.get("/subscriptions")
    refused = [
        (await post_form(browser, path, **fields)).status_code
        for path, fields in [
            ("/policy-documents", {"document": POLICIES}),
            ("/policies/cards-critical/disable", {"reason": "mine now"}),
            ("/subscriptions", {"name": "ana-hooks", "channel": "email", "recipients": "a@b.cd"}),
            ("/subscriptions/fraud-hooks/pause", {"reason": "quiet"}),
            ("/subscriptions/fraud-hooks/remove", {"reason": "gone"}),
        ]
    ]

    assert [page.status_code for page in pages] == [200, 200]
    assert ">Escalation policies</a>" in pages[0].text
    assert "Apply a document" not in pages[0].text
    assert "/disable" not in pages[1].text
    assert subscriptions.status_code == 200
    assert "fraud-hooks" in subscriptions.text
    assert "/pause" not in subscriptions.text
    assert "New subscription" not in subscriptions.text
    assert (await browser.get("/policy-documents/new")).status_code == 403
    assert refused == [403] * 5
    assert desk.recorder.max_notification_id() == before


async def test_an_admin_creates_a_webhook_subscription_and_sees_its_secret_exactly_once(
    browser: AsyncTestClient[Any],
) -> None:
    created = await new_webhook(browser)
    listed = await browser.get("/subscriptions")

    assert created.status_code == 201
    secret = re.search(r'<code id="signing-secret">([^<]+)</code>', created.text)
    assert secret is not None
    assert created.text.count(secret.group(1)) == 1
    assert "It will not be shown again" in created.text
    assert secret.group(1) not in listed.text
    shown = text_of(listed.text)
    assert "fraud-hooks webhook on-call, team-lead every policy" in shown
    assert "https://hooks.example.test/vigil signed, secret sha256:" in shown
    assert "active" in shown


async def test_a_slack_subscription_shows_only_its_host_and_can_be_paused_and_removed(
    browser: AsyncTestClient[Any],
) -> None:
    slack_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    created = await post_form(
        browser, "/subscriptions", name="team-slack", channel="slack", url=slack_url, groups="x"
    )
    paused = await post_form(browser, "/subscriptions/team-slack/pause", reason="holiday")
    after_pause = await browser.get("/subscriptions")
    removed = await post_form(browser, "/subscriptions/team-slack/remove", reason="moved")
    after_remove = await browser.get("/subscriptions")

    assert created.status_code == 201
    assert "XXXXSECRET" not in created.text + after_pause.text
    assert "https://hooks.slack.com/…" in after_pause.text
    assert (paused.status_code, paused.headers["location"]) == (303, "/subscriptions")
    assert "paused" in text_of(after_pause.text)
    assert 'action="/subscriptions/team-slack/resume"' in after_pause.text
    assert removed.status_code == 303
    assert 'id="subscription-team-slack"' not in after_remove.text


async def test_an_admin_changes_what_a_subscription_receives_keeping_its_url_and_secret(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    slack_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    await post_form(
        browser, "/subscriptions", name="team-slack", channel="slack", url=slack_url, groups="x"
    )
    page = await browser.get("/subscriptions/team-slack")

    refused = await post_form(browser, "/subscriptions/team-slack", groups=" ")
    changed = await post_form(
        browser, "/subscriptions/team-slack", groups="on-call, team-lead", manual="on"
    )
    after = await browser.get("/subscriptions")

    assert page.status_code == 200
    assert "XXXXSECRET" not in page.text  # the Slack URL is a credential: never in the form
    assert refused.status_code == 422
    assert "groups" in text_of(refused.text)
    assert (changed.status_code, changed.headers["location"]) == (303, "/subscriptions")
    assert "team-slack slack on-call, team-lead, escalations by hand" in text_of(after.text)
    subscription = find_subscription(desk, TENANT, "team-slack")
    assert subscription is not None
    assert subscription.destination.url == slack_url  # a blank URL keeps the one in use
    assert (await browser.get("/subscriptions/nobody")).status_code == 404


async def test_a_refused_subscription_is_shown_again_with_the_field_at_fault(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    before = desk.recorder.max_notification_id()

    refused = await post_form(
        browser,
        "/subscriptions",
        name="mail",
        channel="email",
        recipients="not-an-address",
        groups="on-call",
    )

    assert refused.status_code == 422
    assert "recipients[0] : 'not-an-address' is no email address" in text_of(refused.text)
    assert 'value="not-an-address"' in refused.text
    assert desk.recorder.max_notification_id() == before


@pytest.mark.usefixtures("card_policies")
async def test_another_tenant_sees_none_of_the_policies_or_subscriptions(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    assert (await new_webhook(browser)).status_code == 201
    api_key_of(settings, "otto", "admin", tenant=OTHER_TENANT)
    assert (await sign_in(browser, "otto", PASSWORD, tenant=OTHER_TENANT)).status_code == 303

    policies = await browser.get("/policies")
    policy = await browser.get("/policies/cards-critical")
    subscriptions = await browser.get("/subscriptions")
    disable = await post_form(browser, "/policies/cards-critical/disable", reason="not mine")
    pause = await post_form(browser, "/subscriptions/fraud-hooks/pause", reason="not mine")

    assert "No escalation policy is defined yet." in policies.text
    assert "cards-critical" not in policies.text
    assert policy.status_code == 404
    assert "fraud-hooks" not in subscriptions.text
    assert (disable.status_code, pause.status_code) == (404, 404)
