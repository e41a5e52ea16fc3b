"""Escalations on JetStream: Alert.Escalated notices from DOMAIN, and the ESCALATIONS stream.

ESCALATIONS holds `<root>.escalations.<channel>` (webhook, slack, email): one order per
(escalation, subscription), its idempotency key as `Nats-Msg-Id`, so a fan-out repeated after a
crash stores each order once; and `<root>.escalations.dead.<channel>`, the dead letters, with
the reason in `Vigil-Reason`. Senders share the durable consumer `deliver` on
`<root>.escalations.*`, which takes no dead letter; the fan-out follows DOMAIN's
`<root>.events.Alert.Escalated` on the durable consumer `deliver-fanout`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, StreamConfig
from nats.js.errors import NotFoundError

from vigil.application.delivery import DeliveryOrder
from vigil.application.domain_events import DomainEventNotice
from vigil.infrastructure.nats.domain_events import MESSAGE_ID, decode
from vigil.infrastructure.nats.jetstream import DAY
from vigil.infrastructure.nats.pulled import PulledMessages
from vigil.infrastructure.settings import NatsSettings

log = logging.getLogger("vigil.escalations")

REASON_HEADER = "Vigil-Reason"
DEDUPLICATION_SECONDS = 3600.0
"""Longer than any redelivery of a notice; past it, the Delivery's record stops a repeat."""
PUBLISH_SECONDS = 5.0


def escalation_stream(settings: NatsSettings) -> StreamConfig:
    return StreamConfig(
        name=settings.stream("ESCALATIONS"),
        subjects=[f"{settings.subject_root}.escalations.>"],
        max_age=14 * DAY,
        discard=DiscardPolicy.OLD,
        duplicate_window=DEDUPLICATION_SECONDS,
    )


async def ensure_escalation_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    config = escalation_stream(settings)
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)


class _Pending:
    __slots__ = ("_message",)

    def __init__(self, message: Msg) -> None:
        self._message = message

    async def ack(self) -> None:
        await self._message.ack()

    async def retry_in(self, seconds: float) -> None:
        await self._message.nak(delay=max(seconds, 0.001))

    async def working(self) -> None:
        await self._message.in_progress()


Read = TypeVar("Read", bound=_Pending)


class _PendingNotice(_Pending):
    __slots__ = ("notice",)

    def __init__(self, message: Msg) -> None:
        super().__init__(message)
        self.notice: DomainEventNotice = decode(message.data)


class _PendingOrder(_Pending):
    __slots__ = ("order",)

    def __init__(self, message: Msg) -> None:
        super().__init__(message)
        self.order: DeliveryOrder = DeliveryOrder.from_json(message.data)


async def _readable(messages: Sequence[Msg], read: Callable[[Msg], Read]) -> list[Read]:
    """The messages that decode; one that does not is a bug to see in the log, and is
    terminated rather than redelivered for ever ahead of the others."""
    readable: list[Read] = []
    for message in messages:
        try:
            readable.append(read(message))
        except (ValueError, KeyError, TypeError):
            log.exception("unreadable message on %s; terminated", message.subject)
            await message.term()
    return readable


async def _pulled(
    client: Client, stream: str, durable: str, filter_subject: str, ack_wait: float, **more: Any
) -> PulledMessages:
    config = ConsumerConfig(
        durable_name=durable,
        filter_subject=filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        **more,
    )
    await client.jetstream().add_consumer(stream, config)
    pulled = PulledMessages(client, stream, durable, ahead=1)
    await pulled.listen()
    return pulled


class JetStreamEscalationNotices:
    """Implements `EscalationNotices`: DOMAIN's Alert.Escalated notices, every worker sharing
    the durable consumer."""

    def __init__(
        self, client: Client, settings: NatsSettings, durable: str, ack_wait_seconds: float
    ) -> None:
        self.client = client
        self.settings = settings
        self.durable = durable
        self.ack_wait = ack_wait_seconds
        self._pulled: PulledMessages | None = None

    async def next_batch(self, most: int, wait_seconds: float) -> list[_PendingNotice]:
        if self._pulled is None:
            self._pulled = await _pulled(
                self.client,
                self.settings.stream("DOMAIN"),
                self.durable,
                self.settings.subject("events", "Alert.Escalated"),
                self.ack_wait,
            )
        return await _readable(await self._pulled.take(most, wait_seconds), _PendingNotice)


class JetStreamDeliveryOrders:
    """Implements `DeliveryOrders` on the ESCALATIONS stream."""

    def __init__(
        self,
        client: Client,
        settings: NatsSettings,
        durable: str,
        ack_wait_seconds: float,
        max_in_flight: int = 1000,
    ) -> None:
        self.client = client
        self.js = client.jetstream()
        self.settings = settings
        self.durable = durable
        self.ack_wait = ack_wait_seconds
        self.max_in_flight = max_in_flight
        self._pulled: PulledMessages | None = None

    def subject(self, order: DeliveryOrder) -> str:
        return self.settings.subject("escalations", order.channel)

    async def publish(self, orders: Sequence[DeliveryOrder]) -> None:
        await asyncio.gather(
            *(
                self.js.publish(
                    self.subject(order),
                    order.to_json(),
                    timeout=PUBLISH_SECONDS,
                    headers={MESSAGE_ID: order.key},
                )
                for order in orders
            )
        )

    async def next_batch(self, most: int, wait_seconds: float) -> list[_PendingOrder]:
        if self._pulled is None:
            self._pulled = await _pulled(
                self.client,
                self.settings.stream("ESCALATIONS"),
                self.durable,
                self.settings.subject("escalations", "*"),
                self.ack_wait,
                max_deliver=-1,
                max_ack_pending=self.max_in_flight,
            )
        return await _readable(await self._pulled.take(most, wait_seconds), _PendingOrder)

    async def dead_letter(self, order: DeliveryOrder, reason: str) -> None:
        await self.js.publish(
            self.settings.subject("escalations", f"dead.{order.channel}"),
            order.to_json(),
            timeout=PUBLISH_SECONDS,
            headers={MESSAGE_ID: f"dead:{order.key}", REASON_HEADER: reason[:1000]},
        )
