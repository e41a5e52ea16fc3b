"""Training a model over GraphQL: a model owner names a file of the training folder, an
algorithm and, optionally, a feature pipeline; the answer is the version as registered. The
request lasts as long as the training does (seconds to a few minutes)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from vigil.application.data_sources import SourceNotFound
from vigil.application.model_training import TrainingOrder
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand
from vigil.graphql.cases.mutations import NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import Error, InvalidInputError
from vigil.graphql.models.types import ModelLine, ModelVersion
from vigil.graphql.permissions import needs


@strawberry.input
class TrainModelInput:
    source: str
    data: str = strawberry.field(description="A file's name in the install's training folder.")
    algorithm: str = "isolation_forest"
    label: str | None = strawberry.field(
        default=None, description="The 0/1 column supervised algorithms learn from."
    )
    model_line: str | None = None
    pipeline: str | None = strawberry.field(
        default=None, description="A feature pipeline document (YAML) to train on its output."
    )
    alert_rate: float = 0.005
    holdout: float = 0.2
    n_estimators: int | None = None
    note: str = ""


@strawberry.type(description="Trained, evaluated on its hold-out, stored and registered.")
class ModelTrained:
    model_line: ModelLine
    version: ModelVersion
    new: bool = strawberry.field(description="False when the line held these bytes already.")


@strawberry.type(description="This server was started without training.")
class TrainingUnavailableError(Error):
    pass


TrainModelResult = Annotated[
    ModelTrained | InvalidInputError | NotFoundError | TrainingUnavailableError,
    strawberry.union("TrainModelResult"),
]


@strawberry.type
class TrainingMutations:
    @strawberry.mutation(
        extensions=needs(Permission.MODELS_TRAIN),
        description="Trains a model of one of the five algorithms and registers the version on "
        "its line; a line's first version becomes its champion.",
    )
    async def train_model(self, info: Info, input: TrainModelInput) -> TrainModelResult:
        ctx = info.context
        if ctx.training is None:
            return TrainingUnavailableError(message="this server trains no models")
        order = TrainingOrder(
            source=input.source,
            data=input.data,
            algorithm=input.algorithm,
            label=input.label,
            model_line=input.model_line,
            pipeline=input.pipeline,
            alert_rate=input.alert_rate,
            holdout=input.holdout,
            n_estimators=input.n_estimators,
            note=input.note,
        )
        try:
            registered = await ctx.training.train(ctx.tenant_id, ctx.actor, order)
        except SourceNotFound as error:
            return NotFoundError(id=strawberry.ID(error.name), message=str(error))
        except InvalidCommand as error:
            return InvalidInputError(field=error.field, message=error.reason)
        return ModelTrained(
            model_line=ModelLine.from_aggregate(registered.line),
            version=ModelVersion.from_domain(registered.version),
            new=registered.new,
        )
