"""Reading queues from the queue board."""

from __future__ import annotations

import strawberry

from vigil.application.permissions import Permission
from vigil.graphql.alerts.queries import parse_id
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs
from vigil.graphql.queues.types import Queue


@strawberry.type
class QueueQueries:
    @strawberry.field(
        extensions=needs(Permission.QUEUES_READ),
        description="The caller's queues by name, retired ones included.",
    )
    async def queues(self, info: Info) -> list[Queue]:
        return [
            Queue.from_row(row)
            for row in await info.context.queue_board.queues(info.context.tenant_id)
        ]

    @strawberry.field(
        extensions=needs(Permission.QUEUES_READ),
        description="One queue of the caller's tenant; null if there is none.",
    )
    async def queue(self, info: Info, id: strawberry.ID) -> Queue | None:
        queue_id = parse_id(id)
        if queue_id is None:
            return None
        row = await info.context.queue_board.get(info.context.tenant_id, queue_id)
        return None if row is None else Queue.from_row(row)
