"""The composition root: every adapter is built here from settings, and nowhere else.

Nothing connects, opens or starts at import time; callers (the CLI, the tests) ask for what they
need, with the settings they choose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from vigil.application.alert_desk import AlertDesk
from vigil.application.ports import Clock, system_clock
from vigil.infrastructure.model_store import ModelStore, OnnxModelRegistry
from vigil.infrastructure.nats.jetstream import connect, ensure_streams
from vigil.infrastructure.nats.records import (
    JetStreamDeadLetters,
    JetStreamRecordFeed,
    JetStreamRecordPublisher,
)
from vigil.infrastructure.settings import Settings
from vigil.workers.score import ScoreWorker


def build_alert_desk(settings: Settings, clock: Clock = system_clock) -> AlertDesk:
    """The alerts application on the configured event store (SQLite or PostgreSQL)."""
    return AlertDesk(settings.storage.event_store_env(), clock=clock)


def build_model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.storage.models)


@dataclass
class Streams:
    """One JetStream connection and the adapters that share it."""

    client: NatsClient
    publisher: JetStreamRecordPublisher
    dead_letters: JetStreamDeadLetters

    def record_feed(self, durable: str, source: str = "*") -> JetStreamRecordFeed:
        return JetStreamRecordFeed(
            self.client.jetstream(), self.publisher.settings, durable, source
        )


@asynccontextmanager
async def open_streams(settings: Settings, name: str) -> AsyncIterator[Streams]:
    """Connects to NATS, declares the streams, and drains the connection on the way out."""
    client = await connect(settings.nats, name)
    try:
        js = client.jetstream()
        await ensure_streams(js, settings.nats)
        yield Streams(
            client=client,
            publisher=JetStreamRecordPublisher(js, settings.nats),
            dead_letters=JetStreamDeadLetters(js, settings.nats),
        )
    finally:
        await client.drain()


def build_score_worker(
    settings: Settings, streams: Streams, alerts: AlertDesk, batch_size: int = 1000
) -> ScoreWorker:
    """Every score worker shares the durable consumer `score`, so starting more scales out."""
    return ScoreWorker(
        feed=streams.record_feed("score"),
        dead_letters=streams.dead_letters,
        models=OnnxModelRegistry(build_model_store(settings)),
        alerts=alerts,
        batch_size=batch_size,
    )
