"""The score worker: records in, alerts out, in batches, acknowledging only what is durable."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio

from vigil.application.alert_desk import AlertDesk
from vigil.application.detection import Detector, ModelRegistry, NoChampion, Rejection
from vigil.application.entity_context import EntityHistory
from vigil.application.features import FeatureRow, OnlineFeatures, WindowStore
from vigil.application.model_scores import (
    CHAMPION,
    SHADOW,
    ModelScores,
    ScoredRecords,
    ScorePublisher,
)
from vigil.application.ports import DeadLetter, DeadLetters, Delivery, RecordFeed
from vigil.application.records import MalformedRecord, RecordEnvelope, unpack_records
from vigil.application.rule_sets import PublishedRules
from vigil.application.scoring import ScoredBatch, score_batch, with_entity_context
from vigil.domain.alert import Detection
from vigil.domain.decision import CompiledRules

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


@dataclass
class SourceBatch:
    """One tenant's source's records of a batch, a model to score them and the features it
    reads: one of these for each champion of the source's lines and each version in shadow."""

    source: str
    items: list[tuple[Delivery, RecordEnvelope]]
    detector: Detector
    rules: dict[str, CompiledRules | None]
    """The tenant's published rules for the source, None where it has none."""
    features: list[FeatureRow] | None
    group: tuple[str, str]
    """(tenant, source): the SourceBatches of one group share their records."""
    stage: str = CHAMPION
    """A shadow's records are scored and their scores kept; it raises nothing."""


@dataclass
class Prepared:
    report: BatchReport
    deliveries: list[Delivery]
    """The batch's messages, each once, in order; a message may carry many records."""
    sources: list[SourceBatch] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    handed_back: set[int] = field(default_factory=set)
    """The ids of messages given back to the stream already, to come again."""

    def hand_back(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """The messages not handed back before, now marked as handed back."""
        fresh = [d for d in _distinct(deliveries) if id(d) not in self.handed_back]
        self.handed_back.update(id(d) for d in fresh)
        return fresh


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
        scores: ScorePublisher | None = None,
    ) -> None:
        self.scores = scores
        """Where every score goes, champions' and shadows'; None keeps none."""
        self.feed = feed
        self.windows = windows
        self.rules = rules
        self.history = history
        self.dead_letters = dead_letters
        self.models = models
        self.alerts = alerts
        self.batch_size = batch_size

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        """Two batches at a time: while one is scored and its alerts stored, the next is fetched
        and its features computed, so neither the feature store's round trip nor the event
        store's waits on the other. Batches are prepared in order, so windows see the records
        in the order they came."""
        prepared: asyncio.Queue[Prepared | None] = asyncio.Queue(maxsize=1)

        async def prepare() -> None:
            try:
                while not stop.is_set():
                    deliveries = await self.feed.next_batch(self.batch_size, wait_seconds)
                    if deliveries:
                        await prepared.put(await self._prepare(deliveries))
            finally:
                await prepared.put(None)

        async def finish() -> None:
            while (batch := await prepared.get()) is not None:
                report = await self._finish(batch)
                log.info("scored batch %s", report)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(prepare)
            tasks.start_soon(finish)

    async def process(self, deliveries: Sequence[Delivery]) -> BatchReport:
        """Scores one fetched batch; acks it only once its alerts and dead letters are stored."""
        return await self._finish(await self._prepare(deliveries))

    async def _prepare(self, deliveries: Sequence[Delivery]) -> Prepared:
        """Reads the batch, finds each tenant's source's champions and the features they read."""
        batch = Prepared(BatchReport(), list(deliveries))
        by_source: dict[tuple[str, str], list[tuple[Delivery, RecordEnvelope]]]
        by_source = defaultdict(list)
        for delivery in deliveries:
            for line in unpack_records(delivery.data):
                batch.report.received += 1
                try:
                    envelope = RecordEnvelope.from_json(line)
                except MalformedRecord as error:
                    batch.letters.append(_letter(UNKNOWN, UNKNOWN, line, error))
                    continue
                by_source[envelope.tenant_id, envelope.source].append((delivery, envelope))
        for (tenant_id, source), items in by_source.items():
            try:
                deciding, shadows, rules = await anyio.to_thread.run_sync(
                    self._deciding, tenant_id, source
                )
            except NoChampion:
                log.warning("no champion for source %s yet; %d records wait", source, len(items))
                batch.report.deferred += len(items)
                for delivery in batch.hand_back([d for d, _ in items]):
                    await delivery.nak(delay=RETRY_SECONDS)
                continue
            envelopes = [e for _, e in items]
            features: dict[int, list[FeatureRow]] = {}
            staged = [(d, CHAMPION) for d in deciding] + [(d, SHADOW) for d in shadows]
            for detector, stage in staged:
                pipeline = detector.pipeline
                if pipeline is not None and id(pipeline) not in features:
                    # The windows of a batch that fails later are remembered once: a
                    # redelivered record is the same record to the window store.
                    online = OnlineFeatures(pipeline, self.windows)
                    features[id(pipeline)] = await online.of_envelopes(envelopes)
                rows = None if pipeline is None else features[id(pipeline)]
                work = SourceBatch(source, items, detector, rules, rows, (tenant_id, source), stage)
                batch.sources.append(work)
        return batch

    async def _finish(self, batch: Prepared) -> BatchReport:
        """Raises the batch's alerts, then sends its dead letters, then acknowledges each
        message whose records are all done; a message given back is not acknowledged."""
        report = batch.report
        detections: list[Detection] = []
        scored: dict[tuple[str, str], ScoredRecords] = {}
        for work in batch.sources:
            envelopes = [e for _, e in work.items]
            # On the event loop, not a thread: it is a few milliseconds a batch, and a thread
            # would fight the next batch's preparation for the interpreter.
            decided = score_batch(envelopes, work.detector, work.rules, work.features)
            group = scored.setdefault(work.group, _scored_records(work.group, envelopes))
            group.models.append(_model_scores(work, decided))
            if work.stage == SHADOW:
                continue
            report.scored += len(decided.scored)
            report.suppressed += decided.suppressed
            if decided.rule_errors:
                log.warning(
                    "rules of %s not evaluable on some records: %s",
                    work.source,
                    decided.rule_errors,
                )
            detections += await with_entity_context(decided, self.history)
            batch.letters += [
                _letter(envelope.tenant_id, work.source, envelope.to_json(), rejection)
                for envelope, rejection in decided.rejections
            ]
        try:
            outcome = await anyio.to_thread.run_sync(self.alerts.raise_alerts, detections)
        except Exception:
            # The event store refused or is down: hand the records back for another try.
            waiting = batch.hand_back(batch.deliveries)
            log.exception(
                "raising %d alerts failed; %d messages redelivered", len(detections), len(waiting)
            )
            for delivery in waiting:
                await delivery.nak(delay=RETRY_SECONDS)
            report.deferred += report.scored
            return report
        report.alerts_raised, report.already_raised = outcome.raised, outcome.already_raised
        if batch.letters:
            await self.dead_letters.send(batch.letters)
            report.dead_lettered += len(batch.letters)
        if self.scores is not None and scored:
            await self.scores.publish(list(scored.values()))
        # An ack only queues a few bytes on the connection; awaiting each in turn is cheaper
        # than a task per message.
        for delivery in batch.hand_back(batch.deliveries):
            await delivery.ack()
        return report

    def _deciding(
        self, tenant_id: str, source: str
    ) -> tuple[Sequence[Detector], Sequence[Detector], dict[str, CompiledRules | None]]:
        """The source's champions and shadows and the tenant's published rules, read from the
        stores for every batch: a promotion or a publication takes effect on the next one."""
        scorers = self.models.scorers(tenant_id, source)
        rules = {tenant_id: self.rules.deciding(tenant_id, source)}
        return scorers.champions, scorers.shadows, rules


def _letter(
    tenant_id: str, source: str, body: bytes, error: Rejection | MalformedRecord
) -> DeadLetter:
    return DeadLetter(
        tenant_id=tenant_id,
        source=source,
        body=body,
        field=error.field,
        reason=error.reason,
        stage=STAGE,
        # An envelope on the records stream has passed intake: its personal fields are tokens
        # already.
        pseudonymised=True,
    )


def _scored_records(group: tuple[str, str], envelopes: list[RecordEnvelope]) -> ScoredRecords:
    return ScoredRecords(group[0], group[1], [e.record_id for e in envelopes], [])


def _model_scores(work: SourceBatch, decided: ScoredBatch) -> ModelScores:
    """The model's score of each of the work's records, in order, and which it alerted on."""
    by_id = dict(zip((e.record_id for e in decided.scored), decided.scores, strict=True))
    alerted = {d.record_id for d in decided.detections}
    ids = [e.record_id for _, e in work.items]
    card = work.detector.card
    return ModelScores(
        model_line=card.model_line,
        version=card.version,
        stage=work.stage,
        threshold=card.bands.threshold,
        scores=[by_id.get(record_id) for record_id in ids],
        alerted=[record_id in alerted for record_id in ids],
    )


def _distinct(deliveries: Sequence[Delivery]) -> list[Delivery]:
    return list({id(d): d for d in deliveries}.values())
