"""The Queue type: a queue's rules and, asked for, what waits in it now."""

from __future__ import annotations

from datetime import datetime

import strawberry

from vigil.application.queues import QueueRow
from vigil.domain import queue as domain
from vigil.graphql.context import Info

QueueKind = domain.QueueKind
Assignment = domain.Assignment
strawberry.enum(QueueKind)
strawberry.enum(Assignment, description="How waiting items find an analyst.")


@strawberry.type(description="Which items land in the queue; an empty list does not narrow.")
class QueueCriteria:
    severities: list[str]
    sources: list[str]
    model_lines: list[str]
    priorities: list[str]
    rules: list[str] = strawberry.field(
        description="Detection rules: an alert lands when any of them fired on its record."
    )


@strawberry.input(
    description="Alert queues match on severity, source, model line and detection rule; case "
    "queues on priority."
)
class QueueCriteriaInput:
    severities: list[str] = strawberry.field(default_factory=list)
    sources: list[str] = strawberry.field(default_factory=list)
    model_lines: list[str] = strawberry.field(default_factory=list)
    priorities: list[str] = strawberry.field(default_factory=list)
    rules: list[str] = strawberry.field(default_factory=list)

    def to_domain(self) -> domain.QueueCriteria:
        return domain.QueueCriteria(
            severities=tuple(self.severities),
            sources=tuple(self.sources),
            model_lines=tuple(self.model_lines),
            priorities=tuple(self.priorities),
            rules=tuple(self.rules),
        )


@strawberry.type(description="What waits in a queue now: unassigned, open, matching.")
class QueueStats:
    waiting: int
    overdue: int = strawberry.field(description="Waiting longer than the queue's SLA.")
    oldest_waiting_since: datetime | None


@strawberry.type(description="Where alerts or cases wait for an analyst, with an SLA.")
class Queue:
    row: strawberry.Private[QueueRow]
    id: strawberry.ID
    name: str
    kind: QueueKind
    criteria: QueueCriteria
    sla_minutes: int = strawberry.field(description="How long an item may wait unassigned.")
    assignment: Assignment
    members: list[str]
    retired: bool

    @strawberry.field(description="Counted from the read model at the time of the request.")
    async def stats(self, info: Info) -> QueueStats:
        ctx = info.context
        found = await ctx.queue_board.stats(self.row, ctx.alert_desk.clock())
        return QueueStats(
            waiting=found.waiting,
            overdue=found.overdue,
            oldest_waiting_since=found.oldest_waiting_since,
        )

    @classmethod
    def from_row(cls, row: QueueRow) -> Queue:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            name=row.name,
            kind=row.kind,
            criteria=QueueCriteria(**{k: list(v) for k, v in row.criteria.as_lists().items()}),
            sla_minutes=row.sla_minutes,
            assignment=row.assignment,
            members=list(row.members),
            retired=row.retired,
        )

    @classmethod
    def from_aggregate(cls, queue: domain.Queue) -> Queue:
        """The state a command just saved, which the read model may not have caught up with."""
        return cls.from_row(
            QueueRow(
                id=queue.id,
                tenant_id=queue.tenant_id,
                name=queue.name,
                kind=queue.kind,
                criteria=queue.criteria,
                sla_minutes=queue.sla_minutes,
                assignment=queue.assignment,
                members=queue.members,
                retired=queue.retired,
            )
        )
