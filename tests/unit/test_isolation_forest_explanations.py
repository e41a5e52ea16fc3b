"""TreeSHAP of an Isolation Forest, read from its ONNX artifact: with the base the contributions add
up to the negative mean path length whose power of two is the score, and they are the Shapley
values of the path-dependent game that enumerating every coalition gives.

The reference values walk sklearn's own trees (grown again from the trainer's seed) with each
leaf's path length rounded to float32, as the artifact stores it: the forest that scores."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.ensemble import IsolationForest

from vigil.infrastructure.isolation_forest_onnx import average_path_length
from vigil.infrastructure.training.contributions import UnexplainableArtifact
from vigil.infrastructure.training.fitted import INPUT, OUTPUT, FittedDetector
from vigil.infrastructure.training.isolation_forest import IsolationForestTrainer
from vigil.infrastructure.training.isolation_forest_explanations import IsolationForestShap

FEATURES = ("amount", "hour", "velocity", "distance", "local_currency")
CONSTANT = FEATURES.index("local_currency")
SEED = 3


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """Correlated rows and a few far from them; every row is in the local currency."""
    rng = np.random.default_rng(5)
    centre = rng.normal(0.0, 1.0, (600, 1))
    inliers = centre + rng.normal(0.0, 0.3, (600, len(FEATURES)))
    outliers = rng.uniform(-6.0, 6.0, (12, len(FEATURES)))
    matrix = np.vstack([inliers, outliers])
    matrix[:, CONSTANT] = 1.0
    return matrix.astype(np.float32)


@pytest.fixture(scope="module")
def fitted(rows: np.ndarray) -> FittedDetector:
    return IsolationForestTrainer(n_estimators=40).fit(rows, None, FEATURES, SEED, {})


def _forest(rows: np.ndarray, fitted: FittedDetector, **parameters: Any) -> IsolationForest:
    """The trainer's forest, grown again from the same seeded stream, to read its trees."""
    stream = np.random.RandomState(SEED)
    forest = IsolationForest(**parameters, random_state=stream).fit(rows)
    np.testing.assert_array_equal(-forest.decision_function(rows), fitted.native_scores(rows))
    return forest


@pytest.fixture(scope="module")
def explainer(fitted: FittedDetector) -> IsolationForestShap:
    return IsolationForestShap.from_artifact(fitted.artifact)


def test_contributions_and_the_base_add_up_to_the_negative_mean_path_length(
    fitted: FittedDetector, explainer: IsolationForestShap, rows: np.ndarray
) -> None:
    forest = _forest(rows, fitted, n_estimators=40)
    explained = explainer.explain(rows)
    every_feature = set(range(len(FEATURES)))
    negative_mean_path = [_coalition_value(forest, row, every_feature) for row in rows]
    np.testing.assert_allclose(explained.totals, negative_mean_path, rtol=0, atol=1e-12)
    # The score is 2 ** (-E[h] / c(n)) - 0.5: sklearn's, with leaves in float64, agrees to 1e-7.
    depth = float(average_path_length(np.array([fitted.parameters["max_samples_used"]]))[0])
    native = depth * np.log2(fitted.native_scores(rows) + 0.5)
    np.testing.assert_allclose(explained.totals, native, rtol=0, atol=1e-6)
    assert explainer.expected_depth == pytest.approx(depth, rel=1e-6)


def test_the_explained_quantity_gives_back_the_artifacts_score(
    fitted: FittedDetector, explainer: IsolationForestShap, rows: np.ndarray
) -> None:
    session = ort.InferenceSession(fitted.artifact, providers=["CPUExecutionProvider"])
    scores = np.asarray(session.run([OUTPUT], {INPUT: rows})[0]).ravel()
    totals = explainer.explain(rows).totals
    np.testing.assert_allclose(2.0 ** (totals / explainer.expected_depth) - 0.5, scores, atol=1e-6)


def test_contributions_are_the_shapley_values_of_the_path_dependent_game() -> None:
    rng = np.random.default_rng(2)
    rows = rng.normal(0.0, 1.0, (200, 4)).astype(np.float32)
    tiny = IsolationForestTrainer(n_estimators=3, max_samples=16)
    fitted = tiny.fit(rows, None, ("a", "b", "c", "d"), SEED, {})
    forest = _forest(rows, fitted, n_estimators=3, max_samples=16)
    explained = IsolationForestShap.from_artifact(fitted.artifact).explain(rows[:6])

    for row, values in zip(rows[:6], explained.values, strict=True):
        np.testing.assert_allclose(values, _brute_force_shapley(forest, row), rtol=0, atol=1e-12)
    assert explained.base == pytest.approx(_coalition_value(forest, rows[0], set()), abs=1e-12)


def test_a_feature_no_tree_splits_on_contributes_nothing(
    explainer: IsolationForestShap, rows: np.ndarray
) -> None:
    assert not explainer.explain(rows[:100]).values[:, CONSTANT].any()


def test_the_feature_that_isolates_an_outlier_pushes_it_towards_anomalous(
    explainer: IsolationForestShap, rows: np.ndarray
) -> None:
    ordinary = np.median(rows, axis=0)
    odd = ordinary.copy()
    odd[FEATURES.index("velocity")] = 9.0
    contributions = explainer.explain(np.vstack([ordinary, odd]))
    named = contributions.of_row(1)
    assert max(named, key=named.__getitem__) == "velocity"
    assert named["velocity"] > 0
    assert contributions.totals[1] > contributions.totals[0]  # a shorter path: more anomalous


def test_an_artifact_exported_before_node_samples_were_recorded_is_refused_saying_so(
    fitted: FittedDetector,
) -> None:
    model = onnx.load_from_string(fitted.artifact)
    (ensemble,) = (node for node in model.graph.node if node.op_type == "TreeEnsembleRegressor")
    kept = [a for a in ensemble.attribute if a.name != "nodes_hitrates"]
    del ensemble.attribute[:]
    ensemble.attribute.extend(kept)
    with pytest.raises(UnexplainableArtifact, match=r"before Vigil recorded .*nodes_hitrates"):
        IsolationForestShap.from_artifact(model.SerializeToString())


def _brute_force_shapley(forest: IsolationForest, row: np.ndarray) -> np.ndarray:
    width = len(row)
    values = np.zeros(width)
    for feature in range(width):
        others = [f for f in range(width) if f != feature]
        for size in range(width):
            weight = math.factorial(size) * math.factorial(width - size - 1) / math.factorial(width)
            for coalition in itertools.combinations(others, size):
                known = set(coalition)
                gain = _coalition_value(forest, row, known | {feature})
                values[feature] += weight * (gain - _coalition_value(forest, row, known))
    return values


def _coalition_value(forest: IsolationForest, row: np.ndarray, known: set[int]) -> float:
    """Minus the mean over trees of the expected path length when only `known` features of the
    row are seen: they follow the row, the others split by the training samples each side."""
    total = sum(
        _expected_path_length(estimator.tree_, np.asarray(columns), row, known, 0, 0)
        for estimator, columns in zip(forest.estimators_, forest.estimators_features_, strict=True)
    )
    return -total / len(forest.estimators_)


def _expected_path_length(
    tree: Any, columns: np.ndarray, row: np.ndarray, known: set[int], node: int, depth: int
) -> float:
    left, right = int(tree.children_left[node]), int(tree.children_right[node])
    if left == -1:
        samples = np.array([tree.n_node_samples[node]])
        return float(np.float32(depth + average_path_length(samples)[0]))
    feature = int(columns[tree.feature[node]])
    if feature in known:
        child = left if float(row[feature]) <= tree.threshold[node] else right
        return _expected_path_length(tree, columns, row, known, child, depth + 1)
    return sum(
        tree.n_node_samples[child]
        / tree.n_node_samples[node]
        * _expected_path_length(tree, columns, row, known, child, depth + 1)
        for child in (left, right)
    )
