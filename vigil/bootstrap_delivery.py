"""The composition of `vigil worker deliver`: escalations fanned out and sent, from settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx
from nats.aio.client import Client as NatsClient

from vigil.application.alert_desk import AlertDesk
from vigil.application.delivery import Channel, RetryPolicy
from vigil.application.delivery_records import (
    orders_for,
    record_attempt,
    record_dead_letter,
    sending_state,
)
from vigil.application.notifications import SubscriptionDirectory
from vigil.bootstrap import build_alert_desk, open_streams
from vigil.domain.subscription import ChannelKind
from vigil.infrastructure.delivery.email import EmailChannel
from vigil.infrastructure.delivery.slack import SlackChannel
from vigil.infrastructure.delivery.webhook import WebhookChannel
from vigil.infrastructure.nats.escalations import (
    JetStreamDeliveryOrders,
    JetStreamEscalationNotices,
    ensure_escalation_stream,
)
from vigil.infrastructure.settings import Settings
from vigil.workers.deliver import DeliverySender, EscalationFanOut

FAN_OUT_DURABLE = "deliver-fanout"
SENDER_DURABLE = "deliver"


@dataclass
class DeliveryWorker:
    fan_out: EscalationFanOut
    sender: DeliverySender

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.fan_out.run(stop, wait_seconds))
            group.create_task(self.sender.run(stop, wait_seconds))


def build_channels(settings: Settings, http: httpx.AsyncClient) -> dict[str, Channel]:
    public_url = settings.delivery.public_url
    return {
        ChannelKind.WEBHOOK: WebhookChannel(http, public_url, time.time),
        ChannelKind.SLACK: SlackChannel(http, public_url),
        ChannelKind.EMAIL: EmailChannel(settings.smtp, public_url),
    }


async def build_delivery_worker(
    settings: Settings, desk: AlertDesk, client: NatsClient, http: httpx.AsyncClient
) -> DeliveryWorker:
    """Every deliver worker shares the two durable consumers, so starting more scales out."""
    options = settings.delivery
    await ensure_escalation_stream(client.jetstream(), settings.nats)
    ack_wait = options.ack_wait_seconds
    orders = JetStreamDeliveryOrders(client, settings.nats, SENDER_DURABLE, ack_wait)
    notices = JetStreamEscalationNotices(client, settings.nats, FAN_OUT_DURABLE, ack_wait)
    directory = SubscriptionDirectory(desk)
    retry = RetryPolicy(
        options.max_attempts, options.first_retry_seconds, options.longest_retry_seconds
    )
    sender = DeliverySender(
        orders,
        build_channels(settings, http),
        read_state=lambda order: sending_state(desk, order),
        record_attempt=lambda order, result: record_attempt(
            desk, order, result, options.max_attempts
        ),
        record_dead_letter=lambda order, reason: record_dead_letter(desk, order, reason),
        retry=retry,
        attempt_timeout=options.attempt_timeout_seconds,
        per_receiver=options.per_receiver,
    )
    fan_out = EscalationFanOut(notices, orders, lambda notice: orders_for(desk, directory, notice))
    return DeliveryWorker(fan_out, sender)


@asynccontextmanager
async def open_delivery_worker(
    settings: Settings, desk: AlertDesk, name: str = "vigil-deliver"
) -> AsyncIterator[DeliveryWorker]:
    """A deliver worker on its own NATS connection and HTTP client, closed on the way out."""
    async with open_streams(settings, name) as streams, httpx.AsyncClient() as http:
        yield await build_delivery_worker(settings, desk, streams.client, http)


async def run_deliver_worker(settings: Settings, stop: asyncio.Event) -> None:
    """`vigil worker deliver`: escalations to webhooks, Slack and email, until `stop` is set."""
    desk = await anyio.to_thread.run_sync(build_alert_desk, settings)
    try:
        async with open_delivery_worker(settings, desk) as worker:
            await worker.run(stop)
    finally:
        desk.close()
