"""Label windows: the handbook's delayed terminal risk, as a document says it and as the
in-process store computes it, with labels that come with the record or arrive later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigil.application.features import InProcessWindowStore, WindowInput
from vigil.application.features.label_feed import RecordVerdict, feed_labels, record_verdict
from vigil.application.records import RecordEnvelope
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_steps import LabelWindowAggregation
from vigil.domain.feature_windows import LabelAggregation
from vigil.domain.label import Label, LabelSource, SubjectKind, Verdict

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "card_handbook.yaml"
CARD_FIELDS = ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT"]
MINUTE = 60.0
NOW = datetime(2026, 12, 4, tzinfo=UTC)


def risk_step(**changes: object) -> dict[str, Any]:
    step: dict[str, Any] = {
        "type": "label_window_aggregation",
        "entity_key": "TERMINAL",
        "windows": ["10m", "1h"],
        "delay": "15m",
        "aggregations": ["count", "fraud_rate"],
    }
    step.update(changes)
    return {k: v for k, v in step.items() if v is not ...}


def document(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "risk", "source": "cards", "transformations": list(steps or [risk_step()])}


RISK = FeaturePipeline.from_document(document())


def refusal(step: dict[str, Any], *others: dict[str, Any]) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as refused:
        FeaturePipeline.from_document(document(*others, step))
    return refused.value


def test_a_label_window_step_reads_as_its_windows_delay_and_aggregates() -> None:
    (step,) = RISK.steps
    assert isinstance(step, LabelWindowAggregation)
    assert [w.seconds for w in step.windows] == [600.0, 3600.0]
    assert step.delay.seconds == 900.0
    assert step.aggregations == (LabelAggregation.COUNT, LabelAggregation.FRAUD_RATE)
    assert FeaturePipeline.from_document(RISK.to_document()) == RISK


def test_label_window_features_are_named_after_the_entity_the_aggregate_window_and_delay() -> None:
    assert RISK.window_feature_names == (
        "TERMINAL_count_10m_delayed_15m",
        "TERMINAL_count_1h_delayed_15m",
        "TERMINAL_fraud_rate_10m_delayed_15m",
        "TERMINAL_fraud_rate_1h_delayed_15m",
    )


def test_the_handbook_pipeline_is_a_valid_document_over_the_card_fields() -> None:
    pipeline = FeaturePipeline.from_document(yaml.safe_load(EXAMPLE.read_text()), CARD_FIELDS)
    assert pipeline.features is not None
    assert len(pipeline.features) == 15
    assert "TERMINAL_ID_fraud_rate_30d_delayed_7d" in pipeline.features


@pytest.mark.parametrize(
    ("step", "field"),
    [
        (risk_step(delay=...), "transformations[0].delay"),
        (risk_step(delay="7 days"), "transformations[0].delay"),
        (risk_step(windows=["1h", "60m"]), "transformations[0].windows[1]"),
        (risk_step(windows=["300d"], delay="70d"), "transformations[0].windows[0]"),
        (risk_step(aggregations=["count", "mean"]), "transformations[0].aggregations[1]"),
        (risk_step(aggregations=["count", "count"]), "transformations[0].aggregations[1]"),
        (risk_step(aggregations=[]), "transformations[0].aggregations"),
        (risk_step(field="AMOUNT"), "transformations[0].field"),
        (risk_step(entity_key=""), "transformations[0].entity_key"),
    ],
)
def test_a_mistake_in_a_label_window_is_refused_naming_its_path(
    step: dict[str, Any], field: str
) -> None:
    assert refusal(step).field == field


def test_a_fraud_rate_is_no_aggregate_of_a_field_window() -> None:
    fields = {"type": "time_window_aggregation", "entity_key": "TERMINAL", "field": "AMOUNT"}
    step = {**fields, "windows": ["1h"], "aggregations": ["fraud_rate"]}
    assert refusal(step).field == "transformations[0].aggregations[0]"


def test_a_label_window_counts_records_of_its_entity_not_what_other_steps_compute() -> None:
    counting = {"type": "time_window_aggregation", "entity_key": "CUSTOMER", "windows": ["1h"]}
    counting["aggregations"] = ["count"]
    refused = refusal(risk_step(entity_key="CUSTOMER_count_1h"), counting)
    assert refused.field == "transformations[1].entity_key"


def record(
    record_id: str, minutes: float, label: int | None = None, terminal: object = "t1"
) -> WindowInput:
    return WindowInput(
        "default", "cards", record_id, minutes * MINUTE, {"TERMINAL": terminal}, label
    )


async def test_a_label_window_ends_its_delay_before_the_record_and_is_closed_at_its_end() -> None:
    store = InProcessWindowStore()
    *_, last = await store.observe(
        RISK, [record("a", 0, 1), record("b", 5, 0), record("c", 10, 1), record("d", 20)]
    )
    # Windows (-5m, 5m] and (-55m, 5m]: a at 0 and b at 5; c at 10 is not 15 minutes old.
    assert last["TERMINAL_count_10m_delayed_15m"] == 2.0
    assert last["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.5
    assert last["TERMINAL_count_1h_delayed_15m"] == 2.0


async def test_a_window_without_records_has_a_fraud_rate_of_zero() -> None:
    (first,) = await InProcessWindowStore().observe(RISK, [record("a", 0, 1)])
    assert first["TERMINAL_count_10m_delayed_15m"] == 0.0
    assert first["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.0


async def test_a_label_not_known_yet_counts_as_genuine_until_it_is_set() -> None:
    store = InProcessWindowStore()
    await store.observe(RISK, [record("a", 0), record("b", 1)])
    (before,) = await store.observe(RISK, [record("c", 20)])
    assert before["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.0
    assert await store.label(RISK, [record("a", 0, 1)]) == 1
    (after,) = await store.observe(RISK, [record("d", 20)])
    assert after["TERMINAL_count_10m_delayed_15m"] == 2.0
    assert after["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.5
    assert await store.label(RISK, [record("a", 0, None)]) == 1  # revoked: unknown again
    (revoked,) = await store.observe(RISK, [record("e", 20)])
    assert revoked["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.0


async def test_a_label_for_a_record_the_store_has_not_seen_sets_nothing() -> None:
    store = InProcessWindowStore()
    await store.observe(RISK, [record("a", 0)])
    unseen = [record("a", 1, 1), record("z", 0, 1), record("a", 0, 1, terminal="t2")]
    assert await store.label(RISK, [*unseen, record("a", 0, 1, terminal=None)]) == 0


async def test_a_record_without_its_entity_key_has_no_label_window_features() -> None:
    (orphan,) = await InProcessWindowStore().observe(RISK, [record("a", 0, 1, terminal="")])
    assert set(orphan.values()) == {None}


class Observed:
    """The records the store saw, by id, as envelopes."""

    def __init__(self, *records: WindowInput) -> None:
        self.records = {r.record_id: r for r in records}
        self.asked: list[tuple[str, str, list[str]]] = []

    async def envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordEnvelope]:
        self.asked.append((tenant_id, source, list(record_ids)))
        return {
            i: RecordEnvelope(
                tenant_id,
                source,
                i,
                dict(self.records[i].record),
                occurred_at=datetime.fromtimestamp(self.records[i].at, UTC),
            )
            for i in record_ids
            if i in self.records
        }


async def test_fed_verdicts_are_counted_by_later_records_of_every_labelling_pipeline() -> None:
    store = InProcessWindowStore()
    seen = [record("a", 0), record("b", 1)]
    await store.observe(RISK, seen)
    observed = Observed(*seen)
    verdicts = [
        RecordVerdict("default", "cards", "a", 0),
        RecordVerdict("default", "cards", "a", 1),  # the later verdict stands
        RecordVerdict("default", "cards", "never-scored", 1),
    ]
    others = FeaturePipeline.from_document(
        {
            "name": "counts",
            "source": "cards",
            "transformations": [
                {"type": "time_window_aggregation", "entity_key": "TERMINAL", "windows": ["1h"],
                 "aggregations": ["count"]},
            ],
        }
    )  # fmt: skip
    assert await feed_labels(verdicts, observed, store, [others, RISK]) == 1
    assert observed.asked == [("default", "cards", ["a", "never-scored"])]
    (later,) = await store.observe(RISK, [record("c", 20)])
    assert later["TERMINAL_fraud_rate_10m_delayed_15m"] == 0.5


def label(kind: SubjectKind, verdict: Verdict | None) -> Label:
    labelled = Label.for_subject("default", "cards", kind, "r1", "dana", NOW)
    if verdict is not None:
        labelled.apply_verdict("dana", NOW, verdict, LabelSource.ANALYST)
    return labelled


@pytest.mark.parametrize(
    ("verdict", "value"), [(Verdict.FRAUD, 1), (Verdict.LEGIT, 0), (None, None)]
)
def test_a_record_label_says_fraud_genuine_or_not_known(
    verdict: Verdict | None, value: int | None
) -> None:
    assert record_verdict(label(SubjectKind.RECORD, verdict)) == RecordVerdict(
        "default", "cards", "r1", value
    )


def test_a_label_on_an_entity_says_nothing_to_label_windows() -> None:
    assert record_verdict(label(SubjectKind.ENTITY, Verdict.FRAUD)) is None
