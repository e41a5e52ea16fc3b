"""Imputation, scaling and encoding with what they learnt from a training set, as JSON.

Each is fitted on the training rows as the earlier steps left them, and applies itself to a row
in place. A value that is absent, None or NaN is missing: imputation fills it, scaling leaves it
missing, and encoding leaves its columns missing; what is still missing at the end rejects the
record, by name.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_steps import (
    OTHER,
    Encoding,
    EncodingMethod,
    Imputation,
    ImputationStrategy,
    Scaling,
    ScalingMethod,
)
from vigil.domain.feature_windows import numeric, value_text

Row = dict[str, Any]


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numbers(path: str, rows: Sequence[Mapping[str, Any]], name: str) -> list[float]:
    numbers = [n for n in (numeric(row.get(name)) for row in rows) if n is not None]
    if not numbers:
        raise InvalidCommand(path, f"{name} has no numeric value in the training rows")
    return numbers


@dataclass(frozen=True)
class FittedImputation:
    step: Imputation
    fills: Mapping[str, float | str]

    @classmethod
    def fit(
        cls, path: str, step: Imputation, rows: Sequence[Mapping[str, Any]]
    ) -> FittedImputation:
        if step.strategy is ImputationStrategy.CONSTANT:
            assert step.value is not None  # the document is refused without one
            return cls(step, dict.fromkeys(step.fields, step.value))
        learn = statistics.fmean if step.strategy is ImputationStrategy.MEAN else statistics.median
        return cls(
            step,
            {
                name: float(learn(_numbers(f"{path}.fields[{n}]", rows, name)))
                for n, name in enumerate(step.fields)
            },
        )

    def apply(self, row: Row) -> None:
        for name, fill in self.fills.items():
            if is_missing(row.get(name)):
                row[name] = fill

    def to_json(self) -> dict[str, Any]:
        return {"fills": dict(self.fills)}

    @classmethod
    def from_json(cls, step: Imputation, document: Mapping[str, Any]) -> FittedImputation:
        return cls(step, {name: document["fills"][name] for name in step.fields})


_STATISTICS = {
    ScalingMethod.STANDARD: ("mean", "std"),
    ScalingMethod.MINMAX: ("min", "max"),
    ScalingMethod.ROBUST: ("median", "q1", "q3"),
}


def _learn(method: ScalingMethod, numbers: list[float]) -> dict[str, float]:
    if method is ScalingMethod.STANDARD:
        return {"mean": statistics.fmean(numbers), "std": statistics.pstdev(numbers)}
    if method is ScalingMethod.MINMAX:
        return {"min": min(numbers), "max": max(numbers)}
    if len(numbers) == 1:
        return {"median": numbers[0], "q1": numbers[0], "q3": numbers[0]}
    q1, median, q3 = statistics.quantiles(numbers, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3}


@dataclass(frozen=True)
class FittedScaling:
    """Standard and robust divide by 1 where the spread is 0; minmax maps a constant to 0.0."""

    step: Scaling
    statistics: Mapping[str, Mapping[str, float]]

    @classmethod
    def fit(cls, path: str, step: Scaling, rows: Sequence[Mapping[str, Any]]) -> FittedScaling:
        return cls(
            step,
            {
                name: _learn(step.method, _numbers(f"{path}.fields[{n}]", rows, name))
                for n, name in enumerate(step.fields)
            },
        )

    def apply(self, row: Row) -> None:
        for name, learnt in self.statistics.items():
            value = numeric(row.get(name))
            if value is not None:
                row[name] = self._scaled(value, learnt)

    def _scaled(self, value: float, learnt: Mapping[str, float]) -> float:
        if self.step.method is ScalingMethod.STANDARD:
            return (value - learnt["mean"]) / (learnt["std"] or 1.0)
        if self.step.method is ScalingMethod.MINMAX:
            spread = learnt["max"] - learnt["min"]
            return (value - learnt["min"]) / spread if spread else 0.0
        return (value - learnt["median"]) / ((learnt["q3"] - learnt["q1"]) or 1.0)

    def to_json(self) -> dict[str, Any]:
        return {"statistics": {name: dict(s) for name, s in self.statistics.items()}}

    @classmethod
    def from_json(cls, step: Scaling, document: Mapping[str, Any]) -> FittedScaling:
        keys = _STATISTICS[step.method]
        stored = document["statistics"]
        return cls(step, {n: {k: float(stored[n][k]) for k in keys} for n in step.fields})


@dataclass(frozen=True)
class FittedEncoding:
    """The learnt categories, sorted; any other category, unseen ones included, is `__other__`."""

    step: Encoding
    categories: tuple[str, ...]

    @classmethod
    def fit(cls, path: str, step: Encoding, rows: Sequence[Mapping[str, Any]]) -> FittedEncoding:
        counts = Counter(t for t in (value_text(row.get(step.field)) for row in rows) if t)
        counts.pop(OTHER, None)  # a category of that name is the rest's column anyway
        if not counts:
            raise InvalidCommand(f"{path}.field", f"{step.field} has no value in the training rows")
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return cls(step, tuple(sorted(c for c, _ in ranked[: step.max_categories])))

    @cached_property
    def _codes(self) -> dict[str, int]:
        return {c: n for n, c in enumerate(self.categories)}

    @property
    def columns(self) -> tuple[str, ...]:
        if self.step.method is EncodingMethod.ORDINAL:
            return (self.step.code_name,)
        return tuple(self.step.column_name(c) for c in (*self.categories, OTHER))

    def apply(self, row: Row) -> None:
        category = value_text(row.get(self.step.field))
        if self.step.method is EncodingMethod.ORDINAL:
            code = None if category is None else self._codes.get(category, len(self.categories))
            row[self.step.code_name] = None if code is None else float(code)
            return
        hot = category if category in self.categories else OTHER
        for c in (*self.categories, OTHER):
            row[self.step.column_name(c)] = None if category is None else float(c == hot)

    def to_json(self) -> dict[str, Any]:
        return {"categories": list(self.categories)}

    @classmethod
    def from_json(cls, step: Encoding, document: Mapping[str, Any]) -> FittedEncoding:
        return cls(step, tuple(str(c) for c in document["categories"]))


FittedStep = FittedImputation | FittedScaling | FittedEncoding
