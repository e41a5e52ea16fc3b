"""The TrainingJob aggregate: a model owner's order to train a model, and what became of it.

A job is requested with its order (the file, the algorithm, the label, the pipeline document,
the settings) and the server process that will run it; it waits queued until a training slot is
free, is started, reaches its stages one after another, and ends once: succeeded, with the
version it registered on its line, or failed, with the part of the order at fault where there is
one and the reason. Nothing follows the end: a job interrupted by a restart is failed, and a new
order is a new job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from vigil.domain.errors import DomainError
from vigil.domain.model_line import line_name
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text, required_text


class TrainingStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TrainingJobNotFound(DomainError):
    def __init__(self, job_id: object) -> None:
        super().__init__(f"training job {job_id} does not exist")
        self.job_id = job_id


class TrainingJobFinished(DomainError):
    """A job ends once; nothing is recorded on it after it succeeded or failed."""


class TrainingJobNotRunning(DomainError):
    """Stages and success belong to a started job; a queued job has neither yet."""


@dataclass(frozen=True)
class TrainingOrder:
    """What a model owner asks to train: a file of the install's training folder by its name
    (`VIGIL_TRAINING_DIR`), an algorithm and, optionally, a feature pipeline document."""

    source: str
    data: str
    algorithm: str = "isolation_forest"
    label: str | None = None
    model_line: str | None = None
    """None until the order is checked; the job's order always names its line."""
    pipeline: str | None = None
    """A feature pipeline document (YAML) whose features the model reads."""
    alert_rate: float = 0.005
    holdout: float = 0.2
    n_estimators: int | None = None
    amount: str | None = None
    """A column of money, for the threshold curve's amounts caught and missed."""
    stored_labels: bool = False
    """Learn from the verdicts the event store holds on the file's records, over the label
    column (a record with neither is genuine); pipelines only, which know records by id."""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TrainingOrder:
        return cls(**body)


@dataclass(frozen=True)
class TrainingStep:
    stage: str
    at: datetime


@dataclass(frozen=True)
class TrainingFailure:
    field: str | None
    """The part of the order at fault (`label`, `data`, `pipeline.features[2]`); None when the
    order is not to blame (the server stopped, the training process died)."""
    reason: str


class TrainingJob(Aggregate):
    """One order to train, from its request to its one end."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Requested(Event, Aggregate.Created):
        order: dict[str, Any]
        runner: str
        """The server process that runs the job, as `host:pid`."""

    def __init__(self, tenant_id: str, actor: str, order: dict[str, Any], runner: str) -> None:
        self.tenant_id = tenant_id
        self.requested_by = actor
        self.order = TrainingOrder.from_json(order)
        self.runner = runner
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.stages: list[TrainingStep] = []
        self.failure: TrainingFailure | None = None
        self.registered_version: str | None = None
        """The artifact's sha256 registered on the order's line, once succeeded."""
        self.new_version: bool | None = None
        """False when the line held those bytes already, so nothing new was registered."""

    @classmethod
    def request(
        cls,
        job_id: UUID,
        tenant_id: str,
        actor: str,
        at: datetime,
        order: TrainingOrder,
        runner: str,
    ) -> TrainingJob:
        """The order as checked, its line named (`model_line` is required here)."""
        checked = TrainingOrder(
            **{
                **order.to_json(),
                "source": required_text("source", order.source),
                "data": required_text("data", order.data),
                "algorithm": required_text("algorithm", order.algorithm),
                "model_line": line_name("model_line", order.model_line or ""),
                "note": bounded_text("note", order.note),
            }
        )
        return cls._create(
            cls.Requested,
            id=job_id,
            timestamp=at,
            tenant_id=required_text("tenant_id", tenant_id),
            actor=required_text("actor", actor),
            order=checked.to_json(),
            runner=required_text("runner", runner),
        )

    @property
    def requested_at(self) -> datetime:
        return self.created_on

    @property
    def status(self) -> TrainingStatus:
        if self.failure is not None:
            return TrainingStatus.FAILED
        if self.registered_version is not None:
            return TrainingStatus.SUCCEEDED
        if self.started_at is not None:
            return TrainingStatus.RUNNING
        return TrainingStatus.QUEUED

    @property
    def stage(self) -> str | None:
        """The latest stage reached; None until the first."""
        return self.stages[-1].stage if self.stages else None

    @property
    def finished(self) -> bool:
        return self.status in (TrainingStatus.SUCCEEDED, TrainingStatus.FAILED)

    # Invariants -------------------------------------------------------------------------------

    def check_unfinished(self) -> None:
        if self.finished:
            raise TrainingJobFinished(f"training job {self.id} has {self.status} already")

    def check_running(self) -> None:
        self.check_unfinished()
        if self.status is not TrainingStatus.RUNNING:
            raise TrainingJobNotRunning(f"training job {self.id} is {self.status}, not running")

    # Commands ---------------------------------------------------------------------------------

    def start(self, actor: str, at: datetime) -> None:
        self.check_unfinished()
        if self.status is not TrainingStatus.QUEUED:
            raise TrainingJobNotRunning(f"training job {self.id} was started already")
        self.trigger_event(self.Started, **self._stamp(actor, at))

    def reach(self, actor: str, at: datetime, stage: str) -> None:
        self.check_running()
        self.trigger_event(
            self.StageReached, **self._stamp(actor, at), stage=required_text("stage", stage)
        )

    def succeed(self, actor: str, at: datetime, version: str, new: bool) -> None:
        self.check_running()
        self.trigger_event(
            self.Succeeded,
            **self._stamp(actor, at),
            model_line=self.order.model_line,
            version=required_text("version", version),
            new=new,
        )

    def fail(self, actor: str, at: datetime, field: str | None, reason: str) -> None:
        """Queued or running, for the order's fault (`field`) or for none (an interruption)."""
        self.check_unfinished()
        self.trigger_event(self.Failed, **self._stamp(actor, at, reason), field=field)

    def _stamp(self, actor: str, at: datetime, reason: str | None = None) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at, reason)

    # Events -----------------------------------------------------------------------------------

    class Started(Event):
        def apply(self, job: TrainingJob) -> None:
            job.started_at = self.timestamp

    class StageReached(Event):
        stage: str

        def apply(self, job: TrainingJob) -> None:
            job.stages.append(TrainingStep(self.stage, self.timestamp))

    class Succeeded(Event):
        model_line: str
        version: str
        new: bool

        def apply(self, job: TrainingJob) -> None:
            job.registered_version, job.new_version = self.version, self.new
            job.finished_at = self.timestamp

    class Failed(Event):
        field: str | None
        reason: str

        def apply(self, job: TrainingJob) -> None:
            job.failure = TrainingFailure(self.field, self.reason)
            job.finished_at = self.timestamp
