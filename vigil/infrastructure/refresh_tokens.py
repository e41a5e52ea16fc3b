"""Refresh tokens kept server-side, in Redis (shared by every server process) or in process.

A token is 32 random bytes shown once; only its sha256 is stored. Every login starts a family,
and each rotation spends the family's current token and makes the next one. A spent token that
comes back means two holders (one of them a thief), so the whole family dies. A token lasts
`ttl` unless rotated, and no rotation keeps a family alive beyond `lifetime` after its login.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from redis.asyncio import Redis

from vigil.application.identity_ports import InvalidToken, RefreshGrant, RefreshTokens
from vigil.application.ports import Clock, system_clock
from vigil.infrastructure.settings import Settings, auth_key_prefix

ROTATE = """
local family = redis.call('HMGET', KEYS[1], 'current', 'born', 'renewed', 'tenant')
if not family[1] then return {'dead'} end
local function kill(reason)
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[6])
  return {reason}
end
if family[1] ~= ARGV[1] then return kill('reused') end
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local ends = tonumber(family[2]) + tonumber(ARGV[5])
if now >= ends then return kill('past its family lifetime') end
if now >= tonumber(family[3]) + ttl then return kill('expired') end
redis.call('HSET', KEYS[1], 'current', ARGV[2], 'renewed', ARGV[3])
local left = math.ceil(ends - now)
redis.call('EXPIRE', KEYS[1], math.min(ttl, left))
redis.call('SET', KEYS[2], ARGV[7], 'EX', left)
return {'ok', family[4], family[2]}
"""
"""Spends the family's current token and makes the next one, in one step: of two rotations of
one token, the second finds it spent. KEYS: family, next token, user's families. ARGV: spent
digest, next digest, now, ttl, lifetime, family id, next token's record."""

REFUSALS = {
    "dead": "refresh token refused: its family is revoked or expired",
    "reused": "refresh token reused: its family is revoked",
    "past its family lifetime": "refresh token refused: its login is too old, log in again",
    "expired": "refresh token refused: expired",
}


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _digest(token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _seconds(duration: timedelta) -> int:
    return max(1, math.ceil(duration.total_seconds()))


class RedisRefreshTokens(RefreshTokens):
    """A hash per family (user, tenant, current digest, born, renewed), a key per token digest
    naming its family (kept until the family's lifetime ends, so reuse is recognised), and a
    set of families per user for `revoke_user`."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        ttl: timedelta = timedelta(days=14),
        lifetime: timedelta = timedelta(days=30),
        clock: Clock = system_clock,
    ):
        self.redis = redis
        self.prefix = prefix
        self.ttl = _seconds(ttl)
        self.lifetime = _seconds(lifetime)
        self.clock = clock
        self._rotate = redis.register_script(ROTATE)

    @classmethod
    def from_settings(
        cls, settings: Settings, redis: Redis, clock: Clock = system_clock
    ) -> RedisRefreshTokens:
        auth = settings.auth
        prefix = auth_key_prefix(settings)
        return cls(redis, prefix, auth.refresh_token_ttl, auth.refresh_family_lifetime, clock)

    def _token_key(self, digest: str) -> str:
        return f"{self.prefix}:refresh:token:{digest}"

    def _family_key(self, family: str) -> str:
        return f"{self.prefix}:refresh:family:{family}"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}:refresh:user:{user_id}"

    async def issue(self, user_id: UUID, tenant_id: str) -> str:
        token, digest = _new_token()
        family, now = secrets.token_urlsafe(16), self.clock().timestamp()
        async with self.redis.pipeline(transaction=True) as writes:
            writes.hset(
                self._family_key(family),
                mapping={
                    "user": str(user_id),
                    "tenant": tenant_id,
                    "current": digest,
                    "born": repr(now),
                    "renewed": repr(now),
                },
            )
            writes.expire(self._family_key(family), min(self.ttl, self.lifetime))
            writes.set(self._token_key(digest), f"{family} {user_id}", ex=self.lifetime)
            writes.sadd(self._user_key(str(user_id)), family)
            # Every family is younger than the last one issued, so the set outlives them all.
            writes.expire(self._user_key(str(user_id)), self.lifetime)
            await writes.execute()
        return token

    async def rotate(self, token: str) -> tuple[RefreshGrant, str]:
        family, user_id = await self._owner(token)
        if family is None:
            raise InvalidToken("refresh token refused: unknown or expired")
        next_token, next_digest = _new_token()
        outcome = await self._rotate(
            keys=[
                self._family_key(family),
                self._token_key(next_digest),
                self._user_key(user_id),
            ],
            args=[
                _digest(token),
                next_digest,
                repr(self.clock().timestamp()),
                self.ttl,
                self.lifetime,
                family,
                f"{family} {user_id}",
            ],
        )
        verdict = _text(outcome[0])
        if verdict != "ok":
            raise InvalidToken(REFUSALS[verdict])
        born = datetime.fromtimestamp(float(_text(outcome[2])), UTC)
        return RefreshGrant(UUID(user_id), _text(outcome[1]), family, born), next_token

    async def revoke(self, token: str) -> None:
        family, user_id = await self._owner(token)
        if family is not None:
            await self._kill(user_id, [family])

    async def revoke_user(self, user_id: UUID) -> None:
        families = [_text(f) for f in await self.redis.smembers(self._user_key(str(user_id)))]
        if families:
            await self._kill(str(user_id), families)

    async def _owner(self, token: str) -> tuple[str | None, str]:
        """The family and user a token was issued to; fixed once issued, so read outside the
        rotation's atomic step."""
        record = await self.redis.get(self._token_key(_digest(token)))
        if record is None:
            return None, ""
        family, user_id = _text(record).split(" ")
        return family, user_id

    async def _kill(self, user_id: str, families: list[str]) -> None:
        # Only these members leave the set: a family a concurrent login adds stays alive.
        async with self.redis.pipeline(transaction=True) as writes:
            writes.delete(*[self._family_key(f) for f in families])
            writes.srem(self._user_key(user_id), *families)
            await writes.execute()


@dataclass
class _Family:
    user_id: UUID
    tenant_id: str
    current: str
    born: float
    renewed: float
    digests: list[str] = field(default_factory=list)
    """Every token of the family, spent or not, so reuse is recognised while it lives."""


class InProcessRefreshTokens(RefreshTokens):
    """The embedded default's twin of `RedisRefreshTokens`, lost on restart. Nothing is awaited
    between reading and writing, so each call is atomic on the event loop without a lock."""

    def __init__(
        self,
        ttl: timedelta = timedelta(days=14),
        lifetime: timedelta = timedelta(days=30),
        clock: Clock = system_clock,
    ):
        self.ttl = _seconds(ttl)
        self.lifetime = _seconds(lifetime)
        self.clock = clock
        self._families: dict[str, _Family] = {}
        self._family_of: dict[str, str] = {}
        self._families_of: dict[UUID, set[str]] = defaultdict(set)

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Clock = system_clock
    ) -> InProcessRefreshTokens:
        auth = settings.auth
        return cls(auth.refresh_token_ttl, auth.refresh_family_lifetime, clock)

    async def issue(self, user_id: UUID, tenant_id: str) -> str:
        now = self.clock().timestamp()
        self._forget_expired(now)
        token, digest = _new_token()
        family = secrets.token_urlsafe(16)
        self._families[family] = _Family(user_id, tenant_id, digest, now, now, [digest])
        self._family_of[digest] = family
        self._families_of[user_id].add(family)
        return token

    async def rotate(self, token: str) -> tuple[RefreshGrant, str]:
        digest = _digest(token)
        family_id = self._family_of.get(digest)
        if family_id is None:
            raise InvalidToken("refresh token refused: unknown or expired")
        family = self._families[family_id]
        now = self.clock().timestamp()
        refusal = self._refusal(family, digest, now)
        if refusal is not None:
            self._kill(family_id)
            raise InvalidToken(REFUSALS[refusal])
        next_token, next_digest = _new_token()
        family.current, family.renewed = next_digest, now
        family.digests.append(next_digest)
        self._family_of[next_digest] = family_id
        born = datetime.fromtimestamp(family.born, UTC)
        return RefreshGrant(family.user_id, family.tenant_id, family_id, born), next_token

    async def revoke(self, token: str) -> None:
        family = self._family_of.get(_digest(token))
        if family is not None:
            self._kill(family)

    async def revoke_user(self, user_id: UUID) -> None:
        for family in list(self._families_of.get(user_id, ())):
            self._kill(family)

    def _refusal(self, family: _Family, digest: str, now: float) -> str | None:
        """Why the token may not rotate (the keys of REFUSALS, as the Redis script answers)."""
        if family.current != digest:
            return "reused"
        if now >= family.born + self.lifetime:
            return "past its family lifetime"
        if now >= family.renewed + self.ttl:
            return "expired"
        return None

    def _kill(self, family_id: str) -> None:
        family = self._families.pop(family_id, None)
        if family is None:
            return
        for digest in family.digests:
            self._family_of.pop(digest, None)
        self._families_of[family.user_id].discard(family_id)
        if not self._families_of[family.user_id]:
            del self._families_of[family.user_id]

    def _forget_expired(self, now: float) -> None:
        """Drops families no token can rotate any more, as Redis's expiry would."""
        for family_id, family in list(self._families.items()):
            if now >= min(family.born + self.lifetime, family.renewed + self.ttl):
                self._kill(family_id)
