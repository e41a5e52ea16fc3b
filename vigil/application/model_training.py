"""Training as a use case for the API: a model owner names a data file the install keeps for
training, an algorithm and, optionally, a feature pipeline; the order is checked at once and
trained as a job, whose stages and end are recorded on it, and the trained version is registered
on its line with who asked for it."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol
from uuid import UUID

from vigil.domain.training_job import TrainingJob, TrainingOrder

__all__ = ["ModelTraining", "TrainingOrder", "TrainingStage"]


class TrainingStage(StrEnum):
    """The stages a job reports, in the order it reaches them."""

    STARTING = "starting the training process"
    COMPUTING_FEATURES = "computing features"
    """A pipeline's features of the file's records, as the score worker computes them."""
    READING = "reading the file"
    """The file's rows as a matrix (a file trained on without a pipeline)."""
    FITTING = "fitting and exporting to ONNX"
    CHECKING_PARITY = "checking ONNX parity on the hold-out"
    """The exported artifact scores the hold-out, checked against the library's own scores."""
    EVALUATING = "evaluating on the hold-out"
    """Metrics, severity bands and the threshold curve, from the artifact's hold-out scores."""
    STORING = "storing the artifact"
    REGISTERING = "registering"


class ModelTraining(Protocol):
    async def request(self, tenant_id: str, actor: str, order: TrainingOrder) -> TrainingJob:
        """Checks the order and starts its job, returned queued at once. InvalidCommand naming
        the field of an order that is refused before any training (a file that is not in the
        folder, an unknown algorithm, a supervised one without a label, a pipeline that does
        not parse), SourceNotFound for a source the tenant has not registered. What only
        training finds (labels of one class, a column of text) fails the job instead."""
        ...

    async def job(self, tenant_id: str, job_id: UUID) -> TrainingJob | None:
        """The tenant's job as it stands; None for none, and for another tenant's."""
        ...

    async def jobs(self, tenant_id: str, first: int) -> list[TrainingJob]:
        """The tenant's latest `first` jobs, the most recently requested first."""
        ...
