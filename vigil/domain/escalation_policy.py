"""The EscalationPolicy aggregate: which alerts a policy watches (its match), whom it tells
after how long, and what stops it.

A policy is a document (YAML, or the same mapping over GraphQL) checked whole, every refusal
naming the field path at fault (`match.severity.at_least`, `steps[1].after`), so the YAML loader
can name the line. Each step fires a delay after the alert was raised (not after the step before:
"after 15 minutes notify on-call; after 60, the team lead" means 60 minutes from raising), so
steps are written in the order they fire, with delays that only grow. A delay is therefore also
a step's identity within its policy: alerts record which step told whom by it, and inserting a
step before another never makes the later one fire twice. Applying a document that says what the
current definition says records nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import InvalidCommand
from vigil.domain.escalation_match import (
    PolicyMatch,
    distinct,
    known_keys,
    list_at,
    mapping_at,
)
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text, required_text

POLICY_NAMESPACE = UUID("2c7e9a41-5d3b-5f08-a6e2-8b1f4d0c7e93")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""Policy and channel names; a channel is a subject token (`vigil.escalations.<channel>`)."""
MAX_STEPS = 20
MAX_CHANNELS = 20
MAX_MINUTES = 60 * 24 * 30
MAX_REPEATS = 100
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_KEYS = frozenset({"name", "description", "match", "steps", "stop_when"})


class StopCondition(StrEnum):
    """What ends an alert's escalation; a resolved or dismissed alert is never escalated (the
    alert refuses it), whether or not its policy lists them."""

    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    LINKED_TO_CASE = "linked_to_case"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


DEFAULT_STOP = frozenset(StopCondition) - {StopCondition.ASSIGNED}


def policy_id(tenant_id: str, name: str) -> UUID:
    """A policy's name is unique within its tenant, and is how alerts refer to it."""
    return uuid5(POLICY_NAMESPACE, f"{tenant_id}\x1f{name.strip()}")


@dataclass(frozen=True)
class Repeat:
    every_minutes: int
    """Since the step's last notification, so a late one never brings a burst."""
    times: int
    """Repeats after the first notification: `times: 3` notifies four times at most."""


@dataclass(frozen=True)
class Step:
    after_minutes: int
    """Since the alert was raised (or reopened); the step's identity within its policy."""
    notify: tuple[str, ...]
    """Channels or subscriber groups ("on-call", "team-lead"); subscriptions deliver them."""
    repeat: Repeat | None = None

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "after": duration_text(self.after_minutes),
            "notify": list(self.notify),
        }
        if self.repeat is not None:
            every = duration_text(self.repeat.every_minutes)
            document["repeat"] = {"every": every, "times": self.repeat.times}
        return document


@dataclass(frozen=True)
class PolicyDefinition:
    name: str
    steps: tuple[Step, ...]
    match: PolicyMatch = field(default_factory=PolicyMatch)
    stop_when: frozenset[StopCondition] = DEFAULT_STOP
    description: str = ""

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name}
        if self.description:
            document["description"] = self.description
        document["match"] = self.match.to_document()
        document["steps"] = [step.to_document() for step in self.steps]
        document["stop_when"] = [str(s) for s in StopCondition if s in self.stop_when]
        return document

    @classmethod
    def from_document(cls, document: object) -> PolicyDefinition:
        """The definition the document describes, or InvalidCommand naming the first fault."""
        body = mapping_at("document", document)
        known_keys("", body, _KEYS)
        if "name" not in body:
            raise InvalidCommand("name", "is required")
        description = body.get("description", "")
        if not isinstance(description, str):
            raise InvalidCommand("description", "must be text")
        return cls(
            name=_name("name", body["name"]),
            description=bounded_text("description", description),
            match=PolicyMatch.from_document(body.get("match", {})),
            steps=_steps(body.get("steps")),
            stop_when=_stop_when(body.get("stop_when", [str(s) for s in DEFAULT_STOP])),
        )


class EscalationPolicy(Aggregate):
    """One tenant's escalation policy; rules are data, so every change is on the record."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Defined(Event, Aggregate.Created):
        definition: dict[str, Any]
        note: str

    def __init__(self, tenant_id: str, actor: str, definition: dict[str, Any], note: str) -> None:
        self.tenant_id = tenant_id
        self.defined_by = actor
        self.definition = PolicyDefinition.from_document(definition)
        self.revision = 1
        self.changed_by = actor
        self.enabled = True

    @classmethod
    def define(
        cls, tenant_id: str, actor: str, at: datetime, definition: PolicyDefinition, note: str = ""
    ) -> EscalationPolicy:
        tenant_id = required_text("tenant_id", tenant_id)
        return cls._create(
            cls.Defined,
            id=policy_id(tenant_id, definition.name),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            definition=definition.to_document(),
            note=bounded_text("note", note),
        )

    @property
    def name(self) -> str:
        return self.definition.name

    def check_same_policy(self, definition: PolicyDefinition) -> None:
        if definition.name != self.name:
            raise InvalidCommand("name", f"this policy is {self.name!r}, not {definition.name!r}")

    def change(
        self, actor: str, at: datetime, definition: PolicyDefinition, note: str = ""
    ) -> bool:
        """Records the definition as the next revision; False, recording nothing, when it is the
        current one already. A disabled policy stays disabled."""
        self.check_same_policy(definition)
        if definition == self.definition:
            return False
        self.trigger_event(
            self.Changed,
            **event_stamp(self.tenant_id, actor, at),
            definition=definition.to_document(),
            revision=self.revision + 1,
            note=bounded_text("note", note),
        )
        return True

    def disable(self, actor: str, at: datetime, reason: str) -> None:
        if not self.enabled:
            raise InvalidCommand("policy", f"{self.name} is disabled already")
        self.trigger_event(self.Disabled, **event_stamp(self.tenant_id, actor, at, reason))

    def enable(self, actor: str, at: datetime, reason: str) -> None:
        """A disabled policy back at work: its name is its id, so it could not be defined anew."""
        if self.enabled:
            raise InvalidCommand("policy", f"{self.name} is enabled already")
        self.trigger_event(self.Enabled, **event_stamp(self.tenant_id, actor, at, reason))

    class Changed(Event):
        definition: dict[str, Any]
        revision: int
        note: str

        def apply(self, policy: EscalationPolicy) -> None:
            policy.definition = PolicyDefinition.from_document(self.definition)
            policy.revision = self.revision
            policy.changed_by = self.actor

    class Disabled(Event):
        reason: str

        def apply(self, policy: EscalationPolicy) -> None:
            policy.enabled = False

    class Enabled(Event):
        reason: str

        def apply(self, policy: EscalationPolicy) -> None:
            policy.enabled = True


# Durations ------------------------------------------------------------------------------------


def minutes(field: str, value: object) -> int:
    """A delay as whole minutes: `15m`, `2h`, `1h30m`, `1d`, or a bare number of minutes."""
    if isinstance(value, int) and not isinstance(value, bool):
        total = value
    else:
        found = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
        if found is None or not value or not any(found.groups()):
            raise InvalidCommand(field, f"{value!r} is not a delay: write 15m, 2h, 1h30m or 1d")
        days, hours, mins = (int(part or 0) for part in found.groups())
        total = days * 1440 + hours * 60 + mins
    if not 0 <= total <= MAX_MINUTES:
        raise InvalidCommand(field, f"must be between 0m and {duration_text(MAX_MINUTES)}")
    return total


def duration_text(total: int) -> str:
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return "".join(parts) or "0m"


# Parsing the document ---------------------------------------------------------------------------


def _steps(value: object) -> tuple[Step, ...]:
    if value is None:
        raise InvalidCommand("steps", "is required: when to notify whom")
    items = list_at("steps", value)
    if not 1 <= len(items) <= MAX_STEPS:
        raise InvalidCommand("steps", f"a policy has 1 to {MAX_STEPS} steps, not {len(items)}")
    steps: list[Step] = []
    for index, item in enumerate(items):
        step = _step(f"steps[{index}]", item)
        if steps and step.after_minutes <= steps[-1].after_minutes:
            earlier = duration_text(steps[-1].after_minutes)
            raise InvalidCommand(
                f"steps[{index}].after",
                f"must be later than steps[{index - 1}].after ({earlier}): each step's delay"
                " counts from the alert's raising",
            )
        steps.append(step)
    return tuple(steps)


def _step(at: str, value: object) -> Step:
    body = mapping_at(at, value)
    known_keys(f"{at}.", body, frozenset({"after", "notify", "repeat"}))
    if "after" not in body:
        raise InvalidCommand(f"{at}.after", "is required: 0m for at once")
    notify = distinct(f"{at}.notify", body.get("notify"), _name)
    if not 1 <= len(notify) <= MAX_CHANNELS:
        raise InvalidCommand(f"{at}.notify", f"name 1 to {MAX_CHANNELS} channels or groups")
    repeat = None if body.get("repeat") is None else _repeat(f"{at}.repeat", body["repeat"])
    return Step(minutes(f"{at}.after", body["after"]), notify, repeat)


def _repeat(at: str, value: object) -> Repeat:
    body = mapping_at(at, value)
    known_keys(f"{at}.", body, frozenset({"every", "times"}))
    every = minutes(f"{at}.every", body.get("every"))
    if every < 1:
        raise InvalidCommand(f"{at}.every", "must be at least 1m")
    times = body.get("times")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_REPEATS:
        raise InvalidCommand(f"{at}.times", f"must be a whole number from 1 to {MAX_REPEATS}")
    return Repeat(every, times)


def _stop_when(value: object) -> frozenset[StopCondition]:
    chosen = set()
    for index, item in enumerate(list_at("stop_when", value)):
        try:
            chosen.add(StopCondition(str(item)))
        except ValueError:
            allowed = ", ".join(str(s) for s in StopCondition)
            raise InvalidCommand(
                f"stop_when[{index}]", f"{item!r} is not one of {allowed}"
            ) from None
    return frozenset(chosen)


def _name(field: str, value: object) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value.strip()):
        raise InvalidCommand(field, f"{value!r} is not a name: use 1-64 of a-z, 0-9, '_' and '-'")
    return value.strip()
