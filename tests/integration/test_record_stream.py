"""The records stream on the machine's NATS JetStream: envelopes travel many to a message, each
record arrives once and in order, and a worker's batch is counted in records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from tests.integration.ingest_service import raw_records_on, records_on
from vigil.application.records import RecordEnvelope, unpack_records
from vigil.bootstrap import open_streams
from vigil.infrastructure.nats.acked_batches import AckedBatches
from vigil.infrastructure.nats.pulled import PulledMessages
from vigil.infrastructure.nats.records import JetStreamRecordPublisher
from vigil.infrastructure.settings import NatsSettings, Settings

pytestmark = [pytest.mark.nats]

T0 = datetime(2018, 4, 1, tzinfo=UTC)


@pytest.fixture
def settings(sqlite_settings: Settings, nats_settings: NatsSettings) -> Settings:
    """The machine's NATS, under this run's own subjects and streams."""
    return sqlite_settings.model_copy(update={"nats": nats_settings})


def envelopes(source: str, count: int, note: str = "") -> list[RecordEnvelope]:
    return [
        RecordEnvelope("default", source, f"{source}-{n}", {"n": n, "note": note}, str(n % 7), T0)
        for n in range(count)
    ]


async def test_a_source_s_records_go_a_thousand_to_a_message_in_the_order_given(
    settings: Settings,
) -> None:
    cards, payments = envelopes("cards", 2_100), envelopes("payments", 30)
    mixed = [*cards[:50], *payments, *cards[50:]]
    async with open_streams(settings, "test-records") as streams:
        await streams.publisher.publish(mixed)
        messages = await raw_records_on(streams, "cards")
        assert [len(unpack_records(m)) for m in messages] == [1000, 1000, 100]
        assert await records_on(streams, "cards") == cards
        assert await records_on(streams, "payments") == payments

        # The same batch published again, as after a lost ack, is stored once.
        await streams.publisher.publish(mixed)
        assert len(await raw_records_on(streams, "cards")) == 3


async def test_a_message_stays_under_its_byte_limit_and_a_bigger_record_travels_alone(
    settings: Settings,
) -> None:
    small = envelopes("cards", 40)
    big = RecordEnvelope("default", "cards", "big", {"note": "x" * 5_000}, None, T0)
    async with open_streams(settings, "test-records") as streams:
        publisher = JetStreamRecordPublisher(
            AckedBatches(streams.client), settings.nats, max_bytes=1_000
        )
        await publisher.publish([*small[:20], big, *small[20:]])
        messages = await raw_records_on(streams, "cards")
        assert all(len(m) <= 1_000 for m in messages if b'"big"' not in m)
        assert [unpack_records(m) for m in messages if b'"big"' in m] == [[big.to_json()]]
        assert await records_on(streams, "cards") == [*small[:20], big, *small[20:]]


async def test_a_worker_s_batch_is_whole_messages_up_to_the_records_it_asked_for(
    settings: Settings,
) -> None:
    async with open_streams(settings, "test-records") as streams:
        await streams.publisher.publish(envelopes("cards", 2_500))
        feed = streams.record_feed("score-test", "cards")
        sizes = []
        while batch := await feed.next_batch(1_500, 1.0):
            sizes.append([len(unpack_records(d.data)) for d in batch])
            for delivery in batch:
                await delivery.ack()
        assert sizes == [[1000, 1000], [500]]


async def test_a_waiting_worker_asks_again_when_its_pull_request_expires(
    settings: Settings,
) -> None:
    """Records published after the standing request ran out still reach the waiting batch."""
    async with open_streams(settings, "test-records") as streams:
        stream = settings.nats.stream("RECORDS")
        await streams.client.jetstream().add_consumer(
            stream, ConsumerConfig(durable_name="short", ack_policy=AckPolicy.EXPLICIT)
        )
        pulled = PulledMessages(streams.client, stream, "short", expires_seconds=0.1)
        await pulled.listen()

        async def publish_later() -> None:
            await asyncio.sleep(0.5)  # past several requests' expiry
            await streams.publisher.publish(envelopes("cards", 3))

        later = asyncio.create_task(publish_later())
        batch = await pulled.take(10, 3.0)
        await later
        assert [len(unpack_records(m.data)) for m in batch] == [3]
        await batch[0].ack()
        assert await pulled.take(10, 0.3) == []


async def test_workers_sharing_a_durable_name_each_get_different_records(
    settings: Settings,
) -> None:
    async with open_streams(settings, "test-records") as streams:
        publisher = JetStreamRecordPublisher(
            AckedBatches(streams.client), settings.nats, max_records=10
        )
        await publisher.publish(envelopes("cards", 2_000))
        feeds = [streams.record_feed("shared", "cards") for _ in range(2)]
        seen: list[list[bytes]] = [[], []]
        while any(batches := [await feed.next_batch(50, 0.5) for feed in feeds]):
            for mine, batch in zip(seen, batches, strict=True):
                for delivery in batch:
                    mine += unpack_records(delivery.data)
                    await delivery.ack()
        assert all(seen)
        assert sorted(seen[0] + seen[1]) == sorted(e.to_json() for e in envelopes("cards", 2_000))
