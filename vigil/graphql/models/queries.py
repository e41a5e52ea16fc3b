"""Reading model lines from the event store: each line whole, and its history."""

from __future__ import annotations

from typing import Annotated, cast

import anyio.to_thread
import strawberry

from vigil.application.model_lines import ModelLineDirectory, find_model_line
from vigil.application.permissions import Permission
from vigil.domain import model_line as domain
from vigil.graphql.context import Info
from vigil.graphql.models.types import ModelComparison, ModelLine, ModelLineChange
from vigil.graphql.permissions import needs


@strawberry.type
class ModelQueries:
    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="The tenant's model lines (of one source), by name.",
    )
    async def model_lines(
        self,
        info: Info,
        source_name: Annotated[str | None, strawberry.argument(name="source")] = None,
    ) -> list[ModelLine]:
        ctx = info.context

        def listed() -> list[domain.ModelLine]:
            directory = ModelLineDirectory(ctx.alert_desk)
            directory.refresh()
            return directory.lines(ctx.tenant_id, source_name)

        return [ModelLine.from_aggregate(line) for line in await anyio.to_thread.run_sync(listed)]

    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="One model line by name; null if the tenant has none of that name.",
    )
    async def model_line(self, info: Info, name: str) -> ModelLine | None:
        ctx = info.context
        found = await anyio.to_thread.run_sync(find_model_line, ctx.alert_desk, ctx.tenant_id, name)
        return None if found is None else ModelLine.from_aggregate(found)

    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="The line's shadows against its champion: what each alerted on among the "
        "records both scored, as the monitor worker has counted so far.",
    )
    async def model_comparisons(self, info: Info, line: str) -> list[ModelComparison]:
        ctx = info.context
        found = await ctx.comparisons.comparisons(ctx.tenant_id, line)
        return [ModelComparison.from_application(comparison) for comparison in found]

    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="Everything recorded on a model line, oldest first: who, when and why.",
    )
    async def model_line_history(self, info: Info, name: str) -> list[ModelLineChange]:
        ctx = info.context

        def history() -> list[ModelLineChange]:
            line = find_model_line(ctx.alert_desk, ctx.tenant_id, name)
            if line is None:
                return []
            return [
                _change(cast(domain.ModelLine.Event, e)) for e in ctx.alert_desk.events.get(line.id)
            ]

        return await anyio.to_thread.run_sync(history)


def _change(event: domain.ModelLine.Event) -> ModelLineChange:
    return ModelLineChange(
        event=type(event).__name__,
        version=getattr(event, "version", None),
        actor=event.actor,
        at=event.timestamp,
        reason=str(getattr(event, "reason", "") or getattr(event, "note", "")),
    )
