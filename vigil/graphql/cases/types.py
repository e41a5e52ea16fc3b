"""The Case type, built from the case list's read model or a command's result."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import anyio.to_thread
import strawberry

from vigil.application.case_list import CaseRow
from vigil.application.evidence import CaseFileRow, CommentRow
from vigil.domain import case as domain
from vigil.domain.label import SubjectKind, label_id
from vigil.graphql.alerts.types import Alert, TimelineEntry
from vigil.graphql.context import Info
from vigil.graphql.labels.types import Label

CaseStatus = domain.CaseStatus
Priority = domain.Priority
Disposition = domain.Disposition
strawberry.enum(CaseStatus)
strawberry.enum(Priority)
strawberry.enum(Disposition)

MAX_ALERTS_SHOWN = 500


@strawberry.type(description="A note an analyst left on an alert or a case.")
class Comment:
    author: str
    text: str
    at: datetime

    @classmethod
    def from_row(cls, row: CommentRow) -> Comment:
        return cls(author=row.author, text=row.text, at=row.at)


@strawberry.type(description="Evidence attached to a case; download it from `downloadPath`.")
class CaseFile:
    sha256: str
    filename: str
    content_type: str
    size: int
    attached_by: str
    attached_at: datetime
    removed_by: str | None
    removed_at: datetime | None
    removal_reason: str | None
    download_path: str | None = strawberry.field(
        description="Where the REST API serves the file; null once it is removed."
    )

    @classmethod
    def from_row(cls, row: CaseFileRow) -> CaseFile:
        removed = row.removed_at is not None
        return cls(
            sha256=row.sha256,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            attached_by=row.attached_by,
            attached_at=row.attached_at,
            removed_by=row.removed_by,
            removed_at=row.removed_at,
            removal_reason=row.removal_reason,
            download_path=None if removed else f"/api/v1/cases/{row.case_id}/files/{row.sha256}",
        )


@strawberry.type(description="An investigation of one or more alerts, and how it ended.")
class Case:
    case_id: strawberry.Private[UUID]
    id: strawberry.ID
    title: str
    priority: Priority
    status: CaseStatus
    assignee: str | None
    disposition: Disposition | None
    summary: str | None
    alert_count: int
    comment_count: int
    due_at: datetime
    sla_breached: bool
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    tags: list[str]

    @strawberry.field(description="The analysts' notes on the case, oldest first.")
    async def comments(self, info: Info) -> list[Comment]:
        rows = await info.context.comments.load(self.case_id)
        return [Comment.from_row(row) for row in rows]

    @strawberry.field(description="Every file attached to the case, removed ones included.")
    async def files(self, info: Info) -> list[CaseFile]:
        rows = await info.context.case_files.load(self.case_id)
        return [CaseFile.from_row(row) for row in rows]

    @strawberry.field(description="The case's alerts, from the alert queue read model.")
    async def alerts(self, info: Info) -> list[Alert]:
        rows = await info.context.case_alerts.load(self.case_id)
        return [Alert.from_row(row) for row in rows[:MAX_ALERTS_SHOWN]]

    @strawberry.field(
        description="The verdicts standing on the records of the case's alerts and on their "
        "entities: records first, in the alerts' order, then entities."
    )
    async def labels(self, info: Info) -> list[Label]:
        ctx = info.context
        alerts = await ctx.case_alerts.load(self.case_id)
        subjects = [(a.source, SubjectKind.RECORD, a.record_id) for a in alerts]
        subjects += [(a.source, SubjectKind.ENTITY, a.entity_id) for a in alerts if a.entity_id]
        ids = list(dict.fromkeys(label_id(ctx.tenant_id, *subject) for subject in subjects))
        rows = await ctx.standing_labels.load_many(ids)
        return [Label.from_row(row) for row in rows if row is not None]

    @strawberry.field(description="Every event of the case, oldest first, from the event store.")
    async def timeline(self, info: Info) -> list[TimelineEntry]:
        ctx = info.context
        entries = await anyio.to_thread.run_sync(
            ctx.alert_desk.case_timeline, ctx.tenant_id, self.case_id
        )
        return [TimelineEntry.from_record(e) for e in entries]

    @classmethod
    def from_row(cls, row: CaseRow) -> Case:
        return cls(
            case_id=row.id,
            id=strawberry.ID(str(row.id)),
            title=row.title,
            priority=Priority(row.priority),
            status=CaseStatus(row.status),
            assignee=row.assignee,
            disposition=Disposition(row.disposition) if row.disposition else None,
            summary=row.summary,
            alert_count=row.alert_count,
            comment_count=row.comment_count,
            due_at=row.due_at,
            sla_breached=row.sla_breached,
            opened_by=row.opened_by,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            tags=list(row.tags),
        )

    @classmethod
    def from_aggregate(cls, case: domain.Case) -> Case:
        """The state a command just saved, which the read model may not have caught up with."""
        return cls(
            case_id=case.id,
            id=strawberry.ID(str(case.id)),
            title=case.title,
            priority=case.priority,
            status=case.status,
            assignee=case.assignee,
            disposition=case.disposition,
            summary=case.summary,
            alert_count=len(case.alert_ids),
            comment_count=case.comment_count,
            due_at=case.due_at,
            sla_breached=case.sla_breached,
            opened_by=case.opened_by,
            opened_at=case.created_on,
            closed_at=case.closed_at,
            tags=sorted(case.tags),
        )


@strawberry.type
class CaseEdge:
    node: Case
    cursor: str


@strawberry.type(description="A page of the case list, newest first.")
class CaseConnection:
    edges: list[CaseEdge]
    has_next_page: bool
    end_cursor: str | None
    total_count: int
