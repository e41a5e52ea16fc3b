"""The unsupervised trainers: each artifact scores what its library scores, ranks planted outliers
above the crowd, carries its metadata and is the same bytes when fitted twice."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from vigil.infrastructure.training.autoencoder import FEATURE_ERRORS, AutoencoderTrainer
from vigil.infrastructure.training.fitted import INPUT, OUTPUT, FittedDetector, Trainer
from vigil.infrastructure.training.isolation_forest import IsolationForestTrainer
from vigil.infrastructure.training.one_class_svm import OneClassSvmTrainer

FEATURES = ("amount", "hour", "velocity", "distance")
METADATA = {"model_line": "cards-unsupervised", "trained_on": "planted outliers"}
INLIERS = 400
OUTLIERS = 12
TRAINERS = [IsolationForestTrainer(), OneClassSvmTrainer(), AutoencoderTrainer()]


def _parity_tolerance(native: np.ndarray) -> float:
    # The artifact computes in float32, the libraries in float64: an SVM sums hundreds of
    # kernel terms into scores of order 100, so 1e-4 is relative to the largest score.
    return 1e-4 * max(1.0, float(np.abs(native).max()))


@pytest.fixture(scope="module")
def rows_with_planted_outliers() -> np.ndarray:
    """Correlated rows in [0, 1] (scaled as Vigil's callers scale), the last few far from them."""
    rng = np.random.default_rng(11)
    centre = rng.normal(0.5, 0.08, (INLIERS, 1))
    inliers = centre + rng.normal(0.0, 0.03, (INLIERS, len(FEATURES)))
    outliers = rng.uniform(0.0, 1.0, (OUTLIERS, len(FEATURES)))
    return np.clip(np.vstack([inliers, outliers]), 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module", params=TRAINERS, ids=lambda trainer: trainer.algorithm)
def fitted(
    request: pytest.FixtureRequest, rows_with_planted_outliers: np.ndarray
) -> FittedDetector:
    trainer: Trainer = request.param
    return trainer.fit(rows_with_planted_outliers, None, FEATURES, 3, METADATA)


def _run(artifact: bytes, rows: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    return [np.asarray(output) for output in session.run(None, {INPUT: rows})]


def test_the_artifact_scores_what_the_library_scores(
    fitted: FittedDetector, rows_with_planted_outliers: np.ndarray
) -> None:
    scores = _run(fitted.artifact, rows_with_planted_outliers)[0].ravel()
    native = fitted.native_scores(rows_with_planted_outliers)
    np.testing.assert_allclose(scores, native, rtol=0, atol=_parity_tolerance(native))


def test_planted_outliers_score_above_the_inliers(
    fitted: FittedDetector, rows_with_planted_outliers: np.ndarray
) -> None:
    scores = _run(fitted.artifact, rows_with_planted_outliers)[0].ravel()
    assert scores[INLIERS:].mean() > scores[:INLIERS].mean()
    assert np.median(scores[INLIERS:]) > np.quantile(scores[:INLIERS], 0.9)


def test_the_artifact_carries_the_metadata_and_the_features(fitted: FittedDetector) -> None:
    model = onnx.load_from_string(fitted.artifact)
    properties = {prop.key: prop.value for prop in model.metadata_props}
    assert json.loads(properties["features"]) == list(FEATURES)
    assert METADATA.items() <= properties.items()


def test_the_artifact_has_the_one_input_and_the_score_first(fitted: FittedDetector) -> None:
    model = onnx.load_from_string(fitted.artifact)
    assert [value.name for value in model.graph.input] == [INPUT]
    assert model.graph.output[0].name == OUTPUT


@pytest.mark.parametrize("trainer", TRAINERS, ids=lambda trainer: trainer.algorithm)
def test_fitting_twice_gives_the_same_artifact(
    trainer: Trainer, rows_with_planted_outliers: np.ndarray
) -> None:
    first = trainer.fit(rows_with_planted_outliers, None, FEATURES, 5, METADATA)
    second = trainer.fit(rows_with_planted_outliers, None, FEATURES, 5, METADATA)
    assert first.artifact == second.artifact


def test_the_autoencoder_score_is_the_mean_of_its_feature_errors(
    rows_with_planted_outliers: np.ndarray,
) -> None:
    fitted = AutoencoderTrainer().fit(rows_with_planted_outliers, None, FEATURES, 3, METADATA)
    scores, feature_errors = _run(fitted.artifact, rows_with_planted_outliers)
    assert onnx.load_from_string(fitted.artifact).graph.output[1].name == FEATURE_ERRORS
    assert feature_errors.shape == rows_with_planted_outliers.shape
    np.testing.assert_allclose(feature_errors.mean(axis=1), scores, rtol=1e-5, atol=1e-6)


def test_the_autoencoder_ignores_a_constant_feature(rows_with_planted_outliers: np.ndarray) -> None:
    rows = rows_with_planted_outliers.copy()
    rows[:, 1] = 0.25
    fitted = AutoencoderTrainer().fit(rows, None, FEATURES, 3, METADATA)
    scores = _run(fitted.artifact, rows)[0]
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, fitted.native_scores(rows), rtol=0, atol=1e-4)


def test_a_one_class_svm_on_many_rows_trains_on_a_seeded_sample_and_says_so(
    rows_with_planted_outliers: np.ndarray,
) -> None:
    trainer = OneClassSvmTrainer(max_train_rows=100)
    first = trainer.fit(rows_with_planted_outliers, None, FEATURES, 8, METADATA)
    second = trainer.fit(rows_with_planted_outliers, None, FEATURES, 8, METADATA)
    assert first.parameters["training_rows"] == 100
    assert "100 of 412 rows" in first.notes[0]
    assert first.artifact == second.artifact


def test_a_one_class_svm_on_few_rows_trains_on_them_all(
    rows_with_planted_outliers: np.ndarray,
) -> None:
    fitted = OneClassSvmTrainer().fit(rows_with_planted_outliers, None, FEATURES, 8, METADATA)
    assert fitted.parameters["training_rows"] == INLIERS + OUTLIERS
    assert fitted.notes == []
