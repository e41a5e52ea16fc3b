"""Shadow versions on PostgreSQL and the machine's NATS: a shadow scores the champion's records
and raises nothing, every score goes to the SCORED stream, and the monitor adds the shadow's
verdicts up against the champion's, each batch once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.builders import card_envelope
from tests.integration.test_score_worker import FDH_EXCLUDED, RedeliveredRecord
from tests.model_lines import registered
from vigil.application.features import InProcessWindowStore
from vigil.application.model_lines import move_version
from vigil.application.model_scores import ScoredRecords
from vigil.bootstrap import (
    build_alert_desk,
    build_model_store,
    build_read_engine,
    build_score_worker,
    open_entity_history,
    open_streams,
)
from vigil.domain.alert import Alert
from vigil.domain.model_line import ModelStage
from vigil.infrastructure.detector_training import TrainingRequest, train_model
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.read_model.model_comparisons import SqlComparisonBook
from vigil.infrastructure.record_files import iter_records
from vigil.infrastructure.settings import Settings
from vigil.workers.monitor import ComparisonFollower

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

LINE = "cards-iforest"


def trained(settings: Settings, data: Path, seed: int) -> str:
    request = TrainingRequest(
        source="cards", data=data, exclude=FDH_EXCLUDED, label="TX_FRAUD", alert_rate=0.02,
        seed=seed,
    )  # fmt: skip
    return registered(settings, train_model(request, build_model_store(settings))).version


@pytest.fixture
def versions(postgres_settings: Settings, card_slice: Path) -> tuple[str, str]:
    """The champion, and a version trained with another seed put into shadow."""
    champion = trained(postgres_settings, card_slice, seed=1)
    shadow = trained(postgres_settings, card_slice, seed=2)
    desk = build_alert_desk(postgres_settings)
    try:
        move_version(desk, "default", "olga", LINE, shadow, ModelStage.SHADOW, "challenger")
    finally:
        desk.close()
    return champion, shadow


async def test_a_shadow_scores_beside_the_champion_raises_nothing_and_is_compared(
    postgres_settings: Settings, card_slice: Path, versions: tuple[str, str]
) -> None:
    settings, (champion, shadow) = postgres_settings, versions
    envelopes = [card_envelope(row) for row in iter_records(card_slice)]
    alerts = build_alert_desk(settings)
    engine = build_read_engine(settings)
    await migrate.upgrade(engine)
    book = SqlComparisonBook(engine)
    try:
        async with (
            open_streams(settings, "test-shadow") as streams,
            open_entity_history(settings) as history,
        ):
            worker = build_score_worker(settings, streams, alerts, history, InProcessWindowStore())
            report = await worker.process([RedeliveredRecord(e.to_json()) for e in envelopes])
            follower = ComparisonFollower(streams.scored_feed("monitor-test"), book)
            assert await follower.follow(wait_seconds=2.0) == 1

            [message] = await scored_messages(streams)
            again = ComparisonFollower(streams.scored_feed("monitor-again"), book)
            assert await again.follow(wait_seconds=2.0) == 0  # applied once, whoever reads it
        [comparison] = await book.comparisons("default", LINE)
        stored = [alerts.repository.get(n.originator_id) for n in notifications(alerts)]
    finally:
        await engine.dispose()
        alerts.close()

    raised = [a for a in stored if isinstance(a, Alert)]
    assert {a.model_version for a in raised} == {champion}
    assert len(raised) == report.alerts_raised > 0
    models = {m.stage: m for m in message.models}
    assert (models["champion"].version, models["shadow"].version) == (champion, shadow)
    assert message.record_ids == [e.record_id for e in envelopes]
    assert sum(models["champion"].alerted) == report.alerts_raised
    assert (comparison.champion_version, comparison.shadow_version) == (champion, shadow)
    assert comparison.scored == len(envelopes)
    assert comparison.champion_alerts == report.alerts_raised
    assert comparison.shadow_alerts == sum(models["shadow"].alerted) > 0
    assert 0.9 < comparison.agreement <= 1.0


def notifications(alerts: Any) -> list[Any]:
    return list(alerts.recorder.select_notifications(None, 10_000))


async def scored_messages(streams: Any) -> list[ScoredRecords]:
    js = streams.client.jetstream()
    subject = streams.publisher.settings.subject("scored", ">")
    stream = streams.publisher.settings.stream("SCORED")
    subscription = await js.pull_subscribe(subject, stream=stream)
    messages = await subscription.fetch(10, timeout=5)
    return [ScoredRecords.from_json(m.data) for m in messages]
