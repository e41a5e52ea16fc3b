"""A feature pipeline fitted on a training set: what turns one record's row into a model's input.

The row is the record's fields with its window and time features merged in (`feature_row`);
imputation, scaling and encoding then apply in document order, each as fitted on the training
rows the earlier steps left. Stored as JSON with the model, so scoring applies exactly what
training learnt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from math import isfinite
from typing import Any

from vigil.application.detection import Rejection
from vigil.application.features.fitted_steps import (
    FittedEncoding,
    FittedImputation,
    FittedScaling,
    FittedStep,
    is_missing,
)
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_steps import (
    Encoding,
    EncodingMethod,
    Imputation,
    LabelWindowAggregation,
    Scaling,
    Step,
    WindowAggregation,
)
from vigil.domain.feature_windows import numeric

FORMAT = "vigil.fitted-feature-pipeline/1"


@dataclass(frozen=True)
class FittedPipeline:
    pipeline: FeaturePipeline
    fitted: tuple[FittedStep | None, ...]
    """One per step of the pipeline; None for the window and time steps, which learn nothing."""
    feature_names: tuple[str, ...]
    """The model's input columns, in order."""

    def transform(self, row: Mapping[str, Any]) -> list[float] | Rejection:
        """The row as the model's input, or why it cannot be one: the first feature missing or
        not a number after every step. Never a NaN."""
        values = dict(row)
        for fitted in self._learnt:
            fitted.apply(values)
        vector = [values.get(name) for name in self.feature_names]
        for k, value in enumerate(vector):
            if type(value) is not float or not isfinite(value):  # a float as a rule: fast path
                number = numeric(value)
                if number is None:
                    name = self.feature_names[k]
                    return Rejection(name, self._why(name, values))
                vector[k] = number
        return vector  # type: ignore[return-value]  # every entry is a finite float now

    @cached_property
    def _learnt(self) -> tuple[FittedStep, ...]:
        return tuple(f for f in self.fitted if f is not None)

    def _why(self, name: str, values: Mapping[str, Any]) -> str:
        value = values.get(name)
        if not is_missing(value):
            return "is not a finite number" if isinstance(value, float) else "is not a number"
        for step, fitted in zip(self.pipeline.steps, self.fitted, strict=True):
            if isinstance(step, LabelWindowAggregation) and name in step.outputs():
                return f"has no value: the record has no {step.entity_key}"
            if isinstance(step, WindowAggregation) and name in step.outputs():
                if is_missing(values.get(step.entity_key)):
                    return f"has no value: the record has no {step.entity_key}"
                if name == step.time_since_last_name:
                    return f"has no value: no other record of this {step.entity_key} is remembered"
                return f"has no value: no record in its window has a numeric {step.field}"
            if isinstance(fitted, FittedEncoding) and name in fitted.columns:
                return f"has no value: {fitted.step.field} is missing, so it cannot be encoded"
        return "is missing, and no imputation fills it"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the pipeline's document, what each step learnt, and the columns."""
        return {
            "format": FORMAT,
            "pipeline": self.pipeline.to_document(),
            "fitted": [None if f is None else f.to_json() for f in self.fitted],
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> FittedPipeline:
        if document.get("format") != FORMAT:
            raise InvalidCommand("format", f"is not {FORMAT}")
        pipeline = FeaturePipeline.from_document(document.get("pipeline"))
        stored = document.get("fitted")
        if not isinstance(stored, list) or len(stored) != len(pipeline.steps):
            raise InvalidCommand("fitted", "must hold one entry per transformation")
        try:
            fitted = tuple(
                _restore(step, s) for step, s in zip(pipeline.steps, stored, strict=True)
            )
        except (KeyError, TypeError, ValueError) as broken:
            raise InvalidCommand("fitted", f"is not what fitting stores: {broken!r}") from None
        restored = assemble(pipeline, fitted)
        if list(restored.feature_names) != document.get("feature_names"):
            raise InvalidCommand("feature_names", "do not follow from the pipeline as fitted")
        return restored


def _restore(step: Step, stored: Any) -> FittedStep | None:
    if isinstance(step, Imputation):
        return FittedImputation.from_json(step, stored)
    if isinstance(step, Scaling):
        return FittedScaling.from_json(step, stored)
    if isinstance(step, Encoding):
        return FittedEncoding.from_json(step, stored)
    return None


def fit(pipeline: FeaturePipeline, rows: Iterable[Mapping[str, Any]]) -> FittedPipeline:
    """Learns each step's parameters from the training rows (records with their window and time
    features merged in), step after step; InvalidCommand names a step with nothing to learn."""
    working = [dict(row) for row in rows]
    fitted: list[FittedStep | None] = []
    for n, step in enumerate(pipeline.steps):
        path = f"transformations[{n}]"
        learnt: FittedStep | None = None
        if isinstance(step, Imputation):
            learnt = FittedImputation.fit(path, step, working)
        elif isinstance(step, Scaling):
            learnt = FittedScaling.fit(path, step, working)
        elif isinstance(step, Encoding):
            learnt = FittedEncoding.fit(path, step, working)
        if learnt is not None:
            for row in working:
                learnt.apply(row)
        fitted.append(learnt)
    return assemble(pipeline, tuple(fitted))


def assemble(pipeline: FeaturePipeline, fitted: tuple[FittedStep | None, ...]) -> FittedPipeline:
    """The fitted pipeline with its columns: the document's `features`, or by default every
    numeric column the steps produce, in step order."""
    produced: dict[str, None] = {}
    for step, learnt in zip(pipeline.steps, fitted, strict=True):
        if isinstance(step, Imputation) and isinstance(step.value, str):
            continue  # a text fill is for a category, which an encoding turns to numbers
        if isinstance(step, Encoding):
            produced.pop(step.field, None)
        names = learnt.columns if isinstance(learnt, FittedEncoding) else step.outputs()
        produced.update(dict.fromkeys(names))
    if pipeline.features is None:
        return FittedPipeline(pipeline, fitted, tuple(produced))
    columns = {c for f in fitted if isinstance(f, FittedEncoding) for c in f.columns}
    for k, name in enumerate(pipeline.features):
        field, equals, _ = name.partition("=")
        one_hot = any(
            isinstance(s, Encoding) and s.method is EncodingMethod.ONE_HOT and s.field == field
            for s in pipeline.steps
        )
        if equals and one_hot and name not in columns:
            raise InvalidCommand(
                f"features[{k}]", f"{name} is not a column: its category was not learnt"
            )
    return FittedPipeline(pipeline, fitted, pipeline.features)
