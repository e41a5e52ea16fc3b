"""Records on JetStream: publishing, and a durable pull feed for workers."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from vigil.application.ports import Delivery
from vigil.application.records import RecordEnvelope
from vigil.infrastructure.settings import NatsSettings

STATUS = "Status"
"""The header nats-py puts a status message's code in."""
HEARTBEAT = "100"
MIN_WAIT_SECONDS = 0.01
"""A pull request expiring sooner than this is not worth its round trip."""


class JetStreamRecordPublisher:
    """Publishes without waiting for each ack, then waits for them all: ~10x the throughput."""

    def __init__(self, js: JetStreamContext, settings: NatsSettings) -> None:
        self.js = js
        self.settings = settings

    async def publish(self, envelopes: Sequence[RecordEnvelope]) -> None:
        futures = [
            await self.js.publish_async(
                self.settings.subject("records", e.source),
                e.to_json(),
                headers={"Nats-Msg-Id": e.message_id},
            )
            for e in envelopes
        ]
        await asyncio.gather(*futures)


class JetStreamRecordFeed:
    """A durable pull consumer: every worker started with the same name shares the work.

    One standing pull request at a time, answered into this worker's own inbox, where messages
    wait in order for the next batch: a batch is whatever has arrived once the stream pauses for
    a moment, up to `max_records`, so a busy stream gives full batches and a quiet one gives its
    records at once. (nats-py's `fetch` waits on each message through a task of its own, which
    cost more than scoring the record.)
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
            self._outstanding -= 1
        elif status != HEARTBEAT:
            # 404 no messages, 408 expired, 409 a limit or a change of leader: the request
            # is over; the next batch asks again.
            self._outstanding = 0
        self._more.set()

    async def _ask(self, wanted: int, wait_seconds: float) -> None:
        request = {"batch": wanted, "expires": int(wait_seconds * 1e9)}
        self._outstanding = wanted
        await self.client.publish(self._next, json.dumps(request).encode(), reply=self._inbox)

    async def next_batch(self, max_records: int, wait_seconds: float) -> Sequence[Delivery]:
        await self._bind()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        if self._outstanding <= 0 and len(self._arrived) < max_records:
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
        while len(self._arrived) < max_records and self._outstanding > 0:
            self._more.clear()
            try:
                async with asyncio.timeout(self.LULL_SECONDS):
                    await self._more.wait()
            except TimeoutError:
                break
        count = min(max_records, len(self._arrived))
        return [self._arrived.popleft() for _ in range(count)]
