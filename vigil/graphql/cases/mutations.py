"""Casework over GraphQL: open a case from alerts, close it with a disposition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

import anyio.to_thread
import strawberry

from vigil.application.case_files import remove_file
from vigil.application.permissions import Permission
from vigil.domain import case as domain
from vigil.domain.errors import (
    AlertInAnotherCase,
    AlertIsClosed,
    AlertNotFound,
    CaseIsClosed,
    CaseNotFound,
    DomainError,
    IllegalTransition,
    InvalidCommand,
)
from vigil.graphql.alerts.queries import parse_id
from vigil.graphql.cases.types import Case, CaseStatus, Disposition, Priority
from vigil.graphql.context import Info
from vigil.graphql.errors import Error, InvalidInputError
from vigil.graphql.permissions import needs


@strawberry.type(description="No alert or case with this id exists for the caller's tenant.")
class NotFoundError(Error):
    id: strawberry.ID


@strawberry.type(description="The command is not allowed in the state the alert or case is in.")
class NotAllowedError(Error):
    pass


@strawberry.type(description="The command was recorded; the case as it was just saved.")
class CaseChanged:
    case: Case


CaseResult = Annotated[
    CaseChanged | NotFoundError | NotAllowedError | InvalidInputError,
    strawberry.union("CaseResult"),
]


@strawberry.input
class OpenCaseInput:
    alert_ids: list[strawberry.ID]
    title: str
    priority: Priority = Priority.MEDIUM


@strawberry.input
class CloseCaseInput:
    case_id: strawberry.ID
    disposition: Disposition
    summary: str


@strawberry.input
class AssignCaseInput:
    case_id: strawberry.ID
    assignee: str


@strawberry.input
class CommentOnCaseInput:
    case_id: strawberry.ID
    text: str


@strawberry.input
class ChangeCaseStatusInput:
    case_id: strawberry.ID
    status: CaseStatus
    reason: str = ""


@strawberry.input
class CaseAlertInput:
    case_id: strawberry.ID
    alert_id: strawberry.ID


@strawberry.input
class ReopenCaseInput:
    case_id: strawberry.ID
    reason: str


@strawberry.input
class RemoveCaseFileInput:
    case_id: strawberry.ID
    sha256: str
    reason: str


@strawberry.type
class CaseMutations:
    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Opens a case from one or more alerts and links them to it.",
    )
    async def open_case(self, info: Info, input: OpenCaseInput) -> CaseResult:
        alert_ids = [parse_id(a) for a in input.alert_ids]
        if None in alert_ids:
            return InvalidInputError(field="alertIds", message="alertIds: not all are alert ids")
        ctx = info.context
        return await _run(
            lambda: ctx.alert_desk.open_case(
                ctx.tenant_id,
                ctx.actor,
                input.title,
                input.priority,
                [a for a in alert_ids if a is not None],
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Closes a case with a disposition; confirmed fraud and false positives "
        "label the records of its alerts in the same command.",
    )
    async def close_case(self, info: Info, input: CloseCaseInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.case_id,
            lambda case_id: ctx.alert_desk.close_case(
                ctx.tenant_id, case_id, ctx.actor, input.disposition, input.summary
            ),
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT), description="Hands the case to an analyst."
    )
    async def assign_case(self, info: Info, input: AssignCaseInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.case_id,
            lambda case_id: ctx.alert_desk.assign_case(
                ctx.tenant_id, case_id, ctx.actor, input.assignee
            ),
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT), description="Adds a note to the case's record."
    )
    async def comment_on_case(self, info: Info, input: CommentOnCaseInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.case_id,
            lambda case_id: ctx.alert_desk.comment_on_case(
                ctx.tenant_id, case_id, ctx.actor, input.text
            ),
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Moves the case along open -> investigating <-> pending_info; closing has "
        "closeCase.",
    )
    async def change_case_status(self, info: Info, input: ChangeCaseStatusInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.case_id,
            lambda case_id: ctx.alert_desk.change_case_status(
                ctx.tenant_id, case_id, ctx.actor, input.status, input.reason
            ),
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Adds an alert to the case and links it there.",
    )
    async def attach_alert_to_case(self, info: Info, input: CaseAlertInput) -> CaseResult:
        return await _on_case_alert(input, info.context.alert_desk.attach_alert, info)

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Takes an alert out of the case; the case keeps at least one.",
    )
    async def detach_alert_from_case(self, info: Info, input: CaseAlertInput) -> CaseResult:
        return await _on_case_alert(input, info.context.alert_desk.detach_alert, info)

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Takes a file off the case's list; the log keeps that it was there, and why "
        "it went. Files are attached with POST /api/v1/cases/{id}/files.",
    )
    async def remove_case_file(self, info: Info, input: RemoveCaseFileInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.case_id,
            lambda case_id: remove_file(
                ctx.alert_desk, ctx.tenant_id, case_id, ctx.actor, input.sha256, input.reason
            ),
        )

    @strawberry.mutation(
        extensions=needs(Permission.CASES_ACT),
        description="Reopens a closed case for more investigation.",
    )
    async def reopen_case(self, info: Info, input: ReopenCaseInput) -> CaseResult:
        ctx = info.context
        return await _on_case(
            input.case_id,
            lambda case_id: ctx.alert_desk.reopen_case(
                ctx.tenant_id, case_id, ctx.actor, input.reason
            ),
        )


async def _on_case_alert(
    input: CaseAlertInput, command: Callable[[str, UUID, str, UUID], domain.Case], info: Info
) -> CaseResult:
    alert_id = parse_id(input.alert_id)
    if alert_id is None:
        return NotFoundError(id=input.alert_id, message=f"alert {input.alert_id} does not exist")
    ctx = info.context
    return await _on_case(
        input.case_id, lambda case_id: command(ctx.tenant_id, case_id, ctx.actor, alert_id)
    )


async def _on_case(raw_id: strawberry.ID, command: Callable[[UUID], domain.Case]) -> CaseResult:
    case_id = parse_id(raw_id)
    if case_id is None:
        return NotFoundError(id=raw_id, message=f"case {raw_id} does not exist")
    return await _run(lambda: command(case_id))


async def _run(command: Callable[[], domain.Case]) -> CaseResult:
    try:
        case = await anyio.to_thread.run_sync(command)
    except DomainError as error:
        return _typed_error(error)
    return CaseChanged(case=Case.from_aggregate(case))


def _typed_error(error: DomainError) -> NotFoundError | NotAllowedError | InvalidInputError:
    match error:
        case AlertNotFound(alert_id=missing) | CaseNotFound(case_id=missing):
            return NotFoundError(id=strawberry.ID(str(missing)), message=str(error))
        case InvalidCommand():
            return InvalidInputError(field=error.field, message=error.reason)
        case AlertInAnotherCase() | AlertIsClosed() | CaseIsClosed() | IllegalTransition():
            return NotAllowedError(message=str(error))
    raise error
