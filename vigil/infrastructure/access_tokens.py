"""Access tokens as JWTs signed with HS256 (pyjwt): one pinned algorithm, every claim required."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from vigil.application.identity_ports import AccessClaims, AccessTokens, InvalidToken
from vigil.application.ports import Clock, system_clock
from vigil.infrastructure.settings import Settings, derived_key, secret_key

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "sub", "tid", "name", "roles", "jti")
MIN_KEY_BYTES = 32
PURPOSE = b"vigil access tokens v1"


def _checked_key(key: str | bytes, what: str) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"{what} must be at least {MIN_KEY_BYTES} bytes, not {len(raw)}")
    return raw


class JwtAccessTokens(AccessTokens):
    """Issues and checks bearer tokens; the clock decides both when a token starts and when it
    has expired, so a test clock (or a replay) sees tokens exactly as it would live."""

    def __init__(
        self,
        key: str | bytes,
        issuer: str,
        audience: str,
        ttl: timedelta = timedelta(minutes=15),
        clock: Clock = system_clock,
        leeway: timedelta = timedelta(seconds=10),
    ):
        self._key = _checked_key(key, "The access token key")
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.clock = clock
        self.leeway = leeway.total_seconds()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = system_clock) -> JwtAccessTokens:
        _checked_key(secret_key(settings), "VIGIL_SECRET_KEY")
        # The server secret signs CSRF tokens and sessions too: tokens get a key of their own.
        key = derived_key(settings, PURPOSE)
        auth = settings.auth
        return cls(key, auth.issuer, auth.audience, auth.access_token_ttl, clock)

    def issue(
        self, user_id: UUID, tenant_id: str, username: str, roles: tuple[str, ...]
    ) -> tuple[str, AccessClaims]:
        # Whole seconds, as the token carries them, so the claims returned equal those verified.
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        claims = AccessClaims(
            user_id=user_id,
            tenant_id=tenant_id,
            username=username,
            roles=tuple(roles),
            issued_at=now,
            expires_at=now + self.ttl,
            token_id=secrets.token_urlsafe(16),
        )
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "tid": tenant_id,
            "name": username,
            "roles": list(roles),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "jti": claims.token_id,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def verify(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    # Times are checked below against the injected clock, not the library's.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(f"access token refused: {error}") from error
        self._check_times(payload)
        return _claims(payload)

    def _check_times(self, payload: dict[str, Any]) -> None:
        now = self.clock().timestamp()
        if _instant(payload, "exp") <= now - self.leeway:
            raise InvalidToken("access token refused: expired")
        if _instant(payload, "nbf") > now + self.leeway:
            raise InvalidToken("access token refused: not valid yet (nbf)")
        if _instant(payload, "iat") > now + self.leeway:
            raise InvalidToken("access token refused: issued in the future (iat)")


def _instant(payload: dict[str, Any], claim: str) -> float:
    value = payload[claim]
    # Python's json reads NaN and Infinity, which would make an `exp` that never comes.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"access token refused: {claim} is not a NumericDate")
    return float(value)


def _claims(payload: dict[str, Any]) -> AccessClaims:
    tenant, name, roles, jti = payload["tid"], payload["name"], payload["roles"], payload["jti"]
    if not all(isinstance(text, str) for text in (tenant, name, jti, payload["sub"])):
        raise InvalidToken("access token refused: sub, tid, name and jti must be strings")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidToken("access token refused: roles must be a list of strings")
    try:
        user_id = UUID(payload["sub"])
        issued_at = datetime.fromtimestamp(_instant(payload, "iat"), UTC)
        expires_at = datetime.fromtimestamp(_instant(payload, "exp"), UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidToken(f"access token refused: {error}") from error
    return AccessClaims(
        user_id=user_id,
        tenant_id=tenant,
        username=name,
        roles=tuple(roles),
        issued_at=issued_at,
        expires_at=expires_at,
        token_id=jti,
    )
