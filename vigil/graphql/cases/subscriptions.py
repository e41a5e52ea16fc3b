"""Changes to cases as they happen, fed from the DOMAIN stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from uuid import UUID

import anyio.to_thread
import strawberry
from strawberry.scalars import JSON

from vigil.application.domain_events import DomainEventNotice
from vigil.application.permissions import Permission
from vigil.domain import case as domain
from vigil.domain.errors import CaseNotFound
from vigil.graphql.alerts.queries import invalid_argument, parse_id
from vigil.graphql.alerts.types import jsonable
from vigil.graphql.cases.types import Case
from vigil.graphql.context import Info
from vigil.graphql.live_events import live_events
from vigil.graphql.permissions import needs


@strawberry.type(description="Something that happened to one of the caller's cases.")
class CaseEvent:
    case_uuid: strawberry.Private[UUID]
    case_id: strawberry.ID
    event: str = strawberry.field(description="The event's name: Opened, Assigned, Closed, ...")
    version: int
    actor: str
    at: datetime
    details: JSON = strawberry.field(description="The event's own fields.")

    @strawberry.field(description="The case as it stands now, from the event store.")
    async def case(self, info: Info) -> Case | None:
        ctx = info.context
        try:
            found = await anyio.to_thread.run_sync(
                ctx.alert_desk.get_case, ctx.tenant_id, self.case_uuid
            )
        except CaseNotFound:
            return None
        return Case.from_aggregate(found)

    @classmethod
    def from_notice(cls, notice: DomainEventNotice) -> CaseEvent:
        return cls(
            case_uuid=notice.aggregate_id,
            case_id=strawberry.ID(str(notice.aggregate_id)),
            event=notice.event,
            version=notice.version,
            actor=notice.actor,
            at=notice.at,
            details=jsonable(notice.data),
        )


@strawberry.type
class CaseSubscriptions:
    @strawberry.subscription(
        extensions=needs(Permission.CASES_READ),
        description="Every change to the caller's cases, or to one case if `caseId` is given.",
    )
    async def case_changed(
        self, info: Info, case_id: strawberry.ID | None = None
    ) -> AsyncGenerator[CaseEvent, None]:
        only = None if case_id is None else parse_id(case_id)
        if case_id is not None and only is None:
            raise invalid_argument("caseId", f"{case_id!r} is not a case id")
        async with live_events(info, domain.Case.__name__) as changes:
            async for notice in changes:
                if only is None or notice.aggregate_id == only:
                    yield CaseEvent.from_notice(notice)
