"""The Subscription aggregate: what it receives, where, and its lifecycle."""

from __future__ import annotations

import pytest

from tests.builders import T0
from vigil.domain.errors import InvalidCommand
from vigil.domain.subscription import Destination, Interests, Subscription

SECRET = "sixteen-chars-or-more"


def on_call_hook(**interests: object) -> Subscription:
    wanted = Interests.of(**{"groups": ["on-call"], **interests})  # type: ignore[arg-type]  # keyword overrides of typed fields
    return Subscription.create(
        "acme",
        "dana",
        T0,
        "soc-hook",
        wanted,
        Destination.of("webhook", "https://soc.test/hook", SECRET),
    )


def test_a_subscription_receives_the_escalations_that_notify_its_groups() -> None:
    hook = on_call_hook()
    assert hook.receives("cards-critical", ["on-call", "team-lead"])
    assert not hook.receives("cards-critical", ["team-lead"])
    assert not hook.receives(None, [])


def test_a_subscription_to_some_policies_receives_only_theirs() -> None:
    hook = on_call_hook(policies=["cards-critical"])
    assert hook.receives("cards-critical", ["on-call"])
    assert not hook.receives("cards-amount", ["on-call"])


def test_escalations_by_hand_reach_only_subscriptions_that_ask_for_them() -> None:
    assert on_call_hook(manual=True).receives(None, [])


def test_a_paused_subscription_receives_nothing_until_resumed() -> None:
    hook = on_call_hook()
    hook.pause("dana", T0, "receiver moving")
    assert not hook.receives("cards-critical", ["on-call"])
    hook.resume("dana", T0, "moved")
    assert hook.receives("cards-critical", ["on-call"])


def test_a_removed_subscription_takes_no_command() -> None:
    hook = on_call_hook()
    hook.remove("dana", T0, "not needed")
    with pytest.raises(InvalidCommand) as refused:
        hook.pause("dana", T0, "again")
    assert refused.value.field == "name"


def test_a_change_that_changes_nothing_records_nothing() -> None:
    hook = on_call_hook()
    assert not hook.change("dana", T0, hook.interests, hook.destination, "")
    assert len(hook.collect_events()) == 1


@pytest.mark.parametrize(
    ("kind", "url", "secret", "recipients", "field"),
    [
        ("pager", None, None, (), "channel"),
        ("webhook", "soc.test/hook", SECRET, (), "url"),
        ("webhook", "https://soc.test/hook", "short", (), "secret"),
        ("slack", "", None, (), "url"),
        ("email", None, None, (), "recipients"),
        ("email", None, None, ("soc@bank.test", "nobody"), "recipients[1]"),
    ],
)
def test_a_destination_names_its_fault(
    kind: str, url: str | None, secret: str | None, recipients: tuple[str, ...], field: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        Destination.of(kind, url, secret, recipients)
    assert refused.value.field == field
