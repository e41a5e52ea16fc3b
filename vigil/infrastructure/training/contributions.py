"""What every explainer of an artifact hands back: each feature's share of a quantity the
artifact computes, which adds up with a base to that quantity, row by row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class UnexplainableArtifact(ValueError):
    """The artifact lacks what its explanation reads, such as one exported before Vigil wrote it."""


@dataclass(frozen=True)
class Contributions:
    """How far each feature moved each row's explained quantity from the base; the quantity and
    its unit are the explainer's (log-odds of fraud for boosted trees, say)."""

    features: tuple[str, ...]
    base: float
    """The quantity before any feature is known: an average training row's, or a reference's."""
    values: np.ndarray
    """[rows, features] float64: each feature's share of the row's quantity above `base`."""

    @property
    def totals(self) -> np.ndarray:
        """Each row's explained quantity, `base` plus its contributions."""
        return self.base + self.values.sum(axis=1)

    def of_row(self, row: int) -> dict[str, float]:
        return dict(zip(self.features, self.values[row].tolist(), strict=True))
