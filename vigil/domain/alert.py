"""The Alert aggregate: a record a detector flagged, and everything analysts did about it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import (
    AlertAlreadyAcknowledged,
    AlertInAnotherCase,
    AlertIsClosed,
    AlertIsNotClosed,
    AlreadyTaken,
    InvalidCommand,
)
from vigil.domain.stamps import event_stamp
from vigil.domain.tags import with_tag, without_tag
from vigil.domain.text import bounded_text, required_text

ALERT_NAMESPACE = UUID("6f1d3c2e-9a4b-5e7f-8c1d-2b3a4c5d6e7f")


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


CLOSED = frozenset({AlertStatus.RESOLVED, AlertStatus.DISMISSED})


class Severity(StrEnum):
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def alert_id(tenant_id: str, source: str, record_id: str, model_line: str) -> UUID:
    """One alert per (source, record, model line): a redelivered record maps to the same id."""
    return uuid5(ALERT_NAMESPACE, f"{tenant_id}\x1f{source}\x1f{record_id}\x1f{model_line}")


@dataclass(frozen=True)
class Detection:
    """What a detector saw in one record, before it becomes an alert."""

    tenant_id: str
    source: str
    record_id: str
    model_line: str
    model_version: str
    score: float
    threshold: float
    severity: Severity
    entity_id: str | None
    record: dict[str, Any]
    occurred_at: datetime | None = None
    entity_context: dict[str, float] = field(default_factory=dict)
    """What the entity did in the windows ending at this record (counts, means, maxima)."""
    rule_hits: tuple[str, ...] = ()
    """The detection rules of the published rule set that fired on the record, in rule order."""
    rule_set_version: int | None = None
    """The rule set version that decided; None when no rule set was published for the source."""

    @property
    def alert_id(self) -> UUID:
        return alert_id(self.tenant_id, self.source, self.record_id, self.model_line)


class Alert(Aggregate):
    """Raised by a detector; acknowledged, assigned, commented, escalated, closed by people."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Raised(Event, Aggregate.Created):
        source: str
        record_id: str
        model_line: str
        model_version: str
        score: float
        threshold: float
        severity: str
        entity_id: str | None
        record: dict[str, Any]
        occurred_at: datetime | None
        entity_context: dict[str, float]
        rule_hits: list[str]
        rule_set_version: int | None

        # Version 2 records the rules that fired; alerts raised before rules existed had none.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["rule_hits"] = []
            state["rule_set_version"] = None

    def __init__(
        self,
        tenant_id: str,
        actor: str,
        source: str,
        record_id: str,
        model_line: str,
        model_version: str,
        score: float,
        threshold: float,
        severity: str,
        entity_id: str | None,
        record: dict[str, Any],
        occurred_at: datetime | None,
        entity_context: dict[str, float],
        rule_hits: list[str],
        rule_set_version: int | None,
    ) -> None:
        self.tenant_id = tenant_id
        self.raised_by = actor
        self.source = source
        self.record_id = record_id
        self.model_line = model_line
        self.model_version = model_version
        self.score = score
        self.threshold = threshold
        self.severity = Severity(severity)
        self.entity_id = entity_id
        self.record = record
        self.occurred_at = occurred_at
        self.entity_context = entity_context
        self.rule_hits = tuple(rule_hits)
        self.rule_set_version = rule_set_version
        self.status = AlertStatus.OPEN
        self.assignee: str | None = None
        self.escalation_level = 0
        self.comment_count = 0
        self.case_id: UUID | None = None
        self.tags: frozenset[str] = frozenset()

    @classmethod
    def raise_from(cls, detection: Detection, actor: str, at: datetime) -> Alert:
        return cls._create(
            cls.Raised,
            id=detection.alert_id,
            timestamp=at,
            tenant_id=detection.tenant_id,
            actor=actor,
            source=detection.source,
            record_id=detection.record_id,
            model_line=detection.model_line,
            model_version=detection.model_version,
            score=detection.score,
            threshold=detection.threshold,
            severity=str(detection.severity),
            entity_id=detection.entity_id,
            record=detection.record,
            occurred_at=detection.occurred_at,
            entity_context=detection.entity_context,
            rule_hits=list(detection.rule_hits),
            rule_set_version=detection.rule_set_version,
        )

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED

    # Invariants -------------------------------------------------------------------------------

    def check_not_closed(self) -> None:
        if self.is_closed:
            raise AlertIsClosed(f"alert {self.id} is {self.status}; only reopen is allowed")

    def check_not_acknowledged(self) -> None:
        if self.status is AlertStatus.ACKNOWLEDGED:
            raise AlertAlreadyAcknowledged(f"alert {self.id} is already acknowledged")

    def check_closed(self) -> None:
        if not self.is_closed:
            raise AlertIsNotClosed(f"alert {self.id} is {self.status}; only a closed alert reopens")

    # Commands ---------------------------------------------------------------------------------

    def acknowledge(self, actor: str, at: datetime, note: str = "") -> None:
        self.check_not_closed()
        self.check_not_acknowledged()
        note = bounded_text("note", note)
        self.trigger_event(self.Acknowledged, **self._stamp(actor, at), note=note)

    def assign(self, actor: str, at: datetime, assignee: str) -> None:
        self.check_not_closed()
        who = required_text("assignee", assignee)
        if who == self.assignee:
            raise InvalidCommand("assignee", f"alert is already assigned to {who}")
        self.trigger_event(self.Assigned, **self._stamp(actor, at), assignee=who)

    def take(self, actor: str, at: datetime) -> None:
        """The analyst takes the alert from its queue; only an unassigned alert can be taken, and
        the event store's version check makes two analysts taking it at once fail for one."""
        self.check_not_closed()
        if self.assignee is not None:
            raise AlreadyTaken(f"alert {self.id} is assigned to {self.assignee} already")
        self.trigger_event(self.Assigned, **self._stamp(actor, at), assignee=actor)

    def tag(self, actor: str, at: datetime, tag: str) -> None:
        """Tags stay open after an alert closes: they are how analysts find past work."""
        name, tags = with_tag(self.tags, tag, f"alert {self.id}")
        self.trigger_event(self.Tagged, **self._stamp(actor, at), tag=name, tags=tags)

    def untag(self, actor: str, at: datetime, tag: str) -> None:
        name, tags = without_tag(self.tags, tag, f"alert {self.id}")
        self.trigger_event(self.Untagged, **self._stamp(actor, at), tag=name, tags=tags)

    def comment(self, actor: str, at: datetime, text: str) -> None:
        self.check_not_closed()
        self.trigger_event(
            self.Commented, **self._stamp(actor, at), text=required_text("text", text)
        )

    def escalate(
        self,
        actor: str,
        at: datetime,
        reason: str,
        *,
        policy: str | None = None,
        step_after_minutes: int | None = None,
        occurrence: int | None = None,
        notify: Sequence[str] = (),
    ) -> None:
        """By hand, or by a policy's step, which names the policy, the step (by its delay),
        which of its notifications this is, and whom it tells."""
        self.check_not_closed()
        reason = required_text("reason", reason)
        if policy is not None and (step_after_minutes is None or occurrence is None):
            raise InvalidCommand("step", "an escalation by a policy names its step and occurrence")
        self.trigger_event(
            self.Escalated,
            **self._stamp(actor, at),
            level=self.escalation_level + 1,
            reason=reason,
            policy=policy,
            step_after_minutes=step_after_minutes,
            occurrence=occurrence,
            notify=None if policy is None else list(notify),
        )

    def dismiss(self, actor: str, at: datetime, reason: str) -> None:
        self.check_not_closed()
        self.trigger_event(
            self.Dismissed, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def resolve(self, actor: str, at: datetime, resolution: str) -> None:
        self.check_not_closed()
        resolution = required_text("resolution", resolution)
        self.trigger_event(self.Resolved, **self._stamp(actor, at), resolution=resolution)

    def reopen(self, actor: str, at: datetime, reason: str) -> None:
        self.check_closed()
        self.trigger_event(
            self.Reopened, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def link_to_case(self, actor: str, at: datetime, case_id: UUID) -> None:
        self.check_not_closed()
        if self.case_id is not None:
            raise AlertInAnotherCase(f"alert {self.id} is already in case {self.case_id}")
        self.trigger_event(self.LinkedToCase, **self._stamp(actor, at), case_id=case_id)

    def unlink_from_case(self, actor: str, at: datetime, case_id: UUID) -> None:
        if self.case_id != case_id:
            raise InvalidCommand("case_id", f"alert {self.id} is not in case {case_id}")
        self.trigger_event(self.UnlinkedFromCase, **self._stamp(actor, at), case_id=case_id)

    def reveal_personal_data(
        self,
        actor: str,
        at: datetime,
        fields: Sequence[str],
        personal: Collection[str],
        reason: str,
    ) -> dict[str, Any]:
        """The named personal fields of the record in clear, with who saw them and why on the
        record. Allowed whatever the status: reviewing a closed alert is work too."""
        reason = required_text("reason", reason)
        asked = list(dict.fromkeys(name.strip() for name in fields))
        if not asked:
            raise InvalidCommand("fields", "name at least one personal field to reveal")
        for name in asked:
            if name not in personal or name not in self.record:
                raise InvalidCommand("fields", f"{name!r} is no personal field of this record")
        self.trigger_event(self.PiiRevealed, **self._stamp(actor, at), fields=asked, reason=reason)
        return {name: self.record[name] for name in asked}

    def _stamp(self, actor: str, at: datetime) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at)

    # Events -----------------------------------------------------------------------------------

    class Acknowledged(Event):
        note: str

        def apply(self, alert: Alert) -> None:
            alert.status = AlertStatus.ACKNOWLEDGED

    class Assigned(Event):
        assignee: str

        def apply(self, alert: Alert) -> None:
            alert.assignee = self.assignee

    class Commented(Event):
        text: str

        def apply(self, alert: Alert) -> None:
            alert.comment_count += 1

    class Escalated(Event):
        level: int
        reason: str
        policy: str | None
        """The escalation policy's name; None for an escalation by hand."""
        step_after_minutes: int | None
        """The policy step's delay since raising, which identifies the step in its policy."""
        occurrence: int | None
        """1 for the step's first notification, 2 and on for its repeats."""
        notify: list[str] | None
        """The channels or subscriber groups told, as the policy named them then."""

        # Version 2 says which policy step escalated; escalations stored before were by hand.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(policy=None, step_after_minutes=None, occurrence=None, notify=None)

        def apply(self, alert: Alert) -> None:
            alert.escalation_level = self.level

    class Dismissed(Event):
        reason: str

        def apply(self, alert: Alert) -> None:
            alert.status = AlertStatus.DISMISSED

    class Resolved(Event):
        resolution: str

        def apply(self, alert: Alert) -> None:
            alert.status = AlertStatus.RESOLVED

    class Reopened(Event):
        reason: str

        def apply(self, alert: Alert) -> None:
            alert.status = AlertStatus.OPEN

    class LinkedToCase(Event):
        case_id: UUID

        def apply(self, alert: Alert) -> None:
            alert.case_id = self.case_id

    class UnlinkedFromCase(Event):
        case_id: UUID

        def apply(self, alert: Alert) -> None:
            alert.case_id = None

    class PiiRevealed(Event):
        """Someone saw personal fields in clear; nothing about the alert changed."""

        fields: list[str]
        reason: str

    class Tagged(Event):
        tag: str
        tags: list[str]
        """Every tag after this one, so a read model need not replay the alert's history."""

        def apply(self, alert: Alert) -> None:
            alert.tags = frozenset(self.tags)

    class Untagged(Event):
        tag: str
        tags: list[str]

        def apply(self, alert: Alert) -> None:
            alert.tags = frozenset(self.tags)
