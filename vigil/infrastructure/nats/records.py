"""Records on JetStream: publishing, and a durable pull feed for workers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig

from vigil.application.ports import Delivery
from vigil.application.records import (
    RECORD_SEPARATOR,
    RecordEnvelope,
    batch_message_id,
    records_in,
)
from vigil.infrastructure.nats.acked_batches import MESSAGE_ID, AckedBatches, Outgoing
from vigil.infrastructure.nats.pulled import PulledMessages
from vigil.infrastructure.settings import NatsSettings

MESSAGE_RECORDS = 1000
MESSAGE_BYTES = 512 * 1024
"""A message's limits: under NATS's default payload limit of 1 MiB, with room for headers."""


class JetStreamRecordPublisher:
    """Envelopes to `vigil.records.<source>` in messages of up to `max_records` each (a source's
    records in the order given), acknowledged together; returns once the stream has them all."""

    def __init__(
        self,
        batches: AckedBatches,
        settings: NatsSettings,
        max_records: int = MESSAGE_RECORDS,
        max_bytes: int = MESSAGE_BYTES,
    ) -> None:
        self.batches = batches
        self.settings = settings
        self.max_records = max_records
        self.max_bytes = max_bytes

    async def publish(self, envelopes: Sequence[RecordEnvelope]) -> None:
        await self.batches.publish(self.messages(envelopes))

    def messages(self, envelopes: Sequence[RecordEnvelope]) -> list[Outgoing]:
        by_source: dict[str, list[RecordEnvelope]] = defaultdict(list)
        for envelope in envelopes:
            by_source[envelope.source].append(envelope)
        limit = min(self.max_bytes, self.batches.client.max_payload // 2)
        messages: list[Outgoing] = []
        for source, records in by_source.items():
            subject = self.settings.subject("records", source)
            lines = [envelope.to_json() for envelope in records]
            for start, end in _runs([len(line) + 1 for line in lines], self.max_records, limit):
                body = RECORD_SEPARATOR.join(lines[start:end])
                headers = {MESSAGE_ID: batch_message_id(records[start:end])}
                messages.append(Outgoing(subject, body, headers))
        return messages


def _runs(sizes: list[int], max_records: int, max_bytes: int) -> Iterator[tuple[int, int]]:
    """[start, end) runs of records under both limits; a record over `max_bytes` goes alone."""
    start, size = 0, 0
    for n, length in enumerate(sizes):
        if n > start and (n - start == max_records or size + length > max_bytes):
            yield start, n
            start, size = n, 0
        size += length
    if start < len(sizes):
        yield start, len(sizes)


class JetStreamRecordFeed:
    """The records of one source (or `*`, every one) for a durable pull consumer that every
    worker started with the same name shares.

    A batch is whatever has arrived once the stream pauses for a moment, up to about
    `max_records` records (whole messages: it stops at the first message that reaches the
    count). One request at a time asks for at most twice the server's payload limit in bytes,
    so messages of many records are not pulled far ahead of their scoring.
    """

    LULL_SECONDS = 0.002
    """How long a batch waits for the next message of a burst before it is handed over."""

    def __init__(
        self, client: NatsClient, settings: NatsSettings, durable: str, source: str
    ) -> None:
        self.client = client
        self.settings = settings
        self.durable = durable
        self.source = source
        self._stream = settings.stream("RECORDS")
        self._pulled: PulledMessages | None = None

    async def _bind(self) -> PulledMessages:
        if self._pulled is None:
            await self.client.jetstream().add_consumer(
                self._stream,
                ConsumerConfig(
                    durable_name=self.durable,
                    filter_subject=self.settings.subject("records", self.source),
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=60,
                    max_ack_pending=20_000,
                ),
            )
            pulled = PulledMessages(
                self.client,
                self._stream,
                self.durable,
                weigh=lambda msg: records_in(msg.data),
                ahead=1,
                lull_seconds=self.LULL_SECONDS,
                max_bytes=2 * self.client.max_payload,
            )
            await pulled.listen()
            self._pulled = pulled
        return self._pulled

    async def next_batch(self, max_records: int, wait_seconds: float) -> Sequence[Delivery]:
        return await (await self._bind()).take(max_records, wait_seconds)
