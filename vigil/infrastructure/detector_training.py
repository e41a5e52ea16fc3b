"""`vigil train`: a model of any of the five algorithms fitted on a CSV file or a feature
pipeline's matrix, evaluated on a time-ordered hold-out, exported to ONNX, checked for parity
with the library's own scores on the hold-out, and stored by its sha256."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd

from vigil.application.detection import ModelCard
from vigil.application.features import FileFeatures
from vigil.application.model_training import TrainingStage
from vigil.domain.severity import SeverityBands
from vigil.domain.threshold_curve import hold_out_curve
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.onnx_detector import PIPELINE_METADATA
from vigil.infrastructure.record_files import is_gzip
from vigil.infrastructure.training.evaluation import HoldOut, holdout_metrics
from vigil.infrastructure.training.fitted import INPUT, FittedDetector
from vigil.infrastructure.training.trainers import ALGORITHMS, LINE_SUFFIXES, trainer_for

PARITY_TOLERANCE = 1e-4
PARITY_SAMPLE = 50_000
MIN_ROWS = 10
LEAK_MAX_VALUES = 32
# Identifiers say nothing about how unusual a record is: `customer_id`, `TERMINAL_ID`,
# `customerId`, `id`, but not `paid` or `valid`.
IDENTIFIER = re.compile(r"(?:^|[_\-\s])[iI][dD]$|[a-z]I[dD]$")


class TrainingError(ValueError):
    """A training request that cannot give a trustworthy model; the message says which column,
    `field` which part of the request (`data` unless a setting of its own is at fault)."""

    def __init__(self, message: str, field: str = "data") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class TrainingRequest:
    source: str
    data: Path
    model_line: str | None = None
    """Defaults to `<source>-<algorithm's suffix>`: `cards-iforest`, `cards-lightgbm`."""
    features: Sequence[str] | None = None
    """None chooses every numeric column but the label, the excluded ones and identifiers."""
    exclude: Sequence[str] = ()
    label: str | None = None
    """A 0/1 column, never a feature: what supervised algorithms learn, and what every model
    is evaluated against."""
    rows: int | None = None
    """Read at most this many rows from the start of the file."""
    alert_rate: float = 0.005
    """The share of training records that score at or above the threshold."""
    n_estimators: int | None = None
    """Trees of a tree ensemble; None keeps the algorithm's default (100 for the Isolation
    Forest, 200 for LightGBM and XGBoost)."""
    seed: int = 7
    algorithm: str = "isolation_forest"
    holdout: float = 0.2
    """The latest share of the rows, held out to evaluate on; 0 evaluates on the training rows."""
    amount: str | None = None
    """The column of the money at stake, for the threshold curve's amounts caught and missed;
    through a pipeline, the records' field as the file gives it (`FileFeatures.amounts`)."""

    @property
    def line(self) -> str:
        return self.model_line or f"{self.source}-{LINE_SUFFIXES[self.algorithm]}"


Progress = Callable[[TrainingStage], None]
"""Told each stage as training reaches it."""


def _unwatched(stage: TrainingStage) -> None:
    """Progress nobody follows."""


def train_model(
    request: TrainingRequest, store: ModelStore, progress: Progress = _unwatched
) -> ModelCard:
    """Fits on the file's rows, evaluates, exports, checks, stores; returns the card."""
    check_request(request)
    progress(TrainingStage.READING)
    frame = _read_frame(request)
    features, notes = choose_features(frame, request)
    matrix, labels, usable = _training_matrix(frame, features, request.label)
    if len(matrix) < len(frame):
        notes.append(f"dropped {len(frame) - len(matrix)} rows: a feature missing or not finite")
    amounts = _amounts(frame, request.amount, usable)
    return _fit_and_store(
        request, matrix, labels, features, notes, store, progress, amounts=amounts
    )


def train_model_on_features(
    request: TrainingRequest,
    training_set: FileFeatures,
    store: ModelStore,
    progress: Progress = _unwatched,
) -> ModelCard:
    """Fits on a feature pipeline's matrix (`file_features`); the pipeline as fitted goes inside
    the artifact, so the score worker computes the same features before it scores."""
    check_request(request)
    fitted = training_set.matrix.fitted
    rows = training_set.matrix.rows
    if len(rows) < MIN_ROWS:
        raise TrainingError(
            f"{request.data}: {len(rows)} rows have every feature; training needs {MIN_ROWS}"
            + _rejections_said(training_set)
        )
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(fitted.feature_names))
    labels = None
    if training_set.labels is not None:
        labels = np.asarray(training_set.labels, dtype=np.int8)
    amounts = None
    if request.amount is not None:
        if training_set.amounts is None:
            raise TrainingError(f"amount {request.amount!r} was not read with the features")
        amounts = np.asarray(training_set.amounts, dtype=np.float64)
    notes = [
        f"{count} rows refused by the contract: {why}"
        for why, count in training_set.refused.most_common(5)
    ]
    rejected = Counter(f"{r.field} {r.reason}" for _, r in training_set.matrix.rejections)
    notes += [f"{count} rows without a feature: {why}" for why, count in rejected.most_common(5)]
    metadata = {PIPELINE_METADATA: json.dumps(fitted.to_json(), sort_keys=True)}
    return _fit_and_store(
        request,
        matrix,
        labels,
        list(fitted.feature_names),
        notes,
        store,
        progress,
        metadata=metadata,
        pipeline=fitted.pipeline.name,
        amounts=amounts,
    )


def _rejections_said(training_set: FileFeatures) -> str:
    rejected = Counter(f"{r.field} {r.reason}" for _, r in training_set.matrix.rejections)
    reasons = [*training_set.refused.most_common(3), *rejected.most_common(3)]
    return "".join(f"; {count} rows: {why}" for why, count in reasons)


def _fit_and_store(
    request: TrainingRequest,
    matrix: np.ndarray,
    labels: np.ndarray | None,
    features: list[str],
    notes: list[str],
    store: ModelStore,
    progress: Progress,
    *,
    metadata: dict[str, str] | None = None,
    pipeline: str | None = None,
    amounts: np.ndarray | None = None,
) -> ModelCard:
    """Fits on the rows before the hold-out and evaluates on the hold-out, where the bands are
    set too: quantiles of the ONNX scores of rows the model never saw, so they grade what will
    be served (threshold at 1 - alert_rate, high at 1 - alert_rate/5, critical at
    1 - alert_rate/25). Without a hold-out, the training rows stand in for it."""
    trainer = trainer_for(request.algorithm, request.n_estimators)
    split = HoldOut.of(len(matrix), request.holdout)
    if not split.held_out:
        notes.append("no hold-out: too few rows, so the metrics are on the training rows")
    train, train_labels = split.train(matrix), split.train(labels)
    if trainer.supervised:
        _check_labels(request, train_labels)
    progress(TrainingStage.FITTING)
    try:
        fitted = trainer.fit(train, train_labels, features, request.seed, metadata or {})
    except ValueError as error:
        raise TrainingError(f"{request.algorithm}: {error}") from None
    held = split.held(matrix)
    progress(TrainingStage.CHECKING_PARITY)
    scores, parity = _onnx_scores_checked(fitted, held, request.seed)
    progress(TrainingStage.EVALUATING)
    bands = _bands(scores, request.alert_rate)
    held_labels = split.held(labels)
    metrics = {
        "onnx_parity_max_abs_diff": parity,
        **holdout_metrics(scores, held_labels, bands.threshold, request.alert_rate),
    }
    curve = _curve(scores, held_labels, split.held(amounts), bands.threshold)
    card = ModelCard(
        model_line=request.line,
        version="",
        source=request.source,
        algorithm=fitted.algorithm,
        features=tuple(features),
        bands=bands,
        metrics=metrics,
        parameters=_parameters(request, fitted.parameters),
        training_rows=len(train),
        training_fingerprint=_fingerprint(features, train),
        trained_at=datetime.now(UTC),
        notes=tuple([*notes, *fitted.notes]),
        pipeline=pipeline,
        threshold_curve=curve,
    )
    progress(TrainingStage.STORING)
    return store.put(fitted.artifact, card)


def _curve(
    scores: np.ndarray, labels: np.ndarray | None, amounts: np.ndarray | None, threshold: float
) -> dict[str, Any] | None:
    """The hold-out's threshold curve, the current threshold kept exact; None without labels."""
    if labels is None:
        return None
    money = None if amounts is None else amounts.tolist()
    return hold_out_curve(scores.tolist(), labels.tolist(), money, keep=(threshold,)).to_json()


def _check_labels(request: TrainingRequest, labels: np.ndarray | None) -> None:
    if labels is None:
        raise TrainingError(f"{request.algorithm} learns from labels: name the label column")
    if labels.min() == labels.max():
        raise TrainingError(
            f"label {request.label!r}: every training row is {int(labels[0])}; "
            f"{request.algorithm} needs frauds and legitimate rows to learn from"
        )


def _bands(scores: np.ndarray, rate: float) -> SeverityBands:
    quantiles = np.quantile(scores, [1 - rate, 1 - rate / 5, 1 - rate / 25])
    return SeverityBands(*(float(q) for q in quantiles))


def choose_features(frame: pd.DataFrame, request: TrainingRequest) -> tuple[list[str], list[str]]:
    """The feature columns, and notes on every column left out and why."""
    _require_columns(frame, [*request.exclude, *([request.label] if request.label else [])], "")
    if request.features is not None:
        return _requested_features(frame, request), []
    notes: list[str] = []
    features = []
    for name in frame.columns:
        if name == request.label or name in request.exclude:
            continue
        if not _is_numeric(frame[name]):
            notes.append(f"left out {name}: not numeric")
        elif IDENTIFIER.search(name):
            notes.append(f"left out {name}: an identifier")
        elif _leaks_label(frame, name, request.label):
            notes.append(f"left out {name}: recodes the label, so it leaks it")
        else:
            features.append(name)
    if not features:
        raise TrainingError(f"no feature left in {request.data}: {'; '.join(notes)}")
    return features, notes


def _requested_features(frame: pd.DataFrame, request: TrainingRequest) -> list[str]:
    features = list(request.features or ())
    _require_columns(frame, features, "requested feature ")
    for name in features:
        if name == request.label or name in request.exclude:
            raise TrainingError(f"column {name!r} is the label or excluded, so not a feature")
        if not _is_numeric(frame[name]):
            raise TrainingError(f"feature {name!r} is not numeric (dtype {frame[name].dtype})")
        if _leaks_label(frame, name, request.label):
            raise TrainingError(f"feature {name!r} recodes the label {request.label!r}: a leak")
    return features


def check_request(request: TrainingRequest) -> None:
    """TrainingError naming the setting out of range, before any row is read: training runs it
    first, and the API runs it before a job is queued, so both refuse with the same words."""
    if not 0 < request.alert_rate < 0.5:
        raise TrainingError(
            f"alert rate {request.alert_rate} must be between 0 and 0.5", "alert_rate"
        )
    if request.rows is not None and request.rows < MIN_ROWS:
        raise TrainingError(f"rows {request.rows} must be at least {MIN_ROWS}", "rows")
    if request.n_estimators is not None and request.n_estimators < 1:
        raise TrainingError(
            f"n_estimators {request.n_estimators} must be at least 1", "n_estimators"
        )
    if request.algorithm not in LINE_SUFFIXES:
        raise TrainingError(
            f"algorithm {request.algorithm!r} is not one of {', '.join(ALGORITHMS)}", "algorithm"
        )
    if not 0 <= request.holdout < 1:
        raise TrainingError(f"hold-out {request.holdout} must be at least 0 and below 1", "holdout")


def _read_frame(request: TrainingRequest) -> pd.DataFrame:
    if not request.data.is_file():
        raise TrainingError(f"{request.data}: no such file")
    compression = "gzip" if is_gzip(request.data) else None
    try:
        frame = pd.read_csv(request.data, nrows=request.rows, compression=compression)
    except (ValueError, OSError, EOFError) as exc:  # pandas' ParserError is a ValueError
        raise TrainingError(f"{request.data}: not a readable CSV file: {exc}") from None
    if len(frame) < MIN_ROWS:
        raise TrainingError(f"{request.data}: {len(frame)} rows; training needs {MIN_ROWS}")
    return frame


def _require_columns(frame: pd.DataFrame, names: Sequence[str], kind: str) -> None:
    # A misspelt exclusion would silently let the column it meant to keep out become a feature.
    for name in names:
        if name not in frame.columns:
            raise TrainingError(
                f"{kind}column {name!r} is not in the file (columns: {', '.join(frame.columns)})"
            )


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column)) and not pd.api.types.is_complex_dtype(column)


def _leaks_label(frame: pd.DataFrame, name: str, label: str | None) -> bool:
    """A column of few values, each always seen with one label, is the label in other words.

    TX_FRAUD_SCENARIO (0 genuine, 1-3 fraud) is the case in point. An AUC test would flag a good
    continuous feature too on a slice with a handful of frauds, so none is made.
    """
    if label is None:
        return False
    both = frame[[name, label]].dropna()
    if both[label].nunique() != 2 or both[name].nunique() > LEAK_MAX_VALUES:
        return False
    return bool(both.groupby(name)[label].nunique().max() == 1)


def _amounts(frame: pd.DataFrame, column: str | None, usable: np.ndarray) -> np.ndarray | None:
    if column is None:
        return None
    _require_columns(frame, [column], "amount ")
    amounts = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)[usable]
    if not (np.isfinite(amounts) & (amounts >= 0)).all():
        raise TrainingError(f"amount {column!r} must hold a number, 0 or more, on every row")
    return amounts


def _training_matrix(
    frame: pd.DataFrame, features: list[str], label: str | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    matrix = frame[features].to_numpy(dtype=np.float32)
    usable = np.isfinite(matrix).all(axis=1)
    if not usable.any():
        raise TrainingError(f"no row has a finite value for every feature of {', '.join(features)}")
    labels = None
    if label is not None:
        values = frame[label].to_numpy()[usable]
        if not np.isin(values, [0, 1]).all():
            raise TrainingError(f"label {label!r} must hold only 0 and 1")
        labels = values.astype(np.int8)
    matrix = np.ascontiguousarray(matrix[usable])
    return matrix, labels, usable


def _onnx_scores_checked(
    fitted: FittedDetector, matrix: np.ndarray, seed: int
) -> tuple[np.ndarray, float]:
    """ONNX scores of every row, once a sample of them agrees with the library's own, within
    PARITY_TOLERANCE of the largest score's magnitude (a One-Class SVM's run to hundreds)."""
    session = ort.InferenceSession(fitted.artifact, providers=["CPUExecutionProvider"])
    output = session.get_outputs()[0].name
    scores = session.run([output], {INPUT: matrix})[0].ravel().astype(np.float64)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(matrix), size=min(PARITY_SAMPLE, len(matrix)), replace=False)
    expected = np.asarray(fitted.native_scores(matrix[sample]), dtype=np.float64).ravel()
    diff = float(np.max(np.abs(scores[sample] - expected)))
    limit = PARITY_TOLERANCE * max(1.0, float(np.max(np.abs(expected))))
    if diff > limit:
        raise TrainingError(
            f"ONNX and {fitted.algorithm} scores differ by {diff:.3g} (limit {limit:.3g})"
        )
    return scores, diff


def _parameters(request: TrainingRequest, fitted: dict[str, Any]) -> dict[str, Any]:
    return {
        **fitted,
        "seed": request.seed,
        "alert_rate": request.alert_rate,
        "holdout": request.holdout,
        "label": request.label,
        "exclude": list(request.exclude),
        "rows_requested": request.rows,
        "data": str(request.data),
    }


def _fingerprint(features: list[str], matrix: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps(features).encode())
    digest.update(matrix.tobytes())
    return digest.hexdigest()


def train_command(
    source: str,
    data: Path,
    model_dir: Path,
    *,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    label: str | None = None,
    rows: int | None = None,
    alert_rate: float = 0.005,
    model_line: str | None = None,
    echo: Callable[[str], None] = print,
) -> ModelCard:
    """What `vigil train` runs: trains into the model directory and prints a short summary."""
    request = TrainingRequest(source, data, model_line, features, exclude, label, rows, alert_rate)
    card = train_model(request, ModelStore(model_dir))
    echo(card.summary())
    return card
