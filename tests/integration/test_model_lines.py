"""Model lines on both event stores: training registers versions, the registry serves what the
lines name, and a promotion or threshold change reaches a running registry at its next call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_lines import registered
from vigil.application.alert_desk import AlertDesk
from vigil.application.detection import ModelCard, NoChampion, TamperedArtifact
from vigil.application.model_lines import change_threshold, move_version
from vigil.bootstrap import build_alert_desk, build_model_registry, build_model_store
from vigil.cli import main
from vigil.domain.model_line import ModelStage
from vigil.domain.severity import SeverityBands
from vigil.infrastructure.detector_training import TrainingRequest, train_model
from vigil.infrastructure.model_store import OnnxModelRegistry
from vigil.infrastructure.settings import Settings

TENANT = "default"


def payments_csv(path: Path) -> Path:
    rows = ["amount,hour"] + [f"{10 + (n * 37) % 90},{n % 24}" for n in range(400)]
    path.write_text("\n".join(rows) + "\n")
    return path


def trained(settings: Settings, data: Path, seed: int) -> ModelCard:
    request = TrainingRequest("payments", data, n_estimators=20, seed=seed)
    return train_model(request, build_model_store(settings))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return payments_csv(tmp_path / "payments.csv")


@pytest.fixture
def desk(settings: Settings) -> Iterator[AlertDesk]:
    desk = build_alert_desk(settings)
    yield desk
    desk.close()


@pytest.fixture
def registry(settings: Settings, desk: AlertDesk) -> OnnxModelRegistry:
    return build_model_registry(settings, desk)


def test_a_new_lines_first_version_is_its_champion_and_a_retrained_one_waits(
    settings: Settings, data: Path, desk: AlertDesk, registry: OnnxModelRegistry
) -> None:
    first = registered(settings, trained(settings, data, seed=1))
    second = registered(settings, trained(settings, data, seed=2))

    [champion] = registry.scorers(TENANT, "payments").champions
    assert (champion.card.version, champion.card.model_line) == (first.version, "payments-iforest")
    [line] = registry.lines.lines(TENANT, "payments")
    assert line.model_version(second.version).stage is ModelStage.REGISTERED
    assert [type(e).__name__ for e in desk.events.get(line.id)] == [
        "Started",
        "VersionRegistered",
        "Promoted",
        "VersionRegistered",
    ]


def test_a_promotion_reaches_a_running_registry_at_its_next_call(
    settings: Settings, data: Path, desk: AlertDesk, registry: OnnxModelRegistry
) -> None:
    first = registered(settings, trained(settings, data, seed=1))
    second = registered(settings, trained(settings, data, seed=2))
    assert [d.card.version for d in registry.scorers(TENANT, "payments").champions] == [
        first.version
    ]

    move_version(
        desk, TENANT, "lead", "payments-iforest", second.version, ModelStage.CHAMPION, "better"
    )

    assert [d.card.version for d in registry.scorers(TENANT, "payments").champions] == [
        second.version
    ]
    line = registry.lines.lines(TENANT, "payments")[0]
    assert line.model_version(first.version).stage is ModelStage.REGISTERED


def test_a_changed_threshold_grades_with_the_new_bands_without_reloading_the_model(
    settings: Settings, data: Path, desk: AlertDesk, registry: OnnxModelRegistry
) -> None:
    card = registered(settings, trained(settings, data, seed=1))
    [before] = registry.scorers(TENANT, "payments").champions
    lower = SeverityBands(card.bands.threshold / 2, card.bands.high, card.bands.critical)

    change_threshold(desk, TENANT, "lead", "payments-iforest", card.version, lower, "budget")

    [after] = registry.scorers(TENANT, "payments").champions
    assert after.card.bands == lower
    assert after.score_vectors([[50.0, 3.0]]) == before.score_vectors([[50.0, 3.0]])


def test_a_demoted_champion_leaves_its_source_without_one_and_its_records_wait(
    settings: Settings, data: Path, desk: AlertDesk, registry: OnnxModelRegistry
) -> None:
    card = registered(settings, trained(settings, data, seed=1))
    move_version(
        desk, TENANT, "lead", "payments-iforest", card.version, ModelStage.REGISTERED, "drift"
    )

    with pytest.raises(NoChampion, match="'payments'"):
        registry.scorers(TENANT, "payments")
    with pytest.raises(NoChampion):
        registry.scorers("another-tenant", "payments")


def test_a_champion_whose_artifact_was_altered_is_refused(
    settings: Settings, data: Path, registry: OnnxModelRegistry
) -> None:
    card = registered(settings, trained(settings, data, seed=1))
    path = settings.storage.models / f"{card.version}.onnx"
    path.write_bytes(path.read_bytes() + b"\x00")

    with pytest.raises(TamperedArtifact):
        registry.scorers(TENANT, "payments")


def test_the_models_commands_promote_by_prefix_and_show_who_did_what(
    settings: Settings, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registered(settings, trained(settings, data, seed=1))
    second = registered(settings, trained(settings, data, seed=2))

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        status = main(list(args), settings)
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    status, said = run(
        "models", "promote", "payments-iforest", second.version[:10],
        "--stage", "shadow", "--reason", "compare on live traffic", "--actor", "olga",
    )  # fmt: skip
    assert status == 0, said
    assert f"{second.version[:12]} shadow" in said

    status, said = run("models", "retire", "payments-iforest", "abc", "--reason", "x")
    assert status == 2
    assert "version: give at least 8 characters" in said

    status, said = run("models", "show", "payments-iforest")
    assert status == 0
    assert "Promoted" in said
    assert "by olga: compare on live traffic" in said
