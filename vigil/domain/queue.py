"""The Queue aggregate: where alerts or cases wait for an analyst, how fast, and who gets them.

A queue is a standing question over the work ("unassigned critical card alerts"), not a list it
keeps: an item is in every queue whose criteria it matches, and leaves it when someone takes it.
That keeps routing replayable and lets a queue's criteria change without moving anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.alert import Severity
from vigil.domain.case_workflow import Priority
from vigil.domain.errors import InvalidCommand
from vigil.domain.rule_set import rule_name
from vigil.domain.stamps import event_stamp
from vigil.domain.text import required_text

QUEUE_NAMESPACE = UUID("9c4a7d2e-1b3f-5e6a-8d9c-0f1e2d3c4b5a")

MAX_SLA_MINUTES = 60 * 24 * 30


class QueueKind(StrEnum):
    ALERTS = "alerts"
    CASES = "cases"


class Assignment(StrEnum):
    """How waiting items find an analyst: they take them, or the queue hands them out."""

    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LOWEST_WORKLOAD = "lowest_workload"


def queue_id(tenant_id: str, name: str) -> UUID:
    """A queue's name is unique within its tenant."""
    return uuid5(QUEUE_NAMESPACE, f"{tenant_id}\x1f{name.strip().lower()}")


@dataclass(frozen=True)
class QueueCriteria:
    """Which items land in the queue; an empty list does not narrow. Alert queues match on
    severity, source, model line and the detection rules that fired (any of them); case queues
    on priority."""

    severities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    model_lines: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    def checked_for(self, kind: QueueKind) -> QueueCriteria:
        for value in self.severities:
            _member_of(Severity, "severities", value)
        for value in self.priorities:
            _member_of(Priority, "priorities", value)
        if kind is QueueKind.ALERTS and self.priorities:
            raise InvalidCommand(
                "priorities", "alert queues match on severity, source, model line and rule"
            )
        if kind is QueueKind.CASES and (
            self.severities or self.sources or self.model_lines or self.rules
        ):
            raise InvalidCommand("criteria", "case queues match on priority only")
        # Names are matched exactly against the read model, so they are kept as stored there.
        return QueueCriteria(
            severities=_distinct(self.severities),
            sources=_distinct(required_text("sources", v) for v in self.sources),
            model_lines=_distinct(required_text("model_lines", v) for v in self.model_lines),
            priorities=_distinct(self.priorities),
            rules=_distinct(rule_name("rules", v) for v in self.rules),
        )

    def as_lists(self) -> dict[str, list[str]]:
        return {
            "severities": list(self.severities),
            "sources": list(self.sources),
            "model_lines": list(self.model_lines),
            "priorities": list(self.priorities),
            "rules": list(self.rules),
        }

    @classmethod
    def from_lists(cls, values: dict[str, list[str]]) -> QueueCriteria:
        return cls(**{key: tuple(items) for key, items in values.items()})


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _member_of(enum: type[StrEnum], field: str, value: str) -> None:
    if value not in {str(member) for member in enum}:
        allowed = ", ".join(str(member) for member in enum)
        raise InvalidCommand(field, f"{value!r} is not one of {allowed}")


@dataclass(frozen=True)
class QueueRules:
    """A queue's criteria, its SLA (how long an item may wait unassigned) and its assignment."""

    criteria: QueueCriteria
    sla_minutes: int
    assignment: Assignment
    members: tuple[str, ...] = ()

    def checked_for(self, kind: QueueKind) -> QueueRules:
        if not 1 <= self.sla_minutes <= MAX_SLA_MINUTES:
            raise InvalidCommand("sla_minutes", f"must be between 1 and {MAX_SLA_MINUTES}")
        members = tuple(dict.fromkeys(required_text("members", m) for m in self.members))
        if self.assignment is not Assignment.MANUAL and not members:
            raise InvalidCommand("members", f"{self.assignment} assignment needs members")
        return QueueRules(
            self.criteria.checked_for(kind), self.sla_minutes, self.assignment, members
        )

    def as_event_fields(self) -> dict[str, Any]:
        return {
            "criteria": self.criteria.as_lists(),
            "sla_minutes": self.sla_minutes,
            "assignment": str(self.assignment),
            "members": list(self.members),
        }


class Queue(Aggregate):
    """A named queue of alerts or cases with an SLA and a way of handing out its items."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Defined(Event, Aggregate.Created):
        name: str
        kind: str
        criteria: dict[str, list[str]]
        sla_minutes: int
        assignment: str
        members: list[str]

    def __init__(
        self,
        tenant_id: str,
        actor: str,
        name: str,
        kind: str,
        criteria: dict[str, list[str]],
        sla_minutes: int,
        assignment: str,
        members: list[str],
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.kind = QueueKind(kind)
        self._set_rules(criteria, sla_minutes, assignment, members)
        self.retired = False
        self.last_member: str | None = None
        """Who got the last item handed out; round-robin continues after them."""

    @classmethod
    def define(
        cls, tenant_id: str, actor: str, at: datetime, name: str, kind: QueueKind, rules: QueueRules
    ) -> Queue:
        name = required_text("name", name)
        if len(name) > 80:
            raise InvalidCommand("name", "must be at most 80 characters")
        return cls._create(
            cls.Defined,
            id=queue_id(tenant_id, name),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            name=name,
            kind=str(kind),
            **rules.checked_for(kind).as_event_fields(),
        )

    @property
    def rules(self) -> QueueRules:
        return QueueRules(self.criteria, self.sla_minutes, self.assignment, self.members)

    def check_not_retired(self) -> None:
        if self.retired:
            raise InvalidCommand("queue", f"queue {self.name} is retired")

    def redefine(self, actor: str, at: datetime, rules: QueueRules) -> None:
        self.check_not_retired()
        checked = rules.checked_for(self.kind)
        if checked == self.rules:
            raise InvalidCommand("rules", f"queue {self.name} has these rules already")
        self.trigger_event(self.Redefined, **self._stamp(actor, at), **checked.as_event_fields())

    def retire(self, actor: str, at: datetime, reason: str) -> None:
        self.check_not_retired()
        self.trigger_event(
            self.Retired, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def hand_out(
        self, actor: str, at: datetime, items: list[UUID], workloads: dict[str, int]
    ) -> dict[UUID, str]:
        """Chooses an analyst for each waiting item by the queue's assignment and records it;
        `workloads` is how many open items each member holds now."""
        self.check_not_retired()
        if self.assignment is Assignment.MANUAL:
            raise InvalidCommand("assignment", f"queue {self.name} is worked by taking items")
        if not items:
            return {}
        chosen = (
            self._round_robin(items)
            if self.assignment is Assignment.ROUND_ROBIN
            else _lowest_workload(items, self.members, workloads)
        )
        self.trigger_event(
            self.HandedOut,
            **self._stamp(actor, at),
            assignments={str(item): member for item, member in chosen.items()},
        )
        return chosen

    def _round_robin(self, items: list[UUID]) -> dict[UUID, str]:
        members = list(self.members)
        start = members.index(self.last_member) + 1 if self.last_member in members else 0
        return {item: members[(start + n) % len(members)] for n, item in enumerate(items)}

    def _set_rules(
        self, criteria: dict[str, list[str]], sla_minutes: int, assignment: str, members: list[str]
    ) -> None:
        self.criteria = QueueCriteria.from_lists(criteria)
        self.sla_minutes = sla_minutes
        self.assignment = Assignment(assignment)
        self.members = tuple(members)

    def _stamp(self, actor: str, at: datetime) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at)

    class Redefined(Event):
        criteria: dict[str, list[str]]
        sla_minutes: int
        assignment: str
        members: list[str]

        def apply(self, queue: Queue) -> None:
            queue._set_rules(self.criteria, self.sla_minutes, self.assignment, self.members)

    class Retired(Event):
        reason: str

        def apply(self, queue: Queue) -> None:
            queue.retired = True

    class HandedOut(Event):
        assignments: dict[str, str]
        """Item id to the analyst it went to, in the order they were handed out."""

        def apply(self, queue: Queue) -> None:
            if self.assignments:
                queue.last_member = list(self.assignments.values())[-1]


def _lowest_workload(
    items: list[UUID], members: tuple[str, ...], workloads: dict[str, int]
) -> dict[UUID, str]:
    """Each item to whoever holds least at that moment; ties go to the earlier member."""
    load = {member: workloads.get(member, 0) for member in members}
    chosen = {}
    for item in items:
        member = min(members, key=lambda m: load[m])
        chosen[item] = member
        load[member] += 1
    return chosen
