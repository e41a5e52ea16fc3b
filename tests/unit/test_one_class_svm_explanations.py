"""Shapley values of a One-Class SVM's score against its reference row, read from its ONNX artifact:
they add up to the score's distance from the reference's, and they are the values that
enumerating every coalition of features gives."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from vigil.infrastructure.training.contributions import UnexplainableArtifact
from vigil.infrastructure.training.fitted import INPUT, OUTPUT, FittedDetector
from vigil.infrastructure.training.one_class_svm import OneClassSvmTrainer
from vigil.infrastructure.training.svm_explanations import BASELINE, OneClassSvmShap

FEATURES = ("amount", "hour", "velocity", "distance", "account_age")
EXACT = 1e-9
"""Scores here reach about 20 (sums of about 200 kernel terms): 1e-9 is float64's rounding."""


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """Correlated rows in [0, 1] (scaled as Vigil's callers scale), the last few far from them."""
    rng = np.random.default_rng(11)
    centre = rng.normal(0.5, 0.08, (400, 1))
    inliers = centre + rng.normal(0.0, 0.03, (400, len(FEATURES)))
    outliers = rng.uniform(0.0, 1.0, (12, len(FEATURES)))
    return np.clip(np.vstack([inliers, outliers]), 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(rows: np.ndarray) -> FittedDetector:
    return OneClassSvmTrainer().fit(rows, None, FEATURES, 3, {})


@pytest.fixture(scope="module")
def explainer(fitted: FittedDetector) -> OneClassSvmShap:
    return OneClassSvmShap.from_artifact(fitted.artifact)


def test_the_reference_row_is_the_training_rows_median(
    fitted: FittedDetector, explainer: OneClassSvmShap, rows: np.ndarray
) -> None:
    properties = {p.key: p.value for p in onnx.load_from_string(fitted.artifact).metadata_props}
    assert json.loads(properties[BASELINE]) == np.median(rows, axis=0).tolist()
    np.testing.assert_array_equal(explainer.baseline, np.median(rows, axis=0))


def test_contributions_add_up_to_the_score_less_the_reference_rows(
    fitted: FittedDetector, explainer: OneClassSvmShap, rows: np.ndarray
) -> None:
    explained = explainer.explain(rows)
    assert explained.base == pytest.approx(explainer.scores(explainer.baseline)[0], abs=EXACT)
    np.testing.assert_allclose(explained.totals, explainer.scores(rows), rtol=0, atol=EXACT)
    # The function onnxruntime computes in float32, and sklearn with float64 support vectors.
    session = ort.InferenceSession(fitted.artifact, providers=["CPUExecutionProvider"])
    scores = np.asarray(session.run([OUTPUT], {INPUT: rows})[0]).ravel()
    float32 = 1e-5 * float(np.abs(scores).max())
    np.testing.assert_allclose(explained.totals, scores, rtol=0, atol=float32)
    np.testing.assert_allclose(explained.totals, fitted.native_scores(rows), rtol=0, atol=float32)


def test_contributions_are_the_shapley_values_of_the_reference_game(
    explainer: OneClassSvmShap, rows: np.ndarray
) -> None:
    explained = explainer.explain(rows[-6:])
    for row, values in zip(rows[-6:], explained.values, strict=True):
        np.testing.assert_allclose(values, _brute_force_shapley(explainer, row), atol=EXACT)


def test_a_feature_at_its_reference_value_contributes_nothing(
    explainer: OneClassSvmShap, rows: np.ndarray
) -> None:
    row = rows[-1].copy()
    row[FEATURES.index("hour")] = explainer.baseline[FEATURES.index("hour")]
    assert explainer.explain(row).of_row(0)["hour"] == 0.0


def test_the_feature_that_sets_a_row_apart_pushes_it_towards_anomalous(
    explainer: OneClassSvmShap,
) -> None:
    odd = explainer.baseline.astype(np.float32)
    odd[FEATURES.index("velocity")] = 1.0
    named = explainer.explain(odd).of_row(0)
    assert max(named, key=named.__getitem__) == "velocity"
    assert named["velocity"] > 0


def test_a_row_far_outside_the_training_range_is_explained_and_still_adds_up(
    explainer: OneClassSvmShap,
) -> None:
    # Every kernel factor of the amount underflows to zero: no NaN, and the sum still holds.
    far = explainer.baseline.astype(np.float32)
    far[FEATURES.index("amount")] = 95_000.0
    explained = explainer.explain(far)
    assert np.isfinite(explained.values).all()
    np.testing.assert_allclose(explained.totals, explainer.scores(far), rtol=0, atol=EXACT)
    assert explained.of_row(0)["amount"] > 0


def test_an_artifact_exported_without_a_reference_row_is_refused_saying_so(
    fitted: FittedDetector,
) -> None:
    model = onnx.load_from_string(fitted.artifact)
    kept = [p for p in model.metadata_props if p.key != BASELINE]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    with pytest.raises(UnexplainableArtifact, match=f"before Vigil recorded .*{BASELINE}"):
        OneClassSvmShap.from_artifact(model.SerializeToString())


def _brute_force_shapley(explainer: OneClassSvmShap, row: np.ndarray) -> np.ndarray:
    """From every coalition's value: the score of the row that is `row` on it, the reference off."""
    width = len(row)
    coalitions = list(itertools.product((False, True), repeat=width))
    mixed = np.array([np.where(inside, row, explainer.baseline) for inside in coalitions])
    value = dict(zip(coalitions, explainer.scores(mixed).tolist(), strict=True))
    values = np.zeros(width)
    for coalition in coalitions:
        size = sum(coalition)
        for feature in (f for f in range(width) if not coalition[f]):
            weight = math.factorial(size) * math.factorial(width - size - 1) / math.factorial(width)
            joined = tuple(inside or f == feature for f, inside in enumerate(coalition))
            values[feature] += weight * (value[joined] - value[coalition])
    return values
