"""Analyst actions on alerts: one small mutation per AlertDesk command."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import strawberry

from vigil.application.alert_desk import AlertDesk, BulkOutcome
from vigil.application.permissions import Permission
from vigil.domain import alert as domain
from vigil.domain.errors import DomainError
from vigil.graphql.alerts.errors import (
    AlertAlreadyAcknowledgedError,
    AlertClosedError,
    AlertCommandError,
    AlertNotFoundError,
    command_error,
)
from vigil.graphql.alerts.queries import parse_id
from vigil.graphql.alerts.types import Alert
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.permissions import needs


@strawberry.input
class AcknowledgeAlertInput:
    alert_id: strawberry.ID
    note: str = ""


@strawberry.type(description="The alert was acknowledged; it shows the state just saved.")
class AlertAcknowledged:
    alert: Alert


AcknowledgeAlertResult = Annotated[
    AlertAcknowledged
    | AlertNotFoundError
    | AlertClosedError
    | AlertAlreadyAcknowledgedError
    | InvalidInputError,
    strawberry.union("AcknowledgeAlertResult"),
]


@strawberry.type(description="The command was recorded; the alert as it was just saved.")
class AlertChanged:
    alert: Alert


AlertResult = Annotated[
    AlertChanged
    | AlertNotFoundError
    | AlertClosedError
    | AlertAlreadyAcknowledgedError
    | InvalidInputError,
    strawberry.union("AlertResult"),
]


@strawberry.input
class AlertActionInput:
    alert_id: strawberry.ID
    text: str = strawberry.field(
        description="The assignee, the comment, or the reason, as the action needs."
    )


@strawberry.enum
class AlertAction(Enum):
    ASSIGN = "assign"
    COMMENT = "comment"
    ESCALATE = "escalate"
    DISMISS = "dismiss"
    RESOLVE = "resolve"
    REOPEN = "reopen"


@strawberry.enum
class BulkAlertAction(Enum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    DISMISS = "dismiss"


ALERT_COMMANDS: dict[AlertAction, Callable[[AlertDesk], Callable[[str, UUID, str, str], Any]]] = {
    AlertAction.ASSIGN: lambda desk: desk.assign,
    AlertAction.COMMENT: lambda desk: desk.comment,
    AlertAction.ESCALATE: lambda desk: desk.escalate,
    AlertAction.DISMISS: lambda desk: desk.dismiss,
    AlertAction.RESOLVE: lambda desk: desk.resolve,
    AlertAction.REOPEN: lambda desk: desk.reopen,
}

BULK_COMMANDS: dict[BulkAlertAction, Callable[[AlertDesk], Callable[..., BulkOutcome]]] = {
    BulkAlertAction.ACKNOWLEDGE: lambda desk: desk.acknowledge_many,
    BulkAlertAction.ASSIGN: lambda desk: desk.assign_many,
    BulkAlertAction.DISMISS: lambda desk: desk.dismiss_many,
}


@strawberry.type
class Refusal:
    alert_id: strawberry.ID
    message: str


@strawberry.type(description="What a bulk command changed, and why it left each of the others.")
class BulkAlertResult:
    applied: list[strawberry.ID]
    refused: list[Refusal]


@strawberry.type
class AlertMutations:
    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_ACT),
        description="Tells the team someone is looking at the alert.",
    )
    async def acknowledge_alert(
        self,
        info: Info,
        input: AcknowledgeAlertInput,
    ) -> AcknowledgeAlertResult:
        ctx = info.context
        done = await _on_alert(
            input.alert_id,
            lambda alert_id: ctx.alert_desk.acknowledge(
                ctx.tenant_id, alert_id, ctx.actor, input.note
            ),
        )
        return (
            AlertAcknowledged(alert=Alert.from_aggregate(done))
            if isinstance(done, domain.Alert)
            else done
        )

    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_ACT),
        description="One analyst action on an alert: assign (text is the assignee), comment, "
        "escalate, dismiss, resolve or reopen (text is the reason).",
    )
    async def act_on_alert(
        self, info: Info, action: AlertAction, input: AlertActionInput
    ) -> AlertResult:
        ctx = info.context
        desk_command = ALERT_COMMANDS[action](ctx.alert_desk)
        done = await _on_alert(
            input.alert_id,
            lambda alert_id: desk_command(ctx.tenant_id, alert_id, ctx.actor, input.text),
        )
        return (
            AlertChanged(alert=Alert.from_aggregate(done))
            if isinstance(done, domain.Alert)
            else done
        )

    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_ACT),
        description="Acknowledges, assigns (text is the assignee) or dismisses (text is the "
        "reason) many alerts in one command; an alert that refuses is named with the reason.",
    )
    async def act_on_alerts(
        self, info: Info, action: BulkAlertAction, alert_ids: list[strawberry.ID], text: str = ""
    ) -> BulkAlertResult:
        parsed = {raw: parse_id(raw) for raw in alert_ids}
        unknown = [
            Refusal(alert_id=raw, message="not an alert id")
            for raw, a in parsed.items()
            if a is None
        ]
        ids = [a for a in parsed.values() if a is not None]
        ctx = info.context
        bulk_command = BULK_COMMANDS[action](ctx.alert_desk)
        command = partial(bulk_command, ctx.tenant_id, ids, ctx.actor, text)
        outcome = await anyio.to_thread.run_sync(command)
        refused = [
            Refusal(alert_id=strawberry.ID(str(a)), message=m) for a, m in outcome.refused.items()
        ]
        return BulkAlertResult(
            applied=[strawberry.ID(str(a)) for a in outcome.applied], refused=unknown + refused
        )


async def _on_alert(
    raw_id: strawberry.ID, command: Callable[[UUID], domain.Alert]
) -> domain.Alert | AlertCommandError:
    """Runs one AlertDesk command off the event loop; a refusal comes back as a typed error."""
    alert_id = parse_id(raw_id)
    if alert_id is None:
        return InvalidInputError(field="alertId", message="alertId: is not an alert id")
    try:
        return await anyio.to_thread.run_sync(command, alert_id)
    except DomainError as error:
        return command_error(raw_id, error)
