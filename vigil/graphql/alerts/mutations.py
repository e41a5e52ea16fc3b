"""Analyst actions on alerts: one small mutation per AlertDesk command."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
import strawberry

from vigil.domain.errors import DomainError
from vigil.graphql.alerts.errors import (
    AlertAlreadyAcknowledgedError,
    AlertClosedError,
    AlertNotFoundError,
    command_error,
)
from vigil.graphql.alerts.queries import parse_alert_id
from vigil.graphql.alerts.types import Alert
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError


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


@strawberry.type
class AlertMutations:
    @strawberry.mutation(description="Tells the team someone is looking at the alert.")
    async def acknowledge_alert(
        self,
        info: Info,
        input: AcknowledgeAlertInput,
    ) -> AcknowledgeAlertResult:
        alert_id = parse_alert_id(input.alert_id)
        if alert_id is None:
            return InvalidInputError(field="alertId", message="alertId: is not an alert id")
        ctx = info.context
        command = partial(
            ctx.alert_desk.acknowledge, ctx.tenant_id, alert_id, ctx.actor, input.note
        )
        try:
            alert = await anyio.to_thread.run_sync(command)
        except DomainError as error:
            return command_error(input.alert_id, error)
        return AlertAcknowledged(alert=Alert.from_aggregate(alert))
