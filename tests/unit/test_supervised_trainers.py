"""The supervised trainers: each artifact outputs the fraud probability its library computes, on
ordinary rows, on rows exactly at the split thresholds and on rows with missing values; it ranks
frauds above legitimate rows, carries its metadata and is the same bytes when fitted twice."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from vigil.infrastructure.training.fitted import INPUT, OUTPUT, FittedDetector, Trainer
from vigil.infrastructure.training.lightgbm_trainer import LightGbmTrainer
from vigil.infrastructure.training.xgboost_trainer import XGBoostTrainer

FEATURES = ("amount", "velocity", "hour", "distance", "account_age", "device_changes")
METADATA = {"model_line": "cards-supervised", "trained_on": "planted frauds"}
TRAINERS = [LightGbmTrainer(), XGBoostTrainer()]
PARITY = 1e-5


@pytest.fixture(scope="module")
def labelled_rows() -> tuple[np.ndarray, np.ndarray]:
    """3,000 rows, about 2% frauds: large amounts at high velocity, with some label noise; a
    few distances are missing, as a feature store leaves them."""
    rng = np.random.default_rng(5)
    rows = rng.normal(0.0, 1.0, (3_000, len(FEATURES)))
    risky = (rows[:, 0] > 1.0) & (rows[:, 1] > 0.8)
    labels = np.where(rng.random(len(rows)) < 0.9, risky, rng.random(len(rows)) < 0.005)
    rows[rng.random(len(rows)) < 0.03, 3] = np.nan
    return rows.astype(np.float32), labels.astype(np.int8)


@pytest.fixture(scope="module", params=TRAINERS, ids=lambda trainer: trainer.algorithm)
def fitted(
    request: pytest.FixtureRequest, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> FittedDetector:
    trainer: Trainer = request.param
    rows, labels = labelled_rows
    return trainer.fit(rows, labels, FEATURES, 3, METADATA)


def _scores(artifact: bytes, rows: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    return np.asarray(session.run([OUTPUT], {INPUT: rows})[0]).ravel()


def _rows_at_the_thresholds(artifact: bytes, row: np.ndarray) -> np.ndarray:
    """Copies of `row` with one feature set to a split threshold, or to the next float32 up."""
    (ensemble,) = onnx.load_from_string(artifact).graph.node[:1]
    attributes = {a.name: helper.get_attribute_value(a) for a in ensemble.attribute}
    splits = [
        (feature, np.float32(value))
        for feature, value, mode in zip(
            attributes["nodes_featureids"],
            attributes["nodes_values"],
            attributes["nodes_modes"],
            strict=True,
        )
        if mode != b"LEAF"
    ]
    rows = np.repeat(row[None, :], 2 * len(splits), axis=0)
    with np.errstate(over="ignore"):  # above LightGBM's "any number" threshold is infinity
        for i, (feature, value) in enumerate(splits):
            rows[2 * i, feature] = value
            rows[2 * i + 1, feature] = np.nextafter(value, np.float32(np.inf))
    return rows


def test_the_artifact_scores_the_probability_the_library_scores(
    fitted: FittedDetector, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, _ = labelled_rows
    native = fitted.native_scores(rows)
    np.testing.assert_allclose(_scores(fitted.artifact, rows), native, rtol=0, atol=PARITY)


def test_rows_exactly_at_the_split_thresholds_go_the_way_the_library_sends_them(
    fitted: FittedDetector, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows = _rows_at_the_thresholds(fitted.artifact, labelled_rows[0][0])
    native = fitted.native_scores(rows)
    np.testing.assert_allclose(_scores(fitted.artifact, rows), native, rtol=0, atol=PARITY)


def test_missing_values_go_the_way_the_library_sends_them(
    fitted: FittedDetector, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    # Distance was missing in training; the other features never were.
    rows = labelled_rows[0][:300].copy()
    rows[np.random.default_rng(2).random(rows.shape) < 0.3] = np.nan
    native = fitted.native_scores(rows)
    np.testing.assert_allclose(_scores(fitted.artifact, rows), native, rtol=0, atol=PARITY)


def test_frauds_score_above_legitimate_rows(
    fitted: FittedDetector, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = labelled_rows
    scores = _scores(fitted.artifact, rows)
    assert scores[labels == 1].mean() > 10 * scores[labels == 0].mean()


def test_the_artifact_carries_the_metadata_and_the_features(fitted: FittedDetector) -> None:
    model = onnx.load_from_string(fitted.artifact)
    properties = {prop.key: prop.value for prop in model.metadata_props}
    assert json.loads(properties["features"]) == list(FEATURES)
    assert METADATA.items() <= properties.items()


def test_the_artifact_has_the_one_input_and_only_the_score_as_output(
    fitted: FittedDetector,
) -> None:
    graph = onnx.load_from_string(fitted.artifact).graph
    assert [value.name for value in graph.input] == [INPUT]
    assert [value.name for value in graph.output] == [OUTPUT]


@pytest.mark.parametrize("trainer", TRAINERS, ids=lambda trainer: trainer.algorithm)
def test_fitting_twice_gives_the_same_artifact(
    trainer: Trainer, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = labelled_rows
    first, second = (trainer.fit(rows, labels, FEATURES, 7, METADATA) for _ in range(2))
    assert hashlib.sha256(first.artifact).digest() == hashlib.sha256(second.artifact).digest()


@pytest.mark.parametrize("trainer", TRAINERS, ids=lambda trainer: trainer.algorithm)
@pytest.mark.parametrize(("only", "named"), [(0, "0 (legit)"), (1, "1 (fraud)")])
def test_labels_of_one_class_are_refused_naming_the_label(
    trainer: Trainer, only: int, named: str, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, _ = labelled_rows
    with pytest.raises(ValueError, match=re.escape(f"every label is {named}")):
        trainer.fit(rows, np.full(len(rows), only), FEATURES, 3, METADATA)


@pytest.mark.parametrize("trainer", TRAINERS, ids=lambda trainer: trainer.algorithm)
def test_rows_without_labels_are_refused(
    trainer: Trainer, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    assert trainer.supervised
    with pytest.raises(ValueError, match="is supervised"):
        trainer.fit(labelled_rows[0], None, FEATURES, 3, METADATA)


@pytest.mark.parametrize("trainer_class", [LightGbmTrainer, XGBoostTrainer])
def test_overrides_and_the_seed_are_recorded_for_the_model_owner(
    trainer_class: type[LightGbmTrainer] | type[XGBoostTrainer],
    labelled_rows: tuple[np.ndarray, np.ndarray],
) -> None:
    rows, labels = labelled_rows
    fitted = trainer_class(n_estimators=20, learning_rate=0.2).fit(
        rows, labels, FEATURES, 11, METADATA
    )
    assert fitted.parameters["n_estimators"] == 20
    assert fitted.parameters["learning_rate"] == 0.2
    assert fitted.parameters["seed"] == 11
    assert fitted.parameters["library"].startswith(fitted.algorithm)
