"""Training a model over GraphQL, as a job: a model owner names a file of the training folder,
an algorithm and, optionally, a feature pipeline; the order is checked at once and the job
answered queued, to be followed by `trainingJob(id)` until it has succeeded (with the version
it registered) or failed (with the field at fault and why)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from vigil.application.data_sources import SourceNotFound
from vigil.application.permissions import Permission
from vigil.domain import training_job as domain
from vigil.domain.errors import InvalidCommand
from vigil.graphql.alerts.queries import invalid_argument, parse_id
from vigil.graphql.cases.mutations import NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import Error, InvalidInputError
from vigil.graphql.permissions import needs

MAX_JOBS = 100

TrainingJobStatus = domain.TrainingStatus
strawberry.enum(
    TrainingJobStatus,
    name="TrainingJobStatus",
    description="Queued until a training slot is free; a job ends once, succeeded or failed.",
)


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
    amount: str | None = strawberry.field(
        default=None,
        description="A column of money at stake, for the threshold curve's amounts caught and "
        "missed (the file's own values, with or without a pipeline).",
    )
    stored_labels: bool = strawberry.field(
        default=False,
        description="Learn from the verdicts the event store holds on the file's records, over "
        "the label column (a record with neither is genuine); with a pipeline only.",
    )
    note: str = ""


@strawberry.type(description="A stage a training job reached, and when.")
class TrainingJobStage:
    stage: str
    at: datetime


@strawberry.type(description="Why a training job failed.")
class TrainingFailure:
    field: str | None = strawberry.field(
        description="The part of the order at fault; null when the order is not to blame "
        "(the server stopped while it trained)."
    )
    message: str


@strawberry.type(description="An order to train a model, and what became of it.")
class TrainingJob:
    id: strawberry.ID
    status: TrainingJobStatus
    stage: str | None = strawberry.field(description="The latest stage reached.")
    stages: list[TrainingJobStage] = strawberry.field(description="Every stage, oldest first.")
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    source: str
    data: str
    algorithm: str
    label: str | None
    model_line: str = strawberry.field(description="The line the version is registered on.")
    pipeline: str | None = strawberry.field(description="The pipeline document, as given.")
    alert_rate: float
    holdout: float
    n_estimators: int | None
    amount: str | None
    stored_labels: bool
    note: str
    error: TrainingFailure | None = strawberry.field(description="Why it failed, once failed.")
    version: str | None = strawberry.field(
        description="The registered artifact's sha256, once succeeded; read it on its line."
    )
    new_version: bool | None = strawberry.field(
        description="False when the line held these bytes already."
    )

    @classmethod
    def from_aggregate(cls, job: domain.TrainingJob) -> TrainingJob:
        order, failure = job.order, job.failure
        return cls(
            id=strawberry.ID(str(job.id)),
            status=job.status,
            stage=job.stage,
            stages=[TrainingJobStage(stage=s.stage, at=s.at) for s in job.stages],
            requested_by=job.requested_by,
            requested_at=job.requested_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            source=order.source,
            data=order.data,
            algorithm=order.algorithm,
            label=order.label,
            model_line=order.model_line or "",
            pipeline=order.pipeline,
            alert_rate=order.alert_rate,
            holdout=order.holdout,
            n_estimators=order.n_estimators,
            amount=order.amount,
            stored_labels=order.stored_labels,
            note=order.note,
            error=None
            if failure is None
            else TrainingFailure(field=failure.field, message=failure.reason),
            version=job.registered_version,
            new_version=job.new_version,
        )


@strawberry.type(description="This server was started without training.")
class TrainingUnavailableError(Error):
    pass


TrainModelResult = Annotated[
    TrainingJob | InvalidInputError | NotFoundError | TrainingUnavailableError,
    strawberry.union("TrainModelResult"),
]


@strawberry.type
class TrainingMutations:
    @strawberry.mutation(
        extensions=needs(Permission.MODELS_TRAIN),
        description="Checks the order and starts a job training a model of one of the five "
        "algorithms, answered queued at once; once trained, the version is registered on its "
        "line, and a line's first version becomes its champion.",
    )
    async def train_model(self, info: Info, input: TrainModelInput) -> TrainModelResult:
        ctx = info.context
        if ctx.training is None:
            return TrainingUnavailableError(message="this server trains no models")
        order = domain.TrainingOrder(
            source=input.source,
            data=input.data,
            algorithm=input.algorithm,
            label=input.label,
            model_line=input.model_line,
            pipeline=input.pipeline,
            alert_rate=input.alert_rate,
            holdout=input.holdout,
            n_estimators=input.n_estimators,
            amount=input.amount,
            stored_labels=input.stored_labels,
            note=input.note,
        )
        try:
            job = await ctx.training.request(ctx.tenant_id, ctx.actor, order)
        except SourceNotFound as error:
            return NotFoundError(id=strawberry.ID(error.name), message=str(error))
        except InvalidCommand as error:
            return InvalidInputError(field=error.field, message=error.reason)
        return TrainingJob.from_aggregate(job)


@strawberry.type
class TrainingQueries:
    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="One training job of the tenant; null if it has none of that id.",
    )
    async def training_job(self, info: Info, id: strawberry.ID) -> TrainingJob | None:
        ctx, job_id = info.context, parse_id(id)
        if ctx.training is None or job_id is None:
            return None
        job = await ctx.training.job(ctx.tenant_id, job_id)
        return None if job is None else TrainingJob.from_aggregate(job)

    @strawberry.field(
        extensions=needs(Permission.MODELS_READ),
        description="The tenant's latest training jobs, the most recently requested first.",
    )
    async def training_jobs(self, info: Info, first: int = 20) -> list[TrainingJob]:
        if not 1 <= first <= MAX_JOBS:
            raise invalid_argument("first", f"must be between 1 and {MAX_JOBS}, got {first}")
        ctx = info.context
        if ctx.training is None:
            return []
        jobs = await ctx.training.jobs(ctx.tenant_id, first)
        return [TrainingJob.from_aggregate(job) for job in jobs]
