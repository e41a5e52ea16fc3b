"""A feature pipeline: how a source's records become a model's input columns.

The document is checked whole when read, and every refusal names the path at fault
(`transformations[2].fields[0]`, `features[3]`), so the YAML loader can point at the line.
Steps read top to bottom: imputation, scaling and encoding may only name a field of the source's
records or one an earlier step produces. Window aggregations (of fields or of labels) and time
features are computed from the record as it arrives (by the window store), so they read record
fields only.

When the source's record fields are not given, a name no step produces is taken to be one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_parsing import field_name, known_keys, parse_step
from vigil.domain.feature_steps import (
    Encoding,
    EncodingMethod,
    Imputation,
    ImputationStrategy,
    LabelWindowAggregation,
    Scaling,
    Step,
    TimeFeatures,
    WindowAggregation,
)

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_KEYS = frozenset({"name", "source", "description", "transformations", "features"})


@dataclass(frozen=True)
class FeaturePipeline:
    name: str
    source: str
    steps: tuple[Step, ...]
    features: tuple[str, ...] | None = None
    """The model's input columns in order; None: every numeric column the steps produce."""
    description: str = ""

    @cached_property
    def window_steps(self) -> tuple[WindowAggregation, ...]:
        return tuple(s for s in self.steps if isinstance(s, WindowAggregation))

    @cached_property
    def label_steps(self) -> tuple[LabelWindowAggregation, ...]:
        return tuple(s for s in self.steps if isinstance(s, LabelWindowAggregation))

    @cached_property
    def time_steps(self) -> tuple[TimeFeatures, ...]:
        return tuple(s for s in self.steps if isinstance(s, TimeFeatures))

    @cached_property
    def window_feature_names(self) -> tuple[str, ...]:
        """What the window store answers: the field windows' features, then the label ones'."""
        names = [name for step in self.window_steps for name in step.outputs()]
        return (*names, *(name for step in self.label_steps for name in step.outputs()))

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.description:
            document["description"] = self.description
        document["transformations"] = [step.to_document() for step in self.steps]
        if self.features is not None:
            document["features"] = list(self.features)
        return document

    @classmethod
    def from_document(
        cls, document: object, record_fields: Collection[str] | None = None
    ) -> FeaturePipeline:
        """The pipeline the document describes, or InvalidCommand naming the first fault.

        `record_fields` are the fields of the source's records (its schema's properties); with
        them, every name the document reads is checked against them too."""
        if not isinstance(document, Mapping):
            raise InvalidCommand("document", "a feature pipeline is a mapping of keys to values")
        known_keys("", document, _KEYS)
        transformations = document.get("transformations")
        if not isinstance(transformations, list) or not transformations:
            raise InvalidCommand("transformations", "must be a list of at least one transformation")
        steps = tuple(parse_step(f"transformations[{n}]", d) for n, d in enumerate(transformations))
        references = _References(steps, None if record_fields is None else frozenset(record_fields))
        references.check_steps()
        features = document.get("features")
        if features is not None:
            features = references.check_features(features)
        description = document.get("description", "")
        if not isinstance(description, str):
            raise InvalidCommand("description", "must be text")
        return cls(
            name=_name("name", document.get("name")),
            source=_name("source", document.get("source")),
            steps=steps,
            features=features,
            description=description.strip(),
        )


def _name(field: str, value: object) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value.strip()):
        raise InvalidCommand(field, f"{value!r} is not a name: use 1-64 of a-z, 0-9, '_' and '-'")
    return value.strip()


def introduced(step: Step, path: str) -> list[tuple[str, str]]:
    """The new names a step produces, each with the path of the key that asks for it."""
    if isinstance(step, WindowAggregation):
        named = [
            (step.feature_name(a, w), f"{path}.windows[{n}]")
            for a in step.aggregations
            for n, w in enumerate(step.windows)
        ]
        if step.time_since_last:
            named.append((step.time_since_last_name, f"{path}.time_since_last"))
        return named
    if isinstance(step, LabelWindowAggregation):
        return [
            (step.feature_name(a, w), f"{path}.windows[{n}]")
            for a in step.aggregations
            for n, w in enumerate(step.windows)
        ]
    if isinstance(step, TimeFeatures):
        return [(name, f"{path}.flags[{n}]") for n, name in enumerate(step.outputs())]
    if isinstance(step, Encoding) and step.method is EncodingMethod.ORDINAL:
        return [(step.code_name, f"{path}.field")]
    return []


def _read(step: Step, path: str) -> list[tuple[str, str]]:
    """The names a step reads, each with its path."""
    if isinstance(step, WindowAggregation):
        read = [(step.entity_key, f"{path}.entity_key")]
        return read + ([(step.field, f"{path}.field")] if step.field is not None else [])
    if isinstance(step, LabelWindowAggregation):
        return [(step.entity_key, f"{path}.entity_key")]
    if isinstance(step, Imputation | Scaling):
        return [(name, f"{path}.fields[{n}]") for n, name in enumerate(step.fields)]
    if isinstance(step, Encoding):
        return [(step.field, f"{path}.field")]
    return []


class _References:
    """Which step produces which name, and whether each name read is there to be read."""

    def __init__(self, steps: tuple[Step, ...], record_fields: frozenset[str] | None) -> None:
        self.steps = steps
        self.record_fields = record_fields
        self.producer: dict[str, int] = {}
        for n, step in enumerate(steps):
            for name, path in introduced(step, f"transformations[{n}]"):
                if name in self.producer:
                    first = self.producer[name]
                    raise InvalidCommand(
                        path, f"produces {name}, which transformations[{first}] produces already"
                    )
                if record_fields is not None and name in record_fields:
                    raise InvalidCommand(path, f"produces {name}, a field of the records already")
                self.producer[name] = n
        self.encoder: dict[str, int] = {}

    def check_steps(self) -> None:
        for n, step in enumerate(self.steps):
            for name, path in _read(step, f"transformations[{n}]"):
                if isinstance(step, WindowAggregation | LabelWindowAggregation):
                    self._record_field(name, path)
                else:
                    self._available(name, path, before=n)
            if isinstance(step, Encoding):
                if step.field in self.encoder:
                    first = self.encoder[step.field]
                    raise InvalidCommand(
                        f"transformations[{n}].field",
                        f"{step.field} is encoded by transformations[{first}] already",
                    )
                self.encoder[step.field] = n

    def check_features(self, features: object) -> tuple[str, ...]:
        if not isinstance(features, list) or not features:
            raise InvalidCommand("features", "must be a list of at least one feature")
        names: list[str] = []
        for k, value in enumerate(features):
            path = f"features[{k}]"
            name = field_name(path, value)
            if name in names:
                raise InvalidCommand(path, f"{name} is listed twice")
            names.append(name)
            if name in self.encoder:
                raise InvalidCommand(
                    path,
                    f"{name} is encoded by transformations[{self.encoder[name]}]: name its "
                    f"columns instead ({name}=<category> or {name}_code)",
                )
            if self._one_hot_column(name):
                continue  # its category is checked against the learnt ones when fitted
            if self._is_text(name):
                raise InvalidCommand(path, f"{name} is filled with a text, so it is no number")
            self._available(name, path, before=len(self.steps))
        return tuple(names)

    def _one_hot_column(self, name: str) -> bool:
        field, equals, _ = name.partition("=")
        step = self.steps[self.encoder[field]] if equals and field in self.encoder else None
        return isinstance(step, Encoding) and step.method is EncodingMethod.ONE_HOT

    def _is_text(self, name: str) -> bool:
        return any(
            isinstance(s, Imputation)
            and s.strategy is ImputationStrategy.CONSTANT
            and isinstance(s.value, str)
            and name in s.fields
            for s in self.steps
        )

    def _record_field(self, name: str, path: str) -> None:
        if name in self.producer:
            raise InvalidCommand(
                path,
                f"{name} is produced by transformations[{self.producer[name]}]: windows "
                "aggregate the fields of records as they arrive",
            )
        if self.record_fields is not None and name not in self.record_fields:
            raise InvalidCommand(path, f"{name} is not a field of the source's records")

    def _available(self, name: str, path: str, before: int) -> None:
        if name in self.producer:
            if self.producer[name] < before:
                return
            raise InvalidCommand(
                path,
                f"{name} is produced by transformations[{self.producer[name]}], "
                "which comes after this step",
            )
        if self.record_fields is not None and name not in self.record_fields:
            raise InvalidCommand(
                path, f"{name} is neither a field of the source's records nor produced by a step"
            )
