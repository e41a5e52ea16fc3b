"""Grading a score into a severity: a pure policy over the bands a model was trained with."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.domain.alert import Severity


@dataclass(frozen=True)
class SeverityBands:
    """Scores at or above `threshold` alert; the higher bands grade how far above it they are."""

    threshold: float
    high: float
    critical: float

    def grade(self, score: float) -> Severity | None:
        if score < self.threshold:
            return None
        if score >= self.critical:
            return Severity.CRITICAL
        if score >= self.high:
            return Severity.HIGH
        return Severity.MEDIUM
