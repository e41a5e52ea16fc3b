"""The RuleSet aggregate: a source's detection rules as numbered versions that never change.

A version is drafted once, whole; changing a rule means drafting the next version. Each version
then moves through stages: a draft may go into shadow (kept beside the deciding version to be
compared with it, deciding nothing) or be published; publishing makes it the one version that
decides and retires the version it replaces in the same event, so two versions never decide at
once. A retired version stays retired: to bring its rules back, draft a copy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.alert import Severity
from vigil.domain.errors import (
    IllegalRuleStage,
    InvalidCommand,
    RuleVersionIsRetired,
    RuleVersionNotFound,
)
from vigil.domain.rule_syntax import parse
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text, required_text

RULE_SET_NAMESPACE = UUID("3e8b5f1a-7c2d-5a9e-b4f6-1d0c9e8a7b6c")

MAX_RULES = 200
_RULE_NAME = re.compile(r"[a-z0-9_-]{1,64}")
E = TypeVar("E", bound=StrEnum)


class RuleAction(StrEnum):
    """What a firing rule does to the decision: raise an alert, suppress one, or grade it."""

    RAISE = "raise"
    SUPPRESS = "suppress"
    GRADE = "grade"


class Stage(StrEnum):
    DRAFT = "draft"
    SHADOW = "shadow"
    PUBLISHED = "published"
    RETIRED = "retired"


def rule_set_id(tenant_id: str, source: str) -> UUID:
    """One rule set per (tenant, source); the source as stored, without surrounding spaces."""
    return uuid5(RULE_SET_NAMESPACE, f"{tenant_id}\x1f{source.strip()}")


def rule_name(field: str, value: str) -> str:
    """A rule's name as stored: 1-64 of a-z, 0-9, '_' and '-'; queues and alerts refer to it."""
    name = value.strip()
    if not _RULE_NAME.fullmatch(name):
        raise InvalidCommand(field, f"{name!r} is not a rule name: use 1-64 of a-z, 0-9, '_', '-'")
    return name


@dataclass(frozen=True)
class Rule:
    """One detection rule; raise and grade rules give a severity, suppress rules none."""

    name: str
    expression: str
    action: RuleAction
    severity: Severity | None = None
    description: str = ""

    def checked(self, index: int) -> Rule:
        """The rule normalised, or InvalidCommand naming `rules[index].<field>`."""
        at = f"rules[{index}]"
        name = rule_name(f"{at}.name", self.name)
        expression = self.expression.strip()
        parse(expression, f"{at}.expression")
        action = _member(RuleAction, f"{at}.action", self.action)
        severity = (
            None if self.severity is None else _member(Severity, f"{at}.severity", self.severity)
        )
        if action is RuleAction.SUPPRESS and severity is not None:
            raise InvalidCommand(f"{at}.severity", "a suppress rule gives no severity")
        if action is not RuleAction.SUPPRESS and severity is None:
            raise InvalidCommand(
                f"{at}.severity", f"a {action} rule needs medium, high or critical"
            )
        description = bounded_text(f"{at}.description", self.description)
        return Rule(name, expression, action, severity, description)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "expression": self.expression,
            "action": str(self.action),
            "severity": None if self.severity is None else str(self.severity),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Rule:
        severity = values.get("severity")
        return cls(
            name=values["name"],
            expression=values["expression"],
            action=RuleAction(values["action"]),
            severity=None if severity is None else Severity(severity),
            description=values.get("description", ""),
        )


def _member(enum: type[E], field: str, value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(member) for member in enum)
        raise InvalidCommand(field, f"{value!r} is not one of {allowed}") from None


def checked_rules(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """A version's rules, each checked, 1 to MAX_RULES of them, with names unique."""
    if not 1 <= len(rules) <= MAX_RULES:
        raise InvalidCommand("rules", f"a version holds 1 to {MAX_RULES} rules, not {len(rules)}")
    checked = tuple(rule.checked(index) for index, rule in enumerate(rules))
    first_with: dict[str, int] = {}
    for index, rule in enumerate(checked):
        if rule.name in first_with:
            earlier = first_with[rule.name]
            raise InvalidCommand(f"rules[{index}].name", f"rules[{earlier}] is named {rule.name}")
        first_with[rule.name] = index
    return checked


@dataclass(frozen=True)
class RuleVersion:
    number: int
    rules: tuple[Rule, ...]
    note: str
    drafted_by: str
    drafted_at: datetime
    stage: Stage = Stage.DRAFT


class RuleSet(Aggregate):
    """A source's detection rules; only the published version decides, shadows are compared."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Started(Event, Aggregate.Created):
        source: str

    def __init__(self, tenant_id: str, actor: str, source: str) -> None:
        self.tenant_id = tenant_id
        self.source = source
        self.started_by = actor
        self.versions: dict[int, RuleVersion] = {}

    @classmethod
    def start(
        cls,
        tenant_id: str,
        actor: str,
        at: datetime,
        source: str,
        rules: Sequence[Rule],
        note: str = "",
    ) -> RuleSet:
        """A source's rule set with its first version drafted."""
        tenant_id, source = required_text("tenant_id", tenant_id), required_text("source", source)
        checked, note = checked_rules(rules), bounded_text("note", note)
        rule_set = cls._create(
            cls.Started,
            id=rule_set_id(tenant_id, source),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            source=source,
        )
        rule_set._draft(actor, at, checked, note)
        return rule_set

    @property
    def published(self) -> RuleVersion | None:
        """The version that decides, if any."""
        return next((v for v in self.versions.values() if v.stage is Stage.PUBLISHED), None)

    @property
    def shadows(self) -> tuple[RuleVersion, ...]:
        return tuple(v for v in self.versions.values() if v.stage is Stage.SHADOW)

    @property
    def latest(self) -> RuleVersion:
        return self.versions[max(self.versions)]

    def rule_version(self, number: int) -> RuleVersion:
        """The version numbered so, or RuleVersionNotFound."""
        if number not in self.versions:
            raise RuleVersionNotFound(number)
        return self.versions[number]

    # Invariants -------------------------------------------------------------------------------

    def check_not_retired(self, version: RuleVersion, wanted: Stage) -> None:
        if version.stage is Stage.RETIRED:
            raise RuleVersionIsRetired(
                f"version {version.number} is retired and cannot be {wanted}; draft a copy"
            )

    def check_publishable(self, version: RuleVersion) -> None:
        self.check_not_retired(version, Stage.PUBLISHED)
        if version.stage is Stage.PUBLISHED:
            raise IllegalRuleStage(f"version {version.number} is published already")

    def check_shadowable(self, version: RuleVersion) -> None:
        self.check_not_retired(version, Stage.SHADOW)
        if version.stage is not Stage.DRAFT:
            raise IllegalRuleStage(
                f"version {version.number} is {version.stage}; only a draft goes into shadow"
            )

    def check_retirable(self, version: RuleVersion) -> None:
        if version.stage is Stage.RETIRED:
            raise RuleVersionIsRetired(f"version {version.number} is retired already")

    # Commands ---------------------------------------------------------------------------------

    def draft(self, actor: str, at: datetime, rules: Sequence[Rule], note: str = "") -> int:
        """Drafts the next version and returns its number."""
        self._draft(actor, at, checked_rules(rules), bounded_text("note", note))
        return self.latest.number

    def publish(self, actor: str, at: datetime, version: int, reason: str) -> None:
        """Makes a draft or shadow version the deciding one, retiring the version it replaces."""
        self.check_publishable(self.rule_version(version))
        replaced = self.published.number if self.published is not None else None
        self.trigger_event(
            self.Published, **self._stamp(actor, at, reason), version=version, replaced=replaced
        )

    def shadow(self, actor: str, at: datetime, version: int, reason: str) -> None:
        self.check_shadowable(self.rule_version(version))
        self.trigger_event(self.Shadowed, **self._stamp(actor, at, reason), version=version)

    def retire(self, actor: str, at: datetime, version: int, reason: str) -> None:
        """Any version but a retired one; retiring the published one leaves none to decide."""
        self.check_retirable(self.rule_version(version))
        self.trigger_event(self.Retired, **self._stamp(actor, at, reason), version=version)

    def _draft(self, actor: str, at: datetime, rules: tuple[Rule, ...], note: str) -> None:
        self.trigger_event(
            self.VersionDrafted,
            **self._stamp(actor, at),
            version=max(self.versions, default=0) + 1,
            rules=[rule.as_dict() for rule in rules],
            note=note,
        )

    def _stamp(self, actor: str, at: datetime, reason: str | None = None) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at, reason)

    def _move(self, number: int, stage: Stage) -> None:
        self.versions[number] = replace(self.versions[number], stage=stage)

    # Events -----------------------------------------------------------------------------------

    class VersionDrafted(Event):
        version: int
        rules: list[dict[str, Any]]
        note: str

        def apply(self, rule_set: RuleSet) -> None:
            rules = tuple(Rule.from_dict(values) for values in self.rules)
            rule_set.versions[self.version] = RuleVersion(
                self.version, rules, self.note, self.actor, self.timestamp
            )

    class Published(Event):
        version: int
        reason: str
        replaced: int | None
        """The version that decided until now; it is retired by this event."""

        def apply(self, rule_set: RuleSet) -> None:
            if self.replaced is not None:
                rule_set._move(self.replaced, Stage.RETIRED)
            rule_set._move(self.version, Stage.PUBLISHED)

    class Shadowed(Event):
        version: int
        reason: str

        def apply(self, rule_set: RuleSet) -> None:
            rule_set._move(self.version, Stage.SHADOW)

    class Retired(Event):
        version: int
        reason: str

        def apply(self, rule_set: RuleSet) -> None:
            rule_set._move(self.version, Stage.RETIRED)
