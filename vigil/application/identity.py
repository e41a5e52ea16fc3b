"""Identity as use cases: registering users, their roles, passwords and API keys, and proving who
is asking (by password, API key or access token).

Users are saved through the alerts' application, so who may do what sits on the one log that
auditors replay. These functions block (slow hashes, the event store): call them through a
thread. They check no permission themselves; the caller's guard does (`permissions.authorize`).

Authentication answers None for every failure alike, so callers give one generic error and
never tell an unknown username from a wrong password; an unknown username still costs one
password check, so timing does not tell either.
"""

from __future__ import annotations

import logging
import re
import secrets
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from vigil.application.alert_desk import AlertDesk
from vigil.application.identity_ports import AccessClaims, PasswordHasher, RefreshGrant
from vigil.application.permissions import Permission, Principal, Via, permissions_of
from vigil.domain.api_key import (
    ApiKey,
    ApiKeyOwner,
    ApiKeyRequest,
    api_key_owner_id,
    api_key_secret_hash,
)
from vigil.domain.errors import InvalidCommand, UsernameTaken, UserNotFound, WrongPassword
from vigil.domain.user import Role, User, user_id, username_of

log = logging.getLogger("vigil.identity")

IDENTITY_ACTOR = "system:identity"
"""Who re-hashes a password as its user logs in."""

MIN_PASSWORD = 12
MAX_PASSWORD = 256
"""Long enough for any passphrase, short enough that hashing one is no denial of service."""

API_KEY_PREFIX = "vgl_"
_PRESENTED_KEY = re.compile(r"vgl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_DUMMY_PASSWORD = "not the password of anyone at all"  # noqa: S105  # a decoy, see _dummy_hash
_DUMMY_HASHES: weakref.WeakKeyDictionary[PasswordHasher, str] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class IssuedKey:
    """A new API key. `plaintext` is shown to its owner once and stored nowhere."""

    key_id: str
    plaintext: str = field(repr=False)
    name: str
    scopes: frozenset[Permission]
    expires_at: datetime


def check_password_policy(field_name: str, password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidCommand(field_name, f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidCommand(field_name, f"must be at most {MAX_PASSWORD} characters")
    if password.strip().lower() == username.strip().lower():
        raise InvalidCommand(field_name, "must not be the username")


# Users ----------------------------------------------------------------------------------------


def register_user(
    desk: AlertDesk,
    hasher: PasswordHasher,
    tenant_id: str,
    actor: str,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str = "",
) -> User:
    name = username_of(username)
    check_password_policy("password", password, name)
    taken = UsernameTaken(name)
    # Checked before the slow hash, so a taken name costs no hashing; the save checks again.
    if user_id(tenant_id, name) in desk.repository:
        raise taken
    user = User.register(
        tenant_id, actor, desk.clock(), name, display_name, hasher.hash(password), roles
    )
    try:
        desk.save(user)
    except IntegrityError:
        raise taken from None  # registered by someone else since the check above
    return user


def get_user(desk: AlertDesk, tenant_id: str, user_id: UUID) -> User:
    """The user as they stand; another tenant's user answers as not found."""
    user = desk.owned(tenant_id, user_id, User)
    if user is None:
        raise UserNotFound(user_id)
    return user


def find_user(desk: AlertDesk, tenant_id: str, username: str) -> User | None:
    try:
        name = username_of(username)
    except InvalidCommand:
        return None
    return desk.owned(tenant_id, user_id(tenant_id, name), User)


def grant_role(desk: AlertDesk, tenant_id: str, user_id: UUID, actor: str, role: str) -> User:
    user = get_user(desk, tenant_id, user_id)
    user.grant_role(actor, desk.clock(), role)
    desk.save(user)
    return user


def revoke_role(desk: AlertDesk, tenant_id: str, user_id: UUID, actor: str, role: str) -> User:
    user = get_user(desk, tenant_id, user_id)
    user.revoke_role(actor, desk.clock(), role)
    desk.save(user)
    return user


def change_password(
    desk: AlertDesk,
    hasher: PasswordHasher,
    tenant_id: str,
    user_id: UUID,
    actor: str,
    current_password: str,
    new_password: str,
) -> User:
    """The user's own change: they prove the current password first."""
    user = get_user(desk, tenant_id, user_id)
    if not hasher.verify(user.password_hash, current_password):
        raise WrongPassword
    check_password_policy("new_password", new_password, user.username)
    user.change_password(actor, desk.clock(), hasher.hash(new_password))
    desk.save(user)
    return user


def reset_password(
    desk: AlertDesk,
    hasher: PasswordHasher,
    tenant_id: str,
    user_id: UUID,
    actor: str,
    new_password: str,
) -> User:
    """An admin sets someone's password without knowing the old one."""
    user = get_user(desk, tenant_id, user_id)
    check_password_policy("password", new_password, user.username)
    user.change_password(actor, desk.clock(), hasher.hash(new_password))
    desk.save(user)
    return user


def disable_user(desk: AlertDesk, tenant_id: str, user_id: UUID, actor: str, reason: str) -> User:
    user = get_user(desk, tenant_id, user_id)
    user.disable(actor, desk.clock(), reason)
    desk.save(user)
    return user


def enable_user(desk: AlertDesk, tenant_id: str, user_id: UUID, actor: str, reason: str) -> User:
    user = get_user(desk, tenant_id, user_id)
    user.enable(actor, desk.clock(), reason)
    desk.save(user)
    return user


# API keys -------------------------------------------------------------------------------------


def issue_api_key(
    desk: AlertDesk,
    tenant_id: str,
    user_id: UUID,
    actor: str,
    name: str,
    expires_at: datetime,
    scopes: Iterable[str] = (),
) -> IssuedKey:
    """A new key for the user, its scopes within what the user may do now (none: all of it).
    The key and its owner record are saved together."""
    user, at = get_user(desk, tenant_id, user_id), desk.clock()
    asked = frozenset(_permission_of(scope) for scope in scopes)
    key_id, secret = _unused_key_id(desk), secrets.token_urlsafe(32)
    request = ApiKeyRequest(key_id, api_key_secret_hash(secret), name, asked, expires_at)
    user.issue_api_key(actor, at, request, permissions_of(user.roles))
    desk.save(user, ApiKeyOwner.record(user, actor, at, key_id))
    issued = user.api_keys[key_id]
    return IssuedKey(
        key_id, f"{API_KEY_PREFIX}{key_id}_{secret}", issued.name, asked, issued.expires_at
    )


def revoke_api_key(
    desk: AlertDesk, tenant_id: str, user_id: UUID, actor: str, key_id: str, reason: str = ""
) -> User:
    user = get_user(desk, tenant_id, user_id)
    user.revoke_api_key(actor, desk.clock(), key_id, reason)
    desk.save(user)
    return user


def _permission_of(scope: str) -> Permission:
    try:
        return Permission(scope)
    except ValueError:
        raise InvalidCommand("scopes", f"{scope!r} is not a permission") from None


def _unused_key_id(desk: AlertDesk) -> str:
    # 48 random bits: a clash is rare, but a key id must find exactly one owner.
    while True:
        key_id = secrets.token_hex(6)
        if api_key_owner_id(key_id) not in desk.repository:
            return key_id


# Authentication -------------------------------------------------------------------------------


def authenticate_password(
    desk: AlertDesk, hasher: PasswordHasher, tenant_id: str, username: str, password: str
) -> Principal | None:
    """The principal when the user exists, is enabled and the password is theirs; else None.
    A hash made with weaker parameters than the hasher's is replaced as they log in."""
    user = find_user(desk, tenant_id, username)
    if user is None or len(password) > MAX_PASSWORD:
        hasher.verify(_dummy_hash(hasher), password[:MAX_PASSWORD])
        return None
    if not hasher.verify(user.password_hash, password) or user.disabled:
        return None
    if hasher.needs_rehash(user.password_hash):
        user.rehash_password(IDENTITY_ACTOR, desk.clock(), hasher.hash(password))
        try:
            desk.save(user)
        except IntegrityError:
            log.info("%s changed while re-hashing at login; the next login tries again", user.id)
    return _principal(user, "password", user.roles, permissions_of(user.roles))


def authenticate_api_key(
    desk: AlertDesk, presented_key: str, now: datetime, tenant_id: str | None = None
) -> Principal | None:
    """The principal of a valid, unrevoked, unexpired key of an enabled user; else None. Given
    a tenant, another tenant's key answers None too."""
    parsed = _PRESENTED_KEY.fullmatch(presented_key.strip())
    if parsed is None:
        return None
    key_id, secret = parsed.groups()
    owner = _owner_of(desk, key_id)
    if owner is None or tenant_id not in (None, owner.tenant_id):
        return None
    user = desk.owned(owner.tenant_id, owner.user_id, User)
    key = None if user is None else user.verified_api_key(key_id, secret, now)
    if user is None or key is None:
        return None
    return _principal(user, "api_key", user.roles, _key_permissions(user, key), key_id)


def authenticate_token(desk: AlertDesk, claims: AccessClaims) -> Principal | None:
    """The principal of verified access-token claims while the user still stands behind them:
    enabled, and no password change since the token was issued. Roles granted since wait for
    the next token; roles revoked since are gone at once."""
    user = desk.owned(claims.tenant_id, claims.user_id, User)
    if user is None or not user.accepts_token(claims.issued_at):
        return None
    roles = frozenset(role for role in user.roles if role in claims.roles)
    return _principal(user, "token", roles, permissions_of(roles))


def standing_principal(desk: AlertDesk, grant: RefreshGrant) -> Principal | None:
    """The principal a refresh token stands for, with the user's roles as they are now; None
    once the user is disabled or gone, or has changed password since that login."""
    return session_principal(desk, grant.tenant_id, grant.user_id, grant.logged_in_at)


def session_principal(
    desk: AlertDesk, tenant_id: str, user_id: UUID, logged_in_at: datetime, via: Via = "token"
) -> Principal | None:
    """The principal of a login that happened then (a console session, a refresh token's
    family), with the user's roles as they are now; None once the user is disabled or gone, or
    has changed password since."""
    user = desk.owned(tenant_id, user_id, User)
    if user is None or not user.accepts_login(logged_in_at):
        return None
    return _principal(user, via, user.roles, permissions_of(user.roles))


def _owner_of(desk: AlertDesk, key_id: str) -> ApiKeyOwner | None:
    try:
        found: object = desk.repository.get(api_key_owner_id(key_id))
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, ApiKeyOwner) else None


def _key_permissions(user: User, key: ApiKey) -> frozenset[Permission]:
    allowed = permissions_of(user.roles)
    if not key.scopes:
        return allowed
    return frozenset(p for p in allowed if p in key.scopes)


def _principal(
    user: User,
    via: Via,
    roles: frozenset[Role],
    permissions: frozenset[Permission],
    key_id: str | None = None,
) -> Principal:
    return Principal(user.id, user.tenant_id, user.username, roles, permissions, via, key_id)


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of the hasher's own kind, checked against when there is no user to check, so an
    unknown username costs what a known one does. Made once per hasher."""
    try:
        known = _DUMMY_HASHES.get(hasher)
    except TypeError:  # a hasher that cannot be weakly referenced: pay for a fresh hash
        return hasher.hash(_DUMMY_PASSWORD)
    if known is None:
        known = _DUMMY_HASHES[hasher] = hasher.hash(_DUMMY_PASSWORD)
    return known
