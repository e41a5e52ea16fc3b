"""A training order checked before it is queued: every refusal that can be known without
training (a file that is not in the training folder, an unknown algorithm or source, a setting
out of range, a supervised algorithm without a label, a label the file's header lacks, a
pipeline that does not parse or is of another source, a line of another source) comes back at
once, naming the field; the order that passes becomes the work a training process is sent."""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, replace
from pathlib import Path

from vigil.application.alert_desk import AlertDesk
from vigil.application.data_sources import CompiledContract, ContractBook
from vigil.application.model_lines import find_model_line
from vigil.domain.errors import InvalidCommand
from vigil.domain.model_line import line_name
from vigil.domain.training_job import TrainingOrder
from vigil.infrastructure.detector_training import (
    TrainingError,
    TrainingRequest,
    check_request,
)
from vigil.infrastructure.pipeline_matrix import parsed_pipeline
from vigil.infrastructure.record_files import is_gzip
from vigil.infrastructure.training.trainers import trainer_for
from vigil.infrastructure.training_process import TrainingWork
from vigil.infrastructure.yaml_documents import DocumentError


@dataclass(frozen=True)
class OrderChecks:
    desk: AlertDesk
    contracts: ContractBook
    folder: Path
    """The training folder: orders name its files, never a path."""
    models: Path
    token_key: bytes
    read_model_url: str
    """Where the label book is, for orders that learn from the event store's verdicts."""

    def work(self, tenant_id: str, order: TrainingOrder) -> tuple[TrainingOrder, TrainingWork]:
        """The order with its line named, and the work to train it; InvalidCommand naming the
        field at fault, SourceNotFound for a source the tenant has not registered. Blocking."""
        request = TrainingRequest(
            source=order.source,
            data=self._data(order.data),
            model_line=order.model_line,
            label=order.label,
            alert_rate=order.alert_rate,
            n_estimators=order.n_estimators,
            algorithm=order.algorithm,
            holdout=order.holdout,
            amount=order.amount,
        )
        try:
            check_request(request)  # what training checks first, checked before it is queued
        except TrainingError as error:
            raise InvalidCommand(error.field, str(error)) from None
        compiled = self.contracts.contract(tenant_id, order.source)
        if order.stored_labels and order.pipeline is None:
            reason = "needs a pipeline: the event store knows records by their ids"
            raise InvalidCommand("stored_labels", reason)
        if trainer_for(order.algorithm).supervised and not (order.label or order.stored_labels):
            reason = f"{order.algorithm} learns from labels: name the column, or use stored labels"
            raise InvalidCommand("label", reason)
        if order.pipeline is None:
            _check_header(request.data, {"label": order.label, "amount": order.amount})
        else:
            _check_pipeline(order, order.pipeline, compiled)
        line = self._line(tenant_id, request.line, order.source)
        work = TrainingWork(
            request=replace(request, model_line=line),
            models=self.models,
            folder=self.folder,
            tenant_id=tenant_id,
            pipeline=order.pipeline,
            contract=None if order.pipeline is None else compiled.contract,
            contract_version=compiled.version,
            token_key=self.token_key,
            read_model_url=self.read_model_url if order.stored_labels else None,
        )
        return replace(order, model_line=line), work

    def _data(self, name: str) -> Path:
        # A name, not a path: nobody reads a file outside the training folder through the API.
        if not name or Path(name).name != name or name.startswith("."):
            raise InvalidCommand("data", "the name of a file in the training folder, no path")
        path = self.folder / name
        if not path.is_file():
            raise InvalidCommand("data", f"{name!r} is not in the training folder")
        return path

    def _line(self, tenant_id: str, name: str, source: str) -> str:
        name = line_name("model_line", name)
        line = find_model_line(self.desk, tenant_id, name)
        if line is not None and line.source != source:
            reason = f"the line {name} scores {line.source}, not {source}"
            raise InvalidCommand("model_line", reason)
        return name


def _check_pipeline(order: TrainingOrder, text: str, compiled: CompiledContract) -> None:
    try:
        if parsed_pipeline(text, "pipeline").source != order.source:
            raise InvalidCommand("pipeline", f"is not of source {order.source!r}")
        pipeline = parsed_pipeline(text, "pipeline", compiled.contract)
    except DocumentError as error:
        raise InvalidCommand(f"pipeline.{error.field or 'document'}", str(error)) from None
    if order.label is None and pipeline.label_steps:
        raise InvalidCommand("label", "is required: the pipeline's label windows read labels")


def _check_header(data: Path, named: dict[str, str | None]) -> None:
    """A column named by a field of the order (the label, the amount) that the CSV file's
    header lacks; a file that cannot be read as CSV is for training to refuse, with the reason
    its reader gives."""
    if not any(named.values()):
        return
    columns = _header(data)
    for field, column in named.items():
        if columns is not None and column is not None and column not in columns:
            reason = f"column {column!r} is not in the file (columns: {', '.join(columns)})"
            raise InvalidCommand(field, reason)


def _header(data: Path) -> list[str] | None:
    try:
        if is_gzip(data):
            with gzip.open(data, "rt", encoding="utf-8", newline="") as compressed:
                return next(csv.reader(compressed), [])
        with data.open(encoding="utf-8", newline="") as plain:
            return next(csv.reader(plain), [])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error):
        return None
