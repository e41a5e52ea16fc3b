"""The ingest worker against the machine's NATS JetStream, Mosquitto and PostgreSQL: records of
nats and mqtt sources reach the records stream tokenised, and nothing is lost on the way."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import paho.mqtt.publish as mqtt_publish
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from vigil.application.alert_desk import AlertDesk
from vigil.application.data_sources import apply_source
from vigil.application.dead_letters import StoredDeadLetter
from vigil.application.records import RecordEnvelope, unpack_records
from vigil.application.source_routes import UNROUTED, AddressedFeed
from vigil.bootstrap import (
    Streams,
    build_alert_desk,
    build_ingest_worker,
    build_intake_feed,
    build_mqtt_bridge,
    open_streams,
)
from vigil.domain.source_contract import SourceType
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.mqtt_bridge import MqttBridge
from vigil.infrastructure.settings import IngestSettings, NatsSettings, Settings, StorageSettings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

TENANT = "default"
MOSQUITTO = ("127.0.0.1", 1883)
PAYMENT = {"PAYMENT_ID": 1, "PAYER": "GB33BUKB20201555555555", "AMOUNT": 12.5}


def payments(subject: str) -> dict[str, Any]:
    return {
        "name": "payments",
        "source_type": "nats",
        "config": {"record_id": "PAYMENT_ID", "entity": "PAYER", "subject": subject},
        "schema": {
            "type": "object",
            "required": ["PAYMENT_ID", "PAYER", "AMOUNT"],
            "additionalProperties": False,
            "properties": {
                "PAYMENT_ID": {"type": "integer"},
                "PAYER": {"type": "string"},
                "AMOUNT": {"type": "number", "minimum": 0},
            },
        },
        "pii_fields": ["PAYER"],
    }


def sensors(topic_filter: str) -> dict[str, Any]:
    return {
        "name": "sensors",
        "source_type": "mqtt",
        "config": {"record_id": "READING_ID", "topics": [topic_filter], "qos": 1},
        "schema": {
            "type": "object",
            "required": ["READING_ID", "CELSIUS"],
            "properties": {
                "READING_ID": {"type": "string"},
                "CELSIUS": {"type": "number"},
                "OPERATOR": {"type": "string"},
            },
        },
        "pii_fields": ["OPERATOR"],
    }


@pytest.fixture
def settings(tmp_path: Path, postgres_url: str, nats_settings: NatsSettings) -> Settings:
    """The production shape (ingest needs no Redis), with sources read again five times a
    second and an MQTT client id of this test's own."""
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "var", database_url=postgres_url),
        nats=nats_settings,
        ingest=IngestSettings(
            contract_refresh_seconds=0.2, mqtt_client_id=f"vigil-test-{uuid.uuid4().hex[:10]}"
        ),
    )


@pytest.fixture
def desk(settings: Settings) -> Iterator[AlertDesk]:
    app = build_alert_desk(settings)
    yield app
    app.close()


@pytest.fixture
def root(settings: Settings) -> str:
    """A subject root and topic prefix that no other test publishes under."""
    return settings.nats.subject_root


def apply(desk: AlertDesk, document: dict[str, Any]) -> None:
    apply_source(desk, FastJsonSchemaCompiler(), TENANT, "test", document)


@asynccontextmanager
async def running_worker(
    settings: Settings, desk: AlertDesk, streams: Streams, feeds: Mapping[SourceType, AddressedFeed]
) -> AsyncIterator[None]:
    worker = build_ingest_worker(settings, desk, streams, dict(feeds), batch_size=100)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, wait_seconds=0.1))
    try:
        yield
    finally:
        stop.set()
        await running


async def eventually(check: Callable[[], Any], seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 20)):
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time")


async def records(streams: Streams, source: str, count: int) -> list[RecordEnvelope]:
    """The first `count` envelopes on the source's records subject; none more arrive."""
    feed = streams.record_feed(f"reader-{uuid.uuid4().hex[:8]}", source)
    found: list[RecordEnvelope] = []
    for _ in range(100):
        for delivery in await feed.next_batch(100, 0.1):
            found += [RecordEnvelope.from_json(line) for line in unpack_records(delivery.data)]
            await delivery.ack()
        if len(found) >= count:
            break
    assert not await feed.next_batch(100, 0.3), "more records than expected"
    return found


async def dead_letters(streams: Streams, source: str, count: int) -> list[StoredDeadLetter]:
    box = streams.dead_letter_box
    await eventually(lambda: _has(box.page(TENANT, source, 0, 100), count))
    return await box.page(TENANT, source, 0, 100)


async def _has(page: Any, count: int) -> bool:
    return len(await page) >= count


async def captured(streams: Streams, settings: Settings, subject: str) -> bool:
    """Whether the INTAKE stream captures the subject yet: only then does a core NATS
    publish to it land anywhere."""
    try:
        info = await streams.client.jetstream().stream_info(settings.nats.stream("INTAKE"))
    except Exception:
        return False
    return subject in (info.config.subjects or ())


async def intake_is_empty(streams: Streams, settings: Settings) -> bool:
    info = await streams.client.jetstream().stream_info(settings.nats.stream("INTAKE"))
    return info.state.messages == 0


def raw(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record).encode()


# NATS ------------------------------------------------------------------------------------------


async def test_records_on_a_nats_sources_subject_reach_the_records_stream_tokenised(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    subject = f"{root}.in.payments.>"
    apply(desk, payments(subject))
    async with open_streams(settings, "test-ingest") as streams:
        feeds = {SourceType.NATS: build_intake_feed(settings, streams)}
        async with running_worker(settings, desk, streams, feeds):
            await eventually(lambda: captured(streams, settings, subject))
            client, js = streams.client, streams.client.jetstream()
            await client.publish(f"{root}.in.payments.eu", raw(PAYMENT))
            second = {**PAYMENT, "PAYMENT_ID": 2}
            await js.publish(f"{root}.in.payments.us", raw(second), headers={"Nats-Msg-Id": "p2"})
            await js.publish(f"{root}.in.payments.us", raw({**PAYMENT, "AMOUNT": "lots"}))
            envelopes = await records(streams, "payments", 2)
            letters = await dead_letters(streams, "payments", 1)
            await eventually(lambda: intake_is_empty(streams, settings))

    assert sorted(e.record_id for e in envelopes) == ["1", "2"]
    assert {e.tenant_id for e in envelopes} == {TENANT}
    payer_tokens = {e.data["PAYER"] for e in envelopes}
    assert len(payer_tokens) == 1
    assert payer_tokens.pop().startswith("tok_")
    assert {e.entity_id for e in envelopes} == {envelopes[0].data["PAYER"]}
    [letter] = [stored.letter for stored in letters]
    assert (letter.field, letter.stage) == ("AMOUNT", "ingest")
    assert "number" in letter.reason
    assert letter.origin == f"nats:{root}.in.payments.us"
    assert PAYMENT["PAYER"].encode() not in letter.body


async def test_a_message_on_a_subject_no_source_takes_any_more_is_dead_lettered(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    apply(desk, payments(f"{root}.in.old"))
    async with open_streams(settings, "test-ingest") as streams:
        feed = build_intake_feed(settings, streams)
        await feed.follow({f"{root}.in.old": 0})
        # Published while no worker runs; then the source moves to another subject.
        await streams.client.jetstream().publish(f"{root}.in.old", raw(PAYMENT))
        apply(desk, payments(f"{root}.in.new"))
        async with running_worker(settings, desk, streams, {SourceType.NATS: feed}):
            letters = await dead_letters(streams, UNROUTED, 1)
            await eventually(lambda: intake_is_empty(streams, settings))

    [letter] = [stored.letter for stored in letters]
    assert letter.field == "subject"
    assert letter.reason == f"no nats source takes the subject '{root}.in.old'"
    assert letter.body == raw(PAYMENT)


async def test_a_subject_that_two_sources_take_is_dead_lettered_naming_both(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    apply(desk, payments(f"{root}.in.>"))
    apply(desk, {**payments(f"{root}.in.refunds"), "name": "refunds"})
    async with open_streams(settings, "test-ingest") as streams:
        feeds = {SourceType.NATS: build_intake_feed(settings, streams)}
        async with running_worker(settings, desk, streams, feeds):
            await eventually(lambda: captured(streams, settings, f"{root}.in.>"))
            await streams.client.jetstream().publish(f"{root}.in.refunds", raw(PAYMENT))
            await streams.client.jetstream().publish(f"{root}.in.cards", raw(PAYMENT))
            letters = await dead_letters(streams, UNROUTED, 1)
            envelopes = await records(streams, "payments", 1)

    [letter] = [stored.letter for stored in letters]
    assert letter.reason == (
        f"the subject '{root}.in.refunds' is taken by more than one source "
        "(default/payments, default/refunds)"
    )
    assert envelopes[0].source == "payments"


async def test_a_source_applied_while_the_worker_runs_is_taken_without_a_restart(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    async with open_streams(settings, "test-ingest") as streams:
        feeds = {SourceType.NATS: build_intake_feed(settings, streams)}
        async with running_worker(settings, desk, streams, feeds):
            apply(desk, payments(f"{root}.in.payments"))
            await eventually(lambda: captured(streams, settings, f"{root}.in.payments"))
            await streams.client.publish(f"{root}.in.payments", raw(PAYMENT))
            envelopes = await records(streams, "payments", 1)

    assert [e.record_id for e in envelopes] == ["1"]


async def test_a_record_taken_but_never_acknowledged_comes_again(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    subject = f"{root}.in.payments"
    apply(desk, payments(subject))
    async with open_streams(settings, "test-ingest") as streams:
        # A worker that fetched the record and stopped before intake had it.
        stopped = build_intake_feed(settings, streams, ack_wait_seconds=1.0)
        await stopped.follow({subject: 0})
        await streams.client.jetstream().publish(subject, raw(PAYMENT))
        assert len(await stopped.next_batch(10, 2.0)) == 1

        feeds = {SourceType.NATS: build_intake_feed(settings, streams)}
        async with running_worker(settings, desk, streams, feeds):
            envelopes = await records(streams, "payments", 1)
            await eventually(lambda: intake_is_empty(streams, settings))

    assert [e.record_id for e in envelopes] == ["1"]


# MQTT ------------------------------------------------------------------------------------------


def publish_qos1(topic: str, *bodies: bytes, port: int = MOSQUITTO[1]) -> None:
    messages = [{"topic": topic, "payload": body, "qos": 1} for body in bodies]
    mqtt_publish.multiple(
        messages, hostname=MOSQUITTO[0], port=port, protocol=MQTTProtocolVersion.MQTTv311
    )


def reading(number: int, **fields: Any) -> bytes:
    return raw({"READING_ID": f"r{number}", "CELSIUS": 21.5, "OPERATOR": "Ada", **fields})


class BrokerLink:
    """A TCP relay between the bridge and Mosquitto that a test can cut and restore, as a
    network does."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream = await asyncio.open_connection(*MOSQUITTO)
        self._writers += [writer, upstream]
        await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
    except OSError:
        pass
    finally:
        target.transport.abort()


@asynccontextmanager
async def bridge_of(settings: Settings) -> AsyncIterator[MqttBridge]:
    bridge = build_mqtt_bridge(settings, reconnect_seconds=(1, 1))
    try:
        yield bridge
    finally:
        await bridge.close()


async def test_qos1_messages_published_to_mosquitto_reach_the_records_stream(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    apply(desk, sensors(f"{root}/sensors/+/reading"))
    async with (
        open_streams(settings, "test-ingest") as streams,
        bridge_of(settings) as bridge,
        running_worker(settings, desk, streams, {SourceType.MQTT: bridge}),
    ):
        await eventually(lambda: bridge.subscriptions)
        topic = f"{root}/sensors/boiler/reading"
        await anyio.to_thread.run_sync(
            publish_qos1, topic, reading(1), reading(2), reading(3, CELSIUS="hot")
        )
        envelopes = await records(streams, "sensors", 2)
        letters = await dead_letters(streams, "sensors", 1)

    assert sorted(e.record_id for e in envelopes) == ["r1", "r2"]
    assert all(e.data["OPERATOR"].startswith("tok_") for e in envelopes)
    [letter] = [stored.letter for stored in letters]
    assert (letter.field, letter.origin) == ("CELSIUS", f"mqtt:{topic}")


async def test_the_bridge_reconnects_and_receives_what_was_published_while_it_was_away(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    apply(desk, sensors(f"{root}/sensors/#"))
    topic = f"{root}/sensors/boiler"
    link = BrokerLink()
    await link.restore()
    relayed = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"mqtt_url": link.url})}
    )
    async with (
        open_streams(settings, "test-ingest") as streams,
        bridge_of(relayed) as bridge,
        running_worker(settings, desk, streams, {SourceType.MQTT: bridge}),
    ):
        await eventually(lambda: bridge.subscriptions)
        await anyio.to_thread.run_sync(publish_qos1, topic, reading(1))
        await records(streams, "sensors", 1)
        connection = bridge.generation

        await link.cut()
        await anyio.to_thread.run_sync(publish_qos1, topic, reading(2), reading(3))
        await asyncio.sleep(0.5)
        await link.restore()
        await eventually(lambda: bridge.generation > connection)
        envelopes = await records(streams, "sensors", 3)
    await link.cut()

    assert sorted(e.record_id for e in envelopes) == ["r1", "r2", "r3"]


async def test_a_message_received_but_never_acknowledged_comes_to_the_next_bridge(
    settings: Settings, desk: AlertDesk, root: str
) -> None:
    topic_filter = f"{root}/sensors/+"
    apply(desk, sensors(topic_filter))
    async with bridge_of(settings) as stopped:
        await stopped.follow({topic_filter: 1})
        await eventually(lambda: stopped.subscriptions)
        await anyio.to_thread.run_sync(publish_qos1, f"{root}/sensors/boiler", reading(1))
        taken = await stopped.next_batch(10, 5.0)
        assert [d.data for d in taken] == [reading(1)]
        # ... and the process stops before intake has it: nothing is acknowledged.

    async with (
        open_streams(settings, "test-ingest") as streams,
        bridge_of(settings) as bridge,
        running_worker(settings, desk, streams, {SourceType.MQTT: bridge}),
    ):
        envelopes = await records(streams, "sensors", 1)

    assert [e.record_id for e in envelopes] == ["r1"]
