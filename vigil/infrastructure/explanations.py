"""Why a model scored a record as it did, computed from the very artifact that scored it.

Boosted trees (LightGBM, XGBoost): exact TreeSHAP contributions to the log-odds of fraud, from
the exported ensemble (`training.tree_explanations`). The autoencoder: each feature's squared
reconstruction error, the artifact's second output, whose mean is the score. Other algorithms
have no explanation here, and say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from vigil.application.detection import Detector
from vigil.application.realtime_scoring import Contribution, ExplanationUnavailable
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.training.autoencoder import FEATURE_ERRORS
from vigil.infrastructure.training.fitted import INPUT
from vigil.infrastructure.training.tree_explanations import TreeShap

TREES = ("lightgbm", "xgboost")
AUTOENCODER = "autoencoder"


class ArtifactExplainer:
    """Implements `Explainer`; what it reads of each version is loaded once."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._shap: dict[str, TreeShap] = {}
        self._sessions: dict[str, ort.InferenceSession] = {}

    def explains(self, detector: Detector) -> bool:
        return detector.card.algorithm in (*TREES, AUTOENCODER)

    def explain(
        self, detector: Detector, vectors: Sequence[Sequence[float]], top: int
    ) -> list[list[Contribution]]:
        card = detector.card
        rows = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), len(card.features))
        if card.algorithm in TREES:
            values = self._tree_shap(card.version).explain(rows).values
        elif card.algorithm == AUTOENCODER:
            values = self._feature_errors(card.version, rows)
        else:
            raise ExplanationUnavailable(card.algorithm)
        return [
            _top(card.features, row, contributions, top)
            for row, contributions in zip(rows.tolist(), values.tolist(), strict=True)
        ]

    def _tree_shap(self, version: str) -> TreeShap:
        if version not in self._shap:
            artifact = self.store.artifact_path(version).read_bytes()
            self._shap[version] = TreeShap.from_artifact(artifact)
        return self._shap[version]

    def _feature_errors(self, version: str, rows: np.ndarray) -> np.ndarray:
        session = self._sessions.get(version)
        if session is None:
            path = str(self.store.artifact_path(version))
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            self._sessions[version] = session
        (errors,) = session.run([FEATURE_ERRORS], {INPUT: rows})
        return np.asarray(errors, dtype=np.float64)


def _top(
    features: Sequence[str], row: Sequence[float], values: Sequence[float], top: int
) -> list[Contribution]:
    ranked = sorted(range(len(features)), key=lambda i: abs(values[i]), reverse=True)
    return [Contribution(features[i], row[i], values[i]) for i in ranked[:top]]
