"""Training as a use case for the API: a model owner names a data file the install keeps for
training, an algorithm and, optionally, a feature pipeline; the trained version is registered on
its line with who asked for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vigil.application.model_lines import Registered


@dataclass(frozen=True)
class TrainingOrder:
    source: str
    data: str
    """A file's name in the install's training folder (`VIGIL_TRAINING_DIR`)."""
    algorithm: str = "isolation_forest"
    label: str | None = None
    model_line: str | None = None
    pipeline: str | None = None
    """A feature pipeline document (YAML) whose features the model reads."""
    alert_rate: float = 0.005
    holdout: float = 0.2
    n_estimators: int | None = None
    note: str = ""


class ModelTraining(Protocol):
    async def train(self, tenant_id: str, actor: str, order: TrainingOrder) -> Registered:
        """Trains, evaluates, stores and registers; InvalidCommand naming the field of an order
        that cannot give a trustworthy model (a file that is not there, a column that is not
        in it, labels of one class), SourceNotFound for a pipeline of an unknown source."""
        ...
