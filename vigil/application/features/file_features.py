"""A feature pipeline's training set from a record file, by the path records take online.

The file's rows go through intake under the source's contract, exactly as `vigil ingest` admits
them (checked, personal fields tokenised, dropped fields removed), but into memory instead of
onto the stream; then through the window store and the pipeline in file order, the way the score
worker computes features as the records arrive. A model trained on this set reads, when it
scores, the very features it was trained on.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

from vigil.application.data_sources import ContractBook
from vigil.application.features.fitting import FittedPipeline
from vigil.application.features.training import TrainingMatrix, training_matrix, window_input
from vigil.application.features.windows import WindowInput
from vigil.application.ingestion import BrokenRow, FileIngestion, Row, ingest_rows, row_place
from vigil.application.intake import Intake, identity_text
from vigil.application.ports import Clock, DeadLetter
from vigil.application.records import RecordEnvelope
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.pseudonyms import Pseudonymiser


@dataclass(frozen=True)
class FileFeatures:
    matrix: TrainingMatrix
    labels: list[int] | None
    """The label of each row of the matrix, when a label column was named."""
    read: int
    refused: Counter[str] = field(default_factory=Counter)
    """Rows the contract refused, by `field: reason`: they would have been dead letters."""
    amounts: list[float] | None = None
    """The money at stake on each row of the matrix, when an amount column was named: for the
    threshold curve's costs, read as the file gives it, before any scaling."""


_Noted = TypeVar("_Noted")


class _Kept:
    """Intake's publisher and dead letters, keeping the records in memory, each with its label
    when the file gives one, and counting the refusals."""

    def __init__(self, labels: Mapping[str, int]) -> None:
        self.inputs: list[WindowInput] = []
        self.refused: Counter[str] = Counter()
        self.labels = labels
        """Filled as intake reads the rows, so it holds every published record's label."""

    async def publish(self, envelopes: Sequence[RecordEnvelope]) -> None:
        for envelope in envelopes:
            item = window_input(envelope, self.labels.get(envelope.record_id))
            if item is not None:  # intake gives every envelope an event time
                self.inputs.append(item)

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        self.refused.update(f"{letter.field}: {letter.reason}" for letter in letters)


async def file_features(
    pipeline: FeaturePipeline,
    rows: Iterable[Row],
    file: FileIngestion,
    contracts: ContractBook,
    pseudonymiser: Pseudonymiser,
    clock: Clock,
    *,
    label: str | None = None,
    amount: str | None = None,
    fitted: FittedPipeline | None = None,
) -> FileFeatures:
    """The pipeline's matrix of the file's rows, fitted on them unless `fitted` is given.

    `label` names a 0/1 column read from each row before intake (a contract usually drops the
    ground truth); InvalidCommand names the line of a row whose label is missing or not 0/1.
    Label windows read it too: each record's label is known from the start, and their delay
    alone keeps a record from reading labels that would not have been known when it arrived.
    `amount` names a column of money (a number, 0 or more, on every row), read the same way.
    """
    if label is None and pipeline.label_steps:
        raise InvalidCommand("label", "is required: the pipeline's label windows read labels")
    compiled = await anyio.to_thread.run_sync(contracts.contract, file.tenant_id, file.source)
    labels: dict[str, int] = {}
    kept = _Kept(labels)
    intake = Intake(contracts, pseudonymiser, kept, kept, clock)
    amounts: dict[str, tuple[object, str]] = {}
    id_field = compiled.contract.record_id_field
    if label is not None:
        rows = _noted(
            rows, id_field, file.origin, labels, lambda row, where: _label(row, label, where)
        )
    if amount is not None:
        rows = _noted(
            rows, id_field, file.origin, amounts, lambda row, where: (row.get(amount), where)
        )
    report = await ingest_rows(rows, file, intake)
    matrix = await training_matrix(pipeline, kept.inputs, fitted=fitted)
    return FileFeatures(
        matrix=matrix,
        labels=None if label is None else [labels[i] for i in matrix.record_ids],
        # Only the rows intake admitted: a refused row's amount may be what refused it.
        amounts=None
        if amount is None
        else [_amount(amount, *amounts[i]) for i in matrix.record_ids],
        read=report.read,
        refused=kept.refused,
    )


def _noted(
    rows: Iterable[Row],
    id_field: str | None,
    origin: str,
    noted: dict[str, _Noted],
    read: Callable[[Mapping[str, Any], str], _Noted],
) -> Iterator[Row]:
    """The rows unchanged, what `read` takes of each kept by the record id intake will give it
    (`read` is given the row and where it sits in the file)."""
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, BrokenRow):
            # Intake's record id: the id field's value, or where the row sits in the file.
            where = row_place(origin, number)
            record_id = identity_text(row.get(id_field)) if id_field else where
            if record_id is not None:
                noted[record_id] = read(row, where)
        yield row


def _label(row: Mapping[str, Any], label: str, where: str) -> int:
    value = row.get(label)
    if isinstance(value, str):
        value = value.strip()
    if value in (0, 1, "0", "1") and not isinstance(value, bool | float):
        return int(value)
    raise InvalidCommand(label, f"must be 0 or 1 on every row; {where} has {value!r}")


def _amount(amount: str, value: object, where: str) -> float:
    money = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):  # not a number: refused below
            money = float(value)
    if not math.isfinite(money) or money < 0:
        reason = f"must be a number, 0 or more, on every row; {where} has {value!r}"
        raise InvalidCommand(amount, reason)
    return money
