"""Who is asking: a bearer token or an API key on API requests, and the routes that log in,
refresh and log out.

Every request passes `ApiAuthentication`, which puts the caller's `Principal` (or None) in the
ASGI scope. REST routes refuse a missing principal with 401 and a missing permission with 403
(`requires`); GraphQL answers both as errors on the fields asked for, so its explorer page loads
without credentials and shows what signing in is for.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import anyio.to_thread
from litestar import Request, Router, post
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from litestar.types import ASGIApp, Guard, Scope

from vigil.application.alert_desk import AlertDesk
from vigil.application.identity import (
    authenticate_api_key,
    authenticate_password,
    authenticate_token,
    session_principal,
    standing_principal,
)
from vigil.application.identity_ports import (
    AccessTokens,
    InvalidToken,
    LoginThrottle,
    PasswordHasher,
    RefreshTokens,
)
from vigil.application.permissions import Permission, Principal
from vigil.application.ports import Clock

log = logging.getLogger("vigil.web.auth")

API_KEY_HEADER = "x-api-key"
SIGN_IN = "sign in: send a bearer token from /api/v1/auth/login or an X-API-Key header"
SESSION_USER, SESSION_TENANT, SESSION_SINCE = "uid", "tid", "since"
"""What a console session cookie holds: who logged in, in which tenant, and when."""
WRONG_LOGIN = "wrong username or password"
"""The one answer to a failed login: it never says which of the two was wrong."""
THROTTLED = "too many failed logins: try again later"


@dataclass(frozen=True)
class Identity:
    """What the web layer needs to tell who is asking and to log users in."""

    hasher: PasswordHasher
    tokens: AccessTokens
    refresh: RefreshTokens
    throttle: LoginThrottle
    clock: Clock
    default_tenant: str
    """The tenant a login names when it names none."""
    remember_seconds: float = 5.0
    """How long what a credential proved is kept (`RecentPrincipals`)."""


class RecentPrincipals:
    """Principals proved in the last few seconds, by a hash of the credential that proved them.

    Proving a principal reads the user (and for a key its owner) from the event store: two reads
    a request. Clients repeat their credential on every request, so a proof is kept for
    `seconds`; a revoked key, a disabled user or a revoked role takes effect within that time.
    Failures are never kept, so a key issued a moment ago works at once."""

    def __init__(
        self, seconds: float = 5.0, most: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.most = most
        self.clock = clock
        self._kept: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def get(self, credential: str) -> Principal | None:
        if self.seconds <= 0:
            return None
        key = hashlib.sha256(credential.encode()).digest()
        kept = self._kept.get(key)
        if kept is None or kept[0] < self.clock():
            self._kept.pop(key, None)
            return None
        return kept[1]

    def keep(self, credential: str, principal: Principal) -> None:
        key = hashlib.sha256(credential.encode()).digest()
        self._kept[key] = (self.clock() + self.seconds, principal)
        self._kept.move_to_end(key)
        while len(self._kept) > self.most:
            self._kept.popitem(last=False)


async def principal_of(
    headers: Mapping[str, str], desk: AlertDesk, identity: Identity, recent: RecentPrincipals
) -> Principal | None:
    """The caller a request's credentials prove, or None: no credentials, or ones that fail
    (the reason is logged, never told). A bearer token's signature and expiry are checked on
    every request; what the event store says of its user is kept a few seconds."""
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        try:
            claims = identity.tokens.verify(token)
        except InvalidToken as refused:
            log.info("bearer token refused: %s", refused)
            return None
        return await _remembered(recent, token, authenticate_token, desk, claims)
    key = headers.get(API_KEY_HEADER)
    if key:
        return await _remembered(recent, key, authenticate_api_key, desk, key, identity.clock())
    return None


async def _remembered(
    recent: RecentPrincipals,
    credential: str,
    prove: Callable[..., Principal | None],
    *args: Any,
) -> Principal | None:
    principal = recent.get(credential)
    if principal is None:
        principal = await anyio.to_thread.run_sync(prove, *args)
        if principal is not None:
            recent.keep(credential, principal)
    return principal


class ApiAuthentication(AbstractAuthenticationMiddleware):
    """Puts the request's principal (None when it proves nobody) in the scope as `user`."""

    def __init__(
        self, app: ASGIApp, desk: AlertDesk, identity: Identity, exclude: list[str]
    ) -> None:
        super().__init__(app, exclude=exclude)
        self.desk = desk
        self.identity = identity
        self.recent = RecentPrincipals(identity.remember_seconds)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        credentials = _credential_headers(connection.scope)
        principal = await principal_of(credentials, self.desk, self.identity, self.recent)
        session = connection.scope.get("session")
        if principal is None and isinstance(session, dict):
            principal = await self._signed_in(session)
        return AuthenticationResult(
            user=principal, auth=None if principal is None else principal.via
        )

    async def _signed_in(self, session: dict[str, Any]) -> Principal | None:
        """The console's user, from the login its session cookie records (the console's paths
        only: the session middleware never runs on the API's)."""
        login = session_login(session)
        if login is None:
            return None
        user, tenant, since = login
        try:
            user_id = UUID(user)
        except ValueError:
            return None
        credential = f"session {user} {tenant} {since.timestamp()}"
        return await _remembered(
            self.recent, credential, session_principal, self.desk, tenant, user_id, since, "session"
        )


_CREDENTIAL_HEADERS = (b"authorization", API_KEY_HEADER.encode())


def _credential_headers(scope: Scope) -> dict[str, str]:
    """The headers credentials come in, read from the scope's raw list (ASGI lowercases names):
    Litestar's `connection.headers` would decode and index every header of every request."""
    return {
        name.decode(): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in _CREDENTIAL_HEADERS
    }


def session_login(session: dict[str, Any]) -> tuple[str, str, datetime] | None:
    """The user id, tenant and login time a session holds, if it holds a login."""
    try:
        since = datetime.fromtimestamp(float(session[SESSION_SINCE]), UTC)
        return str(session[SESSION_USER]), str(session[SESSION_TENANT]), since
    except (KeyError, TypeError, ValueError):
        return None


def principal_in(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    found = connection.scope.get("user")
    return found if isinstance(found, Principal) else None


def requires(*permissions: Permission) -> Guard:
    """A route guard: 401 without a principal, 403 without every one of the permissions.
    Asynchronous, because Litestar runs a synchronous guard in a worker thread on every request
    (about 25 µs of a scoring request's 300)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_in(connection)
        if principal is None:
            raise NotAuthorizedException(SIGN_IN)
        check_permissions(principal, permissions)

    return guard


def check_permissions(principal: Principal, permissions: Sequence[Permission]) -> None:
    """PermissionDeniedException (403) naming the first of the permissions the caller lacks."""
    for permission in permissions:
        if not principal.may(permission):
            raise PermissionDeniedException(f"this needs the permission {permission}")


@dataclass(frozen=True)
class Throttled:
    """The username or the address must wait this long before its next login attempt."""

    seconds: float


async def password_login(
    desk: AlertDesk,
    identity: Identity,
    request: Request[Any, Any, Any],
    tenant: str,
    username: str,
    password: str,
) -> Principal | Throttled | None:
    """The principal a password proves, the throttle asked first and told the outcome after;
    None for a wrong login, whichever of username and password was wrong. Both the API's and
    the console's login go through here."""
    address = request.client.host if request.client else "unknown"
    wait = await identity.throttle.retry_after(username, address)
    if wait > 0:
        return Throttled(wait)
    principal = await anyio.to_thread.run_sync(
        authenticate_password, desk, identity.hasher, tenant, username, password
    )
    if principal is None:
        await identity.throttle.failed(username, address)
    else:
        await identity.throttle.succeeded(username, address)
    return principal


def auth_router(desk: AlertDesk, identity: Identity) -> Router:
    """`POST /api/v1/auth/login`, `/refresh` and `/logout`."""

    @post("/login", status_code=HTTP_200_OK, exclude_from_auth=True)
    async def login(
        request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        username, password = _text(data, "username"), _text(data, "password")
        tenant = _text(data, "tenant", identity.default_tenant)
        principal = await password_login(desk, identity, request, tenant, username, password)
        if isinstance(principal, Throttled):
            raise NotAuthorizedException(
                THROTTLED, headers={"Retry-After": str(int(principal.seconds) + 1)}
            )
        if principal is None:
            raise NotAuthorizedException(WRONG_LOGIN)
        refresh = await identity.refresh.issue(principal.user_id, principal.tenant_id)
        return _tokens(identity, principal, refresh)

    @post("/refresh", status_code=HTTP_200_OK, exclude_from_auth=True)
    async def refresh(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        try:
            grant, rotated = await identity.refresh.rotate(_text(data, "refresh_token"))
        except InvalidToken as refused:
            log.info("refresh refused: %s", refused)
            raise NotAuthorizedException("the refresh token is not valid: log in again") from None
        principal = await anyio.to_thread.run_sync(standing_principal, desk, grant)
        if principal is None:
            await identity.refresh.revoke(rotated)
            raise NotAuthorizedException("the refresh token is not valid: log in again")
        return _tokens(identity, principal, rotated)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, exclude_from_auth=True)
    async def logout(data: JSONBody[dict[str, Any]]) -> None:
        await identity.refresh.revoke(_text(data, "refresh_token"))

    return Router("/api/v1/auth", route_handlers=[login, refresh, logout])


def _text(data: Mapping[str, Any], field: str, default: str | None = None) -> str:
    value = data.get(field, default)
    if not isinstance(value, str) or not value:
        raise ValidationException(f"{field}: must be a non-empty string", extra={"field": field})
    return value


def _tokens(identity: Identity, principal: Principal, refresh: str) -> dict[str, Any]:
    token, claims = identity.tokens.issue(
        principal.user_id,
        principal.tenant_id,
        principal.username,
        tuple(str(role) for role in principal.roles),
    )
    lifetime = claims.expires_at - claims.issued_at
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": int(lifetime.total_seconds()),
        "refresh_token": refresh,
    }
