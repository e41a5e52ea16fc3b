"""Reading escalation policies, from the event store: one applied a moment ago is there."""

from __future__ import annotations

import anyio
import strawberry

from vigil.application.escalation_policies import find_policy, list_policies
from vigil.application.permissions import Permission
from vigil.graphql.context import Info
from vigil.graphql.escalations.types import EscalationPolicy
from vigil.graphql.permissions import needs


@strawberry.type
class EscalationQueries:
    @strawberry.field(
        extensions=needs(Permission.ESCALATIONS_READ),
        description="The caller's escalation policies by name, disabled ones included.",
    )
    async def escalation_policies(self, info: Info) -> list[EscalationPolicy]:
        ctx = info.context
        policies = await anyio.to_thread.run_sync(list_policies, ctx.alert_desk, ctx.tenant_id)
        return [EscalationPolicy.from_aggregate(policy) for policy in policies]

    @strawberry.field(
        extensions=needs(Permission.ESCALATIONS_READ),
        description="One escalation policy of the caller's tenant; null if there is none.",
    )
    async def escalation_policy(self, info: Info, name: str) -> EscalationPolicy | None:
        ctx = info.context
        policy = await anyio.to_thread.run_sync(find_policy, ctx.alert_desk, ctx.tenant_id, name)
        return None if policy is None else EscalationPolicy.from_aggregate(policy)
