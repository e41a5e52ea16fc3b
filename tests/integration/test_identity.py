"""Identity use cases on both event stores: registering, logging in, roles, passwords, API keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from tests.builders import T0
from vigil.application import identity
from vigil.application.casework import Casework
from vigil.application.identity_ports import AccessClaims
from vigil.application.permissions import ROLE_PERMISSIONS, Permission, Principal, Role
from vigil.bootstrap import build_alert_desk
from vigil.domain.api_key import api_key_owner_id
from vigil.domain.errors import (
    ApiKeyAlreadyRevoked,
    InvalidCommand,
    UserDisabled,
    UsernameTaken,
    UserNotFound,
    WrongPassword,
)
from vigil.domain.user import User, user_id
from vigil.infrastructure.settings import Settings

TENANT = "acme"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple in the stable"
IN_30_DAYS = T0 + timedelta(days=30)
TOMORROW = T0 + timedelta(days=1)


class ScryptHasher:
    """A real salted hash (scrypt) at a cost low enough for tests: `scrypt$<n>$<salt>$<hash>`.
    Counts its verifications, and may run something in the middle of hashing."""

    def __init__(self, n: int = 2**10) -> None:
        self.n = n
        self.verified = 0
        self.while_hashing: Callable[[], object] | None = None

    def hash(self, password: str) -> str:
        meanwhile, self.while_hashing = self.while_hashing, None
        if meanwhile is not None:
            meanwhile()
        salt = os.urandom(16)
        return f"scrypt${self.n}${salt.hex()}${self._derive(password, salt, self.n).hex()}"

    def verify(self, hashed: str, password: str) -> bool:
        self.verified += 1
        _, n, salt, derived = hashed.split("$")
        attempt = self._derive(password, bytes.fromhex(salt), int(n))
        return hmac.compare_digest(attempt, bytes.fromhex(derived))

    def needs_rehash(self, hashed: str) -> bool:
        return int(hashed.split("$")[1]) != self.n

    @staticmethod
    def _derive(password: str, salt: bytes, n: int) -> bytes:
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)


@pytest.fixture
def hasher() -> ScryptHasher:
    return ScryptHasher()


@pytest.fixture
def analyst(desk: Casework, hasher: ScryptHasher) -> User:
    """Ann, an analyst of acme, registered by root."""
    return identity.register_user(
        desk, hasher, TENANT, "root", "Ann", PASSWORD, ["analyst"], "Ann Lee"
    )


def login(desk: Casework, hasher: ScryptHasher, username: str, password: str) -> Principal | None:
    return identity.authenticate_password(desk, hasher, TENANT, username, password)


# Registering and logging in -------------------------------------------------------------------


def test_a_registered_user_logs_in_with_their_password(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    principal = login(desk, hasher, " ANN ", PASSWORD)
    assert principal == Principal(
        user_id=user_id(TENANT, "ann"),
        tenant_id=TENANT,
        username="ann",
        roles=frozenset({Role.ANALYST}),
        permissions=ROLE_PERMISSIONS[Role.ANALYST],
        via="password",
        key_id=None,
    )
    stored = identity.get_user(desk, TENANT, analyst.id)
    assert stored.display_name == "Ann Lee"
    assert PASSWORD not in stored.password_hash


def test_a_wrong_password_an_unknown_user_and_a_disabled_user_all_get_none(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    assert login(desk, hasher, "ann", "correct horse battery!") is None
    checked = hasher.verified
    assert login(desk, hasher, "nobody", PASSWORD) is None
    assert login(desk, hasher, "not a valid name", PASSWORD) is None
    assert hasher.verified == checked + 2  # the unknown still cost a password check each
    identity.disable_user(desk, TENANT, analyst.id, "root", "left the team")
    assert login(desk, hasher, "ann", PASSWORD) is None


def test_a_user_of_one_tenant_cannot_log_in_to_another(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    assert identity.authenticate_password(desk, hasher, "other", "ann", PASSWORD) is None
    with pytest.raises(UserNotFound):
        identity.get_user(desk, "other", analyst.id)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass", "at least 12"),
        ("x" * 257, "at most 256"),
        ("Ann.Lee@acme", "must not be the username"),
    ],
)
def test_a_weak_password_is_refused_and_nobody_is_registered(
    desk: Casework, hasher: ScryptHasher, password: str, reason: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        identity.register_user(desk, hasher, TENANT, "root", "ann.lee@acme", password, ["analyst"])
    assert refused.value.field == "password"
    assert reason in refused.value.reason
    assert identity.find_user(desk, TENANT, "ann.lee@acme") is None


def test_a_username_is_taken_once_per_tenant(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    with pytest.raises(UsernameTaken) as refused:
        identity.register_user(desk, hasher, TENANT, "root", "ANN", NEW_PASSWORD, ["admin"])
    assert (refused.value.field, refused.value.reason) == ("username", "ann is taken")
    elsewhere = identity.register_user(desk, hasher, "other", "root", "ann", PASSWORD, ["admin"])
    assert elsewhere.id != analyst.id


def test_two_registrations_of_one_username_at_once_leave_the_second_refused_as_taken(
    settings: Settings, desk: Casework, hasher: ScryptHasher
) -> None:
    other_process = build_alert_desk(settings)
    try:

        def first_registration() -> None:
            identity.register_user(
                other_process, ScryptHasher(), TENANT, "root", "ann", PASSWORD, ["analyst"]
            )

        # The first completes while the second is hashing, after the second found the name free.
        hasher.while_hashing = first_registration
        with pytest.raises(UsernameTaken):
            identity.register_user(desk, hasher, TENANT, "lead", "ann", NEW_PASSWORD, ["admin"])
    finally:
        other_process.close()
    user = identity.get_user(desk, TENANT, user_id(TENANT, "ann"))
    assert (user.roles, user.version) == (frozenset({Role.ANALYST}), 1)
    assert login(desk, hasher, "ann", PASSWORD) is not None


# Roles, passwords, disabling ------------------------------------------------------------------


def test_roles_granted_and_revoked_change_what_the_next_login_may_do(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    identity.grant_role(desk, TENANT, analyst.id, "root", "pii_reviewer")
    principal = login(desk, hasher, "ann", PASSWORD)
    assert principal is not None
    assert principal.may(Permission.PII_REVEAL)
    identity.revoke_role(desk, TENANT, analyst.id, "root", "analyst")
    identity.revoke_role(desk, TENANT, analyst.id, "root", "pii_reviewer")
    nothing = login(desk, hasher, "ann", PASSWORD)
    assert nothing is not None
    assert (nothing.roles, nothing.permissions) == (frozenset(), frozenset())


def test_a_user_changes_their_password_by_giving_the_current_one(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    with pytest.raises(WrongPassword) as refused:
        identity.change_password(
            desk, hasher, TENANT, analyst.id, "ann", "guess guess!", NEW_PASSWORD
        )
    assert refused.value.field == "current_password"
    with pytest.raises(InvalidCommand) as weak:
        identity.change_password(desk, hasher, TENANT, analyst.id, "ann", PASSWORD, "short")
    assert weak.value.field == "new_password"
    identity.change_password(desk, hasher, TENANT, analyst.id, "ann", PASSWORD, NEW_PASSWORD)
    assert login(desk, hasher, "ann", PASSWORD) is None
    assert login(desk, hasher, "ann", NEW_PASSWORD) is not None
    (*_, changed) = desk.events.get(analyst.id)
    assert isinstance(changed, User.PasswordChanged)
    assert changed.actor == "ann"


def test_an_admin_resets_a_password_without_the_old_one(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    identity.reset_password(desk, hasher, TENANT, analyst.id, "root", NEW_PASSWORD)
    assert login(desk, hasher, "ann", NEW_PASSWORD) is not None
    with pytest.raises(InvalidCommand):
        identity.reset_password(desk, hasher, TENANT, analyst.id, "root", "ann")


def test_a_password_hashed_with_weaker_parameters_is_rehashed_as_its_user_logs_in(
    desk: Casework, analyst: User
) -> None:
    stronger = ScryptHasher(n=2**11)
    assert identity.authenticate_password(desk, stronger, TENANT, "ann", PASSWORD) is not None
    user = identity.get_user(desk, TENANT, analyst.id)
    assert user.password_hash.startswith(f"scrypt${2**11}$")
    (*_, rehashed) = desk.events.get(analyst.id)
    assert isinstance(rehashed, User.PasswordRehashed)
    assert rehashed.actor == identity.IDENTITY_ACTOR
    assert identity.authenticate_password(desk, stronger, TENANT, "ann", PASSWORD) is not None
    assert identity.get_user(desk, TENANT, analyst.id).version == 2  # no second rehash


def test_a_disabled_user_is_refused_changes_until_enabled(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    identity.disable_user(desk, TENANT, analyst.id, "root", "on leave")
    with pytest.raises(UserDisabled):
        identity.grant_role(desk, TENANT, analyst.id, "root", "admin")
    with pytest.raises(UserDisabled):
        identity.issue_api_key(desk, TENANT, analyst.id, "root", "job", IN_30_DAYS)
    identity.enable_user(desk, TENANT, analyst.id, "root", "back")
    assert login(desk, hasher, "ann", PASSWORD) is not None


# API keys -------------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_stored_hashed_and_carries_its_scopes(
    desk: Casework, analyst: User
) -> None:
    issued = identity.issue_api_key(
        desk, TENANT, analyst.id, "ann", "cards job", IN_30_DAYS, ["alerts:read"]
    )
    assert re.fullmatch(rf"vgl_{issued.key_id}_[A-Za-z0-9_-]{{43}}", issued.plaintext)
    assert re.fullmatch(r"[0-9a-f]{12}", issued.key_id)
    assert issued.plaintext not in repr(issued)
    assert (issued.scopes, issued.expires_at) == (frozenset({Permission.ALERTS_READ}), IN_30_DAYS)
    principal = identity.authenticate_api_key(desk, issued.plaintext, TOMORROW)
    assert principal is not None
    assert (principal.via, principal.key_id, principal.username) == (
        "api_key",
        issued.key_id,
        "ann",
    )
    assert principal.permissions == {Permission.ALERTS_READ}
    # The secret may hold "_" itself: it is everything after the key id.
    secret = issued.plaintext.removeprefix(f"vgl_{issued.key_id}_")
    for aggregate_id in (analyst.id, api_key_owner_id(issued.key_id)):
        for event in desk.events.get(aggregate_id):
            assert secret not in repr(vars(event))


def test_an_api_key_works_until_it_is_revoked(desk: Casework, analyst: User) -> None:
    issued = identity.issue_api_key(desk, TENANT, analyst.id, "ann", "job", IN_30_DAYS)
    identity.revoke_api_key(desk, TENANT, analyst.id, "ann", issued.key_id, "rotated")
    assert identity.authenticate_api_key(desk, issued.plaintext, TOMORROW) is None
    with pytest.raises(ApiKeyAlreadyRevoked):
        identity.revoke_api_key(desk, TENANT, analyst.id, "ann", issued.key_id)


def test_an_api_key_works_until_it_expires(desk: Casework, analyst: User) -> None:
    issued = identity.issue_api_key(desk, TENANT, analyst.id, "ann", "job", IN_30_DAYS)
    assert identity.authenticate_api_key(desk, issued.plaintext, IN_30_DAYS - timedelta(seconds=1))
    assert identity.authenticate_api_key(desk, issued.plaintext, IN_30_DAYS) is None


def test_an_unscoped_key_follows_its_users_roles_and_a_scoped_one_stays_within_them(
    desk: Casework, analyst: User
) -> None:
    unscoped = identity.issue_api_key(desk, TENANT, analyst.id, "ann", "all", IN_30_DAYS)
    scoped = identity.issue_api_key(
        desk, TENANT, analyst.id, "ann", "two", IN_30_DAYS, ["alerts:read", "cases:act"]
    )
    identity.revoke_role(desk, TENANT, analyst.id, "root", "analyst")
    identity.grant_role(desk, TENANT, analyst.id, "root", "auditor")

    def permissions(plaintext: str) -> frozenset[Permission]:
        principal = identity.authenticate_api_key(desk, plaintext, TOMORROW)
        assert principal is not None
        return principal.permissions

    assert permissions(unscoped.plaintext) == ROLE_PERMISSIONS[Role.AUDITOR]
    assert permissions(scoped.plaintext) == {Permission.ALERTS_READ}


@pytest.mark.parametrize(
    ("scopes", "reason"),
    [
        (["alerts:read", "alerts:delete"], "'alerts:delete' is not a permission"),
        (["users:manage"], "may not"),
    ],
)
def test_a_key_scoped_to_what_the_user_may_not_do_is_refused(
    desk: Casework, analyst: User, scopes: list[str], reason: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        identity.issue_api_key(desk, TENANT, analyst.id, "ann", "job", IN_30_DAYS, scopes)
    assert refused.value.field == "scopes"
    assert reason in refused.value.reason
    assert identity.get_user(desk, TENANT, analyst.id).api_keys == {}


def test_a_key_answers_none_for_another_tenant_a_wrong_secret_or_a_bad_shape(
    desk: Casework, analyst: User
) -> None:
    issued = identity.issue_api_key(desk, TENANT, analyst.id, "ann", "job", IN_30_DAYS)
    assert identity.authenticate_api_key(desk, issued.plaintext, TOMORROW, TENANT) is not None
    assert identity.authenticate_api_key(desk, issued.plaintext, TOMORROW, "other") is None
    forged = f"vgl_{issued.key_id}_{'A' * 43}"
    for presented in (forged, issued.plaintext[:-1], "", "vgl_", issued.key_id):
        assert identity.authenticate_api_key(desk, presented, TOMORROW) is None
    identity.disable_user(desk, TENANT, analyst.id, "root", "on leave")
    assert identity.authenticate_api_key(desk, issued.plaintext, TOMORROW) is None


# Access tokens --------------------------------------------------------------------------------


def claims(user: User, issued_at: datetime, roles: tuple[str, ...] = ("analyst",)) -> AccessClaims:
    return AccessClaims(
        user.id,
        user.tenant_id,
        user.username,
        roles,
        issued_at,
        issued_at + timedelta(minutes=15),
        "t1",
    )


def test_an_access_token_speaks_for_its_user_until_the_password_changes(
    desk: Casework, hasher: ScryptHasher, analyst: User
) -> None:
    issued_at = desk.clock().replace(microsecond=0)
    principal = identity.authenticate_token(desk, claims(analyst, issued_at))
    assert principal is not None
    assert (principal.via, principal.permissions) == ("token", ROLE_PERMISSIONS[Role.ANALYST])
    identity.change_password(desk, hasher, TENANT, analyst.id, "ann", PASSWORD, NEW_PASSWORD)
    assert identity.authenticate_token(desk, claims(analyst, issued_at)) is None
    assert identity.authenticate_token(desk, claims(analyst, desk.clock())) is not None


def test_an_access_token_loses_revoked_roles_at_once_and_gains_new_ones_only_when_reissued(
    desk: Casework, analyst: User
) -> None:
    identity.grant_role(desk, TENANT, analyst.id, "root", "auditor")
    identity.revoke_role(desk, TENANT, analyst.id, "root", "analyst")
    principal = identity.authenticate_token(desk, claims(analyst, desk.clock()))
    assert principal is not None
    assert (principal.roles, principal.permissions) == (frozenset(), frozenset())


def test_an_access_token_of_a_disabled_or_foreign_user_answers_none(
    desk: Casework, analyst: User
) -> None:
    forged = AccessClaims(analyst.id, "other", "ann", ("admin",), T0, IN_30_DAYS, "t")
    assert identity.authenticate_token(desk, forged) is None
    unknown = AccessClaims(UUID(int=7), TENANT, "eve", ("admin",), T0, IN_30_DAYS, "t")
    assert identity.authenticate_token(desk, unknown) is None
    identity.disable_user(desk, TENANT, analyst.id, "root", "on leave")
    assert identity.authenticate_token(desk, claims(analyst, desk.clock())) is None
