"""LightGBM's gradient-boosted trees, scored as the probability of fraud."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm
import numpy as np

from vigil.infrastructure.training.fitted import FittedDetector
from vigil.infrastructure.training.gradient_boosting import (
    TreeNodes,
    boosted_detector,
    export_boosted_trees,
    fraud_labels,
)

ZERO = float(np.float32(1e-35))
"""LightGBM's kZeroThreshold: a float literal widened to double."""
FLOAT32_MAX = float(np.finfo(np.float32).max)

DEFAULTS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 31,
    # Leaves of at least 20 rows and 1.0 of hessian keep a few dozen frauds from each growing
    # a leaf of its own; subsampling rows and columns does the rest against overfitting them.
    "min_child_samples": 20,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "n_jobs": 1,
}


class LightGbmTrainer:
    """Fits LightGBM on labelled rows; overrides of `DEFAULTS` are LGBMClassifier parameters."""

    algorithm = "lightgbm"
    supervised = True

    def __init__(self, **overrides: Any) -> None:
        self.hyperparameters = {**DEFAULTS, **overrides}

    def fit(
        self,
        matrix: np.ndarray,
        labels: np.ndarray | None,
        features: Sequence[str],
        seed: int,
        metadata: Mapping[str, str],
    ) -> FittedDetector:
        classes = fraud_labels(self.algorithm, matrix, labels, features)
        model = lightgbm.LGBMClassifier(
            **self.hyperparameters,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,  # what `deterministic` asks for, and faster on narrow rows
            verbose=-1,
        )
        model.fit(matrix, classes)
        nodes = lightgbm_nodes(model.booster_.dump_model())
        return boosted_detector(
            self.algorithm,
            export_boosted_trees(nodes, 0.0, features, metadata, self.algorithm),
            lambda rows: np.asarray(model.predict_proba(rows))[:, 1],
            self.hyperparameters,
            seed,
            f"lightgbm {lightgbm.__version__}",
        )


def lightgbm_nodes(dump: Mapping[str, Any]) -> TreeNodes:
    """The trees of `Booster.dump_model()`; LightGBM folds its starting log-odds into the first."""
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output"):
        raise ValueError("lightgbm: only a binary gbdt model (summed trees) can be exported")
    nodes = TreeNodes("BRANCH_LEQ")
    for tree in dump["tree_info"]:
        _add_tree(nodes, int(tree["tree_index"]), tree["tree_structure"])
    return nodes


def _add_tree(nodes: TreeNodes, tree: int, root: Mapping[str, Any]) -> None:
    # Node ids in depth-first order; a stack rather than recursion, since leaf-wise trees can
    # grow as deep as they have leaves.
    pending: list[tuple[int, Mapping[str, Any]]] = [(0, root)]
    next_id = 1
    while pending:
        node_id, node = pending.pop()
        if "leaf_coeff" in node:
            raise ValueError("lightgbm: linear_tree leaves cannot be exported; leave it off")
        if "leaf_value" in node:
            nodes.add_leaf(tree, node_id, node["leaf_value"], node.get("leaf_count", 0))
            continue
        left, right = next_id, next_id + 1
        next_id += 2
        nodes.add_branch(
            tree,
            node_id,
            (int(node["split_feature"]), _threshold(node)),
            (left, right),
            _missing_goes_left(node),
            node["internal_count"],
        )
        pending += [(right, node["right_child"]), (left, node["left_child"])]


def _threshold(node: Mapping[str, Any]) -> float:
    """The float32 c such that x <= c sends every float32 x where LightGBM sends it."""
    if node["decision_type"] != "<=":
        raise ValueError("lightgbm: categorical splits cannot be exported; pass them as numbers")
    threshold = float(node["threshold"])
    # LightGBM predicts as if every |x| <= 1e-35 were 0, and splits zeros from the rest at +-1e-35.
    if -ZERO <= threshold < 0.0:
        return float(np.nextafter(np.float32(-ZERO), np.float32(-np.inf)))
    if 0.0 <= threshold < ZERO:
        return ZERO
    return float32_at_or_below(threshold)


def _missing_goes_left(node: Mapping[str, Any]) -> bool:
    """Where LightGBM sends NaN: the default side, or where 0 goes when it saw no missing values."""
    missing = node["missing_type"]
    if missing == "NaN":
        return bool(node["default_left"])
    if missing == "None":
        return float(node["threshold"]) >= 0.0
    raise ValueError("lightgbm: zero_as_missing splits cannot be exported; leave it off")


def float32_at_or_below(threshold: float) -> float:
    """LightGBM tests float32 x <= float64 t: t rounded up to float32 would send some x the
    other way, the largest float32 at or below t sends every x the same way."""
    if threshold >= FLOAT32_MAX:  # LightGBM's "any number", when only NaN goes right
        return FLOAT32_MAX
    rounded = np.float32(threshold)
    if float(rounded) > threshold:
        rounded = np.nextafter(rounded, np.float32(-np.inf))
    return float(rounded)
