"""Data-source commands: apply YAML documents, replay a source's dead letters."""

from __future__ import annotations

from typing import Annotated

import strawberry

from vigil.application.data_sources import SourceNotFound
from vigil.application.permissions import Permission
from vigil.application.source_desk import DeadLettersUnavailable, DocumentRefused
from vigil.graphql.cases.mutations import NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import Error
from vigil.graphql.permissions import needs
from vigil.graphql.sources.types import DataSource, sources_of


@strawberry.type
class AppliedDataSource:
    data_source: DataSource
    changed: bool = strawberry.field(
        description="False when the document said what the current version says: nothing "
        "was recorded for it."
    )


@strawberry.type(description="Every document of the text was applied.")
class DataSourcesApplied:
    applied: list[AppliedDataSource] = strawberry.field(description="In the text's order.")


@strawberry.type(description="A document of the text cannot be applied; nothing was recorded.")
class InvalidDocumentError(Error):
    field: str = strawberry.field(
        description="The field at fault (`schema.properties.TX_AMOUNT.type`), or `document`."
    )
    line: int | None = strawberry.field(
        description="The line of the text that wrote the field, or the nearest enclosing one; "
        "null when no line can be named."
    )
    document: int = strawberry.field(description="Which document of the text, from 1.")


ApplyDataSourceResult = Annotated[
    DataSourcesApplied | InvalidDocumentError, strawberry.union("ApplyDataSourceResult")
]


@strawberry.type(description="The letters there were have been run through intake again.")
class DeadLettersReplayed:
    source: str
    replayed: int = strawberry.field(description="Passed, and left the dead letters.")
    refused_again: int = strawberry.field(description="Failed again; kept with the new reason.")
    remaining: int = strawberry.field(description="The source's dead letters now.")


@strawberry.type(description="The dead letters are unreachable: the server has not reached NATS.")
class DeadLettersUnavailableError(Error):
    pass


ReplayDeadLettersResult = Annotated[
    DeadLettersReplayed | NotFoundError | DeadLettersUnavailableError,
    strawberry.union("ReplayDeadLettersResult"),
]


@strawberry.type
class SourceMutations:
    @strawberry.mutation(
        extensions=needs(Permission.SOURCES_MANAGE),
        description="Registers or changes the sources a YAML text describes (several documents "
        "separated by `---`); all of them, or none when one is refused.",
    )
    async def apply_data_source(
        self, info: Info, document: str, note: str = ""
    ) -> ApplyDataSourceResult:
        ctx, sources = info.context, sources_of(info)
        try:
            applied = await sources.desk.apply(ctx.tenant_id, ctx.actor, document, note)
        except DocumentRefused as error:
            return InvalidDocumentError(
                message=str(error), field=error.field, line=error.line, document=error.document
            )
        return DataSourcesApplied(
            applied=[
                AppliedDataSource(data_source=DataSource.from_profile(a.profile), changed=a.changed)
                for a in applied
            ]
        )

    @strawberry.mutation(
        extensions=needs(Permission.SOURCES_MANAGE),
        description="Runs the source's dead letters through intake under its current contract "
        "(a letter refused at scoring goes back to the records stream); those that pass leave.",
    )
    async def replay_dead_letters(
        self, info: Info, source_name: Annotated[str, strawberry.argument(name="source")]
    ) -> ReplayDeadLettersResult:
        ctx = info.context
        try:
            outcome = await sources_of(info).desk.replay(ctx.tenant_id, source_name)
        except SourceNotFound as error:
            return NotFoundError(id=strawberry.ID(source_name), message=str(error))
        except DeadLettersUnavailable as error:
            return DeadLettersUnavailableError(message=str(error))
        return DeadLettersReplayed(
            source=source_name,
            replayed=outcome.replayed,
            refused_again=outcome.refused_again,
            remaining=outcome.remaining,
        )
