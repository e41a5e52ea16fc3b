"""The composition root: every adapter is built here from settings, and nowhere else.

Nothing connects, opens or starts at import time; callers (the CLI, the tests) ask for what they
need, with the settings they choose.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio
from eventsourcing.persistence import IntegrityError, InternalError
from eventsourcing.postgres import PostgresApplicationRecorder
from litestar import Litestar
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.application.alert_desk import AlertDesk
from vigil.application.alert_projection import AlertQueueProjection
from vigil.application.case_files import AttachmentPolicy
from vigil.application.case_sla import mark_overdue_cases
from vigil.application.casework import Casework
from vigil.application.casework_projections import CaseListProjection, LabelProjection
from vigil.application.data_sources import SourceContracts
from vigil.application.domain_events import notices_after
from vigil.application.entity_context import EntityHistory
from vigil.application.entity_summary_projection import EntitySummaryProjection
from vigil.application.evidence_projections import CaseFileProjection, CommentProjection
from vigil.application.features import InProcessWindowStore, WindowStore
from vigil.application.identity_ports import LoginThrottle, RefreshTokens
from vigil.application.intake import Admission, Intake
from vigil.application.model_lines import ModelLineDirectory
from vigil.application.ports import Clock, system_clock
from vigil.application.queue_projection import QueueBoardProjection
from vigil.application.queues import hand_out_waiting
from vigil.application.read_models import ReadModels
from vigil.application.realtime_scoring import RealTimeScoring
from vigil.application.rule_sets import PublishedRules
from vigil.application.source_catalogue import SourceCatalogueProjection
from vigil.application.source_desk import SourceDesk
from vigil.application.source_directory import SourceDirectory
from vigil.application.source_routes import AddressedFeed
from vigil.application.webhooks import SeenSignatures, WebhookVerifier
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.domain.source_contract import SourceType
from vigil.infrastructure.access_tokens import JwtAccessTokens
from vigil.infrastructure.attachment_store import DiskAttachmentStore
from vigil.infrastructure.entity_history import InProcessEntityHistory, RedisEntityHistory
from vigil.infrastructure.explanations import ArtifactExplainer
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.login_throttle import InProcessLoginThrottle, RedisLoginThrottle
from vigil.infrastructure.model_store import ModelStore, OnnxModelRegistry
from vigil.infrastructure.mqtt_bridge import MqttBridge
from vigil.infrastructure.nats.acked_batches import AckedBatches
from vigil.infrastructure.nats.dead_letters import JetStreamDeadLetterBox, JetStreamDeadLetters
from vigil.infrastructure.nats.domain_events import (
    JetStreamDomainEventFeed,
    JetStreamDomainEventPublisher,
)
from vigil.infrastructure.nats.intake_feed import JetStreamIntakeFeed
from vigil.infrastructure.nats.jetstream import connect, ensure_streams
from vigil.infrastructure.nats.records import JetStreamRecordFeed, JetStreamRecordPublisher
from vigil.infrastructure.nats.scores import JetStreamScoredFeed, JetStreamScorePublisher
from vigil.infrastructure.passwords import Argon2PasswordHasher
from vigil.infrastructure.projection_runner import EventStoreListener, ProjectionRunner
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.read_model.alert_queue import SqlAlertQueue
from vigil.infrastructure.read_model.case_list import SqlCaseList
from vigil.infrastructure.read_model.engine import create_read_engine
from vigil.infrastructure.read_model.entity_summary import SqlEntitySummaries
from vigil.infrastructure.read_model.evidence_book import SqlEvidenceBook
from vigil.infrastructure.read_model.label_book import SqlLabelBook
from vigil.infrastructure.read_model.model_comparisons import SqlComparisonBook
from vigil.infrastructure.read_model.queue_board import SqlQueueBoard
from vigil.infrastructure.read_model.source_catalogue import SqlSourceCatalogue
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.refresh_tokens import InProcessRefreshTokens, RedisRefreshTokens
from vigil.infrastructure.seen_signatures import InProcessSeenSignatures, RedisSeenSignatures
from vigil.infrastructure.settings import Settings, pii_token_key, secret_key
from vigil.infrastructure.source_documents import YamlSourceDocuments
from vigil.infrastructure.training_desk import TrainingDesk
from vigil.infrastructure.window_store import RedisWindowStore
from vigil.web.app import WebDeps, create_app, settle_heap
from vigil.web.auth import Identity
from vigil.web.case_files import CaseFileStorage
from vigil.web.ingest import IngestEndpoints
from vigil.web.scoring import ScoringEndpoints
from vigil.workers import project, sla
from vigil.workers.ingest import IngestWorker
from vigil.workers.monitor import ComparisonFollower
from vigil.workers.relay import DomainEventRelay
from vigil.workers.score import ScoreWorker

log = logging.getLogger("vigil.bootstrap")


def build_alert_desk(settings: Settings, clock: Clock = system_clock) -> Casework:
    """The alerts application, with its cases and labels, on the configured event store."""
    env, personal = settings.storage.event_store_env(), settings.pii.fields
    try:
        return Casework(env, clock=clock, personal_fields=personal)
    except (IntegrityError, InternalError):
        # Processes started together race to create the event store's tables and functions on
        # PostgreSQL (neither IF NOT EXISTS nor OR REPLACE is atomic there); the loser finds
        # them made. `vigil run` avoids the race by creating them before any worker starts.
        return Casework(env, clock=clock, personal_fields=personal)


def prepare_stores(settings: Settings) -> None:
    """Creates the event store's tables and migrates the read model, before any worker starts."""
    build_alert_desk(settings).close()
    upgrade_read_model(settings)


def build_model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.storage.models)


def build_model_registry(settings: Settings, desk: AlertDesk) -> OnnxModelRegistry:
    """The champions the desk's model lines name, loaded from the settings' model store."""
    return OnnxModelRegistry(ModelLineDirectory(desk), build_model_store(settings))


@dataclass
class Streams:
    """One JetStream connection and the adapters that share it."""

    client: NatsClient
    publisher: JetStreamRecordPublisher
    dead_letters: JetStreamDeadLetters
    dead_letter_box: JetStreamDeadLetterBox
    scores: JetStreamScorePublisher

    def record_feed(self, durable: str, source: str = "*") -> JetStreamRecordFeed:
        return JetStreamRecordFeed(self.client, self.publisher.settings, durable, source)

    def scored_feed(self, durable: str) -> JetStreamScoredFeed:
        return JetStreamScoredFeed(self.client, self.publisher.settings, durable)


@asynccontextmanager
async def open_streams(settings: Settings, name: str) -> AsyncIterator[Streams]:
    """Connects to NATS, declares the streams, and flushes pending acks on the way out."""
    client = await connect(settings.nats, name)
    try:
        js = client.jetstream()
        await ensure_streams(js, settings.nats)
        yield Streams(
            client=client,
            publisher=JetStreamRecordPublisher(AckedBatches(client), settings.nats),
            dead_letters=JetStreamDeadLetters(js, settings.nats),
            dead_letter_box=JetStreamDeadLetterBox(js, settings.nats),
            scores=JetStreamScorePublisher(AckedBatches(client), settings.nats),
        )
    finally:
        # drain() waits out its whole timeout on an idle pull subscription; acks and publishes
        # are already sent or awaited, so flushing before closing loses nothing.
        await client.flush()
        await client.close()


def build_source_contracts(settings: Settings, desk: AlertDesk) -> SourceContracts:
    """Each source's contract compiled, re-read every `VIGIL_INGEST_CONTRACT_REFRESH_SECONDS`."""
    refresh = settings.ingest.contract_refresh_seconds
    return SourceContracts(desk, FastJsonSchemaCompiler(), refresh_seconds=refresh)


def build_intake(
    settings: Settings,
    desk: AlertDesk,
    streams: Streams,
    clock: Clock = system_clock,
) -> Intake:
    """Contract checks, tokenisation and publishing, for every way records come in."""
    return Intake(
        contracts=build_source_contracts(settings, desk),
        pseudonymiser=Pseudonymiser(pii_token_key(settings)),
        publisher=streams.publisher,
        dead_letters=streams.dead_letters,
        clock=clock,
        max_record_bytes=settings.ingest.max_record_bytes,
    )


@asynccontextmanager
async def open_entity_history(settings: Settings) -> AsyncIterator[EntityHistory]:
    """Redis when `VIGIL_REDIS_URL` is set (shared by every worker), else the worker's memory."""
    if settings.features.redis_url is None:
        yield InProcessEntityHistory()
        return
    redis = Redis.from_url(settings.features.redis_url)
    try:
        yield RedisEntityHistory(redis, settings.features.redis_key_prefix)
    finally:
        await redis.aclose()


@asynccontextmanager
async def open_window_store(settings: Settings) -> AsyncIterator[WindowStore]:
    """Feature pipelines' entity windows: in Redis when `VIGIL_REDIS_URL` is set, so every score
    worker sees every record; else in the worker's memory, lost when it stops."""
    if settings.features.redis_url is None:
        yield InProcessWindowStore(keep_places=True)
        return
    redis = Redis.from_url(settings.features.redis_url)
    try:
        yield RedisWindowStore(
            redis, settings.features.redis_key_prefix, settings.features.window_ttl_seconds
        )
    finally:
        await redis.aclose()


def build_score_worker(
    settings: Settings,
    streams: Streams,
    alerts: AlertDesk,
    history: EntityHistory,
    windows: WindowStore,
    batch_size: int = 1000,
) -> ScoreWorker:
    """Every score worker shares the durable consumer `score`, so starting more scales out."""
    return ScoreWorker(
        feed=streams.record_feed("score"),
        dead_letters=streams.dead_letters,
        models=build_model_registry(settings, alerts),
        alerts=alerts,
        history=history,
        rules=PublishedRules(alerts),
        windows=windows,
        batch_size=batch_size,
        scores=streams.scores,
    )


async def run_score_worker(settings: Settings, stop: asyncio.Event, batch_size: int = 1000) -> None:
    """`vigil worker score`: the records stream scored by each source's champion, until `stop`."""
    alerts = await anyio.to_thread.run_sync(build_alert_desk, settings)
    try:
        async with (
            open_streams(settings, "vigil-score") as streams,
            open_entity_history(settings) as history,
            open_window_store(settings) as windows,
        ):
            worker = build_score_worker(settings, streams, alerts, history, windows, batch_size)
            # What is alive now lives as long as the worker: out of the collector's way, which
            # otherwise walks it again and again as each batch's objects come and go.
            settle_heap()
            log.info("score worker consuming %s", settings.nats.subject("records", "*"))
            await worker.run(stop)
    finally:
        alerts.close()


# Read models ------------------------------------------------------------------------------------


def build_read_engine(settings: Settings) -> AsyncEngine:
    """The read-model database: the event store's PostgreSQL, or `read.db` beside `events.db`."""
    return create_read_engine(settings.storage.read_model_url())


def build_read_models(settings: Settings, engine: AsyncEngine) -> ReadModels:
    """Every read model on one engine, so they share its connection pool."""
    return ReadModels(
        alert_queue=SqlAlertQueue(engine),
        case_list=SqlCaseList(engine),
        label_book=SqlLabelBook(engine),
        entity_summaries=SqlEntitySummaries(engine),
        queue_board=SqlQueueBoard(engine),
        evidence_book=SqlEvidenceBook(engine),
        source_catalogue=SqlSourceCatalogue(engine),
        comparisons=SqlComparisonBook(engine),
    )


def build_projection_runner(
    settings: Settings, app: AlertDesk, engine: AsyncEngine, batch_size: int = 500
) -> ProjectionRunner:
    """Every read-model projection in one group: each event is read and decoded once, and a batch
    writes all their rows in one transaction. On PostgreSQL it wakes on the event store's NOTIFY.
    The entity summaries are recomputed from the other three's rows, so they share the group."""
    projections = (
        AlertQueueProjection(),
        CaseListProjection(),
        LabelProjection(),
        EntitySummaryProjection(),
        QueueBoardProjection(),
        CommentProjection(),
        CaseFileProjection(),
        SourceCatalogueProjection(),
    )
    listener = None
    if settings.storage.database_url and isinstance(app.recorder, PostgresApplicationRecorder):
        listener = EventStoreListener(settings.storage.database_url, app.recorder.channel_name)
    return ProjectionRunner(app, engine, projections, batch_size=batch_size, listener=listener)


def upgrade_read_model(settings: Settings) -> None:
    """Migrates the read-model schema to head; for callers without an event loop."""
    migrate.upgrade_blocking(settings.storage.read_model_url())


async def run_projection_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`vigil worker project`: every read-model projection, until `stop` is set."""
    app = await anyio.to_thread.run_sync(build_alert_desk, settings)
    engine = build_read_engine(settings)
    try:
        runner = build_projection_runner(settings, app, engine)
        await project.run_projection_worker([runner], lambda: migrate.upgrade(engine), stop)
    finally:
        await engine.dispose()
        app.close()


async def run_sla_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`vigil worker sla`: marks cases that pass their due date while open, and hands out what
    waits in queues that assign by themselves."""
    desk = await anyio.to_thread.run_sync(build_alert_desk, settings)
    engine = build_read_engine(settings)
    case_list, board = SqlCaseList(engine), SqlQueueBoard(engine)
    beats = {
        "overdue cases marked": lambda: mark_overdue_cases(case_list, desk),
        "queue items handed out": lambda: hand_out_waiting(desk, board),
    }
    try:
        await sla.run_sla_timer(beats, stop)
    finally:
        await engine.dispose()
        desk.close()


# The relay --------------------------------------------------------------------------------------


def event_store_listener(settings: Settings, app: AlertDesk) -> EventStoreListener | None:
    """The PostgreSQL event store's NOTIFY on every save; SQLite has none, so followers poll."""
    if settings.storage.database_url and isinstance(app.recorder, PostgresApplicationRecorder):
        return EventStoreListener(settings.storage.database_url, app.recorder.channel_name)
    return None


def build_relay(
    settings: Settings, app: AlertDesk, js: JetStreamContext, batch_size: int = 1000
) -> DomainEventRelay:
    """The event store's notification log onto the DOMAIN stream, woken by NOTIFY on PostgreSQL."""
    return DomainEventRelay(
        read_log=lambda after, limit: notices_after(app, after, limit),
        publisher=JetStreamDomainEventPublisher(js, settings.nats),
        batch_size=batch_size,
        new_events=event_store_listener(settings, app),
    )


async def run_monitor_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`vigil worker monitor`: the SCORED stream into the champion/challenger comparisons, one
    such worker at a time (the comparisons count each message once, in stream order)."""
    engine = build_read_engine(settings)
    try:
        await migrate.upgrade(engine)
        async with open_streams(settings, "vigil-monitor") as streams:
            follower = ComparisonFollower(streams.scored_feed("monitor"), SqlComparisonBook(engine))
            await follower.run(stop)
    finally:
        await engine.dispose()


async def run_relay_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`vigil worker relay`: every domain event onto the DOMAIN stream, until `stop` is set."""
    app = await anyio.to_thread.run_sync(build_alert_desk, settings)
    try:
        async with open_streams(settings, "vigil-relay") as streams:
            await build_relay(settings, app, streams.client.jetstream()).run(stop)
    finally:
        app.close()


# The web interface ------------------------------------------------------------------------------


def build_password_hasher(settings: Settings) -> Argon2PasswordHasher:
    """Argon2id with the configured costs; every process that logs users in must agree."""
    return Argon2PasswordHasher.from_settings(settings)


@dataclass
class IdentityAdapters:
    """Identity for a web app, and what must be closed when it stops."""

    identity: Identity
    redis: Redis | None

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def build_identity(settings: Settings, clock: Clock = system_clock) -> IdentityAdapters:
    """Refresh tokens and login failures in Redis when one is configured, so every server
    process shares them; in process on the embedded default."""
    hasher = build_password_hasher(settings)
    tokens = JwtAccessTokens.from_settings(settings, clock)
    redis = None
    if settings.features.redis_url:
        redis = Redis.from_url(settings.features.redis_url)
        refresh: RefreshTokens = RedisRefreshTokens.from_settings(settings, redis, clock)
        throttle: LoginThrottle = RedisLoginThrottle.from_settings(settings, redis, clock)
    else:
        refresh = InProcessRefreshTokens.from_settings(settings, clock)
        throttle = InProcessLoginThrottle.from_settings(settings, clock)
    identity = Identity(
        hasher,
        tokens,
        refresh,
        throttle,
        clock,
        default_tenant=settings.server.default_tenant,
        remember_seconds=settings.auth.principal_cache_seconds,
    )
    return IdentityAdapters(identity, redis)


def build_case_file_storage(settings: Settings) -> CaseFileStorage:
    """Case files on disk by sha256, within the configured size limit."""
    return CaseFileStorage(
        DiskAttachmentStore(settings.storage.attachments),
        AttachmentPolicy(max_bytes=settings.storage.attachment_max_bytes),
    )


def build_source_desk(desk: AlertDesk) -> SourceDesk:
    """Data sources applied from YAML, for the API and the console; dead letters once connected."""
    return SourceDesk(desk, YamlSourceDocuments(), FastJsonSchemaCompiler())


class WebIntake:
    """The web app's intake and dead letters: connected to NATS as the app starts, closed as it
    stops. Until it is connected, the ingest routes answer 503 and nothing is lost."""

    def __init__(self, settings: Settings, desk: AlertDesk) -> None:
        self.settings = settings
        self.desk = desk
        self.sources = build_source_desk(desk)
        self.redis = (
            Redis.from_url(settings.features.redis_url) if settings.features.redis_url else None
        )
        seen: SeenSignatures = (
            InProcessSeenSignatures()
            if self.redis is None
            else RedisSeenSignatures(self.redis, settings.features.redis_key_prefix)
        )
        verifier = WebhookVerifier(
            secrets=settings.ingest.webhook_secrets,
            seen=seen,
            clock=system_clock,
            default_tenant=settings.server.default_tenant,
            tolerance_seconds=settings.ingest.webhook_tolerance_seconds,
        )
        self.endpoints = IngestEndpoints(
            webhooks=verifier,
            read_file=read_record_file,
            max_request_bytes=settings.ingest.max_request_bytes,
        )
        self._resources = AsyncExitStack()
        if self.redis is not None:
            self._resources.push_async_callback(self.redis.aclose)

    async def start(self) -> None:
        try:
            streams = await self._resources.enter_async_context(
                open_streams(self.settings, "vigil-web-ingest")
            )
        except Exception:
            log.exception("ingestion could not reach NATS; its routes answer 503")
            return
        self.endpoints.intake = build_intake(self.settings, self.desk, streams)
        self.sources.connect(
            streams.dead_letter_box, lambda: build_intake(self.settings, self.desk, streams)
        )

    async def stop(self) -> None:
        self.endpoints.intake = None
        self.sources.disconnect()
        await self._resources.aclose()


def build_realtime_scoring(
    settings: Settings, desk: AlertDesk
) -> tuple[ScoringEndpoints, Callable[[], Awaitable[None]]]:
    """REST scoring on the lines' champions, and what closes it. Window features come from
    Redis when `VIGIL_REDIS_URL` is set, shared with the score workers; else from the API
    process's own memory, which sees only the records scored through it."""
    windows: WindowStore
    redis = Redis.from_url(settings.features.redis_url) if settings.features.redis_url else None
    if redis is None:
        windows = InProcessWindowStore()
    else:
        prefix, ttl = settings.features.redis_key_prefix, settings.features.window_ttl_seconds
        windows = RedisWindowStore(redis, prefix, ttl)
    admission = Admission(
        build_source_contracts(settings, desk),
        Pseudonymiser(pii_token_key(settings)),
        system_clock,
        settings.ingest.max_record_bytes,
    )
    models = build_model_registry(settings, desk)
    explainer = ArtifactExplainer(models.store)
    scoring = RealTimeScoring(models, admission, windows, PublishedRules(desk), explainer)

    async def close() -> None:
        if redis is not None:
            await redis.aclose()

    return ScoringEndpoints(scoring, settings.ingest.max_request_bytes), close


def build_training_desk(settings: Settings, desk: AlertDesk) -> TrainingDesk:
    """Training jobs over the API on the files of the training folder, one at a time, each in a
    process of its own; `start` and `close` belong in the app's start-up and shutdown."""
    return TrainingDesk(
        desk,
        build_source_contracts(settings, desk),
        pii_token_key(settings),
        build_model_store(settings),
        settings.storage.training,
        settings.storage.read_model_url(),
    )


def build_web_app(settings: Settings) -> Litestar:
    """The API and console on the configured stores, with their own read-model connection pool."""
    desk = build_alert_desk(settings)
    engine = build_read_engine(settings)

    async def upgrade_schema() -> None:
        await migrate.upgrade(engine)

    # Subscriptions follow the DOMAIN stream: connected as the app starts (or, if NATS does not
    # answer then, when a subscriber arrives) and closed as it stops.
    live = JetStreamDomainEventFeed(settings.nats)
    identity = build_identity(settings)
    ingest = WebIntake(settings, desk)
    scoring, close_scoring = build_realtime_scoring(settings, desk)
    training = build_training_desk(settings, desk)
    deps = WebDeps(
        alert_desk=desk,
        read_models=build_read_models(settings, engine),
        identity=identity.identity,
        csrf_secret=secret_key(settings),
        case_files=build_case_file_storage(settings),
        domain_events=live,
        ingest=ingest.endpoints,
        sources=ingest.sources,
        scoring=scoring,
        training=training,
        # The heap is settled last, once everything the server keeps is loaded.
        on_startup=[upgrade_schema, live.start, ingest.start, training.start, settle_heap],
        on_shutdown=[
            training.close,
            live.stop,
            ingest.stop,
            close_scoring,
            engine.dispose,
            identity.close,
            desk.close,
        ],
    )
    return create_app(deps)


# The ingest worker ------------------------------------------------------------------------------


def build_mqtt_bridge(
    settings: Settings, reconnect_seconds: tuple[int, int] = (1, 30)
) -> MqttBridge:
    """Connects only once an mqtt source is registered; reconnects by itself after that, waiting
    twice as long after each failure, up to the longest of `reconnect_seconds`."""
    return MqttBridge(
        settings.ingest.mqtt_url,
        settings.ingest.mqtt_client_id,
        reconnect_seconds=reconnect_seconds,
    )


def build_intake_feed(
    settings: Settings, streams: Streams, ack_wait_seconds: float = 30.0
) -> JetStreamIntakeFeed:
    """The INTAKE stream and its durable consumer `ingest`, shared by every ingest worker; a
    message not acknowledged within `ack_wait_seconds` goes to another."""
    return JetStreamIntakeFeed(streams.client, settings.nats, ack_wait_seconds=ack_wait_seconds)


def build_ingest_worker(
    settings: Settings,
    desk: AlertDesk,
    streams: Streams,
    feeds: dict[SourceType, AddressedFeed],
    batch_size: int = 1000,
) -> IngestWorker:
    """Records of every nats and mqtt source through intake; the sources are read again every
    `VIGIL_INGEST_CONTRACT_REFRESH_SECONDS`."""
    return IngestWorker(
        directory=SourceDirectory(desk),
        intake=build_intake(settings, desk, streams),
        dead_letters=streams.dead_letters,
        feeds=feeds,
        default_tenant=settings.server.default_tenant,
        batch_size=batch_size,
        refresh_seconds=settings.ingest.contract_refresh_seconds,
    )


async def run_ingest_worker(
    settings: Settings, stop: asyncio.Event, batch_size: int = 1000
) -> None:
    """`vigil worker ingest`: the INTAKE stream's nats sources and, unless
    `VIGIL_INGEST_MQTT_ENABLED` is off, the MQTT bridge, until `stop` is set."""
    desk = await anyio.to_thread.run_sync(build_alert_desk, settings)
    bridge = build_mqtt_bridge(settings) if settings.ingest.mqtt_enabled else None
    try:
        async with open_streams(settings, "vigil-ingest-worker") as streams:
            feeds: dict[SourceType, AddressedFeed] = {
                SourceType.NATS: build_intake_feed(settings, streams)
            }
            if bridge is not None:
                feeds[SourceType.MQTT] = bridge
            worker = build_ingest_worker(settings, desk, streams, feeds, batch_size)
            # What is alive now never changes: kept out of the collector's passes, it stops
            # costing a fifth of the worker's CPU.
            settle_heap()
            try:
                await worker.run(stop)
            finally:
                # Before the NATS connection closes: what the bridge has acknowledged is sent
                # ahead of its disconnect.
                if bridge is not None:
                    await bridge.close()
    finally:
        desk.close()
