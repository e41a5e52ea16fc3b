"""Giving and revoking verdicts on records and entities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio.to_thread
import strawberry

from vigil.application.permissions import Permission
from vigil.domain import label as domain
from vigil.domain.errors import InvalidCommand, LabelNotApplied
from vigil.graphql.cases.mutations import NotAllowedError
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.labels.types import Label, LabelSource, SubjectKind, Verdict
from vigil.graphql.permissions import needs


@strawberry.type(description="The verdict was recorded, or revoked.")
class LabelChanged:
    label: Label


LabelResult = Annotated[
    LabelChanged | NotAllowedError | InvalidInputError, strawberry.union("LabelResult")
]


@strawberry.input
class LabelSubjectInput:
    source: str
    kind: SubjectKind
    subject_id: str


@strawberry.input
class LabelInput:
    subject: LabelSubjectInput
    verdict: Verdict
    label_source: LabelSource = LabelSource.ANALYST
    note: str = ""


@strawberry.input
class RevokeLabelInput:
    subject: LabelSubjectInput
    reason: str


@strawberry.type
class LabelMutations:
    @strawberry.mutation(
        extensions=needs(Permission.LABELS_WRITE),
        description="Gives a verdict on a record or an entity; the latest wins.",
    )
    async def label_subject(self, info: Info, input: LabelInput) -> LabelResult:
        ctx = info.context
        subject = (input.subject.source, input.subject.kind, input.subject.subject_id)
        provenance = {"note": input.note} if input.note else {}
        return await _run(
            lambda: ctx.alert_desk.label(
                ctx.tenant_id, ctx.actor, subject, input.verdict, input.label_source, provenance
            )
        )

    @strawberry.mutation(
        extensions=needs(Permission.LABELS_WRITE),
        description="Withdraws the standing verdict, with the reason.",
    )
    async def revoke_label(self, info: Info, input: RevokeLabelInput) -> LabelResult:
        ctx = info.context
        subject = (input.subject.source, input.subject.kind, input.subject.subject_id)
        return await _run(
            lambda: ctx.alert_desk.revoke_label(ctx.tenant_id, ctx.actor, subject, input.reason)
        )


async def _run(command: Callable[[], domain.Label]) -> LabelResult:
    try:
        label = await anyio.to_thread.run_sync(command)
    except InvalidCommand as error:
        return InvalidInputError(field=error.field, message=error.reason)
    except LabelNotApplied as error:
        return NotAllowedError(message=str(error))
    return LabelChanged(label=Label.from_aggregate(label))
