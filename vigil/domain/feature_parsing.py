"""Reading the transformations of a feature pipeline document, each refusal naming its path
(`transformations[2].windows[1]`). Whether the fields they name exist is the pipeline's to check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_steps import (
    MAX_CATEGORIES,
    Encoding,
    EncodingMethod,
    Imputation,
    ImputationStrategy,
    LabelWindowAggregation,
    Scaling,
    ScalingMethod,
    Step,
    TimeFeatures,
    TimeFlag,
    WindowAggregation,
)
from vigil.domain.feature_windows import (
    LONGEST_WINDOW,
    Aggregation,
    LabelAggregation,
    Window,
    parse_window,
)

E = TypeVar("E", bound=StrEnum)

_KEYS = {
    "time_window_aggregation": {
        "type",
        "entity_key",
        "field",
        "windows",
        "aggregations",
        "time_since_last",
    },
    "label_window_aggregation": {"type", "entity_key", "windows", "delay", "aggregations"},
    "time_features": {"type", "flags", "night_hours"},
    "imputation": {"type", "strategy", "fields", "value"},
    "scaling": {"type", "method", "fields"},
    "encoding": {"type", "method", "field", "max_categories"},
}


def parse_step(path: str, document: object) -> Step:
    """One transformation, or InvalidCommand naming the key of `path` at fault."""
    if not isinstance(document, Mapping):
        raise InvalidCommand(path, "a transformation is a mapping with a `type`")
    kind = document.get("type")
    if kind not in _KEYS:
        raise InvalidCommand(f"{path}.type", f"{kind!r} is not one of {', '.join(_KEYS)}")
    known_keys(path, document, _KEYS[kind])
    if kind == "time_window_aggregation":
        return _window_aggregation(path, document)
    if kind == "label_window_aggregation":
        return _label_window_aggregation(path, document)
    if kind == "time_features":
        return _time_features(path, document)
    if kind == "imputation":
        return _imputation(path, document)
    if kind == "scaling":
        method = _choice(f"{path}.method", document.get("method"), ScalingMethod)
        return Scaling(method, _names(path, document, "fields"))
    return _encoding(path, document)


def _windows(path: str, document: Mapping[str, Any]) -> tuple[Window, ...]:
    windows = tuple(
        parse_window(f"{path}.windows[{n}]", w) for n, w in _items(path, document, "windows")
    )
    for n, window in enumerate(windows):
        twin = next((w for w in windows[:n] if w.seconds == window.seconds), None)
        if twin is not None:
            raise InvalidCommand(f"{path}.windows[{n}]", f"{window.text} is as long as {twin.text}")
    return windows


def _label_window_aggregation(path: str, document: Mapping[str, Any]) -> LabelWindowAggregation:
    entity_key = field_name(f"{path}.entity_key", document.get("entity_key"))
    windows = _windows(path, document)
    if "delay" not in document:
        raise InvalidCommand(f"{path}.delay", "is required: how long a label takes to be known")
    delay = parse_window(f"{path}.delay", document["delay"])
    for n, window in enumerate(windows):
        if delay.seconds + window.seconds > LONGEST_WINDOW:
            raise InvalidCommand(
                f"{path}.windows[{n}]",
                f"{window.text} after a delay of {delay.text} reaches back further than 366d",
            )
    aggregations = tuple(
        _choice(f"{path}.aggregations[{n}]", a, LabelAggregation)
        for n, a in _items(path, document, "aggregations")
    )
    _distinct(f"{path}.aggregations", aggregations)
    return LabelWindowAggregation(entity_key, windows, delay, aggregations)


def _window_aggregation(path: str, document: Mapping[str, Any]) -> WindowAggregation:
    entity_key = field_name(f"{path}.entity_key", document.get("entity_key"))
    windows = _windows(path, document)
    since_last = document.get("time_since_last", False)
    if not isinstance(since_last, bool):
        raise InvalidCommand(f"{path}.time_since_last", "must be true or false")
    aggregations: tuple[Aggregation, ...] = ()
    if "aggregations" in document or not since_last:  # time since last needs no aggregate
        aggregations = tuple(
            _choice(f"{path}.aggregations[{n}]", a, Aggregation)
            for n, a in _items(path, document, "aggregations", allow_empty=since_last)
        )
    _distinct(f"{path}.aggregations", aggregations)
    reading = [a for a in aggregations if a is not Aggregation.COUNT]
    field = document.get("field")
    if field is None and reading:
        raise InvalidCommand(f"{path}.field", f"is required: {reading[0]} reads a numeric field")
    if field is not None and not reading:
        raise InvalidCommand(f"{path}.field", "is read by no aggregation: count counts records")
    return WindowAggregation(
        entity_key,
        None if field is None else field_name(f"{path}.field", field),
        windows,
        aggregations,
        since_last,
    )


def _time_features(path: str, document: Mapping[str, Any]) -> TimeFeatures:
    flags = tuple(
        _choice(f"{path}.flags[{n}]", f, TimeFlag) for n, f in _items(path, document, "flags")
    )
    _distinct(f"{path}.flags", flags)
    if "night_hours" not in document:
        return TimeFeatures(flags)
    if TimeFlag.NIGHT not in flags:
        raise InvalidCommand(f"{path}.night_hours", "is read by no flag: add night to flags")
    return TimeFeatures(flags, _night_hours(f"{path}.night_hours", document["night_hours"]))


def _night_hours(path: str, value: object) -> tuple[int, int]:
    """[first hour, hour that ends the night]: whole hours in UTC, wrapping past midnight."""
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidCommand(path, "must be [from, to]: the night's first hour and its end")
    for n, (hour, low, high) in enumerate(zip(value, (0, 1), (23, 24), strict=True)):
        if isinstance(hour, bool) or not isinstance(hour, int) or not low <= hour <= high:
            raise InvalidCommand(f"{path}[{n}]", f"must be a whole hour, {low} to {high}")
    start, end = value
    if start == end % 24:
        raise InvalidCommand(path, f"[{start}, {end}] would make every hour or no hour night")
    return start, end


def _imputation(path: str, document: Mapping[str, Any]) -> Imputation:
    strategy = _choice(f"{path}.strategy", document.get("strategy"), ImputationStrategy)
    fields = _names(path, document, "fields")
    value = document.get("value")
    if strategy is ImputationStrategy.CONSTANT:
        if value is None:
            raise InvalidCommand(f"{path}.value", "is required by the constant strategy")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidCommand(f"{path}.value", "must be a number or a text")
        if isinstance(value, float) and value != value:  # NaN would fill a gap with a gap
            raise InvalidCommand(f"{path}.value", "must not be NaN")
        return Imputation(strategy, fields, float(value) if isinstance(value, int) else value)
    if value is not None:
        raise InvalidCommand(f"{path}.value", f"is learnt by the {strategy} strategy: remove it")
    return Imputation(strategy, fields)


def _encoding(path: str, document: Mapping[str, Any]) -> Encoding:
    method = _choice(f"{path}.method", document.get("method"), EncodingMethod)
    limit = document.get("max_categories", 20)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CATEGORIES:
        raise InvalidCommand(
            f"{path}.max_categories", f"must be a whole number, 1 to {MAX_CATEGORIES}"
        )
    return Encoding(method, field_name(f"{path}.field", document.get("field")), limit)


def known_keys(path: str, document: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    for key in document:
        if key not in allowed:
            prefix = f"{path}." if path else ""
            raise InvalidCommand(
                f"{prefix}{key}", f"is not a key here: use {', '.join(sorted(allowed))}"
            )


def field_name(path: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(path, "must name a field")
    return value.strip()


def _items(
    path: str, document: Mapping[str, Any], key: str, allow_empty: bool = False
) -> list[tuple[int, object]]:
    value = document.get(key)
    if not isinstance(value, list) or not (value or allow_empty):
        raise InvalidCommand(f"{path}.{key}", "must be a list of at least one item")
    return list(enumerate(value))


def _names(path: str, document: Mapping[str, Any], key: str) -> tuple[str, ...]:
    names = tuple(field_name(f"{path}.{key}[{n}]", v) for n, v in _items(path, document, key))
    _distinct(f"{path}.{key}", names)
    return names


def _distinct(path: str, values: Sequence[object]) -> None:
    for n, value in enumerate(values):
        if value in values[:n]:
            raise InvalidCommand(f"{path}[{n}]", f"{value} is listed twice")


def _choice(path: str, value: object, choices: type[E]) -> E:
    for choice in choices:
        if value == choice.value:
            return choice
    names = ", ".join(c.value for c in choices)
    raise InvalidCommand(path, f"{value!r} is not one of {names}")
