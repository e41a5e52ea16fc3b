"""Notification subscriptions over GraphQL, on both event stores: created, read back without their
secret, changed, paused, resumed and removed by admins; read by analysts; unseen by other
tenants."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.graphql_client import data, graphql
from tests.integration.conftest import api_key_of
from vigil.domain.subscription import secret_fingerprint
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

SECRET = "a-signing-secret-of-32-characters"

FIELDS = """
    name groups policies manual channel url recipients secretFingerprint paused description
"""

CREATE = f"""
mutation Create($input: NotificationSubscriptionInput!) {{
  createNotificationSubscription(input: $input) {{
    __typename
    ... on NotificationSubscriptionCreated {{ secret subscription {{ {FIELDS} }} }}
    ... on InvalidInputError {{ field message }}
  }}
}}
"""

CHANGE = f"""
mutation Change($input: NotificationSubscriptionInput!) {{
  changeNotificationSubscription(input: $input) {{
    __typename
    ... on NotificationSubscriptionChanged {{ subscription {{ {FIELDS} }} }}
    ... on InvalidInputError {{ field message }}
    ... on NotFoundError {{ message }}
  }}
}}
"""

LIFECYCLE = """
mutation Pause($name: String!) {
  pause: pauseNotificationSubscription(name: $name, reason: "receiver moving") {
    __typename ... on NotificationSubscriptionChanged { subscription { paused } }
  }
  resume: resumeNotificationSubscription(name: $name, reason: "moved") {
    __typename ... on NotificationSubscriptionChanged { subscription { paused } }
  }
}
"""

REMOVE = """
mutation Remove($name: String!) {
  removeNotificationSubscription(name: $name, reason: "not needed") {
    __typename ... on NotFoundError { message }
  }
}
"""

LIST = f"query {{ notificationSubscriptions {{ {FIELDS} }} }}"
ONE = f"query One($name: String!) {{ notificationSubscription(name: $name) {{ {FIELDS} }} }}"


def webhook(**changes: Any) -> dict[str, Any]:
    return {
        "name": "soc-hook",
        "channel": "WEBHOOK",
        "groups": ["on-call"],
        "url": "https://soc.bank.test/vigil",
        "secret": SECRET,
        **changes,
    }


async def test_a_webhook_subscription_shows_its_secret_once_then_a_fingerprint(
    client: AsyncTestClient[Any],
) -> None:
    created = (await data(client, CREATE, input=webhook()))["createNotificationSubscription"]
    assert created["__typename"] == "NotificationSubscriptionCreated"
    assert created["secret"] == SECRET
    assert created["subscription"]["secretFingerprint"] == secret_fingerprint(SECRET)

    listed = (await data(client, LIST))["notificationSubscriptions"]
    assert listed == [created["subscription"]]
    assert SECRET not in str(listed)
    one = (await data(client, ONE, name="soc-hook"))["notificationSubscription"]
    assert one["channel"] == "WEBHOOK"
    assert one["groups"] == ["on-call"]


async def test_a_webhook_without_a_secret_gets_one_made(client: AsyncTestClient[Any]) -> None:
    created = (await data(client, CREATE, input=webhook(secret=None)))[
        "createNotificationSubscription"
    ]
    assert len(created["secret"]) >= 32
    fingerprint = created["subscription"]["secretFingerprint"]
    assert fingerprint == secret_fingerprint(created["secret"])


async def test_faults_name_their_field(client: AsyncTestClient[Any]) -> None:
    for fault, field in [
        ({"url": "ftp://soc.bank.test"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"groups": ["On Call"]}, "groups[0]"),
        ({"groups": []}, "groups"),
        ({"name": "Bad Name"}, "name"),
        ({"channel": "EMAIL", "recipients": ["not-an-address"]}, "recipients[0]"),
    ]:
        answer = (await data(client, CREATE, input=webhook(**fault)))[
            "createNotificationSubscription"
        ]
        assert (answer["__typename"], answer["field"]) == ("InvalidInputError", field), fault
    await data(client, CREATE, input=webhook())
    taken = (await data(client, CREATE, input=webhook()))["createNotificationSubscription"]
    assert taken["field"] == "name"


async def test_a_subscription_is_changed_paused_resumed_and_removed(
    client: AsyncTestClient[Any],
) -> None:
    await data(client, CREATE, input=webhook())
    changed = (
        await data(
            client,
            CHANGE,
            input=webhook(secret=None, groups=["team-lead"], policies=["cards-critical"]),
        )
    )["changeNotificationSubscription"]
    assert changed["subscription"]["groups"] == ["team-lead"]
    assert changed["subscription"]["policies"] == ["cards-critical"]
    assert changed["subscription"]["secretFingerprint"] == secret_fingerprint(SECRET)

    lifecycle = await data(client, LIFECYCLE, name="soc-hook")
    assert lifecycle["pause"]["subscription"]["paused"] is True
    assert lifecycle["resume"]["subscription"]["paused"] is False

    removed = await data(client, REMOVE, name="soc-hook")
    assert removed["removeNotificationSubscription"]["__typename"] == (
        "NotificationSubscriptionChanged"
    )
    assert (await data(client, LIST))["notificationSubscriptions"] == []
    again = await data(client, REMOVE, name="soc-hook")
    assert again["removeNotificationSubscription"]["__typename"] == "NotFoundError"


async def test_a_slack_url_shows_its_host_only(client: AsyncTestClient[Any]) -> None:
    slack = {
        "name": "soc-slack",
        "channel": "SLACK",
        "groups": ["on-call"],
        "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
    }
    created = (await data(client, CREATE, input=slack))["createNotificationSubscription"]
    assert created["secret"] is None
    assert created["subscription"]["url"] == "https://hooks.slack.com/…"


async def test_analysts_read_subscriptions_and_only_admins_change_them(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await data(client, CREATE, input=webhook())
    client.headers[API_KEY_HEADER] = api_key_of(settings, "ann", "analyst")
    assert len((await data(client, LIST))["notificationSubscriptions"]) == 1
    refused = await graphql(client, CREATE, input=webhook(name="other-hook"))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await graphql(client, REMOVE, name="soc-hook")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenant_sees_none_of_them(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await data(client, CREATE, input=webhook())
    client.headers[API_KEY_HEADER] = api_key_of(settings, "olga", "admin", tenant="globex")
    assert (await data(client, LIST))["notificationSubscriptions"] == []
    assert (await data(client, ONE, name="soc-hook"))["notificationSubscription"] is None
    missing = await data(client, REMOVE, name="soc-hook")
    assert missing["removeNotificationSubscription"]["__typename"] == "NotFoundError"
    # Its own subscription of the same name is its own.
    mine = (await data(client, CREATE, input=webhook()))["createNotificationSubscription"]
    assert mine["__typename"] == "NotificationSubscriptionCreated"
