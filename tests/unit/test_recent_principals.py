"""What a credential proved is kept a few seconds, never longer, and never for a failure."""

from __future__ import annotations

from tests.graphql_client import admin
from vigil.web.auth import RecentPrincipals


class Seconds:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_proved_credential_is_kept_for_its_seconds_and_then_proved_again() -> None:
    clock = Seconds()
    recent = RecentPrincipals(seconds=5, clock=clock)
    recent.keep("key-1", admin())

    clock.now += 4.9
    assert recent.get("key-1") == admin()
    clock.now += 0.2
    assert recent.get("key-1") is None


def test_with_no_seconds_nothing_is_kept() -> None:
    recent = RecentPrincipals(seconds=0)
    recent.keep("key-1", admin())

    assert recent.get("key-1") is None


def test_the_oldest_proofs_make_room_for_new_ones() -> None:
    recent = RecentPrincipals(seconds=60, most=2)
    for credential in ("a", "b", "c"):
        recent.keep(credential, admin(username=credential))

    assert [recent.get(c) for c in ("a", "b", "c")] == [
        None,
        admin(username="b"),
        admin(username="c"),
    ]
