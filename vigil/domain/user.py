"""The User aggregate: who may sign in to a tenant, with which roles, and with which API keys.

A user belongs to one tenant, and their id is derived from the tenant and the username, so a
username is taken once per tenant and login finds the user without an index. The domain never
sees a plain password: the application hashes it (slow and salted, through its port) and hands
over the hash. What each role may do is the application's table; the aggregate only knows which
roles exist.

A disabled user gains nothing until enabled again (no role, password or API key), but access can
still be taken away: revoking a role or a key stays possible, so cleaning up a leaver's keys never
needs them enabled, even for a moment. A user may hold no role at all: they exist on the record
but every permission is refused; registering needs at least one, since a user made with none is
most likely a mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.api_key import (
    MAX_API_KEYS,
    ApiKey,
    ApiKeyRequest,
    check_key_id,
    secret_matches,
)
from vigil.domain.errors import (
    ApiKeyAlreadyRevoked,
    ApiKeyNotFound,
    InvalidCommand,
    RoleAlreadyHeld,
    RoleNotHeld,
    TooManyApiKeys,
    UserDisabled,
    UserNotDisabled,
)
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text, required_text

USER_NAMESPACE = UUID("5b1e7c3a-2d4f-5a8b-9c6e-7f0a1b2c3d4e")

MAX_DISPLAY_NAME = 120

CREDENTIAL_FIELDS = frozenset({"password_hash", "secret_hash"})
"""Event fields holding credential hashes: kept in the event store, never relayed or shown."""

_USERNAME = re.compile(r"[a-z0-9._@-]{1,64}")


class Role(StrEnum):
    """DESIGN section 7's roles, plus pii_reviewer for revealing personal data (see permissions)."""

    ANALYST = "analyst"
    DATA_ENGINEER = "data_engineer"
    MODEL_OWNER = "model_owner"
    ADMIN = "admin"
    AUDITOR = "auditor"
    PII_REVIEWER = "pii_reviewer"


def username_of(value: str) -> str:
    """The username as stored: stripped, lower-cased, 1-64 of a-z 0-9 . _ - @."""
    name = value.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidCommand("username", "use 1-64 of a-z, 0-9, '.', '_', '-', '@'")
    return name


def user_id(tenant_id: str, username: str) -> UUID:
    """A username is unique within its tenant; the same name in two tenants is two users."""
    return uuid5(USER_NAMESPACE, f"{tenant_id}\x1f{username.strip().lower()}")


def role_of(field_name: str, value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(str(role) for role in Role)
        raise InvalidCommand(field_name, f"{value!r} is not one of {known}") from None


class User(Aggregate):
    """Someone who signs in to one tenant, their roles, password hash and API keys."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Registered(Event, Aggregate.Created):
        username: str
        display_name: str
        password_hash: str
        roles: list[str]

    def __init__(
        self,
        tenant_id: str,
        actor: str,
        username: str,
        display_name: str,
        password_hash: str,
        roles: list[str],
    ) -> None:
        self.tenant_id = tenant_id
        self.username = username
        self.display_name = display_name
        self.password_hash = password_hash
        self.roles = frozenset(Role(role) for role in roles)
        self.api_keys: dict[str, ApiKey] = {}
        self.disabled = False
        self.tokens_valid_from: datetime = self.created_on
        """Access tokens issued before this no longer speak for the user: it moves when the
        password changes and when the user is disabled."""

    @classmethod
    def register(
        cls,
        tenant_id: str,
        actor: str,
        at: datetime,
        username: str,
        display_name: str,
        password_hash: str,
        roles: Iterable[str],
    ) -> User:
        tenant_id, username = required_text("tenant_id", tenant_id), username_of(username)
        held = sorted({role_of("roles", role) for role in roles})
        if not held:
            raise InvalidCommand("roles", "a user is registered with at least one role")
        return cls._create(
            cls.Registered,
            id=user_id(tenant_id, username),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            username=username,
            display_name=_display_name(display_name, username),
            password_hash=required_text("password_hash", password_hash),
            roles=[str(role) for role in held],
        )

    def __repr__(self) -> str:
        return f"User(id={self.id}, tenant_id={self.tenant_id!r}, username={self.username!r})"

    # Invariants -------------------------------------------------------------------------------

    def check_enabled(self) -> None:
        if self.disabled:
            raise UserDisabled(f"{self.username} is disabled")

    def check_disabled(self) -> None:
        if not self.disabled:
            raise UserNotDisabled(f"{self.username} is not disabled")

    def check_role_not_held(self, role: Role) -> None:
        if role in self.roles:
            raise RoleAlreadyHeld(self.username, role)

    def check_role_held(self, role: Role) -> None:
        if role not in self.roles:
            raise RoleNotHeld(self.username, role)

    def check_room_for_api_key(self, at: datetime) -> None:
        if len(self.active_api_keys(at)) >= MAX_API_KEYS:
            raise TooManyApiKeys(f"{self.username} holds {MAX_API_KEYS} active API keys")

    def check_new_key_id(self, key_id: str) -> None:
        check_key_id(key_id)
        if key_id in self.api_keys:
            raise InvalidCommand("key_id", f"{key_id} was issued already")

    def check_revocable(self, key_id: str) -> ApiKey:
        key = self.api_keys.get(key_id)
        if key is None:
            raise ApiKeyNotFound(key_id)
        if key.revoked_at is not None:
            raise ApiKeyAlreadyRevoked(key_id)
        return key

    # Commands ---------------------------------------------------------------------------------

    def grant_role(self, actor: str, at: datetime, role: str) -> None:
        self.check_enabled()
        granted = role_of("role", role)
        self.check_role_not_held(granted)
        self.trigger_event(self.RoleGranted, **self._stamp(actor, at), role=str(granted))

    def revoke_role(self, actor: str, at: datetime, role: str) -> None:
        """Allowed on a disabled user, and down to no role at all."""
        revoked = role_of("role", role)
        self.check_role_held(revoked)
        self.trigger_event(self.RoleRevoked, **self._stamp(actor, at), role=str(revoked))

    def change_password(self, actor: str, at: datetime, password_hash: str) -> None:
        """A new password, set by the user themself or reset by an admin (the actor says which);
        access tokens issued before it stop working."""
        self.check_enabled()
        self.trigger_event(
            self.PasswordChanged,
            **self._stamp(actor, at),
            password_hash=required_text("password_hash", password_hash),
        )

    def rehash_password(self, actor: str, at: datetime, password_hash: str) -> None:
        """The same password under a stronger hash, made as the user logs in; sessions stay."""
        self.check_enabled()
        self.trigger_event(
            self.PasswordRehashed,
            **self._stamp(actor, at),
            password_hash=required_text("password_hash", password_hash),
        )

    def disable(self, actor: str, at: datetime, reason: str) -> None:
        self.check_enabled()
        self.trigger_event(
            self.Disabled, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def enable(self, actor: str, at: datetime, reason: str) -> None:
        self.check_disabled()
        self.trigger_event(
            self.Enabled, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def issue_api_key(
        self,
        actor: str,
        at: datetime,
        key: ApiKeyRequest,
        grantable: Iterable[str],
    ) -> None:
        """Records a new key; `grantable` is what the user may do now, which bounds its scopes."""
        self.check_enabled()
        self.check_new_key_id(key.key_id)
        self.check_room_for_api_key(at)
        self.trigger_event(
            self.ApiKeyIssued, **self._stamp(actor, at), **key.checked(at, grantable)
        )

    def revoke_api_key(self, actor: str, at: datetime, key_id: str, reason: str = "") -> None:
        """Allowed on a disabled user, and on an expired key."""
        self.check_revocable(key_id)
        self.trigger_event(
            self.ApiKeyRevoked,
            **self._stamp(actor, at),
            key_id=key_id,
            reason=bounded_text("reason", reason),
        )

    # Queries ----------------------------------------------------------------------------------

    def active_api_keys(self, now: datetime) -> list[ApiKey]:
        return [key for key in self.api_keys.values() if key.active(now)]

    def verified_api_key(self, key_id: str, secret: str, now: datetime) -> ApiKey | None:
        """The key, when the secret presented is its own and it may be used now: not revoked,
        not expired, and its user not disabled. Compares in constant time."""
        key = self.api_keys.get(key_id)
        matches = secret_matches(key, secret)
        if key is None or not matches or self.disabled or not key.active(now):
            return None
        return key

    def accepts_login(self, logged_in_at: datetime) -> bool:
        """Whether a login made then (a console session, a refresh token's family) still
        stands: the user is enabled and has not changed password since. Exact, unlike tokens."""
        return not self.disabled and logged_in_at >= self.tokens_valid_from

    def accepts_token(self, issued_at: datetime) -> bool:
        """Whether an access token issued then still speaks for the user. Tokens carry whole
        seconds, so the comparison is to the second."""
        valid_from = self.tokens_valid_from.replace(microsecond=0)
        return not self.disabled and issued_at >= valid_from

    def _stamp(self, actor: str, at: datetime) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at)

    # Events -----------------------------------------------------------------------------------

    class RoleGranted(Event):
        role: str

        def apply(self, user: User) -> None:
            user.roles = user.roles | {Role(self.role)}

    class RoleRevoked(Event):
        role: str

        def apply(self, user: User) -> None:
            user.roles = user.roles - {Role(self.role)}

    class PasswordChanged(Event):
        password_hash: str

        def apply(self, user: User) -> None:
            user.password_hash = self.password_hash
            user.tokens_valid_from = self.timestamp

    class PasswordRehashed(Event):
        password_hash: str

        def apply(self, user: User) -> None:
            user.password_hash = self.password_hash

    class Disabled(Event):
        reason: str

        def apply(self, user: User) -> None:
            user.disabled = True
            user.tokens_valid_from = self.timestamp

    class Enabled(Event):
        reason: str

        def apply(self, user: User) -> None:
            user.disabled = False

    class ApiKeyIssued(Event):
        key_id: str
        name: str
        secret_hash: str
        scopes: list[str]
        expires_at: datetime

        def apply(self, user: User) -> None:
            user.api_keys[self.key_id] = ApiKey(
                key_id=self.key_id,
                name=self.name,
                secret_hash=self.secret_hash,
                scopes=frozenset(self.scopes),
                expires_at=self.expires_at,
                issued_at=self.timestamp,
                issued_by=self.actor,
            )

    class ApiKeyRevoked(Event):
        key_id: str
        reason: str

        def apply(self, user: User) -> None:
            key = user.api_keys[self.key_id]
            user.api_keys[self.key_id] = replace(key, revoked_at=self.timestamp)


def _display_name(value: str, username: str) -> str:
    name = bounded_text("display_name", value)
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidCommand("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")
    return name or username
