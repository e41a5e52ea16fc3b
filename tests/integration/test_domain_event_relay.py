"""The relay on SQLite and PostgreSQL: the event log onto the DOMAIN stream, once and in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.builders import detections
from tests.graphql_client import ANALYST, TENANT
from vigil.application.casework import Casework
from vigil.application.domain_events import RelayInterrupted, notices_after
from vigil.bootstrap import build_relay, open_streams
from vigil.domain.case import Priority
from vigil.infrastructure.nats.domain_events import (
    EXPECTED_LAST_ID,
    MESSAGE_ID,
    TENANT_HEADER,
    DomainStreamPurged,
    JetStreamDomainEventPublisher,
)
from vigil.infrastructure.nats.jetstream import connect, ensure_streams
from vigil.infrastructure.settings import NatsSettings, Settings
from vigil.workers.relay import DomainEventRelay

pytestmark = pytest.mark.nats


@pytest.fixture
def streamed(settings: Settings, nats_settings: NatsSettings) -> Settings:
    """The store under test, with subjects and streams of the machine's NATS of its own."""
    return settings.model_copy(update={"nats": nats_settings})


@pytest.fixture
async def js(streamed: Settings) -> AsyncIterator[JetStreamContext]:
    client: Client = await connect(streamed.nats, "relay-test")
    jetstream = client.jetstream()
    await ensure_streams(jetstream, streamed.nats)
    yield jetstream
    await client.close()


@pytest.fixture
def relay(streamed: Settings, desk: Casework, js: JetStreamContext) -> DomainEventRelay:
    return build_relay(streamed, desk, js, batch_size=4)


@pytest.fixture
def an_open_case_of_three_alerts(desk: Casework) -> None:
    """Three alerts raised, one acknowledged, and a case opened from two of them."""
    raised = detections(3, tenant_id=TENANT)
    desk.raise_alerts(raised)
    desk.acknowledge(TENANT, raised[0].alert_id, ANALYST, "called the cardholder")
    desk.open_case(TENANT, ANALYST, "Stolen card", Priority.HIGH, [d.alert_id for d in raised[:2]])


async def domain_messages(js: JetStreamContext, settings: Settings) -> list[Any]:
    """Everything on the DOMAIN stream, oldest first."""
    stream = settings.nats.stream("DOMAIN")
    state = (await js.stream_info(stream)).state
    if state.messages == 0:
        return []
    return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]


def message_ids(messages: list[Any]) -> list[int]:
    return [int(m.headers[MESSAGE_ID]) for m in messages]


def log_ids(desk: Casework) -> list[int]:
    return [n.id for n in desk.recorder.select_notifications(0, 1000, inclusive_of_start=False)]


def log_names(desk: Casework) -> list[str]:
    """`<Aggregate>.<Event>` of every stored event, oldest first."""
    notifications = desk.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    return [type(desk.mapper.to_domain_event(n)).__qualname__ for n in notifications]


@pytest.mark.usefixtures("an_open_case_of_three_alerts")
async def test_every_event_reaches_the_stream_once_in_order_with_its_notification_id(
    relay: DomainEventRelay, desk: Casework, js: JetStreamContext, streamed: Settings
) -> None:
    assert await relay.catch_up() == len(log_ids(desk))

    messages = await domain_messages(js, streamed)
    assert message_ids(messages) == log_ids(desk)
    root = streamed.nats.subject_root
    assert [m.subject for m in messages] == [f"{root}.events.{name}" for name in log_names(desk)]
    assert [m.subject for m in messages[:5]] == [
        *[f"{root}.events.Alert.Raised"] * 3,
        f"{root}.events.Alert.Acknowledged",
        f"{root}.events.Case.Opened",
    ]
    assert all(m.headers[TENANT_HEADER] == TENANT for m in messages)

    acknowledged = json.loads(messages[3].data)
    assert acknowledged["event"] == "Acknowledged"
    assert acknowledged["aggregate"] == "Alert"
    assert acknowledged["version"] == 2
    assert acknowledged["tenant_id"] == TENANT
    assert acknowledged["actor"] == ANALYST
    assert acknowledged["data"] == {"note": "called the cardholder"}
    assert acknowledged["notification_id"] == int(messages[3].headers[MESSAGE_ID])
    raised = json.loads(messages[0].data)
    assert raised["data"]["record"] == {"TX_AMOUNT": 10.5, "TERMINAL_ID": "terminal-0"}
    assert raised["timestamp"].startswith("2026-11-25T09:00:01")


@pytest.mark.usefixtures("an_open_case_of_three_alerts")
async def test_a_restarted_relay_neither_repeats_nor_skips_an_event(
    streamed: Settings, desk: Casework, js: JetStreamContext
) -> None:
    first = build_relay(streamed, desk, js, batch_size=4)
    await first.relay_next_batch()  # killed after its first batch

    desk.raise_alerts(detections(2, start=10, tenant_id=TENANT))
    second = build_relay(streamed, desk, js, batch_size=4)
    assert await second.catch_up() == len(log_ids(desk)) - 4

    assert message_ids(await domain_messages(js, streamed)) == log_ids(desk)


@pytest.mark.usefixtures("an_open_case_of_three_alerts")
async def test_a_relay_that_publishes_a_batch_again_stores_it_once(
    relay: DomainEventRelay, desk: Casework, js: JetStreamContext, streamed: Settings
) -> None:
    await relay.catch_up()
    relay.position = 0  # as if its bookkeeping were lost after publishing
    await relay.catch_up()

    assert message_ids(await domain_messages(js, streamed)) == log_ids(desk)


@pytest.mark.usefixtures("an_open_case_of_three_alerts")
async def test_the_stream_refuses_a_notice_that_does_not_follow_the_newest_one(
    desk: Casework, js: JetStreamContext, streamed: Settings
) -> None:
    publisher = JetStreamDomainEventPublisher(js, streamed.nats, ack_timeout=1.0)
    notices = notices_after(desk, 0, 100)
    await publisher.publish(0, notices[:2])

    with pytest.raises(RelayInterrupted):  # notice 3 was lost: 4 must not be stored after 2
        await publisher.publish(notices[2].notification_id, notices[3:4])

    messages = await domain_messages(js, streamed)
    assert message_ids(messages) == [n.notification_id for n in notices[:2]]
    assert messages[1].headers[EXPECTED_LAST_ID] == str(notices[0].notification_id)
    assert await publisher.last_published() == notices[1].notification_id


@pytest.mark.usefixtures("an_open_case_of_three_alerts")
async def test_a_relay_refuses_to_guess_where_it_stopped_on_a_purged_stream(
    relay: DomainEventRelay, js: JetStreamContext, streamed: Settings
) -> None:
    await relay.catch_up()
    await js.purge_stream(streamed.nats.stream("DOMAIN"))
    relay.position = None

    with pytest.raises(DomainStreamPurged, match="delete the stream"):
        await relay.catch_up()


async def test_a_running_relay_publishes_what_is_saved_while_it_runs(
    streamed: Settings, desk: Casework, js: JetStreamContext
) -> None:
    stop = asyncio.Event()
    async with open_streams(streamed, "relay-under-test") as streams:
        running = asyncio.create_task(
            build_relay(streamed, desk, streams.client.jetstream()).run(stop)
        )
        desk.raise_alerts(detections(5, tenant_id=TENANT))
        await _until(lambda: _count(js, streamed), 5)
        desk.raise_alerts(detections(3, start=5, tenant_id="globex"))
        await _until(lambda: _count(js, streamed), 8)
        stop.set()
        await asyncio.wait_for(running, 10)

    messages = await domain_messages(js, streamed)
    assert message_ids(messages) == log_ids(desk)
    assert [m.headers[TENANT_HEADER] for m in messages] == [TENANT] * 5 + ["globex"] * 3


async def _count(js: JetStreamContext, settings: Settings) -> int:
    return int((await js.stream_info(settings.nats.stream("DOMAIN"))).state.messages)


async def _until(count: Any, expected: int, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while (found := await count()) < expected:
        assert asyncio.get_running_loop().time() < deadline, f"{found} of {expected} relayed"
        await asyncio.sleep(0.05)
