"""Places of records in label histories, in process: what is kept, for how long by event time,
and what a lookup by record id gives."""

from __future__ import annotations

import pytest

from vigil.application.features import InProcessWindowStore, WindowInput
from vigil.application.features.record_places import RING, RecordPlace, newest_first
from vigil.domain.feature_pipeline import FeaturePipeline

MINUTE = 60.0
QUARTER = 18.75 * MINUTE
"""A quarter of the horizon (1h window, 15m delay): the width of a bucket of places."""


def risk(entity_key: str, delay: str = "15m") -> dict[str, object]:
    return {
        "type": "label_window_aggregation",
        "entity_key": entity_key,
        "windows": ["1h"],
        "delay": delay,
        "aggregations": ["count", "fraud_rate"],
    }


def pipeline(*steps: dict[str, object]) -> FeaturePipeline:
    return FeaturePipeline.from_document(
        {"name": "risk", "source": "cards", "transformations": list(steps)}
    )


TERMINAL_RISK = pipeline(risk("TERMINAL"))


def record(
    record_id: str, minutes: float, terminal: str = "t1", customer: object = 7.0
) -> WindowInput:
    fields = {"TERMINAL": terminal, "CUSTOMER": customer}
    return WindowInput("default", "cards", record_id, minutes * MINUTE, fields)


async def places(
    store: InProcessWindowStore, *ids: str, risks: FeaturePipeline = TERMINAL_RISK
) -> dict[str, RecordPlace]:
    return dict(await store.places(risks, "default", "cards", list(ids)))


async def test_a_store_asked_to_keep_no_places_finds_none() -> None:
    store = InProcessWindowStore()
    await store.observe(TERMINAL_RISK, [record("a", 0)])
    assert await places(store, "a") == {}


async def test_a_labelled_record_is_found_by_id_with_its_event_time_and_entity() -> None:
    store = InProcessWindowStore(keep_places=True)
    await store.observe(TERMINAL_RISK, [record("a", 0), record("b", 5, terminal="t2")])
    assert await places(store, "a", "b", "unseen") == {
        "a": RecordPlace(0.0, {"TERMINAL": "t1"}),
        "b": RecordPlace(5 * MINUTE, {"TERMINAL": "t2"}),
    }
    assert await store.places(TERMINAL_RISK, "bank-b", "cards", ["a"]) == {}


async def test_a_record_of_two_label_histories_is_found_with_the_entity_of_each() -> None:
    both = pipeline(risk("TERMINAL"), risk("CUSTOMER", delay="1h"))
    store = InProcessWindowStore(keep_places=True)
    await store.observe(both, [record("a", 0, customer=7.0), record("b", 1, customer=None)])
    assert await places(store, "a", "b", risks=both) == {
        "a": RecordPlace(0.0, {"TERMINAL": "t1", "CUSTOMER": "7"}),
        "b": RecordPlace(MINUTE, {"TERMINAL": "t1"}),
    }


async def test_a_record_its_label_history_does_not_keep_gets_no_place() -> None:
    store = InProcessWindowStore(keep_places=True)
    await store.observe(TERMINAL_RISK, [record("a", 200)])
    await store.observe(TERMINAL_RISK, [record("too-late", 40), record("late", 60)])
    assert (await places(store, "too-late", "late")).keys() == {"late"}


async def test_histories_without_label_windows_keep_no_places() -> None:
    counts = pipeline(
        {"type": "time_window_aggregation", "entity_key": "TERMINAL", "windows": ["1h"],
         "aggregations": ["count"]}
    )  # fmt: skip
    store = InProcessWindowStore(keep_places=True)
    await store.observe(counts, [record("a", 0)])
    assert await store.places(counts, "default", "cards", ["a"]) == {}


async def test_a_record_delivered_again_with_a_later_event_time_is_found_at_the_later() -> None:
    store = InProcessWindowStore(keep_places=True)
    await store.observe(TERMINAL_RISK, [record("a", 0), record("a", 30)])
    assert await places(store, "a") == {"a": RecordPlace(30 * MINUTE, {"TERMINAL": "t1"})}


async def test_places_last_by_the_sources_latest_event_time_not_the_entitys() -> None:
    store = InProcessWindowStore(keep_places=True)
    await store.observe(TERMINAL_RISK, [record("old", 0, terminal="t2")])
    await store.observe(TERMINAL_RISK, [record(f"r{n}", 20 * n) for n in range(1, 9)])
    assert (await places(store, "old")).keys() == {"old"}, "160 minutes on: within a quarter more"
    await store.observe(TERMINAL_RISK, [record("r9", 180)])
    assert await places(store, "old") == {}, "t2 keeps it, but no later t2 record reads it"


@pytest.mark.parametrize(
    ("numbers", "read"),
    [
        ([None] * RING, []),
        ([9, 1, 2, 3, 4, 5, 6, 7, 8], [0, 8, 7, 6, 5, 4, 3, 2, 1]),
        ([None, 40, 2, None, None, None, None, None, 35], [1, 8]),
    ],
)
def test_a_ring_reads_its_buckets_newest_first_and_none_nine_older_than_the_newest(
    numbers: list[int | None], read: list[int]
) -> None:
    assert newest_first(numbers) == read
