"""The algorithms `vigil train` offers, by the name a model card records."""

from __future__ import annotations

from vigil.infrastructure.training.autoencoder import AutoencoderTrainer
from vigil.infrastructure.training.fitted import Trainer
from vigil.infrastructure.training.isolation_forest import IsolationForestTrainer
from vigil.infrastructure.training.lightgbm_trainer import LightGbmTrainer
from vigil.infrastructure.training.one_class_svm import OneClassSvmTrainer
from vigil.infrastructure.training.xgboost_trainer import XGBoostTrainer

LINE_SUFFIXES = {
    "isolation_forest": "iforest",
    "one_class_svm": "ocsvm",
    "autoencoder": "autoencoder",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
}
"""Each algorithm and the suffix of its default model line: `<source>-<suffix>`."""

ALGORITHMS = tuple(LINE_SUFFIXES)


def trainer_for(algorithm: str, n_estimators: int | None = None) -> Trainer:
    """A trainer with its defaults; `n_estimators` overrides the trees of a tree ensemble.
    ValueError naming the algorithms for an unknown one."""
    match algorithm:
        case "isolation_forest":
            return IsolationForestTrainer(n_estimators=n_estimators or 100)
        case "one_class_svm":
            return OneClassSvmTrainer()
        case "autoencoder":
            return AutoencoderTrainer()
        case "lightgbm":
            return LightGbmTrainer(**_trees(n_estimators))
        case "xgboost":
            return XGBoostTrainer(**_trees(n_estimators))
    raise ValueError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")


def _trees(n_estimators: int | None) -> dict[str, int]:
    return {} if n_estimators is None else {"n_estimators": n_estimators}
