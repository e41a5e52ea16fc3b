"""Data sources as the API shows them: the catalogue's row, and on demand the whole contract,
its history from the event store and what the source refused."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from vigil.application import source_desk as application
from vigil.application.source_catalogue import SourceRow
from vigil.domain import source_contract as domain
from vigil.graphql.alerts.types import PageInfo, jsonable
from vigil.graphql.context import Info
from vigil.graphql.sources.loaders import SourceContext

SourceType = domain.SourceType
strawberry.enum(SourceType, description="How a source's records reach Vigil.")

UNAVAILABLE = "SOURCES_UNAVAILABLE"


def sources_of(info: Info) -> SourceContext:
    """The request's data-source use cases, or an error on the field for a server without."""
    sources = info.context.sources
    if sources is None:
        raise GraphQLError(
            "data sources are not served by this server", extensions={"code": UNAVAILABLE}
        )
    return sources


@strawberry.type(description="One version of a source's contract, as its event records it.")
class ContractChange:
    contract_version: int
    event: str
    actor: str
    at: datetime
    note: str
    contract: JSON = strawberry.field(description="The whole document of this version.")

    @classmethod
    def from_record(cls, change: application.ContractChange) -> ContractChange:
        return cls(
            contract_version=change.contract_version,
            event=change.event,
            actor=change.actor,
            at=change.at,
            note=change.note,
            contract=jsonable(dict(change.contract)),
        )


@strawberry.type(description="A source of records and the contract its records are held to.")
class DataSource:
    name: str
    source_type: SourceType
    description: str
    contract_version: int
    registered_by: str
    registered_at: datetime
    changed_by: str
    changed_at: datetime
    profile: strawberry.Private[application.SourceProfile | None] = None

    @classmethod
    def from_row(cls, row: SourceRow) -> DataSource:
        return cls(
            name=row.name,
            source_type=SourceType(row.source_type),
            description=row.description,
            contract_version=row.contract_version,
            registered_by=row.registered_by,
            registered_at=row.registered_at,
            changed_by=row.changed_by,
            changed_at=row.changed_at,
        )

    @classmethod
    def from_profile(cls, profile: application.SourceProfile) -> DataSource:
        source = profile.source
        return cls(
            name=source.name,
            source_type=source.contract.source_type,
            description=source.contract.description,
            contract_version=source.contract_version,
            registered_by=source.registered_by,
            registered_at=profile.registered_at,
            changed_by=source.changed_by,
            changed_at=profile.changed_at,
            profile=profile,
        )

    async def _profile(self, info: Info) -> application.SourceProfile:
        if self.profile is None:
            self.profile = await sources_of(info).profiles.load(self.name)
        if self.profile is None:
            raise GraphQLError(f"the data source {self.name!r} is not in the event store")
        return self.profile

    @strawberry.field(
        description="Where records keep their id, entity and event time, what is "
        "dropped, and how they arrive."
    )
    async def config(self, info: Info) -> JSON:
        return jsonable(dict((await self._profile(info)).source.contract.config))

    @strawberry.field(name="schema", description="The JSON Schema every record is checked against.")
    async def record_schema(self, info: Info) -> JSON:
        return jsonable(dict((await self._profile(info)).source.contract.schema))

    @strawberry.field(description="Fields replaced by tokens before a record leaves intake.")
    async def pii_fields(self, info: Info) -> list[str]:
        return list((await self._profile(info)).source.contract.pii_fields)

    @strawberry.field(
        description="The current contract as a YAML document that "
        "`applyDataSource` takes back (comments are not kept)."
    )
    async def document(self, info: Info) -> str:
        profile = await self._profile(info)
        return sources_of(info).desk.document_text(profile.source.contract)

    @strawberry.field(
        description="Every version of the contract, oldest first, with who "
        "applied it, when and why."
    )
    async def history(self, info: Info) -> list[ContractChange]:
        return [ContractChange.from_record(c) for c in (await self._profile(info)).history]

    @strawberry.field(
        description="How many refused records wait in the source's dead letters; "
        "null while they are unreachable (the server has not reached NATS)."
    )
    async def dead_letter_count(self, info: Info) -> int | None:
        return await sources_of(info).dead_letter_counts.load(self.name)


@strawberry.type(description="A record the source refused, kept with the reason.")
class DeadLetter:
    sequence: int = strawberry.field(description="Its place in the dead letters; a cursor.")
    field: str
    reason: str
    stage: str = strawberry.field(description="`ingest` (the contract) or `score` (the model).")
    origin: str = strawberry.field(description="A file and line, a request, a topic.")
    stored_at: datetime
    size: int = strawberry.field(description="The body's size in bytes.")
    body: JSON | None = strawberry.field(
        description="The record as it was refused, its personal fields tokens (and masked "
        "where the install masks fields); null for bytes that were never a record, which "
        "could not be tokenised and so are not shown."
    )

    @classmethod
    def from_record(cls, letter: application.ShownDeadLetter) -> DeadLetter:
        return cls(
            sequence=letter.sequence,
            field=letter.field,
            reason=letter.reason,
            stage=letter.stage,
            origin=letter.origin,
            stored_at=letter.stored_at,
            size=letter.size,
            body=None if letter.body is None else jsonable(dict(letter.body)),
        )


@strawberry.type(description="A page of a source's dead letters, oldest first.")
class DeadLetterPage:
    letters: list[DeadLetter]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_record(cls, page: application.DeadLetterPage) -> DeadLetterPage:
        letters = [DeadLetter.from_record(letter) for letter in page.letters]
        end = str(letters[-1].sequence) if letters else None
        return cls(
            letters=letters,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=end),
            total_count=page.total,
        )
