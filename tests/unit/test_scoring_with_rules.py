"""Scoring a batch with a tenant's published rules: rules raise, suppress and grade alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from vigil.application.detection import ModelCard, Rejection
from vigil.application.features import FeatureRow
from vigil.application.records import RecordEnvelope
from vigil.application.scoring import score_batch
from vigil.domain.alert import Severity
from vigil.domain.decision import CompiledRules, compile_rules
from vigil.domain.rule_set import Rule, RuleAction, RuleSet
from vigil.domain.severity import SeverityBands

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

RULES = [
    Rule("big_amount", "TX_AMOUNT > 1000", RuleAction.RAISE, Severity.HIGH),
    Rule("trusted_terminal", "TERMINAL_ID == 'terminal-trusted'", RuleAction.SUPPRESS),
    Rule("tiny_amount", "TX_AMOUNT < 5 and score < 0.9", RuleAction.GRADE, Severity.MEDIUM),
]


class ScoreFromRecord:
    """A detector whose score is the record's `model_score` field: the rules are under test."""

    card = ModelCard(
        model_line="cards-iforest",
        version="ab" * 32,
        source="cards",
        algorithm="isolation_forest",
        features=("TX_AMOUNT",),
        bands=SeverityBands(threshold=0.6, high=0.8, critical=0.95),
        metrics={},
        parameters={},
        training_rows=1,
        training_fingerprint="",
        trained_at=AT,
    )

    pipeline = None

    def score(self, records: Sequence[Mapping[str, Any]]) -> list[float | Rejection]:
        return [float(record["model_score"]) for record in records]

    def score_vectors(self, vectors: Sequence[Sequence[float]]) -> list[float]:
        """A model on features scores its input's first column."""
        return [float(vector[0]) for vector in vectors]


def envelope(record_id: str, tenant_id: str = "acme", **data: Any) -> RecordEnvelope:
    fields = {"TX_AMOUNT": 50.0, "TERMINAL_ID": "terminal-1", "model_score": 0.1, **data}
    return RecordEnvelope(tenant_id, "cards", record_id, fields, entity_id="customer-1")


def published(rules: list[Rule]) -> CompiledRules:
    """The rules as the score worker gets them once version 1 is published."""
    rule_set = RuleSet.start("acme", "ann", AT, "cards", rules)
    rule_set.publish("ann", AT, 1, "reviewed")
    return compile_rules(rule_set.rule_version(1))


def test_without_rules_the_model_alone_decides() -> None:
    batch = score_batch(
        [envelope("quiet"), envelope("odd", model_score=0.85)], ScoreFromRecord(), {}
    )

    (only,) = batch.detections
    assert (only.record_id, only.severity, only.rule_hits, only.rule_set_version) == (
        "odd",
        Severity.HIGH,
        (),
        None,
    )


def test_a_raise_rule_alerts_on_a_record_the_model_let_through() -> None:
    rules = published(RULES)

    batch = score_batch([envelope("big", TX_AMOUNT=5000.0)], ScoreFromRecord(), {"acme": rules})

    (raised,) = batch.detections
    assert (raised.severity, raised.rule_hits, raised.rule_set_version) == (
        Severity.HIGH,
        ("big_amount",),
        1,
    )
    assert raised.score == 0.1  # the model's score stays what the model said


def test_a_suppress_rule_lets_a_flagged_record_through_without_an_alert() -> None:
    rules = published(RULES)
    trusted = envelope("trusted", TERMINAL_ID="terminal-trusted", model_score=0.99)

    batch = score_batch([trusted], ScoreFromRecord(), {"acme": rules})

    assert batch.detections == []
    assert batch.suppressed == 1
    assert batch.scored == [trusted]  # scored, so acknowledged: nothing is lost


def test_a_grade_rule_lowers_the_model_grade_and_names_itself() -> None:
    rules = published(RULES)

    batch = score_batch(
        [envelope("small", TX_AMOUNT=2.0, model_score=0.85)], ScoreFromRecord(), {"acme": rules}
    )

    (graded,) = batch.detections
    assert (graded.severity, graded.rule_hits) == (Severity.MEDIUM, ("tiny_amount",))


def test_only_the_tenant_that_published_rules_is_decided_by_them() -> None:
    rules = published(RULES)
    records = [envelope("ours", TX_AMOUNT=5000.0), envelope("theirs", "globex", TX_AMOUNT=5000.0)]

    batch = score_batch(records, ScoreFromRecord(), {"acme": rules, "globex": None})

    assert [d.record_id for d in batch.detections] == ["ours"]


def test_a_rule_that_cannot_read_a_record_is_counted_and_does_not_fire() -> None:
    rules = published(RULES)

    batch = score_batch([envelope("text", TX_AMOUNT="n/a")], ScoreFromRecord(), {"acme": rules})

    assert batch.detections == []
    assert batch.rule_errors["big_amount"] == 1


def test_rules_read_the_window_features_of_a_model_on_a_pipeline_and_rejections_stay_apart() -> (
    None
):
    rules = published(
        [Rule("velocity", "CUSTOMER_ID_count_1d >= 4", RuleAction.RAISE, Severity.MEDIUM)]
    )
    records = [envelope("calm"), envelope("busy"), envelope("odd"), envelope("no-time")]
    features = [
        FeatureRow({"TX_AMOUNT": 50.0, "CUSTOMER_ID_count_1d": 1.0}, [0.1]),
        FeatureRow({"TX_AMOUNT": 50.0, "CUSTOMER_ID_count_1d": 5.0}, [0.1]),
        FeatureRow({"TX_AMOUNT": 50.0, "CUSTOMER_ID_count_1d": 1.0}, [0.97]),
        FeatureRow({"TX_AMOUNT": 50.0}, Rejection("occurred_at", "no event time")),
    ]

    batch = score_batch(records, ScoreFromRecord(), {"acme": rules}, features)

    assert [(d.record_id, d.severity, d.rule_hits) for d in batch.detections] == [
        ("busy", Severity.MEDIUM, ("velocity",)),
        ("odd", Severity.CRITICAL, ()),
    ]
    assert [(e.record_id, r.field) for e, r in batch.rejections] == [("no-time", "occurred_at")]
    assert batch.windowed
