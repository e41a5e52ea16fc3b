"""Login throttling over a sliding window of failures, in Redis (every server process counts
together) or in process (the embedded default).

A username and an address are each allowed `limit` failures within the window; after that an
attempt waits `first_lockout` from the latest failure, doubling with every further failure up to
`longest_lockout`. Old failures leave the window one by one, so the wait shrinks back as they do.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis

from vigil.application.identity_ports import LoginThrottle
from vigil.application.ports import Clock, system_clock
from vigil.infrastructure.settings import Settings, auth_key_prefix

BEYOND_LIMIT = 32
"""Failures kept past a limit: by then the wait has long reached its cap, and a flood of
guesses must not grow a counter without bound."""

SWEEP_AT = 10_000
"""Subjects the in-process throttle holds before it drops every failure that left the window."""


@dataclass(frozen=True)
class FailureLimits:
    """How many failures each of a username and an address may have, and what they then cost."""

    per_username: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    first_lockout: timedelta = timedelta(seconds=30)
    longest_lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> FailureLimits:
        auth = settings.auth
        return cls(
            per_username=auth.failures_per_username,
            per_address=auth.failures_per_address,
            window=auth.failure_window,
            first_lockout=auth.first_lockout,
            longest_lockout=auth.longest_lockout,
        )

    def wait(self, failures: int, limit: int, latest: float, now: float) -> float:
        """Seconds still to wait after `failures` within the window, the latest at `latest`."""
        if failures < limit:
            return 0.0
        doublings = min(failures - limit, BEYOND_LIMIT)
        lockout = min(
            self.first_lockout.total_seconds() * 2**doublings,
            self.longest_lockout.total_seconds(),
        )
        return max(0.0, latest + lockout - now)


def _subject(kind: str, name: str) -> str:
    # Hashed to bound the key's length whatever a client sends as a username.
    return f"{kind}:{hashlib.sha256(name.encode()).hexdigest()}"


def _subjects(username: str, address: str) -> tuple[str, str]:
    return _subject("user", username.lower()), _subject("address", address)


class RedisLoginThrottle(LoginThrottle):
    """A sorted set of failure times per username and per address, expiring with the window."""

    def __init__(
        self, redis: Redis, prefix: str, limits: FailureLimits, clock: Clock = system_clock
    ):
        self.redis = redis
        self.prefix = prefix
        self.limits = limits
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, redis: Redis, clock: Clock = system_clock
    ) -> RedisLoginThrottle:
        return cls(redis, auth_key_prefix(settings), FailureLimits.from_settings(settings), clock)

    def _key(self, subject: str) -> str:
        return f"{self.prefix}:throttle:{subject}"

    async def retry_after(self, username: str, address: str) -> float:
        now = self.clock().timestamp()
        since = f"({now - self.limits.window.total_seconds()!r}"
        keys = [self._key(s) for s in _subjects(username, address)]
        async with self.redis.pipeline(transaction=False) as reads:
            for key in keys:
                reads.zcount(key, since, "+inf")
                reads.zrange(key, -1, -1, withscores=True)
            user_count, user_latest, address_count, address_latest = await reads.execute()
        return max(
            self.limits.wait(user_count, self.limits.per_username, _score(user_latest), now),
            self.limits.wait(address_count, self.limits.per_address, _score(address_latest), now),
        )

    async def failed(self, username: str, address: str) -> None:
        now = self.clock().timestamp()
        window = self.limits.window.total_seconds()
        user, addr = _subjects(username, address)
        kept = {user: self.limits.per_username, addr: self.limits.per_address}
        async with self.redis.pipeline(transaction=True) as writes:
            for subject, limit in kept.items():
                key = self._key(subject)
                # The member only has to be unique; the score is the failure's time.
                writes.zadd(key, {f"{now!r}:{secrets.token_hex(4)}": now})
                writes.zremrangebyscore(key, "-inf", now - window)
                writes.zremrangebyrank(key, 0, -(limit + BEYOND_LIMIT + 1))
                writes.expire(key, max(1, int(window) + 1))
            await writes.execute()

    async def succeeded(self, username: str, address: str) -> None:
        user, _ = _subjects(username, address)
        await self.redis.delete(self._key(user))


def _score(latest: list[tuple[bytes | str, float]]) -> float:
    return float(latest[0][1]) if latest else 0.0


class InProcessLoginThrottle(LoginThrottle):
    """The embedded default's twin of `RedisLoginThrottle`: failure times in this process."""

    def __init__(self, limits: FailureLimits, clock: Clock = system_clock):
        self.limits = limits
        self.clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Clock = system_clock
    ) -> InProcessLoginThrottle:
        return cls(FailureLimits.from_settings(settings), clock)

    async def retry_after(self, username: str, address: str) -> float:
        now = self.clock().timestamp()
        user, addr = _subjects(username, address)
        return max(
            self._wait(user, self.limits.per_username, now),
            self._wait(addr, self.limits.per_address, now),
        )

    async def failed(self, username: str, address: str) -> None:
        now = self.clock().timestamp()
        user, addr = _subjects(username, address)
        for subject, limit in ((user, self.limits.per_username), (addr, self.limits.per_address)):
            times = self._failures[subject]
            times.append(now)
            self._forget_old(subject, now)
            while len(times) > limit + BEYOND_LIMIT:
                times.popleft()
        if len(self._failures) > SWEEP_AT:
            # Addresses that guessed once and never came back would otherwise stay for good.
            for subject in list(self._failures):
                self._forget_old(subject, now)

    async def succeeded(self, username: str, address: str) -> None:
        user, _ = _subjects(username, address)
        self._failures.pop(user, None)

    def _wait(self, subject: str, limit: int, now: float) -> float:
        if subject not in self._failures:
            return 0.0
        times = self._forget_old(subject, now)
        return self.limits.wait(len(times), limit, times[-1] if times else 0.0, now)

    def _forget_old(self, subject: str, now: float) -> deque[float]:
        times = self._failures[subject]
        while times and times[0] <= now - self.limits.window.total_seconds():
            times.popleft()
        if not times:
            del self._failures[subject]
        return times
