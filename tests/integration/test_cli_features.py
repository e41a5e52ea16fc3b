"""`vigil features build` and `vigil train --pipeline`, run in process on the embedded store."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import uvloop

from tests.integration.training_service import label_book_caught_up
from tests.model_lines import champion
from vigil.application.detection import NoChampion
from vigil.bootstrap import build_alert_desk
from vigil.cli import main
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.infrastructure.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PIPELINE = EXAMPLES / "pipelines" / "card_features.yaml"


@pytest.fixture
def data(card_slice: Path) -> Path:
    """The slice with one row the contract refuses: a negative amount."""
    lines = card_slice.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    broken = lines[7].rstrip("\n").split(",")
    broken[header.index("TX_AMOUNT")] = "-5"
    lines[7] = ",".join(broken) + "\n"
    card_slice.write_text("".join(lines))
    return card_slice


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(args), settings)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_built_matrix_holds_every_admitted_record_with_its_label_and_the_pipelines_columns(
    cards: Settings, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "matrix.csv"
    status, said = run(
        cards, capsys, "features", "build", str(PIPELINE), "--data", str(data),
        "--label", "TX_FRAUD", "--out", str(out),
    )  # fmt: skip

    assert status == 0, said
    assert "read 3,000 records" in said
    assert "refused by the contract: 1 x TX_AMOUNT" in said
    with out.open() as matrix:
        rows = list(csv.DictReader(matrix))
    assert len(rows) == 2999
    assert list(rows[0])[:4] == ["record_id", "label", "TX_AMOUNT", "CUSTOMER_ID_count_1d"]
    with data.open() as source:
        truth = {r["TRANSACTION_ID"]: r["TX_FRAUD"] for r in csv.DictReader(source)}
    assert {r["record_id"]: r["label"] for r in rows} == {
        k: v for k, v in truth.items() if k != "6"
    }
    assert "6" not in {r["record_id"] for r in rows}  # the refused transaction
    # The first record of a customer is the only one in its windows.
    assert float(rows[0]["CUSTOMER_ID_count_30d"]) == 1.0


def test_a_pipeline_reading_a_field_the_contract_drops_is_refused_at_its_line(
    cards: Settings, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaking = tmp_path / "leaking.yaml"
    text = PIPELINE.read_text().replace("fields: [TX_AMOUNT]", "fields: [TX_AMOUNT, TX_FRAUD]")
    leaking.write_text(text)
    line = text.splitlines().index("    fields: [TX_AMOUNT, TX_FRAUD]") + 1

    status, said = run(
        cards, capsys, "features", "build", str(leaking), "--data", str(data),
        "--out", str(tmp_path / "m.csv"),
    )  # fmt: skip

    assert status == 2
    assert f"leaking.yaml, line {line}" in said
    assert "TX_FRAUD" in said
    assert not (tmp_path / "m.csv").exists()


def test_training_on_a_pipeline_stores_a_model_that_reads_its_features(
    cards: Settings, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, said = run(
        cards, capsys, "train", "--source", "cards", "--data", str(data),
        "--pipeline", str(PIPELINE), "--label", "TX_FRAUD",
    )  # fmt: skip

    assert status == 0, said
    assert "feature pipeline: card_features" in said
    assert "1 rows refused by the contract: TX_AMOUNT" in said
    assert "model line cards-iforest: version" in said
    assert "registered, champion" in said
    detector = champion(cards, "cards")
    assert detector.pipeline is not None
    assert detector.card.features == detector.pipeline.feature_names
    assert "TERMINAL_ID_count_7d" in detector.card.features


def test_a_pipeline_models_threshold_curve_weighs_the_money_of_the_files_amount_column(
    cards: Settings, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The threshold advice's losses are money: the amount of each held-out record comes from
    the file beside its features, as the file gives it (the pipeline scales TX_AMOUNT)."""
    frame = pd.read_csv(data)
    frame["TX_FRAUD"] = (frame["TX_AMOUNT"] >= frame["TX_AMOUNT"].quantile(0.98)).astype(int)
    frame.to_csv(data, index=False)
    common = (
        "train", "--source", "cards", "--data", str(data), "--pipeline", str(PIPELINE),
        "--label", "TX_FRAUD",
    )  # fmt: skip

    status, said = run(cards, capsys, *common, "--amount", "TX_DATETIME")
    assert status == 2
    assert "TX_DATETIME: must be a number, 0 or more, on every row" in said

    status, said = run(cards, capsys, *common, "--amount", "TX_AMOUNT")
    assert status == 0, said
    curve = champion(cards, "cards").card.threshold_curve
    assert curve is not None
    admitted = frame[frame["TX_AMOUNT"] >= 0]  # the contract refuses the negative amount
    held = admitted.iloc[len(admitted) - len(admitted) // 5 :]
    frauds = held[held["TX_FRAUD"] == 1]
    assert curve["frauds"] == len(frauds) > 0
    assert curve["fraud_amount"] == pytest.approx(frauds["TX_AMOUNT"].sum())


def test_training_refuses_a_pipeline_of_another_source_and_columns_it_did_not_choose(
    cards: Settings, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("train", "--data", str(data), "--pipeline", str(PIPELINE))
    status, said = run(cards, capsys, *common, "--source", "cards", "--features", "TX_AMOUNT")
    assert status == 2
    assert "--features" in said

    status, said = run(cards, capsys, *common, "--source", "logins")
    assert status == 2
    assert "'cards', not 'logins'" in said
    with pytest.raises(NoChampion):
        champion(cards, "logins")


def test_a_supervised_model_learns_from_the_verdicts_the_event_store_holds(
    cards: Settings, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No label column at all: the frauds are the ones chargebacks recorded, here the slice's
    40 largest payments (its first 3,000 transactions hold no fraud of the handbook's)."""
    with data.open() as source:
        rows = sorted(csv.DictReader(source), key=lambda r: -float(r["TX_AMOUNT"]))
    frauds = [r["TRANSACTION_ID"] for r in rows[:40]]
    desk = build_alert_desk(cards)
    try:
        for record_id in frauds:
            subject = ("cards", SubjectKind.RECORD, record_id)
            desk.label("default", "ann", subject, Verdict.FRAUD, LabelSource.CHARGEBACK)
    finally:
        desk.close()
    uvloop.run(label_book_caught_up(cards))

    status, said = run(
        cards, capsys, "train", "--source", "cards", "--data", str(data), "--pipeline",
        str(PIPELINE), "--algorithm", "lightgbm", "--stored-labels", "--holdout", "0",
    )  # fmt: skip

    assert status == 0, said
    assert f"labels from the event store: {len(frauds):,} of 2,999 records" in said
    detector = champion(cards, "cards")
    assert detector.card.algorithm == "lightgbm"
    assert detector.card.metrics["label_rate"] == pytest.approx(len(frauds) / 2_999)


def test_stored_labels_need_a_pipeline_to_know_the_records_by_id(
    cards: Settings, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, said = run(
        cards, capsys, "train", "--source", "cards", "--data", str(data), "--stored-labels"
    )
    assert status == 2
    assert "--stored-labels needs --pipeline" in said
