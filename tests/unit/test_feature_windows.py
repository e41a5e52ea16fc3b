"""Window features in process: event time, late and repeated records, labels set later, against
a brute force."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.application.detection import Rejection
from vigil.application.features import InProcessWindowStore, WindowInput, training_matrix
from vigil.application.features.windows import record_digest
from vigil.domain.feature_pipeline import FeaturePipeline

AGGREGATIONS = ["count", "sum", "mean", "std", "min", "max"]
MINUTE = 60.0
LABEL_DELAY = 15 * MINUTE


def pipeline(windows: list[str], since_last: bool = True) -> FeaturePipeline:
    return FeaturePipeline.from_document(
        {
            "name": "cards",
            "source": "cards",
            "transformations": [
                {
                    "type": "time_window_aggregation",
                    "entity_key": "CUSTOMER",
                    "field": "AMOUNT",
                    "windows": windows,
                    "aggregations": AGGREGATIONS,
                    "time_since_last": since_last,
                },
                {
                    "type": "time_window_aggregation",
                    "entity_key": "TERMINAL",
                    "windows": windows[:1],
                    "aggregations": ["count"],
                },
                {
                    "type": "label_window_aggregation",
                    "entity_key": "CUSTOMER",
                    "windows": windows,
                    "delay": "15m",
                    "aggregations": ["count", "fraud_rate"],
                },
            ],
        }
    )


CARDS = pipeline(["10m", "1h"])


def record(
    record_id: str,
    minutes: float,
    amount: object = 10.0,
    customer: object = "c1",
    terminal: object = "t1",
    tenant: str = "default",
    source: str = "cards",
    label: int | None = None,
) -> WindowInput:
    fields = {"CUSTOMER": customer, "TERMINAL": terminal, "AMOUNT": amount}
    return WindowInput(tenant, source, record_id, minutes * MINUTE, fields, label)


async def observe(*batches: list[WindowInput]) -> list[dict[str, float | None]]:
    """Each record's window features, the batches observed in order by one store."""
    store = InProcessWindowStore()
    answers = []
    for batch in batches:
        answers += await store.observe(CARDS, batch)
    return answers


async def test_a_window_holds_the_entitys_records_up_to_and_including_this_one() -> None:
    *_, last = await observe(
        [
            record("a", 0, 10.0),
            record("b", 5, 20.0),
            record("other", 6, 99.0, customer="c2"),
            record("c", 7, 30.0),
        ]
    )
    assert last["CUSTOMER_count_10m"] == 3.0
    assert last["CUSTOMER_AMOUNT_mean_10m"] == 20.0
    assert last["CUSTOMER_AMOUNT_sum_10m"] == 60.0
    assert last["CUSTOMER_AMOUNT_min_10m"] == 10.0
    assert last["CUSTOMER_AMOUNT_max_10m"] == 30.0
    assert last["CUSTOMER_time_since_last"] == 2 * MINUTE
    assert last["TERMINAL_count_10m"] == 4.0


async def test_a_window_is_open_at_its_start_and_closed_at_its_end() -> None:
    *_, at_the_edge = await observe([record("a", 0), record("b", 10), record("c", 10)])
    assert at_the_edge["CUSTOMER_count_10m"] == 2.0
    assert at_the_edge["CUSTOMER_count_1h"] == 3.0
    assert at_the_edge["CUSTOMER_time_since_last"] == 0.0


async def test_a_late_record_gets_the_window_ending_at_its_own_time() -> None:
    *_, late = await observe([record("a", 0, 10.0), record("c", 30, 30.0)], [record("b", 5, 20.0)])
    assert late["CUSTOMER_count_10m"] == 2.0
    assert late["CUSTOMER_AMOUNT_mean_10m"] == 15.0
    assert late["CUSTOMER_count_1h"] == 2.0
    assert late["CUSTOMER_time_since_last"] == 5 * MINUTE


async def test_a_record_arriving_after_a_late_one_sees_it() -> None:
    *_, after = await observe(
        [record("a", 0, 10.0), record("c", 30, 30.0)], [record("b", 25, 20.0)], [record("d", 31)]
    )
    assert after["CUSTOMER_count_10m"] == 3.0
    assert after["CUSTOMER_AMOUNT_mean_10m"] == 20.0


async def test_a_redelivered_record_is_counted_once() -> None:
    again = record("b", 5, 20.0)
    _, second, redelivered, same_batch = await observe(
        [record("a", 0, 10.0), again], [again, again]
    )
    assert second == redelivered == same_batch
    assert redelivered["CUSTOMER_count_10m"] == 2.0
    assert redelivered["CUSTOMER_AMOUNT_sum_10m"] == 30.0
    assert redelivered["CUSTOMER_time_since_last"] == 5 * MINUTE


async def test_a_record_delivered_again_with_other_fields_keeps_the_fields_it_first_came_with() -> (
    None
):
    first, again = await observe([record("a", 0, 10.0)], [record("a", 0, 99.0)])
    assert again["CUSTOMER_count_10m"] == 1.0
    assert again["CUSTOMER_AMOUNT_sum_10m"] == first["CUSTOMER_AMOUNT_sum_10m"] == 10.0


async def test_a_record_id_seen_again_at_another_event_time_is_another_record() -> None:
    *_, moved = await observe([record("a", 0, 10.0)], [record("a", 1, 10.0)])
    assert moved["CUSTOMER_count_10m"] == 2.0


async def test_records_of_one_event_time_are_summed_in_the_order_of_their_digests() -> None:
    amounts = {"a": 1e16, "b": 1.0, "c": -1e16, "d": 3.0}
    arrivals = [record(rid, 5, amount) for rid, amount in amounts.items()]
    *_, last = await observe(arrivals[2:], arrivals[:2])
    total = 0.0
    for rid in sorted(amounts, key=record_digest):
        total += amounts[rid]
    assert last["CUSTOMER_AMOUNT_sum_10m"] == total


async def test_a_record_without_its_entity_key_has_no_window_features_of_it_and_joins_nothing() -> (
    None
):
    orphan, *_, last = await observe(
        [record("a", 0, customer=None), record("b", 1, customer=""), record("c", 2)]
    )
    customer_features = [name for name in orphan if name.startswith("CUSTOMER_")]
    assert all(orphan[name] is None for name in customer_features)
    assert orphan["TERMINAL_count_10m"] == 1.0
    assert last["CUSTOMER_count_10m"] == 1.0
    assert last["TERMINAL_count_10m"] == 3.0


async def test_numbers_naming_one_entity_are_one_entity_whatever_their_type() -> None:
    *_, last = await observe([record("a", 0, customer=596), record("b", 1, customer="596")])
    assert last["CUSTOMER_count_10m"] == 2.0


async def test_histories_of_other_tenants_and_sources_are_apart() -> None:
    *_, last = await observe(
        [record("a", 0, tenant="bank-b"), record("b", 1, source="loans"), record("c", 2)]
    )
    assert last["CUSTOMER_count_10m"] == 1.0
    assert last["CUSTOMER_time_since_last"] is None


async def test_std_is_the_population_std_and_zero_for_a_single_value() -> None:
    first, second = await observe([record("a", 0, 10.0), record("b", 1, 20.0)])
    assert first["CUSTOMER_AMOUNT_std_10m"] == 0.0
    assert second["CUSTOMER_AMOUNT_std_10m"] == 5.0


async def test_a_record_without_a_numeric_value_is_counted_but_not_aggregated() -> None:
    first, second, third = await observe(
        [record("a", 0, None), record("b", 1, "12.50"), record("c", 2, 4)]
    )
    assert first["CUSTOMER_count_10m"] == 1.0
    assert first["CUSTOMER_AMOUNT_mean_10m"] is None
    assert first["CUSTOMER_AMOUNT_sum_10m"] is None
    assert second["CUSTOMER_AMOUNT_max_10m"] is None
    assert third["CUSTOMER_count_10m"] == 3.0
    assert third["CUSTOMER_AMOUNT_mean_10m"] == 4.0


async def test_the_first_record_of_an_entity_has_no_time_since_last() -> None:
    (first,) = await observe([record("a", 0)])
    assert first["CUSTOMER_time_since_last"] is None


async def test_time_since_last_reaches_back_beyond_the_widest_window() -> None:
    *_, last = await observe([record("a", 0), record("b", 100)])
    assert last["CUSTOMER_count_1h"] == 1.0
    assert last["CUSTOMER_time_since_last"] == 100 * MINUTE


async def test_a_record_later_than_twice_the_widest_window_sees_only_itself() -> None:
    *_, too_late = await observe(
        [record("a", 0, 10.0), record("b", 200, 30.0)], [record("old", 1, 20.0)]
    )
    assert too_late["CUSTOMER_count_1h"] == 1.0
    assert too_late["CUSTOMER_AMOUNT_mean_1h"] == 20.0
    assert too_late["CUSTOMER_time_since_last"] is None


# A brute force, written plainly: every record's window from every record seen so far.


@dataclass
class Seen:
    record_id: str
    at: float
    amount: object
    label: int | None


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


Delivery = tuple[list[WindowInput], list[WindowInput]]
"""A batch of records, then labels set on records seen so far."""


def brute_force(
    deliveries: list[Delivery], windows: dict[str, float]
) -> list[dict[str, float | None]]:
    seen: dict[tuple[str, str, str], dict[tuple[str, float], Seen]] = {}
    answers = []
    for batch, labels in deliveries:
        for item in batch:
            answers.append(brute_force_one(seen, item, windows))
        for item in labels:
            history = seen.get((item.tenant_id, item.source, str(item.record["CUSTOMER"])), {})
            if (item.record_id, item.at) in history:
                history[item.record_id, item.at].label = item.label
    return answers


def brute_force_one(
    seen: dict[tuple[str, str, str], dict[tuple[str, float], Seen]],
    item: WindowInput,
    windows: dict[str, float],
) -> dict[str, float | None]:
    retention = 2 * max(windows.values())
    customer = item.record["CUSTOMER"]
    answer: dict[str, float | None] = {}
    if customer is None:
        return answer
    history = seen.setdefault((item.tenant_id, item.source, str(customer)), {})
    this = history.setdefault(
        (item.record_id, item.at),
        Seen(item.record_id, item.at, item.record["AMOUNT"], item.label),
    )
    answer.update(label_windows(history, this, windows))
    cut = max(s.at for s in history.values()) - retention
    for name, width in windows.items():
        if this.at < cut:
            inside = [this]
        else:
            inside = [
                s for s in history.values() if this.at - width < s.at <= this.at and s.at >= cut
            ]
        inside.sort(key=lambda s: (s.at, record_digest(s.record_id)))
        values = [v for v in (number(s.amount) for s in inside) if v is not None]
        answer[f"CUSTOMER_count_{name}"] = float(len(inside))
        if values:
            mean = sum(values) / len(values)
            answer[f"CUSTOMER_AMOUNT_sum_{name}"] = sum(values)
            answer[f"CUSTOMER_AMOUNT_mean_{name}"] = mean
            answer[f"CUSTOMER_AMOUNT_std_{name}"] = math.sqrt(
                sum((v - mean) ** 2 for v in values) / len(values)
            )
            answer[f"CUSTOMER_AMOUNT_min_{name}"] = min(values)
            answer[f"CUSTOMER_AMOUNT_max_{name}"] = max(values)
    others = [s.at for s in history.values() if s is not this and cut <= s.at <= this.at]
    answer["CUSTOMER_time_since_last"] = this.at - max(others) if others else None
    return answer


def label_windows(
    history: dict[tuple[str, float], Seen], this: Seen, windows: dict[str, float]
) -> dict[str, float | None]:
    """The records in (t - delay - w, t - delay] and the share of them labelled fraud."""
    cut = max(s.at for s in history.values()) - 2 * (max(windows.values()) + LABEL_DELAY)
    end = this.at - LABEL_DELAY
    answer: dict[str, float | None] = {}
    for name, width in windows.items():
        inside = [s for s in history.values() if end - width < s.at <= end and s.at >= cut]
        if this.at < cut:  # later than the retention: it sees nothing
            inside = []
        frauds = sum(1 for s in inside if s.label == 1)
        answer[f"CUSTOMER_count_{name}_delayed_15m"] = float(len(inside))
        answer[f"CUSTOMER_fraud_rate_{name}_delayed_15m"] = frauds / len(inside) if inside else 0.0
    return answer


@st.composite
def streams(draw: st.DrawFn) -> list[Delivery]:
    """Records of a few customers at random event times (minutes, so retention comes into
    play), some labelled as they come, delivered in a random order, some of them again, in
    batches of random sizes, after each of which some records are labelled (or unlabelled)."""
    count = draw(st.integers(1, 40))
    amounts = st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.integers(-1000, 1000),
        st.none(),
        st.just("12.5"),
    )
    originals = [
        record(
            f"{draw(st.sampled_from('abz'))}{n}",
            draw(st.integers(0, 400)) + draw(st.sampled_from([0.0, 0.5])),
            draw(amounts),
            customer=draw(st.sampled_from(["c1", "c2", "c3", None])),
            tenant=draw(st.sampled_from(["default", "default", "bank-b"])),
            label=draw(LABELS),
        )
        for n in range(count)
    ]
    arrivals = draw(st.permutations(originals))
    for again in draw(st.lists(st.sampled_from(originals), max_size=8)):
        arrivals.insert(draw(st.integers(0, len(arrivals))), again)
    cuts = sorted(draw(st.lists(st.integers(0, len(arrivals)), max_size=4)))
    edges = [0, *cuts, len(arrivals)]
    relabelled = st.lists(st.tuples(st.sampled_from(originals), LABELS), max_size=4)
    return [
        (arrivals[a:b], [replace(r, label=label) for r, label in draw(relabelled)])
        for a, b in itertools.pairwise(edges)
    ]


LABELS = st.sampled_from([0, 1, None])


def assert_alike(answer: dict[str, float | None], expected: dict[str, float | None]) -> None:
    for name, value in answer.items():
        if not name.startswith("CUSTOMER_"):
            continue
        wanted = expected.get(name)
        if wanted is None:
            assert value is None, name
        else:
            assert value == pytest.approx(wanted, rel=1e-9, abs=1e-9), name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
async def test_window_features_equal_a_brute_force_over_any_order_of_deliveries(
    deliveries: list[Delivery],
) -> None:
    store = InProcessWindowStore()
    answers = []
    for batch, labels in deliveries:
        answers += await store.observe(CARDS, batch)
        await store.label(CARDS, labels)
    expected = brute_force(deliveries, {"10m": 600.0, "1h": 3600.0})
    assert len(answers) == len(expected)
    for answer, wanted in zip(answers, expected, strict=True):
        assert_alike(answer, wanted)


async def test_a_training_matrix_reads_records_in_file_order_and_names_its_rejections() -> None:
    document: dict[str, Any] = CARDS.to_document()
    document["transformations"].append(
        {"type": "scaling", "method": "minmax", "fields": ["CUSTOMER_AMOUNT_mean_10m"]}
    )
    document["features"] = ["CUSTOMER_count_10m", "CUSTOMER_AMOUNT_mean_10m"]
    scaled = FeaturePipeline.from_document(document)
    records = [record("a", 0, 10.0), record("c", 20, 30.0), record("b", 5, 20.0)]
    records.append(record("orphan", 6, customer=None))
    matrix = await training_matrix(scaled, records)
    assert matrix.names == ("CUSTOMER_count_10m", "CUSTOMER_AMOUNT_mean_10m")
    assert matrix.record_ids == ["a", "c", "b"]
    assert matrix.rows == [[1.0, 0.0], [1.0, 1.0], [2.0, 0.25]]
    assert matrix.rejections == [
        ("orphan", Rejection("CUSTOMER_count_10m", "has no value: the record has no CUSTOMER"))
    ]
