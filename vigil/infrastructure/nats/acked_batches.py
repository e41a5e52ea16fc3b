"""JetStream publishes of a batch, acknowledged together: every message of the batch asks for
its ack on one reply subject, and one subscription counts them, so a message costs a publish and
a count instead of a future, a semaphore and a decoded PubAck each (nats-py's
`publish_async`), which at ingest rates is most of the publishing CPU.

A batch succeeds once the stream has acknowledged every message, duplicates included; any error,
a subject no stream captures, or an ack that does not come in time fails the whole batch, and
its caller hands its records back to be published again (the stream's duplicate window keeps a
record published twice once).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

ACK_SECONDS = 10.0

STATUS = "Status"
MESSAGE_ID = "Nats-Msg-Id"


class BatchRefused(Exception):
    """The stream did not store every message of a batch."""


@dataclass(frozen=True)
class Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str] | None = None


@dataclass
class _Batch:
    expected: int
    done: asyncio.Future[None]
    acked: int = 0
    refusals: list[str] = field(default_factory=list)


class AckedBatches:
    def __init__(self, client: Client, ack_seconds: float = ACK_SECONDS) -> None:
        self.client = client
        self.ack_seconds = ack_seconds
        self._prefix = f"{client.new_inbox()}.batch"
        self._numbers = itertools.count(1)
        self._waiting: dict[str, _Batch] = {}
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Returns once the stream has stored every message; BatchRefused otherwise."""
        if not messages:
            return
        async with self._subscribing:  # two subscriptions would count every ack twice
            if self._subscription is None:
                self._subscription = await self.client.subscribe(
                    f"{self._prefix}.*", cb=self._acked
                )
        reply = f"{self._prefix}.{next(self._numbers)}"
        batch = _Batch(len(messages), asyncio.get_running_loop().create_future())
        self._waiting[reply] = batch
        publish = self.client.publish
        try:
            for message in messages:
                await publish(message.subject, message.payload, reply, message.headers)
            await asyncio.wait_for(asyncio.shield(batch.done), self.ack_seconds)
        except TimeoutError:
            raise BatchRefused(
                f"{batch.expected - batch.acked} of {batch.expected} messages not acknowledged "
                f"within {self.ack_seconds:g} s"
            ) from None
        finally:
            self._waiting.pop(reply, None)
        if batch.refusals:
            raise BatchRefused(f"{len(batch.refusals)} refused, the first: {batch.refusals[0]}")

    async def _acked(self, message: Msg) -> None:
        batch = self._waiting.get(message.subject)
        if batch is None:
            return  # the ack of a batch that was given up
        data = message.data
        status = message.headers.get(STATUS) if message.headers else None
        if status is not None:
            # 503: no stream captures the subject.
            batch.refusals.append(f"status {status}")
        elif b'"error"' in data:
            batch.refusals.append(data.decode(errors="replace"))
        batch.acked += 1
        if batch.acked == batch.expected and not batch.done.done():
            batch.done.set_result(None)
