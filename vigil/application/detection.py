"""Detection ports: what a trained model promises the scoring use case, and its model card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from vigil.domain.severity import SeverityBands

if TYPE_CHECKING:
    from vigil.application.features.fitting import FittedPipeline


class NoChampion(LookupError):
    """Nothing was trained (or promoted) for this source, so nothing can score its records."""

    def __init__(self, source: str) -> None:
        super().__init__(f"no model line of source {source!r} has a champion")
        self.source = source


class TamperedArtifact(Exception):
    """A stored model's bytes no longer hash to its version: it must never score a record."""

    def __init__(self, version: str, actual: str) -> None:
        super().__init__(f"model artifact {version} hashes to {actual}: refusing to load it")
        self.version = version
        self.actual = actual


@dataclass(frozen=True)
class Rejection:
    """Why one record could not be scored; the rest of its batch is scored regardless."""

    field: str
    reason: str


@dataclass(frozen=True)
class ModelCard:
    """What a model version is, what it reads, how it grades, and how well it did when trained."""

    model_line: str
    version: str
    """The sha256 (hex) of the ONNX artifact; empty until the artifact is stored."""
    source: str
    algorithm: str
    features: tuple[str, ...]
    """The record fields the model reads, in the order its input expects them."""
    bands: SeverityBands
    metrics: dict[str, float]
    parameters: dict[str, Any]
    training_rows: int
    training_fingerprint: str
    trained_at: datetime
    notes: tuple[str, ...] = field(default=())
    """Decisions made during training that a model owner should read (columns dropped, why)."""
    pipeline: str | None = None
    """The feature pipeline the model reads through, by name; None when it reads record fields
    as they are. The pipeline as fitted travels inside the artifact, so its hash covers it."""
    threshold_curve: dict[str, Any] | None = None
    """The hold-out's threshold curve (`vigil.domain.threshold_curve`), for threshold advice;
    None when the hold-out had no labels."""

    def to_json(self) -> dict[str, Any]:
        return {
            "model_line": self.model_line,
            "version": self.version,
            "source": self.source,
            "algorithm": self.algorithm,
            "features": list(self.features),
            "bands": {
                "threshold": self.bands.threshold,
                "high": self.bands.high,
                "critical": self.bands.critical,
            },
            "metrics": dict(self.metrics),
            "parameters": dict(self.parameters),
            "training_rows": self.training_rows,
            "training_fingerprint": self.training_fingerprint,
            "trained_at": self.trained_at.isoformat(),
            "notes": list(self.notes),
            "pipeline": self.pipeline,
            "threshold_curve": self.threshold_curve,
        }

    def summary(self) -> str:
        """The card in a few lines, as `vigil train` prints it."""
        bands = self.bands
        lines = [
            f"trained {self.model_line} ({self.algorithm}) for source {self.source}"
            f" on {self.training_rows:,} rows",
            *([f"feature pipeline: {self.pipeline}"] if self.pipeline else []),
            f"features: {', '.join(self.features)}",
            f"bands: threshold {bands.threshold:.6f}, high {bands.high:.6f},"
            f" critical {bands.critical:.6f}",
            "metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in self.metrics.items()),
            *(f"note: {note}" for note in self.notes),
            f"version: {self.version}",
        ]
        return "\n".join(lines)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ModelCard:
        bands = body["bands"]
        return cls(
            model_line=str(body["model_line"]),
            version=str(body["version"]),
            source=str(body["source"]),
            algorithm=str(body["algorithm"]),
            features=tuple(str(f) for f in body["features"]),
            bands=SeverityBands(
                threshold=float(bands["threshold"]),
                high=float(bands["high"]),
                critical=float(bands["critical"]),
            ),
            metrics={str(k): float(v) for k, v in body["metrics"].items()},
            parameters=dict(body["parameters"]),
            training_rows=int(body["training_rows"]),
            training_fingerprint=str(body["training_fingerprint"]),
            trained_at=datetime.fromisoformat(body["trained_at"]),
            notes=tuple(str(n) for n in body.get("notes", ())),
            pipeline=None if body.get("pipeline") is None else str(body["pipeline"]),
            threshold_curve=body.get("threshold_curve"),
        )


class Detector(Protocol):
    """A model version ready to score records of its source."""

    card: ModelCard
    pipeline: FittedPipeline | None
    """How records become the model's input when it reads features rather than raw fields:
    the scoring use case computes them (windows need the shared store) and calls
    `score_vectors`."""

    def score(self, records: Sequence[Mapping[str, Any]]) -> list[float | Rejection]:
        """One entry per record, in order; higher is more anomalous; a bad record is a Rejection."""
        ...

    def score_vectors(self, vectors: Sequence[Sequence[float]]) -> list[float]:
        """One score per input row, in order: rows of `card.features`, finite, made by the
        pipeline."""
        ...


@dataclass(frozen=True)
class Scorers:
    """What scores a source's records: champions decide, shadows are only compared."""

    champions: Sequence[Detector]
    shadows: Sequence[Detector]


class ModelRegistry(Protocol):
    """Where the scoring use case finds the models that currently decide for a source."""

    def scorers(self, tenant_id: str, source: str) -> Scorers:
        """The champion of every model line of the tenant's source, each graded by its line's
        current bands, and every version in shadow on those lines, read together; raises
        NoChampion when no line of the source has a champion."""
        ...

    def line_champion(self, tenant_id: str, line: str) -> Detector:
        """The champion of the tenant's model line of that name; ModelLineNotFound when there
        is no such line, NoChampion when it has none."""
        ...
