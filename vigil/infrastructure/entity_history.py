"""Entity histories in process (the embedded default) and in Redis (shared by every worker)."""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Sequence

from redis.asyncio import Redis

from vigil.application.entity_context import HORIZON, EntityHistory, Observation

REMEMBER = """
local keep = tonumber(ARGV[1])
local latest = {}
for i = 2, #ARGV, 3 do
  local slot, at = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  redis.call('ZADD', KEYS[slot], at, ARGV[i + 2])
  if latest[slot] == nil or at > latest[slot] then latest[slot] = at end
end
for slot, at in pairs(latest) do
  redis.call('ZREMRANGEBYSCORE', KEYS[slot], '-inf', '(' .. (at - keep))
end
return #KEYS
"""
"""Adds a batch to the entities' sorted sets, then trims each to twice the horizon before its
latest record, so a late record still finds the history it belongs to."""


def _latest(observations: Sequence[Observation]) -> dict[str, float]:
    """Each entity's latest event time in a batch: what its history is trimmed against."""
    latest: dict[str, float] = {}
    for o in observations:
        latest[o.entity_key] = max(o.at, latest.get(o.entity_key, o.at))
    return latest


class InProcessEntityHistory(EntityHistory):
    """Kept in the score worker's memory: right for one worker, lost on restart."""

    def __init__(self) -> None:
        self._timeline: dict[str, list[Observation]] = defaultdict(list)
        self._times: dict[str, list[float]] = defaultdict(list)
        self._seen: set[tuple[str, str]] = set()

    async def remember(self, observations: Sequence[Observation]) -> None:
        for o in observations:
            if (o.entity_key, o.record_id) in self._seen:
                continue
            self._seen.add((o.entity_key, o.record_id))
            times = self._times[o.entity_key]
            place = bisect.bisect_right(times, o.at)
            times.insert(place, o.at)
            self._timeline[o.entity_key].insert(place, o)
        for key, at in _latest(observations).items():
            self._forget_before(key, at - 2 * HORIZON)

    async def recall(self, observations: Sequence[Observation]) -> list[list[Observation]]:
        answers = []
        for o in observations:
            times = self._times[o.entity_key]
            start = bisect.bisect_right(times, o.at - HORIZON)
            end = bisect.bisect_right(times, o.at)
            answers.append(self._timeline[o.entity_key][start:end])
        return answers

    def _forget_before(self, key: str, cut_at: float) -> None:
        cut = bisect.bisect_left(self._times[key], cut_at)
        for forgotten in self._timeline[key][:cut]:
            self._seen.discard((key, forgotten.record_id))
        del self._timeline[key][:cut], self._times[key][:cut]


class RedisEntityHistory(EntityHistory):
    """One sorted set per entity, scored by event time: every worker sees the same history.

    The member is the record id with its values, so a redelivered record adds nothing. Remembering
    a batch is one pipelined round trip, and so is recalling the few windows alerts need.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._remember_script = redis.register_script(REMEMBER)

    def _key(self, entity_key: str) -> str:
        return f"{self.prefix}:entity:{entity_key}"

    async def remember(self, observations: Sequence[Observation]) -> None:
        if not observations:
            return
        # One script call per batch: redis-py packs one command far faster than a thousand.
        keys = sorted({self._key(o.entity_key) for o in observations})
        slot = {key: n for n, key in enumerate(keys, start=1)}
        args: list[str | float] = [2 * HORIZON]
        for o in observations:
            member = json.dumps([o.record_id, list(o.values)], separators=(",", ":"))
            args += [slot[self._key(o.entity_key)], o.at, member]
        await self._remember_script(keys=keys, args=args)

    async def recall(self, observations: Sequence[Observation]) -> list[list[Observation]]:
        if not observations:
            return []
        async with self.redis.pipeline(transaction=False) as reads:
            for o in observations:
                reads.zrangebyscore(
                    self._key(o.entity_key), f"({o.at - HORIZON}", o.at, withscores=True
                )
            windows = await reads.execute()
        return [
            [_observation(o.entity_key, member, at) for member, at in window]
            for o, window in zip(observations, windows, strict=True)
        ]


def _observation(entity_key: str, member: bytes, at: float) -> Observation:
    record_id, values = json.loads(member)
    return Observation(entity_key, record_id, at, tuple(values))
