"""Reading labels: the verdicts that stand, from the read model only."""

from __future__ import annotations

from typing import Annotated

import strawberry

from vigil.application.label_book import LabelFilter
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand
from vigil.graphql.alerts.queries import invalid_argument
from vigil.graphql.context import Info
from vigil.graphql.labels.types import Label, SubjectKind, Verdict
from vigil.graphql.permissions import needs


@strawberry.type
class LabelQueries:
    @strawberry.field(
        extensions=needs(Permission.LABELS_READ),
        description="Standing labels of the caller's tenant, most recent first.",
    )
    async def labels(
        self,
        info: Info,
        first: int = 50,
        source_name: Annotated[str | None, strawberry.argument(name="source")] = None,
        kind: SubjectKind | None = None,
        subject_id: str | None = None,
        verdict: Verdict | None = None,
    ) -> list[Label]:
        where = LabelFilter(
            info.context.tenant_id,
            source=source_name,
            kind=None if kind is None else str(kind),
            subject_id=subject_id,
            verdict=None if verdict is None else str(verdict),
        )
        try:
            rows = await info.context.label_book.find(where, first)
        except InvalidCommand as error:
            raise invalid_argument(error.field, error.reason) from None
        return [Label.from_row(row) for row in rows]
