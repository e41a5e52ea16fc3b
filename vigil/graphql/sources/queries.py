"""Reading data sources: the catalogue, one source's contract and history, its dead letters."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError

from vigil.application.data_sources import SourceNotFound
from vigil.application.permissions import Permission
from vigil.application.source_desk import DeadLettersUnavailable
from vigil.graphql.alerts.queries import MAX_PAGE_SIZE, invalid_argument
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs
from vigil.graphql.sources.types import DataSource, DeadLetterPage, sources_of

DEAD_LETTERS_UNAVAILABLE = "DEAD_LETTERS_UNAVAILABLE"


def sequence_after(after: str | None) -> int:
    """A dead-letter cursor: the sequence of the last letter seen."""
    if after is None:
        return 0
    if not after.isdigit():
        raise invalid_argument("after", f"{after!r} is not a dead-letter cursor")
    return int(after)


@strawberry.type
class SourceQueries:
    @strawberry.field(
        extensions=needs(Permission.SOURCES_READ),
        description="The caller's data sources by name.",
    )
    async def data_sources(self, info: Info) -> list[DataSource]:
        ctx = info.context
        return [
            DataSource.from_row(row) for row in await ctx.source_catalogue.sources(ctx.tenant_id)
        ]

    @strawberry.field(
        extensions=needs(Permission.SOURCES_READ),
        description="One data source of the caller's tenant, read from the event store, so a "
        "document applied a moment ago is there; null if there is none.",
    )
    async def data_source(self, info: Info, name: str) -> DataSource | None:
        profile = await sources_of(info).profiles.load(name)
        return None if profile is None else DataSource.from_profile(profile)

    @strawberry.field(
        extensions=needs(Permission.SOURCES_READ),
        description="The records a source refused, oldest first, `first` at a time after the "
        "cursor `after`.",
    )
    async def dead_letters(
        self,
        info: Info,
        source_name: Annotated[str, strawberry.argument(name="source")],
        first: int = 50,
        after: str | None = None,
    ) -> DeadLetterPage:
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise invalid_argument("first", f"must be between 1 and {MAX_PAGE_SIZE}, got {first}")
        sources, start = sources_of(info), sequence_after(after)
        if await sources.profiles.load(source_name) is None:
            raise invalid_argument("source", str(SourceNotFound(source_name)))
        try:
            page = await sources.desk.dead_letters(
                info.context.tenant_id, source_name, start, first
            )
        except DeadLettersUnavailable as error:
            raise GraphQLError(str(error), extensions={"code": DEAD_LETTERS_UNAVAILABLE}) from None
        return DeadLetterPage.from_record(page)
