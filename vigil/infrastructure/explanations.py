"""Why a model scored a record as it did, computed from the very artifact that scored it.

Boosted trees (LightGBM, XGBoost): exact TreeSHAP contributions to the log-odds of fraud, from
the exported ensemble (`training.tree_explanations`). The Isolation Forest: exact TreeSHAP of
the negative mean path length, in tree levels, from the ensemble and the training samples each
node records (`training.isolation_forest_explanations`); positive means isolated sooner, more
anomalous. The One-Class SVM: exact Shapley values of the score against the training rows'
median, which the artifact records (`training.svm_explanations`). The autoencoder: each
feature's squared reconstruction error, the artifact's second output, whose mean is the score.
An artifact exported before it recorded what its explanation reads is refused, saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import onnxruntime as ort

from vigil.application.detection import Detector
from vigil.application.realtime_scoring import Contribution, ExplanationUnavailable
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.training.autoencoder import FEATURE_ERRORS
from vigil.infrastructure.training.contributions import Contributions, UnexplainableArtifact
from vigil.infrastructure.training.fitted import INPUT
from vigil.infrastructure.training.isolation_forest_explanations import IsolationForestShap
from vigil.infrastructure.training.svm_explanations import OneClassSvmShap
from vigil.infrastructure.training.tree_explanations import TreeShap

AUTOENCODER = "autoencoder"


class _ArtifactShap(Protocol):
    def explain(self, rows: np.ndarray) -> Contributions: ...


SHAP: dict[str, Callable[[bytes], _ArtifactShap]] = {
    "lightgbm": TreeShap.from_artifact,
    "xgboost": TreeShap.from_artifact,
    "isolation_forest": IsolationForestShap.from_artifact,
    "one_class_svm": OneClassSvmShap.from_artifact,
}
"""Each algorithm whose explanations are Shapley values, and how they are read from its artifact."""


class ArtifactUnexplained(ExplanationUnavailable):
    """The version's algorithm explains, but its artifact lacks what the explanation reads."""

    def __init__(self, algorithm: str, reason: str) -> None:
        super().__init__(algorithm)
        self.reason = reason

    def __str__(self) -> str:
        return f"this {self.algorithm} version cannot be explained: {self.reason}"


class ArtifactExplainer:
    """Implements `Explainer`; what it reads of each version is loaded once, by `explains`, so
    an artifact that cannot be explained is refused (ArtifactUnexplained) before scoring."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._shap: dict[str, _ArtifactShap | str] = {}
        """Each version's explainer, or why its artifact cannot be explained."""
        self._sessions: dict[str, ort.InferenceSession] = {}

    def explains(self, detector: Detector) -> bool:
        card = detector.card
        if card.algorithm in SHAP:
            self._explainer(card.algorithm, card.version)
            return True
        return card.algorithm == AUTOENCODER

    def explain(
        self, detector: Detector, vectors: Sequence[Sequence[float]], top: int
    ) -> list[list[Contribution]]:
        card = detector.card
        rows = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), len(card.features))
        if card.algorithm in SHAP:
            values = self._explainer(card.algorithm, card.version).explain(rows).values
        elif card.algorithm == AUTOENCODER:
            values = self._feature_errors(card.version, rows)
        else:
            raise ExplanationUnavailable(card.algorithm)
        return [
            _top(card.features, row, contributions, top)
            for row, contributions in zip(rows.tolist(), values.tolist(), strict=True)
        ]

    def _explainer(self, algorithm: str, version: str) -> _ArtifactShap:
        # A refusal is remembered too, so an old artifact is not parsed again on every request.
        if version not in self._shap:
            artifact = self.store.artifact_path(version).read_bytes()
            try:
                self._shap[version] = SHAP[algorithm](artifact)
            except UnexplainableArtifact as error:
                self._shap[version] = str(error)
        explainer = self._shap[version]
        if isinstance(explainer, str):
            raise ArtifactUnexplained(algorithm, explainer)
        return explainer

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
