"""Escalation policy commands: apply YAML documents, disable and enable a policy. They change
who hears of what, so only admins (`escalations:manage`) may."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio
import strawberry

from vigil.application.escalation_policies import (
    PolicyNotFound,
    apply_policy_text,
    disable_policy,
    enable_policy,
)
from vigil.application.permissions import Permission
from vigil.application.source_desk import DocumentRefused
from vigil.domain import escalation_policy as domain
from vigil.domain.errors import InvalidCommand
from vigil.graphql.cases.mutations import NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.escalations.types import EscalationPolicy, policy_documents
from vigil.graphql.permissions import needs
from vigil.graphql.sources.mutations import InvalidDocumentError


@strawberry.type
class AppliedEscalationPolicy:
    policy: EscalationPolicy
    changed: bool = strawberry.field(
        description="False when the document said what the current definition says: nothing "
        "was recorded for it."
    )


@strawberry.type(description="Every document of the text was applied, in one save.")
class EscalationPoliciesApplied:
    applied: list[AppliedEscalationPolicy] = strawberry.field(description="In the text's order.")


ApplyEscalationPolicyResult = Annotated[
    EscalationPoliciesApplied | InvalidDocumentError,
    strawberry.union("ApplyEscalationPolicyResult"),
]


@strawberry.type(description="The policy was disabled or enabled, on the record.")
class EscalationPolicySwitched:
    policy: EscalationPolicy


SwitchEscalationPolicyResult = Annotated[
    EscalationPolicySwitched | NotFoundError | InvalidInputError,
    strawberry.union("SwitchEscalationPolicyResult"),
]


@strawberry.type
class EscalationMutations:
    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="Defines or changes the escalation policies a YAML text describes (several "
        "documents separated by `---`); all of them, or none when one is refused.",
    )
    async def apply_escalation_policy(
        self, info: Info, document: str, note: str = ""
    ) -> ApplyEscalationPolicyResult:
        ctx, documents = info.context, policy_documents(info)
        try:
            applied = await anyio.to_thread.run_sync(
                apply_policy_text,
                ctx.alert_desk,
                documents,
                ctx.tenant_id,
                ctx.actor,
                document,
                note,
            )
        except DocumentRefused as error:
            return InvalidDocumentError(
                message=str(error), field=error.field, line=error.line, document=error.document
            )
        return EscalationPoliciesApplied(
            applied=[
                AppliedEscalationPolicy(
                    policy=EscalationPolicy.from_aggregate(one.policy), changed=one.changed
                )
                for one in applied
            ]
        )

    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="Stops the policy escalating anything; its definition and history stay.",
    )
    async def disable_escalation_policy(
        self, info: Info, name: str, reason: str
    ) -> SwitchEscalationPolicyResult:
        ctx = info.context
        return await _switched(
            lambda: disable_policy(ctx.alert_desk, ctx.tenant_id, ctx.actor, name, reason), name
        )

    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="Puts a disabled policy back to work, for alerts raised since it was defined.",
    )
    async def enable_escalation_policy(
        self, info: Info, name: str, reason: str
    ) -> SwitchEscalationPolicyResult:
        ctx = info.context
        return await _switched(
            lambda: enable_policy(ctx.alert_desk, ctx.tenant_id, ctx.actor, name, reason), name
        )


async def _switched(
    command: Callable[[], domain.EscalationPolicy], name: str
) -> SwitchEscalationPolicyResult:
    try:
        policy = await anyio.to_thread.run_sync(command)
    except PolicyNotFound as error:
        return NotFoundError(id=strawberry.ID(name), message=str(error))
    except InvalidCommand as error:
        # The policy's own state is refused on the argument that names it.
        field = "name" if error.field == "policy" else error.field
        return InvalidInputError(field=field, message=f"{field}: {error.reason}")
    return EscalationPolicySwitched(policy=EscalationPolicy.from_aggregate(policy))
