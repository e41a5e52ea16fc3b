"""The label follower's position in Redis, under the window store's key prefix: it says which
labels the histories in that Redis hold, so it is kept with them and not with the event store."""

from __future__ import annotations

from redis.asyncio import Redis

KEEP_HIGHEST = """
local kept = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > kept then redis.call('SET', KEYS[1], ARGV[1]) end
"""
"""A follower that lags behind another one never moves the position back."""


class RedisLabelPosition:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:labels:position"
        self._keep = redis.register_script(KEEP_HIGHEST)

    async def read(self) -> int:
        stored = await self.redis.get(self.key)
        return 0 if stored is None else int(stored)

    async def keep(self, position: int) -> None:
        await self._keep(keys=[self.key], args=[position])
