"""API keys: what a key is, what a request to issue one must satisfy, and whose each key is.

Keys are issued and revoked on their User (the events are the user's, so a user's history shows
their keys); the ApiKeyOwner aggregate finds a key's user from the key's id alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import InvalidCommand
from vigil.domain.text import required_text

if TYPE_CHECKING:
    from vigil.domain.user import User

API_KEY_OWNER_NAMESPACE = UUID("0d6f4e2a-8b1c-5d3e-a7f9-6c5b4a3e2d1f")

MAX_API_KEYS = 20
"""Active (unrevoked, unexpired) API keys a user may hold at once."""
MAX_API_KEY_LIFETIME = timedelta(days=365)
MAX_KEY_NAME = 80

_KEY_ID = re.compile(r"[0-9a-f]{12}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_NO_SUCH_SECRET = "0" * 64


def api_key_owner_id(key_id: str) -> UUID:
    return uuid5(API_KEY_OWNER_NAMESPACE, key_id)


def api_key_secret_hash(secret: str) -> str:
    # An API key's secret is 32 random bytes, not something a person chose: there is no
    # dictionary to guess from, so a fast unsalted hash is as strong as a slow one, and it keeps
    # the check on every machine request cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def check_key_id(key_id: str) -> None:
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidCommand("key_id", "must be 12 lowercase hexadecimal digits")


def secret_matches(key: ApiKey | None, secret: str) -> bool:
    """Compares in constant time, and takes as long when there is no such key."""
    stored = key.secret_hash if key is not None else _NO_SUCH_SECRET
    return hmac.compare_digest(api_key_secret_hash(secret), stored)


@dataclass(frozen=True)
class ApiKey:
    """One of a user's API keys; its secret is kept only as a hash."""

    key_id: str
    name: str
    secret_hash: str = field(repr=False)
    scopes: frozenset[str]
    """Permissions the key may use, within its user's; empty means all of the user's."""
    expires_at: datetime
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class ApiKeyRequest:
    """A key to issue, as the application made it: its id, the hash of its secret, a name,
    the scopes asked for and when it expires."""

    key_id: str
    secret_hash: str = field(repr=False)
    name: str
    scopes: frozenset[str]
    expires_at: datetime

    def checked(self, at: datetime, grantable: Iterable[str]) -> dict[str, Any]:
        """The ApiKeyIssued fields, or InvalidCommand naming the field at fault."""
        if not _SHA256_HEX.fullmatch(self.secret_hash):
            raise InvalidCommand("secret_hash", "must be a sha256 digest in hexadecimal")
        name = required_text("name", self.name)
        if len(name) > MAX_KEY_NAME:
            raise InvalidCommand("name", f"must be at most {MAX_KEY_NAME} characters")
        beyond = sorted(self.scopes - set(grantable))
        if beyond:
            raise InvalidCommand("scopes", f"the user may not {', '.join(beyond)}")
        if self.expires_at.tzinfo is None:
            raise InvalidCommand("expires_at", "must say its time zone")
        if not at < self.expires_at <= at + MAX_API_KEY_LIFETIME:
            raise InvalidCommand("expires_at", "must be in the future, at most 365 days ahead")
        return {
            "key_id": self.key_id,
            "name": name,
            "secret_hash": self.secret_hash,
            "scopes": sorted(self.scopes),
            "expires_at": self.expires_at,
        }


class ApiKeyOwner(Aggregate):
    """Whose an API key is, found from the key's id alone. Authenticating a key reads this and
    then the user: two reads of the event store and no read model, so a key works the moment it
    is issued. The key's text names only the key, never its user."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Recorded(Event, Aggregate.Created):
        key_id: str
        user_id: UUID

    def __init__(self, tenant_id: str, actor: str, key_id: str, user_id: UUID) -> None:
        self.tenant_id = tenant_id
        self.key_id = key_id
        self.user_id = user_id

    @classmethod
    def record(cls, user: User, actor: str, at: datetime, key_id: str) -> ApiKeyOwner:
        """Saved with the user's ApiKeyIssued in one save, so neither exists without the other."""
        return cls._create(
            cls.Recorded,
            id=api_key_owner_id(key_id),
            timestamp=at,
            tenant_id=user.tenant_id,
            actor=required_text("actor", actor),
            key_id=key_id,
            user_id=user.id,
        )
