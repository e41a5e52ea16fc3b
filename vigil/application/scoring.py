"""Scoring records: a batch of envelopes in, detections and rejections out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from vigil.application.detection import Detector, Rejection
from vigil.application.entity_context import EntityHistory, observation, summarise
from vigil.application.records import RecordEnvelope
from vigil.domain.alert import Detection


@dataclass
class ScoredBatch:
    """What one detector made of one batch of records from one source."""

    features: tuple[str, ...]
    scored: list[RecordEnvelope] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    rejections: list[tuple[RecordEnvelope, Rejection]] = field(default_factory=list)


def score_batch(envelopes: Sequence[RecordEnvelope], detector: Detector) -> ScoredBatch:
    """Scores every envelope in one call; those at or above the threshold become detections."""
    card = detector.card
    batch = ScoredBatch(features=card.features)
    for envelope, result in zip(
        envelopes, detector.score([e.data for e in envelopes]), strict=True
    ):
        if isinstance(result, Rejection):
            batch.rejections.append((envelope, result))
            continue
        batch.scored.append(envelope)
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


async def with_entity_context(batch: ScoredBatch, history: EntityHistory) -> list[Detection]:
    """Remembers every scored record in its entity's history; detections get their context.

    Only detections read their windows back: one record in hundreds, so the hot path pays for
    one write per record and nothing more.
    """
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
