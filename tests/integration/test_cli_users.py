"""`vigil users` and the demo's users, run in process on both event stores."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from vigil import cli_users
from vigil.application import identity
from vigil.application.casework import Casework
from vigil.application.identity_ports import PasswordHasher
from vigil.application.permissions import ROLE_PERMISSIONS, Role
from vigil.bootstrap import build_password_hasher
from vigil.cli import main
from vigil.domain.user import User
from vigil.infrastructure.settings import AuthSettings, Settings

PASSWORD = "correct horse battery"
TENANT = "default"


@dataclass(frozen=True)
class Outcome:
    status: int
    out: str
    err: str


Vigil = Callable[..., Outcome]


@pytest.fixture
def cli_settings(settings: Settings) -> Settings:
    """The test's stores, with argon2 at its cheapest so that hashing costs milliseconds."""
    cheap = AuthSettings(argon2_time_cost=1, argon2_memory_cost=8 * 1024, argon2_parallelism=1)
    return settings.model_copy(update={"auth": cheap})


@pytest.fixture
def hasher(cli_settings: Settings) -> PasswordHasher:
    return build_password_hasher(cli_settings)


@pytest.fixture
def vigil(
    cli_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Vigil:
    """Runs `vigil ARGS...` in process with `stdin` on its standard input."""

    def run(*args: str, stdin: str = "") -> Outcome:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(list(args), cli_settings)
        captured = capsys.readouterr()
        return Outcome(status, captured.out, captured.err)

    return run


@pytest.fixture
def ann(vigil: Vigil) -> Outcome:
    """Ann, an analyst of the default tenant, created from the terminal."""
    args = ["create", "ann", "--role", "analyst", "--display-name", "Ann Lee", "--password-stdin"]
    created = vigil("users", *args, stdin=f"{PASSWORD}\n")
    assert created.status == 0, created.err
    return created


def user_of(desk: Casework, username: str) -> User:
    user = identity.find_user(desk, TENANT, username)
    assert user is not None
    return user


def test_a_created_user_is_shown_with_their_roles_and_permissions(
    vigil: Vigil, ann: Outcome, desk: Casework
) -> None:
    assert ann.out.strip() == str(user_of(desk, "ann").id)

    shown = vigil("users", "show", "ann")

    assert shown.status == 0
    assert "Ann Lee" in shown.out
    assert re.search(r"roles\s+analyst\n", shown.out)
    for permission in ROLE_PERMISSIONS[Role.ANALYST]:
        assert permission in shown.out
    assert "enabled" in shown.out


def test_the_events_record_who_at_the_terminal_made_them(
    vigil: Vigil, desk: Casework, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "mallory")

    vigil("users", "create", "bob", "--role", "auditor", "--password-stdin", stdin=PASSWORD)
    vigil("users", "grant", "bob", "analyst", "--actor", "ticket-4711")

    events = desk.events.get(user_of(desk, "bob").id)
    actors = [event.actor for event in events if isinstance(event, User.Event)]
    assert actors == ["cli:mallory", "ticket-4711"]


def test_a_taken_username_is_refused_naming_the_username(
    vigil: Vigil, ann: Outcome, desk: Casework
) -> None:
    again = vigil(
        "users", "create", "ANN", "--role", "admin", "--password-stdin", stdin="another password"
    )

    assert again.status == 2
    assert again.err.strip() == "vigil users create: username: ann is taken"
    assert user_of(desk, "ann").roles == {Role.ANALYST}


def test_a_weak_password_is_refused_naming_the_password(vigil: Vigil, desk: Casework) -> None:
    weak = vigil("users", "create", "bob", "--role", "admin", "--password-stdin", stdin="hunter2")

    assert weak.status == 2
    assert "password: must be at least 12 characters" in weak.err
    assert identity.find_user(desk, TENANT, "bob") is None


def test_two_different_password_entries_are_refused(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = iter([PASSWORD, "correct horse battery staple"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(entries))

    refused = vigil("users", "create", "bob", "--role", "admin")

    assert refused.status == 2
    assert "password: the two entries differ" in refused.err


def test_an_unknown_role_is_refused_listing_the_roles(vigil: Vigil, ann: Outcome) -> None:
    created = vigil("users", "create", "bob", "--role", "boss", "--password-stdin", stdin=PASSWORD)
    granted = vigil("users", "grant", "ann", "boss")

    assert (created.status, granted.status) == (2, 2)
    for refused in (created, granted):
        assert "'boss' is not one of" in refused.err
        assert all(role in refused.err for role in Role)


def test_an_unknown_user_is_refused_naming_the_username(vigil: Vigil) -> None:
    shown = vigil("users", "show", "nobody")

    assert shown.status == 2
    assert shown.err.strip() == "vigil users show: username: no user nobody in the tenant default"


def test_a_granted_role_adds_its_permissions_and_a_revoked_one_takes_them_away(
    vigil: Vigil, ann: Outcome, desk: Casework
) -> None:
    assert vigil("users", "grant", "ann", "pii_reviewer").status == 0
    assert "pii:reveal" in vigil("users", "show", "ann").out
    assert user_of(desk, "ann").roles == {Role.ANALYST, Role.PII_REVIEWER}

    assert vigil("users", "revoke", "ann", "pii_reviewer").status == 0
    assert "pii:reveal" not in vigil("users", "show", "ann").out

    again = vigil("users", "revoke", "ann", "pii_reviewer")
    assert again.status == 2
    assert "role: ann does not hold the role pii_reviewer" in again.err


def test_an_issued_key_authenticates_until_it_is_revoked(
    vigil: Vigil, ann: Outcome, desk: Casework
) -> None:
    issued = vigil("users", "issue-key", "ann", "--name", "ci", "--scope", "alerts:read")
    key = issued.out.strip()
    key_id = key.split("_")[1]
    now = datetime.now(UTC)

    assert issued.status == 0
    assert "will not be shown again" in issued.err
    principal = identity.authenticate_api_key(desk, key, now)
    assert principal is not None
    assert principal.username == "ann"
    assert principal.permissions == {"alerts:read"}
    shown = vigil("users", "show", "ann").out
    assert key_id in shown
    assert key.split("_", 2)[2] not in shown
    assert user_of(desk, "ann").api_keys[key_id].secret_hash not in shown

    revoked = vigil("users", "revoke-key", "ann", key_id, "--reason", "leaked in a log")

    assert revoked.status == 0
    assert identity.authenticate_api_key(desk, key, now) is None
    assert "revoked" in vigil("users", "show", "ann").out


def test_a_key_beyond_its_users_permissions_is_refused_naming_the_scope(
    vigil: Vigil, ann: Outcome
) -> None:
    refused = vigil("users", "issue-key", "ann", "--name", "ci", "--scope", "models:train")

    assert refused.status == 2
    assert refused.out == ""
    assert "--scope: the user may not models:train" in refused.err


def test_a_disabled_user_cannot_log_in_until_enabled(
    vigil: Vigil, ann: Outcome, desk: Casework, hasher: PasswordHasher
) -> None:
    assert vigil("users", "disable", "ann", "--reason", "left the team").status == 0
    assert identity.authenticate_password(desk, hasher, TENANT, "ann", PASSWORD) is None
    assert "disabled" in vigil("users", "show", "ann").out

    assert vigil("users", "enable", "ann", "--reason", "came back").status == 0
    assert identity.authenticate_password(desk, hasher, TENANT, "ann", PASSWORD) is not None


def test_a_reset_password_replaces_the_old_one(
    vigil: Vigil, ann: Outcome, desk: Casework, hasher: PasswordHasher
) -> None:
    reset = vigil(
        "users", "reset-password", "ann", "--password-stdin", stdin="staple in the stable"
    )

    assert reset.status == 0
    assert identity.authenticate_password(desk, hasher, TENANT, "ann", PASSWORD) is None
    assert identity.authenticate_password(desk, hasher, TENANT, "ann", "staple in the stable")


def test_demo_users_are_made_once_per_role_and_their_passwords_shown_once(
    desk: Casework, hasher: PasswordHasher
) -> None:
    made = cli_users.ensure_demo_users(desk, hasher, TENANT, "cli:demo")

    assert [(user.username, user.role) for user in made] == [
        (cli_users.demo_username(role), role) for role in Role
    ]
    assert made[0].username == "demo-analyst"
    for user in made:
        assert user.password is not None
        principal = identity.authenticate_password(
            desk, hasher, TENANT, user.username, user.password
        )
        assert principal is not None
        assert principal.roles == {user.role}
    assert "demo-data-engineer" in cli_users.demo_users_table(made, TENANT)

    again = cli_users.ensure_demo_users(desk, hasher, TENANT, "cli:demo")

    assert [user.username for user in again] == [user.username for user in made]
    assert all(user.password is None for user in again)
    table = cli_users.demo_users_table(again, TENANT)
    assert "exist already" in table
    assert all(user.password not in table for user in made if user.password)
