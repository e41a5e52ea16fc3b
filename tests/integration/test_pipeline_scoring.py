"""A model trained on a feature pipeline, scoring on PostgreSQL, NATS JetStream and Redis.

The records take the path they take in production: `vigil ingest` through the cards contract
onto the records stream, the score worker computing their window features in Redis. The model
was trained on the same file's features, computed offline by `vigil features build`'s code: both
must be the same numbers, so the worker raises exactly the alerts the offline scores predict.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.model_lines import champion, registered
from vigil.application import rule_sets
from vigil.application.features import FileFeatures
from vigil.bootstrap import (
    build_alert_desk,
    build_model_store,
    build_score_worker,
    open_entity_history,
    open_streams,
    open_window_store,
)
from vigil.cli_features import pipeline_features
from vigil.cli_sources import apply_file, ingest_file
from vigil.domain.alert import Alert, Severity
from vigil.domain.rule_set import Rule, RuleAction, Stage
from vigil.infrastructure.detector_training import (
    TrainingRequest,
    train_model_on_features,
)
from vigil.infrastructure.settings import Settings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CARDS = EXAMPLES / "sources" / "cards.yaml"
PIPELINE = EXAMPLES / "pipelines" / "card_features.yaml"
VELOCITY = 4
"""A customer's fourth transaction within a day raises an alert whatever the model says."""


async def trained(settings: Settings, data: Path) -> FileFeatures:
    desk = build_alert_desk(settings)
    try:
        apply_file(desk, "default", "dana", CARDS, "the handbook's acquirer")
    finally:
        desk.close()
    features = await pipeline_features(settings, PIPELINE, data, "default", label="TX_FRAUD")
    request = TrainingRequest(source="cards", data=data, label="TX_FRAUD", alert_rate=0.02)
    registered(settings, train_model_on_features(request, features, build_model_store(settings)))
    return features


async def drained(settings: Settings, streams) -> bool:  # type: ignore[no-untyped-def]
    info = await streams.client.jetstream().consumer_info(settings.nats.stream("RECORDS"), "score")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_online_features_in_redis_are_the_offline_ones_and_decide_the_same_alerts(
    postgres_settings: Settings, card_slice: Path
) -> None:
    settings = postgres_settings
    features = await trained(settings, card_slice)
    matrix = features.matrix
    detector = champion(settings, "cards")
    assert detector.pipeline is not None
    assert detector.card.pipeline == "card_features"
    assert detector.card.features == matrix.names
    offline = dict(zip(matrix.record_ids, matrix.rows, strict=True))
    scores = detector.score_vectors(matrix.rows)
    threshold = detector.card.bands.threshold
    flagged = {i for i, s in zip(matrix.record_ids, scores, strict=True) if s >= threshold}
    assert 0 < len(flagged) < len(matrix.rows) * 0.05

    alerts = build_alert_desk(settings)
    rules = [
        Rule(
            "velocity",
            f"CUSTOMER_ID_count_1d >= {VELOCITY}",
            RuleAction.RAISE,
            Severity.HIGH,
        )
    ]
    rule_sets.draft_rules(alerts, "default", "ann", "cards", rules, "velocity")
    rule_sets.move_rules(alerts, "default", "ann", "cards", 1, Stage.PUBLISHED, "reviewed")
    count_1d = matrix.names.index("CUSTOMER_ID_count_1d")
    fast = {i for i, row in offline.items() if row[count_1d] >= VELOCITY}
    assert fast - flagged, "the slice should hold customers the model alone lets through"

    report = await ingest_file(settings, card_slice, "default", "cards", show_progress=False)
    assert report.accepted == len(matrix.rows) == 3000
    async with (
        open_streams(settings, "test-pipeline") as streams,
        open_entity_history(settings) as history,
        open_window_store(settings) as windows,
    ):
        worker = build_score_worker(settings, streams, alerts, history, windows, batch_size=700)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop, wait_seconds=0.2))
        for _ in range(300):
            await asyncio.sleep(0.1)
            if await drained(settings, streams):
                break
        stop.set()
        await running

    notifications = alerts.recorder.select_notifications(None, 10_000)
    raised = [alerts.repository.get(n.originator_id) for n in notifications]
    raised = [a for a in raised if isinstance(a, Alert)]
    assert {a.record_id for a in raised} == flagged | fast
    assert {a.record_id for a in raised if a.rule_hits == ("velocity",)} == fast
    names = matrix.fitted.pipeline.window_feature_names
    for alert in raised:
        # The alert's entity context is its window features, as offline computed them; the
        # customer is a token there, as everywhere past intake.
        vector = offline[alert.record_id]
        expected = {n: vector[matrix.names.index(n)] for n in names if n in alert.entity_context}
        assert alert.entity_context == pytest.approx(expected, rel=1e-9)
        assert alert.entity_context["CUSTOMER_ID_count_30d"] >= 1
        assert str(alert.record["CUSTOMER_ID"]).startswith("tok_")
        assert alert.model_version == detector.card.version
