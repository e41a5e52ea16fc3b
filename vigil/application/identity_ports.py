"""What identity needs from the outside: password hashing, signed access tokens, refresh tokens
and login throttling. Adapters live in `vigil.infrastructure`; the use cases in
`vigil.application.identity` and the web layer's guards depend only on these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id in production); the hash string names its own
    parameters, so raising them later re-hashes users as they log in."""

    def hash(self, password: str) -> str: ...

    def verify(self, hashed: str, password: str) -> bool:
        """True when `password` matches; False (never an exception) when it does not."""
        ...

    def needs_rehash(self, hashed: str) -> bool: ...


@dataclass(frozen=True)
class AccessClaims:
    """Who an access token speaks for; the roles are those the user held when it was issued."""

    user_id: UUID
    tenant_id: str
    username: str
    roles: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    token_id: str


class InvalidToken(Exception):
    """A token that is malformed, expired, revoked, signed with another key or algorithm, or for
    another audience or issuer. The message is for logs; callers answer a generic 401."""


class AccessTokens(Protocol):
    """Short-lived signed bearer tokens (JWT, one pinned algorithm, issuer and audience checked)."""

    def issue(
        self, user_id: UUID, tenant_id: str, username: str, roles: tuple[str, ...]
    ) -> tuple[str, AccessClaims]: ...

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; InvalidToken otherwise."""
        ...


@dataclass(frozen=True)
class RefreshGrant:
    user_id: UUID
    tenant_id: str
    family: str
    """Every token rotated from one login shares a family; reuse of a spent token revokes it."""
    logged_in_at: datetime
    """When the family's login happened: a password changed since then ends the family."""


class RefreshTokens(Protocol):
    """Opaque, long-lived, single-use tokens that buy a new access token. Kept server-side (Redis,
    or in process on the embedded default) so logout and reuse detection can revoke them."""

    async def issue(self, user_id: UUID, tenant_id: str) -> str: ...

    async def rotate(self, token: str) -> tuple[RefreshGrant, str]:
        """Spends the token and returns its grant with the next token of its family. A token
        spent before is a theft signal: its whole family is revoked and InvalidToken raised."""
        ...

    async def revoke(self, token: str) -> None:
        """Logout: the token's family can refresh no more. Unknown tokens are ignored."""
        ...

    async def revoke_user(self, user_id: UUID) -> None:
        """Every refresh token of the user (password changed, user disabled)."""
        ...


class LoginThrottle(Protocol):
    """Slows password guessing per username and per client address, across server processes."""

    async def retry_after(self, username: str, address: str) -> float:
        """Seconds until a login attempt for this pair may be tried; 0 when it may now."""
        ...

    async def failed(self, username: str, address: str) -> None: ...

    async def succeeded(self, username: str, address: str) -> None:
        """Clears the username's failures (not the address's: one good login among many
        guesses from one address must not reset that address)."""
        ...
