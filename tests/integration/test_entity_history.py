"""Entity histories: in process and in the machine's Redis, they must answer alike."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from vigil.application.entity_context import HORIZON, EntityHistory, Observation, summarise
from vigil.infrastructure.entity_history import InProcessEntityHistory, RedisEntityHistory

T0 = datetime(2018, 4, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0


@pytest.fixture(params=["in_process", "redis"])
async def history(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> AsyncIterator[EntityHistory]:
    if request.param == "in_process":
        yield InProcessEntityHistory()
        return
    redis = Redis.from_url(redis_url)
    try:
        yield RedisEntityHistory(redis, redis_prefix)
    finally:
        keys = [key async for key in redis.scan_iter(f"{redis_prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def observe(history: EntityHistory, batch: list[Observation]) -> list[list[Observation]]:
    await history.remember(batch)
    return await history.recall(batch)


def seen(
    record_id: str, hours: float, amount: float, entity: str = "default/cards/42"
) -> Observation:
    return Observation(entity, record_id, T0 + hours * HOUR, (amount,))


async def test_a_window_holds_the_entity_records_up_to_and_including_this_one(
    history: EntityHistory,
) -> None:
    await observe(
        history,
        [seen("a", 0, 10.0), seen("b", 0.5, 20.0), seen("other", 0.6, 1.0, "default/cards/7")],
    )
    (window,) = await observe(history, [seen("c", 0.75, 30.0)])
    assert [o.record_id for o in window] == ["a", "b", "c"]
    context = summarise(window[-1], window, ["TX_AMOUNT"])
    assert context["count_1h"] == 3.0
    assert context["mean_TX_AMOUNT_1h"] == pytest.approx(20.0)
    assert context["max_TX_AMOUNT_24h"] == 30.0


async def test_a_late_record_gets_the_context_it_would_have_had_in_order(
    history: EntityHistory,
) -> None:
    await observe(history, [seen("a", 0, 10.0), seen("c", 2, 30.0)])
    (late,) = await observe(history, [seen("b", 1, 20.0)])
    assert [o.record_id for o in late] == ["a", "b"]


async def test_a_redelivered_record_is_remembered_once(history: EntityHistory) -> None:
    await observe(history, [seen("a", 0, 10.0)])
    await observe(history, [seen("a", 0, 10.0)])
    (window,) = await observe(history, [seen("b", 1, 5.0)])
    assert [o.record_id for o in window] == ["a", "b"]


async def test_records_older_than_the_horizon_fall_out_of_the_window(
    history: EntityHistory,
) -> None:
    await observe(history, [seen("old", 0, 10.0)])
    (window,) = await observe(history, [seen("new", HORIZON / HOUR + 1, 5.0)])
    assert [o.record_id for o in window] == ["new"]


async def test_both_histories_answer_a_shuffled_stream_alike(
    redis_url: str, redis_prefix: str
) -> None:
    rng = random.Random(7)
    stream = [
        seen(f"r{n}", rng.uniform(0, 400), rng.uniform(1, 500), f"e/{n % 5}") for n in range(300)
    ]
    rng.shuffle(stream)
    memory = InProcessEntityHistory()
    redis = Redis.from_url(redis_url)
    try:
        shared = RedisEntityHistory(redis, redis_prefix)
        for start in range(0, len(stream), 50):
            batch = stream[start : start + 50]
            assert await observe(memory, batch) == await observe(shared, batch)
    finally:
        await redis.delete(*[key async for key in redis.scan_iter(f"{redis_prefix}:*")])
        await redis.aclose()
