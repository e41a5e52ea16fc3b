"""The console's half of the permission matrix: every role, signed in through the console's own
form, against every console page and form, allowed or refused exactly as `ROLE_PERMISSIONS`
says; and every page sends a browser with no session to sign in.

The routes come from the app's route list, so a new page must be guarded and named in
`CONSOLE_PERMISSIONS` before this suite passes. Forms are posted with a valid CSRF token, so a
403 here is the permission's, not the CSRF check's.
"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.app_routes import AppRoute, app_routes
from tests.console_client import csrf_token, sign_in
from tests.integration.conftest import PASSWORD, api_key_of
from vigil.application.permissions import ROLE_PERMISSIONS, Permission, Role
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

MACHINE_PREFIXES = ("/api/", "/graphql", "/healthz", "/static")
"""Not the console's: the API and probes have their own matrix (test_access_matrix)."""

PUBLIC_PAGES = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
"""The only console routes anyone may reach: signing in and out."""

CONSOLE_PERMISSIONS: dict[tuple[str, str], tuple[Permission, ...]] = {
    ("GET", "/"): (Permission.ALERTS_READ,),
    ("GET", "/alerts/{alert_id:str}"): (Permission.ALERTS_READ,),
    ("POST", "/alerts/{alert_id:str}/acknowledge"): (
        Permission.ALERTS_READ,
        Permission.ALERTS_ACT,
    ),
    ("POST", "/alerts/{alert_id:str}/reveal"): (Permission.ALERTS_READ, Permission.PII_REVEAL),
    ("GET", "/sources"): (Permission.SOURCES_READ,),
    ("GET", "/sources/{source_name:str}"): (Permission.SOURCES_READ,),
    ("POST", "/sources/{source_name:str}/replay"): (
        Permission.SOURCES_READ,
        Permission.SOURCES_MANAGE,
    ),
    ("GET", "/source-documents/new"): (Permission.SOURCES_READ, Permission.SOURCES_MANAGE),
    ("POST", "/source-documents"): (Permission.SOURCES_READ, Permission.SOURCES_MANAGE),
    ("GET", "/policies"): (Permission.ESCALATIONS_READ,),
    ("GET", "/policies/{policy_name:str}"): (Permission.ESCALATIONS_READ,),
    ("POST", "/policies/{policy_name:str}/{action:str}"): (  # disable, enable
        Permission.ESCALATIONS_READ,
        Permission.ESCALATIONS_MANAGE,
    ),
    ("GET", "/policy-documents/new"): (Permission.ESCALATIONS_READ, Permission.ESCALATIONS_MANAGE),
    ("POST", "/policy-documents"): (Permission.ESCALATIONS_READ, Permission.ESCALATIONS_MANAGE),
    ("GET", "/subscriptions"): (Permission.ESCALATIONS_READ,),
    ("POST", "/subscriptions"): (Permission.ESCALATIONS_READ, Permission.ESCALATIONS_MANAGE),
    ("GET", "/subscriptions/{subscription_name:str}"): (Permission.ESCALATIONS_READ,),
    ("POST", "/subscriptions/{subscription_name:str}"): (
        Permission.ESCALATIONS_READ,
        Permission.ESCALATIONS_MANAGE,
    ),
    ("POST", "/subscriptions/{subscription_name:str}/{action:str}"): (  # pause, resume, remove
        Permission.ESCALATIONS_READ,
        Permission.ESCALATIONS_MANAGE,
    ),
}
"""What each console page and form must need."""


def console_routes(app: Litestar) -> list[AppRoute]:
    return list(app_routes(app, lambda path: not path.startswith(MACHINE_PREFIXES)))


def guarded_pages(app: Litestar) -> list[AppRoute]:
    return [r for r in console_routes(app) if (r.method, r.path) not in PUBLIC_PAGES]


@pytest.fixture
def browser(client: AsyncTestClient[Any]) -> AsyncTestClient[Any]:
    """The app as a browser meets it: no API key, no session yet."""
    del client.headers[API_KEY_HEADER]
    return client


async def visit(browser: AsyncTestClient[Any], route: AppRoute) -> Response:
    """What the page or form answers; forms carry the browser's CSRF token."""
    if route.method == "GET":
        return await browser.get(route.url(), follow_redirects=False)
    form = {"_csrf_token": await csrf_token(browser, "/login")}
    return await browser.post(route.url(), data=form, follow_redirects=False)


async def test_every_console_page_is_public_or_in_the_console_permission_table(
    browser: AsyncTestClient[Any],
) -> None:
    guarded = {(route.method, route.path) for route in guarded_pages(browser.app)}
    public = {(route.method, route.path) for route in console_routes(browser.app)} - guarded

    assert guarded == set(CONSOLE_PERMISSIONS)
    assert public == PUBLIC_PAGES


async def test_every_console_page_sends_a_browser_without_a_session_to_sign_in(
    browser: AsyncTestClient[Any],
) -> None:
    answers = {}

    for route in guarded_pages(browser.app):
        response = await visit(browser, route)
        answers[(route.method, route.path)] = (
            response.status_code,
            response.headers.get("location", "").startswith("/login?next="),
        )

    assert set(answers.values()) == {(303, True)}, answers


@pytest.mark.parametrize("role", list(Role), ids=str)
async def test_each_role_is_refused_exactly_the_console_pages_its_permissions_do_not_cover(
    browser: AsyncTestClient[Any], settings: Settings, role: Role
) -> None:
    api_key_of(settings, f"console-{role}", role)
    signed_in = await sign_in(browser, f"console-{role}", PASSWORD)
    assert signed_in.status_code == 303, signed_in.text
    held = ROLE_PERMISSIONS[role]
    answers: dict[tuple[str, str], int | str] = {}
    expected: dict[tuple[str, str], int | str] = {}

    for route in guarded_pages(browser.app):
        key = (route.method, route.path)
        status = (await visit(browser, route)).status_code
        # Allowed, a random alert id is not found, or the empty form is refused, further on.
        answers[key] = status if status in (401, 403) else "allowed"
        expected[key] = "allowed" if all(p in held for p in CONSOLE_PERMISSIONS[key]) else 403

    assert answers == expected
