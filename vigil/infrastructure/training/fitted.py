"""What a trainer hands back: the ONNX artifact that will score, and the library's own scores of
the same function, for the parity check training makes before anything is stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

INPUT = "features"
"""The artifact's one input: float32 rows of the card's features, [N, width]."""
OUTPUT = "score"
"""The artifact's first output: float32 scores, [N] or [N, 1]; higher is more suspicious (an
anomaly score, or the probability of fraud for a supervised model)."""


@dataclass(frozen=True)
class FittedDetector:
    algorithm: str
    artifact: bytes
    native_scores: Callable[[np.ndarray], np.ndarray]
    """The fitted library model's scores of float32 rows, the function the artifact computes."""
    parameters: dict[str, Any]
    """What a model owner needs to reproduce the fit: hyperparameters, seed, opsets."""
    notes: list[str] = field(default_factory=list)


class Trainer(Protocol):
    algorithm: str
    supervised: bool
    """True when `fit` needs labels with both classes present."""

    def fit(
        self,
        matrix: np.ndarray,
        labels: np.ndarray | None,
        features: Sequence[str],
        seed: int,
        metadata: Mapping[str, str],
    ) -> FittedDetector:
        """Fits on float32 rows (and 0/1 labels for a supervised trainer); the artifact carries
        `metadata` among its model properties and is deterministic for the same inputs."""
        ...
