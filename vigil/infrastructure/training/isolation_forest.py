"""The Isolation Forest trainer: sklearn's forest, exported as Vigil's one-ensemble ONNX graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest

from vigil.infrastructure.isolation_forest_onnx import OPSETS, export_isolation_forest
from vigil.infrastructure.training.fitted import FittedDetector


@dataclass(frozen=True)
class IsolationForestTrainer:
    """Unsupervised; the score is `-decision_function`, so isolated rows score high."""

    n_estimators: int = 100
    max_samples: int | float | str = "auto"
    """sklearn's "auto" is min(256, rows), the subsample size of Liu et al."""

    algorithm = "isolation_forest"
    supervised = False

    def fit(
        self,
        matrix: np.ndarray,
        labels: np.ndarray | None,
        features: Sequence[str],
        seed: int,
        metadata: Mapping[str, str],
    ) -> FittedDetector:
        # One random stream for the subsamples and the trees, as pyod's IForest draws from numpy's
        # seeded global state: the same seed then grows the same forest as ADBench's runs did.
        stream = np.random.RandomState(seed)
        forest = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=stream
        ).fit(matrix)

        def native_scores(rows: np.ndarray) -> np.ndarray:
            return -forest.decision_function(rows)

        return FittedDetector(
            algorithm=self.algorithm,
            artifact=export_isolation_forest(forest, features, metadata),
            native_scores=native_scores,
            parameters={
                "n_estimators": self.n_estimators,
                "max_samples": self.max_samples,
                "max_samples_used": int(forest.max_samples_),
                "seed": seed,
                "opsets": OPSETS,
            },
        )
