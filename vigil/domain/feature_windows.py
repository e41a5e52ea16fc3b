"""Time windows of feature pipelines: how a window is written (`30s`, `15m`, `1h`, `7d`), and the
arithmetic of its aggregates.

The arithmetic here is the one definition every window store follows: the in-process store calls
it, and the Redis store's Lua script repeats it step for step (values in ascending event time,
then record id; plain left-to-right sums; two-pass population std), so a feature computed
offline for training equals the one computed online to the last bit on IEEE doubles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vigil.domain.errors import InvalidCommand

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
WINDOW_TEXT = re.compile(r"([1-9][0-9]{0,7})([smhd])")
LONGEST_WINDOW = 366 * 86_400
"""A year and a day: a history is kept for twice its widest window, so this bounds memory."""


@dataclass(frozen=True)
class Window:
    """A window as the document writes it (`7d`, which also names its features) and its length."""

    text: str
    seconds: float


def parse_window(field: str, value: object) -> Window:
    if not isinstance(value, str) or not (match := WINDOW_TEXT.fullmatch(value.strip())):
        raise InvalidCommand(
            field,
            f"{value!r} is not a window: write a whole number and a unit, as 30s, 15m, 1h, 7d",
        )
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds > LONGEST_WINDOW:
        raise InvalidCommand(field, f"{value} is longer than the longest window, 366d")
    return Window(match.group(0), float(seconds))


class Aggregation(StrEnum):
    """What a window says about its records: count counts records, the others read a field."""

    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    STD = "std"
    MIN = "min"
    MAX = "max"


AGGREGATION_CODES = {
    Aggregation.COUNT: 0,
    Aggregation.SUM: 1,
    Aggregation.MEAN: 2,
    Aggregation.STD: 3,
    Aggregation.MIN: 4,
    Aggregation.MAX: 5,
}
"""How the Redis store's script is told which aggregate to compute."""


class LabelAggregation(StrEnum):
    """What a delayed window says about the labels of its records: count counts the records,
    fraud_rate is the share of them labelled fraud (0 for an empty window); a record whose label
    is not known counts as genuine, as the handbook treats unlabelled transactions."""

    COUNT = "count"
    FRAUD_RATE = "fraud_rate"


LABEL_AGGREGATION_CODES = {LabelAggregation.COUNT: 0, LabelAggregation.FRAUD_RATE: 1}


def fraud_rate(frauds: int, count: int) -> float:
    """One division of two whole numbers, so every store gets the same double."""
    return frauds / count if count else 0.0


def numeric(value: object) -> float | None:
    """A record value as a window aggregates it: an int or a finite float; anything else, a
    numeric string included, is missing. Records arrive typed by their source's schema."""
    kind = type(value)
    if kind is float:  # the common cases first: this runs for every field of every record
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def value_text(value: object) -> str | None:
    """An entity or a category as text: 596, 596.0 and "596" are one customer.
    None, an empty string, NaN or a non-scalar value is no entity and no category."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def aggregate(aggregation: Aggregation, values: Sequence[float]) -> float | None:
    """The aggregate of a window's numeric values, oldest first; None when there are none."""
    if aggregation is Aggregation.COUNT:
        return float(len(values))
    if not values:
        return None
    if aggregation is Aggregation.MIN:
        return min(values)
    if aggregation is Aggregation.MAX:
        return max(values)
    total = 0.0
    for value in values:  # left to right, as the Lua script sums: never sum() or fsum()
        total += value
    if aggregation is Aggregation.SUM:
        return total
    mean = total / len(values)
    if aggregation is Aggregation.MEAN:
        return mean
    squares = 0.0
    for value in values:
        squares += (value - mean) * (value - mean)
    return math.sqrt(squares / len(values))
