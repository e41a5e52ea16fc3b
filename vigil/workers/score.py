"""The score worker: records in, alerts out, in batches, acknowledging only what is durable."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from vigil.application.alert_desk import AlertDesk
from vigil.application.detection import Detector, ModelRegistry, NoChampion, Rejection
from vigil.application.entity_context import EntityHistory
from vigil.application.features import FeatureRow, OnlineFeatures, WindowStore
from vigil.application.ports import DeadLetter, DeadLetters, Delivery, RecordFeed
from vigil.application.records import MalformedRecord, RecordEnvelope
from vigil.application.rule_sets import PublishedRules
from vigil.application.scoring import ScoredBatch, score_batch, with_entity_context
from vigil.domain.alert import Detection

log = logging.getLogger("vigil.workers.score")

STAGE = "score"
UNKNOWN = "unknown"
"""Tenant and source of a message that is not a record envelope at all."""
RETRY_SECONDS = 10.0


@dataclass
class BatchReport:
    received: int = 0
    scored: int = 0
    alerts_raised: int = 0
    already_raised: int = 0
    dead_lettered: int = 0
    deferred: int = 0
    suppressed: int = 0


class ScoreWorker:
    """Scores each source's records with its champion model and raises alerts in one save."""

    def __init__(
        self,
        feed: RecordFeed,
        dead_letters: DeadLetters,
        models: ModelRegistry,
        alerts: AlertDesk,
        history: EntityHistory,
        rules: PublishedRules,
        windows: WindowStore,
        batch_size: int = 1000,
    ) -> None:
        self.feed = feed
        self.windows = windows
        self.rules = rules
        self.history = history
        self.dead_letters = dead_letters
        self.models = models
        self.alerts = alerts
        self.batch_size = batch_size

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        while not stop.is_set():
            deliveries = await self.feed.next_batch(self.batch_size, wait_seconds)
            if deliveries:
                report = await self.process(deliveries)
                log.info("scored batch %s", report)

    async def process(self, deliveries: Sequence[Delivery]) -> BatchReport:
        """Scores one fetched batch; acks it only once its alerts and dead letters are stored."""
        report = BatchReport(received=len(deliveries))
        by_source: dict[str, list[tuple[Delivery, RecordEnvelope]]] = defaultdict(list)
        for delivery in deliveries:
            try:
                envelope = RecordEnvelope.from_json(delivery.data)
            except MalformedRecord as error:
                await self._dead_letter(UNKNOWN, UNKNOWN, delivery, error, report)
                continue
            by_source[envelope.source].append((delivery, envelope))
        detections: list[Detection] = []
        scored: list[Delivery] = []
        for source, items in by_source.items():
            batch = await self._score(source, items, report)
            if batch is None:
                continue
            report.scored += len(batch.scored)
            report.suppressed += batch.suppressed
            if batch.rule_errors:
                log.warning(
                    "rules of %s not evaluable on some records: %s", source, batch.rule_errors
                )
            detections += await with_entity_context(batch, self.history)
            delivery_of = {id(envelope): delivery for delivery, envelope in items}
            rejected = {id(envelope) for envelope, _ in batch.rejections}
            scored += [d for d, e in items if id(e) not in rejected]
            for envelope, rejection in batch.rejections:
                delivery = delivery_of[id(envelope)]
                await self._dead_letter(envelope.tenant_id, source, delivery, rejection, report)
        await self._raise(detections, scored, report)
        return report

    async def _raise(
        self, detections: list[Detection], scored: list[Delivery], report: BatchReport
    ) -> None:
        try:
            outcome = await anyio.to_thread.run_sync(self.alerts.raise_alerts, detections)
        except Exception:
            # The event store refused or is down: hand the records back for another try.
            log.exception(
                "raising %d alerts failed; %d records redelivered", len(detections), len(scored)
            )
            for delivery in scored:
                await delivery.nak(delay=RETRY_SECONDS)
            report.deferred += len(scored)
            return
        report.alerts_raised, report.already_raised = outcome.raised, outcome.already_raised
        # An ack only queues a few bytes on the connection; awaiting each in turn is cheaper
        # than a task per message.
        for delivery in scored:
            await delivery.ack()

    async def _score(
        self, source: str, items: list[tuple[Delivery, RecordEnvelope]], report: BatchReport
    ) -> ScoredBatch | None:
        try:
            detector = await anyio.to_thread.run_sync(self.models.champion, source)
        except NoChampion:
            log.warning("no model for source %s yet; %d records wait", source, len(items))
            report.deferred += len(items)
            for delivery, _ in items:
                await delivery.nak(delay=RETRY_SECONDS)
            return None
        envelopes = [e for _, e in items]
        features = None
        if detector.pipeline is not None:
            # The windows of a batch that fails later are remembered once: a redelivered
            # record is the same record to the window store.
            online = OnlineFeatures(detector.pipeline, self.windows)
            features = await online.of_envelopes(envelopes)
        return await anyio.to_thread.run_sync(self._decide, source, envelopes, detector, features)

    def _decide(
        self,
        source: str,
        envelopes: list[RecordEnvelope],
        detector: Detector,
        features: list[FeatureRow] | None,
    ) -> ScoredBatch:
        """Reads each tenant's published rules (a publication takes effect on the next batch)
        and scores the batch with them."""
        tenants = {envelope.tenant_id for envelope in envelopes}
        rules = {tenant: self.rules.deciding(tenant, source) for tenant in tenants}
        return score_batch(envelopes, detector, rules, features)

    async def _dead_letter(
        self,
        tenant_id: str,
        source: str,
        delivery: Delivery,
        error: Rejection | MalformedRecord,
        report: BatchReport,
    ) -> None:
        letter = DeadLetter(
            tenant_id=tenant_id,
            source=source,
            body=delivery.data,
            field=error.field,
            reason=error.reason,
            stage=STAGE,
            # An envelope on the records stream has passed intake: its personal fields are
            # tokens already.
            pseudonymised=True,
        )
        await self.dead_letters.send([letter])
        await delivery.ack()
        report.dead_lettered += 1
