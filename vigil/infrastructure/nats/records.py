"""Records on JetStream: publishing, and a durable pull feed for workers."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from vigil.application.ports import Delivery
from vigil.application.records import (
    RECORD_SEPARATOR,
    RecordEnvelope,
    batch_message_id,
    records_in,
)
from vigil.infrastructure.nats.acked_batches import MESSAGE_ID, AckedBatches, Outgoing
from vigil.infrastructure.settings import NatsSettings

STATUS = "Status"
"""The header nats-py puts a status message's code in."""
HEARTBEAT = "100"
MIN_WAIT_SECONDS = 0.01
"""A pull request expiring sooner than this is not worth its round trip."""
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
    """A durable pull consumer: every worker started with the same name shares the work.

    One standing pull request at a time, answered into this worker's own inbox, where messages
    wait in order for the next batch: a batch is whatever has arrived once the stream pauses for
    a moment, up to about `max_records` records (whole messages: it stops at the first message
    that reaches the count), so a busy stream gives full batches and a quiet one gives its
    records at once. (nats-py's `fetch` waits on each message through a task of its own, which
    cost more than scoring the record.) A request asks for at most twice the server's payload
    limit in bytes, so messages of many records are not pulled far ahead of their scoring.
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
        stream = settings.stream("RECORDS")
        self._stream = stream
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = ""
        self._arrived: deque[Msg] = deque()
        self._arrived_records = 0
        self._more = asyncio.Event()
        self._outstanding = 0
        """Messages asked for by the standing request and not yet delivered."""

    async def _bind(self) -> None:
        if not self._inbox:
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
            inbox = self.client.new_inbox()
            await self.client.subscribe(inbox, cb=self._receive, pending_msgs_limit=-1)
            self._inbox = inbox

    async def _receive(self, msg: Msg) -> None:
        status = (msg.headers or {}).get(STATUS)
        if status is None:
            self._arrived.append(msg)
            self._arrived_records += records_in(msg.data)
            self._outstanding -= 1
        elif status != HEARTBEAT:
            # 404 no messages, 408 expired, 409 a limit or a change of leader: the request
            # is over; the next batch asks again.
            self._outstanding = 0
        self._more.set()

    async def _ask(self, wanted: int, wait_seconds: float) -> None:
        request = {
            "batch": wanted,
            "max_bytes": 2 * self.client.max_payload,
            "expires": int(wait_seconds * 1e9),
        }
        self._outstanding = wanted
        await self.client.publish(self._next, json.dumps(request).encode(), reply=self._inbox)

    async def next_batch(self, max_records: int, wait_seconds: float) -> Sequence[Delivery]:
        await self._bind()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        if self._outstanding <= 0 and self._arrived_records < max_records:
            await self._ask(max_records, wait_seconds)
        while not self._arrived:
            left = deadline - loop.time()
            if left < MIN_WAIT_SECONDS:
                return []
            if self._outstanding <= 0:  # the standing request expired: ask again
                await self._ask(max_records, left)
            self._more.clear()
            try:
                async with asyncio.timeout(left):
                    await self._more.wait()
            except TimeoutError:
                return []
        # A burst is under way: let it fill the batch while messages keep coming.
        while self._arrived_records < max_records and self._outstanding > 0:
            self._more.clear()
            try:
                async with asyncio.timeout(self.LULL_SECONDS):
                    await self._more.wait()
            except TimeoutError:
                break
        taken: list[Delivery] = []
        records = 0
        while self._arrived and records < max_records:
            msg = self._arrived.popleft()
            count = records_in(msg.data)
            records += count
            self._arrived_records -= count
            taken.append(msg)
        return taken
