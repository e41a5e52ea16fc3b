"""Webhook signatures accepted lately: in Redis (every server sees every delivery) or in process."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis


class RedisSeenSignatures:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def first_time(self, signature: str, ttl_seconds: int) -> bool:
        stored = await self.redis.set(
            f"{self.prefix}:webhook:{signature}", b"1", nx=True, ex=ttl_seconds
        )
        return bool(stored)


class InProcessSeenSignatures:
    """Right for one server process; forgotten on restart."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._monotonic = monotonic

    async def first_time(self, signature: str, ttl_seconds: int) -> bool:
        now = self._monotonic()
        if len(self._until) > 10_000:
            self._until = {key: until for key, until in self._until.items() if until > now}
        if self._until.get(signature, 0.0) > now:
            return False
        self._until[signature] = now + ttl_seconds
        return True
