"""Revealing an alert's personal fields in clear: a permission of its own, and on the record."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import strawberry
from strawberry.scalars import JSON

from vigil.application.permissions import Permission
from vigil.domain.errors import DomainError
from vigil.graphql.alerts.errors import AlertNotFoundError, command_error
from vigil.graphql.alerts.queries import parse_id
from vigil.graphql.alerts.types import jsonable
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.permissions import needs


@strawberry.input
class RevealPersonalDataInput:
    alert_id: strawberry.ID
    fields: list[str] = strawberry.field(description="The personal fields of the record to see.")
    reason: str = strawberry.field(description="Why, for the record: a reveal is audited.")


@strawberry.type(description="The fields in clear; who saw them and why is on the timeline.")
class PersonalDataRevealed:
    alert_id: strawberry.ID
    values: JSON


RevealPersonalDataResult = Annotated[
    PersonalDataRevealed | AlertNotFoundError | InvalidInputError,
    strawberry.union("RevealPersonalDataResult"),
]


@strawberry.type
class PersonalDataMutations:
    @strawberry.mutation(
        extensions=needs(Permission.ALERTS_READ, Permission.PII_REVEAL),
        description="Shows personal fields of an alert's record in clear and records a "
        "PiiRevealed event with who, which fields and why.",
    )
    async def reveal_personal_data(
        self, info: Info, input: RevealPersonalDataInput
    ) -> RevealPersonalDataResult:
        alert_id = parse_id(input.alert_id)
        if alert_id is None:
            return InvalidInputError(field="alertId", message="alertId: is not an alert id")
        ctx = info.context
        try:
            values = await anyio.to_thread.run_sync(
                ctx.alert_desk.reveal_personal_data,
                ctx.tenant_id,
                alert_id,
                ctx.actor,
                input.fields,
                input.reason,
            )
        except DomainError as error:
            refused = command_error(input.alert_id, error)
            assert isinstance(refused, AlertNotFoundError | InvalidInputError)  # nothing else
            return refused
        return PersonalDataRevealed(alert_id=input.alert_id, values=jsonable(values))
