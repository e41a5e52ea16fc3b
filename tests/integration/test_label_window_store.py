"""Label windows in the machine's Redis: the same answers and the same places of records as in
process, labels set in place, places kept by event time for the retention, and the handbook's
matrix built from a file equal to the features scoring computes record by record with the labels
recorded as they become known, by record id alone."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.integration.test_window_store import assert_same
from vigil.application.detection import Rejection
from vigil.application.features import (
    InProcessWindowStore,
    OnlineFeatures,
    RecordVerdict,
    WindowInput,
    WindowStore,
    feed_labels,
    history_layouts,
)
from vigil.application.features.record_places import RING, RecordPlace
from vigil.application.windowed_records import WindowedRecords
from vigil.cli import main
from vigil.cli_features import load_pipeline, pipeline_features
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.window_store import RedisWindowStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HANDBOOK = EXAMPLES / "pipelines" / "card_handbook.yaml"
MINUTE = 60.0
DAY = 86_400.0
T0 = datetime(2018, 4, 1, tzinfo=UTC).timestamp()

LABELLED = FeaturePipeline.from_document(
    {
        "name": "labelled",
        "source": "cards",
        "transformations": [
            {
                "type": "time_window_aggregation",
                "entity_key": "CUSTOMER",
                "field": "AMOUNT",
                "windows": ["10m", "1h"],
                "aggregations": ["count", "mean"],
                "time_since_last": True,
            },
            {
                "type": "label_window_aggregation",
                "entity_key": "TERMINAL",
                "windows": ["10m", "1h"],
                "delay": "15m",
                "aggregations": ["count", "fraud_rate"],
            },
            {
                "type": "label_window_aggregation",
                "entity_key": "TERMINAL",
                "windows": ["30m"],
                "delay": "15m",
                "aggregations": ["fraud_rate"],
            },
            {
                "type": "label_window_aggregation",
                "entity_key": "CUSTOMER",
                "windows": ["2h"],
                "delay": "1h",
                "aggregations": ["count", "fraud_rate"],
            },
        ],
    }
)
"""A field history and two label histories of other entities and delays, one of them asked by
two steps; short windows, so that retention comes into play in a few hundred minutes."""


def labelled_stream(
    seed: int, count: int = 400
) -> list[tuple[list[WindowInput], list[WindowInput]]]:
    """Records roughly in event-time order, some late, some again, some labelled as they come;
    in batches of random sizes, after each of which some records seen so far are labelled,
    relabelled or unlabelled."""
    rng = random.Random(seed)
    records = [
        WindowInput(
            rng.choice(["default", "default", "bank-b"]),
            "cards",
            f"r{n}",
            T0
            + (n * 1.5 - rng.choice([0.0, 0.0, rng.uniform(0, 30), rng.uniform(100, 300)]))
            * MINUTE,
            {
                "CUSTOMER": rng.choice(["c1", "c2", "c3", 4, None]),
                "TERMINAL": rng.choice(["t1", "t2", "t3", ""]),
                "AMOUNT": rng.choice([rng.uniform(0, 500), None]),
            },
            rng.choice([None, None, 0, 1]),
        )
        for n in range(count)
    ]
    arrivals = list(records)
    for again in rng.sample(records, count // 10):
        arrivals.insert(rng.randrange(len(arrivals) + 1), again)
    deliveries, start = [], 0
    while start < len(arrivals):
        size = rng.choice([1, 7, 50])
        seen = arrivals[: start + size]
        relabelled = rng.sample(seen, min(5, len(seen)))
        labels = [replace(r, label=rng.choice([0, 1, None])) for r in relabelled]
        deliveries.append((arrivals[start : start + size], labels))
        start += size
    return deliveries


@pytest.mark.parametrize("seed", range(4))
async def test_redis_and_the_in_process_store_answer_alike_with_labels_set_on_the_way(
    redis: Redis, redis_prefix: str, seed: int
) -> None:
    in_redis = RedisWindowStore(redis, redis_prefix)
    in_process = InProcessWindowStore()
    rates = set()
    for batch, labels in labelled_stream(seed):
        answers = await in_redis.observe(LABELLED, batch)
        assert_same(answers, await in_process.observe(LABELLED, batch))
        assert await in_redis.label(LABELLED, labels) == await in_process.label(LABELLED, labels)
        rates |= {a["TERMINAL_fraud_rate_1h_delayed_15m"] for a in answers}
    assert len(rates) > 3, "the stream should give terminals fraud rates of many values"


@pytest.mark.parametrize("seed", range(3))
async def test_redis_and_the_in_process_store_keep_the_same_places_on_any_stream(
    redis: Redis, redis_prefix: str, seed: int
) -> None:
    in_redis = RedisWindowStore(redis, redis_prefix)
    in_process = InProcessWindowStore(keep_places=True)
    seen: set[str] = {"never-seen"}
    for batch, _ in labelled_stream(seed):
        await in_redis.observe(LABELLED, batch)
        await in_process.observe(LABELLED, batch)
        seen |= {r.record_id for r in batch}
        for tenant in ("default", "bank-b"):
            ids = sorted(seen)
            kept = await in_redis.places(LABELLED, tenant, "cards", ids)
            assert kept == await in_process.places(LABELLED, tenant, "cards", ids)
    assert 0 < len(kept) < len(seen) - 1, "the stream outlasts the retention of some places"


def entry(record_id: str, minutes: float, label: int | None = None) -> WindowInput:
    fields = {"CUSTOMER": "c1", "TERMINAL": "t1", "AMOUNT": 10.0}
    return WindowInput("default", "cards", record_id, T0 + minutes * MINUTE, fields, label)


async def test_a_label_set_in_redis_is_read_by_later_records_and_keeps_the_ttl(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix, ttl_seconds=3600)
    await store.observe(LABELLED, [entry("a", 0), entry("b", 1, 0)])
    assert await store.label(LABELLED, [entry("a", 0, 1), entry("never-seen", 0, 1)]) == 2
    (later,) = await store.observe(LABELLED, [entry("c", 20)])
    assert later["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.5
    assert later["TERMINAL_count_10m_delayed_15m"] == 2.0
    terminal = next(layout for layout in history_layouts(LABELLED) if layout.labelled)
    key = store.key(entry("c", 20), terminal, "t1")
    assert 0 < await redis.ttl(key) <= 3600
    assert await store.label(LABELLED, [entry("a", 0, None)]) == 2  # revoked, in both histories
    (revoked,) = await store.observe(LABELLED, [entry("d", 20)])
    assert revoked["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.0


async def test_labels_for_entries_redis_does_not_hold_set_nothing(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix)
    assert await store.label(LABELLED, [entry("a", 0, 1)]) == 0
    assert [key async for key in redis.scan_iter(f"{redis_prefix}:*")] == []


TERMINAL_RISK = FeaturePipeline.from_document(
    {
        "name": "terminal-risk",
        "source": "cards",
        "transformations": [
            {
                "type": "label_window_aggregation",
                "entity_key": "TERMINAL",
                "windows": ["1h"],
                "delay": "15m",
                "aggregations": ["count", "fraud_rate"],
            }
        ],
    }
)
"""A horizon of 75 minutes: a retention of 150, places in buckets of 18.75."""


QUARTER = 18.75 * MINUTE
START = T0 - T0 % QUARTER
"""Where a bucket of TERMINAL_RISK's places starts."""


def placed(record_id: str, minutes: float, terminal: str = "t1") -> WindowInput:
    return WindowInput(
        "default", "cards", record_id, START + minutes * MINUTE, {"TERMINAL": terminal}
    )


@pytest.mark.parametrize("store", ["redis", "in process"])
async def test_a_place_lasts_for_the_retention_and_at_most_a_quarter_horizon_more(
    redis: Redis, redis_prefix: str, store: str
) -> None:
    windows: WindowStore = (
        RedisWindowStore(redis, redis_prefix)
        if store == "redis"
        else InProcessWindowStore(keep_places=True)
    )
    await windows.observe(TERMINAL_RISK, [placed("a", 0), placed("b", 10)])
    await windows.observe(TERMINAL_RISK, [placed(f"r{n}", 10 + n) for n in range(150)])
    kept = await windows.places(TERMINAL_RISK, "default", "cards", ["a", "b", "r9"])
    assert kept.keys() == {"a", "b", "r9"}, "159 minutes before the latest: 150 and some more"
    assert kept["a"] == RecordPlace(START, {"TERMINAL": "t1"})
    await windows.observe(TERMINAL_RISK, [placed("c", 170)])
    kept = await windows.places(TERMINAL_RISK, "default", "cards", ["a", "b", "r9", "c"])
    assert kept.keys() == {"r9", "c"}, "the first quarter is out of the ring, the second not yet"
    await windows.observe(TERMINAL_RISK, [placed("late", 1, "t9"), placed("later", 30, "t9")])
    kept = await windows.places(TERMINAL_RISK, "default", "cards", ["late", "later"])
    assert kept.keys() == {"later"}, "a late record's place lasts no longer than an early one's"


async def test_a_ring_holds_nine_buckets_and_forgets_a_gap_of_event_time(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix, ttl_seconds=3600)
    for day in range(30):  # a month of one record a day, then ten days later one more
        await store.observe(TERMINAL_RISK, [entry(f"d{day}", day * DAY / MINUTE)])
    await store.observe(TERMINAL_RISK, [entry("back", 40 * DAY / MINUTE)])
    rings = [key async for key in redis.scan_iter(f"{redis_prefix}:fr:*")]
    assert 0 < len(rings) <= RING
    assert all(0 < ttl <= 3600 for ttl in [await redis.ttl(key) for key in rings])
    days = [f"d{day}" for day in range(30)]
    assert (await store.places(TERMINAL_RISK, "default", "cards", days)).keys() == set()
    assert (await store.places(TERMINAL_RISK, "default", "cards", ["back"])).keys() == {"back"}


async def test_histories_without_label_windows_keep_no_places(
    redis: Redis, redis_prefix: str
) -> None:
    store = RedisWindowStore(redis, redis_prefix)
    fields = load_pipeline(EXAMPLES / "pipelines" / "card_features.yaml")
    record = WindowInput("default", "cards", "a", T0, {"CUSTOMER_ID": 1, "TERMINAL_ID": 2})
    await store.observe(fields, [record])
    assert [key async for key in redis.scan_iter(f"{redis_prefix}:fr:*")] == []
    assert await store.places(fields, "default", "cards", ["a"]) == {}


def test_field_histories_keep_the_keys_and_script_arguments_they_had_before_label_windows() -> None:
    """The card pipeline's Redis histories, as stored before label windows came."""
    customer, terminal = history_layouts(
        load_pipeline(EXAMPLES / "pipelines" / "card_features.yaml")
    )
    assert (customer.digest, terminal.digest) == ("13f0e1930414", "4ca6226ee8de")
    assert not customer.labelled
    assert not terminal.labelled


def handbook_file(path: Path, days: int = 50, per_day: int = 60) -> Path:
    """Transactions in the handbook's columns, in time order, over a few terminals, one of them
    compromised for a while (most of its transactions fraud)."""
    rng = random.Random(7)
    with path.open("w", newline="") as file:
        rows = csv.writer(file)
        rows.writerow(
            ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD"]
        )
        moments = sorted(rng.uniform(0, days * DAY) for _ in range(days * per_day))
        for n, at in enumerate(moments):
            terminal = rng.randrange(6)
            fraud = rng.random() < (0.7 if terminal == 0 and 10 * DAY < at < 30 * DAY else 0.02)
            when = datetime.fromtimestamp(T0 + int(at), UTC).strftime("%Y-%m-%d %H:%M:%S")
            amount = round(rng.uniform(1, 200), 2)
            rows.writerow([n, when, rng.randrange(80), terminal, amount, int(fraud)])
    return path


def file_records(path: Path) -> list[WindowInput]:
    """The file's transactions as scoring sees them: typed by the schema, without their label."""
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
                    "CUSTOMER_ID": int(row["CUSTOMER_ID"]),
                    "TERMINAL_ID": int(row["TERMINAL_ID"]),
                    "TX_AMOUNT": float(row["TX_AMOUNT"]),
                },
            )
            for row in csv.DictReader(rows)
        ]


async def test_online_handbook_features_with_labels_recorded_equal_the_matrix_from_the_file(
    redis: Redis, redis_prefix: str, cards: Settings, tmp_path: Path
) -> None:
    data = handbook_file(tmp_path / "handbook.csv")
    offline = await pipeline_features(cards, HANDBOOK, data, "default", label="TX_FRAUD")
    assert offline.labels is not None
    labels = dict(zip(offline.matrix.record_ids, offline.labels, strict=True))
    records = file_records(data)
    assert len(offline.matrix.rows) == len(records) == 3000
    store = RedisWindowStore(redis, redis_prefix)
    online = OnlineFeatures(offline.matrix.fitted, store)
    vectors: list[list[float] | Rejection] = []
    for start in range(0, len(records), 100):  # a hundred records span about two days
        batch = records[start : start + 100]
        vectors += await online.vectors(batch)
        labelled = [replace(r, label=labels[r.record_id]) for r in batch]
        assert await store.label(offline.matrix.fitted.pipeline, labelled) == len(batch)
    offline_rows = dict(zip(offline.matrix.record_ids, offline.matrix.rows, strict=True))
    for item, vector in zip(records, vectors, strict=True):
        assert vector == offline_rows[item.record_id], item.record_id
    risk = offline.matrix.names.index("TERMINAL_ID_fraud_rate_7d_delayed_7d")
    assert max(row[risk] for row in offline.matrix.rows) > 0.5, "the compromised terminal shows"


class Serving:
    """LabellingPipelines of one pipeline, whatever the source."""

    def __init__(self, pipeline: FeaturePipeline) -> None:
        self.pipeline = pipeline

    def labelling(self, tenant_id: str, source: str) -> Sequence[FeaturePipeline]:
        return [self.pipeline]


async def test_handbook_labels_found_by_record_id_alone_give_the_matrix_from_the_file(
    redis: Redis, redis_prefix: str, cards: Settings, tmp_path: Path
) -> None:
    data = handbook_file(tmp_path / "handbook.csv", days=30)
    offline = await pipeline_features(cards, HANDBOOK, data, "default", label="TX_FRAUD")
    assert offline.labels is not None
    labels = dict(zip(offline.matrix.record_ids, offline.labels, strict=True))
    pipeline = offline.matrix.fitted.pipeline
    store = RedisWindowStore(redis, redis_prefix)
    online = OnlineFeatures(offline.matrix.fitted, store)
    found = WindowedRecords(store, Serving(pipeline))
    records = file_records(data)
    vectors: list[list[float] | Rejection] = []
    for start in range(0, len(records), 100):
        batch = records[start : start + 100]
        vectors += await online.vectors(batch)
        verdicts = [
            RecordVerdict("default", "cards", r.record_id, labels[r.record_id]) for r in batch
        ]
        assert await feed_labels(verdicts, found, store, [pipeline]) == len(batch)
    offline_rows = dict(zip(offline.matrix.record_ids, offline.matrix.rows, strict=True))
    for item, vector in zip(records, vectors, strict=True):
        assert vector == offline_rows[item.record_id], item.record_id


def test_the_handbook_matrix_needs_the_label_column(
    cards: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = handbook_file(tmp_path / "handbook.csv", days=2)
    out = tmp_path / "matrix.csv"
    status = main(
        ["features", "build", str(HANDBOOK), "--data", str(data), "--out", str(out)], cards
    )
    said = capsys.readouterr()
    assert status != 0
    assert "label: is required" in said.out + said.err
