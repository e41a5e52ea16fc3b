"""The score worker against the machine's NATS JetStream and PostgreSQL event store."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builders import card_envelope
from tests.model_lines import champion, registered
from vigil.application import rule_sets
from vigil.application.features import InProcessWindowStore
from vigil.application.records import RecordEnvelope
from vigil.bootstrap import (
    build_alert_desk,
    build_model_store,
    build_score_worker,
    open_entity_history,
    open_streams,
)
from vigil.domain.alert import Alert, Severity
from vigil.domain.rule_set import Rule, RuleAction, Stage
from vigil.infrastructure.detector_training import TrainingRequest, train_model
from vigil.infrastructure.nats.dead_letters import ERROR_FIELD, ERROR_REASON, ERROR_STAGE
from vigil.infrastructure.record_files import iter_records
from vigil.infrastructure.settings import Settings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

FDH_EXCLUDED = ["TX_FRAUD_SCENARIO", "TX_TIME_SECONDS", "TX_TIME_DAYS"]


@pytest.fixture
def trained_settings(postgres_settings: Settings, card_slice: Path) -> Settings:
    request = TrainingRequest(
        source="cards", data=card_slice, exclude=FDH_EXCLUDED, label="TX_FRAUD", alert_rate=0.02
    )
    registered(postgres_settings, train_model(request, build_model_store(postgres_settings)))
    return postgres_settings


@dataclass
class RedeliveredRecord:
    """A record handed to the worker a second time, as JetStream does after a lost ack."""

    data: bytes
    acked: bool = False

    async def ack(self) -> None:
        self.acked = True

    async def nak(self, delay: float | None = None) -> None:
        raise AssertionError("a scored record must not be handed back")


def expected_alerts(settings: Settings, envelopes: list[RecordEnvelope]) -> set[str]:
    detector = champion(settings, "cards")
    scores = detector.score([e.data for e in envelopes])
    threshold = detector.card.bands.threshold
    return {e.record_id for e, s in zip(envelopes, scores, strict=True) if s >= threshold}


async def drained(js, stream: str, durable: str) -> bool:  # type: ignore[no-untyped-def]
    info = await js.consumer_info(stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_the_score_worker_raises_one_alert_per_anomalous_record_and_dead_letters_the_rest(
    trained_settings: Settings, card_slice: Path
) -> None:
    settings = trained_settings
    envelopes = [card_envelope(row) for row in iter_records(card_slice)]
    broken = card_envelope({**envelopes[0].data, "TRANSACTION_ID": "broken", "TX_AMOUNT": "n/a"})
    alerts = build_alert_desk(settings)
    async with (
        open_streams(settings, "test-score") as streams,
        open_entity_history(settings) as history,
    ):
        js = streams.client.jetstream()
        await streams.publisher.publish([*envelopes, broken])
        await js.publish(settings.nats.subject("records", "cards"), b"{not json")
        worker = build_score_worker(
            settings, streams, alerts, history, InProcessWindowStore(), batch_size=500
        )
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop, wait_seconds=0.2))
        for _ in range(200):
            await asyncio.sleep(0.1)
            if await drained(js, settings.nats.stream("RECORDS"), "score"):
                break
        stop.set()
        await running

        stored = [
            alerts.repository.get(n.originator_id)
            for n in alerts.recorder.select_notifications(None, 10_000)
        ]
        raised = [a for a in stored if isinstance(a, Alert)]  # the model line's events beside
        assert {a.record_id for a in raised} == expected_alerts(settings, envelopes)
        assert 0 < len(raised) < len(envelopes) * 0.05
        # Every alert tells the analyst what its customer did in the day before, itself included.
        assert all(a.entity_context["count_24h"] >= 1 for a in raised)
        assert all(a.entity_context["max_TX_AMOUNT_24h"] >= a.record["TX_AMOUNT"] for a in raised)

        dlq = await js.pull_subscribe(
            settings.nats.subject("dlq", ">"), stream=settings.nats.stream("DLQ")
        )
        letters = await dlq.fetch(2, timeout=5)
        by_field = {(m.headers or {})[ERROR_FIELD]: m for m in letters}
        assert set(by_field) == {"TX_AMOUNT", "body"}
        assert json.loads(by_field["TX_AMOUNT"].data)["record_id"] == "broken"
        assert by_field["body"].data == b"{not json"
        assert all((m.headers or {})[ERROR_STAGE] == "score" for m in letters)
        assert all((m.headers or {})[ERROR_REASON] for m in letters)


async def test_a_redelivered_record_never_raises_a_second_alert(
    trained_settings: Settings, card_slice: Path
) -> None:
    settings = trained_settings
    envelopes = [card_envelope(row) for row in iter_records(card_slice)]
    alerts = build_alert_desk(settings)
    async with (
        open_streams(settings, "test-redelivery") as streams,
        open_entity_history(settings) as history,
    ):
        worker = build_score_worker(settings, streams, alerts, history, InProcessWindowStore())
        first = await worker.process([RedeliveredRecord(e.to_json()) for e in envelopes])
        again = [RedeliveredRecord(e.to_json()) for e in envelopes]
        second = await worker.process(again)
    assert first.alerts_raised == len(expected_alerts(settings, envelopes)) > 0
    assert (second.alerts_raised, second.already_raised) == (0, first.alerts_raised)
    assert all(r.acked for r in again)
    topics = [n.topic for n in alerts.recorder.select_notifications(None, 10_000)]
    assert sum(topic.endswith("Alert.Raised") for topic in topics) == first.alerts_raised


async def test_a_line_of_a_message_that_is_no_envelope_is_dead_lettered_alone(
    trained_settings: Settings, card_slice: Path
) -> None:
    settings = trained_settings
    envelopes = [card_envelope(row) for row in iter_records(card_slice)]
    alerts = build_alert_desk(settings)
    message = RedeliveredRecord(
        b"\n".join([*(e.to_json() for e in envelopes[:10]), b"{oops", envelopes[10].to_json()])
    )
    async with (
        open_streams(settings, "test-lines") as streams,
        open_entity_history(settings) as history,
    ):
        worker = build_score_worker(settings, streams, alerts, history, InProcessWindowStore())
        report = await worker.process([message])
        js = streams.client.jetstream()
        dlq = await js.pull_subscribe(
            settings.nats.subject("dlq", ">"), stream=settings.nats.stream("DLQ")
        )
        letters = await dlq.fetch(1, timeout=5)
    assert (report.received, report.scored, report.dead_lettered) == (12, 11, 1)
    assert message.acked
    assert [m.data for m in letters] == [b"{oops"]
    assert (letters[0].headers or {})[ERROR_FIELD] == "body"


BIG = 100.0


async def test_rules_published_between_batches_decide_the_next_batch(
    trained_settings: Settings, card_slice: Path
) -> None:
    settings = trained_settings
    envelopes = [card_envelope(row) for row in iter_records(card_slice)]
    before, after = envelopes[:1500], envelopes[1500:]
    flagged_after = expected_alerts(settings, after)
    trusted = next(e for e in after if e.record_id in flagged_after).data["TERMINAL_ID"]
    alerts = build_alert_desk(settings)
    async with (
        open_streams(settings, "test-rules") as streams,
        open_entity_history(settings) as history,
    ):
        worker = build_score_worker(settings, streams, alerts, history, InProcessWindowStore())
        first = await worker.process([RedeliveredRecord(e.to_json()) for e in before])
        rules = [
            Rule("big_amount", f"TX_AMOUNT > {BIG}", RuleAction.RAISE, Severity.HIGH),
            Rule("trusted_terminal", f"TERMINAL_ID == {json.dumps(trusted)}", RuleAction.SUPPRESS),
        ]
        rule_sets.draft_rules(alerts, "default", "ann", "cards", rules, "first rules")
        rule_sets.move_rules(
            alerts, "default", "ann", "cards", 1, Stage.PUBLISHED, "reviewed by the team"
        )
        second = await worker.process([RedeliveredRecord(e.to_json()) for e in after])

    assert first.alerts_raised == len(expected_alerts(settings, before))
    big = {e.record_id for e in after if float(e.data["TX_AMOUNT"]) > BIG}
    suppressed = {e.record_id for e in after if e.data["TERMINAL_ID"] == trusted}
    assert big - flagged_after, "the slice should hold big amounts the model let through"
    assert second.alerts_raised == len((flagged_after | big) - suppressed)
    assert second.suppressed == len(flagged_after & suppressed) > 0
    notifications = alerts.recorder.select_notifications(None, 10_000)
    raised = [alerts.repository.get(n.originator_id) for n in notifications]
    later = {e.record_id for e in after}
    decided = [a for a in raised if isinstance(a, Alert) and a.record_id in later]
    assert {a.record_id for a in decided} == (flagged_after | big) - suppressed
    assert all(a.rule_set_version == 1 for a in decided)
    assert {a.record_id for a in decided if a.rule_hits == ("big_amount",)} == big - suppressed
