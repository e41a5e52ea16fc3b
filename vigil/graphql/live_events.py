"""Following the DOMAIN stream from a subscription: the caller's tenant only, or a clear error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from graphql import GraphQLError

from vigil.application.domain_events import DomainEventNotice, DomainEventsUnavailable
from vigil.graphql.context import Info

UNAVAILABLE = "LIVE_UPDATES_UNAVAILABLE"


@asynccontextmanager
async def live_events(
    info: Info, aggregate: str, event: str = "*"
) -> AsyncIterator[AsyncIterator[DomainEventNotice]]:
    """The caller's tenant's notices from now on; never another tenant's."""
    ctx = info.context
    if ctx.domain_events is None:
        raise GraphQLError(
            "live updates are unavailable: this server runs without NATS JetStream",
            extensions={"code": UNAVAILABLE},
        )
    try:
        async with ctx.domain_events.follow(ctx.tenant_id, aggregate, event) as notices:
            yield notices
    except DomainEventsUnavailable as error:
        raise GraphQLError(str(error), extensions={"code": UNAVAILABLE}) from None
