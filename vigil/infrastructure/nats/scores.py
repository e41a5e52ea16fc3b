"""Scores on JetStream: the score worker's every batch of scores to `vigil.scored.<source>`,
and a durable pull feed of them for the comparison follower."""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from vigil.application.model_scores import ScoredRecords
from vigil.infrastructure.nats.acked_batches import AckedBatches, Outgoing
from vigil.infrastructure.nats.pulled import PulledMessages
from vigil.infrastructure.settings import NatsSettings


class JetStreamScorePublisher:
    """Implements `ScorePublisher`: one message per tenant's source per batch."""

    def __init__(self, batches: AckedBatches, settings: NatsSettings) -> None:
        self.batches = batches
        self.settings = settings

    async def publish(self, batches: Sequence[ScoredRecords]) -> None:
        await self.batches.publish(
            [Outgoing(self.settings.subject("scored", b.source), b.to_json()) for b in batches]
        )


class ScoredDelivery:
    """A SCORED message with its stream sequence, which orders what the follower applied."""

    __slots__ = ("_message",)

    def __init__(self, message: Msg) -> None:
        self._message = message

    @property
    def data(self) -> bytes:
        return self._message.data

    @property
    def position(self) -> int:
        return int(self._message.metadata.sequence.stream)

    async def ack(self) -> None:
        await self._message.ack()


class JetStreamScoredFeed:
    """Implements `ScoredFeed`: the SCORED stream in order for one durable consumer."""

    def __init__(self, client: Client, settings: NatsSettings, durable: str) -> None:
        self.client = client
        self.settings = settings
        self.durable = durable
        self._pulled: PulledMessages | None = None

    async def next_batch(self, most: int, wait_seconds: float) -> list[ScoredDelivery]:
        if self._pulled is None:
            stream = self.settings.stream("SCORED")
            config = ConsumerConfig(
                durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=60
            )
            await self.client.jetstream().add_consumer(stream, config)
            pulled = PulledMessages(self.client, stream, self.durable, ahead=1)
            await pulled.listen()
            self._pulled = pulled
        return [ScoredDelivery(m) for m in await self._pulled.take(most, wait_seconds)]
