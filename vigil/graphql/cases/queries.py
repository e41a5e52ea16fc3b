"""Reading cases: the case list and one case, from the read model only."""

from __future__ import annotations

import strawberry

from vigil.application.case_list import CaseListFilter, CaseOrder
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand
from vigil.domain.tags import tag_name
from vigil.graphql.alerts.queries import invalid_argument, parse_id
from vigil.graphql.cases.types import Case, CaseConnection, CaseEdge, CaseStatus, Priority
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs

strawberry.enum(CaseOrder)


@strawberry.type
class CaseQueries:
    @strawberry.field(
        extensions=needs(Permission.CASES_READ),
        description="The caller's cases, newest first unless ordered.",
    )
    async def cases(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: CaseStatus | None = None,
        assignee: str | None = None,
        priority: Priority | None = None,
        tag: str | None = None,
        order_by: CaseOrder = CaseOrder.NEWEST,
    ) -> CaseConnection:
        ctx = info.context
        try:
            where = CaseListFilter(
                ctx.tenant_id,
                status=None if status is None else str(status),
                assignee=assignee,
                priority=None if priority is None else str(priority),
                tag=None if tag is None else tag_name(tag),
            )
            page = await ctx.case_list.page(where, first, after, order_by)
        except InvalidCommand as error:
            raise invalid_argument(error.field, error.reason) from None
        return CaseConnection(
            edges=[
                CaseEdge(node=Case.from_row(row), cursor=cursor)
                for row, cursor in zip(page.rows, page.cursors, strict=True)
            ],
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
            total_count=page.total,
        )

    @strawberry.field(
        extensions=needs(Permission.CASES_READ),
        description="One case of the caller's tenant; null if there is none.",
    )
    async def case(self, info: Info, id: strawberry.ID) -> Case | None:
        case_id = parse_id(id)
        if case_id is None:
            return None
        row = await info.context.case_list.get(info.context.tenant_id, case_id)
        return None if row is None else Case.from_row(row)
