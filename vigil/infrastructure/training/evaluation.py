"""How well a trained model does on rows it never saw: the last part of the training data in
time order (the hold-out), scored by the ONNX artifact that will serve.

Records arrive in event-time order, so a random split would let the model learn from the future
of the very entities it is tested on; the hold-out is the latest `share` of the rows instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

MIN_HOLDOUT_ROWS = 10

Rows = TypeVar("Rows", bound=np.ndarray | None)


def holdout_start(rows: int, share: float) -> int:
    """The first row of the hold-out, or `rows` when there are too few rows to hold any out."""
    held = math.floor(rows * share)
    if share <= 0 or held < MIN_HOLDOUT_ROWS or rows - held < MIN_HOLDOUT_ROWS:
        return rows
    return rows - held


@dataclass(frozen=True)
class HoldOut:
    """Rows before `start` train; the rest are held out, or, with none held out, every row is
    evaluated on."""

    start: int
    rows: int

    @classmethod
    def of(cls, rows: int, share: float) -> HoldOut:
        return cls(holdout_start(rows, share), rows)

    @property
    def held_out(self) -> bool:
        return self.start < self.rows

    def train(self, array: Rows) -> Rows:
        if array is None:
            return array
        return cast(Rows, array[: self.start])

    def held(self, array: Rows) -> Rows:
        if array is None or not self.held_out:
            return array
        return cast(Rows, array[self.start :])


def holdout_metrics(
    scores: np.ndarray, labels: np.ndarray | None, threshold: float, budget: float
) -> dict[str, float]:
    """The alert rate at the threshold and, with labels, precision, recall and F1 there,
    ROC-AUC, PR-AUC, and precision at the alert budget (the top `budget` share of rows)."""
    flagged = scores >= threshold
    metrics = {"holdout_rows": float(len(scores)), "alert_rate": float(flagged.mean())}
    if labels is None:
        return metrics
    frauds = float(labels.sum())
    metrics["label_rate"] = frauds / len(labels)
    if frauds in (0.0, float(len(labels))):
        return metrics  # one class only: precision, recall and the ranking metrics say nothing
    caught = float((flagged & (labels == 1)).sum())
    precision = caught / max(float(flagged.sum()), 1.0)
    recall = caught / frauds
    top = max(1, math.ceil(budget * len(scores)))
    ranked = np.argsort(-scores, kind="stable")[:top]
    metrics.update(
        precision=precision,
        recall=recall,
        f1=0.0 if caught == 0 else 2 * precision * recall / (precision + recall),
        roc_auc=float(roc_auc_score(labels, scores)),
        pr_auc=float(average_precision_score(labels, scores)),
        precision_at_budget=float(labels[ranked].mean()),
    )
    return metrics
