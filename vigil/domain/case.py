"""The Case aggregate: an investigation of one or more alerts, from opening to a disposition."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from vigil.domain.attachment import Attachment
from vigil.domain.case_workflow import (
    TRANSITIONS,
    CaseSla,
    CaseStatus,
    Disposition,
    Priority,
)
from vigil.domain.errors import (
    AlreadyTaken,
    CaseIsClosed,
    CaseIsNotClosed,
    IllegalTransition,
    InvalidCommand,
)
from vigil.domain.stamps import event_stamp
from vigil.domain.tags import with_tag, without_tag
from vigil.domain.text import bounded_text, required_text

__all__ = ["TRANSITIONS", "Case", "CaseSla", "CaseStatus", "Disposition", "Priority"]

MAX_ATTACHMENTS = 100
"""Per case; evidence beyond this belongs in a document system the case links to."""


class Case(Aggregate):
    """Alerts under investigation, who works them, what was said, and how it ended."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Opened(Event, Aggregate.Created):
        title: str
        priority: str
        alert_ids: list[UUID]
        due_at: datetime

    def __init__(
        self,
        tenant_id: str,
        actor: str,
        title: str,
        priority: str,
        alert_ids: list[UUID],
        due_at: datetime,
    ) -> None:
        self.tenant_id = tenant_id
        self.opened_by = actor
        self.title = title
        self.priority = Priority(priority)
        self.alert_ids = list(alert_ids)
        self.due_at = due_at
        self.status = CaseStatus.OPEN
        self.assignee: str | None = None
        self.disposition: Disposition | None = None
        self.summary: str | None = None
        self.closed_at: datetime | None = None
        self.sla_breached = False
        self.comment_count = 0
        self.tags: frozenset[str] = frozenset()
        self.attachments: dict[str, Attachment] = {}

    @classmethod
    def open(
        cls,
        case_id: UUID,
        tenant_id: str,
        actor: str,
        at: datetime,
        title: str,
        priority: Priority,
        alert_ids: list[UUID],
        sla: CaseSla,
    ) -> Case:
        if not alert_ids:
            raise InvalidCommand("alert_ids", "a case is opened from at least one alert")
        if len(set(alert_ids)) != len(alert_ids):
            raise InvalidCommand("alert_ids", "an alert is named twice")
        return cls._create(
            cls.Opened,
            id=case_id,
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            title=required_text("title", title),
            priority=str(priority),
            alert_ids=list(alert_ids),
            due_at=sla.due(priority, at),
        )

    @property
    def is_closed(self) -> bool:
        return self.status is CaseStatus.CLOSED

    # Invariants -------------------------------------------------------------------------------

    def check_not_closed(self) -> None:
        if self.is_closed:
            raise CaseIsClosed(f"case {self.id} is closed; only reopen is allowed")

    # Commands ---------------------------------------------------------------------------------

    def attach(self, actor: str, at: datetime, alert_id: UUID) -> None:
        self.check_not_closed()
        if alert_id in self.alert_ids:
            raise InvalidCommand("alert_id", f"alert {alert_id} is already in case {self.id}")
        self.trigger_event(self.AlertAttached, **self._stamp(actor, at), alert_id=alert_id)

    def detach(self, actor: str, at: datetime, alert_id: UUID) -> None:
        self.check_not_closed()
        if alert_id not in self.alert_ids:
            raise InvalidCommand("alert_id", f"alert {alert_id} is not in case {self.id}")
        if len(self.alert_ids) == 1:
            raise InvalidCommand("alert_id", "a case keeps at least one alert")
        self.trigger_event(self.AlertDetached, **self._stamp(actor, at), alert_id=alert_id)

    def assign(self, actor: str, at: datetime, assignee: str) -> None:
        self.check_not_closed()
        who = required_text("assignee", assignee)
        if who == self.assignee:
            raise InvalidCommand("assignee", f"case is already assigned to {who}")
        self.trigger_event(self.Assigned, **self._stamp(actor, at), assignee=who)

    def take(self, actor: str, at: datetime) -> None:
        """Taken from a queue by the analyst; only an unassigned open case can be taken."""
        self.check_not_closed()
        if self.assignee is not None:
            raise AlreadyTaken(f"case {self.id} is assigned to {self.assignee} already")
        self.trigger_event(self.Assigned, **self._stamp(actor, at), assignee=actor)

    def tag(self, actor: str, at: datetime, tag: str) -> None:
        name, tags = with_tag(self.tags, tag, f"case {self.id}")
        self.trigger_event(self.Tagged, **self._stamp(actor, at), tag=name, tags=tags)

    def untag(self, actor: str, at: datetime, tag: str) -> None:
        name, tags = without_tag(self.tags, tag, f"case {self.id}")
        self.trigger_event(self.Untagged, **self._stamp(actor, at), tag=name, tags=tags)

    def attach_file(self, actor: str, at: datetime, attachment: Attachment) -> None:
        self.check_not_closed()
        if attachment.sha256 in self.attachments:
            known = self.attachments[attachment.sha256].filename
            raise InvalidCommand("file", f"case {self.id} has this file already, as {known}")
        if len(self.attachments) >= MAX_ATTACHMENTS:
            raise InvalidCommand("file", f"case {self.id} has {MAX_ATTACHMENTS} files already")
        self.trigger_event(
            self.FileAttached,
            **self._stamp(actor, at),
            sha256=attachment.sha256,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
        )

    def remove_file(self, actor: str, at: datetime, sha256: str, reason: str) -> None:
        """The case stops listing the file; its bytes stay stored, as the log refers to them."""
        self.check_not_closed()
        if sha256 not in self.attachments:
            raise InvalidCommand("sha256", f"case {self.id} has no file {sha256}")
        self.trigger_event(
            self.FileRemoved,
            **self._stamp(actor, at),
            sha256=sha256,
            reason=required_text("reason", reason),
        )

    def comment(self, actor: str, at: datetime, text: str) -> None:
        self.check_not_closed()
        self.trigger_event(
            self.Commented, **self._stamp(actor, at), text=required_text("text", text)
        )

    def change_status(self, actor: str, at: datetime, to: CaseStatus, reason: str = "") -> None:
        self.check_not_closed()
        if to not in TRANSITIONS[self.status]:
            allowed = ", ".join(sorted(TRANSITIONS[self.status])) or "nothing"
            raise IllegalTransition(
                f"case {self.id} cannot go from {self.status} to {to}; it can go to {allowed}"
            )
        self.trigger_event(
            self.StatusChanged,
            **self._stamp(actor, at),
            from_status=str(self.status),
            to_status=str(to),
            reason=bounded_text("reason", reason),
        )

    def reprioritise(self, actor: str, at: datetime, priority: Priority, sla: CaseSla) -> None:
        """A new priority moves the due date: the SLA counts from when the case was opened."""
        self.check_not_closed()
        if priority is self.priority:
            raise InvalidCommand("priority", f"case is already {priority}")
        due_at = sla.due(priority, self.created_on)
        self.trigger_event(
            self.Reprioritised, **self._stamp(actor, at), priority=str(priority), due_at=due_at
        )

    def breach_sla(self, actor: str, at: datetime) -> None:
        """Recorded by the SLA timer once the due date has passed while the case is open."""
        self.check_not_closed()
        if self.sla_breached:
            raise InvalidCommand("sla", f"case {self.id} has breached its SLA already")
        if at < self.due_at:
            raise InvalidCommand("sla", f"case {self.id} is not due until {self.due_at}")
        self.trigger_event(self.SlaBreached, **self._stamp(actor, at), due_at=self.due_at)

    def close(self, actor: str, at: datetime, disposition: Disposition, summary: str) -> None:
        self.check_not_closed()
        self.trigger_event(
            self.Closed,
            **self._stamp(actor, at),
            disposition=str(disposition),
            summary=required_text("summary", summary),
        )

    def reopen(self, actor: str, at: datetime, reason: str) -> None:
        if not self.is_closed:
            raise CaseIsNotClosed(f"case {self.id} is {self.status}; only a closed case reopens")
        self.trigger_event(
            self.Reopened, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def _stamp(self, actor: str, at: datetime) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at)

    # Events -----------------------------------------------------------------------------------

    class AlertAttached(Event):
        alert_id: UUID

        def apply(self, case: Case) -> None:
            case.alert_ids.append(self.alert_id)

    class AlertDetached(Event):
        alert_id: UUID

        def apply(self, case: Case) -> None:
            case.alert_ids.remove(self.alert_id)

    class Assigned(Event):
        assignee: str

        def apply(self, case: Case) -> None:
            case.assignee = self.assignee

    class Commented(Event):
        text: str

        def apply(self, case: Case) -> None:
            case.comment_count += 1

    class StatusChanged(Event):
        from_status: str
        to_status: str
        reason: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus(self.to_status)

    class Reprioritised(Event):
        priority: str
        due_at: datetime

        def apply(self, case: Case) -> None:
            case.priority = Priority(self.priority)
            case.due_at = self.due_at

    class SlaBreached(Event):
        due_at: datetime

        def apply(self, case: Case) -> None:
            case.sla_breached = True

    class Closed(Event):
        disposition: str
        summary: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.CLOSED
            case.disposition = Disposition(self.disposition)
            case.summary = self.summary
            case.closed_at = self.timestamp

    class Reopened(Event):
        reason: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.INVESTIGATING
            case.disposition = None
            case.summary = None
            case.closed_at = None

    class Tagged(Event):
        tag: str
        tags: list[str]
        """Every tag after this one, so a read model need not replay the case's history."""

        def apply(self, case: Case) -> None:
            case.tags = frozenset(self.tags)

    class Untagged(Event):
        tag: str
        tags: list[str]

        def apply(self, case: Case) -> None:
            case.tags = frozenset(self.tags)

    class FileAttached(Event):
        sha256: str
        filename: str
        content_type: str
        size: int

        def apply(self, case: Case) -> None:
            case.attachments[self.sha256] = Attachment(
                self.sha256, self.filename, self.content_type, self.size
            )

    class FileRemoved(Event):
        sha256: str
        reason: str

        def apply(self, case: Case) -> None:
            del case.attachments[self.sha256]
