"""XGBoost's gradient-boosted trees, scored as the probability of fraud."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xgboost

from vigil.infrastructure.training.fitted import FittedDetector
from vigil.infrastructure.training.gradient_boosting import (
    TreeNodes,
    boosted_detector,
    export_boosted_trees,
    fraud_labels,
)

DEFAULTS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "max_depth": 6,
    # Leaves need 1.0 of hessian: with frauds near 2% that is dozens of rows, not one fraud.
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "n_jobs": 1,
}


class XGBoostTrainer:
    """Fits XGBoost on labelled rows; overrides of `DEFAULTS` are XGBClassifier parameters."""

    algorithm = "xgboost"
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
        model = xgboost.XGBClassifier(
            **self.hyperparameters, objective="binary:logistic", random_state=seed
        )
        model.fit(matrix, classes)
        saved = json.loads(model.get_booster().save_raw("json"))
        nodes, base_margin = xgboost_nodes(saved)
        return boosted_detector(
            self.algorithm,
            export_boosted_trees(nodes, base_margin, features, metadata, self.algorithm),
            lambda rows: model.predict_proba(rows)[:, 1],
            self.hyperparameters,
            seed,
            f"xgboost {xgboost.__version__}",
        )


def xgboost_nodes(saved: Mapping[str, Any]) -> tuple[TreeNodes, float]:
    """The trees of a binary:logistic booster's JSON model, and its starting log-odds."""
    learner = saved["learner"]
    if learner["objective"]["name"] != "binary:logistic":
        raise ValueError("xgboost: only a binary:logistic model can be exported")
    # base_score is a probability, written as a one-element list since XGBoost 3.
    probability = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    nodes = TreeNodes("BRANCH_LT")
    for tree in learner["gradient_booster"]["model"]["trees"]:
        _add_tree(nodes, tree)
    return nodes, math.log(probability / (1.0 - probability))


def _add_tree(nodes: TreeNodes, tree: Mapping[str, Any]) -> None:
    if any(tree["split_type"]):
        raise ValueError("xgboost: categorical splits cannot be exported; pass them as numbers")
    left, right = tree["left_children"], tree["right_children"]
    tree_id, cover = int(tree["id"]), tree["sum_hessian"]
    # Walk from the root: pruning can leave nodes in the arrays that no row reaches.
    pending = [0]
    while pending:
        node = pending.pop()
        # A leaf keeps its value (learning rate applied) where a branch keeps its threshold.
        value = tree["split_conditions"][node]
        if left[node] == -1:
            nodes.add_leaf(tree_id, node, value, cover[node])
            continue
        nodes.add_branch(
            tree_id,
            node,
            (int(tree["split_indices"][node]), float(np.float32(value))),
            (left[node], right[node]),
            bool(tree["default_left"][node]),
            cover[node],
        )
        pending += [right[node], left[node]]
