"""Window features in the machine's Redis: the same answers as in process, and the same model
input online as the training matrix offline."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from vigil.application.detection import Rejection
from vigil.application.features import (
    InProcessWindowStore,
    OnlineFeatures,
    WindowInput,
    history_layouts,
    training_matrix,
)
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.infrastructure.window_store import RedisWindowStore

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "card_features.yaml"
MINUTE = 60.0
T0 = datetime(2018, 4, 1, tzinfo=UTC).timestamp()

EVERYTHING = FeaturePipeline.from_document(
    {
        "name": "everything",
        "source": "cards",
        "transformations": [
            {
                "type": "time_window_aggregation",
                "entity_key": "CUSTOMER",
                "field": "AMOUNT",
                "windows": ["10m", "1h"],
                "aggregations": ["count", "sum", "mean", "std", "min", "max"],
                "time_since_last": True,
            },
            {
                "type": "time_window_aggregation",
                "entity_key": "CUSTOMER",
                "field": "FEE",
                "windows": ["30m"],
                "aggregations": ["mean", "max"],
            },
            {
                "type": "time_window_aggregation",
                "entity_key": "TERMINAL",
                "windows": ["10m", "2h"],
                "aggregations": ["count"],
                "time_since_last": True,
            },
        ],
    }
)
"""Two fields in one history, a history without fields, and short windows, so that records
later than the retention happen in a few hundred minutes."""


def value(rng: random.Random) -> object:
    return rng.choice([rng.uniform(-500, 500), rng.randint(0, 9), None, "7.5", 1e-3, 1e6])


def random_stream(seed: int, count: int = 400) -> list[list[WindowInput]]:
    """Records roughly in event-time order, some late (a few minutes or hours), some delivered
    again later, a few without an entity, in batches of random sizes."""
    rng = random.Random(seed)
    records = []
    for n in range(count):
        minutes = n * 1.5 + rng.choice([0.0, 0.0, 0.0, -rng.uniform(0, 30), -rng.uniform(100, 300)])
        fields = {
            "CUSTOMER": rng.choice(["c1", "c2", "c3", "c4", 5, None]),
            "TERMINAL": rng.choice(["t1", "t2", ""]),
            "AMOUNT": value(rng),
            "FEE": value(rng),
        }
        tenant = rng.choice(["default", "default", "bank-b"])
        records.append(WindowInput(tenant, "cards", f"r{n}", T0 + minutes * MINUTE, fields))
    arrivals = list(records)
    for again in rng.sample(records, count // 10):
        arrivals.insert(rng.randrange(len(arrivals) + 1), again)
    batches, start = [], 0
    while start < len(arrivals):
        size = rng.choice([1, 7, 50, 120])
        batches.append(arrivals[start : start + size])
        start += size
    return batches


def assert_same(
    online: list[dict[str, float | None]], offline: list[dict[str, float | None]]
) -> None:
    """To the last bit: both stores do the same arithmetic in the same order."""
    assert len(online) == len(offline)
    for got, wanted in zip(online, offline, strict=True):
        assert got.keys() == wanted.keys()
        for name, number in wanted.items():
            assert got[name] == number, name


@pytest.mark.parametrize("seed", range(6))
async def test_redis_and_the_in_process_store_answer_alike_on_any_stream(
    redis: Redis, redis_prefix: str, seed: int
) -> None:
    in_redis = RedisWindowStore(redis, redis_prefix)
    in_process = InProcessWindowStore()
    for batch in random_stream(seed):
        assert_same(
            await in_redis.observe(EVERYTHING, batch), await in_process.observe(EVERYTHING, batch)
        )


def entry(record_id: str, minutes: float, customer: str = "c1") -> WindowInput:
    fields = {"CUSTOMER": customer, "TERMINAL": "t1", "AMOUNT": 10.0, "FEE": 1.0}
    return WindowInput("default", "cards", record_id, T0 + minutes * MINUTE, fields)


async def test_a_late_record_in_redis_gets_the_window_ending_at_its_own_time(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix)
    await store.observe(EVERYTHING, [entry("a", 0), entry("c", 30)])
    (late,) = await store.observe(EVERYTHING, [entry("b", 5)])
    assert late["CUSTOMER_count_10m"] == 2.0
    assert late["CUSTOMER_time_since_last"] == 5 * MINUTE
    (again,) = await store.observe(EVERYTHING, [entry("b", 5)])
    assert again == late


async def test_records_of_one_event_time_add_up_alike_whatever_order_they_arrive_in(
    redis: Redis, redis_prefix: str
) -> None:
    amounts = [1e16, 1.0, -1e16, 3.0, 0.1, 0.2]
    records = [
        WindowInput("default", "cards", f"r{n}", T0, {"CUSTOMER": "c1", "AMOUNT": a, "FEE": a})
        for n, a in enumerate(amounts)
    ]
    in_redis = RedisWindowStore(redis, redis_prefix)
    in_process = InProcessWindowStore()
    for arrivals in ([records[3], records[0], records[5]], records[::-1], records):
        assert_same(
            await in_redis.observe(EVERYTHING, arrivals),
            await in_process.observe(EVERYTHING, arrivals),
        )


async def test_a_batch_of_more_entities_than_one_read_takes_gets_the_same_answers(
    redis: Redis, redis_prefix: str
) -> None:
    records = [
        WindowInput("default", "cards", f"r{n}", T0 + n, {"CUSTOMER": f"c{n % 1500}", "AMOUNT": n})
        for n in range(3000)
    ]
    assert_same(
        await RedisWindowStore(redis, redis_prefix).observe(EVERYTHING, records),
        await InProcessWindowStore().observe(EVERYTHING, records),
    )


async def test_a_window_of_more_entries_than_one_unpack_takes_gets_the_same_answers(
    redis: Redis, redis_prefix: str
) -> None:
    sums = FeaturePipeline.from_document(
        {
            "name": "sums",
            "source": "cards",
            "transformations": [
                {
                    "type": "time_window_aggregation",
                    "entity_key": "CUSTOMER",
                    "field": "AMOUNT",
                    "windows": ["1h"],
                    "aggregations": ["sum"],
                }
            ],
        }
    )
    records = [
        WindowInput("default", "cards", f"r{n}", T0 + n, {"CUSTOMER": "c1", "AMOUNT": n / 7})
        for n in range(2500)
    ]
    in_redis = RedisWindowStore(redis, redis_prefix)
    in_process = InProcessWindowStore()
    for batch in (records[:2400], records[2400:]):  # windows of up to 2,500 entries
        assert_same(await in_redis.observe(sums, batch), await in_process.observe(sums, batch))


async def test_every_key_starts_with_the_prefix_and_names_its_entity(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix)
    await store.observe(EVERYTHING, [entry("a", 0), entry("b", 1, customer="c2")])
    keys = sorted([key.decode() async for key in redis.scan_iter(f"{redis_prefix}:*")])
    customer, terminal = history_layouts(EVERYTHING)
    assert keys == sorted(
        [
            store.key(entry("a", 0), customer, "c1"),
            store.key(entry("a", 0), customer, "c2"),
            store.key(entry("a", 0), terminal, "t1"),
        ]
    )
    assert all(key.startswith(f"{redis_prefix}:fw:default:cards:") for key in keys)


async def test_a_history_forgets_records_older_than_twice_its_widest_window(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix, ttl_seconds=3600)
    await store.observe(EVERYTHING, [entry("a", 0), entry("b", 1), entry("c", 2)])
    (latest,) = await store.observe(EVERYTHING, [entry("d", 200)])
    assert latest["CUSTOMER_time_since_last"] is None
    customer = history_layouts(EVERYTHING)[0]
    key = store.key(entry("d", 200), customer, "c1")
    assert await redis.strlen(key) == 8 * (2 + len(customer.fields)), "one entry is kept"
    assert 0 < await redis.ttl(key) <= 3600


def card_records(path: Path) -> list[WindowInput]:
    """The slice's transactions, typed as the source's schema types them, in file order."""
    with path.open() as rows:
        return [
            WindowInput(
                "default",
                "cards",
                row["TRANSACTION_ID"],
                datetime.strptime(row["TX_DATETIME"], "%Y-%m-%d %H:%M:%S")
                .replace(tzinfo=UTC)
                .timestamp(),
                {
                    "CUSTOMER_ID": row["CUSTOMER_ID"],
                    "TERMINAL_ID": row["TERMINAL_ID"],
                    "TX_AMOUNT": float(row["TX_AMOUNT"]),
                },
            )
            for row in csv.DictReader(rows)
        ]


async def test_online_features_from_redis_equal_the_training_matrix_built_offline(
    redis: Redis, redis_prefix: str, card_slice: Path
) -> None:
    pipeline = FeaturePipeline.from_document(yaml.safe_load(EXAMPLE.read_text()))
    records = card_records(card_slice)
    offline = await training_matrix(pipeline, records)
    assert len(offline.rows) == len(records) == 3000
    online = OnlineFeatures(offline.fitted, RedisWindowStore(redis, redis_prefix))
    vectors: list[list[float] | Rejection] = []
    for start in range(0, len(records), 250):
        vectors += await online.vectors(records[start : start + 250])
    assert all(isinstance(v, list) for v in vectors)
    offline_rows: dict[str, Any] = dict(zip(offline.record_ids, offline.rows, strict=True))
    for item, vector in zip(records, vectors, strict=True):
        assert vector == pytest.approx(offline_rows[item.record_id], rel=1e-9, abs=1e-12)
    repeat_customers = [
        row for row in offline.rows if row[offline.names.index("CUSTOMER_ID_count_1d")] > 1
    ]
    assert repeat_customers, "the slice should hold customers seen more than once"
