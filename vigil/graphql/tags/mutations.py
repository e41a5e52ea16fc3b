"""Tagging alerts and cases: short labels analysts group and find their work by."""

from __future__ import annotations

import strawberry

from vigil.application.permissions import Permission
from vigil.domain import alert as alert_domain
from vigil.graphql.alerts.errors import AlertCommandError
from vigil.graphql.alerts.mutations import AlertChanged, AlertResult, _on_alert
from vigil.graphql.alerts.types import Alert
from vigil.graphql.cases.mutations import CaseResult, _on_case
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs


@strawberry.input
class TagInput:
    id: strawberry.ID = strawberry.field(description="The alert or case to tag.")
    tag: str = strawberry.field(
        description="1-40 letters, digits, ':', '_' or '-'; stored in lower case."
    )


@strawberry.type
class TagMutations:
    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_ACT),
        description="Puts a tag on an alert, open or closed.",
    )
    async def tag_alert(self, info: Info, input: TagInput) -> AlertResult:
        ctx = info.context
        return _alert_result(
            await _on_alert(
                input.id,
                lambda alert_id: ctx.alert_desk.tag(ctx.tenant_id, alert_id, ctx.actor, input.tag),
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_ACT), description="Takes a tag off an alert."
    )
    async def untag_alert(self, info: Info, input: TagInput) -> AlertResult:
        ctx = info.context
        return _alert_result(
            await _on_alert(
                input.id,
                lambda alert_id: ctx.alert_desk.untag(
                    ctx.tenant_id, alert_id, ctx.actor, input.tag
                ),
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT), description="Puts a tag on a case, open or closed."
    )
    async def tag_case(self, info: Info, input: TagInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.id,
            lambda case_id: ctx.alert_desk.tag_case(ctx.tenant_id, case_id, ctx.actor, input.tag),
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT), description="Takes a tag off a case."
    )
    async def untag_case(self, info: Info, input: TagInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.id,
            lambda case_id: ctx.alert_desk.untag_case(ctx.tenant_id, case_id, ctx.actor, input.tag),
        )


def _alert_result(done: alert_domain.Alert | AlertCommandError) -> AlertResult:
    if isinstance(done, alert_domain.Alert):
        return AlertChanged(alert=Alert.from_aggregate(done))
    return done
