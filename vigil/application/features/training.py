"""Features offline and online, by one path: the records through a window store, each row with its
time features, then the fitted steps. Training reads a file's records in file order, as if they
arrived so, through the in-process store; scoring reads the stream through the shared one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from vigil.application.detection import Rejection
from vigil.application.features.fitting import FittedPipeline, fit
from vigil.application.features.window_history import InProcessWindowStore
from vigil.application.features.windows import WindowInput, WindowStore
from vigil.application.records import RecordEnvelope
from vigil.domain.feature_pipeline import FeaturePipeline


def feature_row(
    pipeline: FeaturePipeline, item: WindowInput, windows: Mapping[str, float | None]
) -> dict[str, Any]:
    """The record's fields with its window features and its event time's features merged in:
    what `fit` learns from and `FittedPipeline.transform` reads."""
    row = dict(item.record)
    row.update(windows)
    for step in pipeline.time_steps:
        row.update(step.compute(item.at))
    return row


@dataclass(frozen=True)
class TrainingMatrix:
    names: tuple[str, ...]
    rows: list[list[float]]
    record_ids: list[str]
    """The record of each row, to join labels by."""
    rejections: list[tuple[str, Rejection]]
    """Records left out, by record id, with the feature that kept each out."""
    fitted: FittedPipeline = field(repr=False)


def _batches(records: Iterable[WindowInput], size: int) -> Iterator[list[WindowInput]]:
    stream = iter(records)
    while batch := list(islice(stream, size)):
        yield batch


async def training_matrix(
    pipeline: FeaturePipeline,
    records: Iterable[WindowInput],
    *,
    store: WindowStore | None = None,
    fitted: FittedPipeline | None = None,
    batch_size: int = 1000,
) -> TrainingMatrix:
    """The model's input for every record, in arrival order. The pipeline is fitted on these
    rows unless `fitted` is given (to rebuild the matrix a stored model was trained on, or to
    backtest one); the store defaults to a fresh in-process one."""
    if fitted is not None and fitted.pipeline != pipeline:
        raise ValueError("the fitted pipeline was fitted for another pipeline document")
    store = InProcessWindowStore() if store is None else store
    ids, rows = [], []
    for batch in _batches(records, batch_size):
        windows = await store.observe(pipeline, batch)
        for item, features in zip(batch, windows, strict=True):
            ids.append(item.record_id)
            rows.append(feature_row(pipeline, item, features))
    fitted = fit(pipeline, rows) if fitted is None else fitted
    matrix = TrainingMatrix(fitted.feature_names, [], [], [], fitted)
    for record_id, row in zip(ids, rows, strict=True):
        vector = fitted.transform(row)
        if isinstance(vector, Rejection):
            matrix.rejections.append((record_id, vector))
        else:
            matrix.rows.append(vector)
            matrix.record_ids.append(record_id)
    return matrix


NO_EVENT_TIME = Rejection("occurred_at", "the record has no event time to end its windows at")


def window_input(envelope: RecordEnvelope, label: int | None = None) -> WindowInput | None:
    """The envelope as the window stores see it, its event time where its windows end; None
    without one (intake always gives one: the arrival time when the contract names none)."""
    if envelope.occurred_at is None:
        return None
    return WindowInput(
        tenant_id=envelope.tenant_id,
        source=envelope.source,
        record_id=envelope.record_id,
        at=envelope.occurred_at.timestamp(),
        record=envelope.data,
        label=label,
    )


@dataclass(frozen=True)
class FeatureRow:
    """One record's features: the row rules read (its fields with its window and time features),
    and the model's input made of it, or why there is none."""

    row: Mapping[str, Any]
    vector: list[float] | Rejection


class OnlineFeatures:
    """Feature vectors for records as they arrive: their windows from the store, then the
    pipeline as fitted when the model was trained."""

    def __init__(self, fitted: FittedPipeline, store: WindowStore) -> None:
        self.fitted = fitted
        self.store = store

    async def rows(self, batch: Sequence[WindowInput]) -> list[FeatureRow]:
        pipeline = self.fitted.pipeline
        windows = await self.store.observe(pipeline, batch)
        features = []
        for item, window in zip(batch, windows, strict=True):
            row = feature_row(pipeline, item, window)
            features.append(FeatureRow(row, self.fitted.transform(row)))
        return features

    async def vectors(self, batch: Sequence[WindowInput]) -> list[list[float] | Rejection]:
        return [features.vector for features in await self.rows(batch)]

    async def of_envelopes(self, envelopes: Sequence[RecordEnvelope]) -> list[FeatureRow]:
        """One per envelope, in order; one without an event time has no windows to read."""
        inputs = [window_input(e) for e in envelopes]
        computed = iter(await self.rows([i for i in inputs if i is not None]))
        return [
            next(computed) if i is not None else FeatureRow(e.data, NO_EVENT_TIME)
            for e, i in zip(envelopes, inputs, strict=True)
        ]
