"""Reading the alert queue: pages of alerts and one alert, from the read model only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from uuid import UUID

import strawberry
from graphql import GraphQLError

from vigil.application.alert_queue import AlertOrder, AlertQueueFilter
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand
from vigil.domain.tags import tag_name
from vigil.graphql.alerts.types import (
    Alert,
    AlertConnection,
    AlertEdge,
    AlertStatus,
    PageInfo,
    Severity,
)
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs
from vigil.graphql.prefetch import selects

MAX_PAGE_SIZE = 500

strawberry.enum(AlertOrder, description="Each order pages by keyset, so any page costs the same.")


def invalid_argument(field: str, reason: str) -> GraphQLError:
    """A refused argument, named in the message and in `extensions.field` for clients."""
    return GraphQLError(
        f"{field}: {reason}", extensions={"code": "INVALID_ARGUMENT", "field": field}
    )


def parse_id(value: str) -> UUID | None:
    """An alert's or a case's id, or None for text that is not one (answered as not found)."""
    try:
        return UUID(value)
    except ValueError:
        return None


@strawberry.input(description="Narrows the queue; every field given must hold.")
class AlertFilterInput:
    source: str | None = None
    assignee: str | None = None
    entity_id: str | None = None
    model_version: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    raised_from: datetime | None = None
    raised_until: datetime | None = None
    tag: str | None = None


async def prefetch_nested(info: Info, alerts: list[Alert]) -> None:
    """The page's cases and record labels, when the query asks for them, in one query each."""
    ctx = info.context
    loading: list[Awaitable[object]] = []
    if selects(info, "edges", "node", "case"):
        loading.append(ctx.cases.load_many({a.case_id for a in alerts if a.case_id is not None}))
    if selects(info, "edges", "node", "latestLabel"):
        labels = [a.record_label_id(ctx.tenant_id) for a in alerts]
        loading.append(ctx.standing_labels.load_many(labels))
    await asyncio.gather(*loading)


@strawberry.type
class AlertQueries:
    @strawberry.field(
        extensions=needs(Permission.ALERTS_READ),
        description="The caller's alert queue, newest first unless ordered.",
    )
    async def alerts(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: AlertStatus | None = None,
        severity: Severity | None = None,
        filter: AlertFilterInput | None = None,
        order_by: AlertOrder = AlertOrder.NEWEST,
    ) -> AlertConnection:
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise invalid_argument("first", f"must be between 1 and {MAX_PAGE_SIZE}, got {first}")
        ctx = info.context
        more = filter or AlertFilterInput()
        try:
            tag = None if more.tag is None else tag_name(more.tag)
        except InvalidCommand as error:
            raise invalid_argument(error.field, error.reason) from None
        where = AlertQueueFilter(
            tenant_id=ctx.tenant_id,
            status=None if status is None else str(status),
            severity=None if severity is None else str(severity),
            source=more.source,
            assignee=more.assignee,
            entity_id=more.entity_id,
            model_version=more.model_version,
            min_score=more.min_score,
            max_score=more.max_score,
            raised_from=more.raised_from,
            raised_until=more.raised_until,
            tag=tag,
        )
        try:
            page = await ctx.alert_queue.page(where, first, after, order_by)
        except InvalidCommand as error:
            raise invalid_argument(error.field, error.reason) from None
        edges = [
            AlertEdge(node=Alert.from_row(row), cursor=cursor)
            for row, cursor in zip(page.rows, page.cursors, strict=True)
        ]
        await prefetch_nested(info, [edge.node for edge in edges])
        return AlertConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total,
        )

    @strawberry.field(
        extensions=needs(Permission.ALERTS_READ),
        description="One alert of the caller's tenant; null if there is none.",
    )
    async def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        alert_id = parse_id(id)
        if alert_id is None:
            return None
        row = await info.context.alert_queue.get(info.context.tenant_id, alert_id)
        return None if row is None else Alert.from_row(row)
