"""The Alert type and its timeline, built from the queue's read model or a command's result."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from vigil.application.alert_desk import TimelineEntry as TimelineEntryRecord
from vigil.application.alert_queue import AlertRow
from vigil.domain import alert as domain
from vigil.domain.escalation_policy import duration_text
from vigil.domain.label import SubjectKind, label_id
from vigil.graphql.context import Info
from vigil.graphql.prefetch import now_or_later

if TYPE_CHECKING:
    # Both import this module; strawberry resolves them lazily, and so do the resolvers below.
    from vigil.graphql.cases.types import Case, Comment
    from vigil.graphql.labels.types import Label

# The domain's enums are the API's: strawberry marks the classes in place, so annotations
# below can name them as the types they are.
AlertStatus = domain.AlertStatus
Severity = domain.Severity
strawberry.enum(AlertStatus)
strawberry.enum(Severity)


def jsonable(value: Any) -> Any:
    """Event payloads hold datetimes and UUIDs, which the JSON scalar would not encode."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Enum):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    return value


@strawberry.type(description="An escalation of an alert: by a policy's step, or by hand.")
class TimelineEscalation:
    level: int
    reason: str
    policy: str | None = strawberry.field(
        description="The escalation policy whose step it was; null for an escalation by hand."
    )
    step_after: str | None = strawberry.field(
        description="The step's delay since the alert was raised (`15m`): the step's identity "
        "in its policy."
    )
    occurrence: int | None = strawberry.field(
        description="1 for the step's first notification of the alert, 2 and on for repeats."
    )
    notify: list[str] = strawberry.field(
        description="The channels or subscriber groups the step told; empty by hand."
    )

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> TimelineEscalation:
        after = details.get("step_after_minutes")
        return cls(
            level=int(details.get("level") or 0),
            reason=str(details.get("reason") or ""),
            policy=details.get("policy"),
            step_after=None if after is None else duration_text(after),
            occurrence=details.get("occurrence"),
            notify=list(details.get("notify") or []),
        )


@strawberry.type(description="One thing that happened to an alert, read from the event store.")
class TimelineEntry:
    version: int
    event: str
    actor: str
    at: datetime
    details: JSON
    escalation: TimelineEscalation | None = strawberry.field(
        default=None,
        description="For an Escalated event: the policy, its step and whom it told; null for "
        "every other event.",
    )

    @classmethod
    def from_record(cls, entry: TimelineEntryRecord) -> TimelineEntry:
        escalated = entry.event == domain.Alert.Escalated.__name__
        return cls(
            version=entry.version,
            event=entry.event,
            actor=entry.actor,
            at=entry.at,
            details=jsonable(entry.details),
            escalation=TimelineEscalation.from_details(entry.details) if escalated else None,
        )


@strawberry.type(description="A record a detector flagged, and where the analysts are with it.")
class Alert:
    alert_id: strawberry.Private[UUID]
    case_id: strawberry.Private[UUID | None]
    id: strawberry.ID
    source: str
    record_id: str
    model_line: str
    model_version: str
    score: float
    threshold: float
    severity: Severity
    status: AlertStatus
    entity_id: str | None
    assignee: str | None
    escalation_level: int
    comment_count: int
    raised_at: datetime
    updated_at: datetime
    occurred_at: datetime | None
    tags: list[str]
    rule_hits: list[str] = strawberry.field(
        description="The detection rules that fired on the record, in their rule set's order."
    )
    rule_set_version: int | None = strawberry.field(
        description="The version of the source's rule set that decided; null if none was published."
    )

    @strawberry.field(description="Every event of the alert, oldest first.")
    async def timeline(self, info: Info) -> list[TimelineEntry]:
        entries = await info.context.timelines.load(self.alert_id)
        return [TimelineEntry.from_record(e) for e in entries]

    @strawberry.field(description="The record as the detector saw it, from the Raised event.")
    async def record(self, info: Info) -> JSON | None:
        return await self._raised_detail(info, "record")

    @strawberry.field(
        description="What the entity did in the 1h, 24h and 7d ending at this record: "
        "count_<window>, mean_<field>_<window>, max_<field>_<window>."
    )
    async def entity_context(self, info: Info) -> JSON | None:
        return await self._raised_detail(info, "entity_context")

    @strawberry.field(description="The analysts' notes on the alert, oldest first.")
    async def comments(
        self, info: Info
    ) -> list[Annotated[Comment, strawberry.lazy("vigil.graphql.cases.types")]]:
        from vigil.graphql.cases.types import Comment

        rows = await info.context.comments.load(self.alert_id)
        return [Comment.from_row(row) for row in rows]

    # `case` and `latestLabel` are synchronous: a page that prefetched them answers at once.
    @strawberry.field(description="The case the alert is in; null if it is in none.")
    def case(
        self, info: Info
    ) -> Annotated[Case, strawberry.lazy("vigil.graphql.cases.types")] | None:
        from vigil.graphql.cases.types import Case

        if self.case_id is None:
            return None
        return now_or_later(info.context.cases.load(self.case_id), Case.from_row)

    @strawberry.field(
        description="The verdict standing on the alert's record; null if it has none."
    )
    def latest_label(
        self, info: Info
    ) -> Annotated[Label, strawberry.lazy("vigil.graphql.labels.types")] | None:
        from vigil.graphql.labels.types import Label

        loading = info.context.standing_labels.load(self.record_label_id(info.context.tenant_id))
        return now_or_later(loading, Label.from_row)

    def record_label_id(self, tenant_id: str) -> UUID:
        """The id of the label history of the alert's record."""
        return label_id(tenant_id, self.source, SubjectKind.RECORD, self.record_id)

    async def _raised_detail(self, info: Info, key: str) -> Any:
        entries = await info.context.timelines.load(self.alert_id)
        raised = next((e for e in entries if e.event == domain.Alert.Raised.__name__), None)
        return None if raised is None else jsonable(raised.details.get(key))

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        return cls(
            alert_id=row.id,
            case_id=row.case_id,
            id=strawberry.ID(str(row.id)),
            source=row.source,
            record_id=row.record_id,
            model_line=row.model_line,
            model_version=row.model_version,
            score=row.score,
            threshold=row.threshold,
            severity=domain.Severity(row.severity),
            status=domain.AlertStatus(row.status),
            entity_id=row.entity_id,
            assignee=row.assignee,
            escalation_level=row.escalation_level,
            comment_count=row.comment_count,
            raised_at=row.raised_at,
            updated_at=row.updated_at,
            occurred_at=row.occurred_at,
            tags=list(row.tags),
            rule_hits=list(row.rule_hits),
            rule_set_version=row.rule_set_version,
        )

    @classmethod
    def from_aggregate(cls, alert: domain.Alert) -> Alert:
        """The state a command just saved, which the read model may not have caught up with."""
        return cls(
            alert_id=alert.id,
            case_id=alert.case_id,
            id=strawberry.ID(str(alert.id)),
            source=alert.source,
            record_id=alert.record_id,
            model_line=alert.model_line,
            model_version=alert.model_version,
            score=alert.score,
            threshold=alert.threshold,
            severity=alert.severity,
            status=alert.status,
            entity_id=alert.entity_id,
            assignee=alert.assignee,
            escalation_level=alert.escalation_level,
            comment_count=alert.comment_count,
            raised_at=alert.created_on,
            updated_at=alert.modified_on,
            occurred_at=alert.occurred_at,
            tags=sorted(alert.tags),
            rule_hits=list(alert.rule_hits),
            rule_set_version=alert.rule_set_version,
        )


@strawberry.type
class AlertEdge:
    node: Alert
    cursor: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of the alert queue, newest first.")
class AlertConnection:
    edges: list[AlertEdge]
    page_info: PageInfo
    total_count: int
