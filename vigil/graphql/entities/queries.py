"""One entity's alerts, cases and labels, gathered from the read models."""

from __future__ import annotations

from typing import Annotated

import strawberry

from vigil.application.alert_queue import AlertQueueFilter
from vigil.application.label_book import LabelFilter
from vigil.application.permissions import Permission
from vigil.domain.label import SubjectKind
from vigil.graphql.alerts.types import Alert
from vigil.graphql.cases.types import Case
from vigil.graphql.context import Info
from vigil.graphql.entities.types import Entity, EntitySummary
from vigil.graphql.labels.types import Label
from vigil.graphql.permissions import needs

MAX_ALERTS_SHOWN = 500


@strawberry.type
class EntityQueries:
    @strawberry.field(
        extensions=needs(Permission.ALERTS_READ),
        description="One entity of the caller's tenant; null if nothing is known.",
    )
    async def entity(
        self,
        info: Info,
        id: str,
        source_name: Annotated[str | None, strawberry.argument(name="source")] = None,
    ) -> Entity | None:
        ctx, source = info.context, source_name
        where = AlertQueueFilter(ctx.tenant_id, entity_id=id, source=source)
        page = await ctx.alert_queue.page(where, MAX_ALERTS_SHOWN, None)
        records = {row.record_id for row in page.rows}
        found = LabelFilter(ctx.tenant_id, source=source, subject_ids=(id, *records))
        labels = [
            row
            for row in await ctx.label_book.find(found, MAX_ALERTS_SHOWN)
            if (row.kind, row.subject_id in records) == (SubjectKind.RECORD, True)
            or (row.kind, row.subject_id) == (SubjectKind.ENTITY, id)
        ]
        if not page.rows and not labels:
            return None
        case_ids = list({row.case_id for row in page.rows if row.case_id is not None})
        cases = await ctx.case_list.get_many(ctx.tenant_id, case_ids)
        summaries = await ctx.entity_summaries.of(ctx.tenant_id, id, source)
        return Entity(
            id=id,
            alert_count=page.total,
            alerts=[Alert.from_row(row) for row in page.rows],
            cases=[Case.from_row(row) for row in cases],
            labels=[Label.from_row(row) for row in labels],
            summary=EntitySummary.from_rows(summaries),
        )
