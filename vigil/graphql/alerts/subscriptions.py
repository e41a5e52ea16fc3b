"""New alerts as they are raised, fed from the DOMAIN stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio.to_thread
import strawberry

from vigil.application.permissions import Permission
from vigil.domain import alert as domain
from vigil.graphql.alerts.types import Alert, Severity
from vigil.graphql.context import Info
from vigil.graphql.live_events import live_events
from vigil.graphql.permissions import needs

SEVERITY_ORDER = (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


def at_least(severity: str, minimum: Severity | None) -> bool:
    if minimum is None:
        return True
    return SEVERITY_ORDER.index(Severity(severity)) >= SEVERITY_ORDER.index(minimum)


@strawberry.type
class AlertSubscriptions:
    @strawberry.subscription(
        extensions=needs(Permission.ALERTS_READ),
        description="The caller's alerts as they are raised (at or above `minSeverity` if "
        "given), each as it stands when delivered.",
    )
    async def alert_raised(
        self, info: Info, min_severity: Severity | None = None
    ) -> AsyncGenerator[Alert, None]:
        ctx = info.context
        async with live_events(info, domain.Alert.__name__, domain.Alert.Raised.__name__) as raised:
            async for notice in raised:
                if not at_least(notice.data["severity"], min_severity):
                    continue
                alert = await anyio.to_thread.run_sync(
                    ctx.alert_desk.get_alert, ctx.tenant_id, notice.aggregate_id
                )
                yield Alert.from_aggregate(alert)
