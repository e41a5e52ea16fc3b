"""The transformations of a feature pipeline, each parsed from its part of the document.

Names of the features they produce (used as the model's column names, so they are part of the
stored schema):

- time_window_aggregation: `<entity_key>_count_<window>`, `<entity_key>_<field>_<agg>_<window>`
  for sum, mean, std, min and max, and `<entity_key>_time_since_last`; the window as written,
  e.g. `CUSTOMER_ID_TX_AMOUNT_mean_7d`.
- label_window_aggregation: `<entity_key>_count_<window>_delayed_<delay>` and
  `<entity_key>_fraud_rate_<window>_delayed_<delay>`, e.g. `TERMINAL_ID_fraud_rate_7d_delayed_7d`.
- time_features: `event_is_weekend` and `event_is_night` (1.0 or 0.0) and `event_hour` (0-23),
  from the record's event time in UTC; night is before 06:00 unless `night_hours` says otherwise.
- imputation and scaling: the field itself, replaced.
- encoding: one_hot makes `<field>=<category>` per learnt category and `<field>=__other__` for
  the rest; ordinal makes `<field>_code`, 0..n-1 by learnt category, n for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from vigil.domain.feature_windows import Aggregation, LabelAggregation, Window

OTHER = "__other__"
MAX_CATEGORIES = 1000


class TimeFlag(StrEnum):
    WEEKEND = "weekend"
    NIGHT = "night"
    HOUR = "hour"


TIME_FEATURE_NAMES = {
    TimeFlag.WEEKEND: "event_is_weekend",
    TimeFlag.NIGHT: "event_is_night",
    TimeFlag.HOUR: "event_hour",
}


@dataclass(frozen=True)
class WindowAggregation:
    """Aggregates of an entity's records over windows ending at each record's event time."""

    entity_key: str
    field: str | None
    windows: tuple[Window, ...]
    aggregations: tuple[Aggregation, ...]
    time_since_last: bool = False

    def feature_name(self, aggregation: Aggregation, window: Window) -> str:
        if aggregation is Aggregation.COUNT:
            return f"{self.entity_key}_count_{window.text}"
        return f"{self.entity_key}_{self.field}_{aggregation}_{window.text}"

    @property
    def time_since_last_name(self) -> str:
        return f"{self.entity_key}_time_since_last"

    def outputs(self) -> tuple[str, ...]:
        names = [self.feature_name(a, w) for a in self.aggregations for w in self.windows]
        return (*names, self.time_since_last_name) if self.time_since_last else tuple(names)

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": "time_window_aggregation",
            "entity_key": self.entity_key,
        }
        if self.field is not None:
            document["field"] = self.field
        document["windows"] = [w.text for w in self.windows]
        document["aggregations"] = [str(a) for a in self.aggregations]
        document["time_since_last"] = self.time_since_last
        return document


@dataclass(frozen=True)
class LabelWindowAggregation:
    """How many of an entity's records, and what share of them labelled fraud, lie in windows
    that end a delay before each record's event time: (t - delay - window, t - delay].

    The delay stands for the time a label takes to become known (the handbook's terminal risk:
    7 days), so a record never reads a label that would not have been known when it arrived.
    """

    entity_key: str
    windows: tuple[Window, ...]
    delay: Window
    aggregations: tuple[LabelAggregation, ...]

    def feature_name(self, aggregation: LabelAggregation, window: Window) -> str:
        return f"{self.entity_key}_{aggregation}_{window.text}_delayed_{self.delay.text}"

    def outputs(self) -> tuple[str, ...]:
        return tuple(self.feature_name(a, w) for a in self.aggregations for w in self.windows)

    def to_document(self) -> dict[str, Any]:
        return {
            "type": "label_window_aggregation",
            "entity_key": self.entity_key,
            "windows": [w.text for w in self.windows],
            "delay": self.delay.text,
            "aggregations": [str(a) for a in self.aggregations],
        }


NIGHT_HOURS = (0, 6)
"""The night when a pipeline does not say: 00:00 to 05:59."""


@dataclass(frozen=True)
class TimeFeatures:
    """Flags of the record's own event time (UTC)."""

    flags: tuple[TimeFlag, ...]
    night_hours: tuple[int, int] = NIGHT_HOURS
    """The night's first hour and the hour that ends it, in UTC: (0, 7) is 00:00 to 06:59, as
    the Fraud Detection Handbook's hour <= 6; (22, 6) runs past midnight."""

    def outputs(self) -> tuple[str, ...]:
        return tuple(TIME_FEATURE_NAMES[f] for f in self.flags)

    def compute(self, at: float) -> dict[str, float]:
        # UTC has no leap seconds in epoch time: the day and hour are plain arithmetic, far
        # cheaper than a datetime per record. 1970-01-01 was a Thursday (weekday 3).
        days, seconds = divmod(at, 86_400.0)
        hour = int(seconds // 3_600.0)
        weekend = 1.0 if (int(days) + 3) % 7 >= 5 else 0.0
        values = (weekend, self._night_by_hour[hour], float(hour))
        return {name: values[k] for name, k in self._wanted}

    @cached_property
    def _night_by_hour(self) -> tuple[float, ...]:
        start, end = self.night_hours
        if start < end:
            return tuple(1.0 if start <= h < end else 0.0 for h in range(24))
        return tuple(1.0 if h >= start or h < end else 0.0 for h in range(24))

    @cached_property
    def _wanted(self) -> tuple[tuple[str, int], ...]:
        """Each flag's feature name and its place in what `compute` works out."""
        order = (TimeFlag.WEEKEND, TimeFlag.NIGHT, TimeFlag.HOUR)
        return tuple((TIME_FEATURE_NAMES[f], order.index(f)) for f in self.flags)

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"type": "time_features", "flags": [str(f) for f in self.flags]}
        # Left out at the default, so the documents stored before the key existed read the same.
        if self.night_hours != NIGHT_HOURS:
            document["night_hours"] = list(self.night_hours)
        return document


class ImputationStrategy(StrEnum):
    MEAN = "mean"
    MEDIAN = "median"
    CONSTANT = "constant"


@dataclass(frozen=True)
class Imputation:
    """Fills a missing value (absent, None or NaN) with a learnt mean or median, or a constant."""

    strategy: ImputationStrategy
    fields: tuple[str, ...]
    value: float | str | None = None

    def outputs(self) -> tuple[str, ...]:
        return self.fields

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": "imputation",
            "strategy": str(self.strategy),
            "fields": list(self.fields),
        }
        if self.value is not None:
            document["value"] = self.value
        return document


class ScalingMethod(StrEnum):
    STANDARD = "standard"
    MINMAX = "minmax"
    ROBUST = "robust"


@dataclass(frozen=True)
class Scaling:
    """standard: (x - mean) / std; minmax: (x - min) / (max - min); robust: (x - median) / IQR."""

    method: ScalingMethod
    fields: tuple[str, ...]

    def outputs(self) -> tuple[str, ...]:
        return self.fields

    def to_document(self) -> dict[str, Any]:
        return {"type": "scaling", "method": str(self.method), "fields": list(self.fields)}


class EncodingMethod(StrEnum):
    ONE_HOT = "one_hot"
    ORDINAL = "ordinal"


@dataclass(frozen=True)
class Encoding:
    """A category field as numbers; the `max_categories` most frequent categories are learnt."""

    method: EncodingMethod
    field: str
    max_categories: int = 20

    def outputs(self) -> tuple[str, ...]:
        """The columns known before fitting: one-hot columns depend on the learnt categories."""
        return (self.code_name,) if self.method is EncodingMethod.ORDINAL else ()

    @property
    def code_name(self) -> str:
        return f"{self.field}_code"

    def column_name(self, category: str) -> str:
        return f"{self.field}={category}"

    def to_document(self) -> dict[str, Any]:
        return {
            "type": "encoding",
            "method": str(self.method),
            "field": self.field,
            "max_categories": self.max_categories,
        }


Step = WindowAggregation | LabelWindowAggregation | TimeFeatures | Imputation | Scaling | Encoding
