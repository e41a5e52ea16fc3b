"""Training an Isolation Forest into a stored, parity-checked ONNX artifact, and scoring with it."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FDH_TRANSACTIONS
from vigil.application.detection import ModelCard, Rejection, TamperedArtifact
from vigil.infrastructure.detector_training import (
    TrainingError,
    TrainingRequest,
    train_command,
    train_model,
)
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.onnx_detector import OnnxDetector
from vigil.infrastructure.training.trainers import ALGORITHMS, LINE_SUFFIXES

FDH_DEMO_EXCLUDE = ("TX_FRAUD_SCENARIO", "TX_TIME_SECONDS", "TX_TIME_DAYS")


def _payments_csv(rows: int = 2_000, seed: int = 1) -> str:
    """Payments with an id, a text column, a label, and a few large amounts that are frauds."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 0.5, rows).round(2)
    fraud = rng.random(rows) < 0.02
    amount[fraud] *= rng.uniform(1.5, 6.0, fraud.sum())
    hour = rng.integers(0, 24, rows)
    lines = ["txn_id,customerId,amount,hour,merchant,is_fraud"]
    lines += [
        f"{i},{i % 97},{amount[i]},{hour[i]},shop{i % 5},{int(fraud[i])}" for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def payments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "payments.csv"
    path.write_text(_payments_csv())
    return path


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture
def trained_payments(payments: Path, store: ModelStore) -> ModelCard:
    request = TrainingRequest(source="payments", data=payments, label="is_fraud", n_estimators=50)
    return train_model(request, store)


@pytest.fixture(scope="module")
def fdh_cards(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelStore, ModelCard]:
    """The demo's model: 20,000 FDH transactions, amount only, evaluated against TX_FRAUD."""
    store = ModelStore(tmp_path_factory.mktemp("fdh") / "models")
    request = TrainingRequest(
        source="cards",
        data=FDH_TRANSACTIONS,
        rows=20_000,
        label="TX_FRAUD",
        exclude=FDH_DEMO_EXCLUDE,
    )
    return store, train_model(request, store)


def test_the_artifact_is_stored_under_its_sha256_with_its_card(
    trained_payments: ModelCard, store: ModelStore
) -> None:
    artifact = store.root / f"{trained_payments.version}.onnx"

    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == trained_payments.version
    assert store.card(trained_payments.version) == trained_payments


def test_onnx_scores_agree_with_scikit_learn(trained_payments: ModelCard) -> None:
    assert trained_payments.metrics["onnx_parity_max_abs_diff"] <= 1e-4


def test_identifiers_text_and_the_label_are_never_features(trained_payments: ModelCard) -> None:
    assert trained_payments.features == ("amount", "hour")
    assert trained_payments.model_line == "payments-iforest"
    assert any("customerId: an identifier" in note for note in trained_payments.notes)


def test_the_bands_grade_rarer_scores_higher_and_alert_at_the_requested_rate(
    trained_payments: ModelCard,
) -> None:
    bands = trained_payments.bands
    assert bands.threshold < bands.high <= bands.critical
    assert trained_payments.metrics["alert_rate"] == pytest.approx(0.005, abs=0.003)
    assert trained_payments.metrics["roc_auc"] > 0.8


def test_the_card_survives_a_json_round_trip(trained_payments: ModelCard) -> None:
    body = json.loads(json.dumps(trained_payments.to_json()))

    assert ModelCard.from_json(body) == trained_payments


def test_a_gzip_and_a_plain_csv_give_the_same_model(tmp_path: Path, payments: Path) -> None:
    compressed = tmp_path / "payments.csv.gz"
    compressed.write_bytes(gzip.compress(payments.read_bytes()))
    store = ModelStore(tmp_path / "models")

    plain_card = train_model(TrainingRequest("payments", payments, n_estimators=20), store)
    gzip_card = train_model(TrainingRequest("payments", compressed, n_estimators=20), store)

    assert gzip_card.version == plain_card.version
    assert gzip_card.training_fingerprint == plain_card.training_fingerprint


def test_the_fdh_label_its_scenario_and_its_ids_are_never_features(tmp_path: Path) -> None:
    request = TrainingRequest(
        source="cards", data=FDH_TRANSACTIONS, rows=5_000, label="TX_FRAUD", n_estimators=20
    )
    card = train_model(request, ModelStore(tmp_path))

    assert card.features == ("TX_AMOUNT", "TX_TIME_SECONDS", "TX_TIME_DAYS")
    assert "left out TX_FRAUD_SCENARIO: recodes the label, so it leaks it" in card.notes


def test_the_demo_model_on_an_fdh_slice_ranks_frauds_above_genuine_payments(
    fdh_cards: tuple[ModelStore, ModelCard],
) -> None:
    _, card = fdh_cards

    assert card.features == ("TX_AMOUNT",)
    # The latest fifth is held out: the metrics are of transactions the model never saw.
    assert (card.training_rows, card.metrics["holdout_rows"]) == (16_000, 4_000)
    assert card.metrics["onnx_parity_max_abs_diff"] <= 1e-4
    # Amount alone, on the latest 4,000 transactions (a few dozen frauds): 0.75 here.
    assert card.metrics["roc_auc"] > 0.7


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": ["amount", "tip"]}, "requested feature column 'tip' is not in the file"),
        ({"features": ["merchant"]}, "feature 'merchant' is not numeric"),
        ({"features": ["amount", "is_fraud"], "label": "is_fraud"}, "'is_fraud' is the label"),
        ({"exclude": ["is_fruad"]}, "column 'is_fruad' is not in the file"),
        ({"exclude": ["amount", "hour", "is_fraud"]}, "no feature left"),
        ({"alert_rate": 0.0}, "alert rate 0.0 must be between 0 and 0.5"),
        ({"rows": 3}, "rows 3 must be at least 10"),
        ({"data": Path("/nowhere/payments.csv")}, "no such file"),
    ],
)
def test_a_bad_request_is_refused_with_the_column_at_fault(
    payments: Path, store: ModelStore, changes: dict[str, Any], message: str
) -> None:
    request = replace(TrainingRequest(source="payments", data=payments, n_estimators=5), **changes)

    with pytest.raises(TrainingError, match=message):
        train_model(request, store)


def test_a_requested_feature_that_leaks_the_label_is_refused(store: ModelStore) -> None:
    request = TrainingRequest(
        "cards", FDH_TRANSACTIONS, rows=5_000, label="TX_FRAUD", features=["TX_FRAUD_SCENARIO"]
    )

    with pytest.raises(TrainingError, match="'TX_FRAUD_SCENARIO' recodes the label"):
        train_model(request, store)


def test_a_tampered_artifact_is_refused(trained_payments: ModelCard, store: ModelStore) -> None:
    path = store.root / f"{trained_payments.version}.onnx"
    path.write_bytes(path.read_bytes() + b"\x00")

    with pytest.raises(TamperedArtifact):
        store.artifact_path(trained_payments.version)
    with pytest.raises(TamperedArtifact):
        OnnxDetector(trained_payments, path)


def test_bad_records_are_rejected_without_spoiling_the_batch(
    fdh_cards: tuple[ModelStore, ModelCard],
) -> None:
    store, card = fdh_cards
    detector = OnnxDetector(card, store.artifact_path(card.version))
    good: list[dict[str, Any]] = [{"TX_AMOUNT": 57.16}, {"TX_AMOUNT": 2500}, {"TX_AMOUNT": True}]
    bad: list[dict[str, Any]] = [
        {},
        {"TX_AMOUNT": None},
        {"TX_AMOUNT": "12.5"},
        {"TX_AMOUNT": math.inf},
        {"TX_AMOUNT": 1e300},
    ]

    clean = detector.score(good)
    mixed = detector.score([good[0], *bad, good[1], good[2]])

    assert mixed[0] == clean[0]
    assert mixed[-2:] == clean[1:]
    assert [r.reason.split(":")[0] for r in mixed[1:6] if isinstance(r, Rejection)] == [
        "missing",
        "is null",
        "not a number",
        "not a finite number",
        "not a finite number",
    ]
    assert all(isinstance(r, Rejection) and r.field == "TX_AMOUNT" for r in mixed[1:6])
    # A record scored alone (a REST call) is checked the same way.
    assert [detector.score([record])[0] for record in [good[0], *bad, *good[1:]]] == mixed
    assert isinstance(clean[1], float)
    assert clean[1] > card.bands.critical  # 2,500 is far beyond the slice's amounts


def test_a_batch_scores_each_record_as_it_would_alone(
    fdh_cards: tuple[ModelStore, ModelCard],
) -> None:
    store, card = fdh_cards
    detector = OnnxDetector(card, store.artifact_path(card.version))
    records = [{"TX_AMOUNT": float(amount), "other": "x"} for amount in range(0, 400, 7)]

    assert detector.score(records) == [detector.score([record])[0] for record in records]
    assert detector.score([]) == []


def test_the_train_command_prints_what_it_trained(payments: Path, tmp_path: Path) -> None:
    printed: list[str] = []

    card = train_command("payments", payments, tmp_path, label="is_fraud", echo=printed.append)
    printed = printed[0].splitlines()

    assert printed[0].startswith(
        "trained payments-iforest (isolation_forest) for source payments on 1,600 rows"
    )
    assert "features: amount, hour" in printed
    assert printed[-1] == f"version: {card.version}"
    assert any("onnx_parity_max_abs_diff" in line for line in printed)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_trains_checks_parity_and_is_evaluated_on_the_latest_rows(
    algorithm: str, payments: Path, tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "models")
    request = TrainingRequest(
        "payments", payments, label="is_fraud", algorithm=algorithm, n_estimators=30
    )

    card = train_model(request, store)

    assert (card.algorithm, card.model_line) == (algorithm, f"payments-{LINE_SUFFIXES[algorithm]}")
    assert (card.training_rows, card.metrics["holdout_rows"]) == (1_600, 400)
    for metric in ("precision", "recall", "f1", "roc_auc", "pr_auc", "precision_at_budget"):
        assert 0.0 <= card.metrics[metric] <= 1.0, metric
    # Frauds are the large amounts. Squeezed through one unit, the autoencoder's ReLUs carry a
    # large amount through nearly as well as a small one: it separates them only a little.
    assert card.metrics["roc_auc"] > (0.5 if algorithm == "autoencoder" else 0.75)
    detector = OnnxDetector(card, store.artifact_path(card.version))
    [big, small] = detector.score([{"amount": 900.0, "hour": 3}, {"amount": 20.0, "hour": 3}])
    assert big > small


@pytest.mark.parametrize("algorithm", ["lightgbm", "xgboost"])
def test_a_supervised_algorithm_without_labels_or_frauds_is_refused(
    algorithm: str, payments: Path, tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(TrainingError, match="learns from labels: name the label column"):
        train_model(TrainingRequest("payments", payments, algorithm=algorithm), store)

    legit = tmp_path / "legit.csv"
    legit.write_text("amount,hour,is_fraud\n" + "".join(f"{n},{n % 24},0\n" for n in range(50)))
    with pytest.raises(TrainingError, match="every training row is 0"):
        train_model(
            TrainingRequest("payments", legit, label="is_fraud", algorithm=algorithm), store
        )
