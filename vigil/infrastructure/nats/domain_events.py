"""Domain events on JetStream: the relay's publisher and the subscribers' live feed.

A notice is published to `<root>.events.<Aggregate>.<Event>` on the DOMAIN stream as JSON, with
its notification id as `Nats-Msg-Id` and its tenant in `Vigil-Tenant`. Each message also names
the notification before it (`Nats-Expected-Last-Msg-Id`), so when one message of a batch is lost
the stream refuses every later one instead of storing a gap; the relay then resumes from the
stream's newest message, and the duplicate window absorbs what was stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from vigil.application.domain_events import (
    DomainEventNotice,
    DomainEventsUnavailable,
    RelayInterrupted,
)
from vigil.infrastructure.nats.jetstream import connect, ensure_streams
from vigil.infrastructure.settings import NatsSettings

log = logging.getLogger("vigil.domain_events")

MESSAGE_ID = "Nats-Msg-Id"
EXPECTED_LAST_ID = "Nats-Expected-Last-Msg-Id"
TENANT_HEADER = "Vigil-Tenant"


class DomainStreamPurged(RuntimeError):
    """The DOMAIN stream once held notices and holds none: where the relay stopped is unknown."""


def encode(notice: DomainEventNotice) -> bytes:
    return json.dumps(
        {
            "notification_id": notice.notification_id,
            "aggregate": notice.aggregate,
            "event": notice.event,
            "aggregate_id": str(notice.aggregate_id),
            "version": notice.version,
            "tenant_id": notice.tenant_id,
            "actor": notice.actor,
            "timestamp": notice.at.isoformat(),
            "data": notice.data,
        },
        separators=(",", ":"),
    ).encode()


def decode(payload: bytes) -> DomainEventNotice:
    body: dict[str, Any] = json.loads(payload)
    return DomainEventNotice(
        notification_id=int(body["notification_id"]),
        aggregate=body["aggregate"],
        event=body["event"],
        aggregate_id=UUID(body["aggregate_id"]),
        version=int(body["version"]),
        tenant_id=body["tenant_id"],
        actor=body["actor"],
        at=datetime.fromisoformat(body["timestamp"]),
        data=body["data"],
    )


ACK_SECONDS = 5.0
"""How long a batch's acks may take. nats-py never resolves the future of a publish the stream
refuses (nats-io/nats.py#985, open), so a refusal shows up as this timeout."""


class JetStreamDomainEventPublisher:
    """Publishes a batch without waiting for each ack, then waits for them all."""

    def __init__(
        self, js: JetStreamContext, settings: NatsSettings, ack_timeout: float = ACK_SECONDS
    ) -> None:
        self.js = js
        self.settings = settings
        self.stream = settings.stream("DOMAIN")
        self.ack_timeout = ack_timeout

    async def last_published(self) -> int:
        try:
            state = (await self.js.stream_info(self.stream)).state
            if state.messages == 0:
                if state.last_seq:
                    raise DomainStreamPurged(
                        f"stream {self.stream} was emptied after holding {state.last_seq} "
                        "notices, so where the relay stopped is unknown; delete the stream "
                        "to relay the whole event log again"
                    )
                return 0
            newest = await self.js.get_msg(self.stream, seq=state.last_seq)
        except (NatsError, TimeoutError) as error:
            raise RelayInterrupted(
                f"cannot read the end of {self.stream}: {_reason(error)}"
            ) from error
        return int((newest.headers or {})[MESSAGE_ID])

    async def publish(self, after: int, notices: Sequence[DomainEventNotice]) -> None:
        pending: list[asyncio.Future[Any]] = []
        try:
            for notice in notices:
                pending.append(await self._publish_one(after, notice))
                after = notice.notification_id
            acks = await asyncio.wait_for(
                asyncio.gather(*pending, return_exceptions=True), self.ack_timeout
            )
        except (NatsError, TimeoutError) as error:
            for future in pending:
                future.cancel()
            raise RelayInterrupted(
                f"publishing to {self.stream} failed: {_reason(error)}"
            ) from error
        refused = next((a for a in acks if isinstance(a, BaseException)), None)
        if refused is not None:
            raise RelayInterrupted(
                f"{self.stream} refused a notice: {_reason(refused)}"
            ) from refused

    async def _publish_one(self, after: int, notice: DomainEventNotice) -> asyncio.Future[Any]:
        headers = {MESSAGE_ID: str(notice.notification_id), TENANT_HEADER: notice.tenant_id}
        if after:
            headers[EXPECTED_LAST_ID] = str(after)
        subject = self.settings.subject("events", notice.subject_suffix)
        return await self.js.publish_async(subject, encode(notice), headers=headers)


class JetStreamDomainEventFeed:
    """Live notices for subscribers: each follower gets an ephemeral ordered consumer that starts
    at the stream's end, and sees its own tenant's messages only."""

    def __init__(
        self, settings: NatsSettings, name: str = "vigil-web", connect_seconds: float = 5.0
    ) -> None:
        self.settings = settings
        self.name = name
        self.connect_seconds = connect_seconds
        """How long to wait for NATS before serving without live updates."""
        self._client: Client | None = None
        self._connecting = asyncio.Lock()

    async def start(self) -> None:
        """Connects; a server that does not answer is logged, and tried again per follower."""
        try:
            await self._jetstream()
        except DomainEventsUnavailable as error:
            log.warning("%s", error)

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    @asynccontextmanager
    async def follow(
        self, tenant_id: str, aggregate: str, event: str = "*"
    ) -> AsyncIterator[AsyncIterator[DomainEventNotice]]:
        js = await self._jetstream()
        try:
            subscription = await js.subscribe(
                self.settings.subject("events", f"{aggregate}.{event}"),
                stream=self.settings.stream("DOMAIN"),
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
            )
        except (NatsError, TimeoutError) as error:
            raise DomainEventsUnavailable(
                f"cannot follow the DOMAIN stream: {_reason(error)}"
            ) from error
        try:
            yield _tenant_notices(subscription, tenant_id)
        finally:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()

    async def _jetstream(self) -> JetStreamContext:
        async with self._connecting:
            if self._client is None:
                self._client = await self._connect()
            return self._client.jetstream()

    async def _connect(self) -> Client:
        url = self.settings.server_url
        client = None
        try:
            # The client retries forever on its own; the web app must not wait that long.
            client = await asyncio.wait_for(connect(self.settings, self.name), self.connect_seconds)
            await ensure_streams(client.jetstream(), self.settings)
        except (NatsError, OSError, TimeoutError) as error:
            if client is not None:
                await client.close()
            raise DomainEventsUnavailable(
                f"live updates need NATS JetStream at {url}, which did not answer "
                f"({_reason(error)})"
            ) from error
        return client


async def _tenant_notices(
    subscription: JetStreamContext.PushSubscription, tenant_id: str
) -> AsyncIterator[DomainEventNotice]:
    async for message in subscription.messages:
        if (message.headers or {}).get(TENANT_HEADER) == tenant_id:
            yield decode(message.data)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
