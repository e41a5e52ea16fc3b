"""The INTAKE stream: a work queue that captures the subjects of every `nats` source, read by the
durable pull consumer `ingest` that every ingest worker shares.

A message published to a captured subject, with core NATS or JetStream, is kept until an ingest
worker acknowledges it. JetStream refuses subjects that overlap within a stream or with another
stream, so a source subject that another source's subject already covers is left to it (its
messages are then taken by both and dead-lettered), and one that overlaps Vigil's own streams
or another stream on the server is not captured, and said so in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StreamConfig
from nats.js.errors import NotFoundError

from vigil.application.source_routes import AddressedDelivery
from vigil.domain.subject_patterns import nats_pattern_covers, nats_patterns_collide
from vigil.infrastructure.nats.jetstream import DAY, DUPLICATE_WINDOW, stream_configs
from vigil.infrastructure.nats.pulled import PulledMessages
from vigil.infrastructure.settings import NatsSettings

log = logging.getLogger("vigil.nats.intake")

MESSAGE_ID = "Nats-Msg-Id"


class NatsDelivery:
    """A message of the INTAKE stream, addressed by the subject it was published to."""

    __slots__ = ("_message",)

    def __init__(self, message: Msg) -> None:
        self._message = message

    @property
    def address(self) -> str:
        return self._message.subject

    @property
    def data(self) -> bytes:
        return self._message.data

    @property
    def message_id(self) -> str | None:
        headers = self._message.headers
        return headers.get(MESSAGE_ID) if headers else None

    async def ack(self) -> None:
        await self._message.ack()

    async def nak(self, delay: float | None = None) -> None:
        await self._message.nak(delay=delay)


class JetStreamIntakeFeed:
    """Pulls ahead: while one batch goes through intake, the next is on its way."""

    def __init__(
        self,
        client: Client,
        settings: NatsSettings,
        durable: str = "ingest",
        ack_wait_seconds: float = 30.0,
        pull_expires_seconds: float = 2.0,
    ) -> None:
        self.client = client
        self.js = client.jetstream()
        self.settings = settings
        self.stream = settings.stream("INTAKE")
        self.durable = durable
        self.ack_wait_seconds = ack_wait_seconds
        self.pull_expires_seconds = pull_expires_seconds
        self._own = [s for config in stream_configs(settings) for s in config.subjects or ()]
        self._pulled: PulledMessages | None = None

    @property
    def idle_subject(self) -> str:
        """What the stream captures while no source names a subject: one nobody publishes to."""
        return f"{self.settings.subject_root}.intake.idle"

    async def follow(self, patterns: Mapping[str, int]) -> None:
        subjects = capturable(list(patterns), self._own)
        if not subjects and self._pulled is None:
            return
        await self._capture(subjects or [self.idle_subject])
        if self._pulled is None:
            self._pulled = await self._bind()

    async def next_batch(self, max_messages: int, wait_seconds: float) -> list[AddressedDelivery]:
        if self._pulled is None:
            await asyncio.sleep(wait_seconds)
            return []
        messages = await self._pulled.take(max_messages, wait_seconds)
        return [NatsDelivery(message) for message in messages]

    async def _capture(self, subjects: list[str]) -> None:
        try:
            info = await self.js.stream_info(self.stream)
        except NotFoundError:
            await self.js.add_stream(self._config(subjects))
            log.info("stream %s captures %s", self.stream, subjects)
            return
        if set(info.config.subjects or ()) == set(subjects):
            return
        try:
            await self._update(info.config, subjects)
        except NatsError as refused:
            # Another stream on the server has some of them: capture all the others.
            log.error("stream %s cannot capture all of %s: %s", self.stream, subjects, refused)
            await self._capture_one_by_one(info.config, subjects)
            return
        log.info("stream %s captures %s", self.stream, subjects)

    async def _capture_one_by_one(self, config: StreamConfig, subjects: list[str]) -> None:
        accepted: list[str] = []
        for subject in subjects:
            try:
                await self._update(config, [*accepted, subject])
            except NatsError as refused:
                log.error("stream %s cannot capture %r: %s", self.stream, subject, refused)
                continue
            accepted.append(subject)
        if not accepted:
            await self._update(config, [self.idle_subject])
        log.info("stream %s captures %s", self.stream, accepted)

    async def _update(self, config: StreamConfig, subjects: list[str]) -> None:
        config.subjects = subjects
        await self.js.update_stream(config)

    def _config(self, subjects: list[str]) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            subjects=subjects,
            retention=RetentionPolicy.WORK_QUEUE,
            max_age=7 * DAY,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW,
        )

    async def _bind(self) -> PulledMessages:
        try:
            await self.js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            config = ConsumerConfig(
                durable_name=self.durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait_seconds,
                max_ack_pending=20_000,
                max_deliver=-1,
            )
            await self.js.add_consumer(self.stream, config)
        pulled = PulledMessages(
            self.client, self.stream, self.durable, expires_seconds=self.pull_expires_seconds
        )
        await pulled.listen()
        return pulled


def capturable(patterns: list[str], own: list[str]) -> list[str]:
    """The patterns one stream can capture beside Vigil's own subjects, in their order: a
    pattern another covers is left to it, and one that overlaps Vigil's or an earlier one only
    in part is left out, and logged."""
    kept: list[str] = []
    for pattern in patterns:
        clash = next((s for s in own if nats_patterns_collide(pattern, s)), None)
        if clash is not None:
            log.error("cannot capture %r: it overlaps Vigil's own %r", pattern, clash)
            continue
        if any(nats_pattern_covers(other, pattern) for other in kept):
            continue
        uncovered = [other for other in kept if not nats_pattern_covers(pattern, other)]
        clash = next((s for s in uncovered if nats_patterns_collide(pattern, s)), None)
        if clash is not None:
            log.error("cannot capture %r beside %r: some subjects are in both", pattern, clash)
            continue
        kept = [*uncovered, pattern]
    return kept
