"""Logging in over HTTP: access and refresh tokens, refresh and logout, throttling, the tokens an
attacker might present, and the console's CSRF check, on SQLite and on PostgreSQL with Redis.

GraphQL answers every request with 200, so a refused token shows as an UNAUTHENTICATED error on
the field asked for; the REST auth routes answer 401. Users are registered on the tests' desk,
whose clock runs from earlier today, so a token the server issues now (or a minute ago) is
newer than anything on their record until a test changes it on the wall clock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.builders import detections
from tests.console_client import csrf_token
from tests.graphql_client import TENANT
from tests.integration.conftest import PASSWORD
from vigil.application.casework import Casework
from vigil.application.identity import change_password, disable_user, register_user
from vigil.application.permissions import Role
from vigil.bootstrap import build_alert_desk, build_password_hasher
from vigil.domain.alert import Detection
from vigil.domain.user import User
from vigil.infrastructure.access_tokens import JwtAccessTokens
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

Client = AsyncTestClient[Any]
Project = Callable[[], Awaitable[None]]

LOGIN, REFRESH, LOGOUT = "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"
ALERT_COUNT = "{ alerts { totalCount } }"
NEW_PASSWORD = "a new and even longer passphrase"


def register(desk: Casework, settings: Settings, username: str, *roles: Role) -> User:
    hasher = build_password_hasher(settings)
    return register_user(desk, hasher, TENANT, "test-setup", username, PASSWORD, roles)


@pytest.fixture
def anonymous(client: Client) -> Client:
    """The tests' client without the API key it sends by default: it proves nobody."""
    client.headers.pop(API_KEY_HEADER)
    return client


@pytest.fixture
def analyst(desk: Casework, settings: Settings) -> User:
    return register(desk, settings, "ann", Role.ANALYST)


@pytest.fixture
def wall_clock_desk(settings: Settings) -> Iterator[Casework]:
    """The alerts application on the same store, on the wall clock like the server's tokens."""
    app = build_alert_desk(settings)
    yield app
    app.close()


async def login(client: Client, username: str, password: str = PASSWORD) -> httpx.Response:
    body = {"username": username, "password": password, "tenant": TENANT}
    return await client.post(LOGIN, json=body)


async def signed_in(client: Client, username: str) -> dict[str, Any]:
    """The tokens of a successful login."""
    response = await login(client, username)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refreshed(client: Client, refresh_token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": refresh_token})


async def alert_count(client: Client, token: str) -> dict[str, Any]:
    """What GraphQL answers the bearer of the token when it asks how many alerts there are."""
    bearer = {"Authorization": f"Bearer {token}"}
    response = await client.post("/graphql", json={"query": ALERT_COUNT}, headers=bearer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refusal(body: dict[str, Any]) -> str | None:
    """The code of the error a GraphQL answer carries; None when it carries none."""
    errors = body.get("errors") or [{}]
    code: str | None = errors[0].get("extensions", {}).get("code")
    return code


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return claims


def issued_by(settings: Settings, at: datetime | None = None, **auth: Any) -> JwtAccessTokens:
    """The server's own token issuer (its key, from the same settings), optionally at another
    time or with other auth settings (audience, issuer)."""
    changed = settings.model_copy(update={"auth": settings.auth.model_copy(update=auth)})
    if at is None:
        return JwtAccessTokens.from_settings(changed)
    return JwtAccessTokens.from_settings(changed, clock=lambda: at)


# Logging in -----------------------------------------------------------------------------------


async def test_a_user_logs_in_with_their_password_and_the_bearer_token_opens_graphql(
    anonymous: Client, settings: Settings, analyst: User
) -> None:
    response = await login(anonymous, "ann")

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == settings.auth.access_token_ttl.total_seconds()
    assert await alert_count(anonymous, tokens["access_token"]) == {
        "data": {"alerts": {"totalCount": 0}}
    }


async def test_a_wrong_password_an_unknown_user_and_a_disabled_user_get_the_same_401(
    anonymous: Client, desk: Casework, settings: Settings, analyst: User
) -> None:
    gone = register(desk, settings, "gone", Role.ANALYST)
    disable_user(desk, TENANT, gone.id, "admin", "left the team")

    answers = [
        await login(anonymous, "ann", "not the password of ann"),
        await login(anonymous, "nobody"),
        await login(anonymous, "gone"),
    ]

    assert [response.status_code for response in answers] == [401, 401, 401]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert "password" in answers[0].json()["detail"]


# Tokens an attacker might present -------------------------------------------------------------

Forgery = Callable[[Settings, str, User], str]


def expired(settings: Settings, _: str, user: User) -> str:
    long_ago = datetime.now(UTC) - settings.auth.access_token_ttl - timedelta(minutes=1)
    return issued_by(settings, at=long_ago).issue(user.id, TENANT, user.username, ("analyst",))[0]


def signed_with_another_key(settings: Settings, _: str, user: User) -> str:
    auth = settings.auth
    forger = JwtAccessTokens(b"an attacker's key, 32 bytes long", auth.issuer, auth.audience)
    return forger.issue(user.id, TENANT, user.username, ("analyst",))[0]


def unsigned(_: Settings, token: str, __: User) -> str:
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{token.split('.')[1]}."


def for_another_audience(settings: Settings, _: str, user: User) -> str:
    tokens = issued_by(settings, audience="billing")
    return tokens.issue(user.id, TENANT, user.username, ("analyst",))[0]


def from_another_issuer(settings: Settings, _: str, user: User) -> str:
    tokens = issued_by(settings, issuer="someone-else")
    return tokens.issue(user.id, TENANT, user.username, ("analyst",))[0]


def with_edited_claims(_: Settings, token: str, __: User) -> str:
    header, _payload, signature = token.split(".")
    return f"{header}.{_segment({**_claims(token), 'roles': ['admin']})}.{signature}"


@pytest.mark.parametrize(
    "forge",
    [
        expired,
        signed_with_another_key,
        unsigned,
        for_another_audience,
        from_another_issuer,
        with_edited_claims,
    ],
    ids=lambda forge: forge.__name__,
)
async def test_a_forged_or_expired_token_is_asked_to_sign_in(
    anonymous: Client, settings: Settings, analyst: User, forge: Forgery
) -> None:
    genuine = (await signed_in(anonymous, "ann"))["access_token"]

    answer = await alert_count(anonymous, forge(settings, genuine, analyst))

    assert refusal(await alert_count(anonymous, genuine)) is None
    assert answer["data"] is None
    assert refusal(answer) == "UNAUTHENTICATED"


async def test_a_token_claiming_roles_its_user_does_not_hold_grants_none_of_them(
    anonymous: Client, desk: Casework, settings: Settings
) -> None:
    engineer = register(desk, settings, "dirk", Role.DATA_ENGINEER)
    roles = ("data_engineer", "admin")
    token, _ = issued_by(settings).issue(engineer.id, TENANT, engineer.username, roles)

    assert refusal(await alert_count(anonymous, token)) == "FORBIDDEN"


async def test_a_token_stops_working_once_its_user_is_disabled(
    anonymous: Client, desk: Casework, analyst: User
) -> None:
    token = (await signed_in(anonymous, "ann"))["access_token"]
    assert refusal(await alert_count(anonymous, token)) is None

    disable_user(desk, TENANT, analyst.id, "admin", "laptop stolen")

    assert refusal(await alert_count(anonymous, token)) == "UNAUTHENTICATED"


async def test_a_token_issued_before_a_password_change_stops_working(
    anonymous: Client, settings: Settings, wall_clock_desk: Casework, analyst: User
) -> None:
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    token, _ = issued_by(settings, at=a_minute_ago).issue(analyst.id, TENANT, "ann", ("analyst",))
    assert refusal(await alert_count(anonymous, token)) is None
    hasher = build_password_hasher(settings)

    change_password(wall_clock_desk, hasher, TENANT, analyst.id, "ann", PASSWORD, NEW_PASSWORD)

    assert refusal(await alert_count(anonymous, token)) == "UNAUTHENTICATED"
    assert (await login(anonymous, "ann")).status_code == 401
    assert (await login(anonymous, "ann", NEW_PASSWORD)).status_code == 200


# Refreshing and logging out -------------------------------------------------------------------


async def test_refreshing_gives_a_new_pair_whose_access_token_works(
    anonymous: Client, analyst: User
) -> None:
    first = await signed_in(anonymous, "ann")

    response = await refreshed(anonymous, first["refresh_token"])

    assert response.status_code == 200, response.text
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert refusal(await alert_count(anonymous, second["access_token"])) is None


async def test_a_spent_refresh_token_is_refused_and_its_return_revokes_the_new_one_too(
    anonymous: Client, analyst: User
) -> None:
    first = await signed_in(anonymous, "ann")
    second = (await refreshed(anonymous, first["refresh_token"])).json()

    reused = await refreshed(anonymous, first["refresh_token"])
    after_reuse = await refreshed(anonymous, second["refresh_token"])

    assert reused.status_code == 401
    assert after_reuse.status_code == 401


async def test_logging_out_revokes_the_refresh_token(anonymous: Client, analyst: User) -> None:
    tokens = await signed_in(anonymous, "ann")

    response = await anonymous.post(LOGOUT, json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 204
    assert (await refreshed(anonymous, tokens["refresh_token"])).status_code == 401


async def test_a_refresh_token_of_a_user_disabled_since_is_refused(
    anonymous: Client, desk: Casework, analyst: User
) -> None:
    tokens = await signed_in(anonymous, "ann")

    disable_user(desk, TENANT, analyst.id, "admin", "laptop stolen")

    assert (await refreshed(anonymous, tokens["refresh_token"])).status_code == 401


async def test_a_refresh_token_from_before_a_password_change_is_refused(
    anonymous: Client, settings: Settings, wall_clock_desk: Casework, analyst: User
) -> None:
    tokens = await signed_in(anonymous, "ann")
    hasher = build_password_hasher(settings)

    change_password(wall_clock_desk, hasher, TENANT, analyst.id, "ann", PASSWORD, NEW_PASSWORD)

    assert (await refreshed(anonymous, tokens["refresh_token"])).status_code == 401


# Throttling -----------------------------------------------------------------------------------


async def test_after_too_many_failures_a_username_waits_even_with_the_right_password(
    anonymous: Client, settings: Settings, analyst: User
) -> None:
    for _ in range(settings.auth.failures_per_username):
        assert (await login(anonymous, "ann", "a guess at the password")).status_code == 401

    response = await login(anonymous, "ann")

    assert response.status_code == 401
    assert int(response.headers["retry-after"]) > 0


async def test_other_usernames_from_that_address_log_in_until_the_address_is_throttled(
    anonymous: Client, desk: Casework, settings: Settings, analyst: User
) -> None:
    register(desk, settings, "bob", Role.ANALYST)
    auth = settings.auth
    for _ in range(auth.failures_per_username):
        await login(anonymous, "ann", "a guess at the password")

    bob_before = await login(anonymous, "bob")
    for n in range(auth.failures_per_address - auth.failures_per_username):
        await login(anonymous, f"guess-{n}", "a guess at the password")
    bob_after = await login(anonymous, "bob")

    assert bob_before.status_code == 200
    assert "retry-after" not in bob_before.headers
    assert bob_after.status_code == 401
    assert int(bob_after.headers["retry-after"]) > 0


# The console's CSRF check ---------------------------------------------------------------------


@pytest.fixture
async def raised_alert(desk: Casework, project: Project) -> Detection:
    (detection,) = detections(1)
    desk.raise_alerts([detection])
    await project()
    return detection


def _wrong(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


@pytest.mark.parametrize(
    "token_of", [lambda token: None, _wrong], ids=["without a token", "with a wrong token"]
)
async def test_a_console_form_post_without_its_csrf_token_or_with_a_wrong_one_is_refused(
    client: Client,
    desk: Casework,
    raised_alert: Detection,
    token_of: Callable[[str], str | None],
) -> None:
    page = f"/alerts/{raised_alert.alert_id}"
    sent = token_of(await csrf_token(client, page))
    form = {"note": "forged"} if sent is None else {"note": "forged", "_csrf_token": sent}

    response = await client.post(f"{page}/acknowledge", data=form)

    assert response.status_code == 403
    assert [entry.event for entry in desk.timeline(TENANT, raised_alert.alert_id)] == ["Raised"]


async def test_a_console_form_post_with_its_csrf_token_is_recorded(
    client: Client, desk: Casework, raised_alert: Detection
) -> None:
    page = f"/alerts/{raised_alert.alert_id}"
    form = {"note": "looking", "_csrf_token": await csrf_token(client, page)}

    response = await client.post(f"{page}/acknowledge", data=form, follow_redirects=False)

    assert response.status_code == 303
    timeline = desk.timeline(TENANT, raised_alert.alert_id)
    assert [entry.event for entry in timeline] == ["Raised", "Acknowledged"]
