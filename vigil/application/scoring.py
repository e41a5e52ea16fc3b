"""Scoring records: a batch of envelopes in, detections and rejections out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vigil.application.detection import Detector, Rejection
from vigil.application.entity_context import EntityHistory, observation, summarise
from vigil.application.features import FeatureRow
from vigil.application.records import RecordEnvelope
from vigil.domain.alert import Detection, Severity
from vigil.domain.decision import CompiledRules


@dataclass
class ScoredBatch:
    """What one detector made of one batch of records from one source."""

    features: tuple[str, ...]
    scored: list[RecordEnvelope] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    """The model's score of each scored envelope, in the same order."""
    detections: list[Detection] = field(default_factory=list)
    rejections: list[tuple[RecordEnvelope, Rejection]] = field(default_factory=list)
    suppressed: int = 0
    """Records the model flagged that a suppress rule let through without an alert."""
    rule_errors: Counter[str] = field(default_factory=Counter)
    """Rules that could not be evaluated on a record (a field of the wrong type), and how often."""
    windowed: bool = False
    """The model read a feature pipeline: its detections carry their window features as their
    entity context already, and the entity history has nothing to add."""


def score_batch(
    envelopes: Sequence[RecordEnvelope],
    detector: Detector,
    rules: Mapping[str, CompiledRules | None] | None = None,
    features: Sequence[FeatureRow] | None = None,
) -> ScoredBatch:
    """Scores every envelope in one call. Without rules, records at or above the threshold become
    detections; with a tenant's published rules, the rules decide with the model's grade.

    A model that reads a feature pipeline is given `features`, one per envelope, computed with
    the window store; its rules read the record's fields with its window and time features."""
    card = detector.card
    batch = ScoredBatch(features=card.features, windowed=features is not None)
    deciding = rules or {}
    results, rows = _model_results(envelopes, detector, features)
    windows = () if detector.pipeline is None else detector.pipeline.pipeline.window_feature_names
    for envelope, result, row in zip(envelopes, results, rows, strict=True):
        if isinstance(result, Rejection):
            batch.rejections.append((envelope, result))
            continue
        batch.scored.append(envelope)
        batch.scores.append(result)
        severity: Severity | None = card.bands.grade(result)
        hits: tuple[str, ...] = ()
        tenant_rules = deciding.get(envelope.tenant_id)
        if tenant_rules is not None:
            decision = tenant_rules.decide(rule_context(row, result), severity)
            batch.rule_errors.update(name for name, _ in decision.errors)
            if severity is not None and decision.suppressed_by is not None:
                batch.suppressed += 1
            severity, hits = decision.severity, decision.hits
        if severity is None:
            continue
        batch.detections.append(
            Detection(
                tenant_id=envelope.tenant_id,
                source=envelope.source,
                record_id=envelope.record_id,
                model_line=card.model_line,
                model_version=card.version,
                score=result,
                threshold=card.bands.threshold,
                severity=severity,
                entity_id=envelope.entity_id,
                record=envelope.data,
                occurred_at=envelope.occurred_at,
                rule_hits=hits,
                rule_set_version=None if tenant_rules is None else tenant_rules.version,
                entity_context=_window_context(row, windows) if features is not None else {},
            )
        )
    return batch


def _model_results(
    envelopes: Sequence[RecordEnvelope],
    detector: Detector,
    features: Sequence[FeatureRow] | None,
) -> tuple[list[float | Rejection], list[Mapping[str, Any]]]:
    """The model's verdict on each envelope, and the fields its rules read."""
    if features is None:
        return detector.score([e.data for e in envelopes]), [e.data for e in envelopes]
    if len(features) != len(envelopes):
        raise ValueError(f"{len(features)} feature rows for {len(envelopes)} records")
    scores = iter(
        detector.score_vectors([f.vector for f in features if not isinstance(f.vector, Rejection)])
    )
    results = [f.vector if isinstance(f.vector, Rejection) else next(scores) for f in features]
    return results, [f.row for f in features]


def _window_context(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    """The record's window features that have a value: what its entity did lately."""
    return {name: float(row[name]) for name in names if row.get(name) is not None}


def rule_context(record: Mapping[str, Any], score: float) -> Mapping[str, Any]:
    """What a rule reads: the record's fields by name, and `score`, the model's score (which
    hides a record field of that name)."""
    return {**record, "score": score}


async def with_entity_context(batch: ScoredBatch, history: EntityHistory) -> list[Detection]:
    """Remembers every scored record in its entity's history; detections get their context.

    Only detections read their windows back: one record in hundreds, so the hot path pays for
    one write per record and nothing more. A model reading a feature pipeline needs no history:
    its detections carry their window features already.
    """
    if batch.windowed:
        return batch.detections
    observed = [
        observation(
            e.tenant_id, e.source, e.entity_id, e.record_id, e.occurred_at, e.data, batch.features
        )
        for e in batch.scored
    ]
    await history.remember([o for o in observed if o is not None])
    flagged = {(d.tenant_id, d.source, d.entity_id, d.record_id) for d in batch.detections}
    wanted = {
        (e.tenant_id, e.source, e.entity_id, e.record_id): o
        for e, o in zip(batch.scored, observed, strict=True)
        if o is not None and (e.tenant_id, e.source, e.entity_id, e.record_id) in flagged
    }
    windows = await history.recall(list(wanted.values()))
    context = {
        key: summarise(current, window, batch.features)
        for (key, current), window in zip(wanted.items(), windows, strict=True)
    }
    return [
        replace(
            d, entity_context=context.get((d.tenant_id, d.source, d.entity_id, d.record_id), {})
        )
        for d in batch.detections
    ]
