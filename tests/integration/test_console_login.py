"""Signing in to the console: the form, the session it gives, its end, and what a role may do."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.builders import detections
from tests.console_client import csrf_token, sign_in
from tests.graphql_client import TENANT
from tests.integration.conftest import PASSWORD, api_key_of
from vigil.application.casework import Casework
from vigil.application.identity import disable_user, find_user
from vigil.bootstrap import build_alert_desk
from vigil.domain.alert import Detection
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER, WRONG_LOGIN


@pytest.fixture
def settings(sqlite_settings: Settings) -> Settings:
    return sqlite_settings


@pytest.fixture
def browser(client: AsyncTestClient[Any]) -> AsyncTestClient[Any]:
    """The app as a browser meets it: no API key, no session yet."""
    del client.headers[API_KEY_HEADER]
    return client


@pytest.fixture
async def raised_alert(desk: Casework, project: Any) -> Detection:
    (detection,) = detections(1, tenant_id=TENANT)
    desk.raise_alerts([detection])
    await project()
    return detection


async def test_a_page_asked_for_without_a_session_sends_the_browser_to_sign_in(
    browser: AsyncTestClient[Any],
) -> None:
    response = await browser.get("/alerts/whatever", follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (
        303,
        "/login?next=/alerts/whatever",
    )


async def test_signing_in_opens_the_page_asked_for_and_shows_who_is_signed_in(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "ann", "analyst")

    response = await sign_in(browser, "ann", PASSWORD, next_path="/?status=open")
    page = await browser.get(response.headers["location"])

    assert (response.status_code, response.headers["location"]) == (303, "/?status=open")
    assert page.status_code == 200
    assert "ann" in page.text
    assert "Sign out" in page.text
    (session,) = (
        c.lower() for c in response.headers.get_list("set-cookie") if "vigil_session" in c
    )
    assert "httponly" in session
    assert "samesite=lax" in session


@pytest.mark.parametrize("username", ["ann", "nobody"])
async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    browser: AsyncTestClient[Any], settings: Settings, username: str
) -> None:
    api_key_of(settings, "ann", "analyst")

    response = await sign_in(browser, username, "not the password at all")

    assert response.status_code == 401
    assert WRONG_LOGIN in response.text
    assert (await browser.get("/", follow_redirects=False)).status_code == 303


async def test_the_sign_in_form_refuses_a_post_without_its_csrf_token(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "ann", "analyst")
    await browser.get("/login")

    response = await browser.post("/login", data={"username": "ann", "password": PASSWORD})

    assert response.status_code == 403


async def test_signing_in_never_sends_the_browser_to_another_site(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "ann", "analyst")

    response = await sign_in(browser, "ann", PASSWORD, next_path="//evil.example/phish")

    assert response.headers["location"] == "/"


async def test_signing_out_ends_the_session(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "ann", "analyst")
    await sign_in(browser, "ann", PASSWORD)

    token = await csrf_token(browser, "/")
    response = await browser.post("/logout", data={"_csrf_token": token}, follow_redirects=False)

    assert response.headers["location"] == "/login"
    assert (await browser.get("/", follow_redirects=False)).status_code == 303


async def test_disabling_a_user_ends_their_session(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "ann", "analyst")
    await sign_in(browser, "ann", PASSWORD)
    assert (await browser.get("/", follow_redirects=False)).status_code == 200

    admin_desk = build_alert_desk(settings)
    ann = find_user(admin_desk, TENANT, "ann")
    assert ann is not None
    disable_user(admin_desk, TENANT, ann.id, "admin", "left the team")
    admin_desk.close()

    assert (await browser.get("/", follow_redirects=False)).status_code == 303


async def test_an_auditor_reads_the_queue_but_may_not_acknowledge(
    browser: AsyncTestClient[Any], settings: Settings, desk: Casework, raised_alert: Detection
) -> None:
    api_key_of(settings, "audrey", "auditor")
    await sign_in(browser, "audrey", PASSWORD)
    path = f"/alerts/{raised_alert.alert_id}"
    token = await csrf_token(browser, path)

    response = await browser.post(f"{path}/acknowledge", data={"_csrf_token": token})

    assert response.status_code == 403
    assert "alerts:act" in response.text
    assert [e.event for e in desk.timeline(TENANT, raised_alert.alert_id)] == ["Raised"]


async def test_an_analysts_acknowledgement_is_recorded_as_theirs(
    browser: AsyncTestClient[Any], settings: Settings, desk: Casework, raised_alert: Detection
) -> None:
    api_key_of(settings, "ann", "analyst")
    await sign_in(browser, "ann", PASSWORD)
    path = f"/alerts/{raised_alert.alert_id}"
    token = await csrf_token(browser, path)

    await browser.post(f"{path}/acknowledge", data={"_csrf_token": token})

    acknowledged = desk.timeline(TENANT, raised_alert.alert_id)[-1]
    assert (acknowledged.event, acknowledged.actor) == ("Acknowledged", "ann")


async def test_a_data_engineer_is_told_the_queue_is_not_theirs(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "dee", "data_engineer")
    await sign_in(browser, "dee", PASSWORD)

    response = await browser.get("/")

    assert response.status_code == 403
    assert "alerts:read" in response.text
