"""Model lines as the API shows them: every version with its card, stage and bands, and the
line's history of who registered, promoted, demoted, retired or re-thresholded what, and why."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from vigil.application.model_scores import Comparison
from vigil.domain import model_line as domain
from vigil.graphql.alerts.types import jsonable
from vigil.graphql.models.advice import ThresholdCurvePoint, curve_points

ModelStage = domain.ModelStage
strawberry.enum(
    ModelStage,
    name="ModelStage",
    description="Only the champion decides; shadows score beside it and raise nothing.",
)


@strawberry.type(description="Scores at or above the threshold alert; the bands grade them.")
class SeverityBands:
    threshold: float
    high: float
    critical: float


@strawberry.type(description="One trained version of a model line: its ONNX artifact's sha256.")
class ModelVersion:
    version: str
    stage: ModelStage
    algorithm: str
    bands: SeverityBands
    features: list[str] = strawberry.field(description="What the model reads, in input order.")
    pipeline: str | None = strawberry.field(description="The feature pipeline it reads through.")
    metrics: JSON = strawberry.field(description="Evaluation metrics at training, by name.")
    parameters: JSON = strawberry.field(description="What reproduces the fit.")
    training_rows: int
    training_fingerprint: str
    trained_at: datetime
    note: str
    registered_by: str
    registered_at: datetime
    threshold_curve: list[ThresholdCurvePoint] = strawberry.field(
        description="The hold-out at the curve's thresholds, highest first; empty when it was "
        "trained without labels."
    )

    @classmethod
    def from_domain(cls, version: domain.ModelVersion) -> ModelVersion:
        card: Mapping[str, Any] = version.card
        bands = version.bands
        return cls(
            version=version.version,
            stage=version.stage,
            algorithm=str(card.get("algorithm", "")),
            bands=SeverityBands(
                threshold=bands.threshold, high=bands.high, critical=bands.critical
            ),
            features=[str(f) for f in card.get("features", [])],
            pipeline=card.get("pipeline"),
            metrics=jsonable(card.get("metrics", {})),
            parameters=jsonable(card.get("parameters", {})),
            training_rows=int(card.get("training_rows", 0)),
            training_fingerprint=str(card.get("training_fingerprint", "")),
            trained_at=datetime.fromisoformat(str(card["trained_at"])),
            note=version.note,
            registered_by=version.registered_by,
            registered_at=version.registered_at,
            threshold_curve=curve_points(card.get("threshold_curve")),
        )


@strawberry.type(description="Something recorded on a line: who did it, when and why.")
class ModelLineChange:
    event: str
    version: str | None
    actor: str
    at: datetime
    reason: str


@strawberry.type(description="One model of a source over its versions, newest first.")
class ModelLine:
    id: strawberry.ID
    name: str
    source: str
    champion: ModelVersion | None = strawberry.field(description="Null while none decides.")
    shadows: list[ModelVersion]
    versions: list[ModelVersion]

    @classmethod
    def from_aggregate(cls, line: domain.ModelLine) -> ModelLine:
        newest = reversed(line.versions.values())  # versions are kept in registration order
        champion = line.champion
        return cls(
            id=strawberry.ID(str(line.id)),
            name=line.name,
            source=line.source,
            champion=None if champion is None else ModelVersion.from_domain(champion),
            shadows=[ModelVersion.from_domain(v) for v in line.shadows],
            versions=[ModelVersion.from_domain(v) for v in newest],
        )


@strawberry.type(description="A shadow against its line's champion, over every record both scored.")
class ModelComparison:
    champion_version: str
    shadow_version: str
    scored: int
    champion_alerts: int
    shadow_alerts: int
    both_alerts: int
    agreement: float = strawberry.field(
        description="The share of records on which both alerted or both passed."
    )
    mean_score_gap: float = strawberry.field(
        description="The mean of |shadow score - champion score|."
    )

    @classmethod
    def from_application(cls, comparison: Comparison) -> ModelComparison:
        return cls(
            champion_version=comparison.champion_version,
            shadow_version=comparison.shadow_version,
            scored=comparison.scored,
            champion_alerts=comparison.champion_alerts,
            shadow_alerts=comparison.shadow_alerts,
            both_alerts=comparison.both_alerts,
            agreement=comparison.agreement,
            mean_score_gap=comparison.mean_score_gap,
        )
