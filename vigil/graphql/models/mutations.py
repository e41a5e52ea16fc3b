"""Model line commands: promote a version to shadow or champion, demote it, retire it, change
its threshold; each recorded with who and why, and in force from the scorers' next batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio.to_thread
import strawberry

from vigil.application import model_lines
from vigil.application.permissions import Permission
from vigil.domain import model_line as domain
from vigil.domain.errors import (
    IllegalModelStage,
    InvalidCommand,
    ModelLineNotFound,
    ModelVersionNotFound,
)
from vigil.domain.severity import SeverityBands
from vigil.graphql.cases.mutations import NotAllowedError, NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.models.types import ModelLine, ModelStage
from vigil.graphql.permissions import needs


@strawberry.type(description="The command was recorded; the line as it was just saved.")
class ModelLineChanged:
    model_line: ModelLine


ModelLineResult = Annotated[
    ModelLineChanged | NotFoundError | NotAllowedError | InvalidInputError,
    strawberry.union("ModelLineResult"),
]


@strawberry.input
class ModelVersionInput:
    line: str
    version: str = strawberry.field(description="The artifact's sha256.")
    reason: str


@strawberry.input
class PromoteModelInput:
    line: str
    version: str
    stage: ModelStage = ModelStage.CHAMPION
    reason: str


@strawberry.input
class ModelThresholdInput:
    line: str
    version: str
    threshold: float
    high: float
    critical: float
    reason: str


@strawberry.type
class ModelMutations:
    @strawberry.mutation(
        extensions=needs(Permission.MODELS_PROMOTE),
        description="Into shadow, or to champion from the scorers' next batch; a new champion "
        "sends the one it replaces back to registered in the same event.",
    )
    async def promote_model_version(self, info: Info, input: PromoteModelInput) -> ModelLineResult:
        return await _moved(info, input.line, input.version, input.stage, input.reason)

    @strawberry.mutation(
        extensions=needs(Permission.MODELS_PROMOTE),
        description="A champion or shadow back to registered; demoting the champion leaves the "
        "line's source waiting for one.",
    )
    async def demote_model_version(self, info: Info, input: ModelVersionInput) -> ModelLineResult:
        registered = ModelStage.REGISTERED
        return await _moved(info, input.line, input.version, registered, input.reason)

    @strawberry.mutation(
        extensions=needs(Permission.MODELS_PROMOTE),
        description="Retires a version for good.",
    )
    async def retire_model_version(self, info: Info, input: ModelVersionInput) -> ModelLineResult:
        retired = ModelStage.RETIRED
        return await _moved(info, input.line, input.version, retired, input.reason)

    @strawberry.mutation(
        extensions=needs(Permission.MODELS_PROMOTE),
        description="Changes the score at which a version alerts, and its severity bands.",
    )
    async def change_model_threshold(
        self, info: Info, input: ModelThresholdInput
    ) -> ModelLineResult:
        ctx = info.context
        bands = SeverityBands(input.threshold, input.high, input.critical)
        return await _run(
            input.line,
            lambda: model_lines.change_threshold(
                ctx.alert_desk, ctx.tenant_id, ctx.actor, input.line, input.version, bands,
                input.reason,
            ),
        )  # fmt: skip


async def _moved(
    info: Info, line: str, version: str, stage: domain.ModelStage, reason: str
) -> ModelLineResult:
    ctx = info.context
    return await _run(
        line,
        lambda: model_lines.move_version(
            ctx.alert_desk, ctx.tenant_id, ctx.actor, line, version, stage, reason
        ),
    )


async def _run(line: str, command: Callable[[], domain.ModelLine]) -> ModelLineResult:
    try:
        saved = await anyio.to_thread.run_sync(command)
    except (ModelLineNotFound, ModelVersionNotFound) as error:
        return NotFoundError(id=strawberry.ID(line), message=str(error))
    except IllegalModelStage as error:
        return NotAllowedError(message=str(error))
    except InvalidCommand as error:
        return InvalidInputError(field=error.field, message=error.reason)
    return ModelLineChanged(model_line=ModelLine.from_aggregate(saved))
