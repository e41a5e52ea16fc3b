"""Escalation policies as the API shows them: the current definition, whether it is at work,
and its history from the event store."""

from __future__ import annotations

from datetime import datetime

import anyio
import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from vigil.application.escalation_policies import PolicyDocuments
from vigil.application.policy_history import PolicyChange, policy_history
from vigil.domain import escalation_policy as domain
from vigil.graphql.alerts.types import jsonable
from vigil.graphql.context import Info

UNAVAILABLE = "POLICY_DOCUMENTS_UNAVAILABLE"


def policy_documents(info: Info) -> PolicyDocuments:
    """The server's YAML reader (the one source documents use: the same lines and fields), or
    an error on the field for a server built without it."""
    sources = info.context.sources
    if sources is None:
        raise GraphQLError(
            "policy documents are not read by this server", extensions={"code": UNAVAILABLE}
        )
    return sources.desk.documents


@strawberry.type(description="When a policy's step fires, and whom it tells.")
class EscalationStep:
    after: str = strawberry.field(
        description="The delay since the alert was raised (or reopened): `15m`, `1h30m`."
    )
    after_minutes: int
    notify: list[str] = strawberry.field(description="Channels or subscriber groups.")
    repeat_every: str | None = strawberry.field(
        description="Told again this long after the step's last notification; null if never."
    )
    repeat_times: int | None = strawberry.field(description="How many repeats at most.")

    @classmethod
    def from_step(cls, step: domain.Step) -> EscalationStep:
        repeat = step.repeat
        return cls(
            after=domain.duration_text(step.after_minutes),
            after_minutes=step.after_minutes,
            notify=list(step.notify),
            repeat_every=None if repeat is None else domain.duration_text(repeat.every_minutes),
            repeat_times=None if repeat is None else repeat.times,
        )


@strawberry.type(description="A change to a policy, as its event records it.")
class EscalationPolicyChange:
    event: str = strawberry.field(description="Defined, Changed, Disabled or Enabled.")
    actor: str
    at: datetime
    why: str = strawberry.field(
        description="The note of a definition or change; the reason of a disabling or enabling."
    )
    revision: int = strawberry.field(description="The definition's revision after the change.")

    @classmethod
    def from_record(cls, change: PolicyChange) -> EscalationPolicyChange:
        return cls(
            event=change.event,
            actor=change.actor,
            at=change.at,
            why=change.why,
            revision=change.revision,
        )


@strawberry.type(
    description="Whom to tell about which alerts, after how long, and what stops it. A policy "
    "watches the alerts of its tenant raised since it was defined."
)
class EscalationPolicy:
    name: str
    description: str
    enabled: bool
    revision: int
    defined_by: str
    defined_at: datetime
    changed_by: str
    changed_at: datetime
    steps: list[EscalationStep] = strawberry.field(description="In the order they fire.")
    stop_when: list[str] = strawberry.field(
        description="What ends an alert's escalation; resolved and dismissed always do."
    )
    definition: JSON = strawberry.field(
        description="The whole definition, as a document `applyEscalationPolicy` takes back."
    )

    @classmethod
    def from_aggregate(cls, policy: domain.EscalationPolicy) -> EscalationPolicy:
        definition = policy.definition
        return cls(
            name=policy.name,
            description=definition.description,
            enabled=policy.enabled,
            revision=policy.revision,
            defined_by=policy.defined_by,
            defined_at=policy.created_on,
            changed_by=policy.changed_by,
            changed_at=policy.modified_on,
            steps=[EscalationStep.from_step(step) for step in definition.steps],
            stop_when=[str(s) for s in domain.StopCondition if s in definition.stop_when],
            definition=jsonable(definition.to_document()),
        )

    @strawberry.field(description="Every change, oldest first, with who made it, when and why.")
    async def history(self, info: Info) -> list[EscalationPolicyChange]:
        ctx = info.context
        changes = await anyio.to_thread.run_sync(
            policy_history, ctx.alert_desk, ctx.tenant_id, self.name
        )
        return [EscalationPolicyChange.from_record(c) for c in changes]
