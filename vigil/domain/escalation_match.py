"""Which alerts an escalation policy watches: severity, score, model line, source, and conditions
on the alert's record (the amount is a record field: `{field: TX_AMOUNT, above: 5000}`) and on
its entity's context. Read from the policy document's `match`, every refusal naming its field
path (`match.record[0].above`); what the document leaves out does not narrow.

Conditions test with words (`at_least`, `in`), not `>=`, which YAML would take for a block
scalar. A missing field, or a value of another kind than the test's (text against a number,
`true` against 1), matches nothing, so a condition never matches by accident.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vigil.domain.alert import Alert, Severity
from vigil.domain.errors import InvalidCommand
from vigil.domain.model_line import line_name
from vigil.domain.source_contract import source_name

MAX_VALUES = 1000
_KEYS = frozenset({"severity", "score", "model_lines", "sources", "record", "entity"})


class Comparison(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    ABOVE = "above"
    AT_LEAST = "at_least"
    BELOW = "below"
    AT_MOST = "at_most"


_ORDER: Mapping[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.ABOVE: operator.gt,
    Comparison.AT_LEAST: operator.ge,
    Comparison.BELOW: operator.lt,
    Comparison.AT_MOST: operator.le,
}
_MEMBERSHIP = frozenset({Comparison.IN, Comparison.NOT_IN})


@dataclass(frozen=True)
class Condition:
    """Tests on one field; all of them must hold."""

    field: str
    tests: tuple[tuple[Comparison, Any], ...]

    def holds(self, values: Mapping[str, Any]) -> bool:
        value = values.get(self.field)
        return value is not None and all(_test(op, want, value) for op, want in self.tests)

    def to_document(self) -> dict[str, Any]:
        tests = {str(op): list(v) if op in _MEMBERSHIP else v for op, v in self.tests}
        return {"field": self.field, **tests}


@dataclass(frozen=True)
class PolicyMatch:
    severities: tuple[Severity, ...] = ()
    score_at_least: float | None = None
    score_at_most: float | None = None
    model_lines: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    record: tuple[Condition, ...] = ()
    entity: tuple[Condition, ...] = ()
    """On the entity's context the alert carries (its windows' counts, means and maxima)."""

    def matches(self, alert: Alert) -> bool:
        return (
            (not self.severities or alert.severity in self.severities)
            and (self.score_at_least is None or alert.score >= self.score_at_least)
            and (self.score_at_most is None or alert.score <= self.score_at_most)
            and (not self.model_lines or alert.model_line in self.model_lines)
            and (not self.sources or alert.source in self.sources)
            and all(condition.holds(alert.record) for condition in self.record)
            and all(condition.holds(alert.entity_context) for condition in self.entity)
        )

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.severities:
            lowest = self.severities[0]
            document["severity"] = (
                {"at_least": str(lowest)}
                if self.severities == _at_least(lowest)
                else [str(s) for s in self.severities]
            )
        score = {"at_least": self.score_at_least, "at_most": self.score_at_most}
        if any(v is not None for v in score.values()):
            document["score"] = {k: v for k, v in score.items() if v is not None}
        if self.model_lines:
            document["model_lines"] = list(self.model_lines)
        if self.sources:
            document["sources"] = list(self.sources)
        if self.record:
            document["record"] = [c.to_document() for c in self.record]
        if self.entity:
            document["entity"] = [c.to_document() for c in self.entity]
        return document

    @classmethod
    def from_document(cls, value: object) -> PolicyMatch:
        body = mapping_at("match", value)
        known_keys("match.", body, _KEYS)
        at_least, at_most = _score(body.get("score", {}))
        return cls(
            severities=_severities(body.get("severity", [])),
            score_at_least=at_least,
            score_at_most=at_most,
            model_lines=distinct("match.model_lines", body.get("model_lines", []), line_name),
            sources=distinct("match.sources", body.get("sources", []), source_name),
            record=_conditions("match.record", body.get("record", [])),
            entity=_conditions("match.entity", body.get("entity", [])),
        )


# Document checks the policy's other parts share ---------------------------------------------


def mapping_at(field: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidCommand(field, "must be a mapping of keys to values")
    return value


def list_at(field: str, value: object) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidCommand(field, "must be a list")
    return value


def known_keys(prefix: str, mapping: Mapping[Any, Any], known: frozenset[str]) -> None:
    for key in mapping:
        if key not in known:
            allowed = ", ".join(sorted(known))
            raise InvalidCommand(f"{prefix}{key}", f"is not a known key (known: {allowed})")


def distinct(field: str, value: object, check: Callable[[str, Any], str]) -> tuple[str, ...]:
    """The list's names, each checked as `field[i]`, none listed twice."""
    names = tuple(check(f"{field}[{i}]", v) for i, v in enumerate(list_at(field, value)))
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise InvalidCommand(f"{field}[{index}]", f"{name!r} is listed twice")
    return names


# The match's own parts ------------------------------------------------------------------------


def _severities(value: object) -> tuple[Severity, ...]:
    if isinstance(value, Mapping):
        known_keys("match.severity.", value, frozenset({"at_least"}))
        chosen = _at_least(_severity("match.severity.at_least", value.get("at_least")))
    elif isinstance(value, list):
        named = {_severity(f"match.severity[{i}]", v) for i, v in enumerate(value)}
        chosen = tuple(s for s in Severity if s in named)
    else:
        raise InvalidCommand("match.severity", "list severities, or write {at_least: high}")
    return () if chosen == tuple(Severity) else chosen


def _at_least(lowest: Severity) -> tuple[Severity, ...]:
    order = list(Severity)
    return tuple(order[order.index(lowest) :])


def _severity(field: str, value: object) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        allowed = ", ".join(str(s) for s in Severity)
        raise InvalidCommand(field, f"{value!r} is not one of {allowed}") from None


def _score(value: object) -> tuple[float | None, float | None]:
    body = mapping_at("match.score", value)
    known_keys("match.score.", body, frozenset({"at_least", "at_most"}))
    low, high = body.get("at_least"), body.get("at_most")
    low = None if low is None else _number("match.score.at_least", low)
    high = None if high is None else _number("match.score.at_most", high)
    if low is not None and high is not None and low > high:
        raise InvalidCommand("match.score.at_most", f"must not be below at_least ({low})")
    return low, high


def _conditions(field: str, value: object) -> tuple[Condition, ...]:
    return tuple(_condition(f"{field}[{i}]", v) for i, v in enumerate(list_at(field, value)))


def _condition(at: str, value: object) -> Condition:
    body = mapping_at(at, value)
    known_keys(f"{at}.", body, frozenset({"field"} | {str(c) for c in Comparison}))
    name = body.get("field")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise InvalidCommand(f"{at}.field", "must name a field (1-128 characters)")
    tests = tuple(
        (op, _operand(f"{at}.{op}", op, body[str(op)])) for op in Comparison if str(op) in body
    )
    if not tests:
        ops = ", ".join(str(c) for c in Comparison)
        raise InvalidCommand(at, f"test the field with at least one of {ops}")
    return Condition(name.strip(), tests)


def _operand(field: str, op: Comparison, value: object) -> Any:
    if op in _ORDER:
        return _number(field, value)
    if op in _MEMBERSHIP:
        items = list_at(field, value)
        if not 1 <= len(items) <= MAX_VALUES:
            raise InvalidCommand(field, f"list 1 to {MAX_VALUES} values")
        return tuple(_scalar(f"{field}[{i}]", v) for i, v in enumerate(items))
    return _scalar(field, value)


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidCommand(field, f"{value!r} is not a number")
    return value


def _scalar(field: str, value: object) -> str | int | float | bool:
    if isinstance(value, str | bool | int | float):
        return value
    raise InvalidCommand(field, f"{value!r} is not text, a number or true/false")


def _test(op: Comparison, want: Any, value: object) -> bool:
    if op in _ORDER:
        numeric = not isinstance(value, bool) and isinstance(value, int | float)
        return numeric and _ORDER[op](value, want)
    wanted = want if isinstance(want, tuple) else (want,)
    if _kind(value) not in {_kind(w) for w in wanted}:
        return False
    found = any(_kind(w) == _kind(value) and w == value for w in wanted)
    return found if op in (Comparison.EQUALS, Comparison.IN) else not found


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "text" if isinstance(value, str) else "other"
