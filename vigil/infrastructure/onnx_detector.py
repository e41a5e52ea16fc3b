"""Scoring records in onnxruntime: the hot path of the score worker."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from vigil.application.detection import ModelCard, Rejection, TamperedArtifact
from vigil.application.features.fitting import FittedPipeline

PIPELINE_METADATA = "vigil.fitted_pipeline"
"""The ONNX model's metadata key holding the fitted feature pipeline as JSON: inside the
artifact, so the version's sha256 covers what turns records into the model's input."""

# bool is an int: True scores as 1.0 here, as it does when numpy builds the matrix.
NUMBER_TYPES = (int, float, np.integer, np.floating)
FLOAT32_MAX = float(np.finfo(np.float32).max)


class OnnxDetector:
    """One model version in one onnxruntime session; a whole batch is one session call.

    `threads` is onnxruntime's intra-op thread count: 1 suits a worker process per core (the way
    Vigil scales); 2 gives one process more batch throughput on a quiet machine.
    """

    def __init__(self, card: ModelCard, artifact_path: Path, threads: int = 1) -> None:
        artifact = artifact_path.read_bytes()
        # The bytes loaded are the bytes checked: a file swapped after the store's check is refused.
        actual = hashlib.sha256(artifact).hexdigest()
        if actual != card.version:
            raise TamperedArtifact(card.version, actual)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.card = card
        self._session = ort.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name
        self._width = len(card.features)
        self._row = itemgetter(*card.features)
        stored = self._session.get_modelmeta().custom_metadata_map.get(PIPELINE_METADATA)
        self.pipeline = None if stored is None else FittedPipeline.from_json(json.loads(stored))
        if self.pipeline is not None and self.pipeline.feature_names != card.features:
            raise ValueError(
                f"model {card.version}: its pipeline makes {self.pipeline.feature_names},"
                f" its card reads {card.features}"
            )

    def with_card(self, card: ModelCard) -> OnnxDetector:
        """The same loaded version graded and named by another card of it (a threshold
        changed): the session is shared, not loaded again."""
        if (card.version, card.features) != (self.card.version, self.card.features):
            raise ValueError(f"card of {card.version} given to the detector of {self.card.version}")
        graded = copy.copy(self)
        graded.card = card
        return graded

    def score(self, records: Sequence[Mapping[str, Any]]) -> list[float | Rejection]:
        """One score or Rejection per record, in order; higher is more anomalous."""
        if not records:
            return []
        if len(records) == 1:
            # One record (a REST call): checked field by field, as a refused batch is, which
            # costs less than numpy's inference of a matrix's type and its checks.
            row, rejection = self._validated_row(records[0])
            if rejection is not None:
                return [rejection]
            return self._run(np.array([row], dtype=np.float32)).tolist()
        matrix = self._fast_matrix(records)
        if matrix is None:
            return self._score_with_rejections(records)
        finite = np.isfinite(matrix).all(axis=1)
        if not finite.all():
            return self._score_with_rejections(records)
        return self._run(matrix).tolist()

    def score_vectors(self, vectors: Sequence[Sequence[float]]) -> list[float]:
        if not vectors:
            return []
        matrix = np.array(vectors, dtype=np.float32).reshape(len(vectors), self._width)
        result: list[float] = self._run(matrix).tolist()
        return result

    def _fast_matrix(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
        """The float32 matrix if every record is plainly numeric, else None (the slow way)."""
        try:
            rows = [self._row(record) for record in records]
            # numpy infers a numeric dtype only when every value is a number: a None, string or
            # nested value makes it object, unicode or raise, and then each record is inspected.
            values = np.array(rows)
        except (KeyError, ValueError, TypeError):
            return None
        if values.dtype.kind not in "fiub":
            return None
        with np.errstate(
            over="ignore"
        ):  # too large for float32 becomes inf, rejected as not finite
            return values.astype(np.float32).reshape(len(records), self._width)

    def _score_with_rejections(
        self, records: Sequence[Mapping[str, Any]]
    ) -> list[float | Rejection]:
        results: list[float | Rejection | None] = []
        rows: list[list[float]] = []
        for record in records:
            row, rejection = self._validated_row(record)
            if rejection is None:
                rows.append(row)
            results.append(rejection)
        scores = iter(self._run(np.array(rows, dtype=np.float32)).tolist() if rows else [])
        return [next(scores) if result is None else result for result in results]

    def _validated_row(self, record: Mapping[str, Any]) -> tuple[list[float], Rejection | None]:
        row: list[float] = []
        for feature in self.card.features:
            if feature not in record:
                return row, Rejection(feature, "missing")
            value = record[feature]
            if value is None:
                return row, Rejection(feature, "is null")
            if not isinstance(value, NUMBER_TYPES):
                return row, Rejection(
                    feature, f"not a number: {type(value).__name__} {value!r:.40}"
                )
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
                return row, Rejection(feature, f"not a finite number: {value!r:.40}")
            row.append(number)
        return row, None

    def _run(self, matrix: np.ndarray) -> np.ndarray:
        (scores,) = self._session.run([self._output], {self._input: matrix})
        return np.asarray(scores, dtype=np.float64).ravel()
