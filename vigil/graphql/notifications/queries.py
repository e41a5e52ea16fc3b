"""Reading notification subscriptions, from the event store (there are few, and they change
rarely, so no read model)."""

from __future__ import annotations

import anyio.to_thread
import strawberry

from vigil.application.notifications import find_subscription, list_subscriptions
from vigil.application.permissions import Permission
from vigil.graphql.context import Info
from vigil.graphql.notifications.types import NotificationSubscription
from vigil.graphql.permissions import needs


@strawberry.type
class NotificationQueries:
    @strawberry.field(
        extensions=needs(Permission.ESCALATIONS_READ),
        description="The caller's notification subscriptions by name, paused ones included.",
    )
    async def notification_subscriptions(self, info: Info) -> list[NotificationSubscription]:
        ctx = info.context
        found = await anyio.to_thread.run_sync(list_subscriptions, ctx.alert_desk, ctx.tenant_id)
        return [NotificationSubscription.from_domain(s) for s in found]

    @strawberry.field(
        extensions=needs(Permission.ESCALATIONS_READ),
        description="One notification subscription of the caller's tenant; null if none.",
    )
    async def notification_subscription(
        self, info: Info, name: str
    ) -> NotificationSubscription | None:
        ctx = info.context
        found = await anyio.to_thread.run_sync(
            find_subscription, ctx.alert_desk, ctx.tenant_id, name
        )
        return None if found is None else NotificationSubscription.from_domain(found)
