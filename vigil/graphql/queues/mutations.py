"""Queue commands: define, redefine and retire a queue; take the next item waiting in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio.to_thread
import strawberry

from vigil.application import queues
from vigil.application.permissions import Permission
from vigil.domain import queue as domain
from vigil.domain.errors import InvalidCommand, QueueNotFound
from vigil.graphql.alerts.queries import parse_id
from vigil.graphql.alerts.types import Alert
from vigil.graphql.cases.mutations import NotFoundError
from vigil.graphql.cases.types import Case
from vigil.graphql.context import Info
from vigil.graphql.errors import Error, InvalidInputError
from vigil.graphql.permissions import needs
from vigil.graphql.queues.types import Assignment, Queue, QueueCriteriaInput, QueueKind


@strawberry.type(description="The command was recorded; the queue as it was just saved.")
class QueueChanged:
    queue: Queue


QueueResult = Annotated[
    QueueChanged | NotFoundError | InvalidInputError, strawberry.union("QueueResult")
]


@strawberry.type(description="The item is now the caller's: assigned to them in the event store.")
class ItemTaken:
    alert: Alert | None
    case: Case | None


@strawberry.type(
    description="Nothing waits in the queue: every matching item is assigned or closed."
)
class QueueEmpty(Error):
    queue_id: strawberry.ID


TakeNextResult = Annotated[
    ItemTaken | QueueEmpty | NotFoundError, strawberry.union("TakeNextResult")
]


@strawberry.input
class QueueRulesInput:
    criteria: QueueCriteriaInput
    sla_minutes: int
    assignment: Assignment = Assignment.MANUAL
    members: list[str] = strawberry.field(default_factory=list)

    def to_domain(self) -> domain.QueueRules:
        return domain.QueueRules(
            self.criteria.to_domain(), self.sla_minutes, self.assignment, tuple(self.members)
        )


@strawberry.input
class DefineQueueInput:
    name: str
    kind: QueueKind
    rules: QueueRulesInput


@strawberry.input
class RedefineQueueInput:
    queue_id: strawberry.ID
    rules: QueueRulesInput


@strawberry.input
class RetireQueueInput:
    queue_id: strawberry.ID
    reason: str


@strawberry.type
class QueueMutations:
    @strawberry.mutation(
        extensions=needs(Permission.QUEUES_MANAGE),
        description="Defines a queue: its criteria, SLA and assignment.",
    )
    async def define_queue(self, info: Info, input: DefineQueueInput) -> QueueResult:
        ctx = info.context
        return await _run(
            lambda: queues.define_queue(
                ctx.alert_desk,
                ctx.tenant_id,
                ctx.actor,
                input.name,
                input.kind,
                input.rules.to_domain(),
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.QUEUES_MANAGE),
        description="Replaces a queue's criteria, SLA, assignment and members.",
    )
    async def redefine_queue(self, info: Info, input: RedefineQueueInput) -> QueueResult:
        ctx, queue_id = info.context, parse_id(input.queue_id)
        if queue_id is None:
            return _not_found(input.queue_id)
        return await _run(
            lambda: queues.redefine_queue(
                ctx.alert_desk, ctx.tenant_id, queue_id, ctx.actor, input.rules.to_domain()
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.QUEUES_MANAGE),
        description="Retires a queue: it lists and hands out nothing more.",
    )
    async def retire_queue(self, info: Info, input: RetireQueueInput) -> QueueResult:
        ctx, queue_id = info.context, parse_id(input.queue_id)
        if queue_id is None:
            return _not_found(input.queue_id)
        return await _run(
            lambda: queues.retire_queue(
                ctx.alert_desk, ctx.tenant_id, queue_id, ctx.actor, input.reason
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_ACT, Permission.CASES_ACT),
        description="Assigns the oldest item waiting in the queue to the caller and returns it; "
        "two analysts asking at once never get the same item.",
    )
    async def take_next(self, info: Info, queue_id: strawberry.ID) -> TakeNextResult:
        ctx, parsed = info.context, parse_id(queue_id)
        if parsed is None:
            return _not_found(queue_id)
        desk, tenant = ctx.alert_desk, ctx.tenant_id
        try:
            taken = await queues.take_next(desk, ctx.queue_board, tenant, parsed, ctx.actor)
        except QueueNotFound as error:
            return NotFoundError(id=queue_id, message=str(error))
        if taken is None:
            return QueueEmpty(queue_id=queue_id, message="nothing waits in this queue")
        if taken.kind is domain.QueueKind.ALERTS:
            alert = await anyio.to_thread.run_sync(desk.get_alert, tenant, taken.id)
            return ItemTaken(alert=Alert.from_aggregate(alert), case=None)
        case = await anyio.to_thread.run_sync(desk.get_case, tenant, taken.id)
        return ItemTaken(alert=None, case=Case.from_aggregate(case))


def _not_found(raw_id: strawberry.ID) -> NotFoundError:
    return NotFoundError(id=raw_id, message=f"queue {raw_id} does not exist")


async def _run(command: Callable[[], domain.Queue]) -> QueueResult:
    try:
        queue = await anyio.to_thread.run_sync(command)
    except QueueNotFound as error:
        return NotFoundError(id=strawberry.ID(str(error.queue_id)), message=str(error))
    except InvalidCommand as error:
        return InvalidInputError(field=error.field, message=error.reason)
    return QueueChanged(queue=Queue.from_aggregate(queue))
