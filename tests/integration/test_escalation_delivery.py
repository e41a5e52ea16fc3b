"""Escalations delivered to real receivers started here: a signing-checking HTTP server, a
Slack-shaped endpoint and an SMTP server; on both event stores, through the relay, the DOMAIN
and ESCALATIONS streams of the machine's JetStream, and the deliver worker, with each attempt on
the record."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID

import anyio.to_thread
import nats
import pytest

from tests.builders import detection
from tests.delivery_receivers import Endpoint, Receiver, http_receiver, smtp_server
from vigil.application.casework import Casework
from vigil.application.notifications import SubscriptionForm, create_subscription
from vigil.bootstrap import build_alert_desk, build_relay, open_streams
from vigil.bootstrap_delivery import open_delivery_worker
from vigil.domain.alert import Severity
from vigil.domain.delivery import Delivery, delivery_id
from vigil.domain.subscription import Subscription
from vigil.graphql.alerts.loaders import timeline_loader
from vigil.infrastructure.settings import (
    DeliverySettings,
    FeatureSettings,
    NatsSettings,
    Settings,
    SmtpSettings,
    StorageSettings,
)

pytestmark = pytest.mark.nats

TENANT = "default"
SECRET = "s3cret-signing-key-of-the-receiver"
CONSOLE = "https://vigil.example"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def delivery_settings(
    request: pytest.FixtureRequest, tmp_path: Path, nats_settings: NatsSettings
) -> Settings:
    """Each event store (the embedded SQLite, then a PostgreSQL database of the test's own),
    the machine's JetStream, and retries in tenths of a second."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "var", database_url=database_url),
        nats=nats_settings,
        features=FeatureSettings(redis_url=None),
        delivery=DeliverySettings(
            public_url=CONSOLE,
            max_attempts=4,
            first_retry_seconds=0.05,
            longest_retry_seconds=0.2,
            attempt_timeout_seconds=1.0,
            ack_wait_seconds=2.0,
            per_receiver=2,
        ),
    )


@pytest.fixture
def desk(delivery_settings: Settings) -> Iterator[Casework]:
    app = build_alert_desk(delivery_settings)
    yield app
    app.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with http_receiver() as running:
        yield running


def subscribe(desk: Casework, name: str, channel: str, **where: object) -> Subscription:
    form = SubscriptionForm(groups=["on-call"], channel=channel, **where)  # type: ignore[arg-type]  # the form's typed fields, given by name
    return create_subscription(desk, TENANT, "dana", name, form)


def escalated_alert(desk: Casework, record_id: str = "tx-1") -> tuple[UUID, int]:
    """An alert escalated by the cards policy's 15-minute step; its id and the Escalated
    event's version."""
    found = detection(record_id, severity=Severity.CRITICAL)
    desk.raise_alerts([found])
    alert = desk.get_alert(TENANT, found.alert_id)
    alert.escalate(
        "system:escalation",
        desk.clock(),
        "not acknowledged within 15m",
        policy="cards-critical",
        step_after_minutes=15,
        occurrence=1,
        notify=["on-call"],
    )
    desk.save(alert)
    return alert.id, alert.version


async def relay(settings: Settings, desk: Casework) -> None:
    async with open_streams(settings, "test-relay") as streams:
        await build_relay(settings, desk, streams.client.jetstream()).catch_up()


@asynccontextmanager
async def deliver_worker(settings: Settings, desk: Casework) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    async with open_delivery_worker(settings, desk, "test-deliver") as worker:
        task = asyncio.create_task(worker.run(stop, wait_seconds=0.2))
        try:
            yield task
        finally:
            stop.set()
            if not task.done():
                await task


async def delivery_when(
    desk: Casework,
    alert_id: UUID,
    version: int,
    subscription: Subscription,
    done: Callable[[Delivery], bool] = lambda d: d.settled,
    seconds: float = 10.0,
) -> Delivery:
    found_id = delivery_id(TENANT, alert_id, version, subscription.id)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await anyio.to_thread.run_sync(desk.owned, TENANT, found_id, Delivery)
        if found is not None and done(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"delivery to {subscription.name} not as expected within {seconds}s")


def attempts_of(desk: Casework, delivery: Delivery) -> list[Delivery.Attempted]:
    return [e for e in desk.events.get(delivery.id) if isinstance(e, Delivery.Attempted)]


async def test_a_webhook_is_delivered_signed_with_its_idempotency_key(
    delivery_settings: Settings, desk: Casework, receiver: Receiver
) -> None:
    endpoint = receiver.endpoint("/hook", secret=SECRET)
    hook = subscribe(desk, "soc-hook", "webhook", url=receiver.url("/hook"), secret=SECRET)
    alert_id, version = escalated_alert(desk)
    await relay(delivery_settings, desk)
    async with deliver_worker(delivery_settings, desk):
        delivery = await delivery_when(desk, alert_id, version, hook)

    assert delivery.delivered
    (request,) = endpoint.requests
    assert request.signed
    assert request.key == f"{alert_id}:cards-critical:15:1:{hook.id}"
    assert abs(int(request.headers["Vigil-Timestamp"]) - time.time()) < 60
    body = request.body
    assert body["alert_id"] == str(alert_id)
    assert (body["tenant"], body["severity"], body["source"]) == (TENANT, "critical", "cards")
    assert (body["policy"], body["step_after_minutes"], body["occurrence"]) == (
        "cards-critical",
        15,
        1,
    )
    assert body["link"] == f"{CONSOLE}/alerts/{alert_id}"
    assert body["record_id"] == "tx-1"
    assert body["entity_id"] == "customer-0"


async def test_two_server_errors_then_success_make_three_attempts_on_the_timeline(
    delivery_settings: Settings, desk: Casework, receiver: Receiver
) -> None:
    endpoint = receiver.endpoint("/hook", secret=SECRET, replies=deque([503, 500]))
    hook = subscribe(desk, "soc-hook", "webhook", url=receiver.url("/hook"), secret=SECRET)
    alert_id, version = escalated_alert(desk)
    await relay(delivery_settings, desk)
    async with deliver_worker(delivery_settings, desk):
        delivery = await delivery_when(desk, alert_id, version, hook)

    assert delivery.delivered
    attempts = attempts_of(desk, delivery)
    assert [(a.attempt, a.outcome, a.status) for a in attempts] == [
        (1, "failed", 503),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    assert len({r.key for r in endpoint.requests}) == 1
    timeline = await timeline_loader(desk, TENANT).load(alert_id)
    events = [entry.event for entry in timeline]
    assert events[:2] == ["Raised", "Escalated"]
    assert events.count("DeliveryAttempted") == 3
    assert events[-1] == "DeliveryDelivered"
    assert {e.details["subscription"] for e in timeline if e.event.startswith("Delivery")} == {
        "soc-hook"
    }


async def test_a_refusal_goes_to_the_dead_letters_at_once_with_the_reason(
    delivery_settings: Settings, desk: Casework, receiver: Receiver
) -> None:
    endpoint = receiver.endpoint("/hook", secret=SECRET, replies=deque([410]))
    hook = subscribe(desk, "soc-hook", "webhook", url=receiver.url("/hook"), secret=SECRET)
    alert_id, version = escalated_alert(desk)
    await relay(delivery_settings, desk)
    async with deliver_worker(delivery_settings, desk):
        delivery = await delivery_when(desk, alert_id, version, hook)

    assert not delivery.delivered
    assert delivery.dead_letter_reason is not None
    assert "HTTP 410" in delivery.dead_letter_reason
    assert len(endpoint.requests) == 1
    client = await nats.connect(delivery_settings.nats.server_url)
    try:
        letter = await client.jetstream().get_last_msg(
            delivery_settings.nats.stream("ESCALATIONS"),
            delivery_settings.nats.subject("escalations", "dead.webhook"),
        )
    finally:
        await client.close()
    assert "HTTP 410" in (letter.headers or {})["Vigil-Reason"]


async def test_a_slow_receiver_does_not_hold_up_another_subscription(
    delivery_settings: Settings, desk: Casework, receiver: Receiver
) -> None:
    slow: Endpoint = receiver.endpoint("/slow", secret=SECRET, hold=asyncio.Event())
    receiver.endpoint("/fast", secret=SECRET)
    slow_hook = subscribe(desk, "slow-hook", "webhook", url=receiver.url("/slow"), secret=SECRET)
    fast_hook = subscribe(desk, "fast-hook", "webhook", url=receiver.url("/fast"), secret=SECRET)
    alert_id, version = escalated_alert(desk)
    await relay(delivery_settings, desk)
    async with deliver_worker(delivery_settings, desk):
        fast = await delivery_when(desk, alert_id, version, fast_hook, seconds=5.0)
        pending = await delivery_when(desk, alert_id, version, slow_hook, lambda d: True)
        assert fast.delivered
        await asyncio.wait_for(slow.arrived.wait(), 5)
        assert not pending.settled
        assert pending.attempts == 0
        assert slow.hold is not None
        slow.hold.set()
        assert (await delivery_when(desk, alert_id, version, slow_hook)).delivered


async def test_slack_gets_a_block_kit_message_with_a_button_to_the_alert(
    delivery_settings: Settings, desk: Casework, receiver: Receiver
) -> None:
    endpoint = receiver.endpoint("/services/T0/B0/x")
    slack = subscribe(desk, "soc-slack", "slack", url=receiver.url("/services/T0/B0/x"))
    alert_id, version = escalated_alert(desk)
    await relay(delivery_settings, desk)
    async with deliver_worker(delivery_settings, desk):
        assert (await delivery_when(desk, alert_id, version, slack)).delivered

    (request,) = endpoint.requests
    blocks = request.body["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    assert blocks[0]["text"]["type"] == "plain_text"
    fields = [f["text"].split("\n")[0] for f in blocks[1]["fields"]]
    assert fields == ["*Severity*", "*Score*", "*Source*", "*Entity*"]
    (button,) = blocks[3]["elements"]
    assert button["type"] == "button"
    assert button["url"] == f"{CONSOLE}/alerts/{alert_id}"
    assert request.body["text"]


async def test_an_email_arrives_with_plain_text_and_html(
    delivery_settings: Settings, desk: Casework
) -> None:
    with smtp_server() as (mailbox, port):
        settings = delivery_settings.model_copy(
            update={"smtp": SmtpSettings(host="127.0.0.1", port=port, from_address="v@vigil.test")}
        )
        mail = subscribe(desk, "soc-mail", "email", recipients=["soc@bank.test", "lead@bank.test"])
        alert_id, version = escalated_alert(desk)
        await relay(settings, desk)
        async with deliver_worker(settings, desk):
            delivery = await delivery_when(desk, alert_id, version, mail)

    assert delivery.delivered
    (message,) = mailbox.messages
    assert mailbox.recipients == [["soc@bank.test", "lead@bank.test"]]
    assert message["From"] == "v@vigil.test"
    assert message["Vigil-Idempotency-Key"] == delivery.key
    assert message["Message-ID"].endswith("@vigil.test>")
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert f"{CONSOLE}/alerts/{alert_id}" in plain.get_content()
    assert f"href='{CONSOLE}/alerts/{alert_id}'" in html.get_content()


async def test_a_worker_killed_before_the_record_sends_once_more_with_the_same_key(
    delivery_settings: Settings, desk: Casework, receiver: Receiver
) -> None:
    endpoint = receiver.endpoint("/hook", secret=SECRET, hold=asyncio.Event())
    hook = subscribe(desk, "soc-hook", "webhook", url=receiver.url("/hook"), secret=SECRET)
    alert_id, version = escalated_alert(desk)
    await relay(delivery_settings, desk)

    async with deliver_worker(delivery_settings, desk) as first:
        await asyncio.wait_for(endpoint.arrived.wait(), 10)
        # Killed with the receiver holding the request it took: nothing is recorded or acked.
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
    assert endpoint.hold is not None
    endpoint.hold.set()
    pending = await delivery_when(desk, alert_id, version, hook, lambda d: True)
    assert pending.attempts == 0

    async with deliver_worker(delivery_settings, desk):
        delivery = await delivery_when(desk, alert_id, version, hook)

    assert delivery.delivered
    keys = [r.key for r in endpoint.requests]
    assert keys == [delivery.key, delivery.key]
    assert endpoint.processed == [delivery.key]
    assert [a.outcome for a in attempts_of(desk, delivery)] == ["delivered"]
