"""The User aggregate: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

import pytest
from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import T0
from vigil.domain.api_key import (
    MAX_API_KEYS,
    ApiKeyOwner,
    ApiKeyRequest,
    api_key_owner_id,
    api_key_secret_hash,
)
from vigil.domain.errors import (
    ApiKeyAlreadyRevoked,
    ApiKeyNotFound,
    DomainError,
    InvalidCommand,
    RoleAlreadyHeld,
    RoleNotHeld,
    TooManyApiKeys,
    UserDisabled,
    UserNotDisabled,
)
from vigil.domain.user import Role, User, user_id

E = TypeVar("E", bound=Exception)
LATER = T0 + timedelta(hours=1)
IN_30_DAYS = T0 + timedelta(days=30)
HASH = "$scrypt$n=1024$c2FsdA$aGFzaA"
SECRET = "s" * 43
ANALYST_CAN = frozenset({"alerts:read", "alerts:act", "cases:read"})


def key_request(
    key_id: str = "0123456789ab",
    scopes: frozenset[str] = frozenset(),
    expires_at: datetime = IN_30_DAYS,
    name: str = "cards batch job",
    secret: str = SECRET,
) -> ApiKeyRequest:
    return ApiKeyRequest(key_id, api_key_secret_hash(secret), name, scopes, expires_at)


def registered(roles: tuple[str, ...] = ("analyst",)) -> User:
    user = User.register("acme", "root", T0, "Ann.Lee@acme", "Ann Lee", HASH, roles)
    user.collect_events()
    return user


@pytest.fixture
def analyst() -> User:
    """Ann, an analyst of acme, enabled, with no API keys."""
    return registered()


@pytest.fixture
def analyst_with_key(analyst: User) -> User:
    """Ann with one key, 0123456789ab, expiring in 30 days, scoped to reading alerts."""
    analyst.issue_api_key("root", T0, key_request(scopes=frozenset({"alerts:read"})), ANALYST_CAN)
    analyst.collect_events()
    return analyst


@pytest.fixture
def disabled_analyst(analyst_with_key: User) -> User:
    analyst_with_key.disable("root", LATER, "left the team")
    analyst_with_key.collect_events()
    return analyst_with_key


def refused_without_events(user: User, error: type[E], command: Callable[[User], object]) -> E:
    with pytest.raises(error) as refused:
        command(user)
    assert user.collect_events() == []
    return refused.value


# Registering ----------------------------------------------------------------------------------


def test_registering_records_who_when_the_normalised_username_and_the_sorted_roles() -> None:
    user = User.register(
        "acme", "root", T0, " Ann.Lee@ACME ", "Ann Lee", HASH, ["auditor", "analyst"]
    )
    (event,) = user.collect_events()
    assert isinstance(event, User.Registered)
    assert (event.tenant_id, event.actor, event.timestamp) == ("acme", "root", T0)
    assert (event.username, event.display_name, event.password_hash) == (
        "ann.lee@acme",
        "Ann Lee",
        HASH,
    )
    assert event.roles == ["analyst", "auditor"]
    assert user.roles == {Role.ANALYST, Role.AUDITOR}
    assert not user.disabled
    assert user.api_keys == {}


def test_a_username_is_one_user_per_tenant_whatever_its_case_or_spaces() -> None:
    assert registered().id == user_id("acme", " ANN.LEE@acme")
    assert user_id("acme", "ann") not in {user_id("other", "ann"), user_id("acme", "bob")}


@pytest.mark.parametrize("username", ["", "   ", "ann lee", "ann/lee", "ann+1", "a" * 65, "änn"])
def test_a_username_outside_the_alphabet_is_refused(username: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        User.register("acme", "root", T0, username, "", HASH, ["analyst"])
    assert refused.value.field == "username"


@pytest.mark.parametrize(
    ("roles", "reason"),
    [
        ([], "at least one role"),
        (["analyst", "superuser"], "'superuser' is not one of analyst"),
    ],
)
def test_registering_needs_at_least_one_role_and_only_known_ones(
    roles: list[str], reason: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        User.register("acme", "root", T0, "ann", "", HASH, roles)
    assert refused.value.field == "roles"
    assert reason in refused.value.reason


def test_the_display_name_defaults_to_the_username_and_is_bounded() -> None:
    assert User.register("acme", "root", T0, "ann", "  ", HASH, ["analyst"]).display_name == "ann"
    with pytest.raises(InvalidCommand) as refused:
        User.register("acme", "root", T0, "ann", "A" * 121, HASH, ["analyst"])
    assert refused.value.field == "display_name"


@pytest.mark.parametrize(
    ("tenant", "actor", "password_hash", "field"),
    [
        (" ", "root", HASH, "tenant_id"),
        ("acme", "", HASH, "actor"),
        ("acme", "root", "", "password_hash"),
    ],
)
def test_registering_needs_a_tenant_an_actor_and_a_password_hash(
    tenant: str, actor: str, password_hash: str, field: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        User.register(tenant, actor, T0, "ann", "", password_hash, ["analyst"])
    assert refused.value.field == field


def test_the_password_hash_never_shows_in_the_users_repr(analyst_with_key: User) -> None:
    assert HASH not in repr(analyst_with_key)
    assert api_key_secret_hash(SECRET) not in repr(analyst_with_key.api_keys)


# Roles ----------------------------------------------------------------------------------------


def test_granting_a_role_records_who_granted_it(analyst: User) -> None:
    analyst.grant_role("root", LATER, "model_owner")
    (granted,) = analyst.collect_events()
    assert isinstance(granted, User.RoleGranted)
    assert (granted.role, granted.actor, granted.timestamp, granted.tenant_id) == (
        "model_owner",
        "root",
        LATER,
        "acme",
    )
    assert analyst.roles == {Role.ANALYST, Role.MODEL_OWNER}


def test_a_held_role_cannot_be_granted_again(analyst: User) -> None:
    refused = refused_without_events(
        analyst, RoleAlreadyHeld, lambda u: u.grant_role("root", T0, "analyst")
    )
    assert str(refused) == "ann.lee@acme holds the role analyst already"


def test_an_unknown_role_is_refused_naming_the_role_field(analyst: User) -> None:
    refused = refused_without_events(
        analyst, InvalidCommand, lambda u: u.grant_role("root", T0, "root")
    )
    assert refused.field == "role"


def test_revoking_a_role_may_leave_a_user_with_none(analyst: User) -> None:
    analyst.revoke_role("root", LATER, "analyst")
    (revoked,) = analyst.collect_events()
    assert isinstance(revoked, User.RoleRevoked)
    assert (revoked.role, revoked.actor) == ("analyst", "root")
    assert analyst.roles == frozenset()


def test_a_role_not_held_cannot_be_revoked(analyst: User) -> None:
    refused = refused_without_events(
        analyst, RoleNotHeld, lambda u: u.revoke_role("root", T0, "admin")
    )
    assert refused.role == "admin"


# Passwords ------------------------------------------------------------------------------------


def test_changing_the_password_records_the_new_hash_and_ends_earlier_tokens(
    analyst: User,
) -> None:
    analyst.change_password("ann.lee@acme", LATER, "$new-hash")
    (changed,) = analyst.collect_events()
    assert isinstance(changed, User.PasswordChanged)
    assert (changed.password_hash, changed.actor) == ("$new-hash", "ann.lee@acme")
    assert analyst.password_hash == "$new-hash"
    assert not analyst.accepts_token(LATER - timedelta(seconds=1))
    assert analyst.accepts_token(LATER)


def test_rehashing_replaces_the_hash_but_keeps_tokens_alive(analyst: User) -> None:
    analyst.rehash_password("system:identity", LATER, "$stronger")
    (rehashed,) = analyst.collect_events()
    assert isinstance(rehashed, User.PasswordRehashed)
    assert analyst.password_hash == "$stronger"
    assert analyst.accepts_token(T0)


def test_a_token_issued_within_the_second_of_a_change_is_accepted(analyst: User) -> None:
    # Tokens carry whole seconds: one issued just after the change reads as the same second.
    analyst.change_password("ann", LATER + timedelta(microseconds=400), "$new-hash")
    assert analyst.accepts_token(LATER)


def test_a_blank_password_hash_is_refused(analyst: User) -> None:
    refused = refused_without_events(
        analyst, InvalidCommand, lambda u: u.change_password("ann", T0, " ")
    )
    assert refused.field == "password_hash"


# Disabling and enabling -----------------------------------------------------------------------


def test_disabling_records_the_reason_and_ends_every_token(analyst: User) -> None:
    analyst.disable("root", LATER, "left the team")
    (disabled,) = analyst.collect_events()
    assert isinstance(disabled, User.Disabled)
    assert (disabled.reason, disabled.actor, disabled.timestamp) == ("left the team", "root", LATER)
    assert analyst.disabled
    assert not analyst.accepts_token(LATER + timedelta(minutes=1))


def test_enabling_lets_the_user_back_but_not_with_tokens_from_before(
    disabled_analyst: User,
) -> None:
    disabled_analyst.enable("root", LATER + timedelta(hours=1), "back from leave")
    (enabled,) = disabled_analyst.collect_events()
    assert isinstance(enabled, User.Enabled)
    assert enabled.reason == "back from leave"
    assert not disabled_analyst.disabled
    assert not disabled_analyst.accepts_token(T0)
    assert disabled_analyst.accepts_token(LATER)


def test_an_enabled_user_cannot_be_enabled(analyst: User) -> None:
    refused_without_events(analyst, UserNotDisabled, lambda u: u.enable("root", T0, "why"))


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_disabling_and_enabling_need_a_reason(analyst: User, command: str) -> None:
    if command == "enable":
        analyst.disable("root", T0, "audit")
        analyst.collect_events()
    refused = refused_without_events(
        analyst, InvalidCommand, lambda u: getattr(u, command)("root", T0, "  ")
    )
    assert refused.field == "reason"


@pytest.mark.parametrize(
    "command",
    [
        lambda u: u.grant_role("root", LATER, "admin"),
        lambda u: u.change_password("root", LATER, "$reset"),
        lambda u: u.rehash_password("system:identity", LATER, "$stronger"),
        lambda u: u.issue_api_key("root", LATER, key_request("ba9876543210"), ANALYST_CAN),
        lambda u: u.disable("root", LATER, "again"),
    ],
    ids=["grant", "password", "rehash", "issue-key", "disable"],
)
def test_a_disabled_user_gains_nothing_until_enabled(
    disabled_analyst: User, command: Callable[[User], object]
) -> None:
    refused = refused_without_events(disabled_analyst, UserDisabled, command)
    assert str(refused) == "ann.lee@acme is disabled"


def test_a_disabled_user_can_still_lose_roles_and_keys(disabled_analyst: User) -> None:
    disabled_analyst.revoke_api_key("root", LATER, "0123456789ab", "clean-up of a leaver")
    disabled_analyst.revoke_role("root", LATER, "analyst")
    assert [type(e) for e in disabled_analyst.collect_events()] == [
        User.ApiKeyRevoked,
        User.RoleRevoked,
    ]


# API keys -------------------------------------------------------------------------------------


def test_issuing_a_key_records_its_hash_scopes_and_expiry_never_its_secret(
    analyst: User,
) -> None:
    scopes = frozenset({"cases:read", "alerts:read"})
    analyst.issue_api_key("ann.lee@acme", T0, key_request(scopes=scopes), ANALYST_CAN)
    (issued,) = analyst.collect_events()
    assert isinstance(issued, User.ApiKeyIssued)
    assert (issued.key_id, issued.name, issued.expires_at) == (
        "0123456789ab",
        "cards batch job",
        IN_30_DAYS,
    )
    assert issued.scopes == ["alerts:read", "cases:read"]
    assert issued.secret_hash == api_key_secret_hash(SECRET)
    assert SECRET not in str(vars(issued))
    key = analyst.api_keys["0123456789ab"]
    assert (key.issued_at, key.issued_by, key.revoked_at, key.scopes) == (
        T0,
        "ann.lee@acme",
        None,
        scopes,
    )


def test_a_key_may_not_be_scoped_beyond_what_its_user_may_do(analyst: User) -> None:
    request = key_request(scopes=frozenset({"alerts:read", "users:manage", "pii:reveal"}))
    refused = refused_without_events(
        analyst, InvalidCommand, lambda u: u.issue_api_key("root", T0, request, ANALYST_CAN)
    )
    assert (refused.field, refused.reason) == (
        "scopes",
        "the user may not pii:reveal, users:manage",
    )


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (key_request(expires_at=T0), "expires_at", "in the future"),
        (key_request(expires_at=T0 + timedelta(days=366)), "expires_at", "365 days"),
        (key_request(expires_at=datetime(2027, 1, 1)), "expires_at", "time zone"),
        (key_request(name=" "), "name", "must not be empty"),
        (key_request(name="n" * 81), "name", "at most 80"),
        (key_request(key_id="0123456789AB"), "key_id", "12 lowercase hexadecimal"),
        (key_request(key_id="0123"), "key_id", "12 lowercase hexadecimal"),
        (
            ApiKeyRequest("0123456789ab", "plain", "n", frozenset(), IN_30_DAYS),
            "secret_hash",
            "sha256",
        ),
    ],
)
def test_a_key_that_cannot_work_is_refused_naming_the_field(
    analyst: User, request_: ApiKeyRequest, field: str, reason: str
) -> None:
    refused = refused_without_events(
        analyst, InvalidCommand, lambda u: u.issue_api_key("root", T0, request_, ANALYST_CAN)
    )
    assert refused.field == field
    assert reason in refused.reason


def test_a_key_id_is_issued_once(analyst_with_key: User) -> None:
    refused = refused_without_events(
        analyst_with_key,
        InvalidCommand,
        lambda u: u.issue_api_key("root", T0, key_request(), ANALYST_CAN),
    )
    assert refused.reason == "0123456789ab was issued already"


def test_a_user_holds_at_most_twenty_active_keys_and_spent_ones_do_not_count(
    analyst: User,
) -> None:
    for n in range(MAX_API_KEYS - 1):
        analyst.issue_api_key("root", T0, key_request(f"{n:012x}"), ANALYST_CAN)
    short_lived = key_request("aaaaaaaaaaaa", expires_at=T0 + timedelta(minutes=5))
    analyst.issue_api_key("root", T0, short_lived, ANALYST_CAN)
    analyst.collect_events()
    refused_without_events(
        analyst,
        TooManyApiKeys,
        lambda u: u.issue_api_key("root", T0, key_request("bbbbbbbbbbbb"), ANALYST_CAN),
    )
    analyst.issue_api_key("root", LATER, key_request("bbbbbbbbbbbb"), ANALYST_CAN)  # one expired
    analyst.revoke_api_key("root", LATER, "000000000000")
    analyst.issue_api_key("root", LATER, key_request("cccccccccccc"), ANALYST_CAN)
    assert len(analyst.active_api_keys(LATER)) == MAX_API_KEYS


def test_revoking_a_key_records_when_and_why(analyst_with_key: User) -> None:
    analyst_with_key.revoke_api_key("ann.lee@acme", LATER, "0123456789ab", "laptop stolen")
    (revoked,) = analyst_with_key.collect_events()
    assert isinstance(revoked, User.ApiKeyRevoked)
    assert (revoked.key_id, revoked.reason, revoked.actor) == (
        "0123456789ab",
        "laptop stolen",
        "ann.lee@acme",
    )
    assert analyst_with_key.api_keys["0123456789ab"].revoked_at == LATER
    assert analyst_with_key.active_api_keys(LATER) == []


def test_an_expired_key_may_still_be_revoked(analyst_with_key: User) -> None:
    analyst_with_key.revoke_api_key("root", IN_30_DAYS + timedelta(days=1), "0123456789ab")
    assert len(analyst_with_key.collect_events()) == 1


def test_an_unknown_key_cannot_be_revoked(analyst_with_key: User) -> None:
    refused = refused_without_events(
        analyst_with_key, ApiKeyNotFound, lambda u: u.revoke_api_key("root", T0, "ffffffffffff")
    )
    assert str(refused) == "API key ffffffffffff does not exist"


def test_a_revoked_key_cannot_be_revoked_again(analyst_with_key: User) -> None:
    analyst_with_key.revoke_api_key("root", T0, "0123456789ab")
    analyst_with_key.collect_events()
    refused_without_events(
        analyst_with_key,
        ApiKeyAlreadyRevoked,
        lambda u: u.revoke_api_key("root", T0, "0123456789ab"),
    )


def test_a_presented_key_is_accepted_with_its_own_secret_until_it_expires(
    analyst_with_key: User,
) -> None:
    key = analyst_with_key.verified_api_key("0123456789ab", SECRET, LATER)
    assert key is not None
    assert key.scopes == {"alerts:read"}
    just_before = IN_30_DAYS - timedelta(microseconds=1)
    assert analyst_with_key.verified_api_key("0123456789ab", SECRET, just_before) == key
    assert analyst_with_key.verified_api_key("0123456789ab", SECRET, IN_30_DAYS) is None


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [("0123456789ab", "t" * 43), ("0123456789ab", ""), ("ffffffffffff", SECRET)],
    ids=["wrong-secret", "empty-secret", "unknown-key"],
)
def test_a_presented_key_with_a_wrong_secret_or_id_is_refused(
    analyst_with_key: User, key_id: str, secret: str
) -> None:
    assert analyst_with_key.verified_api_key(key_id, secret, LATER) is None


def test_a_revoked_key_or_a_disabled_users_key_is_refused(analyst_with_key: User) -> None:
    analyst_with_key.disable("root", LATER, "on leave")
    assert analyst_with_key.verified_api_key("0123456789ab", SECRET, LATER) is None
    analyst_with_key.enable("root", LATER, "back")
    assert analyst_with_key.verified_api_key("0123456789ab", SECRET, LATER) is not None
    analyst_with_key.revoke_api_key("root", LATER, "0123456789ab")
    assert analyst_with_key.verified_api_key("0123456789ab", SECRET, LATER) is None


def test_a_keys_owner_is_found_from_the_key_id_alone(analyst_with_key: User) -> None:
    owner = ApiKeyOwner.record(analyst_with_key, "root", T0, "0123456789ab")
    (recorded,) = owner.collect_events()
    assert isinstance(recorded, ApiKeyOwner.Recorded)
    assert owner.id == api_key_owner_id("0123456789ab")
    assert (owner.tenant_id, owner.user_id, owner.key_id) == (
        "acme",
        analyst_with_key.id,
        "0123456789ab",
    )
    assert (recorded.tenant_id, recorded.actor) == ("acme", "root")


def test_a_user_is_stored_and_read_back_unchanged(analyst_with_key: User) -> None:
    user = User.register("acme", "root", T0, "bob", "Bob", HASH, ["analyst", "admin"])
    user.issue_api_key("bob", T0, key_request(scopes=frozenset({"alerts:read"})), ANALYST_CAN)
    user.revoke_role("root", LATER, "admin")
    user.disable("root", LATER, "audit")
    user.revoke_api_key("root", LATER, "0123456789ab", "audit")
    app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.save(user, ApiKeyOwner.record(user, "bob", T0, "0123456789ab"))
    assert app.repository.get(user.id) == user
    assert app.repository.get(api_key_owner_id("0123456789ab")).user_id == user.id


# Any sequence of commands either applies or is refused, and replay gives the same user. ----------

KEY_IDS = ["000000000001", "000000000002", "000000000003"]
COMMANDS = st.sampled_from(
    [
        lambda u, t, n: u.grant_role("root", t, ["analyst", "admin", "auditor", "boss"][n % 4]),
        lambda u, t, n: u.revoke_role("root", t, ["analyst", "admin", "auditor"][n % 3]),
        lambda u, t, n: u.change_password("ann", t, f"$hash-{n}"),
        lambda u, t, n: u.rehash_password("system:identity", t, f"$rehash-{n}"),
        lambda u, t, n: u.disable("root", t, "check"),
        lambda u, t, n: u.enable("root", t, "checked"),
        lambda u, t, n: u.issue_api_key(
            "ann",
            t,
            key_request(KEY_IDS[n % 3], expires_at=t + timedelta(hours=n + 1)),
            ANALYST_CAN,
        ),
        lambda u, t, n: u.issue_api_key(
            "ann", t, key_request(KEY_IDS[n % 3], scopes=frozenset({"users:manage"})), ANALYST_CAN
        ),
        lambda u, t, n: u.revoke_api_key("root", t, KEY_IDS[n % 3], "tidy"),
        lambda u, t, n: u.disable("", t, "no actor"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(COMMANDS, st.integers(min_value=0, max_value=500), st.integers(0, 5)),
        max_size=25,
    )
)
def test_any_sequence_of_commands_applies_or_is_refused_and_replays_to_the_same_user(
    commands: list[tuple[object, int, int]],
) -> None:
    user = User.register("acme", "root", T0, "ann", "", HASH, ["analyst"])
    recorded = list(user.collect_events())
    for command, hours, n in commands:
        try:
            command(user, T0 + timedelta(hours=hours), n)  # type: ignore[operator]  # sampled lambdas
        except DomainError:
            assert user.collect_events() == []  # a refused command records nothing
        else:
            recorded += user.collect_events()
    replayed: User | None = None
    for event in recorded:
        replayed = event.mutate(replayed)
    assert replayed == user
    assert all(isinstance(role, Role) for role in user.roles)
    assert all(key.scopes <= ANALYST_CAN for key in user.api_keys.values())
