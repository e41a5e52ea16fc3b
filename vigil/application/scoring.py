"""Scoring records: a batch of envelopes in, detections and rejections out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil.application.detection import Detector, Rejection
from vigil.application.records import RecordEnvelope
from vigil.domain.alert import Detection


@dataclass
class ScoredBatch:
    """What one detector made of one batch of records from one source."""

    scored: int = 0
    detections: list[Detection] = field(default_factory=list)
    rejections: list[tuple[RecordEnvelope, Rejection]] = field(default_factory=list)


def score_batch(envelopes: Sequence[RecordEnvelope], detector: Detector) -> ScoredBatch:
    """Scores every envelope in one call; those at or above the threshold become detections."""
    card = detector.card
    batch = ScoredBatch()
    for envelope, result in zip(
        envelopes, detector.score([e.data for e in envelopes]), strict=True
    ):
        if isinstance(result, Rejection):
            batch.rejections.append((envelope, result))
            continue
        batch.scored += 1
        severity = card.bands.grade(result)
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
            )
        )
    return batch
