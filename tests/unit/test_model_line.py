"""The ModelLine aggregate: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from eventsourcing.application import Application

from tests.builders import T0
from vigil.domain.errors import (
    DomainError,
    IllegalModelStage,
    InvalidCommand,
    ModelVersionIsRetired,
    ModelVersionNotFound,
)
from vigil.domain.model_line import ModelLine, ModelStage, model_line_id
from vigil.domain.severity import SeverityBands

E = TypeVar("E", bound=Exception)
FIRST, SECOND = "a" * 64, "b" * 64
BANDS = SeverityBands(0.6, 0.7, 0.8)


def card(version: str, source: str = "cards") -> dict[str, Any]:
    return {"version": version, "source": source, "algorithm": "lightgbm", "metrics": {}}


def line_with(*versions: str) -> ModelLine:
    line = ModelLine.start("acme", "olga", T0, "cards-lgbm", "cards")
    for version in versions:
        line.register("olga", T0, card(version), BANDS, "weekly retrain")
    line.collect_events()
    return line


@pytest.fixture
def champion_line() -> ModelLine:
    """FIRST champion, SECOND registered."""
    line = line_with(FIRST, SECOND)
    line.promote("lead", T0, FIRST, ModelStage.CHAMPION, "best PR-AUC on the hold-out")
    line.collect_events()
    return line


def refused_without_events(
    line: ModelLine, error: type[E], command: Callable[[ModelLine], object]
) -> E:
    with pytest.raises(error) as refused:
        command(line)
    assert line.collect_events() == []
    return refused.value


def test_a_line_is_known_by_its_tenant_and_name() -> None:
    line = line_with()
    assert line.id == model_line_id("acme", "cards-lgbm")
    assert line.id != model_line_id("globex", "cards-lgbm")


def test_a_registered_version_keeps_its_card_bands_and_who_registered_it() -> None:
    line = line_with(FIRST)
    version = line.model_version(FIRST)
    assert (version.stage, version.bands, version.registered_by) == (
        ModelStage.REGISTERED,
        BANDS,
        "olga",
    )
    assert version.card["algorithm"] == "lightgbm"


def test_registering_the_same_artifact_again_records_nothing() -> None:
    line = line_with(FIRST)
    assert line.register("olga", T0, card(FIRST), BANDS, "again") is False
    assert line.collect_events() == []


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (card("not-a-digest"), "version"),
        (card(FIRST, source="logins"), "source"),
    ],
)
def test_a_card_without_a_digest_or_of_another_source_is_refused(
    given: dict[str, Any], field: str
) -> None:
    line = line_with()
    error = refused_without_events(
        line, InvalidCommand, lambda li: li.register("olga", T0, given, BANDS, "")
    )
    assert error.field == field


def test_promoting_a_champion_sends_the_one_it_replaces_back_to_registered(
    champion_line: ModelLine,
) -> None:
    champion_line.promote("lead", T0, SECOND, ModelStage.CHAMPION, "beat the champion in shadow")
    [event] = champion_line.collect_events()
    assert isinstance(event, ModelLine.Promoted)
    assert (event.replaced, event.actor, event.reason) == (
        FIRST,
        "lead",
        "beat the champion in shadow",
    )
    assert champion_line.champion is not None
    assert champion_line.champion.version == SECOND
    assert champion_line.model_version(FIRST).stage is ModelStage.REGISTERED


def test_a_shadow_scores_beside_the_champion_and_can_be_demoted(champion_line: ModelLine) -> None:
    champion_line.promote("lead", T0, SECOND, ModelStage.SHADOW, "compare on live traffic")
    assert [v.version for v in champion_line.shadows] == [SECOND]
    champion_line.demote("lead", T0, SECOND, "seen enough")
    assert champion_line.shadows == ()
    assert champion_line.champion is not None


def test_demoting_the_champion_leaves_the_line_without_one(champion_line: ModelLine) -> None:
    champion_line.demote("lead", T0, FIRST, "drifted")
    assert champion_line.champion is None


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (lambda li: li.promote("lead", T0, FIRST, ModelStage.CHAMPION, "again"), IllegalModelStage),
        (lambda li: li.promote("lead", T0, SECOND, ModelStage.RETIRED, "x"), InvalidCommand),
        (lambda li: li.demote("lead", T0, SECOND, "registered only"), IllegalModelStage),
        (lambda li: li.promote("lead", T0, "c" * 64, ModelStage.SHADOW, "x"), ModelVersionNotFound),
        (lambda li: li.promote("lead", T0, SECOND, ModelStage.SHADOW, " "), InvalidCommand),
    ],
)
def test_a_move_the_lifecycle_does_not_allow_is_refused_without_events(
    champion_line: ModelLine, command: Callable[[ModelLine], object], error: type[DomainError]
) -> None:
    refused_without_events(champion_line, error, command)


def test_a_retired_version_can_never_be_promoted_again(champion_line: ModelLine) -> None:
    champion_line.retire("lead", T0, FIRST, "leaked a label column")
    assert champion_line.champion is None
    champion_line.collect_events()
    refused_without_events(
        champion_line,
        ModelVersionIsRetired,
        lambda li: li.promote("lead", T0, FIRST, ModelStage.SHADOW, "try again"),
    )
    refused_without_events(
        champion_line, ModelVersionIsRetired, lambda li: li.retire("lead", T0, FIRST, "twice")
    )


def test_a_threshold_change_moves_the_bands_with_who_and_why(champion_line: ModelLine) -> None:
    lower = SeverityBands(0.5, 0.7, 0.8)
    champion_line.change_threshold("lead", T0, FIRST, lower, "alert budget doubled")
    [event] = champion_line.collect_events()
    assert isinstance(event, ModelLine.ThresholdChanged)
    assert event.reason == "alert budget doubled"
    assert champion_line.model_version(FIRST).bands == lower


@pytest.mark.parametrize(
    "bands",
    [SeverityBands(0.9, 0.7, 0.8), SeverityBands(float("nan"), 0.7, 0.8), BANDS],
)
def test_bands_out_of_order_not_finite_or_unchanged_are_refused(
    champion_line: ModelLine, bands: SeverityBands
) -> None:
    error = refused_without_events(
        champion_line,
        InvalidCommand,
        lambda li: li.change_threshold("lead", T0, FIRST, bands, "tune"),
    )
    assert error.field == "bands"


def test_a_line_stored_and_read_back_has_the_same_versions() -> None:
    app: Application[Any] = Application()
    line = ModelLine.start("acme", "olga", T0, "cards-lgbm", "cards")
    for version in (FIRST, SECOND):
        line.register("olga", T0, card(version), BANDS, "")
    line.promote("lead", T0, SECOND, ModelStage.CHAMPION, "first champion")
    line.change_threshold("lead", T0, SECOND, SeverityBands(0.5, 0.6, 0.9), "budget")
    app.save(line)
    stored = app.repository.get(line.id)
    assert isinstance(stored, ModelLine)
    assert stored.versions == line.versions
