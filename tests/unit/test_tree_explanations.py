"""TreeSHAP read from the ONNX artifact: the contributions are the ones LightGBM and XGBoost
compute themselves, and with the base they add up to the log-odds whose sigmoid is the score."""

from __future__ import annotations

import json
from typing import Any

import lightgbm
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import xgboost

from vigil.infrastructure.training.fitted import INPUT, OUTPUT, Trainer
from vigil.infrastructure.training.gradient_boosting import export_boosted_trees
from vigil.infrastructure.training.lightgbm_trainer import LightGbmTrainer, lightgbm_nodes
from vigil.infrastructure.training.tree_explanations import TreeShap
from vigil.infrastructure.training.xgboost_trainer import XGBoostTrainer, xgboost_nodes

FEATURES = ("amount", "velocity", "hour", "distance", "account_age", "local_currency")
NEVER_SPLIT = FEATURES.index("local_currency")
LIBRARY_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def labelled_rows() -> tuple[np.ndarray, np.ndarray]:
    """3,000 rows, about 2% frauds that depend on amount and velocity; some distances are
    missing, and every row is in the local currency, so no tree can split on it."""
    rng = np.random.default_rng(8)
    rows = rng.normal(0.0, 1.0, (3_000, len(FEATURES)))
    labels = (rows[:, 0] > 1.0) & (rows[:, 1] > 0.8) | (rng.random(len(rows)) < 0.003)
    rows[rng.random(len(rows)) < 0.03, FEATURES.index("distance")] = np.nan
    rows[:, NEVER_SPLIT] = 1.0
    return rows.astype(np.float32), labels.astype(np.int8)


@pytest.fixture(scope="module")
def lightgbm_model(labelled_rows: tuple[np.ndarray, np.ndarray]) -> Any:
    rows, labels = labelled_rows
    model = lightgbm.LGBMClassifier(
        n_estimators=200, learning_rate=0.05, subsample=0.8, subsample_freq=1, n_jobs=1, verbose=-1
    )
    return model.fit(rows, labels)


@pytest.fixture(scope="module")
def xgboost_model(labelled_rows: tuple[np.ndarray, np.ndarray]) -> Any:
    rows, labels = labelled_rows
    model = xgboost.XGBClassifier(n_estimators=200, learning_rate=0.05, max_depth=6, n_jobs=1)
    return model.fit(rows, labels)


def _lightgbm_artifact(model: Any) -> bytes:
    nodes = lightgbm_nodes(model.booster_.dump_model())
    return export_boosted_trees(nodes, 0.0, FEATURES, {}, "lightgbm")


def _xgboost_artifact(model: Any) -> bytes:
    nodes, base_margin = xgboost_nodes(json.loads(model.get_booster().save_raw("json")))
    return export_boosted_trees(nodes, base_margin, FEATURES, {}, "xgboost")


def test_contributions_equal_lightgbms_own_pred_contrib(
    lightgbm_model: Any, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows = labelled_rows[0][:1_000]
    explained = TreeShap.from_artifact(_lightgbm_artifact(lightgbm_model)).explain(rows)
    own = lightgbm_model.booster_.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(explained.values, own[:, :-1], rtol=0, atol=LIBRARY_TOLERANCE)
    assert explained.base == pytest.approx(own[0, -1], abs=LIBRARY_TOLERANCE)


def test_contributions_equal_xgboosts_own_pred_contribs(
    xgboost_model: Any, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows = labelled_rows[0][:1_000]
    explained = TreeShap.from_artifact(_xgboost_artifact(xgboost_model)).explain(rows)
    own = xgboost_model.get_booster().predict(xgboost.DMatrix(rows), pred_contribs=True)
    np.testing.assert_allclose(explained.values, own[:, :-1], rtol=0, atol=LIBRARY_TOLERANCE)
    assert explained.base == pytest.approx(float(own[0, -1]), abs=LIBRARY_TOLERANCE)


@pytest.mark.parametrize(
    "trainer", [LightGbmTrainer(), XGBoostTrainer()], ids=lambda trainer: trainer.algorithm
)
def test_contributions_and_the_base_add_up_to_the_log_odds_whose_sigmoid_is_the_score(
    trainer: Trainer, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = labelled_rows
    artifact = trainer.fit(rows, labels, FEATURES, 3, {}).artifact
    session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    scores = np.asarray(session.run([OUTPUT], {INPUT: rows})[0]).ravel()
    explained = TreeShap.from_artifact(artifact).explain(rows)
    np.testing.assert_allclose(explained.base + explained.values.sum(axis=1), explained.totals)
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-explained.totals)), scores, atol=1e-5)


def test_one_row_is_explained_as_it_is_in_a_batch(
    lightgbm_model: Any, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, _ = labelled_rows
    explainer = TreeShap.from_artifact(_lightgbm_artifact(lightgbm_model))
    alone = explainer.explain(rows[7])
    np.testing.assert_allclose(alone.values[0], explainer.explain(rows[:20]).values[7])


def test_a_feature_no_tree_splits_on_contributes_nothing(
    xgboost_model: Any, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, _ = labelled_rows
    explained = TreeShap.from_artifact(_xgboost_artifact(xgboost_model)).explain(rows[:100])
    assert not explained.values[:, NEVER_SPLIT].any()


def test_a_rows_contributions_are_named_by_feature(
    lightgbm_model: Any, labelled_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = labelled_rows
    fraud = int(np.flatnonzero(labels)[0])
    named = TreeShap.from_artifact(_lightgbm_artifact(lightgbm_model)).explain(rows[fraud])
    contributions = named.of_row(0)
    assert list(contributions) == list(FEATURES)
    assert max(contributions, key=contributions.__getitem__) in {"amount", "velocity"}


def test_an_artifact_without_node_covers_is_refused(lightgbm_model: Any) -> None:
    model = onnx.load_from_string(_lightgbm_artifact(lightgbm_model))
    (ensemble,) = (node for node in model.graph.node if node.op_type == "TreeEnsembleRegressor")
    kept = [a for a in ensemble.attribute if a.name != "nodes_hitrates"]
    del ensemble.attribute[:]
    ensemble.attribute.extend(kept)
    with pytest.raises(ValueError, match="no node covers"):
        TreeShap.from_artifact(model.SerializeToString())
